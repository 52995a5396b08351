"""vae.timing: stage records for the benchmarks, off unless asked for."""

from __future__ import annotations

import threading

from vae import timing


@timing.timed("square")
def square(x: int) -> int:
    return x * x


def test_off_by_default_records_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(timing._sink, "path", None)
    assert square(3) == 9
    assert timing.read(tmp_path / "none.jsonl") == ([], 0)


def test_records_each_call_and_reads_from_an_offset(tmp_path, monkeypatch):
    path = tmp_path / "timings.jsonl"
    monkeypatch.setitem(timing._sink, "path", None)
    timing.enable(path)
    assert square(4) == 16
    first, offset = timing.read(path)
    assert [r["stage"] for r in first] == ["square"] and first[0]["ms"] >= 0
    threads = [threading.Thread(target=square, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    later, _ = timing.read(path, offset)
    assert len(later) == 8, "concurrent calls each write one whole line"
    assert set(timing.totals(first + later)) == {"square"}
    timing.enable(None)
    square(5)
    assert timing.read(path, offset)[0] == later


def test_records_a_call_that_raises(tmp_path, monkeypatch):
    monkeypatch.setitem(timing._sink, "path", str(tmp_path / "t.jsonl"))

    @timing.timed("fails")
    def fails():
        raise ValueError("no")

    try:
        fails()
    except ValueError:
        pass
    assert [r["stage"] for r in timing.read(tmp_path / "t.jsonl")[0]] == ["fails"]
