"""Weights are never unpickled: nothing in vae/ or app.py calls torch.load or pickle (DESIGN "Weights").

Two checks: the source never names an unpickler, and loading a model (a folder, the Hub stand-in
of test_hub, and the app's whole bundle) works with every unpickler made to fail.
"""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from test_hub import REPO, fake_hub  # noqa: F401  (the stand-in Hub fixture)

from vae import hub
from vae.bundle import load_bundle
from vae.hub import HubAccess, load_model

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "vae").glob("*.py")) + [ROOT / "app.py"]
UNPICKLERS = {("torch", "load"), ("pickle", "load"), ("pickle", "loads"), ("pickle", "Unpickler"),
              ("cPickle", "load"), ("dill", "load"), ("joblib", "load"), ("np", "load"), ("numpy", "load")}


def _calls(path: Path) -> list[str]:
    """Every ``module.function`` named in ``path`` that could unpickle, and every import of a pickler."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if (node.value.id, node.attr) in UNPICKLERS:
                found.append(f"{node.value.id}.{node.attr}")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
            found += [n for n in names if n and n.split(".")[0] in ("pickle", "cPickle", "dill", "joblib")]
            if isinstance(node, ast.ImportFrom) and node.module == "torch":
                found += [f"torch.{a.name}" for a in node.names if a.name == "load"]
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.name)
def test_source_names_no_unpickler(path):
    assert _calls(path) == [], f"{path.name} may unpickle: {_calls(path)}"


def test_the_source_check_catches_an_unpickler(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import pickle\nimport torch\nstate = torch.load('x.pt')\nfrom torch import load\n")
    assert _calls(bad) == ["pickle", "torch.load", "torch.load"]


@pytest.fixture
def no_unpickling(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("something tried to unpickle")

    for owner, name in [(torch, "load"), (pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"),
                        (torch.serialization, "load"), (np, "load")]:
        monkeypatch.setattr(owner, name, refuse)


def test_loading_a_folder_and_the_app_bundle_never_unpickles(no_unpickling, tiny_model_dir):
    model = load_model(str(tiny_model_dir))
    assert model.source_info.source == "local"
    bundle = load_bundle(str(tiny_model_dir))
    assert bundle.space.latent_dim == model.config.latent_dim


def test_loading_from_the_hub_never_unpickles(fake_hub, no_unpickling, tiny_model_dir):  # noqa: F811
    fake_hub.commit_folder(REPO, Path(tiny_model_dir))
    model = load_model(REPO, access=HubAccess(timeout=5))
    assert model.source_info.source == "hub" and model.source_info.fallback_reason is None
    assert hub.model_file(model.source_info, "dims.json") is not None
