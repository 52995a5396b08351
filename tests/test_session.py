import json

import numpy as np
import pytest
import torch
from tiny_model import make_tiny_model_folder

from vae import session
from vae.analysis import decode_z, dims_from_json
from vae.melody import split_clips


@pytest.fixture(scope="module")
def bundle(tiny_model_dir):
    return session.load_bundle(str(tiny_model_dir))


@pytest.fixture
def song(bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(session, "OUT_DIR", tmp_path)
    melody, name, example = session.read_song("twinkle")
    return session.prepare_song(bundle.model, melody, name, session.song_key("twinkle"), example)


def test_prepare_song_caches_latents_and_writes_the_original_once(song, bundle):
    assert song.latents.shape == (6, bundle.model.config.latent_dim) and song.n_bars == 12
    assert song.roll_path.read_bytes()[:4] == b"\x89PNG" and song.audio_path.read_bytes()[:4] == b"RIFF"
    assert song.matches(session.song_key("twinkle"), None) and not song.matches(session.song_key("twinkle"), 3)


@pytest.mark.parametrize(("knobs", "message"), [
    (session.Knobs(pitch=12.5), "pitch must be between"),
    (session.Knobs(bars=(0, 3)), "bar range"),
    (session.Knobs(bars=(5, 13)), "bar range"),
    (session.Knobs(offsets=(9.0,) * 7), "per-dimension offset must be between"),
])
def test_knobs_are_checked(knobs, message):
    with pytest.raises(ValueError, match=message):
        knobs.checked(n_bars=12, n_offsets=7)


def test_knobs_clamped_and_full_bar_range_means_all():
    assert session.Knobs(pitch=40, offsets=(-9.0,)).clamped() == session.Knobs(pitch=12.0, offsets=(-4.0,))
    assert session.Knobs(bars=(1, 12)).checked(12, 0).bars is None


@pytest.mark.parametrize(("bars", "rows"), [(None, (0, 6)), ((1, 2), (0, 1)), ((2, 3), (0, 2)), ((11, 12), (5, 6))])
def test_clip_rows(bars, rows):
    assert session.clip_rows(6, bars) == slice(*rows)


def test_apply_knobs_at_zero_is_the_reconstruction_and_keeps_untouched_clips(bundle, song):
    recon = decode_z(bundle.model, song.latents).reshape(-1)
    assert np.array_equal(session.apply_knobs(bundle.model, bundle.dims, song, session.Knobs()), recon)
    out = session.apply_knobs(bundle.model, bundle.dims, song, session.Knobs(pitch=12, bars=(5, 6))).reshape(6, 32)
    original = split_clips(song.tokens)
    assert np.array_equal(np.delete(out, 2, 0), np.delete(original, 2, 0)) and not np.array_equal(out[2], original[2])


def test_offset_vector_puts_offsets_on_the_pitch_then_rhythm_dims(bundle):
    dims = bundle.dims
    vec = session.offset_vector(dims, tuple(float(i + 1) for i in range(7)))
    assert vec[dims["pitch_dims"]].tolist() == [1.0, 2.0] and vec[dims["rhythm_dims"]].tolist() == [3, 4, 5, 6, 7]
    assert int((vec != 0).sum()) == 7


def test_missing_or_misfit_dims_json_is_computed_from_the_examples(tmp_path):
    folder = make_tiny_model_folder(tmp_path / "m", with_dims=False)
    bundle = session.load_bundle(str(folder))
    assert "was not found" in bundle.dims_note and bundle.dims_raw["n_pitch_clips"] > 0
    (folder / "dims.json").write_text(json.dumps({"pitch_dims": [0], "rhythm_dims": [1],
                                                  "pitch_direction": [0.0] * 5, "rhythm_direction": [0.0] * 5}))
    assert "was not found" in session.load_bundle(str(folder)).dims_note
    with pytest.raises(ValueError, match="no example song"):
        session.load_bundle(str(folder), examples={})


def test_upload_limits(tmp_path):
    big = tmp_path / "big.mid"
    big.write_bytes(bytes(session.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(ValueError, match="the limit is 2 MB"):
        session.upload_bytes(big)
    (tmp_path / "empty.mid").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        session.upload_bytes(tmp_path / "empty.mid")


def test_card_front_matter_is_stripped():
    assert session.strip_front_matter("---\nlicense: mit\n---\n# Card\n") == "# Card\n"
    assert session.strip_front_matter("# No front matter\n---\n") == "# No front matter\n---\n"


def test_dims_of_the_tiny_folder_fit_its_model(bundle):
    info = dims_from_json(bundle.dims_raw)
    assert info["latent_dim"] == bundle.model.config.latent_dim and torch.is_tensor(bundle.dims["pitch_direction"])
