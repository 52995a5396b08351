"""train.py under torchrun on CPU: two processes (gloo), one model folder, equal weights, resume; and one
process stays what it was (same weights for the same seed, one process or a torchrun of one)."""

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.checkpoint import load_folder

ROOT = Path(__file__).resolve().parents[1]
DIGEST = re.compile(r"rank (\d+)/(\d+): step (\d+), weights sha256 ([0-9a-f]{64})")
TINY = ["--preset", "tiny", "--batch", 16, "--threads", 1, "--val-clips", 50, "--device", "cpu"]


def launch(*args, nproc: int | None = None) -> str:
    """train.py run as a user runs it: plain python, or torchrun with ``nproc`` processes."""
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    cmd = [*(torchrun if nproc else [sys.executable]), str(ROOT / "training" / "train.py"), *map(str, args)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"train.py failed:\n{done.stdout[-3000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def sha256(state: dict) -> str:
    """The digest train.py prints: names and bytes of the weights, in order."""
    h = hashlib.sha256()
    for name, tensor in state.items():
        h.update(name.encode())
        h.update(tensor.contiguous().numpy().tobytes())
    return h.hexdigest()


def digests(stdout: str) -> dict[int, tuple[int, str]]:
    return {int(r): (int(step), sha) for r, _, step, sha in DIGEST.findall(stdout)}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """A small clips.npz in prepare_data's format: 300 training clips (19 batches of 16), 60 validation clips."""
    rng = np.random.default_rng(0)
    path = tmp_path_factory.mktemp("ddp") / "clips.npz"
    arrays = {}
    for split, n in (("train", 300), ("val", 60), ("test", 60)):
        clips = rng.integers(55, 80, size=(n, 32))
        clips[:, 1::2] = 128  # every note held for two steps
        arrays[f"{split}_clips"] = clips
    np.savez(path, **arrays)
    return path


def test_two_processes_train_one_model_with_equal_weights_and_resume(data, tmp_path):
    run_dir = tmp_path / "run"
    out = launch("--data", data, "--run-dir", run_dir, "--steps", 20, *TINY, nproc=2)
    ranks = digests(out)
    assert set(ranks) == {0, 1} and ranks[0] == ranks[1] and ranks[0][0] == 20  # both finished, same weights
    assert sorted(p.name for p in run_dir.iterdir()) == ["args.json", "checkpoint.pt", "config.json",
                                                         "metrics.jsonl", "model"]
    assert len(list(tmp_path.rglob("model.safetensors"))) == 1
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert len(metrics) == 2 and metrics[-1]["step"] == 20  # one full epoch of 19 steps, then step 20
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"] < np.log(130)  # the loss went down
    state = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert sha256(state["model"]) == ranks[1][1]  # the checkpoint holds the weights both ranks ended with
    assert load_folder(run_dir / "model").config.latent_dim == 16

    out = launch("--run-dir", run_dir, "--resume", "--steps", 30, nproc=2)
    ranks = digests(out)
    assert set(ranks) == {0, 1} and ranks[0] == ranks[1] and ranks[0][0] == 30
    assert "resumed at epoch 1, step 20" in out
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert metrics[-1]["step"] == 30 and json.loads((run_dir / "args.json").read_text())["steps"] == 30


def test_one_process_is_the_same_with_or_without_torchrun(data, tmp_path):
    plain = digests(launch("--data", data, "--run-dir", tmp_path / "plain", "--steps", 25, *TINY))
    one = digests(launch("--data", data, "--run-dir", tmp_path / "one", "--steps", 25, *TINY, nproc=1))
    assert plain == one and plain[0][0] == 25


def test_with_minutes_the_ranks_stop_together(data, tmp_path):
    out = launch("--data", data, "--run-dir", tmp_path / "run", "--minutes", 0.05, *TINY, nproc=2)
    ranks = digests(out)
    # Past the re-plan at step 20, and stopped at one step: rank 0's clock decides for both.
    assert set(ranks) == {0, 1} and ranks[0] == ranks[1] and ranks[0][0] > 20
