"""Attribute curves: the knobs of a model whose latent dims are tied to attributes (AR-VAE).

A model trained with attribute regularisation (``VAEConfig.reg_attributes``) orders one latent
dim by each attribute (mean pitch, onset count), but a rank loss does not make the dim linear in
it. A *curve* is a monotone table attribute → z fitted on data; a knob moves each clip along the
tied dim to the z of its own attribute plus the knob's amount (:func:`curve_move`), so +1 is one
semitone (or twice the notes) in any register. A *calibration* then maps the knob's value to the
amount asked of the curve, fitted on songs so that what the decoder plays follows the label
(:func:`fit_curves`). Both are fitted on validation data and travel in ``dims.json``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import Tensor

from vae.augment import transposable, transpose
from vae.inference import decode_z, encode_mu
from vae.melody import N_PITCHES, check_tokens, join_clips, split_clips
from vae.model import ATTRIBUTES

# knob -> (attribute, log2): the pitch knob moves the mean onset pitch in semitones, the rhythm
# knob the onset count in doublings (+1 = twice the notes, as splitting every note in two).
CURVE_KNOBS = {"pitch": ("pitch", False), "rhythm": ("density", True)}
CALIBRATION_AMOUNTS = {"pitch": (-12, -9, -7, -5, -3, -2, -1, 1, 2, 3, 5, 7, 9, 12),
                       "rhythm": (-2, -1.5, -1, -0.5, 0.5, 1, 1.5, 2, 3)}
N_CURVE_POINTS = 33
MAX_SHIFT = 12  # the curve is fitted on clips moved by up to this many semitones (registers a knob reaches)


@dataclass(frozen=True, eq=False)
class Curve:
    """One curve knob: the table attribute -> z of its tied dim (:func:`fit_curve`) and its calibration
    (:func:`calibrate`), as ``dims.json`` holds it under ``curves`` (:meth:`to_json` / :meth:`from_json`)."""

    dim: int  # the tied latent dim
    attribute: str  # the attribute it is tied to, a name of vae.model.ATTRIBUTES
    log2: bool  # the knob moves the attribute's log2 (counts: +1 = twice as many), else the attribute
    values: Tensor  # FloatTensor (P,): attribute values, increasing
    z: Tensor  # FloatTensor (P,): the tied dim's z at each value, monotone
    knob: tuple[float, ...] = ()  # calibration: knob values, strictly increasing
    request: tuple[float, ...] = ()  # calibration: what each knob value asks of the curve
    rho: float | None = None  # Spearman correlation of the dim with the attribute on the fitting clips
    n_clips: int | None = None  # clips the curve was fitted on
    n_songs: int | None = None  # songs the calibration was measured on

    def to_json(self) -> dict:
        """The curve as JSON types (tensors as lists); unknown facts (None) are left out."""
        out = {"dim": self.dim, "attribute": self.attribute, "log2": self.log2, "values": self.values.tolist(),
               "z": self.z.tolist(), "knob": list(self.knob), "request": list(self.request), "rho": self.rho,
               "n_clips": self.n_clips, "n_songs": self.n_songs}
        return {k: v for k, v in out.items() if v is not None}

    @classmethod
    def from_json(cls, knob: str, raw: dict) -> Curve:
        """Read :meth:`to_json`'s dict for ``knob``; raises ValueError when a table is missing or inconsistent."""
        missing = [k for k in ("dim", "values", "z", "knob", "request") if k not in raw]
        if missing or knob not in CURVE_KNOBS:
            raise ValueError(f"curve for {knob!r} is not valid (missing {missing})")
        curve = cls(dim=int(raw["dim"]), attribute=raw.get("attribute", CURVE_KNOBS[knob][0]),
                    log2=bool(raw.get("log2", False)), values=torch.as_tensor(raw["values"], dtype=torch.float32),
                    z=torch.as_tensor(raw["z"], dtype=torch.float32), knob=tuple(raw["knob"]),
                    request=tuple(raw["request"]), rho=raw.get("rho"), n_clips=raw.get("n_clips"),
                    n_songs=raw.get("n_songs"))
        if curve.values.shape != curve.z.shape or len(curve.values) < 2 or len(curve.knob) != len(curve.request):
            raise ValueError(f"curve for {knob!r}: tables of different lengths")
        return curve


def spearman(a: Tensor, b: Tensor) -> float:
    """Spearman rank correlation of two (N,) tensors, pairs with a NaN left out (ties ranked by order)."""
    keep = ~(torch.isnan(a) | torch.isnan(b))
    if int(keep.sum()) < 3:
        return float("nan")
    ranks = torch.stack([a[keep].argsort().argsort(), b[keep].argsort().argsort()]).double()
    return float(torch.corrcoef(ranks)[0, 1])


