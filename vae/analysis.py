"""Run a model over data to compute the project's measures (DESIGN "Measures") and turn its knobs.

Every function takes a model with ``encode(LongTensor (B, 32)) -> (mu, logvar)`` and
``decode(z) -> LongTensor (B, 32)``, works in batches under ``torch.no_grad`` with the model in
eval mode (restored afterwards), and returns plain numbers, numpy arrays or CPU tensors. Long
runs accept ``progress(fraction, message)``, called after every batch, for a UI progress bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

from vae import latent
from vae.augment import split_notes, transposable, transpose, two_whole_notes
from vae.melody import HOLD, N_PITCHES, check_clips, check_tokens, join_clips, normalize_tokens, split_clips
from vae.timing import timed

Progress = Callable[[float, str], None]

BATCH_SIZE = 512  # clips per encoder / decoder call
PITCH_SHIFTS = tuple(range(1, 13))  # p = 1..12 semitones (paper)
RHYTHM_SPLITS = (2, 4, 8, 16)  # n equal parts per whole note (paper)
N_RHYTHM_CLIPS = 2000  # DESIGN: >= 2,000 two-whole-note clips
KNOBS = ("pitch", "rhythm", "residual")
PITCH_KNOBS = ("transport", "linear")  # how the pitch knob moves z, see discover_dims
RHYTHM_UNITS = ("songs", "whole_notes")  # what the rhythm knob's +1 is calibrated on, see discover_dims
MIN_TRANSPORT_CLIPS = 20  # fewer clips than this fit no transport maps: the pitch knob falls back to linear


# ----------------------------------------------------------------------------- batching


class _Tracker:
    """Counts batches across the stages of one call and reports the overall fraction."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.done = progress, max(total, 1), 0

    def step(self, message: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(min(self.done / self.total, 1.0), message)


def _n_batches(n: int, batch_size: int) -> int:
    return max(1, math.ceil(n / batch_size))


@contextmanager
def _inference(model) -> Iterator[None]:
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            model.train()


def _device(model) -> torch.device:
    params = getattr(model, "parameters", None)
    first = next(iter(params()), None) if params is not None else None
    return first.device if first is not None else torch.device("cpu")


def _encode(model, clips: np.ndarray, batch_size: int, tracker: _Tracker, message: str) -> Tensor:
    device, out = _device(model), []
    for start in range(0, len(clips), batch_size):
        mu, _ = model.encode(torch.as_tensor(clips[start:start + batch_size], device=device))
        out.append(mu.float().cpu())
        tracker.step(message)
    return torch.cat(out)


@timed("encode")
def encode_mu(model, clips: np.ndarray, batch_size: int = BATCH_SIZE, progress: Progress | None = None) -> Tensor:
    """μ of every clip: FloatTensor (N, D) on the CPU, for clips int array (N, 32)."""
    clips = check_clips(clips)
    with _inference(model):
        return _encode(model, clips, batch_size, _Tracker(progress, _n_batches(len(clips), batch_size)), "encoding")


@timed("decode")
def decode_z(model, z: Tensor, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Greedy decode of latents z (N, D) into clips: int64 array (N, 32).

    Equal rows are decoded once: a song's repeated clips, moved by the same knobs, stay equal
    (Twinkle's 6 clips are 3 distinct ones).
    """
    z = torch.as_tensor(z, dtype=torch.float32)
    distinct, inverse = torch.unique(z, dim=0, return_inverse=True)
    device, out = _device(model), []
    with _inference(model):
        for start in range(0, len(distinct), batch_size):
            out.append(model.decode(distinct[start:start + batch_size].to(device)).cpu().numpy())
    return np.concatenate(out).astype(np.int64)[inverse.cpu().numpy()]


def song_latents(model, song_tokens: np.ndarray, batch_size: int = BATCH_SIZE) -> Tensor:
    """μ of each 2-bar clip of a song (T,): FloatTensor (ceil(T / 32), D). Cache it; knobs only decode."""
    return encode_mu(model, split_clips(song_tokens), batch_size)


# ----------------------------------------------------------------------------- discovery


def _pitch_clips(clips: np.ndarray, shifts: Sequence[int]) -> np.ndarray:
    """The clips that every shift keeps in 0-127 and that have a note to move."""
    if not shifts:
        raise ValueError("shifts is empty; give the transpositions in semitones, e.g. range(1, 13)")
    keep = (clips < N_PITCHES).any(axis=1)
    for p in shifts:
        keep &= transposable(clips, p)
    return clips[keep]


def _pitch_deltas(model, kept: np.ndarray, shifts: Sequence[int], batch_size: int,
                  tracker: _Tracker) -> tuple[Tensor, Tensor, list[Tensor]]:
    mu0 = _encode(model, kept, batch_size, tracker, "pitch: original clips")
    moved = [_encode(model, transpose(kept, p), batch_size, tracker, f"pitch: +{p} semitones") for p in shifts]
    return torch.stack([(mu - mu0).mean(0) for mu in moved]), mu0, moved


def _pitch_transport(mu0: Tensor, moved: list[Tensor], dims: Tensor) -> dict:
    """One affine map per shift within the pitch dims, both ways (see :func:`vae.latent.fit_affine`)."""
    forward = [latent.fit_affine(mu0, mu, dims) for mu in moved]
    backward = [latent.fit_affine(mu, mu0, dims) for mu in moved]
    return {"forward": [w.tolist() for w, _ in forward], "backward": [w.tolist() for w, _ in backward],
            "r2_forward": [r2 for _, r2 in forward], "r2_backward": [r2 for _, r2 in backward]}


def pitch_deltas(model, clips: np.ndarray, shifts: Iterable[int] = PITCH_SHIFTS, batch_size: int = BATCH_SIZE,
                 progress: Progress | None = None) -> tuple[Tensor, int]:
    """Δ_p = mean(μ(F_p x) − μ(x)) for each transposition p (DESIGN "Pitch concentration").

    Only clips that stay within MIDI 0-127 under every shift (and have at least one note) are used.

    Args:
        model: the VAE.
        clips: int array (N, 32).
        shifts: semitone amounts p.

    Returns:
        deltas: FloatTensor (len(shifts), D).
        n_clips_used: how many clips went into each mean.
    """
    shifts = [int(p) for p in shifts]
    kept = _pitch_clips(check_clips(clips), shifts)
    if not len(kept):
        raise ValueError(f"no clip can be moved by all of {shifts} semitones within MIDI 0-127; "
                         "give clips with notes below 116 or smaller shifts")
    tracker = _Tracker(progress, (1 + len(shifts)) * _n_batches(len(kept), batch_size))
    with _inference(model):
        deltas, _, _ = _pitch_deltas(model, kept, shifts, batch_size, tracker)
    return deltas, len(kept)


def _rhythm_clips(n_clips: int, pitch_range: tuple[int, int], seed: int) -> np.ndarray:
    lo, hi = (int(x) for x in pitch_range)
    if not 0 <= lo <= hi < N_PITCHES:
        raise ValueError(f"pitch_range must be (lo, hi) with 0 <= lo <= hi <= 127, got {pitch_range}")
    if n_clips < 1:
        raise ValueError(f"n_clips must be at least 1, got {n_clips}")
    return two_whole_notes(np.random.default_rng(seed).integers(lo, hi + 1, size=(n_clips, 2)))


def _rhythm_deltas(model, base: np.ndarray, splits: Sequence[int], batch_size: int, tracker: _Tracker) -> Tensor:
    mu0 = _encode(model, base, batch_size, tracker, "rhythm: two whole notes")
    return torch.stack([(_encode(model, split_notes(base, n), batch_size, tracker, f"rhythm: split in {n}") - mu0)
                        .mean(0) for n in splits])


def rhythm_deltas(model, n_clips: int = N_RHYTHM_CLIPS, pitch_range: tuple[int, int] = (48, 84),
                  splits: Iterable[int] = RHYTHM_SPLITS, seed: int = 0, batch_size: int = BATCH_SIZE,
                  progress: Progress | None = None) -> Tensor:
    """Δ_n = mean(μ(F_n x) − μ(x)) over clips of two whole notes, each note split in n.

    Args:
        model: the VAE.
        n_clips: how many two-whole-note clips to draw.
        pitch_range: (lo, hi) MIDI pitches, both inclusive, drawn uniformly for each note.
        splits: the n of each row; each must divide 16 (a whole note) to change the rhythm.
        seed: seeds the pitch draw.

    Returns:
        FloatTensor (len(splits), D).
    """
    splits = [int(n) for n in splits]
    if not splits or any(n < 2 for n in splits):
        raise ValueError(f"splits must be whole numbers >= 2 (2, 4, 8, 16), got {splits}")
    base = _rhythm_clips(n_clips, pitch_range, seed)
    tracker = _Tracker(progress, (1 + len(splits)) * _n_batches(n_clips, batch_size))
    with _inference(model):
        return _rhythm_deltas(model, base, splits, batch_size, tracker)


def discover_dims(model, clips: np.ndarray, n_pitch: int = 2, n_rhythm: int = 5,
                  shifts: Iterable[int] = PITCH_SHIFTS, splits: Iterable[int] = RHYTHM_SPLITS,
                  n_rhythm_clips: int = N_RHYTHM_CLIPS, pitch_range: tuple[int, int] | None = None,
                  seed: int = 0, pitch_knob: str = "transport", rhythm_unit: str = "songs",
                  batch_size: int = BATCH_SIZE,
                  progress: Progress | None = None) -> dict:
    """Disentanglement by augmentation: find the pitch and rhythm dims and the three knobs.

    Pitch dims = top ``n_pitch`` by Σ_p |Δ_p|, rhythm dims = top ``n_rhythm`` by Σ_n |Δ_n|.
    The pitch direction is the least-squares slope of Δ_p[pitch dims] over p (+1 ≈ one
    semitone). The pitch knob moves along it (``pitch_knob="linear"``, DESIGN "Knob effects") or,
    by default (``"transport"``), applies per shift p an affine map within the pitch dims fitted
    on the pairs (μ(x), μ(F_p x)) (:func:`vae.latent.fit_affine`): it moves only the pitch dims
    like the linear knob, but each clip along its own path. The rhythm knob moves along the
    rhythm dims by mean(μ(F_2 x) − μ(x)) over the given clips whose notes split in two
    (``rhythm_unit="songs"``: +1 ≈ one split of real notes) or, as in the paper's analysis, by
    Δ_2 of the two-whole-note clips (``"whole_notes"``); both are kept. The residual
    knob is the principal axis of μ(clips) in the residual dims, scaled by its standard deviation
    (see :func:`vae.latent.residual_direction`).

    Args:
        model: the VAE.
        clips: int array (N, 32) of real clips (DESIGN: >= 2,000 test clips).
        n_pitch: how many pitch dims (paper: 2).
        n_rhythm: how many rhythm dims (paper: 5).
        shifts: transpositions in semitones.
        splits: note splits.
        n_rhythm_clips: how many two-whole-note clips.
        pitch_range: (lo, hi) for the two-whole-note pitches; default: the clips' lowest and
            highest note.
        seed: seeds the two-whole-note pitches.
        pitch_knob: "transport" or "linear" (see above); "transport" needs shifts 1..P.
        rhythm_unit: "songs" or "whole_notes" (see above).

    Returns:
        A JSON-serializable dict (lists of ints and floats) for dims.json; see
        :func:`dims_from_json` for the tensors.
    """
    shifts, splits = [int(p) for p in shifts], [int(n) for n in splits]
    if pitch_knob not in PITCH_KNOBS:
        raise ValueError(f"pitch_knob must be one of {PITCH_KNOBS}, got {pitch_knob!r}")
    consecutive = shifts == list(range(1, len(shifts) + 1))  # what latent.transport_move needs
    if pitch_knob == "transport" and not consecutive:
        raise ValueError(f"the transport pitch knob needs shifts 1..P, got {shifts} (use pitch_knob='linear')")
    if rhythm_unit not in RHYTHM_UNITS:
        raise ValueError(f"rhythm_unit must be one of {RHYTHM_UNITS}, got {rhythm_unit!r}")
    kept = _pitch_clips(check_clips(clips), shifts)
    if len(kept) < 2:
        raise ValueError(f"only {len(kept)} clip(s) stay within MIDI 0-127 under shifts {shifts}; "
                         "give at least 2 clips with notes")
    if pitch_range is None:
        notes = kept[kept < N_PITCHES]
        pitch_range = (int(notes.min()), int(notes.max()))
    base = _rhythm_clips(n_rhythm_clips, pitch_range, seed)
    split = split_notes(kept, min(splits))
    changed = (split != kept).any(axis=1)
    tracker = _Tracker(progress, (1 + len(shifts)) * _n_batches(len(kept), batch_size)
                       + (1 + len(splits)) * _n_batches(len(base), batch_size)
                       + _n_batches(int(changed.sum()), batch_size))
    with _inference(model):
        d_pitch, mu0, moved = _pitch_deltas(model, kept, shifts, batch_size, tracker)
        d_rhythm = _rhythm_deltas(model, base, splits, batch_size, tracker)
        d_songs = (_encode(model, split[changed], batch_size, tracker, f"rhythm: clips split in {min(splits)}")
                   - mu0[torch.from_numpy(changed)]).mean(0) if changed.any() else None
    latent_dim = d_pitch.shape[1]
    pitch_scores, rhythm_scores = d_pitch.abs().sum(0), d_rhythm.abs().sum(0)
    p_dims, r_dims = latent.top_dims(pitch_scores, n_pitch), latent.top_dims(rhythm_scores, n_rhythm)
    p_dir, p_unit = latent.knob_direction(d_pitch, shifts, p_dims)
    row = splits.index(min(splits))
    r_dirs = {"whole_notes": latent.knob_direction(d_rhythm[row:row + 1], [1.0], r_dims)}
    if d_songs is not None:
        r_dirs["songs"] = latent.knob_direction(d_songs[None], [1.0], r_dims)
    rhythm_note = None
    if rhythm_unit not in r_dirs:
        rhythm_note = f"no clip has notes that split in {min(splits)}: the rhythm knob is calibrated on whole notes"
        rhythm_unit = "whole_notes"
    r_dir, r_unit = r_dirs[rhythm_unit]
    res = latent.residual_dims(latent_dim, p_dims, r_dims)
    res_dir, res_unit = latent.residual_direction(mu0, res)
    enough = len(kept) >= max(MIN_TRANSPORT_CLIPS, n_pitch + 2)
    # Fitted whichever knob is asked for, so that the two can be compared.
    transport = _pitch_transport(mu0, moved, p_dims) if consecutive and enough else None
    note = None
    if pitch_knob == "transport" and transport is None:
        pitch_knob = "linear"
        note = (f"{len(kept)} clips are too few to fit the transport maps (it takes {MIN_TRANSPORT_CLIPS}): "
                "the pitch knob is linear")
    return {
        "latent_dim": latent_dim,
        "pitch_dims": p_dims.tolist(),
        "rhythm_dims": r_dims.tolist(),
        "residual_dims": res.tolist(),
        "pitch_direction": p_dir.tolist(),
        "rhythm_direction": r_dir.tolist(),
        "residual_direction": res_dir.tolist(),
        "pitch_unit": {"unit": "semitone", **p_unit},
        "pitch_knob": pitch_knob,
        "pitch_knob_note": note,
        "pitch_transport": transport,
        "rhythm_unit": {"unit": f"split in {splits[row]}", "calibrated_on": rhythm_unit, **r_unit},
        "rhythm_unit_note": rhythm_note,
        "rhythm_directions": {k: d.tolist() for k, (d, _) in r_dirs.items()},
        "n_rhythm_song_clips": int(changed.sum()),
        "residual_unit": {"unit": "standard deviation of the clips along the axis", **res_unit},
        "c_pitch": latent.concentration(d_pitch, p_dims),
        "pitch_stability": latent.stability(d_pitch, p_dims),
        "c_rhythm": latent.concentration(d_rhythm, r_dims),
        "rhythm_stability": latent.stability(d_rhythm, r_dims),
        "overlap": len(set(p_dims.tolist()) & set(r_dims.tolist())),
        "pitch_scores": pitch_scores.tolist(),
        "rhythm_scores": rhythm_scores.tolist(),
        "pitch_deltas": d_pitch.tolist(),
        "rhythm_deltas": d_rhythm.tolist(),
        "shifts": shifts,
        "splits": splits,
        "n_pitch_clips": len(kept),
        "n_rhythm_clips": len(base),
        "rhythm_pitch_range": [int(pitch_range[0]), int(pitch_range[1])],
        "seed": seed,
    }


_TENSOR_KEYS = ("pitch_dims", "rhythm_dims", "residual_dims", "pitch_direction", "rhythm_direction",
                "residual_direction")


def _is_converted(d: dict) -> bool:
    keys = _TENSOR_KEYS + (("pitch_forward", "pitch_backward") if d.get("pitch_knob") == "transport" else ())
    return d.get("pitch_knob") in PITCH_KNOBS and all(torch.is_tensor(d.get(k)) for k in keys)


def dims_from_json(d: dict) -> dict:
    """The dims and directions of a :func:`discover_dims` dict as tensors; other entries are copied.

    Returns:
        dict with ``latent_dim`` (int), ``pitch_dims``, ``rhythm_dims``, ``residual_dims``
        (LongTensors) and ``pitch_direction``, ``rhythm_direction``, ``residual_direction``
        (FloatTensors (D,); a missing residual direction is all zeros), ``pitch_knob`` and, for
        the transport knob, ``pitch_forward`` / ``pitch_backward`` (FloatTensors (P, k + 1, k)).
        Its own output is returned as it is (a knob move calls this several times).
    """
    if _is_converted(d):
        return d
    missing = [k for k in ("pitch_dims", "rhythm_dims", "pitch_direction", "rhythm_direction") if k not in d]
    if missing:
        raise ValueError(f"dims info lacks {missing}; was it written by vae.analysis.discover_dims?")
    out = dict(d)
    latent_dim = len(d["pitch_direction"])
    out["latent_dim"] = latent_dim
    for key in ("pitch_direction", "rhythm_direction", "residual_direction"):
        vec = torch.as_tensor(d.get(key, [0.0] * latent_dim), dtype=torch.float32)
        if vec.shape != (latent_dim,):
            raise ValueError(f"{key} has shape {tuple(vec.shape)}; expected ({latent_dim},) like pitch_direction")
        out[key] = vec
    for key in ("pitch_dims", "rhythm_dims"):
        out[key] = torch.as_tensor(d[key], dtype=torch.long).reshape(-1)
    out["residual_dims"] = latent.residual_dims(latent_dim, out["pitch_dims"], out["rhythm_dims"])
    out["pitch_knob"] = d.get("pitch_knob", "linear")
    if out["pitch_knob"] not in PITCH_KNOBS:
        raise ValueError(f"pitch_knob must be one of {PITCH_KNOBS}, got {out['pitch_knob']!r}")
    if out["pitch_knob"] == "transport":
        transport = d.get("pitch_transport") or {}
        k = len(out["pitch_dims"])
        for key in ("forward", "backward"):
            maps = torch.as_tensor(transport.get(key, []), dtype=torch.float32)
            if maps.dim() != 3 or maps.shape[1:] != (k + 1, k) or not len(maps):
                raise ValueError(f"pitch_transport.{key} must have shape (P, {k + 1}, {k}) for {k} pitch dims, "
                                 f"got {tuple(maps.shape)}")
            out[f"pitch_{key}"] = maps
    return out


# ----------------------------------------------------------------------------- measures


def reconstruction_accuracy(model, clips: np.ndarray, teacher_forced: bool = False, batch_size: int = BATCH_SIZE,
                            progress: Progress | None = None) -> dict:
    """Greedy reconstruction from z = μ(x) (DESIGN "Reconstruction accuracy").

    Args:
        model: the VAE.
        clips: int array (N, 32).
        teacher_forced: also report ``teacher_forced_accuracy`` via ``model.decode_logits``
            (shown beside the greedy number, never instead of it).

    Returns:
        dict with ``token_accuracy`` (mean(x̂ == x)), ``exact_clip_rate`` (share of clips with
        all 32 tokens right), ``n_clips`` and, if asked, ``teacher_forced_accuracy``.
    """
    clips = check_clips(clips)
    if not len(clips):
        raise ValueError("no clips to reconstruct")
    device, tracker = _device(model), _Tracker(progress, _n_batches(len(clips), batch_size))
    right, exact, forced = 0, 0, 0
    with _inference(model):
        for start in range(0, len(clips), batch_size):
            x = torch.as_tensor(clips[start:start + batch_size], device=device)
            mu, _ = model.encode(x)
            hit = model.decode(mu).to(device) == x
            right, exact = right + int(hit.sum()), exact + int(hit.all(dim=1).sum())
            if teacher_forced:
                forced += int((model.decode_logits(mu, x).argmax(-1) == x).sum())
            tracker.step("reconstructing")
    out = {"token_accuracy": right / clips.size, "exact_clip_rate": exact / len(clips), "n_clips": len(clips)}
    if teacher_forced:
        out["teacher_forced_accuracy"] = forced / clips.size
    return out


# ----------------------------------------------------------------------------- knobs


def control_dims(dims_info: dict, seed: int = 0) -> tuple[Tensor, Tensor]:
    """The random control's stand-ins for the pitch dims and the rhythm dims (paper figs 6b/7b).

    Returns:
        (pitch_ctrl, rhythm_ctrl): LongTensors of the lengths of the pitch and rhythm dims, all
        distinct and outside pitch ∪ rhythm; the same seed gives the same dims.
    """
    info = dims_from_json(dims_info)
    p, r = info["pitch_dims"], info["rhythm_dims"]
    ctrl = latent.random_control_dims(info["latent_dim"], torch.cat([p, r]).unique(), len(p) + len(r), seed)
    return ctrl[:len(p)], ctrl[len(p):]


def knob_directions(dims_info: dict, control: bool = False, seed: int = 0) -> dict[str, Tensor]:
    """The direction (D,) of each knob; with ``control`` the pitch and rhythm knobs are replaced by
    moves of the same components onto distinct random dims outside pitch ∪ rhythm (seeded)."""
    info = dims_from_json(dims_info)
    dirs = {k: info[f"{k}_direction"] for k in KNOBS}
    if control:
        p_ctrl, r_ctrl = control_dims(info, seed)
        dirs["pitch"] = latent.random_control_move(dirs["pitch"], info["pitch_dims"], p_ctrl)
        dirs["rhythm"] = latent.random_control_move(dirs["rhythm"], info["rhythm_dims"], r_ctrl)
    return dirs


def knob_move(z: Tensor, dims_info: dict, knob: str, amount: float, control: bool = False, seed: int = 0) -> Tensor:
    """The move (N, D) that ``amount`` of one knob adds to each latent of z (N, D).

    The linear knobs add the same vector to every row; the transport pitch knob (see
    :func:`discover_dims`) moves each row by its own amount. With ``control`` the pitch and
    rhythm moves are carried over, component for component, onto the random control dims.
    """
    if knob not in KNOBS:
        raise ValueError(f"knob must be one of {KNOBS}, got {knob!r}")
    info = dims_from_json(dims_info)
    if knob == "pitch" and info["pitch_knob"] == "transport":
        dims = info["pitch_dims"]
        move = latent.transport_move(z, info["pitch_forward"], info["pitch_backward"], float(amount), dims)
        if control:
            ctrl = torch.zeros_like(move)
            ctrl[:, control_dims(info, seed)[0]] = move[:, dims]
            move = ctrl
        return move
    direction = knob_directions(info, control, seed)[knob]
    return (float(amount) * direction).to(z.dtype).expand_as(z)


def _control_offset(dims_info: dict, offset: Tensor, seed: int) -> Tensor:
    """``offset`` with its pitch-dim and rhythm-dim components moved onto the control dims."""
    info = dims_from_json(dims_info)
    p, r = info["pitch_dims"], info["rhythm_dims"]
    p_ctrl, r_ctrl = control_dims(info, seed)
    out = offset.clone()
    out[torch.cat([p, r])] = 0
    out[p_ctrl], out[r_ctrl] = offset[p], offset[r]
    return out


def _bar_rows(n_clips: int, bars: tuple[int, int] | None) -> Tensor:
    """Float mask (N,): 1 for the clips that overlap bars [start, stop) (clip i holds bars 2i, 2i+1)."""
    if bars is None:
        return torch.ones(n_clips)
    start, stop = (int(b) for b in bars)
    if not 0 <= start < stop <= 2 * n_clips:
        raise ValueError(f"bars must be (start, stop) with 0 <= start < stop <= {2 * n_clips} "
                         f"(bars counted from 0, stop excluded), got {bars}")
    first = torch.arange(n_clips) * 2
    return ((first < stop) & (first + 2 > start)).float()


def modulate(model, source: Tensor | np.ndarray, dims_info: dict, *, pitch: float = 0.0, rhythm: float = 0.0,
             residual: float = 0.0, control: bool = False, bars: tuple[int, int] | None = None, seed: int = 0,
             n_steps: int | None = None, offset: Tensor | None = None, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Turn the knobs on a song: move each clip's z and decode all clips in one batch.

    Args:
        model: the VAE.
        source: the song's tokens (T,) (integers), or its cached latents FloatTensor (N, D)
            from :func:`song_latents`, so that a knob move costs only a decode.
        dims_info: a :func:`discover_dims` dict (or its :func:`dims_from_json` form).
        pitch, rhythm, residual: knob amounts (+1 ≈ one semitone, one split, one std).
        control: move the pitch and rhythm amounts onto random non-significant dims instead.
        bars: (start, stop) bars counted from 0, stop excluded; only clips that overlap them move
            (whole clips: 2 bars each). None moves every clip.
        seed: seeds the control dims.
        n_steps: length of the result; default: the song's length, or 32·N for latents.
        offset: optional FloatTensor (D,), a raw latent move added to the knobs' move (the app's
            per-dimension sliders); with ``control`` its pitch-dim and rhythm-dim components are
            moved onto the control dims like the knobs.

    Returns:
        int64 array (n_steps,) of token ids; clips outside ``bars`` are decoded unmoved.
    """
    if torch.is_tensor(source) and source.is_floating_point():
        z = source.detach().float().cpu()
        if z.dim() != 2:
            raise ValueError(f"latents must have shape (N, D), got {tuple(z.shape)}")
    else:
        song = check_tokens(np.asarray(source))
        z = song_latents(model, song, batch_size)
        n_steps = len(song) if n_steps is None else n_steps
    info = dims_from_json(dims_info)
    if info["latent_dim"] != z.shape[1]:
        raise ValueError(f"dims info is for a {info['latent_dim']}-dim latent, the latents are {z.shape[1]}-dim")
    rows = _bar_rows(len(z), bars)
    move = sum((knob_move(z, info, knob, amount, control, seed)
                for knob, amount in zip(KNOBS, (pitch, rhythm, residual)) if amount), torch.zeros_like(z))
    z = z + rows[:, None] * move
    if offset is not None:
        offset = torch.as_tensor(offset, dtype=torch.float32).reshape(-1)
        if offset.shape != (z.shape[1],):
            raise ValueError(f"offset must have shape ({z.shape[1]},) like one latent, got {tuple(offset.shape)}")
        if control:
            offset = _control_offset(dims_info, offset, seed)
        z = z + rows[:, None] * offset
    song_out = join_clips(decode_z(model, z, batch_size))
    return song_out if n_steps is None else song_out[:n_steps]


def _onset_stats(tokens: np.ndarray) -> tuple[int, float | None]:
    onsets = tokens[tokens < N_PITCHES]
    return len(onsets), (float(onsets.mean()) if len(onsets) else None)


def knob_effects(model, song_tokens: np.ndarray, dims_info: dict, amount: float, knob: str = "pitch",
                 control: bool = False, seed: int = 0, batch_size: int = BATCH_SIZE) -> dict:
    """What one knob move does to a song, measured against the decoded unmodified song.

    Args:
        model: the VAE.
        song_tokens: int array (T,).
        dims_info: a :func:`discover_dims` dict.
        amount: the knob amount (+5 = five semitones for pitch, +1 = one split for rhythm).
        knob: "pitch", "rhythm" or "residual".
        control: apply the same-size move on random dims outside pitch ∪ rhythm instead (pitch and
            rhythm knobs only).
        seed: seeds the control dims.

    Returns:
        dict with ``pitch_shift`` (mean onset pitch after − before, semitones), ``rhythm_change``
        (share of steps whose onset / hold / rest class differs), ``density_ratio`` (onsets after
        / before), the onset counts and mean pitches, ``move_norm`` (L2 size of the move, the
        mean over the song's clips) and ``moved_dims``. Holds that follow a rest are read as
        rests; a mean over no onsets is None.
    """
    if knob not in KNOBS:
        raise ValueError(f"knob must be one of {KNOBS}, got {knob!r}")
    if control and knob == "residual":
        raise ValueError("the random control is defined for the pitch and rhythm knobs only")
    song = check_tokens(np.asarray(song_tokens))
    z = song_latents(model, song, batch_size)
    before = normalize_tokens(join_clips(decode_z(model, z, batch_size)))
    after = normalize_tokens(modulate(model, z, dims_info, control=control, seed=seed, batch_size=batch_size,
                                      **{knob: amount}))
    move = knob_move(z, dims_info, knob, amount, control, seed)
    n_before, mean_before = _onset_stats(before)
    n_after, mean_after = _onset_stats(after)
    classes = [np.select([t < N_PITCHES, t == HOLD], [0, 1], 2) for t in (before, after)]
    return {
        "knob": knob,
        "amount": float(amount),
        "control": control,
        "moved_dims": torch.nonzero(move.abs().sum(0)).flatten().tolist(),
        "move_norm": float(move.norm(dim=1).mean()),
        "n_clips": len(z),
        "onsets_before": n_before,
        "onsets_after": n_after,
        "mean_pitch_before": mean_before,
        "mean_pitch_after": mean_after,
        "pitch_shift": None if mean_before is None or mean_after is None else mean_after - mean_before,
        "rhythm_change": float((classes[0] != classes[1]).mean()),
        "density_ratio": n_after / n_before if n_before else None,
    }
