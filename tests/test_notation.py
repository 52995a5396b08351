import numpy as np
import pytest

from vae.melody import HOLD, REST, link_code_to_tokens, tokens_to_link_code
from vae.notation import is_abc, key_accidentals, parse_abc, parse_melody, parse_notes, tokens_to_text

TWINKLE_ABC = """X:1
T:Twinkle
M:4/4
L:1/4
Q:1/4=100
K:C
CCGG|AA G2|FFEE|DD C2|
"""


def test_note_text_reads_pitches_and_lengths():
    m = parse_notes("C4 D4/2 D#4/2 Bb3*2 | r G4")
    assert m.tokens[:4].tolist() == [60, HOLD, HOLD, HOLD]
    assert m.tokens[4:8].tolist() == [62, HOLD, 63, HOLD]
    assert m.tokens[8:16].tolist() == [58] + [HOLD] * 7
    assert m.tokens[16:20].tolist() == [REST] * 4 and m.tokens[20] == 67
    assert len(m.tokens) == 32  # padded to whole bars


@pytest.mark.parametrize("text", ["C4 D4 E4/2 E4/2 F#4*2 r G4*4", "A3/4 r/4 B3*3 C5 r*2 D5/2",
                                  "G9 C-1 r/4 E4*1.5"])
def test_note_text_round_trip(text):
    tokens = parse_notes(text).tokens
    assert np.array_equal(parse_notes(tokens_to_text(tokens)).tokens, tokens)


def test_abc_twinkle():
    m = parse_melody(TWINKLE_ABC)
    assert is_abc(TWINKLE_ABC) and m.bpm == 100 and len(m.tokens) == 64
    onsets = m.tokens[m.tokens < 128].tolist()
    assert onsets == [60, 60, 67, 67, 69, 69, 67, 65, 65, 64, 64, 62, 62, 60]


def test_abc_keys_accidentals_ties_and_broken_rhythm():
    assert key_accidentals("G") == {"F": 1} and key_accidentals("Dm") == {"B": -1}
    assert key_accidentals("Ador") == {"F": 1} and key_accidentals("Bb") == {"B": -1, "E": -1}
    m = parse_abc("L:1/8\nK:D\nF>G c- c ^G G | G [CEg]2 z2 c'2 C,2|")
    t = m.tokens
    assert t[:4].tolist() == [66, HOLD, HOLD, 67]  # F# in D, dotted
    assert t[4:8].tolist() == [73, HOLD, HOLD, HOLD]  # c# tied over two eighths
    assert t[8] == 68 and t[10] == 68  # the accidental lasts to the bar line
    assert t[12] == 67  # ... and not past it
    assert t[14] == 79 and t[18] == REST and t[22] == 85 and t[26] == 49  # chord top, rest, octaves in D


@pytest.mark.parametrize("text, message", [("", "type a melody"), ("C4 H4", "cannot read 'H4'"),
                                           ("r r", "no notes"), ("K:C\nC D & E", "cannot read"),
                                           ("K:Q\nC", "cannot read the key"), ("C10", "cannot read")])
def test_bad_text_gets_a_clear_message(text, message):
    with pytest.raises(ValueError, match=message):
        parse_melody(text)


def test_typed_melody_travels_as_a_song_code():
    tokens = parse_melody(TWINKLE_ABC).tokens
    assert np.array_equal(link_code_to_tokens(tokens_to_link_code(tokens)), tokens)


def test_abc_first_tune_only_inline_fields_and_lyrics():
    text = ("X:1\nT:One\nL:1/4\nK:C\nC D E F |\nw: la la la la\nK:G\nF G [K:C] F [L:1/8] G G |\n"
            "X:2\nT:Two\nK:C\nc c c c|\n")
    t = parse_melody(text).tokens
    assert t[t < 128].tolist() == [60, 62, 64, 65, 66, 67, 65, 67, 67]
    assert t[24] == 65 and t[28] == 67 and t[30] == 67  # eighth notes after [L:1/8]
    assert key_accidentals("none") == {}


def onsets(abc_body: str) -> list[int]:
    """The onset pitches of an ABC body in C major, quarter-note units."""
    tokens = parse_abc(f"X:1\nL:1/4\nK:C\n{abc_body}\n").tokens
    return tokens[tokens < HOLD].tolist()


C, D, E, F, G, A, B = 60, 62, 64, 65, 67, 69, 71


@pytest.mark.parametrize("body, played", [
    ("|: C D E F :|", [C, D, E, F] * 2),
    ("C D E F :| G4 |", [C, D, E, F] * 2 + [G]),  # no |: : from the start of the tune
    ("G4 || |: C D E F :| A4 |]", [G] + [C, D, E, F] * 2 + [A]),
    ("|: C4 :: D4 :| E4", [C, C, D, D, E]),  # :: ends one part and starts the next
    ("|: C D E F |1 G4 :|2 A4 |] B4", [C, D, E, F, G, C, D, E, F, A, B]),
    ("|: C D E F [1 G4 :| [2 A4 || c4", [C, D, E, F, G, C, D, E, F, A, 72]),
    ("|: C4 |1 D4 :|2 E4 :|3 F4 |]", [C, D, C, E, C, F]),  # three endings
    ("|: C4 |1 D4 :|2 E4 || |: F4 |1 G4 :|2 A4 |]", [C, D, C, E, F, G, F, A]),  # A part, B part, each with endings
])
def test_abc_repeats_and_endings_are_played_as_written(body, played):
    assert onsets(body) == played


def test_a_repeated_tune_is_twice_as_long_and_accidentals_reset_at_the_repeat_sign():
    plain = parse_abc(TWINKLE_ABC).tokens
    repeated = parse_abc(TWINKLE_ABC.replace("CCGG|", "|:CCGG|").replace("C2|\n", "C2:|\n")).tokens
    assert np.array_equal(repeated, np.concatenate([plain, plain]))
    assert onsets("|: F2 ^F2 :|") == [F, 66, F, 66]  # the sharp lasts to the repeat sign, not into the repeat


def test_a_chord_right_after_a_bar_line_is_a_chord():
    assert onsets("C D E F|[CEG]2 [DF]2|") == [C, D, E, F, G, F]
    assert onsets("|:[CE]2 D2:|") == [E, D, E, D]
