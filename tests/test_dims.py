import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from fake_vae import PITCH_DIMS, RHYTHM_DIMS, RHYTHM_WEIGHTS, CircleVAE, FakeVAE, random_clips, regular_clip

from vae.dims import Discovery, KnobSpace, discover_dims, pitch_deltas, rhythm_deltas, song_dims
from vae.hub import BUNDLED_DIR
from vae.melody import REST, join_clips
from vae.model import PRESETS, MusicVAE, set_seed


@pytest.fixture
def fake_space():
    clips = np.stack([regular_clip(p, n) for p in range(55, 80) for n in (1, 2, 4, 8)])
    return discover_dims(FakeVAE(), clips, Discovery(n_rhythm_clips=50, seed=0))


@pytest.fixture
def circle_clips():
    return np.stack([regular_clip(p, n) for p in range(60, 67) for n in (1, 2, 4, 8)])


# ----------------------------------------------------------------------------- discovery


def test_discover_dims_finds_the_known_dims(fake_space):
    space, meta = fake_space, fake_space.meta
    assert set(space.pitch_dims.tolist()) == set(PITCH_DIMS) and set(space.rhythm_dims.tolist()) == set(RHYTHM_DIMS)
    assert meta["c_pitch"] == pytest.approx(1.0) and meta["c_rhythm"] == pytest.approx(1.0)
    assert meta["pitch_stability"] == 1.0 and meta["rhythm_stability"] == 1.0 and meta["overlap"] == 0
    assert sorted(space.residual_dims.tolist()) == sorted(set(range(16)) - set(PITCH_DIMS) - set(RHYTHM_DIMS))
    # pitch knob: +1 = one semitone in z[3], half of that in z[7]
    assert space.directions["pitch"][3] == pytest.approx(1.0, abs=1e-5)
    assert space.directions["pitch"][7] == pytest.approx(0.5, abs=1e-5)
    # rhythm knob: one split doubles the onsets, +1 in log2 units times each weight
    assert torch.allclose(space.directions["rhythm"][RHYTHM_DIMS], RHYTHM_WEIGHTS, atol=1e-5)
    assert meta["pitch_unit"]["r2"] == pytest.approx(1.0)
    assert len(meta["pitch_deltas"]) == 12 and len(meta["rhythm_deltas"]) == 4
    assert meta["n_pitch_clips"] == 25 * 4 and space.n_offsets == 7 and space.latent_dim == 16
    json.dumps(space.to_json())


def test_pitch_deltas_keep_only_transposable_clips():
    clips = np.stack([regular_clip(60, 4), regular_clip(120, 4), np.full(32, REST)])
    deltas, used = pitch_deltas(FakeVAE(), clips)
    assert used == 1  # 120 + 12 > 127; an all-rest clip has nothing to move
    assert torch.allclose(deltas[:, 3], torch.arange(1.0, 13.0))
    with pytest.raises(ValueError, match="no clip can be moved"):
        pitch_deltas(FakeVAE(), clips[1:])


def test_rhythm_deltas_are_log2_of_the_split():
    deltas = rhythm_deltas(FakeVAE(), Discovery(n_rhythm_clips=20, pitch_range=(60, 72), seed=1))
    assert deltas.shape == (4, 16)
    assert torch.allclose(deltas[:, 1], torch.tensor([1.0, 2.0, 3.0, 4.0]))
    assert torch.allclose(deltas[:, 3], torch.zeros(4), atol=1e-5)  # splitting keeps the pitch
    with pytest.raises(ValueError, match="pitch_range"):
        rhythm_deltas(FakeVAE(), Discovery(n_rhythm_clips=5, pitch_range=(70, 60)))


def test_tiny_model_shapes_progress_and_mode():
    set_seed(0)
    model = MusicVAE(PRESETS["tiny"])
    model.train()
    clips = random_clips(40)
    calls = []
    space = discover_dims(model, clips, Discovery(n_rhythm_clips=30), batch_size=16,
                          progress=lambda f, m: calls.append(f))
    assert model.training  # mode restored
    assert len(space.pitch_dims) == 2 and len(space.rhythm_dims) == 5
    assert len(space.meta["pitch_scores"]) == 16 and space.directions["residual"].shape == (16,)
    assert 0.0 <= space.meta["c_pitch"] <= 1.0 and 0.0 <= space.meta["c_rhythm"] <= 1.0
    assert calls == sorted(calls) and calls[-1] == pytest.approx(1.0)
    assert len(calls) == 13 * 3 + 5 * 2 + 3  # batches of 16: 40 clips -> 3, 30 clips -> 2, 40 split clips -> 3
    deltas, used = pitch_deltas(model, clips)
    assert deltas.shape == (12, 16) and used == 40
    assert torch.allclose(deltas, torch.tensor(space.meta["pitch_deltas"]), atol=1e-5)


def test_song_dims_need_two_clips_with_notes(tiny_model):
    with pytest.raises(ValueError, match="needs 2"):
        song_dims(tiny_model, np.array([60] + [REST] * 31), "short")
    space = song_dims(tiny_model, join_clips(random_clips(30)))
    assert space.meta["n_pitch_clips"] <= 30 and len(space.pitch_dims) == 2


# ----------------------------------------------------------------------------- the JSON form


