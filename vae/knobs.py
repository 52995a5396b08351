"""Knobs: where the pitch, rhythm and residual knobs stand, and turning them on a song or a grid.

One path for every caller (the app, the measures, the report's figures): :func:`apply` checks the
:class:`Knobs`, moves the latents of the clips in the bar range with :func:`move` and decodes them.
Each knob's move comes from :func:`knob_move`, which asks the model's :class:`~vae.dims.KnobSpace` how
that knob moves (:meth:`~vae.dims.KnobSpace.kind`: along a direction, or along fitted transport maps);
a new kind of knob is one more entry in ``MOVES``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

from vae import curves, latent
from vae.dims import KNOBS, KnobSpace
from vae.inference import decode_z, encode_z
from vae.melody import CLIP_STEPS, STEPS_PER_BAR, check_tokens, join_clips, split_clips

PITCH_RANGE = (-12.0, 12.0)  # semitones (+1 ≈ one semitone)
RHYTHM_RANGE = (-2.0, 3.0)  # splits (+1 ≈ each note split in two)
RESIDUAL_RANGE = (-3.0, 3.0)  # standard deviations of the clips along the residual axis
OFFSET_RANGE = (-4.0, 4.0)  # raw latent units added to one pitch or rhythm dim
GRID_RANGE = (3, 7)  # cells per side of the interpolation grid
CONTROL_SEED = 0  # the random control moves onto the same dims every time, so results can be shared


def _check_range(name: str, value: float, bounds: tuple[float, float], unit: str) -> float:
    value = float(value)
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name} must be between {bounds[0]:+g} and {bounds[1]:+g} {unit}, got {value:g}")
    return value


def _clip(value: float, bounds: tuple[float, float]) -> float:
    return float(min(max(value, bounds[0]), bounds[1]))


class Controls(NamedTuple):
    """The knob controls' values as the page's widgets and the API send them, in that order (not yet checked)."""

    pitch: float = 0.0  # semitones
    rhythm: float = 0.0  # splits
    residual: float = 0.0  # standard deviations
    control: bool = False  # the random control
    bar_from: int | None = 1  # first bar moved, from 1 (None: the first)
    bar_to: int | None = None  # last bar moved (None, or past the end: the song's last)
    offsets: Sequence[float] | str | None = ()  # per-dimension offsets, as numbers or text "0.5,0,-1"


@dataclass(frozen=True)
class Knobs:
    """Where the knobs stand (DESIGN "Knob effects" for the units)."""

    pitch: float = 0.0  # semitones
    rhythm: float = 0.0  # splits
    residual: float = 0.0  # standard deviations
    control: bool = False  # move the pitch and rhythm amounts onto random non-significant dims instead
    bars: tuple[int, int] | None = None  # (first, last) bar, counted from 1, both included; None: all
    offsets: tuple[float, ...] = ()  # raw latent move per pitch dim, then per rhythm dim

    def amounts(self) -> dict[str, float]:
        """Knob name -> amount, in the order of ``vae.dims.KNOBS``."""
        return {"pitch": self.pitch, "rhythm": self.rhythm, "residual": self.residual}

    def moved(self) -> str:
        """The knobs away from rest, in words, e.g. 'pitch +5, rhythm -1, 2 dim sliders (random control)';
        '' at rest (the bar range aside: a new song gets its own)."""
        words = [f"{knob} {value:+g}" for knob, value in self.amounts().items() if value]
        if n := sum(1 for v in self.offsets if v):
            words.append(f"{n} dim slider{'s' * (n > 1)}")
        return ", ".join(words) + " (random control)" * (self.control and bool(words))

    def checked(self, n_bars: int, n_offsets: int) -> Knobs:
        """These knobs, validated for a song of ``n_bars`` and a model with ``n_offsets`` dims.

        A bar range that covers the whole song becomes None. Raises ValueError when out of range.
        """
        _check_range("pitch", self.pitch, PITCH_RANGE, "semitones")
        _check_range("rhythm", self.rhythm, RHYTHM_RANGE, "splits")
        _check_range("residual", self.residual, RESIDUAL_RANGE, "standard deviations")
        offsets = tuple(float(v) for v in self.offsets) or (0.0,) * n_offsets
        if len(offsets) != n_offsets:
            raise ValueError(f"expected {n_offsets} per-dimension offsets (pitch dims, then rhythm dims), "
                             f"got {len(offsets)}")
        for value in offsets:
            _check_range("a per-dimension offset", value, OFFSET_RANGE, "latent units")
        bars = self.bars
        if bars is not None:
            first, last = (int(b) for b in bars)
            if not 1 <= first <= last <= n_bars:
                raise ValueError(f"the bar range must satisfy 1 <= from <= to <= {n_bars} (this song has "
                                 f"{n_bars} bars), got {first} to {last}")
            bars = None if (first, last) == (1, n_bars) else (first, last)
        return replace(self, bars=bars, offsets=offsets)

    def clamped(self) -> Knobs:
        """These knobs with every amount moved into its range (for values read from a link)."""
        return replace(self, pitch=_clip(self.pitch, PITCH_RANGE), rhythm=_clip(self.rhythm, RHYTHM_RANGE),
                       residual=_clip(self.residual, RESIDUAL_RANGE),
                       offsets=tuple(_clip(v, OFFSET_RANGE) for v in self.offsets))

    @classmethod
    def from_controls(cls, controls: Controls, n_bars: int) -> Knobs:
        """Knobs as the page's controls or an API call give them (not yet checked): ``offsets`` as numbers
        or text "0.5,0,-1" (see :func:`parse_offsets`); a last bar past the song's end means its end."""
        offsets = controls.offsets
        if isinstance(offsets, str) or offsets is None:
            offsets = parse_offsets(offsets)
        last = min(int(controls.bar_to or n_bars), n_bars)
        return cls(controls.pitch, controls.rhythm, controls.residual, bool(controls.control),
                   (int(controls.bar_from or 1), last), tuple(offsets))

    def title(self, name: str, offset_names: list[str] | tuple[str, ...] = ()) -> str:
        """A result's caption, e.g. 'twinkle: pitch +3, rhythm +0, residual +0', with each per-dimension offset that
        is not 0 when ``offset_names`` names them (e.g. ', pitch dim 4 +2.5')."""
        moved = "".join(f", {n} {float(v):+g}" for n, v in zip(offset_names, self.offsets, strict=False) if v)
        return (f"{name}: pitch {self.pitch:+g}, rhythm {self.rhythm:+g}, residual {self.residual:+g}{moved}"
                + " (random control)" * self.control)

    def stem(self, name: str) -> str:
        """A file-name stem for a result, e.g. 'twinkle_pitch+3_rhythm+1'."""
        parts = [name] + [f"{knob}{value:+g}" for knob, value in self.amounts().items() if value]
        return "_".join(parts + ["dims"] * any(self.offsets) + ["control"] * self.control)


