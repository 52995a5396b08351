"""Opening MIDI files for :mod:`vae.melody`: header checks, plain sentences for damaged files, tracks, meters."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pretty_midi


def _check_header(head: bytes) -> None:
    """Refuse what pretty_midi misreads: a time division in SMPTE frames or of 0 ticks per quarter note."""
    if len(head) < 14 or head[:4] != b"MThd":
        return  # the parser says what is wrong
    division = int.from_bytes(head[12:14], "big")
    if division & 0x8000:
        raise ValueError("this MIDI file counts time in SMPTE frames, not in beats; export it with a time division "
                         "in ticks per quarter note (the default of most programs) and try again")
    if division == 0:
        raise ValueError("this MIDI file's time division is 0 ticks per quarter note, so it has no beat to read; "
                         "it is damaged: export it again")


def open_midi(source) -> pretty_midi.PrettyMIDI:
    """A MIDI file (path, bytes or PrettyMIDI) opened by pretty_midi; ValueError with one plain sentence if not."""
    if isinstance(source, pretty_midi.PrettyMIDI):
        return source
    if isinstance(source, (bytes, bytearray)):
        if not source:
            raise ValueError("this file is empty (0 bytes); choose a Standard MIDI File (.mid)")
        _check_header(bytes(source[:14]))
        source = io.BytesIO(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"no such MIDI file: {path}")
        if path.stat().st_size == 0:
            raise ValueError(f"{path.name} is empty (0 bytes); choose a Standard MIDI File (.mid)")
        with path.open("rb") as f:
            _check_header(f.read(14))
        source = str(path)
    try:
        return pretty_midi.PrettyMIDI(source)
    except EOFError as err:  # mido: the data stops inside a chunk
        raise ValueError("could not read this file as MIDI: it ends too early (cut short while copying or "
                         "downloading?); choose a complete Standard MIDI File (.mid)") from err
    except ZeroDivisionError as err:  # a set_tempo of 0 microseconds per quarter note
        raise ValueError("could not read this file as MIDI: it sets a tempo of 0 (an endless number of beats a "
                         "minute); it is damaged: export it again") from err
    except ValueError as err:
        if str(err).startswith("MIDI file has a largest tick"):  # pretty_midi's own limit on how long a file runs
            ticks = "".join(c for c in str(err).split(",")[0] if c.isdigit())
            raise ValueError(f"could not read this file as MIDI: it runs for {int(ticks):,} ticks, far longer than "
                             "any song; it is likely damaged") from err
        what = "it is not a MIDI file (no MIDI header)" if "MThd" in str(err) else "it is damaged"
        raise ValueError(f"could not read this file as MIDI: {what}; choose a Standard MIDI File (.mid)") from err
    except Exception as err:  # mido raises many kinds of errors on damaged files; the user gets a sentence
        what = "it is not a MIDI file (no MIDI header)" if "MThd" in str(err) else "it is damaged"
        raise ValueError(f"could not read this file as MIDI: {what}; choose a Standard MIDI File (.mid)") from err


@dataclass(frozen=True)
class Track:
    """One track (pretty_midi instrument) of a MIDI file, as the melody picker sees it."""

    index: int  # position in the file's tracks, from 0
    name: str  # the track's name, else its General MIDI instrument's
    program: int  # General MIDI program, 0-127
    notes: int  # how many notes it plays
    pitch: float  # median MIDI pitch of its notes (0.0 when it has none)
    is_drum: bool  # a drum track (channel 10): no melody

    @property
    def melodic(self) -> bool:
        """Whether it could be the melody: pitched, with notes."""
        return self.notes > 0 and not self.is_drum


class MeterSpan(NamedTuple):
    """A stretch of the song under one time signature, on the sixteenth-note grid."""

    start: int  # first step
    end: int  # step after the last
    bar_steps: int  # steps per bar in this meter (16 for 4/4)
    name: str  # the time signature, "n/d"


def describe_instruments(pm: pretty_midi.PrettyMIDI) -> list[Track]:
    """Every track of the file: index, name, program, number of notes, median pitch, whether it is drums."""
    out = []
    for i, inst in enumerate(pm.instruments):
        name = inst.name.strip() or pretty_midi.program_to_instrument_name(inst.program)
        out.append(Track(index=i, name=name, program=inst.program, notes=len(inst.notes),
                         pitch=float(np.median([n.pitch for n in inst.notes])) if inst.notes else 0.0,
                         is_drum=inst.is_drum))
    return out


def meter_spans(pm: pretty_midi.PrettyMIDI, ticks_per_step: float, end_step: int) -> list[MeterSpan]:
    """Each time signature in force, as a :class:`MeterSpan`; 4/4 before the first one and without any."""
    from vae.melody import STEPS_PER_BAR, STEPS_PER_QUARTER  # the grid's constants (melody imports this module)

    sigs = sorted(pm.time_signature_changes, key=lambda ts: ts.time)
    if not sigs:
        return [MeterSpan(0, end_step, STEPS_PER_BAR, "4/4")]
    spans = []
    for i, ts in enumerate(sigs):
        start = round(pm.time_to_tick(ts.time) / ticks_per_step)
        stop = round(pm.time_to_tick(sigs[i + 1].time) / ticks_per_step) if i + 1 < len(sigs) else end_step
        bar = max(1, round(ts.numerator * STEPS_PER_QUARTER * 4 / ts.denominator))
        spans.append(MeterSpan(start, max(stop, start), bar, f"{ts.numerator}/{ts.denominator}"))
    if spans[0].start > 0:
        spans.insert(0, MeterSpan(0, spans[0].start, STEPS_PER_BAR, "4/4"))
    return spans
