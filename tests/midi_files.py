"""Small MIDI files for the app tests, written with pretty_midi."""

from __future__ import annotations

from pathlib import Path

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
