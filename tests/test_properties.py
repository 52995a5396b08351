"""Property-based tests (hypothesis) of the token functions and MIDI parsing.

Modest and reproducible: every test runs a fixed, derandomized set of examples (no example
database), so a failure here fails the same way on every machine.
"""

from __future__ import annotations

import io

import numpy as np
import pretty_midi
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from vae.augment import split_notes, transposable, transpose
from vae.knobs import Knobs
from vae.melody import (
    BPM_RANGE,
    CLIP_STEPS,
    HOLD,
    MAX_BARS,
    N_PITCHES,
    N_STATES,
    REST,
    STEPS_PER_BAR,
    Melody,
    check_tokens,
    join_clips,
    link_code_to_tokens,
    load_melody,
    normalize_tokens,
    notes_to_tokens,
    split_clips,
    tokens_to_link_code,
    tokens_to_midi,
    tokens_to_notes,
)
from vae.render import midi_bytes

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

pitches = st.integers(0, N_PITCHES - 1)
notes = st.lists(st.tuples(st.integers(0, 200), st.integers(1, 40), pitches), max_size=40).map(
    lambda ns: [(start, start + length, pitch) for start, length, pitch in ns])
tokens = st.lists(st.integers(0, N_STATES - 1), min_size=1, max_size=300).map(lambda t: np.array(t, dtype=np.int64))
# Mostly mid-range notes, holds and rests, so that most transpositions stay in 0-127 and some do not.
clip_steps = st.one_of(st.integers(10, 117), st.sampled_from([HOLD, REST]), pitches)
clip_lists = st.lists(st.lists(clip_steps, min_size=CLIP_STEPS, max_size=CLIP_STEPS), min_size=1, max_size=4).map(
    lambda c: np.array(c, dtype=np.int64))


def sounding(song: np.ndarray) -> list[int | None]:
    """The pitch that sounds at each step (None in a rest): what a listener hears, articulation aside."""
    out, current = [], None
    for tok in normalize_tokens(song).tolist():
        current = tok if tok < N_PITCHES else (None if tok == REST else current)
        out.append(current)
    return out


# ----------------------------------------------------------------------------- notes <-> tokens


@SETTINGS
@given(notes)
def test_notes_to_tokens_then_back_is_a_fixed_point(ns):
    once = notes_to_tokens(ns)
    assert check_tokens(once).shape == once.shape
    again = notes_to_tokens(tokens_to_notes(once), n_steps=len(once))
    assert np.array_equal(again, once)
    assert tokens_to_notes(again) == tokens_to_notes(once)


@SETTINGS
@given(tokens)
def test_normalize_is_idempotent_and_keeps_every_note(song):
    normal = normalize_tokens(song)
    assert np.array_equal(normalize_tokens(normal), normal)
    assert tokens_to_notes(normal) == tokens_to_notes(song)
    assert not (normal[:1] == HOLD).any()


# ----------------------------------------------------------------------------- song <-> clips


