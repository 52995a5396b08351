"""A song as a score: its key, and the song written as an ABC tune (notation a musician reads and copies).

:func:`estimate_key` finds the key of a melody (Krumhansl–Schmuckler: the pitch-class profile of the notes,
weighted by how long they sound, correlated with the Krumhansl–Kessler major and minor profiles in all 12
transpositions). :func:`abc_text` writes tokens as an ABC 2.1 tune in that key, spelled as a musician would
(the key's own notes with its signature, other notes sharp in sharp keys and flat in flat keys, a minor key's
raised 6th and 7th as naturals or sharps), with the accidentals the key signature and the bar require.
Its inverse is the ABC reader :func:`vae.notation.parse_melody`: reading the text back gives the same tokens.

Numpy only.
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import NamedTuple

import numpy as np

from vae.melody import STEPS_PER_BAR, as_song, tokens_to_notes

BARS_PER_LINE = 4
HALF_BAR = STEPS_PER_BAR // 2
# Krumhansl & Kessler (1982) key profiles: how well each pitch class above the tonic fits the key (ratings 1-7).
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
MODES = ("major", "minor")
# Each tonic's name as a key, in the spelling with the fewer accidentals (F# major and Eb minor for the 6-6 ties).
_MAJOR_NAMES = ("C", "Db", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_MINOR_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "G#", "A", "Bb", "B")
_LETTERS = "CDEFGAB"
_LETTER_PC = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ORDER_OF_SHARPS, _ORDER_OF_FLATS = "FCGDAEB", "BEADGCF"
_ACCIDENTAL = {-2: "__", -1: "_", 0: "=", 1: "^", 2: "^^"}  # a double sharp: G# minor's raised 7th, Fx
# Note lengths in sixteenths that one note head shows (plain and dotted), longest first, and the step (within
# the bar) that each must start on: a plain note on a multiple of itself, a dotted one on a beat.
_WRITTEN = ((16, 16), (12, 16), (8, 8), (6, 4), (4, 4), (3, 4), (2, 2), (1, 1))


class Key(NamedTuple):
    """A major or minor key: ``tonic`` pitch class (0 = C ... 11 = B) and ``mode`` ("major" or "minor")."""

    tonic: int
    mode: str

    @property
    def abc(self) -> str:
        """The key as ABC's ``K:`` field writes it, e.g. 'G', 'Bb', 'Em', 'F#m'."""
        return _MAJOR_NAMES[self.tonic] if self.mode == "major" else f"{_MINOR_NAMES[self.tonic]}m"

    @property
    def name(self) -> str:
        """The key in words, e.g. 'G major', 'F# minor'."""
        return f"{self.abc.removesuffix('m')} {self.mode}"

    @property
    def fifths(self) -> int:
        """The key signature: number of sharps (> 0) or flats (< 0)."""
        major_tonic = self.tonic if self.mode == "major" else (self.tonic + 3) % 12
        fifths = (7 * major_tonic) % 12  # steps round the circle of fifths from C
        return fifths - 12 if fifths > 6 or (fifths == 6 and self.mode == "minor") else fifths

    def signature(self) -> dict[str, int]:
        """Letter -> alteration the key signature gives it (+1 sharp, -1 flat; letters not named: natural)."""
        if self.fifths >= 0:
            return {letter: 1 for letter in _ORDER_OF_SHARPS[: self.fifths]}
        return {letter: -1 for letter in _ORDER_OF_FLATS[: -self.fifths]}

    def spelling(self, pitch_class: int) -> tuple[str, int]:
        """(letter, alteration) of a pitch class in this key: the key's own note if it is one (E# in F# major),
        a minor key's raised 6th and 7th on their own letters (C# and B in D minor), else a sharp in a sharp
        key (and in C, but for Bb) and a flat in a flat key."""
        pc, signature = pitch_class % 12, self.signature()
        for letter in _LETTERS:
            alter = signature.get(letter, 0)
            if (_LETTER_PC[letter] + alter) % 12 == pc:
                return letter, alter
        if self.mode == "minor" and (pc - self.tonic) % 12 in (9, 11):  # raised 6th, raised 7th
            letter = _LETTERS[(_LETTERS.index(self.abc[0]) + (5 if (pc - self.tonic) % 12 == 9 else 6)) % 7]
            return letter, signature.get(letter, 0) + 1
        natural = next((letter for letter in _LETTERS if _LETTER_PC[letter] == pc), None)
        if natural:
            return natural, 0
        if self.fifths > 0 or (self.fifths == 0 and pc != 10):
            return next(letter for letter in _LETTERS if _LETTER_PC[letter] == pc - 1), 1
        return next(letter for letter in _LETTERS if _LETTER_PC[letter] == (pc + 1) % 12), -1


