"""MusicVAE for 2-bar melodies: bidirectional GRU encoder, z-conditioned GRU decoder."""

from __future__ import annotations

import random
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from torch import nn

from vae.melody import CLIP_STEPS, N_PITCHES, N_STATES


def mean_pitch(tokens: torch.Tensor) -> torch.Tensor:
    """Mean MIDI pitch of the onsets of each clip (B, 32) -> (B,) float; NaN for a clip without onsets."""
    onset = tokens < N_PITCHES
    count = onset.sum(-1)
    total = torch.where(onset, tokens, torch.zeros_like(tokens)).sum(-1).float()
    return torch.where(count > 0, total / count.clamp(min=1), torch.full_like(total, float("nan")))


def onset_count(tokens: torch.Tensor) -> torch.Tensor:
    """Number of note onsets of each clip (B, 32) -> (B,) float (note density)."""
    return (tokens < N_PITCHES).sum(-1).float()


# Attributes a latent dim can be tied to: name -> function of clips (B, 32) -> (B,), NaN where undefined.
ATTRIBUTES = {"pitch": mean_pitch, "density": onset_count}


def attribute_loss(z: torch.Tensor, values: torch.Tensor, delta: float) -> torch.Tensor:
    """AR-VAE's pairwise loss: mean over pairs |tanh(δ (z_i - z_j)) - sign(a_i - a_j)|.

    Args:
        z: (B,) the tied latent dim.
        values: (B,) the attribute; pairs with a NaN are left out.
        delta: sharpness δ.

    Returns:
        scalar tensor, 0 when z orders the batch exactly as the attribute does (and far apart).
    """
    valid = ~torch.isnan(values)
    z, values = z[valid], values[valid]
    if len(z) < 2:
        return z.sum() * 0.0
    dz = torch.tanh(delta * (z[:, None] - z[None, :]))  # (B, B)
    da = torch.sign(values[:, None] - values[None, :])  # (B, B)
    return (dz - da).abs().mean()


@dataclass
class VAEConfig:
    n_states: int = N_STATES  # 128 onsets + hold + rest
    seq_len: int = CLIP_STEPS  # 2 bars x 16 steps
    latent_dim: int = 128  # size of z (paper: 128)
    enc_hidden: int = 512  # units per direction of the encoder's bidirectional GRU
    enc_layers: int = 1  # encoder GRU layers
    dec_hidden: int = 512  # decoder GRU units
    dec_layers: int = 1  # decoder GRU layers
    dropout: float = 0.0  # between stacked GRU layers
    beta: float = 0.1  # weight of the KL term (paper: 0.1)
    kl_norm: str = "sum"  # "sum": per-clip ELBO (KL summed over z) / 32; "mean": KL averaged over z (EC2-VAE)
    # Attribute regularisation (AR-VAE, Pati & Lerch 2020): latent dim i is tied to reg_attributes[i].
    reg_attributes: tuple[str, ...] = ()  # names from ATTRIBUTES, e.g. ("pitch", "density"); () = the paper's recipe
    reg_gamma: float = 0.0  # weight γ of the regularisation loss; 0 = the paper's recipe
    reg_delta: float = 10.0  # sharpness δ in tanh(δ (z_i - z_j))

    def __post_init__(self):
        if self.kl_norm not in ("mean", "sum"):
            raise ValueError(f"kl_norm must be 'mean' or 'sum', got {self.kl_norm!r}")
        self.reg_attributes = tuple(self.reg_attributes)
        unknown = [a for a in self.reg_attributes if a not in ATTRIBUTES]
        if unknown:
            raise ValueError(f"unknown attributes {unknown}; known: {sorted(ATTRIBUTES)}")
        if len(self.reg_attributes) > self.latent_dim:
            raise ValueError(f"{len(self.reg_attributes)} attributes need at least as many latent dims")
        if self.reg_gamma < 0 or self.reg_delta <= 0:
            raise ValueError("reg_gamma must be >= 0 and reg_delta > 0")

    @classmethod
    def from_dict(cls, d: dict) -> VAEConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config fields {sorted(unknown)}; this version knows {sorted(known)}")
        return cls(**d)


PRESETS = {
    "tiny": VAEConfig(latent_dim=16, enc_hidden=32, dec_hidden=64),  # tests: builds in milliseconds
    "small": VAEConfig(enc_hidden=256, dec_hidden=512),  # the shipped model, trains on 2 CPU cores
    # The sizes of the paper's code, 2048 wide. Named apart from the bundled "paper" model, which is the paper's
    # recipe at the small size (until 2026-12 this preset was called "paper"; configs store sizes, not names).
    "wide": VAEConfig(enc_hidden=2048, dec_hidden=2048, dec_layers=3),
}


