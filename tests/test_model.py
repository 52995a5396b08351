import pytest
import torch

from vae.curves import spearman
from vae.model import PRESETS, MusicVAE, VAEConfig, set_seed


def test_shapes(tiny_model):
    x = torch.randint(0, 130, (5, 32))
    mu, logvar = tiny_model.encode(x)
    assert mu.shape == logvar.shape == (5, 16)
    assert tiny_model.decode(mu).shape == (5, 32)
    out = tiny_model(x)
    assert out["logits"].shape == (5, 32, 130) and out["loss"].dim() == 0


def test_bad_input_is_refused(tiny_model):
    with pytest.raises(ValueError, match=r"\(B, 32\)"):
        tiny_model.encode(torch.zeros(2, 30, dtype=torch.long))
    with pytest.raises(ValueError, match="0..129"):
        tiny_model.encode(torch.full((1, 32), 130))
    with pytest.raises(ValueError, match="latent_dim|z of shape"):
        tiny_model.decode(torch.zeros(1, 7))
    with pytest.raises(ValueError, match="kl_norm"):
        VAEConfig(kl_norm="max")


def test_sampling_is_reproducible_and_differs_from_greedy(tiny_model):
    z = torch.randn(4, 16, generator=torch.Generator().manual_seed(1)) * 3
    a = tiny_model.decode(z, temperature=1.5, generator=torch.Generator().manual_seed(0))
    b = tiny_model.decode(z, temperature=1.5, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b)
    assert not torch.equal(a, tiny_model.decode(z))


@pytest.mark.slow  # a training loop: 10-25 s on 2 busy cores
@pytest.mark.parametrize("kl_norm", ["sum", "mean"])
def test_tiny_model_overfits_eight_clips(kl_norm):
    set_seed(0)
    model = MusicVAE(VAEConfig(latent_dim=16, enc_hidden=64, dec_hidden=128, kl_norm=kl_norm))
    gen = torch.Generator().manual_seed(0)
    clips = torch.randint(0, 130, (8, 32), generator=gen)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(300):
        model.train()
        loss = model(clips)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert torch.equal(model.reconstruct(clips), clips)


def test_scheduled_sampling_changes_the_inputs_not_the_targets(tiny_model):
    tiny_model.train()
    x = torch.randint(0, 130, (4, 32))
    set_seed(0)
    a = tiny_model(x, sample_prob=0.0)["loss"]
    set_seed(0)
    b = tiny_model(x, sample_prob=1.0)["loss"]
    assert torch.isfinite(a) and torch.isfinite(b) and not torch.isclose(a, b)


def test_presets_build():
    assert set(PRESETS) == {"tiny", "small", "wide"}
    n_small = sum(p.numel() for p in MusicVAE(PRESETS["small"]).parameters())
    assert n_small * 4 < 20e6  # float32 weights under 20 MB


def test_save_load_round_trip(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    loaded = MusicVAE.from_pretrained(tmp_path, strict=True)
    assert loaded.config == tiny_model.config
    x = torch.randint(0, 130, (3, 32))
    assert torch.allclose(loaded.encode(x)[0], tiny_model.encode(x)[0])


@pytest.mark.parametrize("dec_layers", [1, 2])
def test_greedy_decode_agrees_with_teacher_forcing(dec_layers):
    """Greedy decode must be the argmax of the teacher-forced decoder fed its own output."""
    set_seed(0)
    model = MusicVAE(VAEConfig(latent_dim=16, enc_hidden=32, dec_hidden=64, dec_layers=dec_layers)).eval()
    z = torch.randn(6, 16) * 2
    tokens = model.decode(z)
    with torch.no_grad():
        assert torch.equal(model.decode_logits(z, tokens).argmax(-1), tokens)


def test_attributes_of_clips():
    from vae.model import mean_pitch, onset_count

    clips = torch.tensor([[60] + [128] * 15 + [64] + [128] * 15, [129] * 32])
    assert mean_pitch(clips)[0] == 62.0 and torch.isnan(mean_pitch(clips)[1])
    assert onset_count(clips).tolist() == [2.0, 0.0]


def test_attribute_loss_is_zero_for_a_perfectly_ordered_batch():
    from vae.model import attribute_loss

    values = torch.tensor([60.0, 62.0, 55.0, float("nan"), 70.0])
    ordered = attribute_loss(values * 10, values, delta=10.0)
    assert ordered == 0.0
    reversed_ = attribute_loss(-values * 10, values, delta=10.0)
    assert reversed_ == 1.5  # all 12 ordered pairs of the 4 valid clips disagree (|±1 - ∓1| = 2); 4 diagonal 0s
    with pytest.raises(ValueError, match="unknown attributes"):
        VAEConfig(reg_attributes=("loudness",))


def test_a_short_run_makes_the_tied_dim_rank_the_attribute():
    from vae.model import mean_pitch

    set_seed(0)
    gen = torch.Generator().manual_seed(0)
    config = VAEConfig(latent_dim=16, enc_hidden=32, dec_hidden=64, reg_attributes=("pitch",), reg_gamma=1.0)
    model = MusicVAE(config)
    # Clips of one repeated note at random pitches and random densities.
    pitch = torch.randint(40, 90, (64,), generator=gen)
    clips = torch.full((64, 32), 128)
    for i in range(64):
        step = int([2, 4, 8][i % 3])
        clips[i, ::step] = pitch[i]
    target = mean_pitch(clips)
    before = spearman(model.encode(clips)[0][:, 0].detach(), target)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(60):
        out = model(clips)
        assert "reg" in out
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
    after = spearman(model.encode(clips)[0][:, 0].detach(), target)
    assert after > 0.9 and after > before + 0.3, (before, after)
