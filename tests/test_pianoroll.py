"""vae.pianoroll: piano-roll images, thumbnails and PNG bytes."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.image import imread

from vae import pianoroll
from vae.melody import HOLD, REST, normalize_tokens

NOTE_RGB = np.array([int(pianoroll.NOTE_COLOR[i:i + 2], 16) for i in (1, 3, 5)])
GHOST_RGB = np.array([int(pianoroll.GHOST_COLOR[i:i + 2], 16) for i in (1, 3, 5)])


def random_song(rng: np.random.Generator, n_bars: int) -> np.ndarray:
    """Random monophonic song: onsets in C4-C6, holds, rests; starts and ends with a note."""
    kinds = rng.choice(3, size=n_bars * 16, p=[0.35, 0.45, 0.2])
    song = np.where(kinds == 0, rng.integers(60, 85, n_bars * 16), np.where(kinds == 1, HOLD, REST))
    song[0] = 64
    song[-4:] = [67, HOLD, HOLD, HOLD]
    return normalize_tokens(song)


def _count(image: np.ndarray, rgb: np.ndarray, tol: int = 2) -> int:
    """Pixels within ``tol`` of ``rgb`` on every channel."""
    return int((np.abs(image.astype(int) - rgb).max(axis=-1) <= tol).sum())


@pytest.fixture
def song(rng) -> np.ndarray:
    return random_song(rng, n_bars=8)


# ----------------------------------------------------------------------------- piano roll


@pytest.mark.parametrize("width, height", [(pianoroll.ROLL_WIDTH, pianoroll.ROLL_HEIGHT), (400, 150), (1201, 333)])
def test_roll_has_the_requested_size(song, width, height):
    image = pianoroll.piano_roll(song, size=(width, height))
    assert image.shape == (height, width, 3) and image.dtype == np.uint8


def test_roll_draws_the_notes(song):
    empty = pianoroll.piano_roll(np.full_like(song, REST))
    image = pianoroll.piano_roll(song)
    assert _count(empty, NOTE_RGB) == 0
    assert _count(image, NOTE_RGB) > 2000
    assert not np.array_equal(image, empty)


def test_holds_make_notes_longer():
    short = np.array([60] + [REST] * 15 + [64] + [REST] * 15)
    long = np.array([60] + [HOLD] * 15 + [64] + [HOLD] * 15)
    assert _count(pianoroll.piano_roll(long), NOTE_RGB) > 4 * _count(pianoroll.piano_roll(short), NOTE_RGB)


def test_compare_shows_the_original_beneath(song):
    moved = np.where(song < 128, np.minimum(song + 3, 127), song)
    single = pianoroll.piano_roll(moved)
    both = pianoroll.piano_roll(moved, compare=song)
    same = pianoroll.piano_roll(song, compare=song)
    assert not np.array_equal(single, both)
    assert _count(single, GHOST_RGB) == 0
    assert _count(both, GHOST_RGB) > 1000  # the original shows where the result moved away
    # At rest (issue 13) the result must not hide the original: grey shows above and below every orange note.
    assert _count(same, GHOST_RGB) > 0.5 * _count(same, NOTE_RGB) > 0
    assert _count(same, NOTE_RGB) > 0.3 * _count(pianoroll.piano_roll(song), NOTE_RGB), "the result stays visible"


def test_roll_accepts_clips_titles_and_extreme_pitches(song):
    clips = song.reshape(-1, 32)
    assert np.array_equal(pianoroll.piano_roll(clips), pianoroll.piano_roll(song))
    assert pianoroll.piano_roll(np.array([0, HOLD, 127, HOLD] * 8), title="extremes").shape == (320, 1024, 3)
    fixed = pianoroll.piano_roll(song, pitch_range=(40, 100))
    assert not np.array_equal(fixed, pianoroll.piano_roll(song))


@pytest.mark.parametrize("tokens, message", [
    (np.array([], dtype=int), "empty"),
    (np.array([60, 130]), "0..129"),
    (np.zeros((2, 3, 32), dtype=int), "shape"),
    (np.array([60.0, 62.0]), "integer"),
])
def test_roll_rejects_bad_tokens(tokens, message):
    with pytest.raises(ValueError, match=message):
        pianoroll.piano_roll(tokens)


def test_roll_rejects_bad_pitch_range_and_size(song):
    with pytest.raises(ValueError, match="pitch_range"):
        pianoroll.piano_roll(song, pitch_range=(80, 40))
    with pytest.raises(ValueError, match="pixels"):
        pianoroll.piano_roll(song, size=(10, 10))


def test_thumbnail_shape_and_notes(song):
    thumb = pianoroll.piano_roll_thumbnail(song[:32])
    assert thumb.shape == (96, 160, 3) and thumb.dtype == np.uint8
    assert _count(thumb, np.array(pianoroll.THUMB_NOTE), tol=0) > 100
    assert pianoroll.piano_roll_thumbnail(song, size=(64, 40)).shape == (40, 64, 3)
    rests = pianoroll.piano_roll_thumbnail(np.full(32, REST))
    assert _count(rests, np.array(pianoroll.THUMB_NOTE), tol=0) == 0


def test_thumbnails_share_a_pitch_range():
    low = pianoroll.piano_roll_thumbnail(np.array([60] + [HOLD] * 31), pitch_range=(55, 80))
    high = pianoroll.piano_roll_thumbnail(np.array([76] + [HOLD] * 31), pitch_range=(55, 80))
    rows = [np.nonzero((t == pianoroll.THUMB_NOTE).all(-1).any(1))[0].mean() for t in (low, high)]
    assert rows[1] < rows[0]  # the higher note sits higher in the image


def test_png_round_trip(song, tmp_path):
    image = pianoroll.piano_roll_thumbnail(song)
    data = pianoroll.png_bytes(image)
    assert data.startswith(b"\x89PNG")
    path = pianoroll.save_png(image, tmp_path / "roll.png")
    back = imread(path)
    assert back.shape[:2] == image.shape[:2]
    assert np.array_equal(np.round(back[..., :3] * 255).astype(np.uint8), image)
    with pytest.raises(ValueError, match="RGB uint8"):
        pianoroll.png_bytes(image.astype(float))


# ----------------------------------------------------------------------------- bar range and pitch names


def _background(image: np.ndarray, step: int, n_steps: int) -> np.ndarray:
    """The plot's column a little after ``step`` (default layout, a title), as int (rows, 3)."""
    left, plot_w = 38, pianoroll.ROLL_WIDTH - 38 - 6
    x = left + (step * plot_w) // n_steps + 3
    return image[22:pianoroll.ROLL_HEIGHT - 20, x].astype(int)


