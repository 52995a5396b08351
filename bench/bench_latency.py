"""What a user feels: the app's latency through its HTTP API on localhost, beside the pure model cost.

    python bench/bench_latency.py --model assets/model [--calls 20] [--out bench/out/latency.json]

Starts ``app.py --model M --port P`` as a subprocess on 127.0.0.1, with gradio's own profiling
(GRADIO_PROFILING=1) and the app's stage timings (``vae.timing``, $MELODY_KNOBS_TIMINGS) on, and
measures through its HTTP API (DESIGN "Measures" -> Latency):

- cold start: process start -> the page answers -> the first /modulate answered;
- knobs: /modulate on the Twinkle theme (the example, 12 bars of 4/4 = 24 bars of 2/4, 6 clips)
  and on a 64-bar song (Twinkle repeated in other keys, a .mid uploaded with every call as an API
  client does), ``--calls`` calls each with distinct knob values, after one call that loads the
  song into the session;
- grid: /interpolate 5x5 and 7x7 between varying clip pairs of Twinkle;
- memory: peak RSS (VmHWM) of the app process at the end.

Each call is timed twice: **server** = request sent -> result (file URLs) received, and
**client** = server + downloading every returned file (roll PNG, audio WAV, MIDI; or the grid's
thumbnails, 6 at a time like a browser), as a page must before it can show and play them. Calls go
through two clients: ``page`` speaks the queue protocol as the page's JavaScript does (POST
queue/join, read the event stream), ``gradio_client`` is the Python client, which polls its
message queue every 50 ms and so adds up to 50 ms of its own. Server time is split into the
handler's stages (encode, decode, roll, audio, MIDI, ...), gradio's queue and pre/post-processing
(hashing and copying the files it was handed into its cache) and transport (HTTP, the event stream,
the client). The pure model cost of the same work (encode the song's clips; move and
decode them for the same knob values; the grid's encode + decode) is measured in this process,
with the app's torch threads, between the HTTP runs.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import torch
from gradio_client import handle_file
from harness import ROOT, ApiClient, App, PageClient, load_average, machine, make_client

from vae import knobs, song, timing
from vae.augment import transpose
from vae.bundle import load_bundle
from vae.inference import decode_z, encode_mu
from vae.melody import STEPS_PER_BAR, join_clips, load_melody, split_clips, tokens_to_midi

TORCH_THREADS = int(os.environ.get("MELODY_KNOBS_TORCH_THREADS", "1"))  # what app.py uses
SONG_BARS = 64
KEYS = (0, 2, -3, 5, -1, 3)  # transpositions of the repeats of Twinkle in the 64-bar song
STAGES = ("read_song", "encode", "decode", "roll", "thumbnail", "png", "audio", "wav", "ogg", "mp3", "midi", "write")
START_TIMEOUT = 600  # s; a model folder without dims.json computes them at start
DOWNLOADS = ThreadPoolExecutor(6)  # a browser fetches up to 6 files from one host at once (HTTP/1.1)


# ----------------------------------------------------------------------------- inputs


def long_song(path: Path, bars: int = SONG_BARS) -> Path:
    """Twinkle's clips repeated in other keys up to ``bars`` bars of 4/4, written as a .mid."""
    twinkle = load_melody(song.example_songs()["twinkle"])
    clips = split_clips(twinkle.tokens)
    n_clips = bars * STEPS_PER_BAR // clips.shape[1]
    parts = [transpose(clips, KEYS[i % len(KEYS)]) for i in range(-(-n_clips // len(clips)))]
    tokens = join_clips(np.concatenate(parts)[:n_clips])
    tokens_to_midi(tokens, bpm=twinkle.bpm).write(str(path))
    return path


def knob_settings(n: int, seed: int = 0) -> list[dict]:
    """``n`` distinct (pitch, rhythm, residual) settings on the sliders' steps, none all zero."""
    rng = np.random.default_rng(seed)
    pitches = np.arange(knobs.PITCH_RANGE[0], knobs.PITCH_RANGE[1] + 0.5, 0.5)
    rhythms = np.arange(knobs.RHYTHM_RANGE[0], knobs.RHYTHM_RANGE[1] + 0.25, 0.25)
    residuals = np.arange(knobs.RESIDUAL_RANGE[0], knobs.RESIDUAL_RANGE[1] + 0.25, 0.25)
    seen, out = set(), []
    while len(out) < n:
        k = (float(rng.choice(pitches)), float(rng.choice(rhythms)), float(rng.choice(residuals)))
        if k not in seen and any(k):
            seen.add(k)
            out.append(dict(zip(("pitch", "rhythm", "residual"), k, strict=True)))
    return out


def clip_pairs(n_clips: int, n: int) -> list[tuple[int, int]]:
    pairs = [(i, j) for i in range(1, n_clips + 1) for j in range(1, n_clips + 1) if i != j]
    return [pairs[k % len(pairs)] for k in range(n)]


# ----------------------------------------------------------------------------- the app process


class ProfiledApp(App):
    """The app (:class:`harness.App`) with gradio's profiling and the app's stage timings on."""

    def __init__(self, model: str, workdir: Path):
        timings = workdir / "timings.jsonl"
        super().__init__(model, workdir, env={"GRADIO_PROFILING": "1", timing.ENV_VAR: str(timings)})
        self.timings, self.offset = timings, 0

    def stages(self) -> dict[str, float]:
        """ms per stage recorded since the last call."""
        records, self.offset = timing.read(self.timings, self.offset)
        return timing.totals(records)

    def traces(self, since: float) -> list[dict]:
        """gradio's profiling traces (events and uploads) created after the wall-clock time ``since``."""
        traces = httpx.get(f"{self.url}gradio_api/profiling/traces", params={"last_n": 20}, timeout=10).json()
        return [t for t in traces if t["timestamp"] >= since]


# ----------------------------------------------------------------------------- one call


def file_urls(result) -> list[str]:
    """Every file URL in a prediction made with download_files=False."""
    if isinstance(result, dict):
        return ([result["url"]] if result.get("url") else []) + [u for v in result.values() if isinstance(v, dict | list)
                                                                 for u in file_urls(v)]
    if isinstance(result, list | tuple):
        return [u for v in result for u in file_urls(v)]
    return []


def fetch(http: httpx.Client, url: str) -> int:
    response = http.get(url)
    response.raise_for_status()
    return len(response.content)


def timed_call(app: ProfiledApp, client: PageClient | ApiClient, http: httpx.Client, api_name: str, kwargs: dict) -> dict:
    """One call: server and client time, bytes downloaded, the app's stages and gradio's phases."""
    app.stages()  # drop records of anything before this call
    wall, t0 = time.time(), time.perf_counter()
    result = client.predict(api_name=api_name, **kwargs)
    server = time.perf_counter() - t0
    n_bytes = sum(DOWNLOADS.map(lambda url: fetch(http, url), file_urls(result)))
    client_s = time.perf_counter() - t0
    stages = app.stages()
    traces = app.traces(wall)
    trace = next((t for t in traces if t["fn_name"] == api_name.strip("/")), {})
    handler = stages.get(f"handler:{api_name.strip('/')}", 0.0)
    row = {"server_ms": server * 1000, "client_ms": client_s * 1000, "download_ms": (client_s - server) * 1000,
           "bytes": n_bytes, "handler_ms": handler}
    row.update({f"{s}_ms": stages.get(s, 0.0) for s in STAGES})
    row["handler_other_ms"] = handler - sum(stages.get(s, 0.0) for s in STAGES)
    row["model_ms"] = row["encode_ms"] + row["decode_ms"]
    row["images_ms"] = row["roll_ms"] + row["thumbnail_ms"] + row["png_ms"]  # drawing + PNG encoding
    row["sound_ms"] = row["audio_ms"] + row["wav_ms"] + row["ogg_ms"] + row["mp3_ms"]  # synthesis + encoding
    row["other_ms"] = row["handler_other_ms"] + row["read_song_ms"]  # reading MIDI, knobs, writing files
    row["framework_ms"] = row["server_ms"] - handler  # end to end minus the work inside the handler
    row["gradio_queue_ms"] = trace.get("queue_wait_ms", float("nan"))
    row["gradio_pre_ms"] = trace.get("preprocess_ms", float("nan"))
    row["gradio_post_ms"] = trace.get("postprocess_ms", float("nan"))
    row["gradio_total_ms"] = trace.get("total_ms", float("nan"))
    row["gradio_ms"] = row["gradio_queue_ms"] + row["gradio_pre_ms"] + row["gradio_post_ms"]
    row["transport_ms"] = row["server_ms"] - row["gradio_total_ms"]  # HTTP, SSE, uploads, the client's own work
    return row


def summary(rows: list[dict]) -> dict:
    """Median and p90 of every field over the calls."""
    out = {}
    for key in rows[0]:
        values = np.array([r[key] for r in rows], dtype=float)
        out[key] = {"median": float(np.nanmedian(values)), "p90": float(np.nanpercentile(values, 90))}
    return out


# ----------------------------------------------------------------------------- scenarios


def bench_knobs(app: ProfiledApp, kind: str, name: str, song_args: dict, calls: int, seed: int) -> dict:
    client = make_client(kind, app.url)  # one session: the song stays loaded
    with httpx.Client() as http:
        first = timed_call(app, client, http, "/modulate", song_args)  # loads the song into the session
        rows = [timed_call(app, client, http, "/modulate", {**song_args, **k}) for k in knob_settings(calls, seed)]
    client.close()
    return {"scenario": name, "client": kind, "calls": calls, "song_load_call": first, "summary": summary(rows),
            "rows": rows}


def bench_grid(app: ProfiledApp, kind: str, size: int, calls: int) -> dict:
    rows, client = [], make_client(kind, app.url)
    with httpx.Client() as http:
        timed_call(app, client, http, "/interpolate", {"grid_size": size})  # warm-up
        for i, j in clip_pairs(6, calls):
            rows.append(timed_call(app, client, http, "/interpolate",
                                   {"source_clip": i, "target_clip": j, "grid_size": size}))
    client.close()
    return {"scenario": f"grid {size}x{size}", "client": kind, "calls": calls, "summary": summary(rows), "rows": rows}


def median_ms(fn, repeat: int) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def model_cost(model_source: str, songs: dict[str, Path], calls: int, seed: int) -> dict:
    """The pure model cost of the same work, in this process with the app's torch threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(TORCH_THREADS)
    try:
        bundle = load_bundle(model_source)
        model, space = bundle.model, bundle.space
        out = {"torch_threads": TORCH_THREADS}
        for s, (name, path) in enumerate(songs.items()):  # the knob values of the first client's calls
            clips = split_clips(load_melody(path).tokens)
            z = encode_mu(model, clips)
            moves = [median_ms(lambda k=k, z=z: decode_z(model, knobs.move(z, space, knobs.Knobs(**k))), 3)
                     for k in knob_settings(calls, seed + s)]
            out[name] = {"clips": len(clips), "encode_ms": median_ms(lambda c=clips: encode_mu(model, c), calls),
                         "move_and_decode_ms": float(np.median(moves))}
        clips = split_clips(load_melody(songs["twinkle"]).tokens)
        for size in (5, 7):
            pairs = clip_pairs(len(clips), calls)
            times = [median_ms(lambda i=i, j=j, n=size: knobs.grid(model, space, clips[i - 1], clips[j - 1], n), 1)
                     for i, j in pairs]
            out[f"grid {size}x{size}"] = {"encode_and_decode_ms": float(np.median(times)), "clips": size * size}
        return out
    finally:
        torch.set_num_threads(threads)


# ----------------------------------------------------------------------------- report


def print_report(report: dict) -> None:
    print(f"\n{report['machine']}; load average at start {report['load_average_start']}, "
          f"end {report['load_average_end']}")
    cold = report["cold_start"]
    print(f"cold start: page up {cold['page_up_s']:.1f} s, first /modulate answered {cold['first_answer_s']:.1f} s; "
          f"peak RSS {report['memory_mib']['VmHWM']:.0f} MiB")
    cols = [("server", "server"), ("client", "client"), ("handler", "handler"), ("encode+dec", "model"),
            ("roll/thumbs", "images"), ("audio", "sound"), ("midi", "midi"), ("files", "write"),
            ("other", "other"),
            ("gradio", "gradio"), ("transport", "transport"), ("download", "download")]
    print("\nms, median (p90). server: request -> answer; client: + downloading the files; handler = encode+dec + "
          "roll/thumbs (+PNG) + audio (+MP3, Ogg or WAV) + midi + files (writes) + other, where stages that run beside each "
          "other (the audio on another thread than the roll and the MIDI) are summed; server = handler + gradio "
          "(queue, pre/postprocess) + transport")
    print(f"{'':36}" + "".join(f"{c:>14}" for c, _ in cols) + f"{'kB':>8}")
    for res in report["scenarios"]:
        s = res["summary"]
        cells = [f"{s[f'{key}_ms']['median']:7.1f} ({s[f'{key}_ms']['p90']:4.0f})" for _, key in cols]
        print(f"{res['scenario'] + ' (' + res['client'] + ')':36}" + "".join(f"{c:>14}" for c in cells)
              + f"{s['bytes']['median'] / 1e3:8.0f}")
    for res in report["scenarios"]:
        if "song_load_call" in res:
            first = res["song_load_call"]
            print(f"first call of a session ({res['scenario']}, {res['client']}): loads the song, server "
                  f"{first['server_ms']:.0f} ms, client {first['client_ms']:.0f} ms")
    cost = report.get("model_cost")
    if not cost:
        return
    print("\npure model cost, same work in-process (ms, median):")
    for name in ("twinkle", f"{SONG_BARS} bars"):
        c = cost[name]
        print(f"  {name:10} {c['clips']:3} clips: encode {c['encode_ms']:6.1f}, knob move + decode "
              f"{c['move_and_decode_ms']:6.1f}")
    for size in (5, 7):
        print(f"  grid {size}x{size}: encode 2 + decode {size * size} clips {cost[f'grid {size}x{size}']['encode_and_decode_ms']:6.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--model", default=str(ROOT / "assets" / "model"), help="model folder or Hub repo id")
    ap.add_argument("--calls", type=int, default=20, help="timed calls per scenario (DESIGN: >= 20)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", nargs="*", default=[], choices=["knobs", "grid", "model"], help="scenarios to leave out")
    ap.add_argument("--clients", nargs="+", default=["page", "gradio_client"], choices=["page", "gradio_client"],
                    help="page: the queue protocol as the browser speaks it; gradio_client: the Python client")
    ap.add_argument("--label", default="", help="a note stored in the JSON (e.g. 'before roll cache')")
    ap.add_argument("--out", default="bench/out/latency.json")
    args = ap.parse_args()

    facts = machine()
    report = {"machine": f"{facts['cpu']}, {facts['cores']} cores", "label": args.label, "model": args.model,
              "calls": args.calls, "torch": torch.__version__, "load_average_start": facts["load_average"],
              "scenarios": []}
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        work = Path(tmp)
        songs = {"twinkle": song.example_songs()["twinkle"],
                 f"{SONG_BARS} bars": long_song(work / f"twinkle_{SONG_BARS}_bars.mid")}
        app = ProfiledApp(args.model, work)
        try:
            page_up = app.wait_up(START_TIMEOUT)
            client = PageClient(app.url)
            client.predict("/modulate", example="twinkle", pitch=1)
            client.close()
            report["cold_start"] = {"page_up_s": page_up, "first_answer_s": time.perf_counter() - app.started}
            long_args = {"midi_file": handle_file(str(songs[f"{SONG_BARS} bars"]))}
            for c, kind in enumerate(args.clients):  # other knob values for every song and client: no cache hits
                if "knobs" not in args.skip:
                    report["scenarios"] += [
                        bench_knobs(app, kind, "knobs: twinkle", {"example": "twinkle"}, args.calls, args.seed + 2 * c),
                        bench_knobs(app, kind, f"knobs: {SONG_BARS} bars", long_args, args.calls, args.seed + 2 * c + 1)]
                if "grid" not in args.skip:
                    report["scenarios"] += [bench_grid(app, kind, size, args.calls) for size in (5, 7)]
            report["memory_mib"] = app.memory()
        finally:
            app.stop()
        if "model" not in args.skip:
            report["model_cost"] = model_cost(args.model, songs, args.calls, args.seed)
    report["load_average_end"] = load_average()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print_report(report)
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
