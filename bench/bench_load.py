"""64 users at once for 2 minutes: knob moves, grids and uploads, through both clients, and one slow reader.

    python bench/bench_load.py --model assets/model [--clients 64] [--seconds 120] [--out bench/out/load.json]

Starts ``app.py --model M`` as a subprocess on 127.0.0.1 (its own temp folders) and runs ``--clients``
client threads until ``--seconds`` have passed, half speaking the page's queue protocol (POST
queue/join, read the event stream, as the page's JavaScript does) and half through gradio_client.
Each client has its own song (an example, or a MIDI file that it uploads with every call, as an
API client does) and loops over: three knob moves (/modulate, its own knob values), a 3x3 grid
(/interpolate) and an upload (/load_song of its file). Every answer is checked against a direct
library call in this process for that client's song and knobs (the result's MIDI bytes, the grid's
corner thumbnails, the uploaded song's code): an answer meant for another client, or a damaged
file, counts as cross-talk. A slow client reads a large file (the audio of a 64-bar song) at
``--slow-kBps`` kB/s for the whole run: it must not hold the others up.

Prints p50/p95/p99 latency per endpoint (request sent -> answer and its files downloaded), the
failures by message (a full queue is answered "queue full"), the cross-talk count, the slow
read, and the app's memory; exits with status 1 on cross-talk or on a failure other than a full queue.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import numpy as np
import pretty_midi
import torch
from harness import ROOT, ApiClient, App, PageClient

from vae import knobs, render, song
from vae.bundle import load_bundle
from vae.inference import encode_z
from vae.melody import split_clips, tokens_to_link_code, tokens_to_midi
from vae.pianoroll import png_bytes, thumbnails

KNOB_VALUES = [{"pitch": p, "rhythm": r} for p in (-5, -2, 0, 3, 7) for r in (0.0, 1.0)]
GRID = {"source_clip": 1, "target_clip": 3, "grid_size": 3}
CYCLE = ["modulate", "modulate", "modulate", "interpolate", "upload"]


def upload_songs(folder: Path, n: int) -> list[Path]:
    """``n`` small melodies of their own (scale, register, tempo), as MIDI files."""
    paths = []
    for i in range(n):
        pm = pretty_midi.PrettyMIDI(initial_tempo=80 + 7 * i)
        inst = pretty_midi.Instrument(program=0)
        beat = 60 / (80 + 7 * i) * (1, 0.5)[i % 2]
        inst.notes = [pretty_midi.Note(100, 48 + 2 * i + (j * (1, 2, 3, 5)[i % 4]) % 12, j * beat, (j + 1) * beat)
                      for j in range(64)]
        pm.instruments.append(inst)
        paths.append(folder / f"load{i:02d}.mid")
        pm.write(str(paths[-1]))
    return paths


def long_song(folder: Path) -> Path:
    """Twinkle played 5 times at 60 bpm: a big WAV for the slow reader."""
    melody = song.read_song(song.DEFAULT_EXAMPLE)[0]
    pm = tokens_to_midi(np.tile(melody.tokens, 5), bpm=60)
    path = folder / "long.mid"
    pm.write(str(path))
    return path


class Expected:
    """Direct library answers for a song (example name or upload path) and knobs, computed once each."""

    def __init__(self, model: str):
        self.bundle = load_bundle(model)
        self.songs, self.cache, self.lock = {}, {}, threading.Lock()

    def _song(self, source: str | Path):
        if source not in self.songs:
            upload = source if isinstance(source, Path) else None
            melody, _, _ = song.read_song(None if upload else source, upload)
            self.songs[source] = (melody, encode_z(self.bundle.model, split_clips(melody.tokens)))  # as the app: fitted
        return self.songs[source]

    def midi(self, source, moves: dict) -> bytes:
        with self.lock:
            key = ("midi", source, tuple(sorted(moves.items())))
            if key not in self.cache:
                melody, latents = self._song(source)
                result = knobs.apply(self.bundle.model, self.bundle.space, melody.tokens, knobs.Knobs(**moves),
                                     latents=latents)
                self.cache[key] = render.midi_bytes(result, melody.bpm)
            return self.cache[key]

    def code(self, source) -> str:
        with self.lock:
            return tokens_to_link_code(self._song(source)[0].tokens)

    def corners(self, source) -> tuple[bytes, bytes]:
        """PNG bytes of the grid's first and last thumbnails, for GRID between clips of ``source``."""
        with self.lock:
            key = ("grid", source)
            if key not in self.cache:
                tokens = self._song(source)[0].tokens
                a, b = (song.clip_of(tokens, GRID[k]) for k in ("source_clip", "target_clip"))
                images = thumbnails(knobs.grid(self.bundle.model, self.bundle.space, a, b, GRID["grid_size"]))
                self.cache[key] = (png_bytes(images[0]), png_bytes(images[-1]))
            return self.cache[key]


