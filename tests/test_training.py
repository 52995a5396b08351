"""The training pipeline end to end on a tiny preset: MIDI folder -> clips -> train (and resume) ->
evaluate -> model card -> latent inspection -> model card, each script run as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pretty_midi
import pytest

from vae.checkpoint import load_folder

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "training" / script), *map(str, args)], check=False,
                          cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{script} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def random_tune(path: Path, rng: np.random.Generator, bars: int = 8) -> None:
    """A 4/4 tune of random pitches and durations (eighth, quarter, half notes) at 120 bpm."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    inst = pretty_midi.Instrument(program=0)
    t, end = 0.0, bars * 2.0  # 2 s per bar
    while t < end - 1e-9:
        dur = min(float(rng.choice([0.25, 0.5, 1.0])), end - t)
        inst.notes.append(pretty_midi.Note(velocity=100, pitch=int(rng.integers(55, 80)), start=t, end=t + dur))
        t += dur
    pm.instruments.append(inst)
    pm.write(str(path))


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("training")
    midi = tmp / "midi"
    midi.mkdir()
    rng = np.random.default_rng(0)
    for i in range(30):
        random_tune(midi / f"tune{i:02d}.mid", rng)
    data, run_dir, out, figs = tmp / "clips.npz", tmp / "run", tmp / "model", tmp / "figures"
    run("prepare_data.py", "--collections", "--midi-dir", midi, "--out", data, "--workers", "1",
        "--split", 0.2, 0.2)
    train = ["--data", data, "--run-dir", run_dir, "--preset", "tiny", "--batch", 16, "--threads", 1,
             "--val-clips", 50, "--eval-every", 0.01]
    run("train.py", *train, "--minutes", 0.02)
    first = (run_dir / "metrics.jsonl").read_text().splitlines()
    run("train.py", "--run-dir", run_dir, "--resume", "--minutes", 0.04)
    run("evaluate.py", "--model", run_dir / "model", "--data", data, "--nottingham", tmp / "absent",
        "--out", tmp / "eval.json")
    run("model_card.py", "--run-dir", run_dir, "--data", data, "--out", out, "--figures", figs)
    run("inspect_latent.py", "--model", out, "--data", data, "--eval", tmp / "eval.json", "--out", out,
        "--figures", figs, "--n-clips", 200, "--n-songs", 3, "--nottingham", tmp / "absent")
    run("model_card.py", "--run-dir", run_dir, "--data", data, "--out", out, "--figures", figs)
    return {"tmp": tmp, "data": data, "run": run_dir, "out": out, "figs": figs, "first": first}


def test_prepare_data_splits_by_tune_and_writes_metadata(pipeline):
    data = np.load(pipeline["data"])
    meta = json.loads(pipeline["data"].with_suffix(".json").read_text())
    tunes = {split: set(data[f"{split}_tune_ids"].tolist()) for split in ("train", "val", "test")}
    assert not (tunes["train"] & tunes["test"]) and not (tunes["train"] & tunes["val"])
    assert sum(meta["splits"][s]["tunes"] for s in tunes) == 30
    for split in tunes:
        clips = data[f"{split}_clips"]
        assert clips.shape[1] == 32 and len(clips) == meta["splits"][split]["clips"] > 0
        assert len(np.unique(clips, axis=0)) == len(clips)  # duplicates removed
        assert (clips[:, 0] != 128).all()  # no clip starts with a hold


def test_train_logs_checkpoints_and_resumes(pipeline):
    run_dir = pipeline["run"]
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(metrics) > len(pipeline["first"]) >= 1  # the resumed run appended
    assert metrics[-1]["step"] > json.loads(pipeline["first"][-1])["step"]
    assert all(0 <= m["token_accuracy"] <= 1 for m in metrics)
    args = json.loads((run_dir / "args.json").read_text())
    assert args["preset"] == "tiny" and args["resume"] is True and args["minutes"] == 0.04
    model = load_folder(run_dir / "model")
    assert model.config.latent_dim == 16


def test_evaluate_and_inspect_write_their_reports(pipeline):
    out, figs = pipeline["out"], pipeline["figs"]
    evaluation = json.loads((pipeline["tmp"] / "eval.json").read_text())
    assert 0 <= evaluation["test"]["token_accuracy"] <= 1 and evaluation["twinkle"]["n_clips"] == 6  # 24 bars of 2/4
    assert "not found" in evaluation["nottingham_44"]
    dims = json.loads((out / "dims.json").read_text())
    report = json.loads((out / "report.json").read_text())
    assert len(dims["pitch_dims"]) == 2 and len(dims["rhythm_dims"]) == 5 and dims["pitch_knob"] == "transport"
    assert report["weights_sha256"] == dims["weights_sha256"] and report["reconstruction"] == evaluation
    assert set(report["pitch_knobs"]) == {"transport", "linear"}
    assert report["knobs_test_songs"]["pitch"]["n_songs"] >= 1
    for name in ("fig2_pca", "fig3_pitch_dims", "fig4_rhythm_dims", "fig5_pitch_paths", "fig6_pitch_knob",
                 "fig7_rhythm_knob", "fig8_residual_knob", "fig9_grid", "training_curves"):
        assert (figs / f"{name}.png").stat().st_size > 1000, name


def test_model_card_describes_the_shipped_weights(pipeline):
    out = pipeline["out"]
    card = (out / "README.md").read_text()
    assert "## Measured" in card and "transport" in card and "Twinkle" in card
    assert (out / "runs" / "shipped_metrics.jsonl").read_text() == (pipeline["run"] / "metrics.jsonl").read_text()
    assert load_folder(out).config.latent_dim == 16


def test_init_fine_tunes_from_a_model_folder_with_a_new_beta(pipeline):
    ft = pipeline["tmp"] / "fine_tune"
    out = run("train.py", "--data", pipeline["data"], "--run-dir", ft, "--init", pipeline["out"], "--beta", 0.3,
              "--batch", 16, "--threads", 1, "--val-clips", 50, "--minutes", 0.01)
    assert "initialised from" in out
    config = json.loads((ft / "config.json").read_text())
    assert config["beta"] == 0.3 and config["latent_dim"] == 16  # the init model's sizes, the new beta
    assert load_folder(ft / "model").config.beta == 0.3
