"""A melody typed as text: ABC notation (what folk musicians write) or a plain note list, and back.

Two forms are read by :func:`parse_melody`:

- **ABC** (abcnotation.com, standard 2.1), recognised by a ``K:`` header line. Read: ``L:`` (unit
  length, default 1/8), ``M:``, ``Q:`` (tempo), ``K:`` (key signature, with modes), notes
  ``^c _B =F C, c'`` with lengths ``2 /2 3/2 /``, rests ``z``/``x``, ties ``-``, broken rhythm
  ``>`` / ``<``, triplets ``(3``, chords ``[CEG]`` (their top note), mid-tune ``K:`` and ``L:``
  (lines or inline ``[K:G]``). Accidentals last to the bar line. Repeats are played as written:
  ``|: ... :|`` (from the tune's start where there is no ``|:``), ``::``, and first, second (third ...)
  endings ``[1 ... :|2 ...`` or ``|1 ... :| [2 ...`` (:func:`unfold_repeats`). Only the first tune is
  read; chord symbols ``"Am"``, decorations and lyrics are skipped.
- **Note text**: ``C4 D4 E4/2 E4/2 F#4*2 r | G4 ...``: a pitch name with its octave (C4 = 60,
  middle C) or ``r`` for a rest, each a quarter note, ``*n`` or ``/n`` for n times longer or
  shorter; bar lines are skipped.

No music21: this module needs only numpy. :func:`tokens_to_text` writes the note text back
(the inverse of :func:`parse_notes` up to the spelling of black keys, which are written as sharps).
"""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np

from vae.melody import (
    BPM_RANGE,
    DEFAULT_BPM,
    MAX_BARS,
    STEPS_PER_BAR,
    GridWarning,
    Melody,
    MeterWarning,
    SongWarning,
    notes_to_tokens,
    tokens_to_notes,
)

STEPS_PER_WHOLE = 16
MAX_TEXT_CHARS = 20_000
_SEMITONE = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"]
_SHARPS, _FLATS = "FCGDAEB", "BEADGCF"
_TONIC_FIFTHS = {"C": 0, "G": 1, "D": 2, "A": 3, "E": 4, "B": 5, "F#": 6, "C#": 7, "F": -1, "Bb": -2, "Eb": -3,
                 "Ab": -4, "Db": -5, "Gb": -6, "Cb": -7, "G#": 8, "D#": 9, "A#": 10}
_MODE_FIFTHS = {"": 0, "maj": 0, "ion": 0, "m": -3, "min": -3, "aeo": -3, "dor": -2, "mix": -1, "lyd": 1,
                "phr": -4, "loc": -5}
_NOTE_TEXT = re.compile(r"^([A-Ga-g])([#b]?)(-?\d)(?:([*/])(\d+(?:\.\d+)?))?$")
_REST_TEXT = re.compile(r"^[rRzZ](?:([*/])(\d+(?:\.\d+)?))?$")
_ABC_TOKEN = re.compile(r"""
    (?P<skip>"[^"]*"|![^!]*!|\+[^+]*\+|[~.HLMOPSTuv]) |
    (?P<triplet>\((?P<tn>[2-9])) |
    (?P<field>\[(?P<fname>[A-Za-z]):(?P<fval>[^\]]*)\]) |
    (?P<chord>\[(?P<cnotes>[^\]|:]*)\](?P<clen>\d*/*\d*)) |
    (?P<note>(?P<acc>\^{1,2}|_{1,2}|=)?(?P<letter>[A-Ga-g])(?P<oct>[,']*)(?P<len>\d*/*\d*)) |
    (?P<rest>[zx](?P<rlen>\d*/*\d*)) |
    (?P<tie>-) | (?P<broken>[<>]+) | (?P<bar>(?:[|:\]]|\[(?=[|\d]))+\d*) | (?P<space>\s+|[\\`$])
""", re.VERBOSE)


def _length(text: str) -> Fraction:
    """ABC length multiplier: '' -> 1, '2' -> 2, '/2' -> 1/2, '/' -> 1/2, '3/2' -> 3/2, '//' -> 1/4."""
    if not text:
        return Fraction(1)
    num, _, den = text.partition("/")
    slashes = text.count("/")
    if slashes > 1:
        return Fraction(int(num or 1), 2 ** slashes)
    return Fraction(int(num or 1), int(den or 2) if slashes else 1)


