"""Stage timings for the benchmarks: how long each part of a request took, from inside the app.

Off unless ``$MELODY_KNOBS_TIMINGS`` names a file (or :func:`enable` is called): a function
decorated with :func:`timed` then costs one dictionary look-up more. When on, every call of a
decorated function appends one JSON line to that file::

    {"stage": "decode", "ms": 9.8, "thread": 140213, "end": 1764031234.12}

``bench/bench_latency.py`` starts the app with the variable set and reads the lines that each
request added. Stages nest (``encode`` runs inside a ``handler``); readers sum by name.
"""

from __future__ import annotations

import inspect
import json
import os
import threading
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TypeVar

ENV_VAR = "MELODY_KNOBS_TIMINGS"
_sink = {"path": os.environ.get(ENV_VAR) or None}  # where records go; None: timing is off
_lock = threading.Lock()  # handlers run in a thread pool: one line at a time

F = TypeVar("F", bound=Callable)


def enable(path: str | Path | None) -> None:
    """Append stage records to ``path`` from now on; None turns timing off. For a caller in the same process
    (the tests, a notebook): the app and the benchmarks' app processes read ``$MELODY_KNOBS_TIMINGS`` instead."""
    _sink["path"] = str(path) if path else None


def record(stage: str, seconds: float) -> None:
    """Append one record (when timing is on)."""
    path = _sink["path"]
    if path is None:
        return
    line = json.dumps({"stage": stage, "ms": round(seconds * 1000, 3), "thread": threading.get_ident(),
                       "end": time.time()})
    with _lock, open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


def timed(stage: str) -> Callable[[F], F]:
    """Decorator: record the wall time of every call of the function as ``stage``; of a generator function, the
    time to its first item as ``stage``, and to its last as ``stage:all`` (it stays a generator function)."""
    def decorate(fn: F) -> F:
        if inspect.isgeneratorfunction(fn):
            @wraps(fn)
            def steps(*args, **kwargs):
                if _sink["path"] is None:
                    yield from fn(*args, **kwargs)
                    return
                start, first = time.perf_counter(), True
                try:
                    for item in fn(*args, **kwargs):
                        if first:
                            record(stage, time.perf_counter() - start)
                            first = False
                        yield item
                finally:
                    record(f"{stage}:all", time.perf_counter() - start)
            return steps  # type: ignore[return-value]

        @wraps(fn)
        def wrapper(*args, **kwargs):
            if _sink["path"] is None:
                return fn(*args, **kwargs)
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                record(stage, time.perf_counter() - start)
        return wrapper  # type: ignore[return-value]
    return decorate


def read(path: str | Path, offset: int = 0) -> tuple[list[dict], int]:
    """The records written to ``path`` from byte ``offset`` on, and the offset after them."""
    path = Path(path)
    if not path.is_file():
        return [], offset
    with open(path, "rb") as f:
        f.seek(offset)
        data = f.read()
    end = data.rfind(b"\n") + 1  # a line still being written waits for the next read
    lines = data[:end].decode("utf-8").splitlines()
    return [json.loads(line) for line in lines if line], offset + end


def totals(records: list[dict]) -> dict[str, float]:
    """Milliseconds per stage name, summed over ``records``."""
    out: dict[str, float] = {}
    for r in records:
        out[r["stage"]] = out.get(r["stage"], 0.0) + r["ms"]
    return out
