import numpy as np
import pytest
from matplotlib.figure import Figure

from vae import explore
from vae.analysis import decode_z, encode_mu
from vae.hub import load_model
from vae.melody import HOLD, REST
from vae.session import Song


@pytest.fixture(scope="module")
def model(tiny_model_dir):
    return load_model(str(tiny_model_dir))


@pytest.fixture(scope="module")
def dims(tiny_model_dir):
    import json

    from vae.analysis import dims_from_json

    return dims_from_json(json.loads((tiny_model_dir / "dims.json").read_text()))


def _clip(pitch):
    return np.array(([pitch] + [HOLD] * 3) * 8, dtype=np.int64)


@pytest.mark.parametrize("n", [3, 5, 7])
def test_grid_has_the_clips_at_its_corners(model, dims, n):
    a, b = _clip(60), _clip(67)
    grid = explore.interpolate(model, dims, a, b, n)
    corners = decode_z(model, encode_mu(model, np.stack([a, b])))
    assert grid.shape == (n, n, 32) and np.array_equal(grid[0, 0], corners[0]) and np.array_equal(grid[-1, -1], corners[1])
    thumbs = explore.grid_thumbnails(grid)
    assert len(thumbs) == n * n and thumbs[-1][1] == "pitch t=1.00 · rhythm t=1.00"
    assert np.array_equal(explore.diagonal(grid), np.concatenate([grid[i, i] for i in range(n)]))


@pytest.mark.parametrize("n", [2, 8, 4.5])
def test_grid_size_is_limited(model, dims, n):
    with pytest.raises(ValueError, match="from 3 to 7"):
        explore.interpolate(model, dims, _clip(60), _clip(62), n)


def test_clip_of_counts_from_one():
    tokens = np.concatenate([_clip(60), _clip(62)])
    assert explore.clip_of(tokens, 2)[0] == 62
    with pytest.raises(ValueError, match="has 2 two-bar clips; choose a clip from 1 to 2"):
        explore.clip_of(tokens, 3, "it")


def test_tables_and_figure(dims, tiny_model_dir):
    import json

    raw = json.loads((tiny_model_dir / "dims.json").read_text())
    rows = dict(explore.dims_rows(raw))
    assert rows["overlap"] == str(raw["overlap"]) and rows["C_pitch"] == f"{raw['c_pitch']:.3f}"
    assert rows["pitch knob"] == "transport" and rows["rhythm knob +1"] == "songs"
    few = dict(explore.dims_rows({**raw, "pitch_knob": "linear", "pitch_knob_note": "3 clips are too few"}))
    assert few["pitch knob"] == "linear (3 clips are too few)"
    assert explore.report_rows({"test": {"token_accuracy": 0.98765, "n_clips": 10}, "model": "x"}) == [
        ["test.token_accuracy", "0.9877"], ["test.n_clips", "10"], ["model", "x"]]
    assert isinstance(explore.dim_scores_figure(raw, "t"), Figure)


def test_analysis_needs_two_clips_with_notes(model):
    song = Song(key="k", name="short", tokens=np.array([60] + [REST] * 31), bpm=120, latents=None)
    with pytest.raises(ValueError, match="needs 2"):
        explore.analyse_song(model, song)
