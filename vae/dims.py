"""KnobSpace: where a model's knobs live in its latent space, found by augmentation, and their JSON form.

Disentanglement by augmentation (the paper's analysis by synthesis): for a transform F of clips,
Δz = mean(μ(F x) − μ(x)) over many clips; the few latent dims with large |Δz| are the transform's.
Transposition by p = 1..12 semitones finds the pitch dims, splitting two whole notes into n = 2..16
finds the rhythm dims; everything else is residual. :class:`KnobSpace` holds the dims, the move of +1 on
each knob and how they were found; ``dims.json`` is its :meth:`KnobSpace.to_json`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import Tensor

from vae import latent
from vae.augment import split_notes, transposable, transpose, two_whole_notes
from vae.curves import Curve, curves_from_json, curves_to_json
from vae.inference import BATCH_SIZE, Progress, Tracker, encode_batches, inference, n_batches
from vae.melody import N_PITCHES, check_clips, clip_is_valid, split_clips

KNOBS = ("pitch", "rhythm", "residual")
PITCH_KNOBS = ("transport", "linear", "curve")  # how the pitch knob moves z, see discover_dims and vae.curves
RHYTHM_KNOBS = ("linear", "curve")  # how the rhythm knob moves z
RHYTHM_UNITS = ("songs", "whole_notes")  # what the rhythm knob's +1 is calibrated on, see discover_dims
PITCH_SHIFTS = tuple(range(1, 13))  # p = 1..12 semitones (paper)
RHYTHM_SPLITS = (2, 4, 8, 16)  # n equal parts per whole note (paper)
N_RHYTHM_CLIPS = 2000  # DESIGN: >= 2,000 two-whole-note clips
DEFAULT_RHYTHM_RANGE = (48, 84)  # C3-C6: the notes of two-whole-note clips drawn without real clips to follow
MIN_TRANSPORT_CLIPS = 20  # fewer clips than this fit no transport maps: the pitch knob falls back to linear
_TENSOR_KEYS = ("latent_dim", "pitch_dims", "rhythm_dims", "residual_dims", "pitch_knob", "pitch_transport",
                "rhythm_knob", "curves",
                *(f"{k}_direction" for k in KNOBS))


@dataclass(frozen=True)
class Discovery:
    """The settings of disentanglement by augmentation (:func:`discover_dims`); the defaults are the paper's."""

    n_pitch: int = 2  # pitch dims to find: the top n by Σ_p |Δ_p| (paper: 2)
    n_rhythm: int = 5  # rhythm dims: the top n by Σ_n |Δ_n| (paper: 5)
    shifts: tuple[int, ...] = PITCH_SHIFTS  # transpositions p in semitones; 1..P for the transport knob
    splits: tuple[int, ...] = RHYTHM_SPLITS  # n equal notes per whole note; each >= 2
    n_rhythm_clips: int = N_RHYTHM_CLIPS  # two-whole-note clips to draw
    pitch_range: tuple[int, int] | None = None  # (lo, hi) MIDI pitches of their notes; None: the clips' own range
    seed: int = 0  # seeds the draw of the two-whole-note clips
    pitch_knob: str = "transport"  # how the pitch knob moves: "transport" or "linear" (see discover_dims)
    rhythm_unit: str = "songs"  # what the rhythm knob's +1 is calibrated on: "songs" or "whole_notes"


