import numpy as np
import pytest
import torch
from tiny_model import synthetic_clips

from vae import ideas
from vae.bundle import load_bundle
from vae.inference import encode_mu
from vae.knobs import control_dims
from vae.melody import HOLD, REST, join_clips


@pytest.fixture(scope="module")
def bundle(tiny_model_dir):
    return load_bundle(str(tiny_model_dir), fallback=False)


def test_swap_dims_moves_only_those_dims_and_mixes_between():
    a, b = torch.randn(3, 16), torch.randn(3, 16)
    dims = torch.tensor([2, 5, 7])
    assert torch.equal(ideas.swap_dims(a, b, dims, 0.0), a)
    full = ideas.swap_dims(a, b, dims, 1.0)
    assert torch.allclose(full[:, dims], b[:, dims]) and torch.equal(full[:, [0, 1, 3]], a[:, [0, 1, 3]])
    half = ideas.swap_dims(a, b, dims, 0.5)
    assert not torch.allclose(half[:, dims], a[:, dims]) and not torch.allclose(half[:, dims], b[:, dims])
    with pytest.raises(ValueError, match="mix must be between 0 and 1"):
        ideas.swap_dims(a, b, dims, 1.5)


def test_paired_repeats_the_shorter_song():
    z_b = torch.arange(2.0)[:, None]
    assert ideas.paired(torch.zeros(5, 1), z_b)[:, 0].tolist() == [0, 1, 0, 1, 0]


def test_analogy_takes_the_rhythm_dims_from_b(bundle):
    model, space = bundle.model, bundle.space
    a, b = join_clips(synthetic_clips(3, seed=1)), join_clips(synthetic_clips(2, seed=2))
    out = ideas.analogy(model, space, a, b, ideas.Analogy(mix=1.0))
    assert out.shape == a.shape and out.dtype == np.int64
    assert ideas.analogy(model, space, a, b, ideas.Analogy(direction="a_rhythm")).shape == b.shape
    z = ideas.analogy_latents(encode_mu(model, synthetic_clips(3, seed=1)), encode_mu(model, synthetic_clips(2, seed=2)),
                              space)
    z_a = encode_mu(model, synthetic_clips(3, seed=1))
    changed = (z != z_a).any(dim=0).nonzero()[:, 0]
    assert set(changed.tolist()) <= set(space.rhythm_dims.tolist()) and len(changed)
    z_ctrl = ideas.analogy_latents(z_a, encode_mu(model, synthetic_clips(2, seed=2)), space, control=True)
    assert set((z_ctrl != z_a).any(dim=0).nonzero()[:, 0].tolist()) <= set(control_dims(space)[1].tolist())
    assert np.array_equal(ideas.analogy(model, space, a, b, ideas.Analogy(mix=0.0)), ideas.analogy(model, space, a, a))
    with pytest.raises(ValueError, match="direction"):
        ideas.analogy(model, space, a, b, ideas.Analogy(direction="sideways"))


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_sampling_is_seeded(tiny_model, temperature):
    first = ideas.sample(tiny_model, 4, temperature, seed=3)
    assert first.shape == (4, 32) and first.dtype == np.int64 and ((first >= 0) & (first <= REST)).all()
    assert np.array_equal(first, ideas.sample(tiny_model, 4, temperature, seed=3))
    assert not np.array_equal(first, ideas.sample(tiny_model, 4, temperature, seed=4))


def test_sampling_checks_its_inputs(tiny_model):
    for kwargs, message in [({"n": 0}, "number of melodies"), ({"n": 2, "temperature": -1}, "temperature"),
                            ({"n": 2, "seed": -1}, "seed")]:
        with pytest.raises(ValueError, match=message):
            ideas.sample(tiny_model, **kwargs)


def test_variations_spread_around_the_song(tiny_model):
    song = join_clips(synthetic_clips(2, seed=5))[:48]
    still = ideas.variations(tiny_model, song, ideas.Variations(n=3, spread=0.0))
    assert still.shape == (3, 48) and (still == still[0]).all()  # spread 0: the reconstruction, three times
    wide = ideas.variations(tiny_model, song, ideas.Variations(n=3, spread=3.0, seed=1))
    assert np.array_equal(wide, ideas.variations(tiny_model, song, ideas.Variations(n=3, spread=3.0, seed=1)))
    assert not (wide == wide[0]).all()


def test_join_with_rests():
    out = ideas.join_with_rests([np.array([60, HOLD]), np.array([HOLD, 62])], rest_steps=2)
    assert out.tolist() == [60, HOLD, REST, REST, REST, 62]  # a hold after a rest is a rest


def test_rhythm_agreement_and_pitch_distance():
    a = np.array([60, HOLD, REST, HOLD, 62, 62])  # the hold after a rest is a rest
    b = np.array([67, 67, REST, REST, 65, HOLD])
    assert ideas.rhythm_classes(a).tolist() == [0, 1, 2, 2, 0, 0]
    assert ideas.rhythm_agreement(a, b) == pytest.approx(4 / 6) and ideas.rhythm_agreement(a, a) == 1
    assert ideas.pitch_distance(a, b) == pytest.approx((7 + 7 + 3 + 3) / 4)
    assert np.isnan(ideas.pitch_distance(a, np.full(6, REST)))
