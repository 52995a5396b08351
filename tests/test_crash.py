"""A crash mid-request: the app runs as its own process (``python app.py``, the tiny model), 8 clients
turn knobs through the HTTP API, the server is killed with SIGKILL and started again on the same port.

- the clients get an error while it is down, then answers again within the start-up time;
- no half-written or stale file is ever served: results are content-addressed, so every file a client
  downloads, before and after the crash, must hash to the folder it is served from (gradio's cache:
  sha256 of its seed and the bytes; the app's output folder: sha1), and its MIDI must be the bytes
  that a direct library call gives for that client's knobs.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from gradio.utils import get_hash_seed

import app
from vae import knobs, render, song
from vae.bundle import load_bundle
from vae.inference import encode_mu
from vae.melody import split_clips

ROOT = Path(__file__).resolve().parents[1]
N_CLIENTS = 8
PITCHES = [-7, -3, 0, 2, 5, 9]  # each client cycles through these, shifted by its number
START_LIMIT_S = 90  # a cold start on 2 busy cores (imports, the model, the examples)
BEFORE_KILL_S = 3.0  # knob moves before the crash


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model_dir: Path, port: int, tmp: Path) -> tuple[subprocess.Popen, float]:
    """``python app.py`` on ``port``; returns the process and its start-up time (until /config answers)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp), "GRADIO_TEMP_DIR": str(tmp / "gradio"),
           "MELODY_KNOBS_TORCH_THREADS": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = (tmp / f"server-{time.time_ns()}.log").open("wb")
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--model", str(model_dir), "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    while time.monotonic() - start < START_LIMIT_S:
        if proc.poll() is not None:
            pytest.fail(f"the server exited with {proc.returncode}; see {log.name}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/config", timeout=2).status_code == 200:
                return proc, time.monotonic() - start
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    pytest.fail(f"the server did not start within {START_LIMIT_S} s")


@dataclass
class Answer:
    pitch: float
    at: float  # monotonic time the answer arrived
    files: dict[str, tuple[str, bytes]]  # suffix -> (server path, downloaded bytes)


@dataclass
class ClientLog:
    answers: list[Answer] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)


def modulate(http: httpx.Client, url: str, pitch: float) -> dict[str, tuple[str, bytes]]:
    """One /modulate of Twinkle through the raw HTTP API (every input, in order; the last, audio_format, None: the
    default Ogg); the three files, downloaded."""
    answer = http.post(f"{url}gradio_api/call/modulate", json={"data": ["twinkle", None, None, None, None, pitch, 0,
                                                                       0, False, 1, 512, None, None, False, None]})
    answer.raise_for_status()
    stream = http.get(f"{url}gradio_api/call/modulate/{answer.json()['event_id']}").text
    kind, _, data = stream.partition("\ndata: ")
    if "complete" not in kind:
        raise RuntimeError(f"{kind.strip()}: {data.strip()[:200]}")
    files = {}
    for item in json.loads(data.strip().split("\n")[0]):
        if item is None:  # the session's state
            continue
        got = http.get(item["url"])
        got.raise_for_status()
        files[Path(item["path"]).suffix] = (item["path"], got.content)
    return files


def client_loop(url: str, number: int, log: ClientLog, stop: threading.Event) -> None:
    with httpx.Client(timeout=30) as http:
        k = number
        while not stop.is_set():
            pitch = PITCHES[k % len(PITCHES)]
            try:
                log.answers.append(Answer(pitch, time.monotonic(), modulate(http, url, pitch)))
                k += 1
            except (httpx.HTTPError, RuntimeError, json.JSONDecodeError, KeyError) as err:
                log.errors.append((time.monotonic(), f"{type(err).__name__}: {err}"[:200]))
                time.sleep(0.2)


def expected_midi(model_dir: Path) -> dict[float, bytes]:
    """The MIDI bytes of Twinkle with each pitch in PITCHES, by a direct library call."""
    b = load_bundle(str(model_dir))
    melody, _ = song.SongSource(song.DEFAULT_EXAMPLE).read(app.EXAMPLES)
    latents = encode_mu(b.model, split_clips(melody.tokens))
    out = {}
    for pitch in PITCHES:
        result = knobs.apply(b.model, b.space, melody.tokens, knobs.Knobs(pitch=pitch), latents=latents)
        out[pitch] = render.midi_bytes(result, melody.bpm)
    return out


def test_kill_9_mid_request_then_restart(tiny_model_dir, tmp_path):
    port, expected = _free_port(), expected_midi(tiny_model_dir)
    url = f"http://127.0.0.1:{port}/"
    proc, first_start = start_server(tiny_model_dir, port, tmp_path)
    logs, stop = [ClientLog() for _ in range(N_CLIENTS)], threading.Event()
    threads = [threading.Thread(target=client_loop, args=(url, i, logs[i], stop), daemon=True)
               for i in range(N_CLIENTS)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 60
        while sum(len(log.answers) for log in logs) < N_CLIENTS and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(BEFORE_KILL_S)
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)  # requests are in flight: 8 clients never pause
        proc.wait(timeout=10)
        time.sleep(1.0)
        restart_at = time.monotonic()
        proc, second_start = start_server(tiny_model_dir, port, tmp_path)
        deadline = time.monotonic() + 60
        while (any(not [a for a in log.answers if a.at > restart_at] for log in logs)
               and time.monotonic() < deadline):
            time.sleep(0.1)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=40)
        proc.kill()
        proc.wait(timeout=10)

    seed = get_hash_seed().encode()
    served, recoveries = 0, []
    for number, log in enumerate(logs):
        before = [a for a in log.answers if a.at < killed_at]
        after = [a for a in log.answers if a.at > restart_at]
        down = [e for e in log.errors if killed_at <= e[0]]
        assert before, f"client {number} got no answer before the crash"
        assert down, f"client {number} saw no error while the server was down"
        assert after, f"client {number} got no answer after the restart ({log.errors[-3:]})"
        recovered = after[0].at - restart_at
        recoveries.append(recovered)
        assert recovered < second_start + 30, f"client {number} answered {recovered:.1f} s after the restart began"
        for answer in log.answers:
            for suffix, (path, data) in answer.files.items():
                served += 1
                assert Path(path).parent.name in (render.digest(data), hashlib.sha256(seed + data).hexdigest()), \
                    f"{path}: the bytes served are not the bytes the name promises (half-written?)"
                if suffix == ".mid":
                    assert data == expected[answer.pitch], f"client {number}: a stale or foreign MIDI for {answer.pitch}"
                else:
                    assert data[:2] == b"\xff\xf3" or data[:4] == b"\x89PNG", path  # MP3 or PNG
    for path in (tmp_path / "melody-knobs").rglob("*"):  # the app's own output folder (store.OUT_DIR)
        if path.is_file() and not path.name.startswith("."):  # ".name.xxxx": a write cut by the kill, never served
            assert render.digest(path.read_bytes()) == path.parent.name, f"{path} does not hash to its folder"
    print(f"start {first_start:.1f} s, restart {second_start:.1f} s, every client answered again "
          f"{min(recoveries):.1f}-{max(recoveries):.1f} s after the restart began; {served} files served, all "
          f"content-addressed; errors while down: {[len(log.errors) for log in logs]}")