@dataclass(frozen=True, eq=False)
class KnobSpace:
    """The knobs of one model: which latent dims they own and the move of +1 on each.

    ``dims.json`` is :meth:`to_json`; :meth:`from_json` reads it back (and any dims.json written
    since the transport knob, 2026-11). Everything about how the dims were found (units, scores,
    deltas, concentrations, notes, method) travels in ``meta`` untouched.
    """

    pitch_dims: Tensor  # LongTensor (kp,): the dims transposition moves most
    rhythm_dims: Tensor  # LongTensor (kr,): the dims note splitting moves most
    directions: dict[str, Tensor]  # knob name -> FloatTensor (D,), the move of +1 (zero outside its dims)
    pitch_knob: str = "linear"  # "linear": along directions["pitch"]; "transport": the per-shift maps below
    transport: dict | None = None  # "forward" / "backward": FloatTensors (P, kp + 1, kp), plus the fits' R²
    rhythm_knob: str = "linear"  # "linear": along directions["rhythm"]; "curve": curves["rhythm"]
    curves: dict[str, Curve] | None = None  # knob -> attribute curve of a tied dim, for the "curve" knobs
    meta: dict = field(default_factory=dict)  # how they were found, JSON types (see discover_dims)

    @property
    def latent_dim(self) -> int:
        return len(self.directions["pitch"])

    @property
    def residual_dims(self) -> Tensor:
        """LongTensor of the dims in neither the pitch nor the rhythm dims, ascending."""
        return latent.residual_dims(self.latent_dim, self.pitch_dims, self.rhythm_dims)

    @property
    def n_offsets(self) -> int:
        """How many per-dimension offsets the knobs take: one per pitch dim, then per rhythm dim."""
        return len(self.pitch_dims) + len(self.rhythm_dims)

    @property
    def offset_names(self) -> list[str]:
        """A label for each per-dimension offset, e.g. "pitch dim 0": the pitch dims, then the rhythm dims."""
        return [f"{kind} dim {d}" for kind in ("pitch", "rhythm") for d in getattr(self, f"{kind}_dims").tolist()]

    def kind(self, knob: str) -> str:
        """How ``knob`` moves z: "linear", "transport" (the pitch knob's fitted maps) or "curve"."""
        if knob not in KNOBS:
            raise ValueError(f"knob must be one of {KNOBS}, got {knob!r}")
        return {"pitch": self.pitch_knob, "rhythm": self.rhythm_knob}.get(knob, "linear")

    def with_curves(self, curves: dict[str, Curve]) -> KnobSpace:
        """These dims with a curve knob (:func:`vae.curves.fit_curves`) for each knob that has a curve.

        The knob then owns its tied dim: if discovery did not pick it, it takes the place of the
        weakest dim found, with a note (what discovery found stays in ``meta``).
        """
        if not curves:
            return self
        found = {"pitch": self.pitch_dims.clone(), "rhythm": self.rhythm_dims.clone()}
        notes = []
        for knob, dims in found.items():
            tied = curves[knob].dim if knob in curves else None
            if tied is not None and tied not in dims.tolist():
                notes.append(f"the {knob} curve's tied dim {tied} was not among the {knob} dims found "
                             f"({dims.tolist()}); it replaces dim {int(dims[-1])}")
                dims[-1] = tied
        meta = {**self.meta, "found_pitch_dims": self.pitch_dims.tolist(),
                "found_rhythm_dims": self.rhythm_dims.tolist(), "curve_notes": notes}
        return replace(self, pitch_dims=found["pitch"], rhythm_dims=found["rhythm"], curves=curves,
                       pitch_knob="curve" if "pitch" in curves else self.pitch_knob,
                       rhythm_knob="curve" if "rhythm" in curves else self.rhythm_knob, meta=meta)

    def to_json(self) -> dict:
        """A JSON-serialisable dict (dims.json): the tensors as lists, then ``meta``."""
        transport = None if self.transport is None else {
            k: v.tolist() if torch.is_tensor(v) else v for k, v in self.transport.items()}
        return {"latent_dim": self.latent_dim, "pitch_dims": self.pitch_dims.tolist(),
                "rhythm_dims": self.rhythm_dims.tolist(), "residual_dims": self.residual_dims.tolist(),
                **{f"{k}_direction": v.tolist() for k, v in self.directions.items()},
                "pitch_knob": self.pitch_knob, "pitch_transport": transport,
                **({"rhythm_knob": self.rhythm_knob} if self.rhythm_knob != "linear" else {}),
                **({"curves": curves_to_json(self.curves)} if self.curves else {}), **self.meta}

    @classmethod
    def from_json(cls, d: dict) -> KnobSpace:
        """Read :meth:`to_json`'s dict (dims.json). Raises ValueError when it is incomplete or inconsistent."""
        missing = [k for k in ("pitch_dims", "rhythm_dims", "pitch_direction", "rhythm_direction") if k not in d]
        if missing:
            raise ValueError(f"dims info lacks {missing}; was it written by vae.dims.discover_dims?")
        latent_dim = len(d["pitch_direction"])
        directions = {}
        for knob in KNOBS:
            vec = torch.as_tensor(d.get(f"{knob}_direction", [0.0] * latent_dim), dtype=torch.float32)
            if vec.shape != (latent_dim,):
                raise ValueError(f"{knob}_direction has shape {tuple(vec.shape)}; expected ({latent_dim},) "
                                 "like pitch_direction")
            directions[knob] = vec
        pitch_dims = latent.check_dims(d["pitch_dims"], latent_dim, "pitch_dims")
        rhythm_dims = latent.check_dims(d["rhythm_dims"], latent_dim, "rhythm_dims")
        pitch_knob = d.get("pitch_knob", "linear")
        if pitch_knob not in PITCH_KNOBS:
            raise ValueError(f"pitch_knob must be one of {PITCH_KNOBS}, got {pitch_knob!r}")
        raw = d.get("pitch_transport")
        transport = _read_transport(raw, len(pitch_dims)) if raw is not None or pitch_knob == "transport" else None
        rhythm_knob = d.get("rhythm_knob", "linear")
        if rhythm_knob not in RHYTHM_KNOBS:
            raise ValueError(f"rhythm_knob must be one of {RHYTHM_KNOBS}, got {rhythm_knob!r}")
        curves = curves_from_json(d.get("curves") or {})
        for knob, kind in (("pitch", pitch_knob), ("rhythm", rhythm_knob)):
            if kind == "curve" and knob not in curves:
                raise ValueError(f"the {knob} knob is a curve knob but dims.json has no curve for it")
            if knob in curves and not 0 <= curves[knob].dim < latent_dim:
                raise ValueError(f"the {knob} curve's dim {curves[knob].dim} is outside the latent")
        return cls(pitch_dims=pitch_dims, rhythm_dims=rhythm_dims, directions=directions, pitch_knob=pitch_knob,
                   transport=transport, rhythm_knob=rhythm_knob, curves=curves or None,
                   meta={k: v for k, v in d.items() if k not in _TENSOR_KEYS})


