"""vae.workpool: every job under a time limit, its worker killed and replaced past it."""

import os
import time

import pytest

from vae.workpool import CRASH, ERROR, OK, TIMEOUT, imap_timed


def job(x: float) -> float:
    """Sleep ``x`` seconds and give it back; -1 raises, -2 kills its own process (a segfault's effect)."""
    if x == -1:
        raise ValueError("a bad file")
    if x == -2:
        os._exit(1)
    time.sleep(x)
    return x


def test_each_job_ends_ok_error_timeout_or_crash_and_the_pool_goes_on():
    t0 = time.time()
    jobs = [0.0, 60.0, -1, 0.1, -2, 0.0, 60.0, 0.2]
    results = list(imap_timed(job, jobs, workers=2, timeout=1.0))
    assert sorted(jobs) == sorted(j for j, _, _ in results)  # every job once
    status = {j: (s, v) for j, s, v in results if j not in (60.0, 0.0)}
    assert status[-1] == (ERROR, "ValueError: a bad file") and status[-2] == (CRASH, None)
    assert status[0.1] == (OK, 0.1) and status[0.2] == (OK, 0.2)
    assert [s for j, s, _ in results if j == 60.0] == [TIMEOUT, TIMEOUT]
    assert time.time() - t0 < 20  # the two 60 s jobs were killed at 1 s, not waited for


def test_a_worker_warms_up_before_its_first_jobs_clock_starts():
    results = list(imap_timed(job, [0.0, 0.0], workers=1, timeout=0.5, init=slow_init))
    assert [s for _, s, _ in results] == [OK, OK]


def slow_init() -> None:
    time.sleep(1.0)  # e.g. importing music21: not counted against the first file


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="positive timeout"):
        list(imap_timed(job, [0.0], workers=1, timeout=0))
