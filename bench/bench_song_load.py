"""Song load with faithful encoding: upload → first roll and audio, through the HTTP API, beside the model's cost.

    python bench/bench_song_load.py [--calls 12] [--out bench/out/song_load.json]

Starts ``app.py`` (the bundled models) on localhost and uploads songs to ``/load_song`` through gradio_client,
each a song the server has not read before (so neither the session nor the fitted-latent cache answers): Twinkle in
``--calls`` keys (6 clips, 3 distinct), and ``--calls`` 64-bar songs (32 clips) joined from Nottingham tunes (else
from the examples in other keys). Each reading is measured, faithful to the song (the default) and the model's own
(``faithful=False``, μ: the figure before faithful encoding), with the time from request to the answer and its
files downloaded. In the same run, in this process with one torch thread as the app: the model's own cost of
fitting the same songs (``vae.inference.fit_z``) and of μ alone. Then a knob move (``/modulate``, the song in the
session) on Twinkle for each reading, to show a move costs the same either way. Prints medians and p90.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from gradio_client import handle_file
from harness import ROOT, App, connect

from vae.hub import load_model
from vae.inference import encode_mu, fit_z
from vae.measures import transposed
from vae.melody import STEPS_PER_BAR, load_melody, split_clips, tokens_to_midi

NOTTINGHAM = ROOT.parent / "shared" / "eval" / "nottingham"
TWINKLE = ROOT / "assets" / "examples" / "twinkle.mid"
LONG_BARS = 64


def long_songs(n: int) -> list[np.ndarray]:
    """``n`` distinct 64-bar songs: Nottingham tunes (duple meter) one after another, each song from another start."""
    paths = sorted(NOTTINGHAM.glob("*.mid")) if NOTTINGHAM.is_dir() else sorted((ROOT / "assets/examples").glob("*.mid"))
    tunes = []
    for path in paths[:400]:
        try:
            melody = load_melody(path)
        except ValueError:
            continue
        if melody.duple:
            tunes.append(melody.tokens)
    out = []
    for i in range(n):
        parts, k = [], i * 7
        while sum(map(len, parts)) < LONG_BARS * STEPS_PER_BAR:
            key = 0 if NOTTINGHAM.is_dir() else (k % 11) - 5  # the few examples: other keys make other songs
            parts.append(transposed(tunes[k % len(tunes)], key))
            k += 1
        out.append(np.concatenate(parts)[: LONG_BARS * STEPS_PER_BAR])
    return out


def write(songs: list[np.ndarray], folder: Path, stem: str) -> list[Path]:
    paths = []
    for i, tokens in enumerate(songs):
        path = folder / f"{stem}_{i}.mid"
        tokens_to_midi(tokens).write(str(path))
        paths.append(path)
    return paths


def summary(ms: list[float]) -> dict:
    return {"median_ms": round(float(np.median(ms)), 1), "p90_ms": round(float(np.percentile(ms, 90)), 1), "n": len(ms)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=12)
    ap.add_argument("--out", default="bench/out/song_load.json")
    args = ap.parse_args()
    torch.set_num_threads(1)  # as the app (app.TORCH_THREADS)
    twinkle = load_melody(TWINKLE).tokens
    keys = [k for k in range(-12, 13) if k][: 2 * args.calls]
    sets = {"twinkle": [transposed(twinkle, k) for k in keys],  # 2 x calls: one set per reading, none read twice
            "64 bars": long_songs(2 * args.calls)}
    report = {"load_average_start": os.getloadavg(), "server": {}, "model": {}, "knob_move": {}}
    model = load_model()
    for kind, songs in sets.items():  # the model's own cost, in this process
        fit, mu = [], []
        for tokens in songs[: args.calls]:
            clips = split_clips(tokens)
            start = time.perf_counter()
            encode_mu(model, clips)
            mu.append(1000 * (time.perf_counter() - start))
            start = time.perf_counter()
            fit_z(model, clips)
            fit.append(1000 * (time.perf_counter() - start))
        report["model"][kind] = {"clips": len(split_clips(songs[0])), "fit_z": summary(fit), "mu": summary(mu)}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {kind: write(songs, Path(tmp), kind.replace(" ", "_")) for kind, songs in sets.items()}
        server = App(None, Path(tmp))  # the bundled models, as a Space serves them
        url = server.url
        try:
            connect(url).predict(example="twinkle", api_name="/load_song")  # warm: first call of the process
            for kind, files in paths.items():
                for r, faithful in enumerate((True, False)):
                    times = []
                    for path in files[r * args.calls:(r + 1) * args.calls]:
                        client = connect(url)  # a new session: nothing of the song in it
                        start = time.perf_counter()
                        client.predict(midi_file=handle_file(str(path)), faithful=faithful, api_name="/load_song")
                        times.append(1000 * (time.perf_counter() - start))
                        client.close()
                    report["server"].setdefault(kind, {})["faithful" if faithful else "model_reading"] = summary(times)
            for faithful in (True, False):  # a knob move with the song in the session
                client = connect(url)
                client.predict(example="twinkle", faithful=faithful, api_name="/modulate")
                times = []
                for i in range(args.calls):
                    start = time.perf_counter()
                    client.predict(example="twinkle", pitch=(i % 11) - 5 + 0.5, faithful=faithful, api_name="/modulate")
                    times.append(1000 * (time.perf_counter() - start))
                report["knob_move"]["faithful" if faithful else "model_reading"] = summary(times)
                client.close()
        finally:
            server.stop()
    report["load_average_end"] = os.getloadavg()
    text = json.dumps(report, indent=1)
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)


if __name__ == "__main__":
    main()
