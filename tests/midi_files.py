"""Small MIDI files for the tests, written with pretty_midi (with mido where pretty_midi cannot: tempo changes)."""

from __future__ import annotations

from pathlib import Path

import mido
import pretty_midi


def write_midi(path: Path, tracks: list[tuple[int, bool, list[int]]], meter: tuple[int, int] = (4, 4),
               bpm: float = 120.0, beats: float = 1.0) -> Path:
    """Write ``tracks`` of (program, is_drum, pitches), one note of ``beats`` quarter notes per pitch."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(*meter, 0.0))
    seconds = 60.0 / bpm * beats
    for program, is_drum, pitches in tracks:
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum)
        inst.notes = [pretty_midi.Note(velocity=100, pitch=p, start=i * seconds, end=(i + 1) * seconds)
                      for i, p in enumerate(pitches)]
        pm.instruments.append(inst)
    pm.write(str(path))
    return path


def melody_midi(path: Path, **kwargs) -> Path:
    """A one-track 4-bar melody (C major scale up and down, quarter notes)."""
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    return write_midi(path, [(0, False, scale + scale[::-1])], **kwargs)


def chords_midi(path: Path, chords: list[list[int]], bpm: float = 120.0) -> Path:
    """One track of block chords, one chord per quarter note: every note of a chord starts and ends together."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=bpm)
    inst = pretty_midi.Instrument(program=0)
    seconds = 60.0 / bpm
    inst.notes = [pretty_midi.Note(velocity=100, pitch=p, start=i * seconds, end=(i + 1) * seconds)
                  for i, chord in enumerate(chords) for p in chord]
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def tempo_change_midi(path: Path, pitches: list[int], tempi: list[float], ticks_per_beat: int = 480) -> Path:
    """A melody of quarter notes whose tempo changes at every bar (tempi[i] bpm in bar i), written with mido."""
    track = mido.MidiTrack([mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0)])
    for i, pitch in enumerate(pitches):
        if i % 4 == 0 and i // 4 < len(tempi):
            track.append(mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempi[i // 4]), time=0))
        track.append(mido.Message("note_on", note=pitch, velocity=100, time=0))
        track.append(mido.Message("note_off", note=pitch, velocity=0, time=ticks_per_beat))
    midi = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    midi.save(str(path))
    return path


def chorale_midi(path: Path) -> Path:
    """Four voices in the order of a Bach chorale's MIDI (soprano, alto, tenor, bass), 4 bars; the tenor moves in
    eighth notes, so it has the most notes, and the soprano is the highest voice (the melody)."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=80)
    voices = {"Soprano": ([72, 74, 76, 77, 76, 74, 72, 71] * 2, 1.0), "Alto": ([67, 65, 64, 65] * 4, 1.0),
              "Tenor": ([60, 62, 64, 62] * 8, 0.5), "Bass": ([48, 43] * 8, 1.0)}
    for name, (pitches, beats) in voices.items():
        inst = pretty_midi.Instrument(program=52, name=name)
        step = 60.0 / 80 * beats
        inst.notes = [pretty_midi.Note(velocity=90, pitch=p, start=i * step, end=(i + 1) * step)
                      for i, p in enumerate(pitches)]
        pm.instruments.append(inst)
    pm.write(str(path))
    return path
