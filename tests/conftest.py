import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.model import PRESETS, MusicVAE, set_seed

torch.set_num_threads(1)


@pytest.fixture
def tiny_model() -> MusicVAE:
    set_seed(0)
    return MusicVAE(PRESETS["tiny"]).eval()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny untrained model folder with a dims.json (see tests/tiny_model.py), for the app tests."""
    from tiny_model import make_tiny_model_folder

    return make_tiny_model_folder(tmp_path_factory.mktemp("tiny_model"))


@contextmanager
def served(source: str | dict | None, out_dir: Path) -> Iterator[str]:
    """The app on ``source`` (a model folder, or loaded bundles by name; None: the bundled models, as ``app.py``
    serves them) on a free localhost port; yields its URL."""
    import app
    from vae import render
    from vae.bundle import load_bundle, load_bundles

    patch = pytest.MonkeyPatch()
    patch.setattr(render, "OUT_DIR", out_dir)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = app.build_demo(load_bundles() if source is None else source if isinstance(source, dict)
                          else load_bundle(source))
    app.serve(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
        patch.undo()


@pytest.fixture(scope="session")
def app_url(tiny_model_dir, tmp_path_factory):
    """The app served with the tiny model, for the server and browser tests."""
    with served(str(tiny_model_dir), tmp_path_factory.mktemp("app_out")) as url:
        yield url


@pytest.fixture
def song():
    """4 clips (8 bars) that FakeVAE reconstructs exactly: 4 notes each, rising pitch."""
    from fake_vae import regular_clip

    from vae.melody import join_clips

    return join_clips(np.stack([regular_clip(p, 4) for p in (60, 62, 64, 65)]))


@pytest.fixture(scope="module")
def fake_dims():
    """FakeVAE's dims, found by augmentation on regular clips."""
    from fake_vae import FakeVAE, regular_clip

    from vae.dims import discover_dims

    clips = np.stack([regular_clip(p, n) for p in range(55, 80) for n in (1, 2, 4, 8)])
    return discover_dims(FakeVAE(), clips, n_rhythm_clips=50, seed=0)