def _read_transport(raw: dict | None, k: int) -> dict:
    out = dict(raw or {})
    for key in ("forward", "backward"):
        maps = torch.as_tensor(out.get(key, []), dtype=torch.float32)
        if maps.dim() != 3 or maps.shape[1:] != (k + 1, k) or not len(maps):
            raise ValueError(f"pitch_transport.{key} must have shape (P, {k + 1}, {k}) for {k} pitch dims, "
                             f"got {tuple(maps.shape)}")
        out[key] = maps
    return out


# ----------------------------------------------------------------------------- deltas


def pitch_clips(clips: np.ndarray, shifts: Sequence[int]) -> np.ndarray:
    """The clips that every shift keeps in 0-127 and that have a note to move."""
    if not shifts:
        raise ValueError("shifts is empty; give the transpositions in semitones, e.g. range(1, 13)")
    clips = check_clips(clips)
    keep = (clips < N_PITCHES).any(axis=1)
    for p in shifts:
        keep &= transposable(clips, p)
    return clips[keep]


def _pitch_deltas(model, kept: np.ndarray, shifts: Sequence[int], batch_size: int,
                  tracker: Tracker) -> tuple[Tensor, Tensor, list[Tensor]]:
    mu0 = encode_batches(model, kept, tracker, "pitch: original clips", batch_size)
    moved = [encode_batches(model, transpose(kept, p), tracker, f"pitch: +{p} semitones", batch_size) for p in shifts]
    return torch.stack([(mu - mu0).mean(0) for mu in moved]), mu0, moved


def pitch_deltas(model, clips: np.ndarray, shifts: Iterable[int] = PITCH_SHIFTS, batch_size: int = BATCH_SIZE,
                 progress: Progress | None = None) -> tuple[Tensor, int]:
    """Δ_p = mean(μ(F_p x) − μ(x)) for each transposition p (DESIGN "Pitch concentration"), for one's own analysis
    (README API; discover_dims measures it in its own pass). Only clips that stay within MIDI 0-127 under every shift
    (and have at least one note) are used.

    Args:
        model: the VAE.
        clips: int array (N, 32).
        shifts: semitone amounts p.

    Returns:
        deltas: FloatTensor (len(shifts), D).
        n_clips_used: how many clips went into each mean.
    """
    shifts = [int(p) for p in shifts]
    kept = pitch_clips(clips, shifts)
    if not len(kept):
        raise ValueError(f"no clip can be moved by all of {shifts} semitones within MIDI 0-127; "
                         "give clips with notes below 116 or smaller shifts")
    tracker = Tracker(progress, (1 + len(shifts)) * n_batches(len(kept), batch_size))
    with inference(model):
        deltas, _, _ = _pitch_deltas(model, kept, shifts, batch_size, tracker)
    return deltas, len(kept)