def test_bars_outside_the_chosen_range_are_shaded(song):
    n_steps = len(song)  # 8 bars
    marked = pianoroll.piano_roll(song, compare=song, bars=(3, 4))
    plain = pianoroll.piano_roll(song, compare=song)
    for bar in (1, 2, 5, 8):  # outside: darker than the plain roll's white and black-key rows
        outside, before = _background(marked, (bar - 1) * 16, n_steps), _background(plain, (bar - 1) * 16, n_steps)
        white = (before == 255).all(axis=1)
        assert white.any() and (outside[white] < 240).all(), bar
    for bar in (3, 4):  # inside: as without a range
        assert np.array_equal(_background(marked, (bar - 1) * 16, n_steps), _background(plain, (bar - 1) * 16, n_steps))
    assert np.array_equal(pianoroll.piano_roll(song, bars=(1, 8)), pianoroll.piano_roll(song)), "all bars: no shade"
    assert pianoroll.roll_png(song, bars=(3, 4)) != pianoroll.roll_png(song)


@pytest.mark.parametrize("bars", [(0, 3), (4, 3), (1, 9)])
def test_a_bar_range_outside_the_song_is_refused(song, bars):
    with pytest.raises(ValueError, match="bars must be"):
        pianoroll.piano_roll(song, bars=bars)


def _labelled(image: np.ndarray, pitch_range: tuple[int, int], height: int = pianoroll.ROLL_HEIGHT) -> list[int]:
    """Pitches whose row has ink in the label column at its centre (default layout, no title)."""
    lo, hi = pitch_range
    top, plot_h = 6, height - 6 - 20
    rows = hi - lo + 1
    out = []
    for pitch in range(lo, hi + 1):
        y = top + ((2 * (hi - pitch) + 1) * plot_h) // (2 * rows)
        if (image[y, :34] < 160).any():
            out.append(pitch)
    return out


def test_every_white_key_is_named_when_the_rows_leave_room(song):
    image = pianoroll.piano_roll(song, pitch_range=(60, 74))  # C4-D5: 15 rows of 19 px
    white = [p for p in range(60, 75) if p % 12 in (0, 2, 4, 5, 7, 9, 11)]
    assert _labelled(image, (60, 74)) == white  # C4 D4 E4 F4 G4 A4 B4 C5 D5, not the black keys


def test_a_wide_range_names_c_and_g_or_only_c(song):
    assert _labelled(pianoroll.piano_roll(song, pitch_range=(36, 96)), (36, 96)) == [
        p for p in range(36, 97) if p % 12 in (0, 7)]  # 61 rows of 4.8 px: C and G, 5 rows apart at least
    tiny = pianoroll.piano_roll(song, pitch_range=(12, 120), size=(pianoroll.ROLL_WIDTH, 160))  # 109 rows of 1.2 px: only C
    ink = (tiny[:, :34] < 160).any(axis=(1, 2)).astype(int)
    assert np.count_nonzero(np.diff(ink) == 1) == 10, "one label per C (C0 ... C9), nothing between"