def parse_offsets(text: str | None) -> tuple[float, ...]:
    """Per-dimension offsets written "0.5,0,-1" (pitch dims, then rhythm dims); "" or None: none given."""
    try:
        return tuple(float(v) for v in (text or "").replace(" ", "").split(",") if v)
    except ValueError:
        raise ValueError(f"per-dimension offsets must be numbers separated by commas, like 0.5,0,-1; got {text!r}") \
            from None


# ----------------------------------------------------------------------------- moves


def control_dims(space: KnobSpace, seed: int = CONTROL_SEED) -> tuple[Tensor, Tensor]:
    """The random control's stand-ins for the pitch dims and the rhythm dims (paper figs 6b/7b).

    Returns:
        (pitch_ctrl, rhythm_ctrl): LongTensors of the lengths of the pitch and rhythm dims, all
        distinct and outside pitch ∪ rhythm; the same seed gives the same dims.
    """
    p, r = space.pitch_dims, space.rhythm_dims
    ctrl = latent.random_control_dims(space.latent_dim, torch.cat([p, r]).unique(), len(p) + len(r), seed)
    return ctrl[:len(p)], ctrl[len(p):]


def _linear_move(z: Tensor, space: KnobSpace, knob: str, amount: float) -> Tensor:
    return (amount * space.directions[knob]).to(z.dtype).expand_as(z)


def _transport_move(z: Tensor, space: KnobSpace, knob: str, amount: float) -> Tensor:
    return latent.transport_move(z, space.transport["forward"], space.transport["backward"], amount, space.pitch_dims)


def _curve_move(z: Tensor, space: KnobSpace, knob: str, amount: float) -> Tensor:
    return curves.move_along(z, space.curves[knob], amount)


# How each kind of knob (KnobSpace.kind) moves z: (z (N, D), space, knob, amount) -> move (N, D).
MOVES: dict[str, Callable[[Tensor, KnobSpace, str, float], Tensor]] = {"linear": _linear_move,
                                                                   "transport": _transport_move,
                                                                   "curve": _curve_move}


def knob_move(z: Tensor, space: KnobSpace, knob: str, amount: float, control: bool = False,
              seed: int = CONTROL_SEED) -> Tensor:
    """The move (N, D) that ``amount`` of one knob adds to each latent of z (N, D).

    A linear knob adds the same vector to every row; the transport pitch knob moves each row by
    its own amount. With ``control`` the pitch and rhythm moves are carried over, component for
    component, onto the random control dims (:func:`control_dims`).
    """
    move = MOVES[space.kind(knob)](z, space, knob, float(amount))
    if control and knob != "residual":
        own = space.pitch_dims if knob == "pitch" else space.rhythm_dims
        move = latent.carry_over(move, own, control_dims(space, seed)[KNOBS.index(knob)])
    return move


def offset_vector(space: KnobSpace, offsets: tuple[float, ...]) -> Tensor:
    """FloatTensor (D,) with ``offsets`` on the pitch dims, then the rhythm dims, zeros elsewhere."""
    out = torch.zeros(space.latent_dim)
    for d, value in zip(torch.cat([space.pitch_dims, space.rhythm_dims]).tolist(), offsets, strict=True):
        out[d] += float(value)
    return out


