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