@SETTINGS
@given(tokens)
def test_split_never_starts_a_clip_with_hold_and_join_keeps_what_sounds(song):
    clips = split_clips(song)
    assert clips.shape == (-(-len(song) // CLIP_STEPS), CLIP_STEPS)
    assert not (clips[:, 0] == HOLD).any()
    joined = join_clips(clips)
    assert (joined[len(song):] == REST).all(), "the last clip is padded with rests"
    assert sounding(joined[: len(song)]) == sounding(song)
    differ = np.flatnonzero(joined[: len(song)] != normalize_tokens(song))
    assert all(step % CLIP_STEPS == 0 and joined[step] < N_PITCHES for step in differ), \
        "only a note tied over a cut is struck again"


# ----------------------------------------------------------------------------- tokens <-> MIDI


@st.composite
def whole_bar_songs(draw) -> np.ndarray:
    """Normalized songs that start with a note on the first step and sound to their last (whole bars)."""
    n_bars = draw(st.integers(1, 8))
    song = np.array(draw(st.lists(st.integers(0, N_STATES - 1), min_size=n_bars * STEPS_PER_BAR,
                                  max_size=n_bars * STEPS_PER_BAR)), dtype=np.int64)
    song[0] = draw(pitches)
    song = normalize_tokens(song)
    if song[-1] == REST:
        song[-1] = draw(pitches)
    return song


@SETTINGS
@given(whole_bar_songs(), st.floats(*BPM_RANGE).map(lambda b: round(b, 2)))
def test_tokens_to_midi_bytes_and_back_give_the_same_tokens_at_any_tempo(song, bpm):
    melody = load_melody(midi_bytes(song, bpm))
    assert np.array_equal(melody.tokens, song)
    assert abs(melody.bpm - bpm) <= 0.01 + 1e-5 * bpm and melody.warnings == []
    assert np.array_equal(load_melody(tokens_to_midi(song, bpm)).tokens, song)


def _melody_bytes() -> bytes:
    pm = tokens_to_midi(notes_to_tokens([(4 * i, 4 * i + 3, 60 + i) for i in range(8)]), bpm=96)
    pm.instruments[0].notes.append(pretty_midi.Note(90, 48, 0.0, 1.0))  # a chord, for the parser's sake
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


MELODY_BYTES = _melody_bytes()


@st.composite
def damaged_midi(draw) -> bytes:
    """Bytes that are sometimes MIDI: noise, a real file cut short, or a real file with bytes changed."""
    kind = draw(st.sampled_from(["noise", "cut", "flipped", "header"]))
    if kind == "noise":
        return draw(st.binary(max_size=400))
    if kind == "header":
        return MELODY_BYTES[:22] + draw(st.binary(max_size=200))
    if kind == "cut":
        return MELODY_BYTES[: draw(st.integers(0, len(MELODY_BYTES)))]
    data = bytearray(MELODY_BYTES)
    for _ in range(draw(st.integers(1, 6))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(SETTINGS, max_examples=150)
@given(damaged_midi())
def test_load_melody_on_any_bytes_gives_a_melody_or_a_value_error(data):
    try:
        melody = load_melody(data)
    except ValueError as err:
        event("refused")
        assert str(err) and "\n" not in str(err)
        return
    event("read")
    assert isinstance(melody, Melody)
    assert check_tokens(melody.tokens).ndim == 1 and len(melody.tokens) % STEPS_PER_BAR == 0
    assert 0 < len(melody.tokens) <= MAX_BARS * STEPS_PER_BAR
    assert BPM_RANGE[0] <= melody.bpm <= BPM_RANGE[1]


# ----------------------------------------------------------------------------- augmentations


@SETTINGS
@given(clip_lists, st.integers(-12, 12))
def test_transpose_there_and_back(clips, p):
    event("out of range" if not transposable(clips, p).all() else "in range")
    if not transposable(clips, p).all():
        with pytest.raises(ValueError, match="would leave the MIDI range 0-127"):
            transpose(clips, p)
        return
    moved = transpose(clips, p)
    assert np.array_equal(transpose(moved, -p), clips)
    assert np.array_equal(moved >= N_PITCHES, clips >= N_PITCHES) and np.array_equal(moved[clips >= N_PITCHES],
                                                                                   clips[clips >= N_PITCHES])


@SETTINGS
@given(clip_lists, st.sampled_from([1, 2, 4, 8, 16]))
def test_split_notes_keeps_pitches_and_adds_onsets(clips, n):
    out = split_notes(clips, n)
    assert out.shape == clips.shape
    for before, after in zip(clips, out, strict=True):
        assert sounding(after) == sounding(before)
        assert (after < N_PITCHES).sum() >= (normalize_tokens(before) < N_PITCHES).sum()
    if n == 1:
        assert np.array_equal(out, np.stack([normalize_tokens(c) for c in clips]))


# ----------------------------------------------------------------------------- share codes and knob ranges


@SETTINGS
@given(tokens)
def test_song_code_round_trip(song):
    assert np.array_equal(link_code_to_tokens(tokens_to_link_code(song)), song)


finite = st.floats(-1e6, 1e6)
anything = st.floats(allow_nan=True, allow_infinity=True)


@SETTINGS
@given(anything, anything, anything)
def test_knobs_are_in_range_or_refused(pitch, rhythm, residual):
    try:
        checked = Knobs(pitch=pitch, rhythm=rhythm, residual=residual).checked(n_bars=4, n_offsets=7)
    except ValueError as err:
        assert "must be between" in str(err)
        return
    assert -12 <= checked.pitch <= 12 and -2 <= checked.rhythm <= 3 and -3 <= checked.residual <= 3


@SETTINGS
@given(finite, finite, finite, st.lists(finite, min_size=7, max_size=7))
def test_clamped_knobs_are_always_accepted(pitch, rhythm, residual, offsets):
    knobs = Knobs(pitch=pitch, rhythm=rhythm, residual=residual, offsets=tuple(offsets)).clamped()
    assert knobs.checked(n_bars=4, n_offsets=7).offsets == knobs.offsets
