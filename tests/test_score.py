"""vae.score: the key of a song, and the song written as ABC that the ABC reader reads back to the same tokens."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vae.melody import HOLD, REST, STEPS_PER_BAR, load_melody, normalize_tokens, notes_to_tokens
from vae.notation import key_accidentals, parse_melody
from vae.score import MODES, Key, abc_text, estimate_key, parse_key
from vae.song import example_songs

ALL_KEYS = [Key(t, m) for m in MODES for t in range(12)]


def _body(text: str) -> str:
    return text.split("\n", 6)[6]  # after X, T, M, L, Q, K


def transpose(tokens: np.ndarray, semitones: int) -> np.ndarray:
    return np.where(tokens < 128, tokens + semitones, tokens)


def _song(*notes, bars=1) -> np.ndarray:
    """Tokens of ``bars`` bars with notes (start, end, pitch) in sixteenths."""
    return notes_to_tokens(notes, n_steps=bars * STEPS_PER_BAR)


@pytest.fixture(scope="module")
def examples():
    return {name: load_melody(path) for name, path in example_songs().items()}


# ----------------------------------------------------------------------------- keys


def test_estimate_key_finds_major_and_minor_keys_and_follows_transposition(examples):
    c_major = _song(*[(2 * i, 2 * i + 2, p) for i, p in enumerate([60, 62, 64, 65, 67, 69, 71, 72])])
    assert estimate_key(c_major) == Key(0, "major")
    a_minor = _song(*[(2 * i, 2 * i + 2, p) for i, p in enumerate([57, 59, 60, 62, 64, 65, 68, 69])],
                    (16, 32, 57), bars=2)  # harmonic minor, ending long on the tonic
    assert estimate_key(a_minor) == Key(9, "minor")
    twinkle = examples["twinkle"].tokens
    assert estimate_key(twinkle) == Key(0, "major")
    for p in range(-6, 7):
        assert estimate_key(transpose(twinkle, p)) == Key(p % 12, "major"), p


def test_estimate_key_weights_notes_by_how_long_they_sound():
    # The same onsets (A C E G D); only the durations differ: long A, C, E is A minor, long C, E, G is C major.
    def song(longs):
        return _song(*[(s, s + (6 if p in longs else 1), p) for s, p in zip(range(0, 40, 8), [57, 60, 64, 67, 62])],
                     bars=3)

    assert estimate_key(song((57, 60, 64))) == Key(9, "minor") and estimate_key(song((60, 64, 67))) == Key(0, "major")


CHROMATIC = _song(*[(i, i + 1, 60 + i) for i in range(12)])


@pytest.mark.parametrize("tokens", [np.full(32, REST), np.full(16, HOLD), CHROMATIC])
def test_a_song_without_a_key_is_in_c(tokens):
    assert estimate_key(tokens) == Key(0, "major")  # no notes, holds of nothing, every pitch class alike
    assert estimate_key(_song((0, 16, 61))) == Key(1, "major"), "one note is the tonic of its major key"


@pytest.mark.parametrize("key", ALL_KEYS)
def test_key_names_read_back_and_match_the_readers_signature(key):
    assert parse_key(key.abc) == key and key.name.endswith(key.mode)
    assert key.signature() == key_accidentals(key.abc)  # what the ABC reader plays for K:<name>
    assert abs(key.fifths) <= 6
    scale = [0, 2, 4, 5, 7, 9, 11] if key.mode == "major" else [0, 2, 3, 5, 7, 8, 10]
    letters = [key.spelling(key.tonic + step)[0] for step in scale]
    assert sorted(letters) == sorted("ABCDEFG"), "a scale uses each letter once"
    assert all(key.spelling(key.tonic + step)[1] == key.signature().get(letter, 0)
               for step, letter in zip(scale, letters)), "the key's own notes need no accidental"


def test_chromatic_notes_are_spelled_sharp_in_sharp_keys_flat_in_flat_keys():
    assert parse_key("D").spelling(8) == ("G", 1) and parse_key("Bb").spelling(6) == ("G", -1)
    assert parse_key("G").spelling(5) == ("F", 0) and parse_key("F").spelling(11) == ("B", 0)
    assert parse_key("Dm").spelling(1) == ("C", 1) and parse_key("Dm").spelling(11) == ("B", 0)  # raised 7th, 6th
    assert parse_key("Ebm").spelling(11) == ("C", -1) and parse_key("F#").spelling(5) == ("E", 1)  # Cb, E#
    assert parse_key("C").spelling(10) == ("B", -1) and parse_key("C").spelling(6) == ("F", 1)
    assert parse_key("Gb") == parse_key("F#") and parse_key("A minor") == Key(9, "minor")
    with pytest.raises(ValueError, match="cannot read the key"):
        parse_key("H")


# ----------------------------------------------------------------------------- ABC text


def test_abc_header_bars_and_lines():
    tokens = _song((0, 8, 60), (8, 16, 64), bars=9)
    text = abc_text(tokens, 93.6, title="Twinkle: pitch +3,\nrhythm +0")
    lines = text.splitlines()
    assert lines[:6] == ["X:1", "T:Twinkle: pitch +3, rhythm +0", "M:4/4", "L:1/16", "Q:1/4=94", "K:C"]
    assert len(lines) == 6 + 3 and text.endswith(" |]\n"), "four bars a line, the last bar closes the tune"
    assert lines[6] == "C8 E8 | z16 | z16 | z16 |"
    assert abc_text(tokens, 120, title=" 50% ").splitlines()[1] == r"T:50\%"  # a bare % would start a comment
    assert abc_text(tokens, 120).splitlines()[1] == "T:Untitled"


def test_abc_accidentals_last_to_the_bar_line_and_naturals_are_written():
    # F major: Bb is in the key, B natural needs '=' once per bar, and again after the bar line.
    tokens = _song((0, 4, 70), (4, 8, 71), (8, 12, 71), (12, 16, 70), (16, 20, 71), (20, 32, 70), bars=2)
    assert _body(abc_text(tokens, 120, key="F")).startswith("B4 =B4 B4 _B4 | =B4 _B4- B8 |]")  # cut at the half-bar
    # A tied-over note says its accidental again, and lends it to no other note (abcjs, engravers).
    tokens = _song((12, 20, 71), (20, 24, 71), bars=2)
    assert _body(abc_text(tokens, 120, key="F")).startswith("z12 =B4- | =B4 =B4 z8 |]")
    # The same letter in another octave gets its accidental written too (readers differ on octaves).
    tokens = _song((0, 4, 73), (4, 8, 61), (8, 12, 60), bars=1)
    assert _body(abc_text(tokens, 120, key="C")).startswith("^c4 ^C4 =C4 z4 |]")


def test_abc_ties_over_the_half_bar_and_the_bar_line_and_octaves():
    tokens = _song((4, 20, 24), (20, 22, 108), (26, 32, 127), bars=2)
    body = _body(abc_text(tokens, 120, key="C"))
    assert body.startswith("z4 C,,,4- C,,,8- | C,,,4 c'''2z2 z2g''''2- g''''4 |]"), body
    tokens = _song((1, 8, 62), bars=1)  # a sixteenth, an eighth, a quarter: each on its place
    assert _body(abc_text(tokens, 120, key="C")).startswith("zD-D2- D4 z8 |]")


@pytest.mark.parametrize("name", ["twinkle", "test_1", "test_2", "test_3", "test_4"])
def test_example_songs_read_back_in_every_transposition(examples, name):
    melody = examples[name]
    for p in range(-12, 13):
        tokens = transpose(melody.tokens, p)
        text = abc_text(tokens, melody.bpm, name)
        read = parse_melody(text)
        assert np.array_equal(read.tokens, tokens), (p, text)
        assert read.bpm == round(melody.bpm) and read.meter == "4/4"


@pytest.mark.parametrize("key", ALL_KEYS, ids=lambda k: k.abc)
def test_example_songs_read_back_in_every_key_signature(examples, key):
    for name, melody in examples.items():  # most notes chromatic to the key: accidentals and naturals everywhere
        assert np.array_equal(parse_melody(abc_text(melody.tokens, 120, name, key)).tokens, melody.tokens), name


@st.composite
def songs(draw) -> np.ndarray:
    """Tokens of 1-6 bars: onsets of MIDI 24-108, holds (also after rests) and rests in any order."""
    n = draw(st.integers(1, 6)) * STEPS_PER_BAR
    kinds = draw(st.lists(st.sampled_from(["note", "hold", "hold", "rest"]), min_size=n, max_size=n))
    pitches = draw(st.lists(st.integers(24, 108), min_size=n, max_size=n))
    return np.array([p if k == "note" else HOLD if k == "hold" else REST for k, p in zip(kinds, pitches)])


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(tokens=songs(), key=st.one_of(st.none(), st.sampled_from(ALL_KEYS)), bpm=st.floats(10, 400))
def test_random_songs_read_back(tokens, key, bpm):
    expected = normalize_tokens(tokens)
    if not (expected < 128).any():
        assert "K:C\n" in abc_text(tokens, bpm, key=None)  # a song of rests is still a tune, in C
        return
    read = parse_melody(abc_text(tokens, bpm, key=key))
    assert np.array_equal(read.tokens, expected)
    assert read.bpm == min(max(round(bpm), 10), 400)
