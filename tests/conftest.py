import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from vae.model import PRESETS, MusicVAE, set_seed

torch.set_num_threads(1)

# Markers by what a test needs (registered in pyproject.toml; README "Tests"): `pytest -m "not browser"` leaves out
# Chromium, `-m "not browser and not server and not slow"` is the quick library-and-handlers loop.
BROWSER_FILES = "test_browser"  # file name prefix: a real Chromium on a served app
SERVER_FIXTURES = {"app_url"}  # a test that asks for one of these (at any depth) talks to a served app
SERVER_FILES = {"test_api_unchanged.py", "test_concurrency.py", "test_crash.py"}  # serve in fixtures of their own
# torchrun, the pipeline and its scripts run as processes, a wheel built and installed
SLOW_FILES = {"test_distributed.py", "test_training.py", "test_prepare_data.py", "test_recipes.py", "test_wheel.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = item.path.name
        if name.startswith(BROWSER_FILES):
            item.add_marker(pytest.mark.browser)
        if name in SERVER_FILES or SERVER_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.server)
        if name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)


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
    from ui import store
    from vae.bundle import load_bundle, load_bundles

    patch = pytest.MonkeyPatch()
    patch.setattr(store, "OUT_DIR", out_dir)
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
def fake_space():
    """FakeVAE's dims, found by augmentation on regular clips."""
    from fake_vae import FakeVAE, regular_clip

    from vae.dims import Discovery, discover_dims

    clips = np.stack([regular_clip(p, n) for p in range(55, 80) for n in (1, 2, 4, 8)])
    return discover_dims(FakeVAE(), clips, Discovery(n_rhythm_clips=50, seed=0))


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium (Playwright, Debian's /usr/bin/chromium), one per test module."""
    from test_browser import CHROMIUM, CHROMIUM_ARGS

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