def fetch(http: httpx.Client, item) -> bytes:
    url = item["url"] if isinstance(item, dict) else item
    answer = http.get(url)
    answer.raise_for_status()
    return answer.content


class LoadRun:
    """What every client of one load run shares: the app's URL, the deadline, and the rows of all their requests."""

    def __init__(self, url: str, until: float):
        self.url, self.until = url, until  # until: time.monotonic() at which the clients stop
        self.rows: list[dict] = []
        self._lock = threading.Lock()

    def add(self, row: dict) -> None:
        """One request's row, from any client's thread."""
        with self._lock:
            self.rows.append(row)


def run_client(number: int, kind: str, source, expected: Expected, run: LoadRun) -> None:
    """One user: its own song and knobs, the CYCLE of requests, until the run's deadline."""
    url, until = run.url, run.until
    client = PageClient(url) if kind == "page" else ApiClient(url)
    song_args = {"midi_file": source} if isinstance(source, Path) else {"example": source}
    grid_args = ({"source_file": source, "target_file": source} if isinstance(source, Path)
                 else {"source_example": source, "target_example": source})
    step = number
    with httpx.Client(timeout=300) as http:
        while time.monotonic() < until:
            op, moves = CYCLE[step % len(CYCLE)], KNOB_VALUES[(step + number) % len(KNOB_VALUES)]
            step += 1
            start, ok, wrong, error = time.monotonic(), False, False, None
            try:
                if op == "modulate":
                    roll, audio, midi = client.predict("/modulate", **song_args, **moves)[:3]
                    fetch(http, roll), fetch(http, audio)
                    wrong = fetch(http, midi) != expected.midi(source, moves)
                elif op == "interpolate":
                    cells = client.predict("/interpolate", **grid_args, **GRID)
                    cells = cells[0] if isinstance(cells, tuple) else cells
                    images = [fetch(http, c["image"]) for c in cells]
                    wrong = (images[0], images[-1]) != expected.corners(source)
                else:
                    upload = source if isinstance(source, Path) else None
                    args = {"midi_file": upload} if upload else {"example": source}
                    roll, audio, facts = client.predict("/load_song", **args)[:3]
                    fetch(http, roll), fetch(http, audio)
                    wrong = facts["song_code"] != expected.code(source)
                ok = True
            except Exception as err:  # noqa: BLE001 - every failure is counted by its message
                error = f"{type(err).__name__}: {err}"[:160]
            run.add({"client": number, "kind": kind, "op": op, "s": time.monotonic() - start, "ok": ok,
                     "wrong": wrong, "error": error, "at": start})
    client.close()


