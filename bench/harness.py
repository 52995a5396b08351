"""What the benchmarks share: a free port, the app as its own process, the page's queue protocol, machine facts.

    with App("assets/model", workdir) as app:          # python app.py on a free localhost port, once it answers
        client = PageClient(app.url)                   # the queue protocol as the page's JavaScript speaks it
        roll, audio, midi = client.predict("/modulate", example="twinkle", pitch=5)
        app.memory()                                   # {"VmHWM": MiB, "VmRSS": MiB}
    machine()                                          # {"cpu": "...", "cores": 2, "load_average": [...]}

The scripts run as ``python bench/NAME.py``, which puts ``bench/`` first on the import path: ``import harness``
finds this file without touching ``sys.path``.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from gradio_client import Client, handle_file

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 180  # s for the app to load its models and answer
CHROMIUM = "/usr/bin/chromium"  # Debian's package (make system), driven through playwright
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def free_port() -> int:
    """A localhost port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def memory(pid: int) -> dict[str, int]:
    """Peak and current resident memory of a process, MiB: {"VmHWM": ..., "VmRSS": ...} (Linux /proc)."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {k: round(int(fields[k].split()[0]) / 1024) for k in ("VmHWM", "VmRSS") if k in fields}


def folder_bytes(folder: Path) -> int:
    """Bytes of all files under ``folder`` (0 when it is not there)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


class App:
    """``app.py`` of a checkout (this one by default) as its own process on a free localhost port.

    Its temporary files (the output folder, gradio's cache) go under ``workdir`` (``$TMPDIR``, ``$GRADIO_TEMP_DIR``),
    its log to ``workdir/app.log``. ``model=None`` serves the bundled models, as a Space does. Use as a context
    manager (start, wait until the page answers, stop), or call :meth:`wait_up` and :meth:`stop`.
    """

    def __init__(self, model: str | None, workdir: Path, env: dict[str, str] | None = None, root: Path = ROOT):
        self.port, self.workdir = free_port(), Path(workdir)
        self.url = f"http://127.0.0.1:{self.port}/"
        full = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "TMPDIR": str(self.workdir),
                "GRADIO_TEMP_DIR": str(self.workdir / "gradio"), **(env or {})}
        if Path(root).resolve() != ROOT:  # another checkout: its vae/ too, not the installed one
            full["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), full.get("PYTHONPATH")]))
        self.log = (self.workdir / "app.log").open("wb")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, str(Path(root) / "app.py"), *(["--model", model] if model else []),
                                      "--host", "127.0.0.1", "--port", str(self.port)], cwd=root, env=full,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_up(self, timeout: float = START_TIMEOUT) -> float:
        """Seconds from the process start until the page's config answers; RuntimeError with the log's tail when
        the app exits or does not answer in ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with code {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}config", timeout=2).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the app did not answer within {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        return Path(self.log.name).read_text(errors="replace")[-chars:]

    def memory(self) -> dict[str, int]:
        return memory(self.proc.pid)

    def stop(self) -> None:
        """Ctrl-C, as a user stops it; killed after 10 s."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def __enter__(self):
        try:
            self.wait_up()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_) -> None:
        self.stop()


class PageClient:
    """The app's queue protocol as the page's JavaScript speaks it: POST queue/join, then read the SSE stream.

    gradio_client polls its message queue every 50 ms (``stream_sse_v1plus``), which adds up to 50 ms that a
    browser never waits; this client reads the event stream as the browser does. Arguments by parameter name, as
    ``Client.predict``; a ``Path`` (or ``handle_file(...)``) is uploaded first. Returns the outputs like
    ``Client(download_files=False)``: files as dicts with a ``url``.
    """

    def __init__(self, url: str, timeout: float = 300):
        self.http = httpx.Client(base_url=url, timeout=timeout)
        config = self.http.get("config").json()
        info = self.http.get("gradio_api/info").json()["named_endpoints"]
        types = {c["id"]: c["type"] for c in config["components"]}
        self.endpoints = {}
        for index, dep in enumerate(config["dependencies"]):
            if f"/{dep.get('api_name')}" in info:
                params = iter(info[f"/{dep['api_name']}"]["parameters"])
                inputs = [None if types[i] == "state" else next(params) for i in dep["inputs"]]
                self.endpoints[f"/{dep['api_name']}"] = (dep.get("id", index), inputs)
        self.session = uuid.uuid4().hex

    def _value(self, param: dict | None, kwargs: dict):
        if param is None:  # gr.State: the server keeps it per session
            return None
        value = kwargs.get(param["parameter_name"], param.get("parameter_default"))
        if isinstance(value, dict) and value.get("path") and Path(value["path"]).is_file():  # handle_file(...)
            value = Path(value["path"])
        if isinstance(value, Path):
            with value.open("rb") as f:
                uploaded = self.http.post("gradio_api/upload", files={"files": (value.name, f)}).json()[0]
            value = {"path": uploaded, "orig_name": value.name, "meta": {"_type": "gradio.FileData"}}
        return value

    def predict(self, api_name: str, **kwargs) -> tuple:
        """The outputs of one event; RuntimeError with the server's reason when it is refused or fails."""
        fn_index, inputs = self.endpoints[api_name]
        joined = self.http.post("gradio_api/queue/join", json={
            "data": [self._value(p, kwargs) for p in inputs], "fn_index": fn_index, "session_hash": self.session,
            "event_data": None})
        if joined.status_code != 200:
            raise RuntimeError(str(joined.json().get("detail", joined.text))[:200])
        event_id = joined.json()["event_id"]
        with self.http.stream("GET", "gradio_api/queue/data", params={"session_hash": self.session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    msg = json.loads(line[5:])
                    if msg.get("event_id") == event_id and msg.get("msg") == "process_completed":
                        if not msg.get("success"):
                            raise RuntimeError(f"{api_name} failed: {str((msg.get('output') or {}).get('error'))[:200]}")
                        return tuple(msg["output"]["data"])
        raise RuntimeError("the event stream ended without an answer")

    def close(self) -> None:
        self.http.close()


class ApiClient:
    """gradio_client with the files left on the server (their URLs fetched like the page's); a ``Path`` argument
    is uploaded."""

    def __init__(self, url: str):
        self.client = Client(url, verbose=False, download_files=False)

    def predict(self, api_name: str, **kwargs) -> tuple:
        kwargs = {k: handle_file(str(v)) if isinstance(v, Path) else v for k, v in kwargs.items()}
        return self.client.predict(**kwargs, api_name=api_name)

    def close(self) -> None:
        self.client.close()


def make_client(kind: str, url: str) -> PageClient | ApiClient:
    """"page": :class:`PageClient`; anything else: :class:`ApiClient`."""
    return PageClient(url) if kind == "page" else ApiClient(url)


def connect(url: str, timeout: float = START_TIMEOUT) -> Client:
    """gradio_client on an app that may still be starting (tries once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Client(url, verbose=False)
        except (OSError, ValueError, httpx.HTTPError):
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def cpu_model() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or platform.machine()


def load_average() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]


def machine() -> dict:
    """Facts that a benchmark's numbers depend on: the CPU, its cores, how busy it is now."""
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "load_average": load_average(),
            "python": platform.python_version()}


def describe(facts: dict) -> str:
    """:func:`machine`'s facts as one line: "<cpu>, <n> cores; load average [...]"."""
    return f"{facts['cpu']}, {facts['cores']} cores; load average {facts['load_average']}"
