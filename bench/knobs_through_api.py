"""Do the knobs do what their labels say, as a user gets them? Measured from the MIDI the app returns.

    python bench/knobs_through_api.py [--songs 20] [--out bench/out/knobs_api.json]

Starts ``app.py`` (the bundled models) on localhost and, for songs no model saw in training (the
Nottingham melodies in ../shared/eval/nottingham when present, else the bundled examples), uploads
each song to ``/modulate`` with the knobs at rest and turned (pitch −5 / +5 / +12, rhythm −1 / +1,
residual +2, the random control at pitch +5), reads the returned MIDI back and compares it with the
answer at rest: mean-pitch shift in semitones, density ratio, share of steps changed, and for the pitch
knob the transposition agreement (the share of steps where pitch +k plays the answer at rest moved by
k). The **rest agreement** compares the answer at rest with the song itself (the share of steps equal).
Both models, both readings (faithful to the song, the default; and the model's own, ``faithful=False``),
through gradio_client, the way an API user meets them.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from gradio_client import handle_file
from harness import ROOT, App, connect

from vae.measures import transposed
from vae.melody import N_PITCHES, REST, STEPS_PER_BAR, load_melody, normalize_tokens

NOTTINGHAM = ROOT.parent / "shared" / "eval" / "nottingham"
MOVES = [("pitch", -5.0), ("pitch", 5.0), ("pitch", 12.0), ("rhythm", -1.0), ("rhythm", 1.0), ("residual", 2.0),
         ("control", 5.0)]


def songs(n: int) -> list[Path]:
    """Up to ``n`` duple-meter songs of 8 bars or more that the models never saw."""
    paths = sorted(NOTTINGHAM.glob("*.mid")) if NOTTINGHAM.is_dir() else sorted((ROOT / "assets/examples").glob("*.mid"))
    picked = []
    for path in np.random.default_rng(0).permutation(paths):
        try:
            melody = load_melody(path)
        except ValueError:
            continue
        if melody.duple and len(melody.tokens) >= 8 * STEPS_PER_BAR:
            picked.append(Path(path))
        if len(picked) == n:
            break
    return picked


def stats(tokens: np.ndarray) -> tuple[int, float]:
    onsets = tokens[tokens < N_PITCHES]
    return len(onsets), float(onsets.mean()) if len(onsets) else float("nan")


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of steps where two songs agree, the shorter padded with rests (holds after a rest read as rests)."""
    n = max(len(a), len(b))
    a, b = (normalize_tokens(np.concatenate([t, np.full(n - len(t), REST)])) for t in (a, b))
    return float((a == b).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--songs", type=int, default=20)
    ap.add_argument("--out", default="bench/out/knobs_api.json")
    args = ap.parse_args()
    server = App(None, Path(tempfile.mkdtemp(prefix="knobs_api_")))  # the bundled models, as a Space serves them
    try:
        client = connect(server.url)
        results, picked = {}, songs(args.songs)
        for model, faithful in ((m, f) for m in ("regularised", "paper") for f in (True, False)):
            rows, at_rest = {f"{k}{a:+g}": [] for k, a in MOVES}, []
            for path in picked:
                def turned(path=path, model=model, faithful=faithful, **knobs):
                    *_, midi = client.predict(midi_file=handle_file(str(path)), model=model, faithful=faithful,
                                              api_name="/modulate", **knobs)
                    return load_melody(midi).tokens
                rest = turned()
                at_rest.append(agreement(rest, load_melody(path).tokens))
                n0, m0 = stats(rest)
                for knob, amount in MOVES:
                    out = turned(**({"pitch": amount, "control": True} if knob == "control" else {knob: amount}))
                    n1, m1 = stats(out)
                    same = min(len(out), len(rest))
                    row = {"pitch_shift": m1 - m0, "density_ratio": n1 / max(n0, 1),
                           "steps_changed": float((out[:same] != rest[:same]).mean())}
                    if knob == "pitch":
                        row["transposition_agreement"] = agreement(out, transposed(rest, round(amount)))
                    rows[f"{knob}{amount:+g}"].append(row)
            reading = "faithful" if faithful else "model_reading"
            results.setdefault(model, {})[reading] = {
                "rest_agreement": {"median": float(np.median(at_rest)), "min": float(np.min(at_rest)),
                                   "per_song": dict(zip([p.name for p in picked], at_rest, strict=True))},
                **{move: {key: float(np.median([r[key] for r in rs])) for key in rs[0]} for move, rs in rows.items()}}
            print(model, reading, json.dumps({k: v for k, v in results[model][reading].items() if k != "rest_agreement"}
                                             | {"rest_median": float(np.median(at_rest)), "rest_min": min(at_rest)},
                                             indent=1))
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"songs": len(picked), "source": str(NOTTINGHAM if NOTTINGHAM.is_dir() else "examples"),
                                   "medians": results}, indent=2))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
