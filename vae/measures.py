"""The project's measures (DESIGN "Measures"): reconstruction accuracy and knob effects, and their tables.

The knob effects turn the knobs with :func:`vae.knobs.move`, the code the app serves, so what is
measured is what a user gets.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vae import knobs
from vae.dims import KNOBS, KnobSpace
from vae.inference import BATCH_SIZE, Progress, Tracker, decode_z, device_of, encode_z, fit_z, inference, n_batches
from vae.melody import HOLD, N_PITCHES, check_clips, join_clips, normalize_tokens, split_clips


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
    device, tracker = device_of(model), Tracker(progress, n_batches(len(clips), batch_size))
    right, exact, forced = 0, 0, 0
    with inference(model):
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


def fitted_accuracy(model, clips: np.ndarray, batch_size: int = BATCH_SIZE, progress: Progress | None = None) -> dict:
    """Greedy reconstruction from z fitted to each clip (:func:`vae.inference.fit_z`), beside μ's.

    Returns:
        dict with ``token_accuracy`` and ``exact_clip_rate`` from the fitted z, ``mu_token_accuracy`` and
        ``mu_exact_clip_rate`` from μ (the same clips, the same run), ``never_worse`` (whether no clip
        decodes fewer steps right from its fitted z than from μ) and ``n_clips``.
    """
    clips = check_clips(clips)
    if not len(clips):
        raise ValueError("no clips to reconstruct")
    tracker = Tracker(progress, n_batches(len(clips), batch_size))
    fitted, amortised = [], []
    for start in range(0, len(clips), batch_size):
        z, mu = fit_z(model, clips[start:start + batch_size])
        decoded = decode_z(model, torch.cat([z, mu]))  # rows where z is μ decode once
        fitted.append(decoded[: len(z)])
        amortised.append(decoded[len(z):])
        tracker.step("fitting")
    hit, mu_hit = np.concatenate(fitted) == clips, np.concatenate(amortised) == clips
    return {"token_accuracy": float(hit.mean()), "exact_clip_rate": float(hit.all(1).mean()),
            "mu_token_accuracy": float(mu_hit.mean()), "mu_exact_clip_rate": float(mu_hit.all(1).mean()),
            "never_worse": bool((hit.sum(1) >= mu_hit.sum(1)).all()), "n_clips": len(clips)}


def _onset_stats(tokens: np.ndarray) -> tuple[int, float | None]:
    onsets = tokens[tokens < N_PITCHES]
    return len(onsets), (float(onsets.mean()) if len(onsets) else None)


@dataclass(frozen=True)
class KnobMove:
    """One knob move to measure (:func:`knob_effects`)."""

    amount: float  # +5 = five semitones for pitch, +1 = one split for rhythm
    knob: str = "pitch"  # "pitch", "rhythm" or "residual"
    control: bool = False  # the same-size move on random dims outside pitch ∪ rhythm instead (pitch, rhythm only)
    seed: int = 0  # seeds the control's dims


def knob_effects(model, song_tokens: np.ndarray, space: KnobSpace, turn: KnobMove, faithful: bool = True) -> dict:
    """What one knob move does to a song, measured against the decoded unmodified song.

    Both are decoded clip by clip (32 steps each, the last clip's padding included).

    Args:
        model: the VAE.
        song_tokens: int array (T,).
        space: the model's knobs.
        turn: which knob, how far, and whether on the random control's dims.
        faithful: move the latents fitted to the song, as the app does by default (else μ).

    Returns:
        dict with ``pitch_shift`` (mean onset pitch after − before, semitones), ``rhythm_change``
        (share of steps whose onset / hold / rest class differs), ``steps_changed`` (share of steps
        whose token differs), ``density_ratio`` (onsets after
        / before), the onset counts and mean pitches, ``move_norm`` (L2 size of the move, the
        mean over the song's clips) and ``moved_dims``. Holds that follow a rest are read as
        rests; a mean over no onsets is None.
    """
    knob, amount, control, seed = turn.knob, turn.amount, turn.control, turn.seed
    if knob not in KNOBS:
        raise ValueError(f"knob must be one of {KNOBS}, got {knob!r}")
    if control and knob == "residual":
        raise ValueError("the random control is defined for the pitch and rhythm knobs only")
    z = encode_z(model, split_clips(song_tokens), faithful)
    turned = knobs.Knobs(control=control, **{knob: float(amount)})
    before = normalize_tokens(join_clips(decode_z(model, z)))
    after = normalize_tokens(join_clips(decode_z(model, knobs.move(z, space, turned, seed))))
    move = knobs.knob_move(z, space, knob, amount, control, seed)
    n_before, mean_before = _onset_stats(before)
    n_after, mean_after = _onset_stats(after)
    classes = [np.select([t < N_PITCHES, t == HOLD], [0, 1], 2) for t in (before, after)]
    return {
        "knob": knob, "amount": float(amount), "control": control,
        "moved_dims": torch.nonzero(move.abs().sum(0)).flatten().tolist(),
        "move_norm": float(move.norm(dim=1).mean()), "n_clips": len(z),
        "onsets_before": n_before, "onsets_after": n_after,
        "mean_pitch_before": mean_before, "mean_pitch_after": mean_after,
        "pitch_shift": None if mean_before is None or mean_after is None else mean_after - mean_before,
        "rhythm_change": float((classes[0] != classes[1]).mean()),
        "steps_changed": float((before != after).mean()),
        "density_ratio": n_after / n_before if n_before else None,
    }


FIDELITY_AMOUNTS = {"pitch": (-12.0, -5.0, -2.0, 2.0, 5.0, 12.0), "rhythm": (-2.0, -1.0, 1.0, 2.0)}


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Slope and R² of the least-squares line through (x, y) (with an intercept)."""
    slope, intercept = np.polyfit(x, y, 1)
    total = float(((y - y.mean()) ** 2).sum())
    r2 = 1 - float(((y - slope * x - intercept) ** 2).sum()) / total if total > 0 else 0.0
    return float(slope), r2


def transposed(tokens: np.ndarray, semitones: int) -> np.ndarray:
    """A song (T,) with every onset moved by ``semitones`` (holds and rests stay; pitches kept in 0..127)."""
    tokens = np.asarray(tokens)
    return np.where(tokens < N_PITCHES, np.clip(tokens + int(semitones), 0, N_PITCHES - 1), tokens)


def knob_fidelity(model, songs: list[np.ndarray], space: KnobSpace, knob: str = "pitch",
                  progress: Progress | None = None, faithful: bool = True) -> dict:
    """What a user gets from a knob (DESIGN "Knob fidelity"), through :func:`vae.knobs.move`.

    For each song and amount k of ``FIDELITY_AMOUNTS``: the pitch knob's mean-pitch shift (semitones), or the rhythm
    knob's log2 density ratio, of the decoded song against the song decoded at rest. Linearity
    = R² of one straight line through all (k, effect) points, gain = its slope (1.0: the knob
    moves as many semitones, or doublings of the notes, as it says). For the pitch knob also the
    transposition agreement: the share of steps where pitch +k equals the song at rest moved by k
    semitones (how much of the melody a move keeps). ``faithful``: the latents fitted to each song, as
    the app moves them (else μ).

    Returns:
        dict with ``amounts``, ``effects`` (one list per song), ``median`` (per amount), ``r2``,
        ``gain``, ``n_songs`` and, for pitch, ``transposition_agreement`` (median over songs, per amount).
    """
    if knob not in ("pitch", "rhythm"):
        raise ValueError(f"knob fidelity is defined for the pitch and rhythm knobs, got {knob!r}")
    amounts = FIDELITY_AMOUNTS[knob]
    tracker = Tracker(progress, len(songs))
    effects, kept = [], []
    for song in songs:
        z = encode_z(model, split_clips(song), faithful)
        rest = join_clips(decode_z(model, z))
        row, same = [], []
        for k in amounts:
            after = join_clips(decode_z(model, knobs.move(z, space, knobs.Knobs(**{knob: k}))))
            same.append(float((normalize_tokens(after) == normalize_tokens(transposed(rest, round(k)))).mean()))
            (n0, m0), (n1, m1) = _onset_stats(rest), _onset_stats(after)
            if knob == "pitch":
                row.append(None if m0 is None or m1 is None else m1 - m0)
            else:
                row.append(None if not n0 or not n1 else float(np.log2(n1 / n0)))
        effects.append(row)
        kept.append(same)
        tracker.step(f"{knob} knob fidelity")
    x = np.array([k for row in effects for k, e in zip(amounts, row, strict=True) if e is not None])
    y = np.array([e for row in effects for e in row if e is not None])
    gain, r2 = _line(x, y) if len(x) > 2 else (float("nan"), float("nan"))
    median = [float(np.median([row[i] for row in effects if row[i] is not None] or [np.nan]))
              for i in range(len(amounts))]
    out = {"knob": knob, "amounts": list(amounts), "effects": effects, "median": median, "r2": r2, "gain": gain,
           "unit": "semitones" if knob == "pitch" else "log2 density ratio", "n_songs": len(songs),
           "faithful": bool(faithful)}
    if knob == "pitch":
        out["transposition_agreement"] = np.median(np.array(kept), axis=0).tolist() if kept else []
    return out


def rest_agreement(model, songs: list[np.ndarray], faithful: bool = True) -> dict:
    """Share of steps where the song decoded at rest equals the song (what a user sees first), from the
    latents fitted to each song as the app serves it by default (``faithful=False``: from μ).

    Returns:
        dict with ``per_song`` (list), ``median`` and ``min``.
    """
    shares = []
    for song in songs:
        song = np.asarray(song)
        rest = join_clips(decode_z(model, encode_z(model, split_clips(song), faithful)))[: len(song)]
        shares.append(float((normalize_tokens(rest) == normalize_tokens(song)).mean()))
    return {"per_song": shares, "median": float(np.median(shares)), "min": float(np.min(shares)),
            "n_songs": len(shares), "faithful": bool(faithful)}


def what_it_did(before: np.ndarray, after: np.ndarray) -> str:
    """One line on what a knob move produced: "+4.8 semitones, ×1.0 notes" (after against before)."""
    (n0, m0), (n1, m1) = _onset_stats(np.asarray(before)), _onset_stats(np.asarray(after))
    pitch = "no notes" if m0 is None or m1 is None else f"{m1 - m0:+.1f} semitones"
    notes = f"×{n1 / n0:.2f} notes" if n0 else f"{n1} notes"
    return f"{pitch}, {notes}"


# ----------------------------------------------------------------------------- tables and figures




def dims_rows(space: KnobSpace) -> list[list[str]]:
    """(measure, value) rows describing a model's dims and how well they were found, for a table."""
    meta = space.meta

    def fmt(key: str) -> str:
        value = meta.get(key)
        return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    def note(key: str) -> str:
        return f" ({meta[key]})" if meta.get(key) else ""

    return [["pitch dims", ", ".join(str(d) for d in space.pitch_dims.tolist())],
            ["rhythm dims", ", ".join(str(d) for d in space.rhythm_dims.tolist())],
            ["pitch knob", space.pitch_knob + note("pitch_knob_note")],
            ["rhythm knob +1", (meta.get("rhythm_unit") or {}).get("calibrated_on", "whole_notes")
             + note("rhythm_unit_note")],
            ["C_pitch", fmt("c_pitch")], ["C_rhythm", fmt("c_rhythm")], ["overlap", fmt("overlap")],
            ["pitch stability", fmt("pitch_stability")], ["rhythm stability", fmt("rhythm_stability")],
            ["clips (pitch)", fmt("n_pitch_clips")], ["clips (rhythm)", fmt("n_rhythm_clips")]]


def report_rows(report: dict, prefix: str = "") -> list[list[str]]:
    """A nested report.json flattened into (key, value) rows; numbers rounded to 4 digits."""
    rows = []
    for key, value in report.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            rows += report_rows(value, f"{name}.")
        elif isinstance(value, float):
            rows.append([name, f"{value:.4g}"])
        elif not isinstance(value, list) or len(value) <= 8:
            rows.append([name, str(value)])
    return rows


def dim_scores_figure(space: KnobSpace, title: str = "") -> Figure:
    """Bar chart of Σ_p |Δ_p| and Σ_n |Δ_n| per latent dim, the chosen dims highlighted."""
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, kind, color in zip(axes, ("pitch", "rhythm"), ("#d9480f", "#1c7ed6"), strict=True):
        scores = np.asarray(space.meta[f"{kind}_scores"], dtype=float)
        chosen = set(getattr(space, f"{kind}_dims").tolist())
        colors = [color if d in chosen else "#ced4da" for d in range(len(scores))]
        ax.bar(np.arange(len(scores)), scores, color=colors, width=0.9)
        ax.set_ylabel(f"{kind}\nΣ|Δz|", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{kind} dims: {sorted(chosen)}", fontsize=8, loc="left")
    axes[-1].set_xlabel("latent dimension", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig
