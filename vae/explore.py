"""The app's Interpolate and Inspect tabs without their UI: the 2-way grid and the dims analysis.

Like :mod:`vae.session`, nothing here imports gradio; user errors are ``ValueError``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from vae import analysis, latent, render
from vae.melody import CLIP_STEPS, N_PITCHES, clip_is_valid, split_clips
from vae.model import MusicVAE
from vae.session import GRID_RANGE, Song

# ----------------------------------------------------------------------------- interpolation


def clip_of(tokens: np.ndarray, number: int, name: str = "this song") -> np.ndarray:
    """Clip ``number`` (counted from 1) of a song's tokens (T,): int64 (32,)."""
    clips = split_clips(tokens)
    if number is None or int(number) != number or not 1 <= int(number) <= len(clips):
        raise ValueError(f"{name} has {len(clips)} two-bar clips; choose a clip from 1 to {len(clips)}, got {number}")
    return clips[int(number) - 1]


def interpolate(model: MusicVAE, dims: dict, source: np.ndarray, target: np.ndarray, n: int) -> np.ndarray:
    """The paper's 2-way grid between two clips, decoded in one batch: int64 (n, n, 32).

    Rows move the pitch dims from source to target, columns the rhythm dims; cell (0, 0)
    decodes the source's μ and cell (n-1, n-1) the target's.
    """
    if not GRID_RANGE[0] <= int(n) <= GRID_RANGE[1] or int(n) != n:
        raise ValueError(f"the grid size must be a whole number from {GRID_RANGE[0]} to {GRID_RANGE[1]}, got {n}")
    n = int(n)
    z = analysis.encode_mu(model, np.stack([source, target]))
    grid = latent.interpolation_grid(z[0], z[1], dims["pitch_dims"], dims["rhythm_dims"], n)  # (n, n, D)
    return analysis.decode_z(model, grid.reshape(n * n, -1), batch_size=n * n).reshape(n, n, CLIP_STEPS)


def grid_caption(i: int, j: int, n: int) -> str:
    """Caption of cell (i, j): how far its pitch (row) and rhythm (column) dims are from the source."""
    return f"pitch t={i / (n - 1):.2f} · rhythm t={j / (n - 1):.2f}"


def grid_thumbnails(grid: np.ndarray) -> list[tuple[np.ndarray, str]]:
    """(thumbnail, caption) of every cell, row by row, all on one pitch scale."""
    n = len(grid)
    pitches = grid[grid < N_PITCHES]
    window = (max(0, int(pitches.min()) - 1), min(N_PITCHES - 1, int(pitches.max()) + 1)) if pitches.size else None
    return [(render.piano_roll_thumbnail(grid[i, j], pitch_range=window), grid_caption(i, j, n))
            for i in range(n) for j in range(n)]


def diagonal(grid: np.ndarray) -> np.ndarray:
    """The cells (i, i) from source to target joined into one melody: int64 (32 n,)."""
    return np.concatenate([grid[i, i] for i in range(len(grid))])


# ----------------------------------------------------------------------------- inspection


def dims_rows(dims: dict) -> list[list[str]]:
    """(measure, value) rows describing a discover_dims dict, for a table."""
    def fmt(key: str) -> str:
        value = dims.get(key)
        return "—" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)

    def dim_list(key: str) -> str:
        value = dims.get(key)
        return ", ".join(str(int(d)) for d in value) if value is not None else "—"

    return [["pitch dims", dim_list("pitch_dims")], ["rhythm dims", dim_list("rhythm_dims")],
            ["pitch knob", dims.get("pitch_knob", "linear") + (f" ({dims['pitch_knob_note']})"
                                                              if dims.get("pitch_knob_note") else "")],
            ["rhythm knob +1", (dims.get("rhythm_unit") or {}).get("calibrated_on", "whole_notes")
             + (f" ({dims['rhythm_unit_note']})" if dims.get("rhythm_unit_note") else "")],
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


def dim_scores_figure(dims: dict, title: str = "") -> Figure:
    """Bar chart of Σ_p |Δ_p| and Σ_n |Δ_n| per latent dim, the chosen dims highlighted."""
    fig = Figure(figsize=(9, 4.2), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(2, 1, sharex=True)
    for ax, kind, color in zip(axes, ("pitch", "rhythm"), ("#d9480f", "#1c7ed6"), strict=True):
        scores = np.asarray(dims[f"{kind}_scores"], dtype=float)
        chosen = {int(d) for d in dims[f"{kind}_dims"]}
        colors = [color if d in chosen else "#ced4da" for d in range(len(scores))]
        ax.bar(np.arange(len(scores)), scores, color=colors, width=0.9)
        ax.set_ylabel(f"{kind}\nΣ|Δz|", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(f"{kind} dims: {sorted(chosen)}", fontsize=8, loc="left")
    axes[-1].set_xlabel("latent dimension", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def analyse_song(model: MusicVAE, song: Song, progress: analysis.Progress | None = None) -> dict:
    """Disentanglement by augmentation (:func:`vae.analysis.discover_dims`) on one song's clips."""
    clips = split_clips(song.tokens)
    clips = clips[clip_is_valid(clips)]
    if len(clips) < 2:
        raise ValueError(f"{song.name} has {len(clips)} clip(s) with two or more notes; the analysis needs 2")
    return analysis.discover_dims(model, clips, progress=progress)
