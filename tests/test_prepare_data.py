"""prepare_data.py on a hostile MIDI folder: good, broken and far-too-slow files, 2 workers, resumed and
sliced runs; and the shards + manifest format it rests on (vae/shards.py)."""

import importlib.util
import json
import shutil
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from midi_files import melody_midi

from vae.shards import ShardWriter, read_manifests, read_tunes

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 2.0  # --file-timeout of these tests: a good file takes ~0.05 s, the slow file ~22 s (2 cores)


def prepare(*args) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "training" / "prepare_data.py"), *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"prepare_data failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def summary(stdout: str) -> dict:
    """The summary JSON that prepare_data prints after reading."""
    start = stdout.index('{\n  "files"')
    return json.loads(stdout[start : stdout.index("\n}", start) + 2])


def tune(path: Path, rng: np.random.Generator, bars: int = 8, tracks: int = 1) -> None:
    """A 4/4 tune of random notes at 120 bpm; extra tracks are a lower accompaniment."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    for k in range(tracks):
        inst = pretty_midi.Instrument(program=0)
        t, end = 0.0, bars * 2.0  # 2 s per bar
        while t < end - 1e-9:
            dur = min(float(rng.choice([0.25, 0.5, 1.0])), end - t)
            pitch = int(rng.integers(60, 80)) - 24 * k
            inst.notes.append(pretty_midi.Note(velocity=100, pitch=pitch, start=t, end=t + dur))
            t += dur
        pm.instruments.append(inst)
    pm.write(str(path))


def slow_midi(path: Path, n_notes: int = 2_000_000) -> None:
    """A valid MIDI file of two million notes (12 MB): reading it takes ~22 s, far past TIMEOUT."""
    pitches = 60 + np.arange(n_notes) % 24
    events = np.zeros((n_notes, 2, 3), np.uint8)  # (delta, pitch, velocity) of a note-on, then its note-off
    events[:, 0] = np.stack([np.zeros(n_notes), pitches, np.full(n_notes, 100)], 1)
    events[:, 1] = np.stack([np.full(n_notes, 60), pitches, np.zeros(n_notes)], 1)
    body = bytes([0, 0x90]) + events.tobytes()[1:] + bytes([0, 0xFF, 0x2F, 0])  # running status
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(body)) + body)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    midi = tmp_path_factory.mktemp("hostile") / "midi"
    (midi / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(8):
        tune(midi / f"good{i}.mid", rng, tracks=1 + i % 3)
    tune(midi / "sub" / "good8.MID", rng)
    (midi / "truncated.mid").write_bytes((midi / "good0.mid").read_bytes()[:40])
    (midi / "empty.mid").write_bytes(b"")
    (midi / "text.mid").write_text("this is not a MIDI file")
    slow_midi(midi / "slow.mid")
    return midi


@pytest.fixture(scope="module")
def one_run(folder, tmp_path_factory):
    out = tmp_path_factory.mktemp("one") / "clips.npz"
    t0 = time.time()
    stdout = prepare("--collections", "--midi-dir", folder, "--workers", 2, "--file-timeout", TIMEOUT,
                     "--out", out, "--split", 0.2, 0.2)
    return out, stdout, time.time() - t0


def test_good_files_come_out_and_bad_ones_are_in_the_manifest_with_their_reason(one_run):
    out, stdout, seconds = one_run
    data = np.load(out)
    ids = {t for split in ("train", "val", "test") for t in data[f"{split}_tune_ids"].tolist()}
    assert ids == {f"midi/good{i}.mid" for i in range(8)} | {"midi/sub/good8.MID"}
    done = read_manifests(out.with_suffix(".parts"))
    assert len(done) == 13
    why = {key: entry["skipped"] for key, entry in done.items() if entry["skipped"]}
    assert set(why) == {"midi/truncated.mid", "midi/empty.mid", "midi/text.mid", "midi/slow.mid"}
    assert why["midi/slow.mid"].startswith("timeout") and "empty" in why["midi/empty.mid"]
    assert why["midi/truncated.mid"].startswith("unreadable") and why["midi/text.mid"].startswith("unreadable")
    assert all(done[f"midi/good{i}.mid"]["clips"] > 0 for i in range(8))
    assert summary(stdout)["skipped"] == {"unreadable": 3, "timeout": 1}
    assert seconds < 20  # the slow file was stopped, not waited for (~22 s alone)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["files"]["skipped"] == {"unreadable": 3, "timeout": 1} and meta["tunes_per_source"] == {"midi": 9}


def test_a_second_run_resumes_without_reading_done_files(folder, one_run, tmp_path):
    out, _, _ = one_run
    grown = tmp_path / "midi"
    shutil.copytree(folder, grown)
    tune(grown / "late.mid", np.random.default_rng(1))  # a file the first run did not see
    moved = tmp_path / "clips.npz"
    shutil.copytree(out.with_suffix(".parts"), moved.with_suffix(".parts"))
    stdout = prepare("--collections", "--midi-dir", grown, "--workers", 2, "--file-timeout", TIMEOUT,
                     "--out", moved, "--split", 0.2, 0.2)
    s = summary(stdout)
    assert (s["read_now"], s["read_before"], s["files_done"]) == (1, 13, 14)  # the 13 done files not read again
    fresh = tmp_path / "fresh.npz"
    prepare("--collections", "--midi-dir", grown, "--workers", 2, "--file-timeout", TIMEOUT, "--out", fresh,
            "--split", 0.2, 0.2)
    a, b = np.load(moved), np.load(fresh)
    assert "midi/late.mid" in {t for s in ("train", "val", "test") for t in a[f"{s}_tune_ids"].tolist()}
    assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)


def test_slices_from_two_machines_merge_into_the_clips_of_one_run(folder, one_run, tmp_path):
    out, _, _ = one_run
    machines = []
    for i in range(2):
        npz = tmp_path / f"machine{i}" / "clips.npz"
        stdout = prepare("--collections", "--midi-dir", folder, "--workers", 2, "--file-timeout", TIMEOUT,
                         "--out", npz, "--split", 0.2, 0.2, "--shard", f"{i}/2")
        assert "left to other slices" in stdout and not npz.exists()
        machines.append(npz)
    for path in machines[1].with_suffix(".parts").iterdir():  # copy machine 1's parts to machine 0
        shutil.copy(path, machines[0].with_suffix(".parts"))
    stdout = prepare("--collections", "--midi-dir", folder, "--out", machines[0], "--split", 0.2, 0.2)
    assert summary(stdout)["read_now"] == 0
    a, b = np.load(machines[0]), np.load(out)
    assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)


def _prepare_data_module():
    """training/prepare_data.py as a module (training/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("prepare_data", ROOT / "training" / "prepare_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("meter", "bpm", "kept"), [((4, 4), 5.0, True), ((4, 4), 1000.0, True), ((2, 4), 120.0, True),
                                                    ((3, 4), 120.0, False), ((3, 4), 5.0, False)])