def test_dims_json_round_trip(fake_space):
    back = KnobSpace.from_json(json.loads(json.dumps(fake_space.to_json())))
    assert back.pitch_dims.dtype == torch.long and back.directions["pitch"].shape == (16,)
    assert torch.equal(back.pitch_dims, fake_space.pitch_dims) and torch.equal(back.rhythm_dims, fake_space.rhythm_dims)
    for knob, direction in fake_space.directions.items():
        assert torch.equal(back.directions[knob], direction)
    assert torch.equal(back.transport["forward"], fake_space.transport["forward"])
    assert back.pitch_knob == fake_space.pitch_knob and back.meta == json.loads(json.dumps(fake_space.meta))
    assert back.to_json() == json.loads(json.dumps(fake_space.to_json()))
    with pytest.raises(ValueError, match="lacks"):
        KnobSpace.from_json({"pitch_dims": [1]})


def test_the_shipped_dims_json_reads_and_writes_back_the_same():
    raw = json.loads((BUNDLED_DIR / "dims.json").read_text())
    space = KnobSpace.from_json(raw)
    assert space.latent_dim == raw["latent_dim"] == 128 and space.pitch_dims.tolist() == raw["pitch_dims"]
    assert space.pitch_knob == raw["pitch_knob"] and space.transport["forward"].shape == (12, 3, 2)
    assert space.meta["c_pitch"] == raw["c_pitch"] and "weights_sha256" in space.meta
    assert space.to_json() == raw  # every field kept, every number exact


def test_transport_json_is_checked(circle_clips):
    raw = json.loads(json.dumps(discover_dims(CircleVAE(), circle_clips, Discovery(n_rhythm_clips=50)).to_json()))
    back = KnobSpace.from_json(raw)
    assert back.transport["forward"].shape == (12, 3, 2) and back.transport["backward"].shape == (12, 3, 2)
    assert KnobSpace.from_json({k: v for k, v in raw.items() if k != "pitch_knob"}).pitch_knob == "linear"
    with pytest.raises(ValueError, match="pitch_transport.forward"):
        KnobSpace.from_json({**raw, "pitch_transport": None})
    with pytest.raises(ValueError, match="pitch_knob must be"):
        KnobSpace.from_json({**raw, "pitch_knob": "spiral"})
    with pytest.raises(ValueError, match="residual_direction has shape"):
        KnobSpace.from_json({**raw, "residual_direction": [0.0] * 3})
    with pytest.raises(ValueError, match="pitch_dims must lie"):
        KnobSpace.from_json({**raw, "pitch_dims": [3, 99]})
    assert replace(back, pitch_knob="linear").kind("pitch") == "linear" and back.kind("rhythm") == "linear"


# ----------------------------------------------------------------------------- the knob variants


def test_transport_is_the_default_and_checked(circle_clips):
    transport = discover_dims(CircleVAE(), circle_clips, Discovery(n_rhythm_clips=50))
    linear = discover_dims(CircleVAE(), circle_clips, Discovery(n_rhythm_clips=50, pitch_knob="linear"))
    assert transport.kind("pitch") == "transport" and linear.kind("pitch") == "linear"
    assert set(transport.pitch_dims.tolist()) == set(PITCH_DIMS)
    assert min(transport.transport["r2_forward"]) == pytest.approx(1.0, abs=1e-4)
    with pytest.raises(ValueError, match="pitch_knob must be"):
        discover_dims(CircleVAE(), circle_clips, Discovery(n_rhythm_clips=50, pitch_knob="spiral"))
    with pytest.raises(ValueError, match="shifts 1..P"):
        discover_dims(CircleVAE(), circle_clips, Discovery(n_rhythm_clips=50, shifts=[2, 4]))


def test_too_few_clips_fall_back_to_the_linear_pitch_knob(circle_clips):
    few = discover_dims(CircleVAE(), circle_clips[:12], Discovery(n_rhythm_clips=50))
    assert few.pitch_knob == "linear" and "too few" in few.meta["pitch_knob_note"] and few.transport is None
    assert discover_dims(CircleVAE(), circle_clips, Discovery(n_rhythm_clips=50)).meta["pitch_knob_note"] is None


def test_rhythm_unit_from_songs_or_whole_notes(circle_clips):
    meta = discover_dims(FakeVAE(), circle_clips, Discovery(n_rhythm_clips=50)).meta
    assert meta["rhythm_unit"]["calibrated_on"] == "songs" and set(meta["rhythm_directions"]) == {"songs", "whole_notes"}
    # FakeVAE's rhythm dims hold log2(onsets): one split adds exactly the weights, whatever the clips
    for direction in meta["rhythm_directions"].values():
        assert np.allclose([direction[d] for d in RHYTHM_DIMS], RHYTHM_WEIGHTS, atol=1e-5)
    assert meta["n_rhythm_song_clips"] == len(circle_clips)  # every clip has notes of even length
    whole = discover_dims(FakeVAE(), circle_clips, Discovery(n_rhythm_clips=50, rhythm_unit="whole_notes")).meta
    assert whole["rhythm_unit"]["calibrated_on"] == "whole_notes" and whole["rhythm_unit_note"] is None
    sixteenths = np.stack([regular_clip(p, 32) for p in range(55, 80)])  # notes of one step never split
    fallback = discover_dims(FakeVAE(), sixteenths, Discovery(n_rhythm_clips=50)).meta
    assert fallback["rhythm_unit"]["calibrated_on"] == "whole_notes" and "split" in fallback["rhythm_unit_note"]
    with pytest.raises(ValueError, match="rhythm_unit must be"):
        discover_dims(FakeVAE(), circle_clips, Discovery(n_rhythm_clips=50, rhythm_unit="bars"))