def parse_key(name: str) -> Key:
    """A key from its ABC name ('G', 'Bb', 'F#m', 'Ebm'; 'C#', 'Gb' and the other spellings too)."""
    match = re.fullmatch(r"\s*([A-Ga-g])([#b]?)\s*(m|min|minor|maj|major)?\s*", name or "")
    if not match:
        raise ValueError(f"cannot read the key {name!r}: write it like G, Bb, F#m or Ebm")
    tonic = (_LETTER_PC[match.group(1).upper()] + {"#": 1, "b": -1, "": 0}[match.group(2)]) % 12
    return Key(tonic, "minor" if (match.group(3) or "").startswith("m") and match.group(3) not in ("maj", "major")
               else "major")


def estimate_key(tokens: np.ndarray) -> Key:
    """The key of a melody (Krumhansl–Schmuckler): the major or minor key profile, in the transposition whose
    correlation with the melody's pitch-class durations is highest.

    Args:
        tokens: int array (T,) of token ids (a song) or (N, 32) (clips, joined).

    Returns:
        The :class:`Key`: C major for a song without notes, or whose 12 pitch classes all sound equally long
        (a profile with no variance); of keys that fit equally well, the one with fewer accidentals.
    """
    durations = np.zeros(12)
    for start, end, pitch in tokens_to_notes(as_song(tokens)):
        durations[pitch % 12] += end - start  # in sixteenths
    if np.ptp(durations) == 0:
        return Key(0, "major")
    best, best_r = Key(0, "major"), -np.inf
    candidates = [Key(t, m) for m in MODES for t in range(12)]
    for key in sorted(candidates, key=lambda k: (abs(k.fifths), k.mode)):
        profile = np.roll(MAJOR_PROFILE if key.mode == "major" else MINOR_PROFILE, key.tonic)
        r = np.corrcoef(durations, profile)[0, 1]
        if r > best_r + 1e-12:
            best, best_r = key, r
    return best


# ----------------------------------------------------------------------------- tokens -> ABC


def _pieces(start: int, end: int) -> list[int]:
    """Lengths (sixteenths) of the written notes, tied, that sound from ``start`` to ``end`` within one bar
    (steps from the bar line): cut at the half-bar unless the note starts the bar, each one a plain or dotted
    value on its place (a quarter on a beat, an eighth on an eighth)."""
    cuts = [start, end] if start == 0 or end <= HALF_BAR or start >= HALF_BAR else [start, HALF_BAR, end]
    lengths = []
    for a, b in pairwise(cuts):
        while a < b:
            length = next(n for n, grid in _WRITTEN if n <= b - a and a % grid == 0)
            lengths.append(length)
            a += length
    return lengths


def _octave(letter: str, natural_pitch: int) -> str:
    """ABC letter case and octave marks of a note whose unaltered pitch is ``natural_pitch`` (C = 60, c = 72)."""
    octave = natural_pitch // 12 - 5  # 0: the octave from middle C
    return letter + "," * -octave if octave <= 0 else letter.lower() + "'" * (octave - 1)


class _Bar:
    """The accidentals in force within one bar, as each kind of reader counts them, so that every reader hears
    the same note. An accidental is written where the note's alteration differs from what the bar has said so
    far for that letter in that octave: by every accidental written (ABC 2.1, :mod:`vae.notation`), or by those
    not on a tied-over note (abcjs, as engravers do: a tied note keeps its pitch and lends its accidental to no
    other); or for that letter in any octave (what some readers do)."""

    def __init__(self, signature: dict[str, int]):
        self.signature, self.same_octave, self.untied, self.any_octave = signature, {}, {}, {}

    def note(self, letter: str, alter: int, octave: str, tied_in: bool = False) -> str:
        """The ABC note (no length) of ``letter`` altered by ``alter`` in ``octave`` (its case and marks);
        ``tied_in``: the note continues the one before it (a tie into it)."""
        default = self.signature.get(letter, 0)
        said = [self.same_octave.get(octave, default), self.any_octave.get(letter, alter)]
        if not tied_in:  # abcjs plays a tied-over note at the pitch it is tied from, whatever it says
            said.append(self.untied.get(octave, default))
        if all(a == alter for a in said):
            return octave
        self.same_octave[octave] = self.any_octave[letter] = alter
        if not tied_in:
            self.untied[octave] = alter
        return _ACCIDENTAL[alter] + octave


