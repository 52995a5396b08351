"""The one reader of a split's songs in clips.npz: bounds in bars, file order, seeded draws."""

import numpy as np
import pytest

from vae.dataset import draw_songs, read_data, split_songs


@pytest.fixture
def data(tmp_path):
    """A val split of 5 songs of 2, 8, 9, 32 and 40 bars; song k plays pitch 60 + k throughout."""
    bars = [2, 8, 9, 32, 40]
    songs = [np.full(b * 16, 60 + k) for k, b in enumerate(bars)]
    np.savez(tmp_path / "clips.npz", val_songs=np.concatenate(songs), val_song_lengths=np.array([len(s) for s in songs]),
             val_tune_ids=np.array([f"tune{k}" for k in range(5)]))
    return read_data(tmp_path / "clips.npz")


def test_split_songs_cuts_the_songs_where_they_end_and_keeps_the_bounds(data):
    every = split_songs(data, "val")
    assert list(every) == [0, 1, 2, 3, 4] and [len(s) // 16 for s in every.values()] == [2, 8, 9, 32, 40]
    assert all((song == 60 + k).all() for k, song in every.items())  # no song runs into the next
    assert list(split_songs(data, "val", min_bars=8, max_bars=32)) == [1, 2, 3]  # both bounds inclusive
    with pytest.raises(ValueError, match="split must be one of"):
        split_songs(data, "validation")


def test_draw_songs_is_seeded_in_file_order_and_takes_all_when_few_qualify(data):
    drawn = draw_songs(data, "val", 2, seed=3)
    assert len(drawn) == 2 and all(len(s) >= 8 * 16 for s in drawn)
    assert [s[0] for s in drawn] == sorted(s[0] for s in drawn)  # file order
    assert all(np.array_equal(a, b) for a, b in zip(drawn, draw_songs(data, "val", 2, seed=3), strict=True))
    assert [s[0] for s in draw_songs(data, "val", 10)] == [61, 62, 63, 64]


def test_a_missing_file_says_how_to_make_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="training/prepare_data.py"):
        read_data(tmp_path / "nope.npz")
