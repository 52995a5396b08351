"""Curve knobs (vae.curves): an attribute-tied dim moved in the attribute's own unit, calibrated on songs."""

import json

import numpy as np
import pytest
import torch
from fake_vae import TiedVAE, regular_clip

from vae import curves, knobs, measures
from vae.dims import Discovery, KnobSpace, discover_dims
from vae.inference import decode_z, encode_mu
from vae.knobs import Knobs
from vae.melody import join_clips, split_clips


def test_fit_curve_is_monotone_and_inverts_a_squashed_attribute():
    g = torch.Generator().manual_seed(0)
    values = torch.randint(40, 90, (3000,), generator=g).float()
    z = torch.tanh((values - 65) / 15) + 0.01 * torch.randn(3000, generator=g)
    table_v, table_z, rho = curves.fit_curve(z, values, n_points=33)
    assert rho > 0.99 and (table_v[1:] > table_v[:-1]).all() and (table_z[1:] > table_z[:-1]).all()
    latents = torch.zeros(3, 4)
    latents[:, 2] = torch.tanh((torch.tensor([50.0, 65.0, 80.0]) - 65) / 15)
    move = curves.curve_move(latents, 2, table_v, table_z, 5.0)
    assert (move[:, [0, 1, 3]] == 0).all()
    reached = 65 + 15 * torch.atanh(latents[:, 2] + move[:, 2])  # the attribute the moved z encodes
    assert reached.tolist() == pytest.approx([55.0, 70.0, 85.0], abs=0.8)
    with pytest.raises(ValueError, match="at least"):
        curves.fit_curve(z[:10], values[:10])


def test_curve_move_in_doublings_for_counts():
    counts = torch.arange(1, 33).float().repeat(100)
    table_v, table_z, _ = curves.fit_curve(torch.sqrt(counts), counts, n_points=20)
    latents = torch.zeros(2, 3)
    latents[:, 0] = torch.sqrt(torch.tensor([4.0, 8.0]))
    moved = latents[:, 0] + curves.curve_move(latents, 0, table_v, table_z, 1.0, log2=True)[:, 0]
    assert (moved ** 2).tolist() == pytest.approx([8.0, 16.0], rel=0.1)


@pytest.fixture(scope="module")
def tied():
    model = TiedVAE()
    clips = np.stack([regular_clip(p, n) for p in range(50, 80) for n in (1, 2, 4, 8)])
    songs = [join_clips(np.stack([regular_clip(p + d, n) for d in (0, 2, 4, 5)])) for p in (56, 62, 68) for n in (2, 4)]
    fitted = curves.fit_curves(model, clips, songs)
    return model, discover_dims(model, clips, Discovery(n_rhythm_clips=50)).with_curves(fitted), songs


def test_fit_curves_ties_each_knob_to_its_dim_and_calibrates_it(tied):
    model, space, songs = tied
    assert space.kind("pitch") == "curve" and space.kind("rhythm") == "curve"
    assert space.curves["pitch"].dim == 0 and space.curves["rhythm"].dim == 1
    assert 0 in space.pitch_dims.tolist() and 1 in space.rhythm_dims.tolist()  # the knobs own their tied dims
    song = songs[2]
    z = encode_mu(model, split_clips(song))
    rest = join_clips(decode_z(model, z))
    up = join_clips(decode_z(model, knobs.move(z, space, Knobs(pitch=5))))
    assert up[up < 128].mean() - rest[rest < 128].mean() == pytest.approx(5, abs=0.5)
    dense = join_clips(decode_z(model, knobs.move(z, space, Knobs(rhythm=1))))
    assert (dense < 128).sum() == 2 * (rest < 128).sum()


def test_knob_fidelity_of_a_calibrated_curve_knob_is_linear_with_gain_one(tied):
    model, space, songs = tied
    fid = measures.knob_fidelity(model, songs, space, "pitch")
    assert fid["r2"] > 0.99 and fid["gain"] == pytest.approx(1.0, abs=0.1)
    assert fid["median"][fid["amounts"].index(12.0)] == pytest.approx(12, abs=1)
    rest = measures.rest_agreement(model, songs)
    assert rest["median"] == 1.0 and len(rest["per_song"]) == len(songs)
    assert measures.what_it_did(songs[0], songs[0] + 0) == "+0.0 semitones, ×1.00 notes"


def test_curves_travel_in_dims_json(tied):
    _, space, _ = tied
    back = KnobSpace.from_json(json.loads(json.dumps(space.to_json())))
    assert back.kind("pitch") == "curve" and back.curves["pitch"].knob == space.curves["pitch"].knob
    z = torch.zeros(2, 16)
    assert torch.equal(knobs.knob_move(z, back, "pitch", 3.0), knobs.knob_move(z, space, "pitch", 3.0))
    raw = space.to_json()
    del raw["curves"]
    with pytest.raises(ValueError, match="no curve"):
        KnobSpace.from_json(raw)


def test_the_random_control_moves_the_curve_knobs_move_onto_other_dims(tied):
    _, space, _ = tied
    z = torch.zeros(3, 16)
    z[:, 0] = 0.2
    own = knobs.knob_move(z, space, "pitch", 4.0)
    ctrl = knobs.knob_move(z, space, "pitch", 4.0, control=True)
    assert own[:, 0].abs().min() > 0 and (ctrl[:, 0] == 0).all()
    assert torch.allclose(own.norm(dim=1), ctrl.norm(dim=1))