def _rhythm_clips(n_clips: int, pitch_range: tuple[int, int], seed: int) -> np.ndarray:
    lo, hi = (int(x) for x in pitch_range)
    if not 0 <= lo <= hi < N_PITCHES:
        raise ValueError(f"pitch_range must be (lo, hi) with 0 <= lo <= hi <= 127, got {pitch_range}")
    if n_clips < 1:
        raise ValueError(f"n_clips must be at least 1, got {n_clips}")
    return two_whole_notes(np.random.default_rng(seed).integers(lo, hi + 1, size=(n_clips, 2)))


def _rhythm_deltas(model, base: np.ndarray, splits: Sequence[int], batch_size: int, tracker: Tracker) -> Tensor:
    mu0 = encode_batches(model, base, tracker, "rhythm: two whole notes", batch_size)
    return torch.stack([(encode_batches(model, split_notes(base, n), tracker, f"rhythm: split in {n}", batch_size)
                         - mu0).mean(0) for n in splits])


def rhythm_deltas(model, settings: Discovery | None = None, batch_size: int = BATCH_SIZE,
                  progress: Progress | None = None) -> Tensor:
    """Δ_n = mean(μ(F_n x) − μ(x)) over clips of two whole notes, each note split in n.

    Args:
        model: the VAE.
        settings: ``n_rhythm_clips`` two-whole-note clips are drawn with ``seed``, their notes uniform in
            ``pitch_range`` (both ends inclusive; default C3-C6, 48-84), and split by each of ``splits`` (each
            must divide 16, a whole note, to change the rhythm).

    Returns:
        FloatTensor (len(splits), D).
    """
    settings = settings or Discovery()
    splits = [int(n) for n in settings.splits]
    if not splits or any(n < 2 for n in splits):
        raise ValueError(f"splits must be whole numbers >= 2 (2, 4, 8, 16), got {splits}")
    base = _rhythm_clips(settings.n_rhythm_clips, settings.pitch_range or DEFAULT_RHYTHM_RANGE, settings.seed)
    tracker = Tracker(progress, (1 + len(splits)) * n_batches(len(base), batch_size))
    with inference(model):
        return _rhythm_deltas(model, base, splits, batch_size, tracker)


# ----------------------------------------------------------------------------- discovery


@dataclass
class _Runs:
    """What discover_dims measures with the model: the deltas and the latents they come from."""

    kept: np.ndarray  # the real clips that every shift keeps in range (N, 32)
    base: np.ndarray  # the two-whole-note clips
    d_pitch: Tensor  # (P, D)
    d_rhythm: Tensor  # (len(splits), D)
    d_songs: Tensor | None  # (D,): mean Δz of the real clips whose notes split in two, None if none do
    n_split: int  # how many real clips a split in two changes
    mu0: Tensor  # μ of kept (N, D)
    moved: list[Tensor]  # μ of kept transposed by each shift


def _run(model, kept: np.ndarray, base: np.ndarray, settings: Discovery, batch_size: int,
         progress: Progress | None) -> _Runs:
    shifts, splits = list(settings.shifts), list(settings.splits)
    split = split_notes(kept, min(splits))
    changed = (split != kept).any(axis=1)
    tracker = Tracker(progress, (1 + len(shifts)) * n_batches(len(kept), batch_size)
                      + (1 + len(splits)) * n_batches(len(base), batch_size)
                      + n_batches(int(changed.sum()), batch_size))
    with inference(model):
        d_pitch, mu0, moved = _pitch_deltas(model, kept, shifts, batch_size, tracker)
        d_rhythm = _rhythm_deltas(model, base, splits, batch_size, tracker)
        d_songs = (encode_batches(model, split[changed], tracker, f"rhythm: clips split in {min(splits)}", batch_size)
                   - mu0[torch.from_numpy(changed)]).mean(0) if changed.any() else None
    return _Runs(kept, base, d_pitch, d_rhythm, d_songs, int(changed.sum()), mu0, moved)


