"""Train a MusicVAE on the clips written by prepare_data.py, in one process or many (torchrun, DDP).

    python training/train.py --data data/clips.npz --preset small --minutes 60 --run-dir runs/small
    python training/train.py --run-dir runs/small --resume      # go on from the last checkpoint
    python training/train.py --recipe regularised               # a shipped model's whole recipe
    torchrun --standalone --nproc_per_node=2 training/train.py --recipe regularised --threads 1

Every epoch: greedy token accuracy on validation clips, a checkpoint (model, optimizer, config,
progress) and a line in metrics.jsonl. The best model by validation accuracy is exported with
``save_pretrained`` to RUN/model/ (config.json + model.safetensors).

Under torchrun every process (rank) builds the same model, draws the same shuffled order and the same
transpositions, and trains on its 1/N share of each batch of --batch clips; DistributedDataParallel
averages the gradients (gloo on CPU, nccl on GPUs), so N processes take the steps one process would,
each N times smaller. Rank 0 alone validates and writes the checkpoint, metrics and model; the ranks
stop together (rank 0's clock decides --minutes). At the end each rank prints a SHA-256 of its weights.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from vae.curves import spearman
from vae.measures import reconstruction_accuracy
from vae.melody import N_PITCHES
from vae.model import ATTRIBUTES, PRESETS, MusicVAE, VAEConfig, set_seed
from vae.recipes import RECIPES, recipe_defaults

PITCH_FLOOR, PITCH_CEIL = 21, 108  # transposition keeps notes on the piano's keys


def random_transpose(clips: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Move each clip (B, 32) by a random shift in [-max_shift, max_shift] that keeps it on the piano."""
    if max_shift == 0:
        return clips
    pitched = clips < N_PITCHES
    big = torch.where(pitched, clips, torch.full_like(clips, -1)).max(1).values
    small = torch.where(pitched, clips, torch.full_like(clips, 999)).min(1).values
    lo = torch.clamp(PITCH_FLOOR - small, min=-max_shift, max=0)
    hi = torch.clamp(PITCH_CEIL - big, min=0, max=max_shift)
    shift = lo + (torch.rand(len(clips), generator=gen) * (hi - lo + 1)).long().clamp(max=hi - lo)
    return torch.where(pitched, clips + shift[:, None], clips)


def tied_dim_ranks(model: MusicVAE, clips: np.ndarray) -> dict:
    """For each attribute-tied dim: Spearman ρ between μ of that dim and the attribute on ``clips``."""
    names = model.config.reg_attributes
    if not names:
        return {}
    model.eval()
    with torch.no_grad():
        x = torch.as_tensor(clips, device=model.out.weight.device)
        mu = torch.cat([model.encode(x[i:i + 512])[0] for i in range(0, len(x), 512)]).cpu()
    return {f"rho_{name}": round(spearman(mu[:, i], ATTRIBUTES[name](x.cpu())), 4)
            for i, name in enumerate(names)}


def lr_at(step: int, total: int, lr: float, lr_min: float, decay_start: float = 0.5) -> float:
    """Constant lr for the first ``decay_start`` share of ``total`` steps, then exponential decay to lr_min."""
    begin = decay_start * total
    return lr * (lr_min / lr) ** min(1.0, max(0.0, step - begin) / max(1.0, total - begin))


def init_distributed(device: str | None) -> tuple[int, int, torch.device]:
    """(rank, world size, device); joins torchrun's process group when torchrun started this process."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if "RANK" not in os.environ:  # a plain `python training/train.py`
        return 0, 1, device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size(), device


def weights_digest(model: torch.nn.Module) -> str:
    """SHA-256 of a model's weights (names and bytes, in order): equal digests, equal weights."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default=None, choices=sorted(RECIPES),
                    help="a shipped model's recipe (vae/recipes.py) as defaults; flags given here win over it")
    ap.add_argument("--data", default="data/clips.npz")
    ap.add_argument("--run-dir", default="runs/small", help="run folder: args, config, metrics, checkpoints")
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS))
    ap.add_argument("--beta", type=float, default=None, help="KL weight (default: the preset's, 0.1)")
    ap.add_argument("--kl-norm", choices=["mean", "sum"], default=None)
    ap.add_argument("--latent-dim", type=int, default=None)
    ap.add_argument("--enc-hidden", type=int, default=None)
    ap.add_argument("--dec-hidden", type=int, default=None)
    ap.add_argument("--reg-attributes", default=None,
                    help=f"comma-separated attributes tied to latent dims 0, 1, ... (of {sorted(ATTRIBUTES)}); "
                         "'' for none (the paper's recipe)")
    ap.add_argument("--reg-gamma", type=float, default=None, help="weight γ of the attribute loss (0 = off)")
    ap.add_argument("--reg-delta", type=float, default=None, help="sharpness δ of the attribute loss")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--minutes", type=float, default=None,
                    help="stop after this many minutes of training steps (default 85 without --steps); with "
                         "--resume, a new budget: the learning-rate and scheduled-sampling plan is stretched to it")
    ap.add_argument("--steps", type=int, default=None,
                    help="stop after this many optimiser steps in all (the lr and scheduled-sampling plan is over "
                         "them); with --resume, a new total; with --minutes too, whichever comes first")
    ap.add_argument("--batch", type=int, default=64,
                    help="clips per optimiser step, all processes together: under torchrun each of N processes "
                         "trains on batch / N of them")
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--lr-min", type=float, default=1e-5)
    ap.add_argument("--clip-grad", type=float, default=1.0)
    ap.add_argument("--sample-max", type=float, default=0.2, help="final scheduled-sampling probability")
    ap.add_argument("--input-dropout", type=float, default=0.25, help="word dropout on decoder inputs")
    ap.add_argument("--decay-start", type=float, default=0.7, help="share of the run at constant lr before decay")
    ap.add_argument("--transpose", type=int, default=12,
                    help="random transposition range in semitones, kept on the piano's keys")
    ap.add_argument("--val-clips", type=int, default=2000, help="validation clips scored each epoch")
    ap.add_argument("--eval-every", type=float, default=10.0, help="also validate/checkpoint every N minutes")
    ap.add_argument("--threads", type=int, default=2, help="CPU threads per process (under torchrun: cores / N)")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when there is one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true", help="continue from RUN_DIR/checkpoint.pt")
    ap.add_argument("--init", default=None,
                    help="start from the weights of this model folder (its config, with --beta etc. applied), "
                         "a fresh optimizer and schedule: fine-tuning")
    known, _ = ap.parse_known_args()
    ap.set_defaults(**recipe_defaults(known.recipe, "train"))
    return ap.parse_args()