def _finish(notes: list[tuple[Fraction, Fraction, int | None]], bpm: float, meter: str, warnings: list[SongWarning]) -> Melody:
    """Notes (start, end in whole notes, pitch or None for rest) as a Melody padded to whole bars."""
    steps = [(round(s * STEPS_PER_WHOLE), round(e * STEPS_PER_WHOLE), p) for s, e, p in notes]
    end = max((e for _, e, _ in steps), default=0)
    if not any(p is not None for *_, p in steps):
        raise ValueError("the typed melody has no notes; type notes like C4 D4 E4 or an ABC tune with a K: line")
    n_steps = -(-end // STEPS_PER_BAR) * STEPS_PER_BAR
    if n_steps > MAX_BARS * STEPS_PER_BAR:
        raise ValueError(f"the typed melody is {n_steps // STEPS_PER_BAR} bars long; the limit is {MAX_BARS}")
    if any(e - s < 1 for s, e, p in steps if p is not None):
        warnings.append(GridWarning("notes shorter than a sixteenth were lengthened to one sixteenth"))
    tokens = notes_to_tokens([(s, e, p) for s, e, p in steps if p is not None], n_steps=n_steps)
    bpm = min(max(float(bpm), BPM_RANGE[0]), BPM_RANGE[1])
    return Melody(tokens=tokens, bpm=bpm, meter=meter, warnings=warnings)


# ----------------------------------------------------------------------------- note text <-> tokens


def _pitch_of(letter: str, accidental: str, octave: str) -> int:
    pitch = 12 * (int(octave) + 1) + _SEMITONE[letter.upper()] + {"#": 1, "b": -1, "": 0}[accidental]
    if not 0 <= pitch <= 127:
        raise ValueError(f"{letter}{accidental}{octave} is outside the MIDI range (C-1 to G9)")
    return pitch


def parse_notes(text: str, bpm: float = DEFAULT_BPM) -> Melody:
    """A note text ("C4 D4 E4/2 r*2 | G4") as a Melody: quarter notes, ``*n`` / ``/n`` longer / shorter."""
    notes, time = [], Fraction(0)
    for word in text.replace("|", " ").split():
        note, rest = _NOTE_TEXT.match(word), _REST_TEXT.match(word)
        if not (note or rest):
            raise ValueError(f"cannot read {word!r}: write notes as C4, F#4, Bb3, E4/2 or G4*2 and rests as r")
        op, amount = note.group(4, 5) if note else rest.group(1, 2)
        length = Fraction(1, 4) * (Fraction(amount) if op == "*" else 1 / Fraction(amount) if op else 1)
        notes.append((time, time + length, _pitch_of(*note.group(1, 2, 3)) if note else None))
        time += length
    return _finish(notes, bpm, "4/4", [])


def tokens_to_text(tokens: np.ndarray) -> str:
    """Tokens (T,) as note text, one bar per '|'; :func:`parse_notes` reads it back to the same tokens."""
    words, time = [], 0

    def length(steps: int) -> str:
        q = Fraction(steps, 4)
        return "" if q == 1 else f"*{q.numerator}" if q.denominator == 1 else f"/{q.denominator}" \
            if q.numerator == 1 else f"*{float(q):g}"

    for start, end, pitch in tokens_to_notes(tokens) + [(len(tokens), len(tokens), None)]:
        if start > time:
            words.append(f"r{length(start - time)}")
        if pitch is not None:
            words.append(f"{_NAMES[pitch % 12]}{pitch // 12 - 1}{length(end - start)}")
        time = end
    return " ".join(words)


# ----------------------------------------------------------------------------- ABC


def key_accidentals(key: str) -> dict[str, int]:
    """Letter -> semitones (+1 sharp, -1 flat) of an ABC key like 'G', 'Dm', 'Ador', 'Bb mix'."""
    if (key or "").strip().lower() in ("", "none"):
        return {}
    match = re.match(r"^\s*([A-G][#b]?)\s*([A-Za-z]*)", key)
    if not match or match.group(1) not in _TONIC_FIFTHS:
        raise ValueError(f"cannot read the key K:{key}")
    mode = match.group(2).lower()[:3]
    if mode not in _MODE_FIFTHS:
        mode = "m" if mode.startswith("m") else ""
    fifths = _TONIC_FIFTHS[match.group(1)] + _MODE_FIFTHS[mode]
    if fifths >= 0:
        return {letter: 1 for letter in _SHARPS[:fifths]}
    return {letter: -1 for letter in _FLATS[:-fifths]}


def _headers(text: str) -> tuple[dict[str, str], str]:
    """The first tune's header fields, and its body with mid-tune K: and L: lines as inline fields."""
    headers, body = {}, []
    for line in text.splitlines():
        line = line.split("%", 1)[0].rstrip()
        field = re.match(r"^([A-Za-z]):\s*(.*)$", line)
        if field and field.group(1) == "X" and (headers or body) and "K" in headers:
            break  # the next tune
        if field and not body:
            headers.setdefault(field.group(1), field.group(2).strip())
        elif field:
            body.append(f"[{field.group(1)}:{field.group(2)}]" if field.group(1) in "KL" else "")
        elif line.strip():
            body.append(line)
    return headers, " ".join(body)


def _tempo(q: str | None) -> float:
    match = re.match(r"^\s*(?:(\d+)/(\d+)\s*=\s*)?(\d+)", q or "")
    if not match:
        return DEFAULT_BPM
    beat = Fraction(int(match.group(1) or 1), int(match.group(2) or 4))
    return float(int(match.group(3)) * beat / Fraction(1, 4))  # in quarter notes per minute


def _abc_pitch(m: re.Match, key: dict[str, int], bar_acc: dict[str, int]) -> int:
    """MIDI pitch of an ABC note (C = 60), with its own accidental, else the bar's, else the key's."""
    letter, octave = m.group("letter"), m.group("oct")
    pitch = 60 + _SEMITONE[letter.upper()] + 12 * (letter.islower() + octave.count("'") - octave.count(","))
    name = f"{letter}{octave}"
    if m.group("acc"):
        acc = m.group("acc")
        bar_acc[name] = 0 if acc == "=" else len(acc) * (1 if acc[0] == "^" else -1)
    pitch += bar_acc.get(name, key.get(letter.upper(), 0))
    if not 0 <= pitch <= 127:
        raise ValueError(f"the note {m.group(0)} is outside the MIDI range")
    return pitch


def _event(m: re.Match, unit: Fraction, key: dict[str, int], bar_acc: dict[str, int]) -> tuple[Fraction, int | None]:
    """(length in whole notes, pitch or None) of a note, a chord (its top note) or a rest."""
    if m.group("rest") is not None:
        return unit * _length(m.group("rlen")), None
    if m.group("note") is not None:
        return unit * _length(m.group("len")), _abc_pitch(m, key, bar_acc)
    inner = [x for x in _ABC_TOKEN.finditer(m.group("cnotes")) if x.group("note")]
    if not inner:
        raise ValueError(f"the chord {m.group(0)!r} has no notes")
    pitches = [_abc_pitch(x, key, bar_acc) for x in inner]
    length = _length(m.group("clen")) if m.group("clen") else _length(inner[0].group("len"))
    return unit * length, max(pitches)


def _bar_signs(bar: str) -> tuple[bool, bool, bool, int | None]:
    """What a bar token says: (ends a repeat, starts one, is a double or end bar, ending number or None).
    ':|' ends, '|:' starts, '::' and ':|:' do both; '[2', '|2' and ':|2' open ending 2; '||', '|]', '[|' close
    a part."""
    digits = re.search(r"\d+$", bar)
    marks = bar[:digits.start()] if digits else bar
    closes = re.search(r"\|\||\|\]|\[\|", marks) is not None
    return marks.startswith(":"), marks.endswith(":"), closes, int(digits.group()) if digits else None


def unfold_repeats(tokens: list[re.Match]) -> list[re.Match]:
    """The ABC tokens of a tune body in the order they are played: each repeated part twice, each ending in its
    pass (the part again up to its first ending, then the next ending).

    Args:
        tokens: matches of the ABC token pattern over a tune body, in text order.

    Returns:
        The same matches, those of repeated parts appearing again (a part's closing ':|' sign stays once).
    """
    out: list[re.Match] = []
    part, first_ending = 0, None  # where the part being played starts; where its first ending starts
    for i, m in enumerate(tokens):
        out.append(m)
        if m.lastgroup != "bar":
            continue
        ends, starts, closes, number = _bar_signs(m.group())
        if ends:  # the part again, up to its first ending when it has endings
            out.extend(tokens[part:first_ending if first_ending is not None else i])
            if first_ending is None:
                part = i + 1
        if number is not None and (first_ending is None or number == 1):
            first_ending = i  # the replayed part stops before this sign
        if starts or (closes and first_ending is not None and number is None):
            part, first_ending = i + 1, None
    return out


def parse_abc(text: str) -> Melody:
    """The first tune of an ABC text as a Melody (see the module doc for what is read)."""
    headers, body = _headers(text)
    _unreadable(body)
    meter = headers.get("M", "4/4").replace("C|", "2/2").replace("C", "4/4")
    unit = Fraction(headers["L"].strip()) if headers.get("L") else Fraction(1, 8)
    key, bar_acc = key_accidentals(headers.get("K", "C")), {}
    warnings = [] if meter in ("4/4", "2/4", "2/2") else [MeterWarning(f"the tune is in {meter}; it is still cut every 2 bars of 4/4")]
    notes, time, tuplet, broken = [], Fraction(0), [], Fraction(1)
    for m in unfold_repeats(list(_ABC_TOKEN.finditer(body))):
        kind = m.lastgroup
        if m.group("note") is not None or m.group("chord") is not None or m.group("rest") is not None:
            length, pitch = _event(m, unit, key, bar_acc)
            length *= broken * (tuplet.pop() if tuplet else 1)
            broken = Fraction(1)
            if notes and notes[-1][3] and pitch is not None and pitch == notes[-1][2]:  # tied to the previous note
                notes[-1] = (notes[-1][0], time + length, pitch, False)
            else:
                notes.append((time, time + length, pitch, False))
            time += length
        elif kind == "tie" and notes:
            notes[-1] = (*notes[-1][:3], True)
        elif kind == "broken" and notes:
            short = Fraction(1, 2 ** len(m.group("broken")))
            first, broken = (2 - short, short) if m.group("broken")[0] == ">" else (short, 2 - short)
            s, e, p, tie = notes[-1]
            notes[-1] = (s, s + (e - s) * first, p, tie)
            time = s + (e - s) * first
        elif kind == "triplet":
            n = int(m.group("tn"))
            tuplet = [Fraction(3 if n in (2, 4, 8) else 2, n)] * n
        elif kind == "bar":
            bar_acc.clear()
        elif kind == "field" and m.group("fname") == "K":
            key = key_accidentals(m.group("fval"))
        elif kind == "field" and m.group("fname") == "L":
            unit = Fraction(m.group("fval").strip())
    return _finish([(s, e, p) for s, e, p, _ in notes], _tempo(headers.get("Q")), meter, warnings)


def _unreadable(body: str) -> None:
    """Raise ValueError naming the first character the ABC reader skips over."""
    pos = 0
    for m in _ABC_TOKEN.finditer(body):
        if m.start() != pos:
            raise ValueError(f"cannot read {body[pos:m.start()][:20]!r} in the ABC tune")
        pos = m.end()
    if pos != len(body):
        raise ValueError(f"cannot read {body[pos:][:20]!r} in the ABC tune")


def is_abc(text: str) -> bool:
    """Whether ``text`` is ABC notation (it has a K: header line) rather than note text."""
    return re.search(r"(?m)^\s*K:", text or "") is not None


def parse_melody(text: str, bpm: float | None = None) -> Melody:
    """A typed melody (ABC with a K: line, else note text) as a Melody; ValueError says what to fix."""
    text = (text or "").strip()
    if not text:
        raise ValueError("type a melody: notes like C4 D4 E4/2 E4/2 F4*2, or an ABC tune with a K: line")
    if len(text) > MAX_TEXT_CHARS:
        raise ValueError(f"the typed melody is {len(text)} characters long; the limit is {MAX_TEXT_CHARS}")
    melody = parse_abc(text) if is_abc(text) else parse_notes(text)
    if bpm:
        melody.bpm = float(bpm)
    return melody
