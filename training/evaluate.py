"""Reconstruction accuracy of a model (DESIGN "Measures"): test split, Twinkle theme, Nottingham.

    python training/evaluate.py --model runs/small/model --data data/clips.npz --out eval.json

Greedy decode of z = mu(x): token accuracy and exact-clip rate. On the test split it is also
reported for the test clips that never occur in the training split ("unseen"). Nottingham
(../shared/eval/nottingham, read only when it exists) contributes its 4/4-compatible tunes,
cut into consecutive 2-bar clips as the app cuts a song.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vae.hub import load_model
from vae.measures import reconstruction_accuracy
from vae.melody import clip_is_valid, load_melody, split_clips

ROOT = Path(__file__).resolve().parents[1]
NOTTINGHAM = ROOT.parent / "shared" / "eval" / "nottingham"
TWINKLE = ROOT / "assets" / "examples" / "twinkle.mid"


def song_clips(paths: list[Path], desc: str) -> tuple[np.ndarray, dict]:
    """Consecutive 2-bar clips (with >= 2 onsets) of every duple-meter song among ``paths``."""
    clips, counts = [], {"files": len(paths), "songs_used": 0, "not_duple": 0, "unreadable": 0}
    for path in tqdm(paths, desc=desc, unit="file"):
        try:
            melody = load_melody(path)
        except ValueError:
            counts["unreadable"] += 1
            continue
        if not melody.duple:
            counts["not_duple"] += 1
            continue
        c = split_clips(melody.tokens)
        clips.append(c[clip_is_valid(c)])
        counts["songs_used"] += 1
    return (np.concatenate(clips) if clips else np.zeros((0, 32), np.int64)), counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder or Hub repo id (default: bundled)")
    ap.add_argument("--data", default="data/clips.npz")
    ap.add_argument("--nottingham", default=str(NOTTINGHAM))
    ap.add_argument("--out", default=None, help="write the JSON here too")
    args = ap.parse_args()

    model = load_model(args.model, fallback=False)
    report = {"model": args.model or "bundled"}
    if Path(args.data).exists():
        data = np.load(args.data)
        test, train = data["test_clips"], data["train_clips"]
        seen = {c.tobytes() for c in train}
        unseen = np.array([c for c in test if c.tobytes() not in seen]).reshape(-1, 32)
        report["test"] = reconstruction_accuracy(model, test)
        report["test_unseen"] = reconstruction_accuracy(model, unseen)
    else:
        report["test"] = f"{args.data} not found; run training/prepare_data.py"
    twinkle = split_clips(load_melody(TWINKLE).tokens)
    report["twinkle"] = reconstruction_accuracy(model, twinkle)
    nott = Path(args.nottingham)
    if nott.is_dir():
        clips, counts = song_clips(sorted(nott.glob("*.mid")), "nottingham")
        report["nottingham_44"] = {**reconstruction_accuracy(model, clips), **counts}
    else:
        report["nottingham_44"] = f"{nott} not found: Nottingham not evaluated"
        print(report["nottingham_44"])
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
