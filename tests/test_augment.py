import numpy as np
import pytest

from vae.augment import split_notes, transposable, transpose, two_whole_notes
from vae.melody import HOLD, N_PITCHES, REST, notes_to_tokens


def random_clips(rng, n=16):
    clips = []
    for _ in range(n):
        starts = np.sort(rng.choice(32, size=6, replace=False))
        notes = [(s, s + rng.integers(1, 5), rng.integers(40, 90)) for s in starts]
        clips.append(notes_to_tokens(notes, n_steps=32))
    return np.stack(clips)


@pytest.mark.parametrize("p", [1, 5, 12, -7])
def test_transpose_then_back_is_identity(rng, p):
    clips = random_clips(rng)
    moved = transpose(clips, p)
    assert ((moved < N_PITCHES) == (clips < N_PITCHES)).all()
    assert np.array_equal(transpose(moved, -p), clips)


def test_transpose_refuses_to_leave_the_midi_range():
    clips = np.array([[120] + [HOLD] * 31, [60] + [REST] * 31])
    assert transposable(clips, 12).tolist() == [False, True]
    with pytest.raises(ValueError, match="0-127"):
        transpose(clips, 12)


@pytest.mark.parametrize("n", [2, 4, 8, 16])
def test_split_two_whole_notes_gives_n_onsets_per_note(n):
    clips = two_whole_notes(np.array([[60, 67], [50, 52]]))
    out = split_notes(clips, n)
    for clip, pitches in zip(out, [(60, 67), (50, 52)]):
        first, second = clip[:16], clip[16:]
        assert (first < N_PITCHES).sum() == n and set(first[first < N_PITCHES].tolist()) == {pitches[0]}
        assert (second < N_PITCHES).sum() == n and set(second[second < N_PITCHES].tolist()) == {pitches[1]}
        assert (clip[:: 16 // n] < N_PITCHES).all()


def test_split_leaves_notes_it_cannot_divide():
    clip = notes_to_tokens([(0, 3, 60), (3, 7, 62)], n_steps=32)[None]
    out = split_notes(clip, 2)
    assert out[0, :3].tolist() == [60, HOLD, HOLD]  # length 3: untouched
    assert out[0, 3:7].tolist() == [62, HOLD, 62, HOLD]
