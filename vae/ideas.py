"""Ideas beyond the paper's knobs: analogy (the pitch of one song with the rhythm of another),
melodies sampled from the prior, and variations of a song.

- **Analogy** (EC²-VAE's headline): clip by clip, z = z_A with its rhythm dims taken from z_B; a mix
  in 0…1 slerps only those dims from A's towards B's. The control does the same swap on as many
  random dims outside pitch ∪ rhythm (:func:`vae.knobs.control_dims`).
- **Sampling** (MusicVAE's): z ~ N(0, I), decoded greedily (temperature 0) or sampled.
- **Variations**: each clip's z drawn around its latent (fitted to the clip, or μ), z = z₀ + spread · σ · ε,
  with σ the encoder's.

Every random draw comes from a ``torch.Generator`` seeded by the caller: the same seed gives the
same melodies.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from vae import latent
from vae.dims import KnobSpace
from vae.inference import decode_z, device_of, encode_z, inference
from vae.knobs import control_dims
from vae.melody import (
    CLIP_STEPS,
    HOLD,
    N_PITCHES,
    REST,
    STEPS_PER_BAR,
    check_tokens,
    join_clips,
    normalize_tokens,
    split_clips,
)

DIRECTIONS = ("a_pitch", "a_rhythm")  # A's pitch with B's rhythm, or A's rhythm with B's pitch
MIX_RANGE = (0.0, 1.0)
TEMPERATURE_RANGE = (0.0, 3.0)  # 0: greedy decoding
SPREAD_RANGE = (0.0, 3.0)  # in units of the encoder's σ
MAX_SAMPLES = 64  # melodies per call (the app shows up to 16)


@dataclass(frozen=True)
class Analogy:
    """What an analogy takes from which song (see :func:`analogy`)."""

    mix: float = 1.0  # 0 decodes the pitch song as it is, 1 takes the rhythm song's rhythm dims whole
    direction: str = "a_pitch"  # "a_pitch": A's pitch, B's rhythm (as long as A); "a_rhythm": the other way
    control: bool = False  # swap random non-significant dims instead of the rhythm dims


@dataclass(frozen=True)
class Variations:
    """How many versions of a song :func:`variations` draws, and how far from it."""

    n: int = 4  # versions, 1..MAX_SAMPLES
    spread: float = 1.0  # in units of the encoder's σ, within SPREAD_RANGE
    seed: int = 0  # seeds the draw (and the sampling at temperature > 0)
    temperature: float = 0.0  # 0: greedy decoding, else sampling at this temperature


@dataclass(frozen=True, eq=False)
class SongSet:
    """Melodies shown together (samples or variations), as the page keeps them for a click on one."""

    songs: list[np.ndarray] = field(default_factory=list)  # int64 (T_i,) each
    bpm: float = 120.0  # the tempo they play at, quarter notes per minute
    stem: str = "melodies"  # file-name stem: song i is "<stem>_<i + 1>"


def _check(name: str, value: float, bounds: tuple[float, float]) -> float:
    value = float(value)
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name} must be between {bounds[0]:g} and {bounds[1]:g}, got {value:g}")
    return value


def generator(seed: int) -> torch.Generator:
    """A CPU torch.Generator seeded with ``seed`` (a whole number >= 0)."""
    if int(seed) != seed or seed < 0:
        raise ValueError(f"the seed must be a whole number >= 0, got {seed}")
    return torch.Generator().manual_seed(int(seed))


# ----------------------------------------------------------------------------- analogy


def swap_dims(z_base: Tensor, z_other: Tensor, dims: Tensor, mix: float = 1.0) -> Tensor:
    """z_base (N, D) with the subvector on ``dims`` slerped towards z_other's (N, D) by ``mix``.

    mix = 0 gives z_base, mix = 1 puts z_other's values on those dims exactly.
    """
    mix = _check("the mix", mix, MIX_RANGE)
    out = z_base.clone()
    out[:, dims] = latent.slerp(z_base[:, dims], z_other[:, dims], mix)
    return out


def paired(z_a: Tensor, z_b: Tensor) -> Tensor:
    """z_b's rows repeated (clip 1, 2, …, 1, 2, …) or cut to as many rows as z_a (N_A, D)."""
    return z_b[torch.arange(len(z_a)) % len(z_b)]


def analogy_latents(z_a: Tensor, z_b: Tensor, space: KnobSpace, mix: float = 1.0, control: bool = False) -> Tensor:
    """z_a (N, D) with its rhythm dims slerped towards z_b's (clips paired, :func:`paired`) by ``mix``.

    With ``control`` the swap happens on the rhythm dims' random stand-ins instead.
    """
    rhythm = control_dims(space)[1] if control else space.rhythm_dims
    return swap_dims(z_a, paired(z_a, z_b), rhythm, mix)


def analogy(model, space: KnobSpace, song_a: np.ndarray, song_b: np.ndarray, how: Analogy | None = None,
            faithful: bool = True) -> np.ndarray:
    """The pitch of one song with the rhythm of the other, clip by clip: int64 tokens.

    Args:
        model: the VAE.
        space: the model's knob space (its pitch and rhythm dims).
        song_a, song_b: int arrays (T_A,), (T_B,) of token ids.
        how: the mix, the direction and the control (:class:`Analogy`; default: A's pitch with all of B's
            rhythm). The rhythm song's clips repeat when it is shorter.
        faithful: both songs' latents fitted to their clips (so mix 0 plays the pitch song itself), else μ.

    Returns:
        int64 (T,) with T the length of the song whose pitch is kept.
    """
    how = how or Analogy()
    if how.direction not in DIRECTIONS:
        raise ValueError(f"the direction must be one of {', '.join(DIRECTIONS)}, got {how.direction!r}")
    pitch_song, rhythm_song = (song_a, song_b) if how.direction == "a_pitch" else (song_b, song_a)
    pitch_song = check_tokens(np.asarray(pitch_song))
    z_p = encode_z(model, split_clips(pitch_song), faithful)
    z_r = encode_z(model, split_clips(check_tokens(np.asarray(rhythm_song))), faithful)
    out = decode_z(model, analogy_latents(z_p, z_r, space, how.mix, how.control))
    return join_clips(out)[: len(pitch_song)]