def move(z: Tensor, space: KnobSpace, knobs: Knobs, seed: int = CONTROL_SEED) -> Tensor:
    """Latents z (N, D) with every knob of ``knobs`` turned (the bar range aside): FloatTensor (N, D).

    The per-dimension offsets are added after the knobs' moves; with ``control`` their pitch-dim
    and rhythm-dim components go onto the control dims like the knobs.
    """
    if space.latent_dim != z.shape[-1]:
        raise ValueError(f"the dims are for a {space.latent_dim}-dim latent, the latents are {z.shape[-1]}-dim")
    moves = (knob_move(z, space, knob, amount, knobs.control, seed) for knob, amount in knobs.amounts().items()
             if amount)
    z = z + sum(moves, torch.zeros_like(z))
    if any(knobs.offsets):
        offset = offset_vector(space, knobs.offsets)
        if knobs.control:
            p_ctrl, r_ctrl = control_dims(space, seed)
            offset = latent.carry_over(latent.carry_over(offset, space.pitch_dims, p_ctrl), space.rhythm_dims, r_ctrl)
        z = z + offset
    return z


def clip_rows(n_clips: int, bars: tuple[int, int] | None) -> slice:
    """The clips that hold any of bars (first, last), counted from 1 (clip i holds bars 2i+1, 2i+2)."""
    if bars is None:
        return slice(0, n_clips)
    return slice((bars[0] - 1) // 2, min(n_clips, (bars[1] - 1) // 2 + 1))


def apply(model, space: KnobSpace, tokens: np.ndarray, knobs: Knobs, latents: Tensor | None = None,
          faithful: bool = True) -> np.ndarray:
    """The song with the knobs turned: int64 tokens (T,).

    Every clip in the bar range is moved and decoded (one batch); clips outside it keep their
    original notes, so that only the chosen bars change.

    Args:
        model: the VAE.
        space: the model's knobs.
        tokens: the song, int array (T,).
        knobs: where the knobs stand; checked against the song's length (ValueError when not valid).
        latents: the song's latents (N, D), when cached (``Song.latents``), so that a knob move only decodes.
        faithful: without ``latents``, fit them to the song (else μ; see :func:`vae.inference.encode_z`).
    """
    tokens = check_tokens(np.asarray(tokens))
    knobs = knobs.checked(-(-len(tokens) // STEPS_PER_BAR), space.n_offsets)
    clips = split_clips(tokens)
    z = encode_z(model, clips, faithful) if latents is None else latents
    rows = clip_rows(len(clips), knobs.bars)
    clips[rows] = decode_z(model, move(z[rows], space, knobs))  # the random control on CONTROL_SEED's dims
    return join_clips(clips)[: len(tokens)]


# ----------------------------------------------------------------------------- the 2-way grid


def grid(model, space: KnobSpace, source: np.ndarray, target: np.ndarray, n: int, faithful: bool = True) -> np.ndarray:
    """The paper's 2-way grid between two clips (32,), decoded in one batch: int64 (n, n, 32).

    Rows move the pitch dims from source to target, columns the rhythm dims; cell (0, 0)
    decodes the source's latent and cell (n-1, n-1) the target's (see :func:`vae.latent.interpolation_grid`):
    fitted to each clip when ``faithful``, so that the corners play the clips themselves, else μ.
    """
    if not GRID_RANGE[0] <= int(n) <= GRID_RANGE[1] or int(n) != n:
        raise ValueError(f"the grid size must be a whole number from {GRID_RANGE[0]} to {GRID_RANGE[1]}, got {n}")
    n = int(n)
    z = encode_z(model, np.stack([source, target]), faithful)
    cells = latent.interpolation_grid(z[0], z[1], space.pitch_dims, space.rhythm_dims, n)  # (n, n, D)
    return decode_z(model, cells.reshape(n * n, -1), batch_size=n * n).reshape(n, n, CLIP_STEPS)


@dataclass(frozen=True, eq=False)
class GridState:
    """An interpolation grid as the page keeps it between clicks: its cells and the tempo they play at."""

    cells: np.ndarray  # int64 (n, n, 32), from grid()
    bpm: float  # the source song's tempo, quarter notes per minute

    @property
    def n(self) -> int:
        """Cells per side."""
        return len(self.cells)

    def position(self, index: int) -> tuple[int, int]:
        """(row, column) of the ``index``-th cell counted row by row (a gallery's order, as grid_gallery's)."""
        return divmod(int(index), self.n)




def grid_caption(i: int, j: int, n: int) -> str:
    """Caption of cell (i, j): how far its pitch (row) and rhythm (column) dims are from the source."""
    return f"pitch t={i / (n - 1):.2f} · rhythm t={j / (n - 1):.2f}"


def diagonal(cells: np.ndarray) -> np.ndarray:
    """The cells (i, i) of a grid (n, n, 32) from source to target joined into one melody: int64 (32 n,)."""
    return np.concatenate([cells[i, i] for i in range(len(cells))])