def fit_curve(z: Tensor, values: Tensor, n_points: int = 33) -> tuple[Tensor, Tensor, float]:
    """A monotone table from an attribute's values to one latent dim, fitted on data.

    The clips are sorted by the attribute and cut into ``n_points`` groups of equal size; each
    group gives a point (median attribute, median z). The z column is then made monotone in the
    direction of the rank correlation (running maximum, or minimum), so that the table inverts.

    Args:
        z: FloatTensor (N,), one latent dim (μ of N clips).
        values: FloatTensor (N,), the attribute of each clip; NaNs are left out.
        n_points: points in the table.

    Returns:
        (values_table, z_table, rho): two FloatTensors (n_points,), values strictly increasing,
        and the Spearman correlation of z with the attribute.
    """
    keep = ~torch.isnan(values)
    z, values = z[keep].double(), values[keep].double()
    if len(z) < 2 * n_points:
        raise ValueError(f"need at least {2 * n_points} clips with the attribute to fit a curve, got {len(z)}")
    rho = spearman(z, values)
    order = values.argsort()
    groups = torch.tensor_split(order, n_points)
    v_tab = torch.stack([values[g].median() for g in groups])
    z_tab = torch.stack([z[g].median() for g in groups])
    z_tab = torch.cummax(z_tab, 0).values if rho >= 0 else torch.cummin(z_tab, 0).values
    z_tab = z_tab + (1e-4 if rho >= 0 else -1e-4) * torch.arange(len(z_tab))  # strictly monotone: invertible
    # Equal attribute medians (e.g. integer onset counts) would make the table ambiguous: keep the first.
    distinct = torch.cat([torch.tensor([True]), v_tab[1:] > v_tab[:-1]])
    return v_tab[distinct].float(), z_tab[distinct].float(), rho


def _interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
    """Piecewise-linear f(x) through (xp, fp), xp increasing, extended linearly beyond both ends."""
    x, xp, fp = x.double(), xp.double(), fp.double()
    i = torch.searchsorted(xp, x).clamp(1, len(xp) - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    slope = (f1 - f0) / (x1 - x0).clamp_min(1e-12)
    return f0 + slope * (x - x0)


def curve_move(z: Tensor, dim: int, values: Tensor, z_table: Tensor, amount: float, log2: bool = False) -> Tensor:
    """Each latent's move along one attribute-tied dim that changes its attribute by ``amount``.

    The curve (:func:`fit_curve`) reads each latent's attribute from its z; the target is that
    value plus ``amount`` (or times 2**amount with ``log2``: +1 doubles the attribute), read
    back into z through the same curve. A knob in the attribute's own unit, linear in it
    whatever the latent's scale along the dim (a rank loss orders the dim but does not make it
    linear).

    Args:
        z: FloatTensor (N, D).
        dim: the tied dimension.
        values, z_table: the curve, (P,) each, values increasing, z_table monotone.
        amount: the change of the attribute (e.g. semitones), or of its log2 with ``log2``.
        log2: move the attribute's logarithm (for counts: +1 = twice as many).

    Returns:
        FloatTensor (N, D): zero outside ``dim``; ``z + move`` is the moved latent.
    """
    if not math.isfinite(float(amount)):
        raise ValueError(f"amount must be finite, got {amount}")
    if values.dim() != 1 or values.shape != z_table.shape or len(values) < 2:
        raise ValueError("the curve needs two tables of the same length >= 2")
    zt = z_table.double()
    if zt[-1] < zt[0]:  # decreasing: flip so that the inverse table is increasing
        zt, vt = zt.flip(0), values.double().flip(0)
    else:
        vt = values.double()
    out = torch.zeros_like(z)
    if float(amount) == 0:
        return out
    now = _interp(z[:, dim], zt, vt)  # the attribute each latent encodes
    if log2:
        target = torch.log2(now.clamp_min(0.5)) + float(amount)
        target = torch.exp2(target)
    else:
        target = now + float(amount)
    out[:, dim] = (_interp(target, values.double(), z_table.double()) - z[:, dim].double()).to(z.dtype)
    return out


def _spread_registers(clips: np.ndarray, seed: int) -> np.ndarray:
    """Each clip moved by a random shift in ±MAX_SHIFT semitones that keeps it in MIDI 0-127 (else left)."""
    rng = np.random.default_rng(seed)
    shifts = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=len(clips))
    out = clips.copy()
    for p in range(-MAX_SHIFT, MAX_SHIFT + 1):
        rows = (shifts == p) & transposable(clips, p)
        if p and rows.any():
            out[rows] = transpose(clips[rows], p)
    return out


