"""Draw every recorded training run: validation greedy token accuracy against training minutes.

    python training/runs_figure.py assets/model-paper/runs assets/model/runs --out assets/figures/runs.png

Each ``*_metrics.jsonl`` (a run's metrics.jsonl, as train.py writes it) is one line, named after
the file. Runs whose name starts with ``gpu_`` trained on a lent GPU and are drawn dashed; the
others trained on the 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def read_runs(folders: list[Path]) -> dict[str, list[dict]]:
    """Run name -> its metrics (one dict per evaluation), for every *_metrics.jsonl in the folders."""
    runs = {}
    for folder in folders:
        for path in sorted(folder.glob("*_metrics.jsonl")):
            name = f"{folder.parent.name}/{path.name.removesuffix('_metrics.jsonl')}"
            runs[name] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+", type=Path, help="folders of *_metrics.jsonl files")
    ap.add_argument("--out", type=Path, default=Path("assets/figures/runs.png"))
    args = ap.parse_args()
    runs = read_runs(args.folders)
    if not runs:
        raise SystemExit(f"no *_metrics.jsonl in {', '.join(map(str, args.folders))}")
    fig = Figure(figsize=(9, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for name, metrics in runs.items():
        gpu = name.split("/")[-1].startswith("gpu_")
        ax.plot([m["minutes"] for m in metrics], [m["token_accuracy"] for m in metrics], "--" if gpu else "-",
                marker=".", ms=3, lw=1.2, label=f"{name} ({metrics[-1]['token_accuracy']:.3f})")
    ax.axhline(0.95, color="grey", ls=":", lw=0.8)
    ax.set(xlabel="training minutes (solid: 2 CPU cores; dashed: a lent GPU, shared by 5 runs but for gpu_ft)",
           ylabel="greedy token accuracy, validation", ylim=(0.4, 1.0), title="every recorded run")
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    ax.grid(alpha=0.3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110, bbox_inches="tight")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
