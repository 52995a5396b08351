import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


@pytest.fixture(scope="session")
def app_url(tiny_model_dir, tmp_path_factory):
    """The app served on a free localhost port with the tiny model, for the server and browser tests."""
    import socket

    import app
    from vae import session

    patch = pytest.MonkeyPatch()
    patch.setattr(session, "OUT_DIR", tmp_path_factory.mktemp("app_out"))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    demo = app.build_demo(str(tiny_model_dir))
    app.serve(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()
        patch.undo()
        app._CONFIG.update(source=None, revision=None)