# ----------------------------------------------------------------------------- the prior and variations


def sample(model, n: int, temperature: float = 0.0, seed: int = 0) -> np.ndarray:
    """``n`` new 2-bar melodies from the prior z ~ N(0, I): int64 (n, 32).

    temperature 0 decodes greedily; > 0 samples each step from softmax(logits / temperature).
    """
    if int(n) != n or not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"the number of melodies must be a whole number from 1 to {MAX_SAMPLES}, got {n}")
    temperature = _check("the temperature", temperature, TEMPERATURE_RANGE)
    gen = generator(seed)
    z = torch.randn(int(n), model.config.latent_dim, generator=gen)
    return _decode(model, z, temperature, gen)


def _decode(model, z: Tensor, temperature: float, gen: torch.Generator) -> np.ndarray:
    if temperature == 0:
        return decode_z(model, z)
    with inference(model):
        return model.decode(z.to(device_of(model)), temperature, gen).cpu().numpy().astype(np.int64)


def posterior(model, clips: np.ndarray) -> tuple[Tensor, Tensor]:
    """μ and σ (N, D) of clips (N, 32), on the CPU."""
    with inference(model):
        mu, logvar = model.encode(torch.as_tensor(clips, dtype=torch.long, device=device_of(model)))
    return mu.float().cpu(), (0.5 * logvar.float()).exp().cpu()


def variations(model, song: np.ndarray, how: Variations | None = None, faithful: bool = True) -> np.ndarray:
    """``how.n`` versions of a song (T,): each clip's z = z₀ + spread · σ · ε, ε ~ N(0, I): int64 (n, T).

    z₀ is the clip's latent fitted to it when ``faithful`` (spread 0 then plays the song itself), else μ
    (spread 0 plays the model's reconstruction); σ is the encoder's. Spread 1 draws as widely as the
    encoder's posterior. ``how`` (:class:`Variations`) also gives the seed and the decoding temperature.
    """
    how = how or Variations()
    n, seed = how.n, how.seed
    if int(n) != n or not 1 <= n <= MAX_SAMPLES:
        raise ValueError(f"the number of variations must be a whole number from 1 to {MAX_SAMPLES}, got {n}")
    spread = _check("the spread", how.spread, SPREAD_RANGE)
    temperature = _check("the temperature", how.temperature, TEMPERATURE_RANGE)
    song = check_tokens(np.asarray(song))
    clips = split_clips(song)
    mu, sigma = posterior(model, clips)
    if faithful:
        mu = encode_z(model, clips)
    gen = generator(seed)
    eps = torch.randn(int(n), *mu.shape, generator=gen)  # (n, N, D)
    z = (mu + spread * sigma * eps).reshape(-1, mu.shape[1])
    clips = _decode(model, z, temperature, gen).reshape(int(n), -1, CLIP_STEPS)
    return np.stack([join_clips(c)[: len(song)] for c in clips])


def join_with_rests(pieces, rest_steps: int = STEPS_PER_BAR) -> np.ndarray:
    """Pieces (each (T_i,)) one after another with ``rest_steps`` of rest between: int64 (T,)."""
    pieces = [check_tokens(np.asarray(p)) for p in pieces]
    if not pieces:
        raise ValueError("nothing to join")
    rest = np.full(rest_steps, REST, dtype=np.int64)
    out = [x for p in pieces for x in (p, rest)][:-1]
    return normalize_tokens(np.concatenate(out))  # a piece that starts with a hold starts with a rest


# ----------------------------------------------------------------------------- how well an analogy worked

ONSET, SOUNDING, SILENT = 0, 1, 2  # the rhythm class of a step


def rhythm_classes(tokens: np.ndarray) -> np.ndarray:
    """int (T,): each step's onset / hold / rest class (a hold after a rest counts as rest)."""
    tokens = normalize_tokens(check_tokens(np.asarray(tokens)))
    return np.where(tokens < N_PITCHES, ONSET, np.where(tokens == HOLD, SOUNDING, SILENT))


def sounding_pitch(tokens: np.ndarray) -> np.ndarray:
    """float (T,): the MIDI pitch sounding at each step, NaN where silent."""
    tokens = normalize_tokens(check_tokens(np.asarray(tokens)))
    out = np.full(len(tokens), np.nan)
    current = np.nan
    for i, tok in enumerate(tokens.tolist()):
        current = float(tok) if tok < N_PITCHES else (current if tok == HOLD else np.nan)
        out[i] = current
    return out


def rhythm_agreement(x: np.ndarray, y: np.ndarray) -> float:
    """Share of steps where two equally long songs have the same onset / hold / rest class."""
    return float((rhythm_classes(x) == rhythm_classes(y)).mean())


def pitch_distance(x: np.ndarray, y: np.ndarray) -> float:
    """Mean |pitch_x − pitch_y| in semitones over the steps where both sound; NaN when none."""
    px, py = sounding_pitch(x), sounding_pitch(y)
    both = ~np.isnan(px) & ~np.isnan(py)
    return float(np.abs(px[both] - py[both]).mean()) if both.any() else float("nan")
