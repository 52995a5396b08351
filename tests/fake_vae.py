"""Stand-in VAEs whose latent is known, for the tests of dims, knobs and measures."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from vae.melody import HOLD, REST

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


def random_clips(n, seed=0):
    rng = np.random.default_rng(seed)
    clips = rng.choice([HOLD, REST, 60, 62, 64, 67], size=(n, 32))
    clips[:, 0] = rng.integers(48, 90, size=n)
    return clips


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


class TiedVAE(FakeVAE):
    """A VAE trained with attribute regularisation, as far as the knobs can tell: z[0] orders clips by
    mean pitch and z[1] by onset count, each through a squashing (non-linear) map, like a rank loss
    leaves them. Decoding reads both back: 2**k evenly spaced notes at the mean pitch."""

    config = type("Config", (), {"reg_attributes": ("pitch", "density"), "latent_dim": 16})()

    def encode(self, tokens):
        z, logvar = super().encode(tokens)
        onset = torch.as_tensor(tokens) < 128
        n = onset.sum(1).float()
        z[:, 0] = torch.tanh((z[:, 3] - 64) / 12)
        z[:, 1] = torch.sqrt(n) / 6
        return z, logvar

    def decode(self, z):
        pitch = (64 + 12 * torch.atanh(z[:, 0].clamp(-0.999, 0.999))).round().clamp(0, 127).long()
        k = torch.log2((6 * z[:, 1]).clamp_min(0) ** 2).round().clamp(0, 5).long()
        out = torch.full((len(z), 32), HOLD, dtype=torch.long)
        for i in range(len(z)):
            out[i, :: 32 // 2 ** int(k[i])] = pitch[i]
        return out
