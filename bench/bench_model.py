"""Model throughput of the presets, measured in one run: training clips/s, encode and decode clips/s.

    python bench/bench_model.py [--model assets/model] [--presets small wide] [--threads 2] [--out bench/out/model.json]

Random clips (the cost of a GRU does not depend on the tokens). Training: forward + backward +
Adam step on batches of 256 with the settings train.py uses. Encode/decode: batches of 256 and of
12 clips (one 24-bar song), greedy decoding. Median of ``--repeat`` timed calls after a warm-up, fewer
(at least 2) where they would take more than ``--budget`` seconds (the wide preset, the paper's sizes). ``--model`` adds a
row for a model folder (the shipped one: the same sizes as ``small``). A few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
from harness import cpu_model

from vae.hub import load_model
from vae.model import PRESETS, MusicVAE


def timed(fn, repeat: int, budget: float) -> float:
    """Median seconds of up to ``repeat`` calls after a warm-up; stops after ``budget`` seconds (>= 2 calls)."""
    fn()
    times = []
    while len(times) < repeat and (len(times) < 2 or sum(times) < budget):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bench_model(name: str, model: MusicVAE, repeat: int, budget: float) -> dict:
    torch.manual_seed(0)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch = torch.randint(0, 130, (256, 32))

    def train_step():
        model.train()
        out = model(batch, sample_prob=0.1, input_dropout=0.25)
        opt.zero_grad()
        out["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    result = {"preset": name, "parameters": sum(p.numel() for p in model.parameters())}
    result["train_clips_per_s"] = 256 / timed(train_step, max(2, repeat // 3), budget)
    model.eval()
    with torch.no_grad():
        for n in (256, 12):
            x = torch.randint(0, 130, (n, 32))
            z = model.encode(x)[0]
            enc = timed(lambda x=x: model.encode(x), repeat, budget)
            dec = timed(lambda z=z: model.decode(z), repeat, budget)
            result[f"encode_{n}_ms"] = enc * 1000
            result[f"decode_{n}_ms"] = dec * 1000
            result[f"encode_clips_per_s_batch{n}"] = n / enc
            result[f"decode_clips_per_s_batch{n}"] = n / dec
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="also measure this model folder (e.g. assets/model)")
    ap.add_argument("--presets", nargs="+", default=["small", "wide"])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--budget", type=float, default=10.0, help="seconds of timed calls per measure, at most")
    ap.add_argument("--out", default="bench/out/model.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rows = [bench_model(f"model: {args.model}", load_model(args.model), args.repeat, args.budget)] if args.model else []
    rows += [bench_model(p, MusicVAE(PRESETS[p]), args.repeat, args.budget) for p in args.presets]
    base = next((r for r in rows if r["preset"] == "small"), rows[0])
    for row in rows:
        if row is not base:
            for key in ("train_clips_per_s", "encode_clips_per_s_batch256", "decode_clips_per_s_batch256"):
                row[f"{key}_ratio_{base['preset']}_over_this"] = base[key] / row[key]
    report = {"machine": f"{cpu_model()}, {os.cpu_count()} cores, {args.threads} torch threads",
              "torch": torch.__version__, "results": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(report["machine"])
    print(f"{'preset':20} {'params':>10} {'train clips/s':>14} {'enc clips/s':>12} {'dec clips/s':>12} "
          f"{'dec 12 ms':>10}")
    for r in rows:
        print(f"{r['preset']:20} {r['parameters']:>10,} {r['train_clips_per_s']:>14.1f} "
              f"{r['encode_clips_per_s_batch256']:>12.1f} {r['decode_clips_per_s_batch256']:>12.1f} "
              f"{r['decode_12_ms']:>10.1f}")


if __name__ == "__main__":
    main()
