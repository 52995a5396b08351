import json

import numpy as np
import pytest
import torch
from torch import nn

from vae.analysis import (
    decode_z,
    dims_from_json,
    discover_dims,
    knob_directions,
    knob_effects,
    knob_move,
    modulate,
    pitch_deltas,
    reconstruction_accuracy,
    rhythm_deltas,
    song_latents,
)
from vae.melody import HOLD, REST, join_clips
from vae.model import PRESETS, MusicVAE, set_seed

PITCH_DIMS = [3, 7]
RHYTHM_DIMS = [1, 5, 9, 11, 13]
RHYTHM_WEIGHTS = torch.tensor([1.0, 0.9, 0.8, 0.7, 0.6])


class FakeVAE(nn.Module):
    """A VAE whose latent is known: z[3] = mean onset pitch, z[7] = half of it,
    z[rhythm dims] = weights · log2(number of onsets). Decoding reads z[3] and z[1] back into a
    clip of 2**round(z[1]) evenly spaced notes of pitch round(z[3])."""

    latent_dim = 16

    def __init__(self):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))  # gives the model a device, like a real one

    def encode(self, tokens):
        tokens = torch.as_tensor(tokens)
        onset = tokens < 128
        n = onset.sum(1).clamp_min(1).float()
        mean_pitch = torch.where(onset, tokens, 0).sum(1).float() / n
        z = torch.zeros(len(tokens), self.latent_dim)
        z[:, 3], z[:, 7] = mean_pitch, 0.5 * mean_pitch
        z[:, RHYTHM_DIMS] = torch.log2(n)[:, None] * RHYTHM_WEIGHTS
        return z, torch.zeros_like(z)

    def decode(self, z):
        pitch = z[:, 3].round().clamp(0, 127).long()
        k = z[:, 1].round().clamp(0, 5).long()
        out = torch.full((len(z), 32), HOLD, dtype=torch.long)
        for i in range(len(z)):
            out[i, :: 32 // 2 ** int(k[i])] = pitch[i]
        return out


def regular_clip(pitch: int, n_notes: int) -> np.ndarray:
    clip = np.full(32, HOLD, dtype=np.int64)
    clip[:: 32 // n_notes] = pitch
    return clip


@pytest.fixture
def song():
    """4 clips (8 bars) that FakeVAE reconstructs exactly: 4 notes each, rising pitch."""
    return join_clips(np.stack([regular_clip(p, 4) for p in (60, 62, 64, 65)]))


@pytest.fixture
def fake_info():
    clips = np.stack([regular_clip(p, n) for p in range(55, 80) for n in (1, 2, 4, 8)])
    return discover_dims(FakeVAE(), clips, n_rhythm_clips=50, seed=0)


def random_clips(n, seed=0):
    rng = np.random.default_rng(seed)
    clips = rng.choice([HOLD, REST, 60, 62, 64, 67], size=(n, 32))
    clips[:, 0] = rng.integers(48, 90, size=n)
    return clips


# ----------------------------------------------------------------------------- discovery


def test_discover_dims_finds_the_known_dims(fake_info):
    info = fake_info
    assert set(info["pitch_dims"]) == set(PITCH_DIMS)
    assert set(info["rhythm_dims"]) == set(RHYTHM_DIMS)
    assert info["c_pitch"] == pytest.approx(1.0) and info["c_rhythm"] == pytest.approx(1.0)
    assert info["pitch_stability"] == 1.0 and info["rhythm_stability"] == 1.0
    assert info["overlap"] == 0
    assert sorted(info["residual_dims"]) == sorted(set(range(16)) - set(PITCH_DIMS) - set(RHYTHM_DIMS))
    # pitch knob: +1 = one semitone in z[3], half of that in z[7]
    assert info["pitch_direction"][3] == pytest.approx(1.0, abs=1e-5)
    assert info["pitch_direction"][7] == pytest.approx(0.5, abs=1e-5)
    # rhythm knob: one split doubles the onsets, +1 in log2 units times each weight
    assert np.allclose([info["rhythm_direction"][d] for d in RHYTHM_DIMS], RHYTHM_WEIGHTS, atol=1e-5)
    assert info["pitch_unit"]["r2"] == pytest.approx(1.0)
    assert len(info["pitch_deltas"]) == 12 and len(info["rhythm_deltas"]) == 4
    assert info["n_pitch_clips"] == 25 * 4
    json.loads(json.dumps(info))


def test_dims_from_json_round_trip(fake_info):
    back = dims_from_json(json.loads(json.dumps(fake_info)))
    assert back["pitch_dims"].dtype == torch.long and back["pitch_direction"].shape == (16,)
    assert back["pitch_dims"].tolist() == fake_info["pitch_dims"]
    assert torch.allclose(back["rhythm_direction"], torch.tensor(fake_info["rhythm_direction"]))
    assert dims_from_json(back) is back  # converted once, not again on every knob move
    edited = dims_from_json({**back, "rhythm_direction": [0.0] * 16})  # a list again: converted again
    assert torch.is_tensor(edited["rhythm_direction"]) and edited["rhythm_direction"].abs().sum() == 0
    with pytest.raises(ValueError, match="lacks"):
        dims_from_json({"pitch_dims": [1]})


def test_pitch_deltas_keep_only_transposable_clips():
    clips = np.stack([regular_clip(60, 4), regular_clip(120, 4), np.full(32, REST)])
    deltas, used = pitch_deltas(FakeVAE(), clips)
    assert used == 1  # 120 + 12 > 127; an all-rest clip has nothing to move
    assert torch.allclose(deltas[:, 3], torch.arange(1.0, 13.0))
    with pytest.raises(ValueError, match="no clip can be moved"):
        pitch_deltas(FakeVAE(), clips[1:])


def test_rhythm_deltas_are_log2_of_the_split():
    deltas = rhythm_deltas(FakeVAE(), n_clips=20, pitch_range=(60, 72), seed=1)
    assert deltas.shape == (4, 16)
    assert torch.allclose(deltas[:, 1], torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert torch.allclose(deltas[:, 3], torch.zeros(4), atol=1e-5)  # splitting keeps the pitch
    with pytest.raises(ValueError, match="pitch_range"):
        rhythm_deltas(FakeVAE(), n_clips=5, pitch_range=(70, 60))


def test_tiny_model_shapes_progress_and_mode():
    set_seed(0)
    model = MusicVAE(PRESETS["tiny"])
    model.train()
    clips = random_clips(40)
    calls = []
    info = discover_dims(model, clips, n_rhythm_clips=30, batch_size=16, progress=lambda f, m: calls.append(f))
    assert model.training  # mode restored
    assert len(info["pitch_dims"]) == 2 and len(info["rhythm_dims"]) == 5
    assert len(info["pitch_scores"]) == 16 and len(info["residual_direction"]) == 16
    assert 0.0 <= info["c_pitch"] <= 1.0 and 0.0 <= info["c_rhythm"] <= 1.0
    json.dumps(info)
    assert calls == sorted(calls) and calls[-1] == pytest.approx(1.0)
    assert len(calls) == 13 * 3 + 5 * 2 + 3  # batches of 16: 40 clips -> 3, 30 clips -> 2, 40 split clips -> 3
    deltas, used = pitch_deltas(model, clips)
    assert deltas.shape == (12, 16) and used == 40
    assert torch.allclose(deltas, torch.tensor(info["pitch_deltas"]), atol=1e-5)


# ----------------------------------------------------------------------------- measures


def test_reconstruction_accuracy_counts_tokens_and_clips():
    two_pitches = np.full(32, HOLD)
    two_pitches[0], two_pitches[16] = 60, 64  # decodes as two notes of 62: 2 tokens wrong
    clips = np.stack([regular_clip(60, 4), two_pitches])
    out = reconstruction_accuracy(FakeVAE(), clips, batch_size=1)
    assert out["token_accuracy"] == pytest.approx(62 / 64)
    assert out["exact_clip_rate"] == 0.5 and out["n_clips"] == 2


def test_reconstruction_accuracy_tiny_with_teacher_forcing(tiny_model):
    out = reconstruction_accuracy(tiny_model, random_clips(10), teacher_forced=True)
    assert set(out) == {"token_accuracy", "exact_clip_rate", "n_clips", "teacher_forced_accuracy"}
    assert 0 <= out["token_accuracy"] <= 1 and 0 <= out["teacher_forced_accuracy"] <= 1


# ----------------------------------------------------------------------------- knobs


def test_pitch_knob_moves_pitch_not_rhythm(song, fake_info):
    out = knob_effects(FakeVAE(), song, fake_info, amount=5, knob="pitch")
    assert out["pitch_shift"] == pytest.approx(5.0)
    assert out["rhythm_change"] == 0.0 and out["density_ratio"] == 1.0
    assert set(out["moved_dims"]) == set(PITCH_DIMS)
    assert out["move_norm"] == pytest.approx(5 * np.hypot(1.0, 0.5), rel=1e-4)


def test_rhythm_knob_doubles_density(song, fake_info):
    out = knob_effects(FakeVAE(), song, fake_info, amount=1, knob="rhythm")
    assert out["density_ratio"] == pytest.approx(2.0)
    assert out["pitch_shift"] == pytest.approx(0.0)
    assert out["rhythm_change"] == pytest.approx(4 / 32)  # 4 holds per clip become onsets


@pytest.mark.parametrize("knob,amount", [("pitch", 5), ("rhythm", 1)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_control_same_size_outside_knob_dims(song, fake_info, knob, amount, seed):
    real = knob_effects(FakeVAE(), song, fake_info, amount=amount, knob=knob)
    ctrl = knob_effects(FakeVAE(), song, fake_info, amount=amount, knob=knob, control=True, seed=seed)
    assert ctrl["move_norm"] == pytest.approx(real["move_norm"])
    assert len(ctrl["moved_dims"]) == len(real["moved_dims"])
    assert not set(ctrl["moved_dims"]) & set(PITCH_DIMS + RHYTHM_DIMS)
    assert ctrl["pitch_shift"] == 0.0 and ctrl["density_ratio"] == 1.0 and ctrl["rhythm_change"] == 0.0


def test_control_dims_of_pitch_and_rhythm_are_distinct_and_seeded(fake_info):
    a = knob_directions(fake_info, control=True, seed=3)
    b = knob_directions(fake_info, control=True, seed=3)
    assert torch.equal(a["pitch"], b["pitch"]) and torch.equal(a["rhythm"], b["rhythm"])
    assert not set(a["pitch"].nonzero().flatten().tolist()) & set(a["rhythm"].nonzero().flatten().tolist())


def test_decode_z_decodes_equal_rows_once(tiny_model, monkeypatch):
    z = torch.randn(3, tiny_model.config.latent_dim)
    rows = torch.stack([z[0], z[1], z[0], z[2], z[1]])
    sizes = []
    decode = tiny_model.decode
    monkeypatch.setattr(tiny_model, "decode", lambda batch: sizes.append(len(batch)) or decode(batch))
    clips = decode_z(tiny_model, rows)
    assert sizes == [3]
    assert np.array_equal(clips, decode(rows).numpy())


def test_modulate_from_song_or_cached_latents(song, fake_info):
    model = FakeVAE()
    z = song_latents(model, song)
    assert z.shape == (4, 16)
    from_song = modulate(model, song, fake_info, pitch=2)
    from_z = modulate(model, z, fake_info, pitch=2)
    assert np.array_equal(from_song, from_z)
    assert np.array_equal(from_song, np.where(song < 128, song + 2, song))
    assert np.array_equal(modulate(model, z, fake_info), join_clips(decode_z(model, z)))


def test_modulate_bars_moves_only_the_covering_clips(song, fake_info):
    model = FakeVAE()
    out = modulate(model, song, fake_info, pitch=3, bars=(3, 4)).reshape(4, 32)
    base = song.reshape(4, 32)
    assert np.array_equal(out[[0, 2, 3]], base[[0, 2, 3]])  # bar 3 lies in clip 1 (bars 2-3)
    assert np.array_equal(out[1], np.where(base[1] < 128, base[1] + 3, base[1]))
    both = modulate(model, song, fake_info, pitch=3, bars=(3, 5)).reshape(4, 32)
    assert (both[[1, 2]] != base[[1, 2]]).any(axis=1).all() and np.array_equal(both[[0, 3]], base[[0, 3]])
    with pytest.raises(ValueError, match="bars must be"):
        modulate(model, song, fake_info, pitch=3, bars=(4, 9))


def test_modulate_residual_and_length(fake_info, tiny_model):
    model = FakeVAE()
    short = regular_clip(60, 4)[:16]  # one bar: padded to a clip, trimmed back
    assert modulate(model, short, fake_info, rhythm=1).shape == (16,)
    # the tiny model: a residual move changes z only in residual dims and decodes every clip
    info = discover_dims(tiny_model, random_clips(20), n_rhythm_clips=10)
    song = join_clips(random_clips(3, seed=1))
    out = modulate(tiny_model, song, info, pitch=1.0, rhythm=1.0, residual=2.0)
    assert out.shape == (96,) and out.dtype == np.int64 and ((out >= 0) & (out < 130)).all()
    with pytest.raises(ValueError, match="16-dim"):
        modulate(tiny_model, torch.zeros(2, 8), info, pitch=1.0)


def test_knob_effects_rejects_bad_knobs(song, fake_info):
    with pytest.raises(ValueError, match="knob must be"):
        knob_effects(FakeVAE(), song, fake_info, 1.0, knob="tempo")
    with pytest.raises(ValueError, match="control"):
        knob_effects(FakeVAE(), song, fake_info, 1.0, knob="residual", control=True)


def test_knob_effects_compare_with_the_decoded_song_not_the_input(fake_info):
    irregular = np.full(32, REST)
    irregular[[0, 3, 10]] = [60, 67, 62]  # 3 onsets: FakeVAE decodes 4 evenly spaced notes of pitch 63
    song = np.concatenate([irregular, regular_clip(70, 8)])
    out = knob_effects(FakeVAE(), song, fake_info, amount=0.0, knob="pitch")
    assert out["rhythm_change"] == 0.0 and out["pitch_shift"] == 0.0 and out["density_ratio"] == 1.0
    assert out["onsets_before"] == 4 + 8


def test_modulate_offset_adds_a_raw_move_and_follows_the_control(song, fake_info):
    model = FakeVAE()
    z = song_latents(model, song)
    p = list(fake_info["pitch_dims"])
    offset = torch.zeros(z.shape[1])
    offset[p[0]] = 5.0
    assert not np.array_equal(modulate(model, z, fake_info, offset=offset), modulate(model, z, fake_info))
    from vae.analysis import control_dims

    p_ctrl, _ = control_dims(fake_info, seed=0)
    moved = {}

    class Spy(FakeVAE):
        def decode(self, z):
            moved["z"] = z.clone()
            return super().decode(z)

    modulate(Spy(), z, fake_info, offset=offset, control=True)
    delta = moved["z"] - z
    assert torch.allclose(delta[:, p_ctrl[0]], torch.full((len(z),), 5.0)) and delta[:, p[0]].abs().max() == 0
    with pytest.raises(ValueError, match="offset must have shape"):
        modulate(model, z, fake_info, offset=torch.zeros(3))


# ----------------------------------------------------------------------------- transport pitch knob


class CircleVAE(FakeVAE):
    """FakeVAE with pitch class on a circle: z[3], z[7] = cos, sin of 30° per semitone of the first
    onset; decoding reads the angle back as a pitch in 60..71. A mean Δz cannot follow a circle."""

    def encode(self, tokens):
        z, logvar = super().encode(tokens)
        first = torch.as_tensor(tokens)[:, 0].float()
        angle = torch.deg2rad(30 * first)
        z[:, 3], z[:, 7] = torch.cos(angle), torch.sin(angle)
        return z, logvar

    def decode(self, z):
        out = super().decode(z)
        pc = (torch.rad2deg(torch.atan2(z[:, 7], z[:, 3])) / 30).round().long() % 12
        return torch.where(out < 128, 60 + pc[:, None], out)


@pytest.fixture
def circle_clips():
    return np.stack([regular_clip(p, n) for p in range(60, 67) for n in (1, 2, 4, 8)])


def test_transport_pitch_knob_follows_the_circle_where_the_linear_one_cannot(circle_clips):
    song = join_clips(np.stack([regular_clip(p, 4) for p in (63, 64, 65, 66)]))  # +5 and -3 stay in 60..71
    transport = discover_dims(CircleVAE(), circle_clips, n_rhythm_clips=50)
    linear = discover_dims(CircleVAE(), circle_clips, n_rhythm_clips=50, pitch_knob="linear")
    assert transport["pitch_knob"] == "transport" and linear["pitch_knob"] == "linear"
    assert set(transport["pitch_dims"]) == set(PITCH_DIMS)
    assert min(transport["pitch_transport"]["r2_forward"]) == pytest.approx(1.0, abs=1e-4)
    for amount in (5, -3):
        out = knob_effects(CircleVAE(), song, transport, amount=amount, knob="pitch")
        assert out["pitch_shift"] == pytest.approx(amount, abs=1e-4) and out["rhythm_change"] == 0.0
    assert abs(knob_effects(CircleVAE(), song, linear, amount=5, knob="pitch")["pitch_shift"]) < 4.5
    ctrl = knob_effects(CircleVAE(), song, transport, amount=5, knob="pitch", control=True, seed=1)
    assert ctrl["pitch_shift"] == 0.0 and not set(ctrl["moved_dims"]) & set(PITCH_DIMS + RHYTHM_DIMS)
    z = song_latents(CircleVAE(), song)
    real, fake = knob_move(z, transport, "pitch", 5), knob_move(z, transport, "pitch", 5, control=True, seed=1)
    assert torch.allclose(real.norm(dim=1), fake.norm(dim=1))  # same size per clip, on other dims


def test_transport_info_round_trips_and_is_checked(circle_clips):
    info = json.loads(json.dumps(discover_dims(CircleVAE(), circle_clips, n_rhythm_clips=50)))
    back = dims_from_json(info)
    assert back["pitch_forward"].shape == (12, 3, 2) and back["pitch_backward"].shape == (12, 3, 2)
    assert dims_from_json({k: v for k, v in info.items() if k != "pitch_knob"})["pitch_knob"] == "linear"
    with pytest.raises(ValueError, match="pitch_transport.forward"):
        dims_from_json({**info, "pitch_transport": None})
    with pytest.raises(ValueError, match="pitch_knob must be"):
        dims_from_json({**info, "pitch_knob": "spiral"})
    with pytest.raises(ValueError, match="pitch_knob must be"):
        discover_dims(CircleVAE(), circle_clips, n_rhythm_clips=50, pitch_knob="spiral")
    with pytest.raises(ValueError, match="shifts 1..P"):
        discover_dims(CircleVAE(), circle_clips, n_rhythm_clips=50, shifts=[2, 4])


def test_too_few_clips_fall_back_to_the_linear_pitch_knob(circle_clips):
    few = discover_dims(CircleVAE(), circle_clips[:12], n_rhythm_clips=50)
    assert few["pitch_knob"] == "linear" and "too few" in few["pitch_knob_note"] and few["pitch_transport"] is None
    assert discover_dims(CircleVAE(), circle_clips, n_rhythm_clips=50)["pitch_knob_note"] is None


def test_rhythm_unit_from_songs_or_whole_notes(circle_clips):
    info = discover_dims(FakeVAE(), circle_clips, n_rhythm_clips=50)
    assert info["rhythm_unit"]["calibrated_on"] == "songs" and set(info["rhythm_directions"]) == {"songs", "whole_notes"}
    # FakeVAE's rhythm dims hold log2(onsets): one split adds exactly the weights, whatever the clips
    for direction in info["rhythm_directions"].values():
        assert np.allclose([direction[d] for d in RHYTHM_DIMS], RHYTHM_WEIGHTS, atol=1e-5)
    assert info["n_rhythm_song_clips"] == len(circle_clips)  # every clip has notes of even length
    whole = discover_dims(FakeVAE(), circle_clips, n_rhythm_clips=50, rhythm_unit="whole_notes")
    assert whole["rhythm_unit"]["calibrated_on"] == "whole_notes" and whole["rhythm_unit_note"] is None
    sixteenths = np.stack([regular_clip(p, 32) for p in range(55, 80)])  # notes of one step never split
    fallback = discover_dims(FakeVAE(), sixteenths, n_rhythm_clips=50)
    assert fallback["rhythm_unit"]["calibrated_on"] == "whole_notes" and "split" in fallback["rhythm_unit_note"]
    with pytest.raises(ValueError, match="rhythm_unit must be"):
        discover_dims(FakeVAE(), circle_clips, n_rhythm_clips=50, rhythm_unit="bars")
