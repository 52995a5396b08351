"""training/analogy_report.py on the tiny model and synthetic test songs, run as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from tiny_model import synthetic_clips

ROOT = Path(__file__).resolve().parents[1]


def test_the_report_has_every_condition_and_the_control_leaves_the_song_alone(tiny_model_dir, tmp_path):
    songs = synthetic_clips(24, seed=3).reshape(6, -1)  # six songs of 8 bars
    np.savez(tmp_path / "clips.npz", test_songs=songs.ravel(), test_song_lengths=np.full(6, songs.shape[1]))
    out = tmp_path / "analogy.json"
    done = subprocess.run([sys.executable, str(ROOT / "training" / "analogy_report.py"), "--data",
                           str(tmp_path / "clips.npz"), "--model", str(tiny_model_dir), "--pairs", "3",
                           "--out", str(out)], check=False, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["pairs"] == 3
    conditions = report["models"][str(tiny_model_dir)]["conditions"]
    assert set(conditions) == {"a", "b", "analogy", "analogy_mix_0.5", "control", "pitch_into_b",
                               "pitch_into_b_control"}
    assert all(0 <= s["rhythm_agreement_b"]["mean"] <= 1 for s in conditions.values())
