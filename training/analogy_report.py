"""How well the analogy works: the pitch of song A with the rhythm of song B, on test songs, against a control.

    python training/analogy_report.py --data data/clips.npz --out assets/reports/analogy.json
    python training/analogy_report.py --model assets/model --model assets/model-paper   # named models

Pairs of test songs (A, B) of at least 8 bars, each cut to its first 8 bars (4 clips, paired clip by
clip). For each model, the latents go through the app's own code (``vae.ideas.analogy_latents``,
``vae.ideas.swap_dims``) and are decoded greedily. Measured against A and B themselves:

- rhythm agreement: share of steps whose onset / hold / rest class equals the song's;
- pitch distance: mean |sounding pitch − the song's| in semitones over steps where both sound.

Conditions: ``a`` and ``b`` (each song decoded as it is: the ends of the scale), ``analogy`` (z_A with
B's rhythm dims; mix 1 and 0.5), ``control`` (the same swap on as many random non-significant dims),
and ``pitch_into_b`` (z_B with A's pitch dims, the other way to write the same analogy) with its control.
Re-runnable: the same data, seed and models give the same JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vae import ideas
from vae.bundle import Bundle, load_bundle, load_bundles
from vae.dataset import read_data, split_songs
from vae.inference import decode_z, encode_mu
from vae.knobs import control_dims
from vae.melody import CLIP_STEPS, STEPS_PER_BAR, split_clips

MEASURES = ("rhythm_agreement_b", "rhythm_agreement_a", "pitch_distance_a", "pitch_distance_b")


def test_pairs(data, n_pairs: int, n_clips: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Clips (P, n_clips, 32) of songs A and of songs B: distinct test songs of >= 2·n_clips bars, seeded."""
    long = split_songs(data, "test", min_bars=n_clips * CLIP_STEPS // STEPS_PER_BAR)
    pick = np.random.default_rng(seed).choice(list(long), size=min(2 * n_pairs, len(long) // 2 * 2), replace=False)
    songs = [split_clips(long[i])[:n_clips] for i in pick]
    return np.stack(songs[0::2]), np.stack(songs[1::2])


def _scores(results: np.ndarray, a: np.ndarray, b: np.ndarray) -> dict:
    """Mean and median of each measure over the pairs; results, a, b: (P, n_clips, 32)."""
    rows = [[ideas.rhythm_agreement(r.ravel(), y.ravel()) for r, y in zip(results, b, strict=True)],
            [ideas.rhythm_agreement(r.ravel(), x.ravel()) for r, x in zip(results, a, strict=True)],
            [ideas.pitch_distance(r.ravel(), x.ravel()) for r, x in zip(results, a, strict=True)],
            [ideas.pitch_distance(r.ravel(), y.ravel()) for r, y in zip(results, b, strict=True)]]
    return {name: {"mean": round(float(np.nanmean(v)), 4), "median": round(float(np.nanmedian(v)), 4)}
            for name, v in zip(MEASURES, rows, strict=True)}


def measure(bundle: Bundle, a: np.ndarray, b: np.ndarray) -> dict:
    """Every condition's scores for one model."""
    model, space = bundle.model, bundle.space
    shape = a.shape
    z_a, z_b = encode_mu(model, a.reshape(-1, CLIP_STEPS)), encode_mu(model, b.reshape(-1, CLIP_STEPS))
    p_ctrl, r_ctrl = control_dims(space)
    latents = {"a": z_a, "b": z_b,
               "analogy": ideas.analogy_latents(z_a, z_b, space, 1.0),
               "analogy_mix_0.5": ideas.analogy_latents(z_a, z_b, space, 0.5),
               "control": ideas.analogy_latents(z_a, z_b, space, 1.0, control=True),
               "pitch_into_b": ideas.swap_dims(z_b, z_a, space.pitch_dims),
               "pitch_into_b_control": ideas.swap_dims(z_b, z_a, p_ctrl)}
    out = {}
    for name, z in tqdm(latents.items(), desc=bundle.source_info.path, unit="condition"):
        out[name] = _scores(decode_z(model, z).reshape(shape), a, b)
    return {"source": bundle.source_info.describe(), "pitch_dims": space.pitch_dims.tolist(),
            "rhythm_dims": space.rhythm_dims.tolist(), "control_rhythm_dims": r_ctrl.tolist(),
            "control_pitch_dims": p_ctrl.tolist(), "conditions": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("data/clips.npz"))
    parser.add_argument("--model", action="append", default=None,
                        help="a model folder or Hub id (repeat for several); default: the app's models")
    parser.add_argument("--pairs", type=int, default=60, help="pairs of test songs")
    parser.add_argument("--clips", type=int, default=4, help="clips (2 bars each) taken from each song")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("assets/reports/analogy.json"))
    args = parser.parse_args()

    a, b = test_pairs(read_data(args.data), args.pairs, args.clips, args.seed)
    bundles = ({m: load_bundle(m, fallback=False) for m in args.model} if args.model else load_bundles())
    report = {"data": str(args.data), "split": "test", "pairs": len(a), "bars_per_song": args.clips * 2,
              "seed": args.seed, "steps_per_bar": STEPS_PER_BAR, "measures": {
                  "rhythm_agreement_b": "share of steps whose onset/hold/rest class equals song B's",
                  "rhythm_agreement_a": "the same against song A",
                  "pitch_distance_a": "mean |sounding pitch - song A's| in semitones, steps where both sound",
                  "pitch_distance_b": "the same against song B"},
              "models": {name: measure(bundle, a, b) for name, bundle in bundles.items()}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    for name, m in report["models"].items():
        print(f"{name}: {m['source']}")
        for cond, scores in m["conditions"].items():
            print(f"  {cond:22s}" + "  ".join(f"{k} {v['mean']:.3f}" for k, v in scores.items()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
