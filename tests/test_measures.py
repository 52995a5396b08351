import json

import numpy as np
import pytest
from fake_vae import PITCH_DIMS, RHYTHM_DIMS, CircleVAE, FakeVAE, random_clips, regular_clip
from matplotlib.figure import Figure

from vae.dims import Discovery, KnobSpace, discover_dims
from vae.measures import KnobMove, dim_scores_figure, dims_rows, knob_effects, reconstruction_accuracy, report_rows
from vae.melody import HOLD, REST, join_clips


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


def test_pitch_knob_moves_pitch_not_rhythm(song, fake_space):
    out = knob_effects(FakeVAE(), song, fake_space, KnobMove(amount=5, knob="pitch"))
    assert out["pitch_shift"] == pytest.approx(5.0)
    assert out["rhythm_change"] == 0.0 and out["density_ratio"] == 1.0
    assert set(out["moved_dims"]) == set(PITCH_DIMS)
    assert out["move_norm"] == pytest.approx(5 * np.hypot(1.0, 0.5), rel=1e-4)


def test_rhythm_knob_doubles_density(song, fake_space):
    out = knob_effects(FakeVAE(), song, fake_space, KnobMove(amount=1, knob="rhythm"))
    assert out["density_ratio"] == pytest.approx(2.0)
    assert out["pitch_shift"] == pytest.approx(0.0)
    assert out["rhythm_change"] == pytest.approx(4 / 32)  # 4 holds per clip become onsets


@pytest.mark.parametrize("knob,amount", [("pitch", 5), ("rhythm", 1)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_control_same_size_outside_knob_dims(song, fake_space, knob, amount, seed):
    real = knob_effects(FakeVAE(), song, fake_space, KnobMove(amount=amount, knob=knob))
    ctrl = knob_effects(FakeVAE(), song, fake_space, KnobMove(amount=amount, knob=knob, control=True, seed=seed))
    assert ctrl["move_norm"] == pytest.approx(real["move_norm"])
    assert len(ctrl["moved_dims"]) == len(real["moved_dims"])
    assert not set(ctrl["moved_dims"]) & set(PITCH_DIMS + RHYTHM_DIMS)
    assert ctrl["pitch_shift"] == 0.0 and ctrl["density_ratio"] == 1.0 and ctrl["rhythm_change"] == 0.0


def test_knob_effects_rejects_bad_knobs(song, fake_space):
    with pytest.raises(ValueError, match="knob must be"):
        knob_effects(FakeVAE(), song, fake_space, KnobMove(1.0, knob="tempo"))
    with pytest.raises(ValueError, match="control"):
        knob_effects(FakeVAE(), song, fake_space, KnobMove(1.0, knob="residual", control=True))


def test_knob_effects_compare_with_the_decoded_song_not_the_input(fake_space):
    irregular = np.full(32, REST)
    irregular[[0, 3, 10]] = [60, 67, 62]  # 3 onsets: FakeVAE decodes 4 evenly spaced notes of pitch 63
    song = np.concatenate([irregular, regular_clip(70, 8)])
    out = knob_effects(FakeVAE(), song, fake_space, KnobMove(amount=0.0, knob="pitch"))
    assert out["rhythm_change"] == 0.0 and out["pitch_shift"] == 0.0 and out["density_ratio"] == 1.0
    assert out["onsets_before"] == 4 + 8


def test_the_transport_pitch_knob_follows_the_circle_where_the_linear_one_cannot():
    clips = np.stack([regular_clip(p, n) for p in range(60, 67) for n in (1, 2, 4, 8)])
    song = join_clips(np.stack([regular_clip(p, 4) for p in (63, 64, 65, 66)]))  # +5 and -3 stay in 60..71
    transport = discover_dims(CircleVAE(), clips, Discovery(n_rhythm_clips=50))
    linear = discover_dims(CircleVAE(), clips, Discovery(n_rhythm_clips=50, pitch_knob="linear"))
    for amount in (5, -3):
        out = knob_effects(CircleVAE(), song, transport, KnobMove(amount=amount, knob="pitch"))
        assert out["pitch_shift"] == pytest.approx(amount, abs=1e-4) and out["rhythm_change"] == 0.0
    assert abs(knob_effects(CircleVAE(), song, linear, KnobMove(amount=5, knob="pitch"))["pitch_shift"]) < 4.5
    ctrl = knob_effects(CircleVAE(), song, transport, KnobMove(amount=5, knob="pitch", control=True, seed=1))
    assert ctrl["pitch_shift"] == 0.0 and not set(ctrl["moved_dims"]) & set(PITCH_DIMS + RHYTHM_DIMS)


def test_tables_and_figure(tiny_model_dir):
    raw = json.loads((tiny_model_dir / "dims.json").read_text())
    space = KnobSpace.from_json(raw)
    rows = dict(dims_rows(space))
    assert rows["overlap"] == str(raw["overlap"]) and rows["C_pitch"] == f"{raw['c_pitch']:.3f}"
    assert rows["pitch knob"] == "transport" and rows["rhythm knob +1"] == "songs"
    assert rows["pitch dims"] == ", ".join(str(d) for d in raw["pitch_dims"])
    few = dict(dims_rows(KnobSpace.from_json({**raw, "pitch_knob": "linear", "pitch_knob_note": "3 clips are too few"})))
    assert few["pitch knob"] == "linear (3 clips are too few)"
    assert report_rows({"test": {"token_accuracy": 0.98765, "n_clips": 10}, "model": "x"}) == [
        ["test.token_accuracy", "0.9877"], ["test.n_clips", "10"], ["model", "x"]]
    assert isinstance(dim_scores_figure(space, "t"), Figure)
