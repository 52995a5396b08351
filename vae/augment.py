"""The transforms of "disentanglement by augmentation": transposition and note splitting."""

from __future__ import annotations

import numpy as np

from vae.melody import CLIP_STEPS, HOLD, N_PITCHES, check_clips, notes_to_tokens, tokens_to_notes


def transposable(clips: np.ndarray, p: int) -> np.ndarray:
    """bool (N,): clips whose every pitch stays within 0-127 after moving ``p`` semitones."""
    clips = check_clips(clips)
    pitched = clips < N_PITCHES
    moved = np.where(pitched, clips + p, 0)
    return ((moved >= 0) & (moved < N_PITCHES)).all(axis=1)


def transpose(clips: np.ndarray, p: int) -> np.ndarray:
    """Move every note of ``clips`` (N, 32) by ``p`` semitones; holds and rests stay.

    Raises:
        ValueError: a note would leave the MIDI range 0-127 (pitches are never wrapped); use
            :func:`transposable` to keep only the clips that can move.
    """
    clips = check_clips(clips)
    ok = transposable(clips, p)
    if not ok.all():
        raise ValueError(f"{int((~ok).sum())} clip(s) would leave the MIDI range 0-127 when moved {p:+d} "
                         "semitones; filter them with transposable() first")
    return np.where(clips < N_PITCHES, clips + p, clips)


def split_notes(clips: np.ndarray, n: int) -> np.ndarray:
    """Split every note of ``clips`` (N, 32) into ``n`` equal notes of the same pitch.

    A note of length L steps whose L is divisible by ``n`` becomes ``n`` notes of L / n steps.
    A note whose length is not divisible by ``n`` is left as it is (splitting it would need
    notes of unequal length, which is a different rhythm change). Rests are untouched.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of parts, got {n}")
    clips = check_clips(clips)
    out = np.empty_like(clips)
    for i, clip in enumerate(clips):
        notes = []
        for start, end, pitch in tokens_to_notes(clip):
            length = end - start
            if length % n:
                notes.append((start, end, pitch))
                continue
            part = length // n
            notes.extend((start + k * part, start + (k + 1) * part, pitch) for k in range(n))
        out[i] = notes_to_tokens(notes, n_steps=CLIP_STEPS)
    return out


def two_whole_notes(pitches: np.ndarray) -> np.ndarray:
    """Clips (N, 32) of two whole notes; ``pitches`` (N, 2) gives each clip's two pitches."""
    pitches = np.asarray(pitches, dtype=np.int64)
    if pitches.ndim != 2 or pitches.shape[1] != 2:
        raise ValueError(f"expected pitches of shape (N, 2), got {tuple(pitches.shape)}")
    if pitches.min(initial=0) < 0 or pitches.max(initial=0) >= N_PITCHES:
        raise ValueError("pitches must lie in 0-127")
    clips = np.full((len(pitches), CLIP_STEPS), HOLD, dtype=np.int64)
    clips[:, 0] = pitches[:, 0]
    clips[:, CLIP_STEPS // 2] = pitches[:, 1]
    return clips
