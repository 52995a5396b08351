"""A process pool in which every job has a time limit: a job past it has its worker killed and replaced.

``multiprocessing.Pool`` and ``concurrent.futures`` cannot stop one running job: a file that hangs
its parser holds a worker for ever, and ``Pool.terminate`` stops them all. Here each worker takes
one job at a time over its own pipe, so the parent knows which job each worker runs and since when.
A hang in C code, an endless loop or a blocking ``open`` all end the same way: the process is killed.
"""

from __future__ import annotations

import multiprocessing as mp
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from multiprocessing.connection import Connection, wait

OK, ERROR, TIMEOUT, CRASH = "ok", "error", "timeout", "crash"  # the status of a finished job
_READY = "ready"
_END = object()


def _serve(fn: Callable, init: Callable | None, conn: Connection) -> None:
    """A worker's loop: warm up, say ready, then run jobs until told to stop (``None``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops the workers
    if init is not None:
        init()
    conn.send(_READY)
    while (job := conn.recv()) is not None:
        try:
            conn.send((OK, fn(job)))
        except Exception as e:  # noqa: BLE001 - one job's failure is its result, not the worker's end
            conn.send((ERROR, f"{type(e).__name__}: {e}"))


def imap_timed(fn: Callable, jobs: Iterable, workers: int, timeout: float,
               init: Callable | None = None) -> Iterator[tuple[object, str, object]]:
    """Run ``fn(job)`` for every job in ``workers`` processes, each job under ``timeout`` seconds.

    Args:
        fn: a picklable (module-level) function of one job.
        jobs: read lazily, one job per free worker, so a long iterable costs no memory.
        workers: number of worker processes.
        timeout: seconds a job may run, counted from when its worker receives it (a worker's start and
            ``init`` are not counted).
        init: run once in each worker before its first job (imports that would otherwise count
            against the first job's time).

    Yields:
        ``(job, status, value)`` in the order jobs finish: ``OK`` and the result; ``ERROR`` and the
        exception as text; ``TIMEOUT`` (the worker was killed and replaced) or ``CRASH`` (the worker
        died: a segfault, the OOM killer), both with ``None``.
    """
    if workers < 1 or timeout <= 0:
        raise ValueError(f"need at least one worker and a positive timeout, got {workers} and {timeout}")
    ctx = mp.get_context()
    procs: dict[Connection, mp.Process] = {}
    busy: dict[Connection, tuple[object, float]] = {}  # conn -> (job, deadline)
    idle: list[Connection] = []

    def start() -> None:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(fn, init, child), daemon=True)
        proc.start()
        child.close()
        procs[parent] = proc

    def stop(conn: Connection) -> None:
        proc = procs.pop(conn)
        proc.kill()
        proc.join()
        conn.close()
        if conn in idle:
            idle.remove(conn)

    pending = iter(jobs)
    more = True
    try:
        for _ in range(workers):
            start()
        while more or busy:
            while idle and more:
                job = next(pending, _END)
                if job is _END:
                    more = False
                    break
                conn = idle.pop()
                conn.send(job)
                busy[conn] = (job, time.monotonic() + timeout)
            if not more and not busy:
                break
            now = time.monotonic()
            wake = min((d for _, d in busy.values()), default=now + 1.0)
            for conn in wait(list(procs), timeout=max(0.0, wake - now)):
                try:
                    msg = conn.recv()
                except (EOFError, OSError):  # the worker died
                    if conn not in busy:
                        raise RuntimeError("a worker died outside a job (while starting?): "
                                           "run with one worker to see why") from None
                    job, _ = busy.pop(conn)
                    stop(conn)
                    start()
                    yield job, CRASH, None
                    continue
                if msg != _READY:
                    job, _ = busy.pop(conn)
                    yield job, *msg
                idle.append(conn)
            now = time.monotonic()
            for conn, (job, deadline) in list(busy.items()):
                if now >= deadline:
                    del busy[conn]
                    stop(conn)
                    start()
                    yield job, TIMEOUT, None
    finally:
        for conn in list(procs):
            if conn in idle:
                try:
                    conn.send(None)
                except OSError:
                    pass
        for conn in list(procs):
            procs[conn].join(timeout=1.0)
            stop(conn)
