import json

import numpy as np
import pytest
import torch
from fake_vae import PITCH_DIMS, RHYTHM_DIMS, CircleVAE, FakeVAE, random_clips, regular_clip

from vae import knobs
from vae.dims import Discovery, KnobSpace, discover_dims
from vae.hub import load_model
from vae.inference import decode_z, encode_mu, encode_z
from vae.knobs import Knobs
from vae.melody import HOLD, join_clips, load_melody, split_clips


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    return load_model(str(tiny_model_dir)), KnobSpace.from_json(json.loads((tiny_model_dir / "dims.json").read_text()))


def up(tokens, semitones):
    return np.where(tokens < 128, tokens + semitones, tokens)


# ----------------------------------------------------------------------------- Knobs


@pytest.mark.parametrize(("k", "message"), [
    (Knobs(pitch=12.5), "pitch must be between"),
    (Knobs(bars=(0, 3)), "bar range"),
    (Knobs(bars=(5, 13)), "bar range"),
    (Knobs(offsets=(9.0,) * 7), "per-dimension offset must be between"),
    (Knobs(offsets=(1.0,) * 3), "expected 7 per-dimension offsets"),
])
def test_knobs_are_checked(k, message):
    with pytest.raises(ValueError, match=message):
        k.checked(n_bars=12, n_offsets=7)


def test_knobs_clamped_full_bar_range_and_file_stem():
    assert Knobs(pitch=40, offsets=(-9.0,)).clamped() == Knobs(pitch=12.0, offsets=(-4.0,))
    assert Knobs(bars=(1, 12)).checked(12, 0).bars is None
    assert Knobs(pitch=3, rhythm=1, control=True, offsets=(0.0, 1.0)).stem("twinkle") == \
        "twinkle_pitch+3_rhythm+1_dims_control"
    assert knobs.parse_offsets(" 0.5, 0,-1") == (0.5, 0.0, -1.0) and knobs.parse_offsets(None) == ()
    with pytest.raises(ValueError, match="separated by commas"):
        knobs.parse_offsets("a,b")


@pytest.mark.parametrize(("bars", "rows"), [(None, (0, 6)), ((1, 2), (0, 1)), ((2, 3), (0, 2)), ((11, 12), (5, 6))])
def test_clip_rows(bars, rows):
    assert knobs.clip_rows(6, bars) == slice(*rows)


# ----------------------------------------------------------------------------- moves


def test_pitch_and_rhythm_knobs_on_a_song(song, fake_space):
    model = FakeVAE()
    assert np.array_equal(knobs.apply(model, fake_space, song, Knobs(pitch=2)), up(song, 2))
    z = encode_mu(model, split_clips(song))
    assert np.array_equal(knobs.apply(model, fake_space, song, Knobs(pitch=2), latents=z), up(song, 2))
    assert np.array_equal(knobs.apply(model, fake_space, song, Knobs()), song)
    doubled = knobs.apply(model, fake_space, song, Knobs(rhythm=1)).reshape(4, 32)
    assert ((doubled < 128).sum(axis=1) == 8).all()


def test_bar_range_moves_only_the_clips_that_hold_those_bars(song, fake_space):
    out = knobs.apply(FakeVAE(), fake_space, song, Knobs(pitch=3, bars=(4, 4))).reshape(4, 32)
    base = song.reshape(4, 32)
    assert np.array_equal(out[[0, 2, 3]], base[[0, 2, 3]])  # bar 4 lies in clip 2 (bars 3-4), row 1
    assert np.array_equal(out[1], up(base[1], 3))
    both = knobs.apply(FakeVAE(), fake_space, song, Knobs(pitch=3, bars=(4, 5))).reshape(4, 32)
    assert (both[[1, 2]] != base[[1, 2]]).any(axis=1).all() and np.array_equal(both[[0, 3]], base[[0, 3]])
    with pytest.raises(ValueError, match="bar range"):
        knobs.apply(FakeVAE(), fake_space, song, Knobs(pitch=3, bars=(4, 9)))


def test_clips_outside_the_bar_range_keep_their_original_notes(tiny):
    model, space = tiny
    tokens = join_clips(random_clips(6, seed=2))
    out = knobs.apply(model, space, tokens, Knobs(pitch=12, bars=(5, 6))).reshape(6, 32)
    original = split_clips(tokens)
    assert np.array_equal(np.delete(out, 2, 0), np.delete(original, 2, 0)) and not np.array_equal(out[2], original[2])
    rest = knobs.apply(model, space, tokens, Knobs(), faithful=False)
    assert np.array_equal(rest, decode_z(model, encode_mu(model, original)).reshape(-1))
    fitted = knobs.apply(model, space, tokens, Knobs())
    assert np.array_equal(fitted, decode_z(model, encode_z(model, original)).reshape(-1))


def test_a_short_song_is_padded_to_a_clip_and_trimmed_back(fake_space, tiny):
    short = regular_clip(60, 4)[:16]
    assert knobs.apply(FakeVAE(), fake_space, short, Knobs(rhythm=1)).shape == (16,)
    model, space = tiny
    out = knobs.apply(model, space, join_clips(random_clips(3, seed=1)), Knobs(pitch=1, rhythm=1, residual=2))
    assert out.shape == (96,) and out.dtype == np.int64 and ((out >= 0) & (out < 130)).all()
    with pytest.raises(ValueError, match="16-dim"):
        knobs.move(torch.zeros(2, 8), space, Knobs(pitch=1))


