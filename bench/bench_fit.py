"""Faithful encoding's step size: what each Adam lr on z gives on songs no model saw, and what it costs.

    python bench/bench_fit.py [--model assets/model] [--songs 16] [--lr 0 0.05 0.1 0.2]

For Nottingham songs of 8 bars or more (../shared/eval/nottingham; else the bundled examples), for each
step size (0 = μ, faithful encoding off): the rest agreement (median, min), the pitch knob's fidelity
(R², gain, the median shift and transposition agreement at each value), the rhythm knob's median log2
density ratio, the random control at pitch +5 and the residual knob +2, all through the library's
measures (the app's knob path), and the time to fit the songs (one torch thread, as the app). One JSON
line per step size.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from vae import inference
from vae.bundle import load_bundle
from vae.measures import KnobMove, knob_effects, knob_fidelity, rest_agreement
from vae.melody import split_clips
from vae.song import folder_songs

ROOT = Path(__file__).resolve().parents[1]
NOTTINGHAM = ROOT.parent / "shared" / "eval" / "nottingham"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder or Hub repo id (default: the bundled model)")
    ap.add_argument("--songs", type=int, default=16)
    ap.add_argument("--lr", type=float, nargs="+", default=[0.0, 0.05, 0.1, 0.2])
    args = ap.parse_args()
    torch.set_num_threads(1)
    folder = NOTTINGHAM if NOTTINGHAM.is_dir() else ROOT / "assets" / "examples"
    b, picked = load_bundle(args.model, fallback=args.model is None), folder_songs(folder, args.songs, seed=1)
    fit = inference.fit_z.__wrapped__  # the undecorated function, whose default step size encode_z uses
    for lr in args.lr:
        fit.__defaults__ = (inference.FIT_STEPS, lr, None)
        b.model.__dict__.pop("_fitted_latents", None)  # nothing fitted at another step size
        faithful = lr > 0
        start = time.perf_counter()
        for song in picked:
            inference.encode_z(b.model, split_clips(song), faithful)
        seconds = time.perf_counter() - start
        rest = rest_agreement(b.model, picked, faithful)
        pitch = knob_fidelity(b.model, picked, b.space, "pitch", faithful=faithful)
        rhythm = knob_fidelity(b.model, picked, b.space, "rhythm", faithful=faithful)
        control = [knob_effects(b.model, s, b.space, KnobMove(5.0, "pitch", control=True),
                                faithful=faithful)["pitch_shift"] for s in picked]
        residual = [knob_effects(b.model, s, b.space, KnobMove(2.0, "residual"), faithful=faithful)["steps_changed"]
                    for s in picked]
        print(json.dumps({
            "lr": lr, "songs": len(picked), "fit_seconds": round(seconds, 2), "rest_median": round(rest["median"], 4),
            "rest_min": round(rest["min"], 4), "pitch_r2": round(pitch["r2"], 4), "pitch_gain": round(pitch["gain"], 3),
            "pitch_amounts": pitch["amounts"], "pitch_median": [round(x, 2) for x in pitch["median"]],
            "transposition_agreement": [round(x, 3) for x in pitch["transposition_agreement"]],
            "rhythm_amounts": rhythm["amounts"], "rhythm_median_log2": [round(x, 2) for x in rhythm["median"]],
            "pitch_control_st": round(float(np.median(control)), 2),
            "residual_steps_changed": round(float(np.median(residual)), 3)}), flush=True)
    fit.__defaults__ = (inference.FIT_STEPS, inference.FIT_LR, None)


if __name__ == "__main__":
    main()
