"""A Space that runs for weeks, compressed: many knob moves and uploads, disk and memory before and after.

    python bench/bench_soak.py --model assets/model [--moves 300] [--uploads 20] [--out bench/out/soak.json]

Starts ``app.py --model M`` as a subprocess on 127.0.0.1 with its own temp folder (``TMPDIR``: the app's
output files under ``melody-knobs/``; ``GRADIO_TEMP_DIR``: gradio's cache of the files it serves and of
uploads) and, through gradio_client, makes ``--moves`` knob moves, each with knob values no earlier move
had, spread over Twinkle, the other examples and uploaded songs, and ``--uploads`` uploads of distinct
MIDI files. Every ``--every`` moves it records the disk used and the number of files in both folders and
the app's resident memory. A bounded output cache keeps the disk flat; without one, the disk grows by
the size of every answer (a roll, an audio file and a MIDI file per move), twice (the app's file and
gradio's copy).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pretty_midi
from gradio_client import Client, handle_file
from harness import ROOT, App

from vae import song


def folder_use(folder: Path) -> dict:
    """Bytes and files under ``folder``."""
    files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
    return {"mb": round(sum(p.stat().st_size for p in files) / 1e6, 2), "files": len(files)}


def song_file(folder: Path, i: int) -> Path:
    """A distinct 8-bar melody (its own pitches and tempo) as a MIDI file."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=70 + 3 * i)
    inst = pretty_midi.Instrument(program=0)
    beat = 60 / (70 + 3 * i)
    inst.notes = [pretty_midi.Note(100, 50 + (i + 5 * j) % 24, j * beat, (j + 1) * beat) for j in range(32)]
    pm.instruments.append(inst)
    path = folder / f"soak{i:03d}.mid"
    pm.write(str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="assets/model")
    parser.add_argument("--moves", type=int, default=300)
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "soak.json")
    parser.add_argument("--max-kb-per-move", type=float, default=None,
                        help="exit with status 1 when the disk grows faster (a check for a bounded cache)")
    parser.add_argument("--max-rss-growth-mib", type=float, default=None,
                        help="exit with status 1 when the app's RSS grows more from the first sample to the last")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    outputs, cache = work / "melody-knobs", work / "gradio"
    uploads = [song_file(work, i) for i in range(args.uploads)]
    app = App(args.model, work)
    app.wait_up()
    url = app.url
    client = Client(url, verbose=False, download_files=False)
    client.predict(example=song.DEFAULT_EXAMPLE, api_name="/modulate")  # warm: the first answer's files
    samples = [{"moves": 0, "uploads": 0, "outputs": folder_use(outputs), "gradio_cache": folder_use(cache),
                "memory_mib": app.memory()}]
    examples = list(song.example_songs())
    failures, start, done_uploads = [], time.monotonic(), 0
    upload_every = max(1, args.moves // max(1, args.uploads))
    for move in range(1, args.moves + 1):
        # knob values never repeated: pitch in quarter semitones, the rhythm and residual knobs in turn
        pitch, rhythm = -12 + (move * 0.25) % 24, (-1.0, 0.0, 1.0, 2.0)[move % 4]
        source = {"example": examples[move % len(examples)]}
        if done_uploads < args.uploads and move % upload_every == 0:
            source, done_uploads = {"midi_file": handle_file(str(uploads[done_uploads]))}, done_uploads + 1
        try:
            client.predict(**source, pitch=pitch, rhythm=rhythm, residual=(move // 96) * 0.25,
                           api_name="/modulate")
        except Exception as err:  # noqa: BLE001 - counted, the soak goes on
            failures.append(f"{type(err).__name__}: {err}"[:160])
        if move % args.every == 0 or move == args.moves:
            samples.append({"moves": move, "uploads": done_uploads, "outputs": folder_use(outputs),
                            "gradio_cache": folder_use(cache), "memory_mib": app.memory(),
                            "seconds": round(time.monotonic() - start, 1)})
            print(json.dumps(samples[-1]), flush=True)
    client.close()
    app.stop()

    first, last = samples[0], samples[-1]
    disk = lambda s: s["outputs"]["mb"] + s["gradio_cache"]["mb"]
    report = {"model": args.model, "moves": args.moves, "uploads": done_uploads, "failures": failures,
              "disk_mb": {"before": round(disk(first), 2), "after": round(disk(last), 2),
                          "per_move_kb": round((disk(last) - disk(first)) * 1000 / args.moves, 1)},
              "files": {"before": first["outputs"]["files"] + first["gradio_cache"]["files"],
                        "after": last["outputs"]["files"] + last["gradio_cache"]["files"]},
              "rss_mib": {"before": first["memory_mib"]["VmRSS"], "after": last["memory_mib"]["VmRSS"],
                          "peak": last["memory_mib"]["VmHWM"]},
              "load_average": os.getloadavg(), "samples": samples}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=2))
    growth, per_move = report["rss_mib"]["after"] - report["rss_mib"]["before"], report["disk_mb"]["per_move_kb"]
    broken = [f"{len(failures)} requests failed"] if failures else []
    if args.max_kb_per_move is not None and per_move > args.max_kb_per_move:
        broken.append(f"the disk grew {per_move} kB per move (limit {args.max_kb_per_move:g})")
    if args.max_rss_growth_mib is not None and growth > args.max_rss_growth_mib:
        broken.append(f"the app's RSS grew {growth} MiB (limit {args.max_rss_growth_mib:g})")
    if broken:
        raise SystemExit("; ".join(broken))


if __name__ == "__main__":
    main()
