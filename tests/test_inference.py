import numpy as np
import pytest
import torch

from vae.inference import decode_z, encode_mu


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
