import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vae.model import PRESETS, MusicVAE, set_seed  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture
def tiny_model() -> MusicVAE:
    set_seed(0)
    return MusicVAE(PRESETS["tiny"]).eval()


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
