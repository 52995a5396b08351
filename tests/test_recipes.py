"""vae.recipes: a shipped model's recipe by name; train.py and prepare_data.py take it as defaults."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vae.model import PRESETS
from vae.recipes import RECIPES, recipe_defaults

ROOT = Path(__file__).resolve().parents[1]


def script(name: str, *args) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "training" / name), *map(str, args)], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.mark.parametrize(("name", "kind"), [("train.py", "train"), ("prepare_data.py", "prepare")])
def test_every_recipe_names_only_flags_the_script_has(name, kind):
    dests = {flag.replace("-", "_") for flag in re.findall(r"--([a-z][a-z-]*)", script(name, "--help"))}
    for recipe in RECIPES.values():
        assert set(getattr(recipe, kind)) <= dests


def test_recipes_hold_the_shipped_models_settings():
    regularised, paper = recipe_defaults("regularised", "train"), recipe_defaults("paper", "train")
    assert (regularised["reg_attributes"], regularised["reg_gamma"], regularised["transpose"]) == ("pitch,density",
                                                                                                  0.3, 12)
    assert (paper["reg_gamma"], paper["transpose"]) == (0.0, 6)
    assert regularised["preset"] == paper["preset"] == "small" and "small" in PRESETS
    assert recipe_defaults(None, "train") == {}
    with pytest.raises(ValueError, match="unknown recipe"):
        recipe_defaults("lakh", "train")


def test_flags_given_win_over_the_recipe(tmp_path):
    data = tmp_path / "clips.npz"
    clips = np.random.default_rng(0).integers(55, 80, size=(64, 32))
    np.savez(data, train_clips=clips, val_clips=clips[:16], test_clips=clips[:16])
    run_dir = tmp_path / "run"
    script("train.py", "--recipe", "paper", "--data", data, "--preset", "tiny", "--steps", 2, "--run-dir", run_dir,
           "--threads", 1, "--val-clips", 16, "--device", "cpu")
    args = json.loads((run_dir / "args.json").read_text())
    assert (args["recipe"], args["preset"], args["steps"], args["transpose"], args["reg_gamma"]) == (
        "paper", "tiny", 2, 6, 0.0)