def _rhythm_knob(runs: _Runs, splits: list[int], r_dims: Tensor, rhythm_unit: str) -> tuple[Tensor, dict]:
    """The rhythm knob's direction, calibrated on ``rhythm_unit`` (or whole notes when no real note splits)."""
    row = splits.index(min(splits))
    r_dirs = {"whole_notes": latent.knob_direction(runs.d_rhythm[row:row + 1], [1.0], r_dims)}
    if runs.d_songs is not None:
        r_dirs["songs"] = latent.knob_direction(runs.d_songs[None], [1.0], r_dims)
    note = None
    if rhythm_unit not in r_dirs:
        note = f"no clip has notes that split in {min(splits)}: the rhythm knob is calibrated on whole notes"
        rhythm_unit = "whole_notes"
    direction, unit = r_dirs[rhythm_unit]
    return direction, {"rhythm_unit": {"unit": f"split in {splits[row]}", "calibrated_on": rhythm_unit, **unit},
                       "rhythm_unit_note": note,
                       "rhythm_directions": {k: d.tolist() for k, (d, _) in r_dirs.items()},
                       "n_rhythm_song_clips": runs.n_split}


def _pitch_transport(runs: _Runs, p_dims: Tensor, consecutive: bool, n_pitch: int) -> dict | None:
    """One affine map per shift within the pitch dims, both ways (see :func:`vae.latent.fit_affine`);
    None when the shifts are not 1..P or the clips are too few."""
    if not consecutive or len(runs.kept) < max(MIN_TRANSPORT_CLIPS, n_pitch + 2):
        return None
    forward = [latent.fit_affine(runs.mu0, mu, p_dims) for mu in runs.moved]
    backward = [latent.fit_affine(mu, runs.mu0, p_dims) for mu in runs.moved]
    return {"forward": torch.stack([w for w, _ in forward]), "backward": torch.stack([w for w, _ in backward]),
            "r2_forward": [r2 for _, r2 in forward], "r2_backward": [r2 for _, r2 in backward]}


def _check_options(shifts: list[int], pitch_knob: str, rhythm_unit: str) -> bool:
    """Raise ValueError on unknown options; whether the shifts are 1..P (what the transport maps need)."""
    if pitch_knob not in PITCH_KNOBS:
        raise ValueError(f"pitch_knob must be one of {PITCH_KNOBS}, got {pitch_knob!r}")
    consecutive = shifts == list(range(1, len(shifts) + 1))
    if pitch_knob == "transport" and not consecutive:
        raise ValueError(f"the transport pitch knob needs shifts 1..P, got {shifts} (use pitch_knob='linear')")
    if rhythm_unit not in RHYTHM_UNITS:
        raise ValueError(f"rhythm_unit must be one of {RHYTHM_UNITS}, got {rhythm_unit!r}")
    return consecutive


