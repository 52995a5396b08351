"""The prepared data set, ``data/clips.npz`` (``training/prepare_data.py``): train / val / test, split by tune.

For each split S of :data:`SPLITS` the file holds

- ``S_clips`` (N, 32): the clips the model trains and is measured on; ``S_tune`` (N,): the song each comes from;
- ``S_songs`` (sum of the lengths,): the split's songs as tokens, one after another;
  ``S_song_lengths`` (songs,): their lengths in steps; ``S_tune_ids`` (songs,): their tune ids.

:func:`split_songs` is the one reader of a split's songs; the scripts draw from it with their own seeds.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np

from vae.melody import STEPS_PER_BAR

SPLITS = ("train", "val", "test")


class NpzArrays(Mapping):
    """The arrays of an .npz file by name, each read when asked for, with pickling refused (the library never
    unpickles: tests/test_no_pickle.py)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with zipfile.ZipFile(self.path) as archive:
            self.names = [name.removesuffix(".npy") for name in archive.namelist()]

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise KeyError(f"{name} is not in {self.path}")
        with zipfile.ZipFile(self.path) as archive:
            return np.lib.format.read_array(archive.open(f"{name}.npy"), allow_pickle=False)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names)

    def __len__(self) -> int:
        return len(self.names)


def read_data(path: str | Path) -> NpzArrays:
    """The arrays of a prepared data file, read lazily, pickling refused.

    Raises:
        FileNotFoundError: there is no such file; it says how to make one.
    """
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} not found: make it with training/prepare_data.py")
    return NpzArrays(path)


def split_songs(data, split: str, min_bars: int = 0, max_bars: int | None = None) -> dict[int, np.ndarray]:
    """The songs of one split, by their index in the file, that last ``min_bars`` to ``max_bars`` bars.

    Args:
        data: :func:`read_data`'s arrays (or any mapping with the same keys, e.g. ``np.load``'s).
        split: "train", "val" or "test".
        min_bars, max_bars: bounds on a song's length, inclusive (16 steps a bar); None: no upper bound.

    Returns:
        {index: tokens (T,)} in file order; the indices are those of ``S_song_lengths`` and ``S_tune_ids``.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
    lengths, songs = data[f"{split}_song_lengths"], data[f"{split}_songs"]
    ends = np.cumsum(lengths)
    top = np.inf if max_bars is None else max_bars * STEPS_PER_BAR
    return {i: songs[end - length:end] for i, (end, length) in enumerate(zip(ends, lengths, strict=True))
            if min_bars * STEPS_PER_BAR <= length <= top}


def draw_songs(data, split: str, n: int, min_bars: int = 8, max_bars: int | None = None,
               seed: int = 0) -> list[np.ndarray]:
    """``n`` songs of one split (all of them when fewer qualify) of ``min_bars`` to ``max_bars`` bars, drawn
    without replacement with ``seed``, in file order."""
    songs = split_songs(data, split, min_bars, max_bars)
    pick = np.random.default_rng(seed).choice(list(songs), size=min(n, len(songs)), replace=False)
    return [songs[i] for i in sorted(pick)]