def main() -> None:
    args = parse_args()
    rank, world, device = init_distributed(args.device)
    lead = rank == 0  # the one process that writes
    run = Path(args.run_dir)
    if lead:
        run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "checkpoint.pt"
    torch.set_num_threads(args.threads)

    state, init = None, None
    if args.resume:
        if not ckpt_path.exists():
            raise SystemExit(f"nothing to resume: {ckpt_path} does not exist")
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        saved = json.loads((run / "args.json").read_text())
        saved.setdefault("run_dir", saved.pop("run", args.run_dir))  # run folders from before --run-dir
        saved.setdefault("steps", None)
        new_minutes, new_steps = args.minutes, args.steps
        saved.update(resume=True)
        args = argparse.Namespace(**saved)
        if new_minutes is not None:
            if state["total_steps"] and args.minutes and not args.steps:
                state["total_steps"] = int(state["total_steps"] * new_minutes / args.minutes)
            args.minutes = new_minutes
        if new_steps is not None:
            args.steps = state["total_steps"] = new_steps
        if world > 1:
            dist.barrier()  # every rank has read args.json before rank 0 rewrites it
        if lead:
            (run / "args.json").write_text(json.dumps(vars(args), indent=2))
        config = VAEConfig.from_dict(state["config"])
    else:
        if args.minutes is None and args.steps is None:
            args.minutes = 85.0
        reg_attributes = (None if args.reg_attributes is None
                          else tuple(a for a in args.reg_attributes.split(",") if a.strip()))
        overrides = {k: v for k, v in {"beta": args.beta, "kl_norm": args.kl_norm, "latent_dim": args.latent_dim,
                                       "enc_hidden": args.enc_hidden, "dec_hidden": args.dec_hidden,
                                       "reg_attributes": reg_attributes, "reg_gamma": args.reg_gamma,
                                       "reg_delta": args.reg_delta}.items()
                     if v is not None}
        if args.init:
            from vae.checkpoint import load_folder  # only here: a model folder, no Hub client

            init = load_folder(args.init)
        config = replace(init.config if init else PRESETS[args.preset], **overrides)
        if lead:
            (run / "args.json").write_text(json.dumps(vars(args), indent=2))
            (run / "config.json").write_text(json.dumps(asdict(config), indent=2))
    set_seed(args.seed)

    data = np.load(args.data)
    train = torch.from_numpy(data["train_clips"].astype(np.uint8))  # ids < 130: 8x less memory in each process
    val = data["val_clips"]
    val = val[np.random.default_rng(args.seed).permutation(len(val))[: args.val_clips]]
    if lead:
        print(f"train {len(train)} clips, validation {len(val)} clips, device {device}, {world} process(es)",
              flush=True)

    net = MusicVAE(config).to(device)
    if init is not None:
        net.load_state_dict(init.state_dict())
        if lead:
            print(f"initialised from {args.init}", flush=True)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(train) / args.batch)
    if 0 < len(train) % args.batch < world:  # a last batch too small to give every process a clip
        steps_per_epoch -= 1
    epoch, step, elapsed, best = 0, 0, 0.0, -1.0
    if state:
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        epoch, step, elapsed, best = state["epoch"], state["step"], state["elapsed"], state["best"]
        if lead:
            print(f"resumed at epoch {epoch}, step {step}, {elapsed / 60:.1f} min trained", flush=True)
    model = net
    if world > 1:
        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
        torch.manual_seed(args.seed + rank)  # each rank its own dropout and sampling noise
    gen = torch.Generator().manual_seed(args.seed + epoch)
    # Steps the decay and scheduled sampling are planned over: --steps, or the wall-clock budget, estimated.
    total_steps = state["total_steps"] if state else args.steps

    def checkpoint(metrics: dict) -> None:
        nonlocal best
        torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "config": asdict(config),
                    "epoch": epoch, "step": step, "elapsed": elapsed, "best": max(best, metrics["token_accuracy"]),
                    "total_steps": total_steps}, ckpt_path)
        if metrics["token_accuracy"] > best:
            best = metrics["token_accuracy"]
            # A CPU copy: cuDNN keeps a GRU's weights in one flat buffer, which safetensors refuses to save.
            export = MusicVAE(config)
            export.load_state_dict({k: v.detach().cpu().clone() for k, v in net.state_dict().items()})
            export.save_pretrained(run / "model")
        with open(run / "metrics.jsonl", "a") as f:
            f.write(json.dumps(metrics) + "\n")

    done = args.steps is not None and step >= args.steps
    last_eval = elapsed
    plan_mark = [step, elapsed]  # (step, elapsed) where the current speed measurement started
    while epoch < args.epochs and not done:
        model.train()
        order = torch.randperm(len(train), generator=gen)
        t_epoch = time.time()
        sums = torch.zeros(5, dtype=torch.float64)  # loss, nll, kl, reg, steps
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}", unit="batch", mininterval=5, disable=not lead)
        for b in bar:
            t0 = time.time()
            x = random_transpose(train[order[b * args.batch : (b + 1) * args.batch]].long(), args.transpose, gen)
            x = torch.tensor_split(x, world)[rank].to(device)  # this rank's share of the batch
            if args.steps is None and step - plan_mark[0] == 20:  # re-plan from the measured speed
                per_step = (elapsed - plan_mark[1]) / 20
                total_steps = step + int((args.minutes * 60 - elapsed) / per_step)
                if lead:
                    tqdm.write(f"{per_step * 1000:.0f} ms/step: planning {total_steps} steps "
                               f"({total_steps / steps_per_epoch:.1f} epochs) for {args.minutes} min")
            plan = total_steps or 10**9
            for group in opt.param_groups:
                group["lr"] = lr_at(step, plan, args.lr, args.lr_min, args.decay_start)
            sample_prob = args.sample_max * min(1.0, step / plan)
            out = model(x, sample_prob=sample_prob, input_dropout=args.input_dropout)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), args.clip_grad)
            opt.step()
            step += 1
            elapsed += time.time() - t0
            if world > 1:  # rank 0's clock for all, so that every rank plans and stops alike
                clock = torch.tensor([elapsed], dtype=torch.float64, device=device)
                dist.broadcast(clock, 0)
                elapsed = clock.item()
            for i, k in enumerate(("loss", "nll", "kl", "reg")):
                if k in out:
                    sums[i] += out[k].item()
            sums[4] += 1
            n = sums[4].item()
            if b % 20 == 0:
                bar.set_postfix(nll=f"{sums[1] / n:.3f}", kl=f"{sums[2] / n:.1f}",
                                lr=f"{opt.param_groups[0]['lr']:.1e}", ss=f"{sample_prob:.2f}")
            over = elapsed >= args.minutes * 60 if args.minutes else False
            over = over or (args.steps is not None and step >= args.steps)
            if over or elapsed - last_eval >= args.eval_every * 60 or b == steps_per_epoch - 1:
                if b == steps_per_epoch - 1:
                    epoch += 1
                last_eval = elapsed
                mean = sums.clone()
                if world > 1:  # the training losses of all ranks' shares
                    mean = mean.to(device)
                    dist.all_reduce(mean)
                    mean = mean.cpu() / world
                if lead:
                    metrics = reconstruction_accuracy(net, val)
                    metrics.update(tied_dim_ranks(net, val))
                    model.train()
                    n = max(1.0, mean[4].item())
                    metrics.update(epoch=epoch, step=step, minutes=round(elapsed / 60, 2),
                                   lr=opt.param_groups[0]["lr"], sample_prob=round(sample_prob, 3),
                                   train_loss=mean[0].item() / n, train_nll=mean[1].item() / n,
                                   train_kl=mean[2].item() / n, train_reg=mean[3].item() / n,
                                   clips_per_s=round(sums[4].item() * args.batch / max(1e-9, time.time() - t_epoch),
                                                     1))
                    tqdm.write(json.dumps(metrics))
                    checkpoint(metrics)
                if world > 1:
                    dist.barrier()  # the others wait while rank 0 validates and writes
                plan_mark = [step, elapsed]
                if over:
                    done = True
                    break
        bar.close()
    if lead:
        print(f"done: best validation token accuracy {best:.4f}; model in {run / 'model'}", flush=True)
    print(f"rank {rank}/{world}: step {step}, weights sha256 {weights_digest(net)}", flush=True)
    if world > 1:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
