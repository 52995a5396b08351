"""Latent-space maths: dimension scores, knob directions and moves, slerp and the 2-way grid.

Pure tensor functions with no model inside; :mod:`vae.dims` and :mod:`vae.knobs` run a model to
produce their inputs. Throughout, ``D`` is the latent size and a *delta matrix* ``(P, D)`` holds one mean
latent change per transform amount (one row per transposition p, or per split n).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

# Below this angle (radians) two directions count as parallel, above pi minus it as opposite.
_ANGLE_EPS = 1e-6
# Vectors shorter than this have no direction; slerp falls back to lerp.
_NORM_EPS = 1e-12

DimsLike = Tensor | Sequence[int]


def check_dims(dims: DimsLike, latent_dim: int, name: str = "dims") -> Tensor:
    """``dims`` as a LongTensor (k,) of distinct indices in 0..latent_dim-1."""
    d = torch.as_tensor(dims, dtype=torch.long).reshape(-1)
    if d.numel() and (d.min() < 0 or d.max() >= latent_dim):
        raise ValueError(f"{name} must lie in 0..{latent_dim - 1}, got {d.tolist()}")
    if len(set(d.tolist())) != d.numel():
        raise ValueError(f"{name} must not repeat a dimension, got {d.tolist()}")
    return d


def _matrix(deltas: Tensor, name: str = "deltas") -> Tensor:
    m = torch.as_tensor(deltas)
    if m.dim() != 2 or m.shape[0] == 0:
        raise ValueError(f"{name} must have shape (P, D) with P >= 1, got {tuple(m.shape)}")
    return m.double()


# ----------------------------------------------------------------------------- discovery


def top_dims(score: Tensor, k: int, exclude: DimsLike | None = None) -> Tensor:
    """The ``k`` dimensions of highest score, highest first (ties: lower index first).

    Args:
        score: FloatTensor (D,), e.g. Σ_p |Δ_p|.
        k: how many dimensions to return.
        exclude: dimensions that may not be chosen.

    Returns:
        LongTensor (k,).
    """
    s = torch.as_tensor(score, dtype=torch.float64)
    if s.dim() != 1:
        raise ValueError(f"score must have shape (D,), got {tuple(s.shape)}")
    if not torch.isfinite(s).all():
        raise ValueError("score contains NaN or infinity; check the latents it was computed from")
    s = s.clone()
    ex = check_dims([] if exclude is None else exclude, len(s), "exclude")
    s[ex] = -math.inf
    available = len(s) - ex.numel()
    if not 1 <= k <= available:
        raise ValueError(f"k must be between 1 and {available} (D = {len(s)}, {ex.numel()} excluded), got {k}")
    return torch.argsort(s, descending=True, stable=True)[:k]


def concentration(deltas: Tensor, dims: DimsLike) -> float:
    """Share of each row's squared norm that lies in ``dims``, averaged over rows.

    C = mean_p ‖Δ_p[dims]‖² / ‖Δ_p‖² (DESIGN "Pitch concentration"). A row that is all zeros
    contributes 0: nothing in it is concentrated anywhere.

    Args:
        deltas: FloatTensor (P, D).
        dims: the chosen dimensions, k of them.

    Returns:
        A float in [0, 1].
    """
    m = _matrix(deltas)
    d = check_dims(dims, m.shape[1])
    total = m.pow(2).sum(dim=1)
    inside = m[:, d].pow(2).sum(dim=1)
    ratio = torch.where(total > 0, inside / total.clamp_min(1e-300), torch.zeros_like(total))
    return float(ratio.mean())


def stability(deltas: Tensor, dims: DimsLike) -> float:
    """Share of rows whose own top-k dimensions (by |Δ_p|) are exactly the set ``dims``.

    Args:
        deltas: FloatTensor (P, D).
        dims: the chosen dimensions; k = len(dims).

    Returns:
        A float in [0, 1].
    """
    m = _matrix(deltas)
    d = set(check_dims(dims, m.shape[1]).tolist())
    if not d:
        raise ValueError("dims is empty; stability needs at least one dimension")
    hits = [set(top_dims(row.abs(), len(d)).tolist()) == d for row in m]
    return sum(hits) / len(hits)


# ----------------------------------------------------------------------------- knobs


def knob_direction(deltas: Tensor, amounts: Tensor | Sequence[float], dims: DimsLike) -> tuple[Tensor, dict]:
    """Direction in ``dims`` such that z + 1·direction ≈ one unit of the transform.

    Each dimension d of ``dims`` gets the least-squares slope through the origin of Δ_p[d] over
    the amounts a_p: s_d = Σ_p a_p Δ_p[d] / Σ_p a_p². With p = 1..12 semitones, +1 ≈ one
    semitone; with a single row (a split in two, amount 1) the direction is that row itself.

    Args:
        deltas: FloatTensor (P, D), row p the mean Δz of a transform of amount a_p.
        amounts: (P,) the transform amounts, not all zero.
        dims: the dimensions the direction may use; it is zero elsewhere.

    Returns:
        direction: FloatTensor (D,) in the dtype of ``deltas``.
        unit_info: dict with ``slope`` (k floats, in the order of ``dims``), ``norm`` (L2 of the
            direction), ``r2`` (uncentred R² of the fit, 1 = Δ exactly proportional to the
            amount) and ``amounts``.
    """
    m = _matrix(deltas)
    a = torch.as_tensor(amounts, dtype=torch.float64).reshape(-1)
    if len(a) != len(m):
        raise ValueError(f"need one amount per row of deltas: {len(m)} rows, {len(a)} amounts")
    if not (a @ a) > 0:
        raise ValueError("amounts are all zero; a slope over them is undefined")
    d = check_dims(dims, m.shape[1])
    sub = m[:, d]  # (P, k)
    slope = (a @ sub) / (a @ a)  # (k,)
    residual = (sub - a[:, None] * slope).pow(2).sum()
    total = sub.pow(2).sum()
    r2 = float(1 - residual / total) if total > 0 else 0.0
    dtype = deltas.dtype if torch.is_tensor(deltas) and deltas.is_floating_point() else torch.float32
    direction = torch.zeros(m.shape[1], dtype=torch.float64)
    direction[d] = slope
    info = {"slope": slope.tolist(), "norm": float(slope.norm()), "r2": r2, "amounts": a.tolist()}
    return direction.to(dtype), info


def fit_affine(z_from: Tensor, z_to: Tensor, dims: DimsLike) -> tuple[Tensor, float]:
    """Least-squares affine map within ``dims`` that takes each ``z_from`` to its ``z_to``.

    Where a transform moves each clip's latent differently (pitch class on a circle, say), the
    mean Δz shrinks towards zero; a map fitted on the pairs follows each clip instead.

    Args:
        z_from: FloatTensor (N, D), latents before the transform.
        z_to: FloatTensor (N, D), the latents of the same clips after it.
        dims: the k dimensions the map reads and writes; N must exceed k.

    Returns:
        W: FloatTensor (k + 1, k): ``z_to[:, dims] ≈ z_from[:, dims] @ W[:k] + W[k]``.
        r2: centred R² of the fit over the k dims (1 = exact).
    """
    if z_from.shape != z_to.shape or z_from.dim() != 2:
        raise ValueError(f"z_from and z_to must both be (N, D), got {tuple(z_from.shape)} and {tuple(z_to.shape)}")
    d = check_dims(dims, z_from.shape[1])
    if len(z_from) <= len(d):
        raise ValueError(f"fitting a map on {len(d)} dims needs more than {len(d)} pairs, got {len(z_from)}")
    x = torch.cat([z_from[:, d].double(), torch.ones(len(z_from), 1, dtype=torch.float64)], 1)
    y = z_to[:, d].double()
    w = torch.linalg.pinv(x, rtol=1e-8) @ y  # minimum-norm solution: collinear dims get no wild weights
    total = (y - y.mean(0)).pow(2).sum()
    r2 = float(1 - (x @ w - y).pow(2).sum() / total) if total > 0 else 0.0
    return w.to(z_from.dtype), r2


def _apply_affine(z_sub: Tensor, w: Tensor) -> Tensor:
    return z_sub @ w[:-1] + w[-1]


def transport_move(z: Tensor, forward: Tensor, backward: Tensor, amount: float, dims: DimsLike) -> Tensor:
    """Each latent's move for ``amount`` units of a transform, from one fitted map per unit count.

    Whole units apply the map of that many units (beyond the last map, the last one repeatedly,
    then the rest); a fraction interpolates linearly between the two neighbouring whole amounts,
    with 0 the identity. Negative amounts use the ``backward`` maps.

    Args:
        z: FloatTensor (N, D).
        forward: FloatTensor (P, k + 1, k), row p - 1 the :func:`fit_affine` map of +p units.
        backward: FloatTensor (P, k + 1, k), the maps of -p units.
        amount: units to move (e.g. semitones).
        dims: the k dims the maps act on.

    Returns:
        FloatTensor (N, D): the move (zero outside ``dims``); ``z + move`` is the moved latent.
    """
    d = check_dims(dims, z.shape[1])
    maps = forward if amount >= 0 else backward
    if maps.dim() != 3 or maps.shape[1:] != (len(d) + 1, len(d)) or not len(maps):
        raise ValueError(f"maps must have shape (P, {len(d) + 1}, {len(d)}) for {len(d)} dims, "
                         f"got {tuple(maps.shape)}")
    a = abs(float(amount))
    if not math.isfinite(a):
        raise ValueError(f"amount must be finite, got {amount}")

    def whole(n: int) -> Tensor:
        sub = z[:, d]
        while n > len(maps):
            sub, n = _apply_affine(sub, maps[-1]), n - len(maps)
        return _apply_affine(sub, maps[n - 1]) if n else sub

    lo = math.floor(a)
    frac = a - lo
    sub = whole(lo) if frac == 0 else torch.lerp(whole(lo), whole(lo + 1), frac)
    out = torch.zeros_like(z)
    out[:, d] = sub - z[:, d]
    return out


def residual_dims(latent_dim: int, pitch_dims: DimsLike, rhythm_dims: DimsLike) -> Tensor:
    """LongTensor of the dimensions in neither ``pitch_dims`` nor ``rhythm_dims``, ascending."""
    used = set(check_dims(pitch_dims, latent_dim, "pitch_dims").tolist())
    used |= set(check_dims(rhythm_dims, latent_dim, "rhythm_dims").tolist())
    return torch.tensor([d for d in range(latent_dim) if d not in used], dtype=torch.long)


def random_control_dims(latent_dim: int, exclude: DimsLike, k: int,
                        generator: torch.Generator | int | None = None) -> Tensor:
    """``k`` distinct random dimensions outside ``exclude`` (the paper's control, figs 6b/7b).

    Args:
        latent_dim: D.
        exclude: dimensions never chosen (pitch ∪ rhythm dims).
        k: how many to draw.
        generator: a torch.Generator, or an int seed; the same seed gives the same dims.

    Returns:
        LongTensor (k,).
    """
    allowed = residual_dims(latent_dim, exclude, [])
    if not 0 <= k <= len(allowed):
        raise ValueError(f"cannot draw {k} control dims: only {len(allowed)} of {latent_dim} lie outside "
                         "the excluded ones")
    if isinstance(generator, int):
        generator = torch.Generator().manual_seed(generator)
    return allowed[torch.randperm(len(allowed), generator=generator)[:k]]


def carry_over(v: Tensor, dims_from: DimsLike, dims_to: DimsLike) -> Tensor:
    """``v`` with its components on ``dims_from`` moved onto ``dims_to`` (the random control).

    The result has the same values on as many other dims (so the same L2 size), zeros on
    ``dims_from``, and ``v`` unchanged elsewhere.

    Args:
        v: FloatTensor (..., D), a knob direction or a move per latent.
        dims_from: the knob's dims (k,).
        dims_to: the control dims (k,), e.g. from :func:`random_control_dims`, outside ``dims_from``.

    Returns:
        FloatTensor of the shape of ``v``.
    """
    src = check_dims(dims_from, v.shape[-1], "dims_from")
    dst = check_dims(dims_to, v.shape[-1], "dims_to")
    if len(src) != len(dst):
        raise ValueError(f"dims_from and dims_to must have the same length, got {len(src)} and {len(dst)}")
    out = v.clone()
    out[..., src] = 0
    out[..., dst] = v[..., src]
    return out


def residual_direction(z: Tensor, dims: DimsLike, share: float = 0.5) -> tuple[Tensor, dict]:
    """The residual knob: the principal axes of the latents' spread within ``dims``, together.

    The residual dims hold whatever the pitch and rhythm dims do not. One axis alone is often one
    the decoder hardly listens to; the fewest leading axes that hold ``share`` of the residual
    variance, each scaled by the clips' standard deviation along it and added, make a move of
    +1 ≈ "one typical clip's difference from the others" there (``share=0`` takes the first
    axis alone). Each axis's sign is fixed so that its largest component is positive.

    Args:
        z: FloatTensor (N, D), N >= 2 latents (μ of real clips).
        dims: the residual dimensions.
        share: the share of the residual variance the axes must hold, 0..1.

    Returns:
        direction: FloatTensor (D,), zero outside ``dims`` (all zero if the clips do not vary).
        info: dict with ``std`` (L2 size of the move of +1), ``explained`` (share of the residual
            variance along the axes used) and ``n_axes``.
    """
    if z.dim() != 2 or len(z) < 2:
        raise ValueError(f"need latents of shape (N, D) with N >= 2, got {tuple(z.shape)}")
    if not 0 <= share <= 1:
        raise ValueError(f"share must lie in 0..1, got {share}")
    d = check_dims(dims, z.shape[1])
    direction = torch.zeros(z.shape[1], dtype=torch.float64)
    if not d.numel():
        return direction.to(z.dtype), {"std": 0.0, "explained": 0.0, "n_axes": 0}
    x = z[:, d].double()
    x = x - x.mean(dim=0)
    evals, evecs = torch.linalg.eigh(x.T @ x / (len(x) - 1))  # ascending eigenvalues
    evals, evecs = evals.flip(0).clamp_min(0), evecs.flip(1)
    total = float(evals.sum())
    if total <= 0:
        return direction.to(z.dtype), {"std": 0.0, "explained": 0.0, "n_axes": 0}
    k = int((evals.cumsum(0) / total < share).sum()) + 1
    axes = evecs[:, :k] * torch.sign(evecs[evecs[:, :k].abs().argmax(0), torch.arange(k)])
    direction[d] = (axes * evals[:k].sqrt()).sum(1)
    explained = float(evals[:k].sum()) / total
    return direction.to(z.dtype), {"std": float(direction.norm()), "explained": explained, "n_axes": k}


# ----------------------------------------------------------------------------- interpolation


def slerp(a: Tensor, b: Tensor, t: float | Tensor) -> Tensor:
    """Spherical interpolation from ``a`` to ``b``: the direction turns along the great circle
    while the norm moves linearly from ‖a‖ to ‖b‖.

    Exactly ``a`` at t = 0 and ``b`` at t = 1. Parallel vectors and zero vectors fall back to
    lerp; exactly opposite vectors turn through a fixed perpendicular (the axis on which ``a``
    is smallest), so the result is defined and never NaN.

    Args:
        a: FloatTensor (..., D).
        b: FloatTensor (..., D), broadcastable with ``a``.
        t: a float, or a tensor broadcastable to the leading dims (e.g. (n,) with a, b of
            shape (D,) gives (n, D)).

    Returns:
        FloatTensor (broadcast of a.shape[:-1], b.shape[:-1], t.shape) + (D,).
    """
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"a and b must have the same last dim, got {tuple(a.shape)} and {tuple(b.shape)}")
    dtype = torch.promote_types(a.dtype, b.dtype)
    t64 = torch.as_tensor(t, dtype=torch.float64, device=a.device).unsqueeze(-1)  # (..., 1)
    a64, b64 = a.double(), b.double()
    lerp = (1 - t64) * a64 + t64 * b64
    if a.shape[-1] == 0:
        return lerp.to(dtype)
    na, nb = a64.norm(dim=-1, keepdim=True), b64.norm(dim=-1, keepdim=True)
    ua, ub = a64 / na.clamp_min(_NORM_EPS), b64 / nb.clamp_min(_NORM_EPS)
    # 2·atan2(|ua − ub|, |ua + ub|) is accurate near 0 and near pi, unlike acos of the dot product.
    omega = 2 * torch.atan2((ua - ub).norm(dim=-1, keepdim=True), (ua + ub).norm(dim=-1, keepdim=True))
    sin_omega = torch.sin(omega).clamp_min(_NORM_EPS)
    unit = (torch.sin((1 - t64) * omega) * ua + torch.sin(t64 * omega) * ub) / sin_omega
    # Opposite: turn from ua towards the axis on which ua is smallest, made perpendicular to ua.
    axis = torch.zeros_like(ua).scatter_(-1, ua.abs().argmin(dim=-1, keepdim=True), 1.0)
    perp = axis - (axis * ua).sum(dim=-1, keepdim=True) * ua
    perp_norm = perp.norm(dim=-1, keepdim=True)
    half_turn = torch.cos(t64 * math.pi) * ua + torch.sin(t64 * math.pi) * perp / perp_norm.clamp_min(_NORM_EPS)
    opposite = omega > math.pi - _ANGLE_EPS
    unit = torch.where(opposite, half_turn, unit)
    out = ((1 - t64) * na + t64 * nb) * unit
    use_lerp = (na < _NORM_EPS) | (nb < _NORM_EPS) | (omega < _ANGLE_EPS) | (opposite & (perp_norm < 0.5))
    out = torch.where(use_lerp, lerp, out)
    out = torch.where(t64 == 0, a64.expand_as(out), out)
    out = torch.where(t64 == 1, b64.expand_as(out), out)
    return out.to(dtype)


def interpolation_grid(z_src: Tensor, z_tgt: Tensor, pitch_dims: DimsLike, rhythm_dims: DimsLike,
                       n: int) -> Tensor:
    """The paper's 2-way grid between a source and a target latent.

    Cell (i, j) takes its pitch dims from slerp(src, tgt, i/(n−1)) (rows), its rhythm dims from
    slerp(src, tgt, j/(n−1)) (columns) and its residual dims from slerp(src, tgt, (i+j)/(2(n−1)))
    (the Manhattan distance from the source corner). Each group is slerped as its own subvector.
    A dim in both ``pitch_dims`` and ``rhythm_dims`` follows the rows (pitch).

    Args:
        z_src: FloatTensor (D,), the latent at the top-left corner.
        z_tgt: FloatTensor (D,), the latent at the bottom-right corner.
        pitch_dims: the pitch dimensions.
        rhythm_dims: the rhythm dimensions.
        n: cells per side, >= 2.

    Returns:
        FloatTensor (n, n, D); grid[0, 0] == z_src and grid[n-1, n-1] == z_tgt.
    """
    if z_src.dim() != 1 or z_src.shape != z_tgt.shape:
        raise ValueError(f"z_src and z_tgt must both have shape (D,), got {tuple(z_src.shape)} and "
                         f"{tuple(z_tgt.shape)}")
    if int(n) != n or n < 2:
        raise ValueError(f"the grid needs n >= 2 cells per side (source and target corners), got {n}")
    n = int(n)
    latent_dim = len(z_src)
    p = check_dims(pitch_dims, latent_dim, "pitch_dims")
    r = check_dims([d for d in check_dims(rhythm_dims, latent_dim, "rhythm_dims").tolist() if d not in set(p.tolist())],
              latent_dim)
    res = residual_dims(latent_dim, p, r)
    steps = torch.arange(n, dtype=torch.float64) / (n - 1)  # exact 0 and 1 at the ends
    manhattan = torch.arange(n, dtype=torch.float64)
    manhattan = (manhattan[:, None] + manhattan[None, :]) / (2 * (n - 1))  # (n, n)
    grid = torch.empty(n, n, latent_dim, dtype=z_src.dtype)
    grid[:, :, p] = slerp(z_src[p], z_tgt[p], steps)[:, None, :]  # (n, 1, kp): constant along a row
    grid[:, :, r] = slerp(z_src[r], z_tgt[r], steps)[None, :, :]  # (1, n, kr): constant down a column
    grid[:, :, res] = slerp(z_src[res], z_tgt[res], manhattan)
    return grid