def slow_reader(url: str, kbps: float, begin: float, until: float, out: dict) -> None:
    """From ``begin`` (half-way), load the long song and read its audio at ``kbps`` kB/s until the deadline."""
    client = PageClient(url)
    try:
        audio = client.predict("/load_song", midi_file=out["path"])[1]
        time.sleep(max(0.0, begin - time.monotonic()))
        start, got = time.monotonic(), 0
        out["began_s"] = start
        with httpx.Client(timeout=600) as http, http.stream("GET", audio["url"]) as stream:
            out["size"] = int(stream.headers.get("content-length", 0))
            for chunk in stream.iter_bytes(1024):
                got += len(chunk)
                pause = got / (kbps * 1000) - (time.monotonic() - start)
                if pause > 0:
                    time.sleep(pause)
                if time.monotonic() > until:
                    break
        out.update(read=got, seconds=time.monotonic() - start, rate_kBps=got / 1000 / (time.monotonic() - start))
    except Exception as err:  # noqa: BLE001
        out["error"] = f"{type(err).__name__}: {err}"[:200]
    finally:
        client.close()


def percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ms = np.asarray(values) * 1000
    return {"n": len(values), "p50": round(float(np.percentile(ms, 50))), "p95": round(float(np.percentile(ms, 95))),
            "p99": round(float(np.percentile(ms, 99))), "max": round(float(ms.max()))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="assets/model")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--slow-kBps", dest="kbps", type=float, default=10.0)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "load.json")
    args = parser.parse_args()
    torch.set_num_threads(1)

    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    uploads = upload_songs(work, 8)
    sources = [*song.example_songs(), *uploads]
    expected = Expected(args.model)
    for i in range(args.clients):  # every answer that will be checked, computed before the run
        source = sources[i % len(sources)]
        expected.code(source), expected.corners(source)
        for moves in KNOB_VALUES:
            expected.midi(source, moves)

    with App(args.model, work) as app:
        started, url = time.perf_counter() - app.started, app.url
        load_before = os.getloadavg()
        until = time.monotonic() + args.seconds
        run = LoadRun(url, until)
        slow = {"path": long_song(work)}
        halfway = until - args.seconds / 2  # the slow reader reads in the second half only: the first is the control
        threads = [threading.Thread(target=slow_reader, args=(url, args.kbps, halfway, until, slow), daemon=True)]
        threads += [threading.Thread(target=run_client, args=(i, ("page", "gradio_client")[i % 2],
                                                              sources[i % len(sources)], expected, run),
                                     daemon=True) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=args.seconds + 600)
        mem, rows = app.memory(), run.rows

    by_op = defaultdict(list)
    for r in rows:
        if r["ok"]:
            by_op[r["op"]].append(r["s"])
            by_op[f"{r['op']} ({r['kind']})"].append(r["s"])
    slow.pop("path")
    slow_began = slow.pop("began_s", until)
    for half, keep in (("without the slow reader", lambda r: r["at"] < slow_began),
                       ("with the slow reader", lambda r: r["at"] >= slow_began)):
        by_op[f"modulate, {half}"] = [r["s"] for r in rows if r["ok"] and r["op"] == "modulate" and keep(r)]
    report = {
        "clients": args.clients, "seconds": args.seconds, "model": args.model, "start_s": round(started, 1),
        "requests": len(rows), "ok": sum(r["ok"] for r in rows), "cross_talk": sum(r["wrong"] for r in rows),
        "failures": dict(Counter(r["error"] for r in rows if not r["ok"]).most_common(10)),
        "latency_ms": {op: percentiles(v) for op, v in sorted(by_op.items())},
        "slow_reader": slow, "app_memory_mib": mem, "load_average": {"before": load_before, "after": os.getloadavg()},
        "cpus": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    unclear = sum(n for message, n in report["failures"].items() if "queue" not in message.lower())
    if report["cross_talk"] or unclear or "error" in slow:  # a full queue is the one failure allowed
        raise SystemExit(f"{report['cross_talk']} answers with cross-talk, {unclear} failures other than a full "
                         f"queue, slow reader: {slow.get('error', 'ok')}")


if __name__ == "__main__":
    main()