def set_seed(seed: int) -> None:
    """Seed random, numpy and torch."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class MusicVAE(nn.Module, PyTorchModelHubMixin, library_name="melody-knobs", tags=["music", "vae", "midi"]):
    """VAE over clips of 32 tokens (see ``vae.melody`` for the token ids).

    Encoder: one-hot tokens -> bidirectional GRU -> (mu, logvar) of a ``latent_dim`` z.
    Decoder: GRU whose initial state comes from z and whose input at step t is the one-hot of
    token t-1 (zeros at t = 0) concatenated with z; outputs logits over ``n_states``.
    """

    def __init__(self, config: VAEConfig | dict | None = None):
        super().__init__()
        if config is None:
            config = PRESETS["small"]
        if isinstance(config, dict):
            config = VAEConfig.from_dict(config)
        self.config = config
        c = config
        self.encoder = nn.GRU(c.n_states, c.enc_hidden, num_layers=c.enc_layers, batch_first=True,
                              bidirectional=True, dropout=c.dropout if c.enc_layers > 1 else 0.0)
        self.to_mu = nn.Linear(2 * c.enc_hidden * c.enc_layers, c.latent_dim)
        self.to_logvar = nn.Linear(2 * c.enc_hidden * c.enc_layers, c.latent_dim)
        self.z_to_hidden = nn.Linear(c.latent_dim, c.dec_hidden * c.dec_layers)
        self.decoder = nn.GRU(c.n_states + c.latent_dim, c.dec_hidden, num_layers=c.dec_layers,
                              batch_first=True, dropout=c.dropout if c.dec_layers > 1 else 0.0)
        self.out = nn.Linear(c.dec_hidden, c.n_states)

    # ------------------------------------------------------------------ encoder

    def _check_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        if tokens.dim() != 2 or tokens.shape[1] != self.config.seq_len:
            raise ValueError(f"expected tokens of shape (B, {self.config.seq_len}), got {tuple(tokens.shape)}")
        if tokens.numel() and (tokens.min() < 0 or tokens.max() >= self.config.n_states):
            raise ValueError(f"token ids must lie in 0..{self.config.n_states - 1}")
        return tokens.long()

    def encode(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encode clips.

        Args:
            tokens: LongTensor (B, 32) of token ids.

        Returns:
            mu, logvar: two FloatTensors (B, latent_dim).
        """
        tokens = self._check_tokens(torch.as_tensor(tokens, device=self.out.weight.device))
        x = F.one_hot(tokens, self.config.n_states).float()  # (B, T, S)
        _, h = self.encoder(x)  # (layers * 2, B, H)
        h = h.transpose(0, 1).reshape(len(tokens), -1)  # (B, layers * 2 * H)
        return self.to_mu(h), self.to_logvar(h)

    # ------------------------------------------------------------------ decoder

    def _initial_state(self, z: torch.Tensor) -> torch.Tensor:
        c = self.config
        h = torch.tanh(self.z_to_hidden(z))  # (B, layers * H)
        return h.view(len(z), c.dec_layers, c.dec_hidden).transpose(0, 1).contiguous()  # (layers, B, H)

    def _inputs(self, prev_tokens: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Decoder inputs (B, T, S + Z) for the tokens before each step (-1 = start: all zeros)."""
        onehot = F.one_hot(prev_tokens.clamp(min=0), self.config.n_states).float()
        onehot = onehot * (prev_tokens >= 0).unsqueeze(-1)  # (B, T, S)
        return torch.cat([onehot, z.unsqueeze(1).expand(-1, prev_tokens.shape[1], -1)], dim=-1)

    def decode_logits(self, z: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (B, T, S): step t sees the true tokens before it and z.

        A token id of -1 is a blank input (all-zero one-hot), as at the first step.
        """
        prev = torch.cat([torch.full_like(tokens[:, :1], -1), tokens[:, :-1]], dim=1)  # (B, T)
        out, _ = self.decoder(self._inputs(prev, z), self._initial_state(z))  # (B, T, H)
        return self.out(out)

    @torch.no_grad()
    def decode(self, z: torch.Tensor, temperature: float = 0.0, generator: torch.Generator | None = None
               ) -> torch.Tensor:
        """Decode latent vectors into clips, all in one batch.

        Args:
            z: FloatTensor (B, latent_dim).
            temperature: 0 for greedy (argmax fed back); > 0 samples from softmax(logits / t).
            generator: optional torch.Generator for reproducible sampling.

        Returns:
            LongTensor (B, 32) of token ids.
        """
        z = torch.as_tensor(z, dtype=torch.float32, device=self.out.weight.device)
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"expected z of shape (B, {self.config.latent_dim}), got {tuple(z.shape)}")
        if temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {temperature}")
        if self.config.dec_layers == 1:
            step = self._fast_step(z)
        else:
            def step(prev, h):
                o, h = self.decoder(self._inputs(prev[:, None], z), h)  # (B, 1, H)
                return self.out(o[:, 0]), h
        h = self._initial_state(z)
        prev = torch.full((len(z),), -1, dtype=torch.long, device=z.device)
        out = []
        for _ in range(self.config.seq_len):
            logits, h = step(prev, h)  # (B, S)
            if temperature == 0:
                prev = logits.argmax(-1)
            else:
                probs = F.softmax(logits / temperature, dim=-1)
                prev = torch.multinomial(probs, 1, generator=generator)[:, 0]
            out.append(prev)
        return torch.stack(out, dim=1)

    def _fast_step(self, z: torch.Tensor):
        """One decoder step for a 1-layer GRU with z's input projection computed once.

        The input is one-hot(prev) + z, so its projection is a column of W_ih plus a term that
        does not change over the 32 steps: the step costs one (H x 3H) product instead of two.
        """
        w_ih, w_hh = self.decoder.weight_ih_l0, self.decoder.weight_hh_l0  # (3H, S + Z), (3H, H)
        b_hh = self.decoder.bias_hh_l0
        n_states = self.config.n_states
        from_z = z @ w_ih[:, n_states:].T + self.decoder.bias_ih_l0  # (B, 3H)
        token_cols = torch.cat([w_ih[:, :n_states].T, torch.zeros_like(w_ih[:, :1].T)])  # (S + 1, 3H): row S = start

        def step(prev: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            h0 = h[0]  # (B, H)
            gi = from_z + token_cols[torch.where(prev < 0, n_states, prev)]  # (B, 3H)
            gh = torch.addmm(b_hh, h0, w_hh.T)  # (B, 3H)
            i_r, i_z, i_n = gi.chunk(3, dim=1)
            h_r, h_z, h_n = gh.chunk(3, dim=1)
            r = torch.sigmoid(i_r + h_r)
            u = torch.sigmoid(i_z + h_z)
            h_new = torch.lerp(torch.tanh(i_n + r * h_n), h0, u)  # (1 - u) * n + u * h
            return self.out(h_new), h_new[None]

        return step

    # ------------------------------------------------------------------ training

    def forward(self, tokens: torch.Tensor, sample_prob: float = 0.0, input_dropout: float = 0.0) -> dict:
        """Loss of a batch of clips (B, 32).

        ``sample_prob`` is scheduled sampling: each decoder input is replaced, with this
        probability, by the model's own greedy prediction from a teacher-forced first pass
        (a two-pass approximation that keeps the decoder a single GRU call). ``input_dropout``
        blanks each decoder input with this probability (word dropout), so the decoder has to
        read the melody from z rather than guess it from the previous token.

        Returns:
            dict with ``loss``, ``nll`` (mean per token), ``kl`` (mean per clip, nats),
            ``logits`` (B, T, S), ``mu`` and ``logvar``.
        """
        tokens = self._check_tokens(tokens)
        mu, logvar = self.encode(tokens)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        inputs = tokens
        if sample_prob > 0:
            with torch.no_grad():
                guess = self.decode_logits(z, tokens).argmax(-1)
            mask = torch.rand(tokens.shape, device=tokens.device) < sample_prob
            inputs = torch.where(mask, guess, tokens)
        if input_dropout > 0:
            blank = torch.rand(tokens.shape, device=tokens.device) < input_dropout
            inputs = torch.where(blank, torch.full_like(inputs, -1), inputs)
        logits = self.decode_logits(z, inputs)
        # Shift the prediction targets: decode_logits predicts tokens[t] from inputs[:t].
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.reshape(-1))
        kl_el = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())  # (B, Z)
        if self.config.kl_norm == "mean":
            loss = nll + self.config.beta * kl_el.mean()
        else:
            # The per-clip ELBO divided by 32 steps, so the loss is on the per-token NLL's scale.
            loss = nll + self.config.beta * kl_el.sum(-1).mean() / self.config.seq_len
        out = {"loss": loss, "nll": nll, "kl": kl_el.sum(-1).mean(), "logits": logits, "mu": mu, "logvar": logvar}
        reg = self.regularisation(z, tokens)
        if reg is not None:
            out["reg"] = reg
            out["loss"] = loss + self.config.reg_gamma * reg
        return out

    def regularisation(self, z: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor | None:
        """Sum over the tied dims of ``attribute_loss`` (None when no attribute is tied)."""
        c = self.config
        if not c.reg_attributes or c.reg_gamma == 0:
            return None
        return sum(attribute_loss(z[:, i], ATTRIBUTES[name](tokens), c.reg_delta)
                   for i, name in enumerate(c.reg_attributes))

    @torch.no_grad()
    def reconstruct(self, tokens: torch.Tensor) -> torch.Tensor:
        """Greedy reconstruction: decode(mu(tokens)), LongTensor (B, 32). A user's one-call round trip; the
        project's measures batch the same work themselves (:func:`vae.measures.reconstruction_accuracy`)."""
        return self.decode(self.encode(tokens)[0])