def test_random_control_moves_the_same_amounts_onto_other_dims(fake_space):
    z = torch.zeros(3, 16)
    for knob, own in (("pitch", PITCH_DIMS), ("rhythm", RHYTHM_DIMS)):
        real, ctrl = knobs.knob_move(z, fake_space, knob, 2.0), knobs.knob_move(z, fake_space, knob, 2.0, control=True)
        assert torch.allclose(real.norm(dim=1), ctrl.norm(dim=1))
        assert ctrl[:, own].abs().max() == 0 and not set(ctrl.abs().sum(0).nonzero().flatten().tolist()) & set(
            PITCH_DIMS + RHYTHM_DIMS)
    a, b = knobs.control_dims(fake_space, seed=3), knobs.control_dims(fake_space, seed=3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not set(a[0].tolist()) & set(a[1].tolist())


def test_transport_pitch_knob_follows_each_clip_and_its_control_keeps_the_size():
    clips = np.stack([regular_clip(p, n) for p in range(60, 67) for n in (1, 2, 4, 8)])
    space = discover_dims(CircleVAE(), clips, Discovery(n_rhythm_clips=50))
    song = join_clips(np.stack([regular_clip(p, 4) for p in (63, 64, 65, 66)]))
    assert np.array_equal(knobs.apply(CircleVAE(), space, song, Knobs(pitch=5)), up(song, 5))
    z = encode_mu(CircleVAE(), split_clips(song))
    real, fake = knobs.knob_move(z, space, "pitch", 5), knobs.knob_move(z, space, "pitch", 5, control=True, seed=1)
    assert torch.allclose(real.norm(dim=1), fake.norm(dim=1))  # same size per clip, on other dims


def test_offsets_add_a_raw_move_on_the_pitch_then_rhythm_dims_and_follow_the_control(fake_space):
    vec = knobs.offset_vector(fake_space, tuple(float(i + 1) for i in range(7)))
    assert vec[fake_space.pitch_dims].tolist() == [1.0, 2.0] and vec[fake_space.rhythm_dims].tolist() == [3, 4, 5, 6, 7]
    z = torch.zeros(2, 16)
    offsets = (5.0,) + (0.0,) * 6
    p, (p_ctrl, _) = fake_space.pitch_dims, knobs.control_dims(fake_space)
    assert torch.allclose(knobs.move(z, fake_space, Knobs(offsets=offsets))[:, p[0]], torch.full((2,), 5.0))
    moved = knobs.move(z, fake_space, Knobs(offsets=offsets, control=True))
    assert torch.allclose(moved[:, p_ctrl[0]], torch.full((2,), 5.0)) and moved[:, p[0]].abs().max() == 0


# ----------------------------------------------------------------------------- the grid


def _clip(pitch):
    return np.array(([pitch] + [HOLD] * 3) * 8, dtype=np.int64)


@pytest.mark.parametrize("faithful", [True, False])
@pytest.mark.parametrize("n", [3, 5, 7])
def test_grid_has_the_clips_at_its_corners(tiny, n, faithful):
    """The corners decode the clips' latents: fitted (the shipped model's play the clips: test_api_unchanged) or μ."""
    model, space = tiny
    a, b = _clip(60), _clip(67)
    cells = knobs.grid(model, space, a, b, n, faithful)
    corners = decode_z(model, encode_z(model, np.stack([a, b]), faithful))
    assert cells.shape == (n, n, 32) and np.array_equal(cells[0, 0], corners[0])
    assert np.array_equal(cells[-1, -1], corners[1])
    assert knobs.grid_caption(n - 1, n - 1, n) == "pitch t=1.00 · rhythm t=1.00"
    assert np.array_equal(knobs.diagonal(cells), np.concatenate([cells[i, i] for i in range(n)]))


@pytest.mark.parametrize("n", [2, 8, 4.5])
def test_grid_size_is_limited(tiny, n):
    with pytest.raises(ValueError, match="from 3 to 7"):
        knobs.grid(*tiny, _clip(60), _clip(62), n)


@pytest.mark.parametrize("k, words", [
    (Knobs(), ""),
    (Knobs(control=True, bars=(2, 3)), ""),  # nothing moves: the bar range is the song's own
    (Knobs(pitch=5), "pitch +5"),
    (Knobs(pitch=-2.5, rhythm=1, control=True), "pitch -2.5, rhythm +1 (random control)"),
    (Knobs(residual=0.5, offsets=(0.0, 1.0, -0.5, 0.0)), "residual +0.5, 2 dim sliders"),
    (Knobs(offsets=(0.0, 0.1)), "1 dim slider"),
])
def test_moved_names_the_knobs_away_from_rest(k, words):
    assert k.moved() == words


def test_the_shipped_models_grid_corners_are_the_clips_themselves():
    """Faithful corners (the default): the top-left cell plays the source clip and the bottom-right the target."""
    from vae.bundle import load_bundle
    from vae.song import example_songs

    b = load_bundle()
    clips = np.concatenate([split_clips(load_melody(p).tokens) for p in example_songs().values()])
    source, target = clips[clips[:, 0] < 128][[3, 20]]
    cells = knobs.grid(b.model, b.space, source, target, 5)
    assert np.array_equal(cells[0, 0], source) and np.array_equal(cells[-1, -1], target)
