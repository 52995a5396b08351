"""Train a MusicVAE on the clips written by prepare_data.py.

    python training/train.py --data data/clips.npz --preset small --minutes 60 --run runs/small
    python training/train.py --run runs/small --resume          # go on from the last checkpoint

Every epoch: greedy token accuracy on validation clips, a checkpoint (model, optimizer, config,
progress) and a line in metrics.jsonl. The best model by validation accuracy is exported with
``save_pretrained`` to RUN/model/ (config.json + model.safetensors).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from vae.curves import spearman
from vae.measures import reconstruction_accuracy
from vae.melody import N_PITCHES
from vae.model import ATTRIBUTES, PRESETS, MusicVAE, VAEConfig, set_seed

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="data/clips.npz")
    ap.add_argument("--run", default="runs/small", help="run folder: args, config, metrics, checkpoints")
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
                    help="stop after this many minutes of training steps (default 85); with --resume, a new budget: "
                         "the learning-rate and scheduled-sampling plan is stretched to it")
    ap.add_argument("--batch", type=int, default=64)
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
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when there is one)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--resume", action="store_true", help="continue from RUN/checkpoint.pt")
    ap.add_argument("--init", default=None,
                    help="start from the weights of this model folder (its config, with --beta etc. applied), "
                         "a fresh optimizer and schedule: fine-tuning")
    args = ap.parse_args()

    run = Path(args.run)
    run.mkdir(parents=True, exist_ok=True)
    ckpt_path = run / "checkpoint.pt"
    torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))

    state, init = None, None
    if args.resume:
        if not ckpt_path.exists():
            raise SystemExit(f"nothing to resume: {ckpt_path} does not exist")
        state = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        saved = json.loads((run / "args.json").read_text())
        new_minutes = args.minutes
        saved.update(resume=True)
        args = argparse.Namespace(**saved)
        if new_minutes is not None:
            if state["total_steps"]:
                state["total_steps"] = int(state["total_steps"] * new_minutes / args.minutes)
            args.minutes = new_minutes
        (run / "args.json").write_text(json.dumps(vars(args), indent=2))
        config = VAEConfig.from_dict(state["config"])
    else:
        args.minutes = 85.0 if args.minutes is None else args.minutes
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
        (run / "args.json").write_text(json.dumps(vars(args), indent=2))
        (run / "config.json").write_text(json.dumps(asdict(config), indent=2))
    set_seed(args.seed)

    data = np.load(args.data)
    train = torch.from_numpy(data["train_clips"])
    val = data["val_clips"]
    val = val[np.random.default_rng(args.seed).permutation(len(val))[: args.val_clips]]
    print(f"train {len(train)} clips, validation {len(val)} clips, device {device}", flush=True)

    model = MusicVAE(config).to(device)
    if init is not None:
        model.load_state_dict(init.state_dict())
        print(f"initialised from {args.init}", flush=True)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    steps_per_epoch = math.ceil(len(train) / args.batch)
    epoch, step, elapsed, best = 0, 0, 0.0, -1.0
    if state:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        epoch, step, elapsed, best = state["epoch"], state["step"], state["elapsed"], state["best"]
        print(f"resumed at epoch {epoch}, step {step}, {elapsed / 60:.1f} min trained", flush=True)
    gen = torch.Generator().manual_seed(args.seed + epoch)
    # Steps the decay and scheduled sampling are planned over: the wall-clock budget, estimated.
    total_steps = state["total_steps"] if state else None

    def checkpoint(metrics: dict) -> None:
        nonlocal best
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "config": asdict(config),
                    "epoch": epoch, "step": step, "elapsed": elapsed, "best": max(best, metrics["token_accuracy"]),
                    "total_steps": total_steps}, ckpt_path)
        if metrics["token_accuracy"] > best:
            best = metrics["token_accuracy"]
            # A CPU copy: cuDNN keeps a GRU's weights in one flat buffer, which safetensors refuses to save.
            export = MusicVAE(config)
            export.load_state_dict({k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
            export.save_pretrained(run / "model")
        with open(run / "metrics.jsonl", "a") as f:
            f.write(json.dumps(metrics) + "\n")

    done = False
    last_eval = elapsed
    plan_mark = [step, elapsed]  # (step, elapsed) where the current speed measurement started
    while epoch < args.epochs and not done:
        model.train()
        order = torch.randperm(len(train), generator=gen)
        t_epoch = time.time()
        sums = {"loss": 0.0, "nll": 0.0, "kl": 0.0, "reg": 0.0, "n": 0}
        bar = tqdm(range(steps_per_epoch), desc=f"epoch {epoch + 1}", unit="batch", mininterval=5)
        for b in bar:
            t0 = time.time()
            x = random_transpose(train[order[b * args.batch : (b + 1) * args.batch]], args.transpose, gen).to(device)
            if step - plan_mark[0] == 20:  # re-plan from the measured speed: the machine may be shared
                per_step = (elapsed - plan_mark[1]) / 20
                total_steps = step + int((args.minutes * 60 - elapsed) / per_step)
                tqdm.write(f"{per_step * 1000:.0f} ms/step: planning {total_steps} steps "
                           f"({total_steps / steps_per_epoch:.1f} epochs) for {args.minutes} min")
            plan = total_steps or 10**9
            for group in opt.param_groups:
                group["lr"] = lr_at(step, plan, args.lr, args.lr_min, args.decay_start)
            sample_prob = args.sample_max * min(1.0, step / plan)
            out = model(x, sample_prob=sample_prob, input_dropout=args.input_dropout)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), args.clip_grad)
            opt.step()
            step += 1
            elapsed += time.time() - t0
            for k in ("loss", "nll", "kl", "reg"):
                if k in out:
                    sums[k] += out[k].item()
            sums["n"] += 1
            if b % 20 == 0:
                bar.set_postfix(nll=f"{sums['nll'] / sums['n']:.3f}", kl=f"{sums['kl'] / sums['n']:.1f}",
                                lr=f"{opt.param_groups[0]['lr']:.1e}", ss=f"{sample_prob:.2f}")
            over = elapsed >= args.minutes * 60
            if over or elapsed - last_eval >= args.eval_every * 60 or b == steps_per_epoch - 1:
                if b == steps_per_epoch - 1:
                    epoch += 1
                last_eval = elapsed
                metrics = reconstruction_accuracy(model, val)
                metrics.update(tied_dim_ranks(model, val))
                model.train()
                n = max(1, sums["n"])
                metrics.update(epoch=epoch, step=step, minutes=round(elapsed / 60, 2), lr=opt.param_groups[0]["lr"],
                               sample_prob=round(sample_prob, 3), train_loss=sums["loss"] / n,
                               train_nll=sums["nll"] / n, train_kl=sums["kl"] / n, train_reg=sums["reg"] / n,
                               clips_per_s=round(sums["n"] * args.batch / max(1e-9, time.time() - t_epoch), 1))
                tqdm.write(json.dumps(metrics))
                checkpoint(metrics)
                plan_mark = [step, elapsed]
                if over:
                    done = True
                    break
        bar.close()
    print(f"done: best validation token accuracy {best:.4f}; model in {run / 'model'}", flush=True)


if __name__ == "__main__":
    main()
