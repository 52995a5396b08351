import numpy as np
import pytest
import torch

from vae import inference
from vae.inference import FIT_STEPS, decode_z, encode_mu, encode_z, fit_z


def test_decode_z_decodes_equal_rows_once(tiny_model, monkeypatch):
    z = torch.randn(3, tiny_model.config.latent_dim)
    rows = torch.stack([z[0], z[1], z[0], z[2], z[1]])
    sizes = []
    decode = tiny_model.decode
    monkeypatch.setattr(tiny_model, "decode", lambda batch: sizes.append(len(batch)) or decode(batch))
    clips = decode_z(tiny_model, rows)
    assert sizes == [3]
    assert np.array_equal(clips, decode(rows).numpy())


def test_encode_mu_in_batches_with_progress_and_the_mode_restored(tiny_model, rng):
    clips = rng.integers(0, 130, size=(10, 32))
    clips[:, 0] = 60
    tiny_model.train()
    calls = []
    mu = encode_mu(tiny_model, clips, batch_size=4, progress=lambda f, m: calls.append(f))
    assert mu.shape == (10, tiny_model.config.latent_dim) and tiny_model.training
    assert calls == pytest.approx([1 / 3, 2 / 3, 1.0])
    tiny_model.eval()
    assert torch.allclose(mu, tiny_model.encode(torch.as_tensor(clips))[0], atol=1e-5)
    with pytest.raises(ValueError, match="expected clips of shape"):
        encode_mu(tiny_model, clips[:, :30])


# ----------------------------------------------------------------------------- faithful encoding


def _fixed_clips(model, n=8, seed=1) -> np.ndarray:
    """Clips that the model's μ decodes back exactly (decode ∘ μ iterated to a fixed point)."""
    torch.manual_seed(seed)
    clips = decode_z(model, torch.randn(n, model.config.latent_dim))
    for _ in range(8):
        clips = decode_z(model, encode_mu(model, clips))
    assert (decode_z(model, encode_mu(model, clips)) == clips).all(), "no fixed point for this seed"
    return clips


def test_fitting_never_decodes_a_clip_worse_than_mu(tiny_model, rng):
    clips = rng.choice([128, 129, 60, 62, 64, 67], size=(20, 32))
    clips[:, 0] = 60
    z, mu = fit_z(tiny_model, clips)
    fitted, own = (decode_z(tiny_model, t) == clips for t in (z, mu))
    assert (fitted.sum(1) >= own.sum(1)).all() and fitted.sum() > own.sum()
    assert torch.allclose(mu, encode_mu(tiny_model, clips))
    changed = (z != mu).any(1).numpy()
    assert (fitted.sum(1)[changed] > own.sum(1)[changed]).all(), "a latent leaves μ only where that helps"


def test_a_clip_that_mu_decodes_exactly_takes_no_step_and_the_rest_stop_early(tiny_model, rng):
    exact = _fixed_clips(tiny_model)
    steps = []
    z, mu = fit_z(tiny_model, exact, progress=lambda f, msg: steps.append(msg))
    assert torch.equal(z, mu) and len(steps) == 1 and steps[0].startswith("fitting 0 of")
    hard = rng.choice([128, 129, 60, 62, 64, 67], size=(1, 32))
    hard[0, 0] = 72
    z, mu = fit_z(tiny_model, np.concatenate([exact, hard]), steps=7)
    assert torch.equal(z[:8], mu[:8]) and not torch.equal(z[8], mu[8])


def test_the_shipped_model_fits_an_example_exactly_and_stops_early():
    from vae.hub import load_model
    from vae.melody import load_melody, split_clips
    from vae.song import example_songs

    model = load_model()
    clips = split_clips(load_melody(example_songs()["test_4"]).tokens)  # μ gets 84 % of its steps
    reports = []
    z, mu = fit_z(model, clips, progress=lambda f, msg: reports.append((f, msg)))
    assert (decode_z(model, mu) != clips).any() and (decode_z(model, z) == clips).all()
    last_step, message = round(reports[-1][0] * FIT_STEPS), reports[-1][1]
    assert message.startswith("fitting 0 of") and last_step < FIT_STEPS // 2, "every clip fitted, long before the cap"


def test_encode_z_faithful_false_is_mu_and_a_song_is_fitted_once(tiny_model, rng, monkeypatch):
    clips = rng.choice([128, 129, 60, 62, 64, 67], size=(4, 32))
    clips[:, 0] = 60
    assert torch.equal(encode_z(tiny_model, clips, faithful=False), encode_mu(tiny_model, clips))
    first = encode_z(tiny_model, clips)
    monkeypatch.setattr(inference, "fit_z", lambda *a, **k: pytest.fail("fitted again"))
    assert torch.equal(encode_z(tiny_model, clips), first)
    assert torch.equal(first, fit_z(tiny_model, clips)[0])