def test_a_midi_tune_is_dropped_for_its_meter_never_for_a_tempo_moved_into_range(tmp_path, meter, bpm, kept):
    """A 4/4 tune whose tempo was clamped has a TempoWarning, not a MeterWarning: it stays in the data."""
    path = melody_midi(tmp_path / "tune.mid", meter=meter, bpm=bpm)
    tunes, kept_meters, dropped, why = _prepare_data_module().parse_midi(str(path), "midi/tune.mid")
    assert bool(tunes) == kept and (why is None) == kept
    assert (kept_meters if kept else dropped) == Counter({f"{meter[0]}/{meter[1]}": 1})
    if not kept:
        assert why.startswith("warning: ") and "not a duple meter" in why


def test_shards_round_trip_and_a_stopped_write_leaves_no_half_file(tmp_path):
    rng = np.random.default_rng(0)
    tunes = {f"t{i}": rng.integers(0, 130, size=32 * (i + 1)) for i in range(5)}
    writer = ShardWriter(tmp_path, "0of1", every=2)
    for i, (tid, tokens) in enumerate(tunes.items()):
        writer.add(f"file{i}", [(tid, tokens)], {"skipped": None})
    writer.add("bad", [], {"skipped": "unreadable: not MIDI"})
    writer.flush()
    assert len(list(tmp_path.glob("shard-*.npz"))) == 3
    done = read_manifests(tmp_path)
    assert done["bad"]["shard"] is None and done["bad"]["skipped"].startswith("unreadable")
    back = dict(read_tunes(tmp_path, done.values()))
    assert back.keys() == tunes.keys() and all(np.array_equal(back[k], tunes[k]) for k in tunes)
    assert all(v.dtype == np.uint8 for v in back.values())  # ids < 130, a byte each
    # A run stopped while writing: a shard with no manifest lines and half a line are both ignored.
    with open(tmp_path / "manifest-0of1.jsonl", "a") as f:
        f.write('{"file": "half')
    again = ShardWriter(tmp_path, "0of1")
    assert again.next_index == 3 and read_manifests(tmp_path).keys() == done.keys()
    again.add("file9", [], {"skipped": "timeout: over 2 s, killed"})
    again.flush()
    assert read_manifests(tmp_path).keys() == done.keys() | {"file9"}  # the half line did not swallow it
