import io
import re
import warnings

import numpy as np
import pretty_midi
import pytest

from vae.melody import (
    CLIP_STEPS,
    HOLD,
    REST,
    MeterWarning,
    clip_windows,
    join_clips,
    load_melody,
    midi_to_tokens,
    normalize_tokens,
    notes_to_tokens,
    split_clips,
    tokens_to_midi,
    tokens_to_notes,
)


def make_midi(notes, *, bpm=120.0, meter=(4, 4), extra_meters=(), drum=False, tempo_change=None):
    """A PrettyMIDI with ``notes`` given as (start_beat, end_beat, pitch) in quarter notes."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    if tempo_change is not None:  # (beat, bpm): pretty_midi has no public setter, so write ticks
        beat, new_bpm = tempo_change
        pm._tick_scales.append((int(beat * pm.resolution), 60.0 / (new_bpm * pm.resolution)))
        pm._update_tick_to_time(pm.resolution * 400)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(*meter, 0.0))
    for beat, num_den in extra_meters:
        pm.time_signature_changes.append(pretty_midi.TimeSignature(*num_den, pm.tick_to_time(int(beat * pm.resolution))))
    inst = pretty_midi.Instrument(program=0, is_drum=drum)
    for s, e, p in notes:
        inst.notes.append(pretty_midi.Note(100, p, pm.tick_to_time(int(s * pm.resolution)),
                                           pm.tick_to_time(int(e * pm.resolution))))
    pm.instruments.append(inst)
    return pm


def roundtrip(pm: pretty_midi.PrettyMIDI) -> pretty_midi.PrettyMIDI:
    buf = io.BytesIO()
    pm.write(buf)
    return pretty_midi.PrettyMIDI(io.BytesIO(buf.getvalue()))


SCALE = [(i, i + 1, 60 + i) for i in range(8)]  # eight quarter notes C4..G4+


def test_notes_tokens_round_trip():
    tokens = notes_to_tokens([(0, 4, 60), (4, 6, 62), (8, 16, 64)], n_steps=16)
    assert tokens.tolist() == [60, HOLD, HOLD, HOLD, 62, HOLD, REST, REST, 64] + [HOLD] * 7
    assert tokens_to_notes(tokens) == [(0, 4, 60), (4, 6, 62), (8, 16, 64)]


def test_chord_becomes_top_note():
    tokens = notes_to_tokens([(0, 8, 60), (0, 8, 64), (0, 4, 67)], n_steps=8)
    assert tokens[0] == 67 and tokens[1:4].tolist() == [HOLD] * 3 and tokens[4] == REST


@pytest.mark.parametrize("bpm", [72.0, 120.0, 177.5])
def test_midi_round_trip_at_any_tempo(bpm):
    tokens = midi_to_tokens(roundtrip(make_midi(SCALE, bpm=bpm)))
    assert len(tokens) == 32
    back = load_melody(roundtrip(tokens_to_midi(tokens, bpm=bpm)))
    assert np.array_equal(back.tokens, tokens)
    assert back.bpm == pytest.approx(bpm, rel=1e-3)


def test_tempo_change_keeps_the_beat_grid():
    pm = make_midi(SCALE, bpm=120, tempo_change=(4, 60))
    tokens = midi_to_tokens(roundtrip(pm))
    assert tokens_to_notes(tokens) == [(4 * i, 4 * i + 4, 60 + i) for i in range(8)]


def test_pickup_bar_is_aligned_to_the_first_downbeat():
    # a one-beat pickup written as a 1/4 bar, then 4/4
    notes = [(0, 1, 67)] + [(1 + i, 2 + i, 60 + i) for i in range(4)]
    tokens = midi_to_tokens(roundtrip(make_midi(notes, meter=(1, 4), extra_meters=[(1, (4, 4))])))
    assert tokens[:12].tolist() == [REST] * 12 and tokens[12] == 67  # pickup on beat 4 of a padded bar
    assert tokens[16] == 60  # the first downbeat starts bar 2


def test_tied_note_over_the_cut_is_struck_again():
    tokens = notes_to_tokens([(24, 40, 65), (40, 48, 67)], n_steps=64)
    clips = split_clips(tokens)
    assert clips.shape == (2, CLIP_STEPS)
    assert clips[1, 0] == 65 and clips[1, 1] == HOLD
    assert not (clips[:, 0] == HOLD).any()
    joined = join_clips(clips)
    assert tokens_to_notes(joined) == [(24, 32, 65), (32, 40, 65), (40, 48, 67)]


def test_split_join_round_trip_without_ties(rng):
    clips = notes_to_tokens([(0, 3, 60), (5, 9, 70), (40, 44, 50)], n_steps=96)
    assert np.array_equal(join_clips(split_clips(clips)), clips)


def test_split_pads_the_last_clip_with_rests():
    clips = split_clips(notes_to_tokens([(0, 4, 60)], n_steps=40))
    assert clips.shape == (2, 32) and (clips[1] == REST).all()


def test_normalize_turns_orphan_holds_into_rests():
    assert normalize_tokens(np.array([HOLD, 60, HOLD, REST, HOLD])).tolist() == [REST, 60, HOLD, REST, REST]


def test_non_duple_meter_warns_and_is_still_cut():
    notes = [(i, i + 1, 60) for i in range(12)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tokens = midi_to_tokens(roundtrip(make_midi(notes, meter=(3, 4))))
    assert any(issubclass(w.category, MeterWarning) and "3/4" in str(w.message) for w in caught)
    assert split_clips(tokens).shape[1] == 32


def test_track_choice_default_and_explicit():
    pm = make_midi(SCALE)
    bass = pretty_midi.Instrument(program=33)
    bass.notes = [pretty_midi.Note(100, 40, 0.0, 2.0)]
    pm.instruments.insert(0, bass)
    assert load_melody(roundtrip(pm)).instrument == 1  # most notes
    assert load_melody(roundtrip(pm), instrument=0).tokens[0] == 40


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"this is not midi at all", "MIDI"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x01\x01\xe0MTrk\x00\x00\x00\x20\x00\x90", "MIDI"),
])
def test_unreadable_files_are_refused(tmp_path, data, message):
    path = tmp_path / "bad.mid"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        load_melody(path)


def test_no_notes_and_drums_only_are_refused():
    with pytest.raises(ValueError, match="no notes"):
        load_melody(roundtrip(make_midi([])))
    with pytest.raises(ValueError, match="drum"):
        load_melody(roundtrip(make_midi(SCALE, drum=True)))
    with pytest.raises(ValueError, match="track 5"):
        load_melody(roundtrip(make_midi(SCALE)), instrument=5)


def test_bad_tokens_are_refused():
    with pytest.raises(ValueError, match="0..129"):
        split_clips(np.array([0, 130]))
    with pytest.raises(ValueError, match="shape"):
        join_clips(np.zeros((2, 30), dtype=int))


def test_clip_windows_hop_and_re_strike():
    tokens = notes_to_tokens([(0, 24, 60), (24, 48, 62)], n_steps=64)
    windows = clip_windows(tokens, hop=16)
    assert windows.shape == (3, 32)
    assert windows[1, 0] == 60 and windows[1, 8] == 62  # the tie into step 16 is struck again
    assert np.array_equal(windows[0], tokens[:32]) and windows[2, 0] == 62 and (windows[:, 0] != HOLD).all()
    with pytest.raises(ValueError, match="hop"):
        clip_windows(tokens, hop=0)


def test_the_melody_of_a_chorale_is_its_highest_voice(tmp_path):
    from midi_files import chorale_midi

    melody = load_melody(chorale_midi(tmp_path / "chorale.mid"))
    tenor = max(melody.instruments, key=lambda t: t.notes)
    assert tenor.name == "Tenor", "the tenor has the most notes (the old default)"
    assert melody.instrument == 0 and melody.instruments[0].name == "Soprano"
    assert load_melody(chorale_midi(tmp_path / "again.mid"), instrument=2).instrument == 2, "a chosen track is kept"


@pytest.mark.parametrize("data", [b"hello, I am not a MIDI file", b"MThd\x00\x00\x00\x06\x00\x01", b"\x00" * 64])
def test_unreadable_midi_is_told_in_a_plain_sentence(data):
    with pytest.raises(ValueError, match="could not read this file as MIDI") as err:
        load_melody(data)
    assert not re.search(r"[A-Z][a-z]+Error|MThd|Exception", str(err.value)), str(err.value)