def discover_dims(model, clips: np.ndarray, settings: Discovery | None = None, batch_size: int = BATCH_SIZE,
                  progress: Progress | None = None) -> KnobSpace:
    """Disentanglement by augmentation: find the pitch and rhythm dims and the three knobs.

    Pitch dims = top ``n_pitch`` by Σ_p |Δ_p|, rhythm dims = top ``n_rhythm`` by Σ_n |Δ_n|. The
    pitch knob moves along the least-squares slope of Δ_p[pitch dims] over p (+1 ≈ one semitone;
    ``pitch_knob="linear"``) or, by default, by one affine map per shift fitted on the pairs
    (μ(x), μ(F_p x)) (``"transport"``, :func:`vae.latent.fit_affine`). The rhythm knob moves by
    mean(μ(F_2 x) − μ(x)) on the rhythm dims over the real clips whose notes split in two
    (``rhythm_unit="songs"``) or over two whole notes (``"whole_notes"``, the paper's). The
    residual knob is the principal axis of μ(clips) in the residual dims, in standard deviations.

    Args:
        model: the VAE.
        clips: int array (N, 32) of real clips (DESIGN: >= 2,000 test clips).
        settings: how many dims, which transforms, the two-whole-note clips (their pitch range defaults to the
            clips' lowest and highest note) and the kinds of knob: :class:`Discovery` (default: the paper's).

    Returns:
        KnobSpace; its ``meta`` holds the units, scores, deltas and concentrations (DESIGN "Measures").
    """
    settings = settings or Discovery()
    shifts, splits = [int(p) for p in settings.shifts], [int(n) for n in settings.splits]
    settings = replace(settings, shifts=tuple(shifts), splits=tuple(splits))
    consecutive = _check_options(shifts, settings.pitch_knob, settings.rhythm_unit)
    kept = pitch_clips(clips, shifts)
    if len(kept) < 2:
        raise ValueError(f"only {len(kept)} clip(s) stay within MIDI 0-127 under shifts {shifts}; "
                         "give at least 2 clips with notes")
    notes = kept[kept < N_PITCHES]
    pitch_range = settings.pitch_range or (int(notes.min()), int(notes.max()))
    runs = _run(model, kept, _rhythm_clips(settings.n_rhythm_clips, pitch_range, settings.seed), settings, batch_size, progress)
    pitch_scores, rhythm_scores = runs.d_pitch.abs().sum(0), runs.d_rhythm.abs().sum(0)
    p_dims, r_dims = latent.top_dims(pitch_scores, settings.n_pitch), latent.top_dims(rhythm_scores, settings.n_rhythm)
    p_dir, p_unit = latent.knob_direction(runs.d_pitch, shifts, p_dims)
    r_dir, rhythm_meta = _rhythm_knob(runs, splits, r_dims, settings.rhythm_unit)
    res_dir, res_unit = latent.residual_direction(runs.mu0, latent.residual_dims(len(p_dir), p_dims, r_dims))
    transport = _pitch_transport(runs, p_dims, consecutive, settings.n_pitch)  # fitted for either knob, to compare them
    pitch_knob, note = settings.pitch_knob, None
    if pitch_knob == "transport" and transport is None:
        pitch_knob = "linear"
        note = (f"{len(kept)} clips are too few to fit the transport maps (it takes {MIN_TRANSPORT_CLIPS}): "
                "the pitch knob is linear")
    meta = {"pitch_unit": {"unit": "semitone", **p_unit}, "pitch_knob_note": note, **rhythm_meta,
            "residual_unit": {"unit": "one standard deviation along each of the principal axes that hold half "
                                      "of the residual variance, added", **res_unit},
            "c_pitch": latent.concentration(runs.d_pitch, p_dims),
            "pitch_stability": latent.stability(runs.d_pitch, p_dims),
            "c_rhythm": latent.concentration(runs.d_rhythm, r_dims),
            "rhythm_stability": latent.stability(runs.d_rhythm, r_dims),
            "overlap": len(set(p_dims.tolist()) & set(r_dims.tolist())),
            "pitch_scores": pitch_scores.tolist(), "rhythm_scores": rhythm_scores.tolist(),
            "pitch_deltas": runs.d_pitch.tolist(), "rhythm_deltas": runs.d_rhythm.tolist(),
            "shifts": shifts, "splits": splits, "n_pitch_clips": len(kept), "n_rhythm_clips": len(runs.base),
            "rhythm_pitch_range": [int(pitch_range[0]), int(pitch_range[1])], "seed": settings.seed}
    directions = {"pitch": p_dir.float(), "rhythm": r_dir.float(), "residual": res_dir.float()}
    return KnobSpace(pitch_dims=p_dims, rhythm_dims=r_dims, directions=directions, pitch_knob=pitch_knob,
                     transport=transport, meta=meta)


def song_dims(model, tokens: np.ndarray, name: str = "this song", progress: Progress | None = None) -> KnobSpace:
    """:func:`discover_dims` on one song's clips (T,) with two or more notes (the app's Inspect tab)."""
    clips = split_clips(tokens)
    clips = clips[clip_is_valid(clips)]
    if len(clips) < 2:
        raise ValueError(f"{name} has {len(clips)} clip(s) with two or more notes; the analysis needs 2")
    return discover_dims(model, clips, progress=progress)