def _bars(tokens: np.ndarray) -> list[list[tuple[int, int, int | None, bool, bool]]]:
    """Each bar's notes and rests as (start, end, pitch or None, tied in, tied on): steps from the bar line; a note
    that sounds over a bar line is a piece in each bar, tied in from the bar before and tied on to the next."""
    n_bars = -(-len(tokens) // STEPS_PER_BAR)
    events, time = [], 0  # notes and the rests between them, to the last bar line
    for start, end, pitch in tokens_to_notes(tokens) + [(n_bars * STEPS_PER_BAR, n_bars * STEPS_PER_BAR, None)]:
        events += [(time, start, None)] * (start > time) + [(start, end, pitch)] * (pitch is not None)
        time = end
    bars = [[] for _ in range(n_bars)]
    for first, end, pitch in events:
        start = first
        while start < end:
            bar, offset = divmod(start, STEPS_PER_BAR)
            stop = min(end, (bar + 1) * STEPS_PER_BAR)
            bars[bar].append((offset, stop - bar * STEPS_PER_BAR, pitch, start > first, stop < end))
            start = stop
    return bars


def _bar_text(pieces: list[tuple[int, int, int | None, bool, bool]], key: Key) -> str:
    """One bar (see :func:`_bars`) in ABC with ``L:1/16``: notes spelled in ``key``, a space at each beat."""
    bar, words = _Bar(key.signature()), []
    for offset, stop, pitch, tied_in, tied_on in pieces:
        lengths = _pieces(offset, stop)
        for i, length in enumerate(lengths):
            space = " " if offset % 4 == 0 and offset > 0 else ""  # beams end on the beat
            if pitch is None:
                words.append(f"{space}z{length if length > 1 else ''}")
            else:
                letter, alter = key.spelling(pitch)
                head = bar.note(letter, alter, _octave(letter, pitch - alter), tied_in or i > 0)
                words.append(f"{space}{head}{length if length > 1 else ''}{'-' * (i < len(lengths) - 1 or tied_on)}")
            offset += length
    return "".join(words)


def abc_text(tokens: np.ndarray, bpm: float, title: str = "", key: Key | str | None = None) -> str:
    """The song as an ABC 2.1 tune: 4/4, sixteenth-note unit, its tempo and key, four bars a line.

    Notes are spelled in ``key`` (see :meth:`Key.spelling`), with accidentals where the signature and the bar
    require them (see :class:`_Bar`); a note that crosses the half-bar or the bar line is written as tied notes.
    :func:`vae.notation.parse_melody` reads the text back to the same tokens (holds that continue no note
    read as rests, as everywhere; a song that is not whole bars gets rests to the bar line).

    Args:
        tokens: int array (T,) of token ids (a song), or (N, 32) clips, joined.
        bpm: tempo in quarter notes per minute (written rounded to a whole number).
        title: the tune's title (``T:``), on one line.
        key: a :class:`Key`, an ABC key name ('Bb', 'F#m'), or None to use :func:`estimate_key`.

    Returns:
        The tune, lines joined by newlines, ending with a newline.
    """
    tokens = as_song(tokens)
    key = estimate_key(tokens) if key is None else parse_key(key) if isinstance(key, str) else key
    bars = [_bar_text(pieces, key) for pieces in _bars(tokens)]
    lines = [" | ".join(bars[i : i + BARS_PER_LINE]) + " |" for i in range(0, len(bars), BARS_PER_LINE)]
    lines[-1] += "]"  # the final bar line
    title = (" ".join((title or "").split()) or "Untitled").replace("%", "\\%")  # '%' would start a comment
    header = ["X:1", f"T:{title}", "M:4/4", f"L:1/{STEPS_PER_BAR}", f"Q:1/4={round(float(bpm))}", f"K:{key.abc}"]
    return "\n".join(header + lines) + "\n"
