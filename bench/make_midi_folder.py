"""A folder of MIDI files for timing prepare_data.py: like a scraped collection, with damaged files.

    python bench/make_midi_folder.py /tmp/midi2000 [--files 2000] [--seed 0]
    python bench/make_midi_folder.py /tmp/midi_big --files 300 --bars 64 160 --tracks 8 12   # song-sized

Random 4/4 tunes of 8 to 64 bars at 120 bpm, one to four tracks (a melody over lower parts), one in
a hundred left broken: cut short, empty, or text named .mid; and one file of a million notes (6 MB),
which takes ~11 s to read: past a short --file-timeout it is killed.
"""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np
import pretty_midi


def random_song(rng: np.random.Generator, bars: int, tracks: int) -> pretty_midi.PrettyMIDI:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    for k in range(tracks):
        inst = pretty_midi.Instrument(program=int(rng.integers(0, 80)))
        t, end = 0.0, bars * 2.0  # 2 s per bar
        while t < end - 1e-9:
            dur = min(float(rng.choice([0.25, 0.5, 1.0])), end - t)
            inst.notes.append(pretty_midi.Note(velocity=90, pitch=int(rng.integers(60, 84)) - 4 * k,
                                               start=t, end=t + dur))
            t += dur
        pm.instruments.append(inst)
    return pm


def million_notes(path: Path, n_notes: int = 1_000_000) -> None:
    """A valid one-track MIDI file of ``n_notes`` notes written as bytes (running status)."""
    pitches = 60 + np.arange(n_notes) % 24
    events = np.zeros((n_notes, 2, 3), np.uint8)  # (delta, pitch, velocity) of a note-on, then its note-off
    events[:, 0] = np.stack([np.zeros(n_notes), pitches, np.full(n_notes, 100)], 1)
    events[:, 1] = np.stack([np.full(n_notes, 60), pitches, np.zeros(n_notes)], 1)
    body = bytes([0, 0x90]) + events.tobytes()[1:] + bytes([0, 0xFF, 0x2F, 0])
    path.write_bytes(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(body)) + body)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--bars", type=int, nargs=2, default=(8, 64), help="song lengths: from, to (bars)")
    ap.add_argument("--tracks", type=int, nargs=2, default=(1, 4), help="tracks per song: from, to")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    for i in range(args.files):
        path = Path(args.out) / f"{i % 10}" / f"song{i:06d}.mid"  # sub-folders, as Lakh's
        path.parent.mkdir(parents=True, exist_ok=True)
        if i % 100 == 99:
            path.write_bytes([b"", b"not a MIDI file", b"MThd\x00\x00\x00\x06\x00\x01"][i // 100 % 3])
        else:
            random_song(rng, int(rng.integers(args.bars[0], args.bars[1] + 1)),
                        int(rng.integers(args.tracks[0], args.tracks[1] + 1))).write(str(path))
    million_notes(Path(args.out) / "million_notes.mid")


if __name__ == "__main__":
    main()