def _song_measure(tokens: np.ndarray, log2: bool) -> float:
    """Mean onset pitch of a song, or log2 of its onset count (NaN without onsets)."""
    onsets = tokens[tokens < N_PITCHES]
    if not len(onsets):
        return math.nan
    return math.log2(len(onsets)) if log2 else float(onsets.mean())


def _effect(model, encoded: list[tuple[Tensor, np.ndarray]], curve: Curve, amount: float) -> float:
    """Median over songs (their latents and decoded-at-rest tokens) of what ``amount`` asked of the curve
    changes in the decoded song."""
    out = []
    for z, before in encoded:
        move = curve_move(z, curve.dim, curve.values, curve.z, amount, curve.log2)
        after = join_clips(decode_z(model, z + move))
        out.append(_song_measure(after, curve.log2) - _song_measure(before, curve.log2))
    return float(np.nanmedian(out))


def calibrate(model, songs: list[np.ndarray], curve: Curve, amounts) -> tuple[list[float], list[float]]:
    """The knob's table: what the decoder plays (knob values) for what is asked of the curve (requests).

    Measured on ``songs`` (median over them) for each amount, with (0, 0), made increasing.

    Returns:
        (knob_values, requests): two lists of floats, knob values strictly increasing.
    """
    asked = sorted({0.0, *(float(a) for a in amounts)})
    encoded = []
    for song in songs:  # each song encoded and decoded at rest once, then moved by every amount
        z = encode_mu(model, split_clips(song))
        encoded.append((z, join_clips(decode_z(model, z))))
    got = np.array([0.0 if a == 0 else _effect(model, encoded, curve, a) for a in asked])
    got = np.maximum.accumulate(got) + 1e-3 * np.arange(len(got))  # strictly increasing: invertible
    got -= got[asked.index(0.0)]  # the knob at rest asks nothing
    return got.tolist(), asked


def fit_curves(model, clips: np.ndarray, songs: list[np.ndarray], seed: int = 0) -> dict[str, Curve]:
    """Fit a curve and its calibration for each knob whose attribute the model ties to a dim.

    Args:
        model: a VAE trained with ``reg_attributes`` (others get no curves: ``{}``).
        clips: int array (N, 32) of real clips (validation), spread over registers by ±12 semitones.
        songs: songs (T,) to calibrate the knobs' units on (validation songs).
        seed: seeds the register spread.

    Returns:
        knob -> :class:`Curve`, calibrated.
    """
    tied = tuple(getattr(getattr(model, "config", None), "reg_attributes", ()) or ())
    songs = [check_tokens(np.asarray(s)) for s in songs]
    data = np.concatenate([clips, _spread_registers(clips, seed)])
    mu = encode_mu(model, data)
    curves = {}
    for knob, (attribute, log2) in CURVE_KNOBS.items():
        if attribute not in tied:
            continue
        dim = tied.index(attribute)
        values, z, rho = fit_curve(mu[:, dim], ATTRIBUTES[attribute](torch.as_tensor(data)), N_CURVE_POINTS)
        curve = Curve(dim=dim, attribute=attribute, log2=log2, values=values, z=z, rho=rho, n_clips=len(data),
                      n_songs=len(songs))
        knob_values, requests = calibrate(model, songs, curve, CALIBRATION_AMOUNTS[knob])
        curves[knob] = replace(curve, knob=tuple(knob_values), request=tuple(requests))
    return curves


def knob_request(curve: Curve, amount: float) -> float:
    """What ``amount`` on the knob asks of the curve, through its calibration table."""
    table = torch.as_tensor(curve.knob, dtype=torch.float64), torch.as_tensor(curve.request, dtype=torch.float64)
    return float(_interp(torch.tensor([float(amount)]), *table)[0])


def move_along(z: Tensor, curve: Curve, amount: float) -> Tensor:
    """The move (N, D) of ``amount`` on a curve knob: calibrated, then along the curve."""
    return curve_move(z, curve.dim, curve.values, curve.z, knob_request(curve, amount), curve.log2)


def curves_to_json(curves: dict[str, Curve]) -> dict:
    """Curves as JSON types (for dims.json)."""
    return {knob: curve.to_json() for knob, curve in curves.items()}


def curves_from_json(raw: dict) -> dict[str, Curve]:
    """Read :func:`curves_to_json`; raises ValueError when a table is missing or inconsistent."""
    return {knob: Curve.from_json(knob, c) for knob, c in (raw or {}).items()}
