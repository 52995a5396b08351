"""The paper's analysis on several trained models side by side, on validation data (for choosing settings).

    python training/compare_runs.py runs/gpu/base6/model runs/gpu/base12/model --out runs/compare.json

For each model: greedy token accuracy on validation clips, C_pitch / C_rhythm / stability / overlap
(disentanglement by augmentation on validation clips), and the transport pitch knob's effect of
+5 semitones and the rhythm knob's density ratio at +1 on validation songs, with the curve knobs
too where the model ties dims to attributes. Test data is left for the shipped model's report.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from vae import curves
from vae.checkpoint import load_folder
from vae.dataset import draw_songs, read_data
from vae.dims import discover_dims
from vae.measures import KnobMove, knob_effects, reconstruction_accuracy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--data", default="data/clips.npz")
    ap.add_argument("--n-clips", type=int, default=2000)
    ap.add_argument("--n-songs", type=int, default=12)
    ap.add_argument("--out", default="runs/compare.json")
    args = ap.parse_args()
    torch.set_num_threads(2)
    data = read_data(args.data)
    clips = data["val_clips"][np.random.default_rng(0).permutation(len(data["val_clips"]))[: args.n_clips]]
    songs = draw_songs(data, "val", args.n_songs)
    out = {}
    for folder in args.models:
        model = load_folder(folder)
        space = discover_dims(model, clips)
        row = {"token_accuracy": reconstruction_accuracy(model, clips)["token_accuracy"],
               **{k: space.meta[k] for k in ("c_pitch", "pitch_stability", "c_rhythm", "overlap")},
               "pitch_dims": space.pitch_dims.tolist(), "rhythm_dims": space.rhythm_dims.tolist()}
        variants = {"transport": space}
        fitted = curves.fit_curves(model, clips, songs)
        if fitted:
            variants["curve"] = space.with_curves(fitted)
        for name, d in variants.items():
            pitch = [knob_effects(model, s, d, KnobMove(5.0, "pitch"))["pitch_shift"] for s in songs]
            dens = [knob_effects(model, s, d, KnobMove(1.0, "rhythm"))["density_ratio"] for s in songs]
            row[f"{name}_pitch+5_median"] = float(np.median([p for p in pitch if p is not None]))
            row[f"{name}_rhythm+1_density_median"] = float(np.median([r for r in dens if r is not None]))
        out[folder] = row
        print(folder, json.dumps(row), flush=True)
    Path(args.out).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
