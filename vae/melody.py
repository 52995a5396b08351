"""Melodies as token sequences: MIDI <-> tokens <-> 2-bar clips, and tokens <-> song codes.

Token ids: 0-127 onset of that MIDI pitch, 128 hold (continue the sounding note), 129 rest.
Time runs in sixteenth-note steps: 4 per quarter note, 16 per bar of 4/4, 32 per clip.
Every conversion here has its inverse beside it (``midi_to_tokens`` / ``tokens_to_midi``,
``split_clips`` / ``join_clips``).
"""

from __future__ import annotations

import base64
import binascii
import warnings
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pretty_midi

from vae.midifile import Track, describe_instruments, meter_spans, open_midi

N_PITCHES = 128
HOLD = 128
REST = 129
N_STATES = 130
STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16  # one bar of 4/4
CLIP_STEPS = 32  # 2 bars x 16 steps
DEFAULT_BPM = 120.0
BPM_RANGE = (10.0, 400.0)  # tempi played; a file's tempo outside is moved to the nearest end, with a warning
MAX_BARS = 512  # longest song accepted (256 clips); longer input is refused, not truncated
MELODY_MIN_SHARE = 0.25  # a track with fewer notes than this share of the busiest one is not the melody
MAX_CODE_CHARS = 16_000  # longest song code accepted (share links): a long song that compresses badly

# Bars of these many steps tile a 32-step clip exactly (2/4, 4/4, 2/2, 4/2 ...).
_NATIVE_BAR_STEPS = (8, 16, 32)


class SongWarning(UserWarning):
    """Something a reader noticed about a song and changed or could not honour; the song is still read.
    ``str(warning)`` is the sentence for the user. Readers decide by its type, never by its text."""


class MeterWarning(SongWarning):
    """The song's meter (or some of its bars') does not tile 2-bar 4/4 clips; it is still cut every 32 steps."""


class TempoWarning(SongWarning):
    """The song's tempo lies outside ``BPM_RANGE``; it is played at the nearest end of the range."""


class GridWarning(SongWarning):
    """Notes shorter than the sixteenth-note grid were lengthened to one step (typed melodies)."""


@dataclass
class Melody:
    """A melody read from MIDI, with what the reader noticed on the way.

    Attributes:
        tokens: int64 array (T,) of token ids, T a multiple of 16 (whole bars of 4/4).
        bpm: tempo of the source at its first beat, in quarter notes per minute.
        meter: time signature of most of the song, e.g. "4/4".
        instrument: index into ``instruments`` of the track that was read.
        instruments: every track of the file (:class:`vae.midifile.Track`: name, program, notes, drum).
        warnings: what the reader noticed, each a :class:`SongWarning` whose ``str`` is a sentence for the
            user (a non-duple meter, a tempo moved into ``BPM_RANGE``).
    """

    tokens: np.ndarray
    bpm: float = DEFAULT_BPM
    meter: str = "4/4"
    instrument: int = 0
    instruments: list[Track] = field(default_factory=list)
    warnings: list[SongWarning] = field(default_factory=list)

    @property
    def duple(self) -> bool:
        """Whether every bar is in a duple meter (no :class:`MeterWarning`): its bars line up with the clips."""
        return not any(isinstance(w, MeterWarning) for w in self.warnings)

    @property
    def messages(self) -> list[str]:
        """The warnings as sentences for the user."""
        return [str(w) for w in self.warnings]


# ----------------------------------------------------------------------------- validation


def check_tokens(tokens: np.ndarray, *, name: str = "tokens") -> np.ndarray:
    """Return ``tokens`` as an int64 array, or raise ``ValueError`` if any id is not a state."""
    arr = np.asarray(tokens)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integer token ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= N_STATES):
        raise ValueError(f"{name} must lie in 0..{N_STATES - 1} (0-127 pitch, 128 hold, 129 rest)")
    return arr


def check_clips(clips: np.ndarray) -> np.ndarray:
    """Return ``clips`` as an int64 array (N, 32), or raise ``ValueError`` with what is wrong."""
    arr = check_tokens(clips, name="clips")
    arr = arr[None] if arr.ndim == 1 else arr
    if arr.ndim != 2 or arr.shape[1] != CLIP_STEPS:
        raise ValueError(f"expected clips of shape (N, {CLIP_STEPS}), got {tuple(arr.shape)}")
    return arr


def as_song(tokens, name: str = "tokens") -> np.ndarray:
    """``tokens`` as an int64 song (T,); clips (N, 32) are joined."""
    arr = check_tokens(np.asarray(tokens), name=name)
    if arr.ndim == 2 and arr.shape[1] == CLIP_STEPS:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a song of shape (T,) or clips (N, {CLIP_STEPS}), got {tuple(arr.shape)}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a song needs at least one step")
    return arr


# ----------------------------------------------------------------------------- notes <-> tokens


def notes_to_tokens(notes: Iterable[tuple[int, int, int]], n_steps: int | None = None) -> np.ndarray:
    """Reduce notes on the step grid to one monophonic token line.

    At each onset the highest pitch wins (chords become their top note); a note sounds until it
    ends or the next onset, whichever comes first.

    Args:
        notes: (start_step, end_step, pitch) triples; pitch 0-127, end > start after quantizing
            (a note that quantizes to zero length still gets one step).
        n_steps: length of the result; default: up to the end of the last note.

    Returns:
        int64 array (n_steps,) of token ids.
    """
    top: dict[int, tuple[int, int]] = {}
    for start, end, pitch in notes:
        start, end, pitch = int(start), int(end), int(pitch)
        if not 0 <= pitch < N_PITCHES:
            raise ValueError(f"pitch {pitch} is outside MIDI range 0-127")
        if start < 0:
            continue
        end = max(end, start + 1)
        if start not in top or pitch > top[start][0] or (pitch == top[start][0] and end > top[start][1]):
            top[start] = (pitch, end)
    last = max((end for _, end in top.values()), default=0)
    n_steps = last if n_steps is None else n_steps
    tokens = np.full(n_steps, REST, dtype=np.int64)
    onsets = sorted(top)
    for i, start in enumerate(onsets):
        if start >= n_steps:
            break
        pitch, end = top[start]
        stop = min(end, onsets[i + 1] if i + 1 < len(onsets) else end, n_steps)
        tokens[start] = pitch
        tokens[start + 1 : stop] = HOLD
    return tokens


def tokens_to_notes(tokens: np.ndarray) -> list[tuple[int, int, int]]:
    """Inverse of :func:`notes_to_tokens`: (start_step, end_step, pitch) of every note.

    A hold that follows a rest (or starts the sequence) continues nothing and is read as rest.
    """
    tokens = check_tokens(tokens)
    notes: list[tuple[int, int, int]] = []
    current: list[int] | None = None
    for step, tok in enumerate(tokens.tolist()):
        if tok < N_PITCHES:
            if current:
                notes.append((current[0], step, current[1]))
            current = [step, tok]
        elif tok == REST and current:
            notes.append((current[0], step, current[1]))
            current = None
    if current:
        notes.append((current[0], len(tokens), current[1]))
    return notes


def normalize_tokens(tokens: np.ndarray) -> np.ndarray:
    """Replace holds that continue no note (after a rest or at the start) with rests."""
    return notes_to_tokens(tokens_to_notes(tokens), n_steps=len(tokens))


# ----------------------------------------------------------------------------- MIDI -> tokens


def _melody_track(tracks: list[Track], instrument: int | None) -> int:
    """The track to read: ``instrument`` checked, or by default the highest voice (a chorale's soprano) of the
    pitched tracks with at least ``MELODY_MIN_SHARE`` of the busiest one's notes."""
    if not any(t.notes for t in tracks):
        raise ValueError("this MIDI file has no notes; choose a file with a melody in it")
    melodic = [t for t in tracks if t.melodic]
    if not melodic:
        raise ValueError("this MIDI file has only drum tracks; a melody needs a pitched instrument")
    if instrument is None:
        busy = [t for t in melodic if t.notes >= MELODY_MIN_SHARE * max(m.notes for m in melodic)]
        return max(busy, key=lambda t: (t.pitch, t.notes)).index
    if not 0 <= instrument < len(tracks):
        raise ValueError(f"track {instrument} does not exist; this file has tracks 0-{len(tracks) - 1}")
    if not tracks[instrument].melodic:
        raise ValueError(f"track {instrument} ({tracks[instrument].name}) has no pitched notes; pick another")
    return instrument


def load_melody(source, instrument: int | None = None) -> Melody:
    """Read the melody of a MIDI file onto the 16th-note grid.

    Args:
        source: a path, the file's bytes, or a ``pretty_midi.PrettyMIDI``.
        instrument: index of the track to read; default: the highest voice (median pitch) of the
            pitched tracks with at least ``MELODY_MIN_SHARE`` of the busiest one's notes.

    Returns:
        A :class:`Melody` whose tokens start on a bar line: a pickup is padded with rests so
        that the first full bar starts on a multiple of 16 steps.

    Raises:
        ValueError: the file is not readable MIDI, has no melodic notes, the track index is
            wrong, or the song is longer than ``MAX_BARS`` bars (a pickup's padding included).
    """
    pm = open_midi(source)
    tracks = describe_instruments(pm)
    instrument = _melody_track(tracks, instrument)

    # Quarter-note ticks are the file's own beat grid; tempo changes only move them in seconds.
    ticks_per_step = pm.resolution / STEPS_PER_QUARTER
    notes = [(round(pm.time_to_tick(n.start) / ticks_per_step), round(pm.time_to_tick(n.end) / ticks_per_step),
              n.pitch) for n in pm.instruments[instrument].notes]
    first_onset = min(s for s, _, _ in notes)
    end_step = max(max(e, s + 1) for s, e, _ in notes)  # a note shorter than a step still takes one

    spans = meter_spans(pm, ticks_per_step, end_step)
    steps_in = {}  # meter -> steps written in it (a meter that changes every bar has no longest span)
    for span in spans:
        steps_in[span.name] = steps_in.get(span.name, 0) + span.end - span.start
    main = next(s for s in spans if s.name == max(steps_in, key=steps_in.get))
    # First downbeat of a full bar in the main meter; bar lines run every bar_steps from it.
    downbeat, bar_steps = main.start, main.bar_steps
    start = downbeat - bar_steps * int(np.ceil((downbeat - first_onset) / bar_steps))
    n_steps = int(np.ceil((end_step - start) / STEPS_PER_BAR)) * STEPS_PER_BAR
    if n_steps > MAX_BARS * STEPS_PER_BAR:  # counted with the pickup's padding, before any array is made
        raise ValueError(f"this melody is {n_steps // STEPS_PER_BAR} bars long; the limit is {MAX_BARS} bars. "
                         "Cut it shorter and try again")
    notes = [(s - start, e - start, p) for s, e, p in notes]
    tokens = notes_to_tokens(notes, n_steps=n_steps)

    messages = []
    if bar_steps not in _NATIVE_BAR_STEPS:
        messages.append(MeterWarning(f"This song is in {main.name}, not a duple meter: it is still cut into 2-bar 4/4 "
                                     "clips of 32 sixteenths, so clips will not line up with its bars."))
    elif odd := sorted({s.name for s in spans if s.bar_steps not in _NATIVE_BAR_STEPS and s.end > s.start}):
        messages.append(MeterWarning(f"Some bars of this song are in {', '.join(odd)}, not a duple meter: it is still "
                                     "cut into 2-bar 4/4 clips of 32 sixteenths, so those bars will not line up with "
                                     "the clips."))
    tempi = pm.get_tempo_changes()[1]
    bpm = round(float(tempi[0]), 2) if len(tempi) else DEFAULT_BPM
    if not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
        played = min(max(bpm, BPM_RANGE[0]), BPM_RANGE[1])
        messages.append(TempoWarning(f"This song's tempo is {bpm:g} bpm; it is played at {played:g} bpm "
                                     f"(tempi from {BPM_RANGE[0]:g} to {BPM_RANGE[1]:g} bpm are played as written)."))
        bpm = played
    return Melody(tokens=tokens, bpm=bpm, meter=main.name, instrument=instrument, instruments=tracks, warnings=messages)


def midi_to_tokens(source, instrument: int | None = None) -> np.ndarray:
    """Tokens (T,) of a MIDI file's melody; see :func:`load_melody`.

    What the reader noticed is reported as its :class:`SongWarning`: a :class:`MeterWarning` for a non-duple
    meter, a :class:`TempoWarning` for a tempo outside ``BPM_RANGE``.
    """
    melody = load_melody(source, instrument)
    for warning in melody.warnings:
        warnings.warn(warning, stacklevel=2)
    return melody.tokens


# ----------------------------------------------------------------------------- tokens -> MIDI


def tokens_to_midi(tokens: np.ndarray, bpm: float = DEFAULT_BPM, program: int = 0,
                   velocity: int = 100) -> pretty_midi.PrettyMIDI:
    """A one-track PrettyMIDI of ``tokens`` (T,) at ``bpm`` quarter notes per minute, in 4/4."""
    if not bpm > 0:
        raise ValueError(f"tempo must be positive, got {bpm} bpm")
    step = 60.0 / bpm / STEPS_PER_QUARTER
    pm = pretty_midi.PrettyMIDI(initial_tempo=float(bpm))
    pm.time_signature_changes.append(pretty_midi.TimeSignature(4, 4, 0.0))
    inst = pretty_midi.Instrument(program=program, name="melody")
    for start, end, pitch in tokens_to_notes(np.ravel(tokens)):
        inst.notes.append(pretty_midi.Note(velocity=velocity, pitch=pitch, start=start * step, end=end * step))
    pm.instruments.append(inst)
    return pm


# ----------------------------------------------------------------------------- song <-> clips


def clip_windows(tokens: np.ndarray, hop: int = CLIP_STEPS) -> np.ndarray:
    """Every 32-step window of a song (T,) that starts on a multiple of ``hop`` steps: (N, 32).

    A note tied into a window is struck again at its first step, so no window starts with a
    hold. ``tokens`` must be normalized (no hold after a rest; see :func:`normalize_tokens`).
    """
    if hop < 1:
        raise ValueError(f"hop must be a positive number of steps, got {hop}")
    tokens = check_tokens(tokens)
    starts = range(0, len(tokens) - CLIP_STEPS + 1, hop)
    clips = np.array([tokens[s : s + CLIP_STEPS] for s in starts], dtype=np.int64).reshape(-1, CLIP_STEPS)
    for clip, s in zip(clips, starts):
        if clip[0] == HOLD:
            before = tokens[:s]
            clip[0] = before[before < N_PITCHES][-1]
    return clips


def split_clips(tokens: np.ndarray) -> np.ndarray:
    """Cut a song (T,) into consecutive 2-bar clips (N, 32).

    The last clip is padded with rests. A note tied over a cut is struck again at the start of
    the next clip, so no clip starts with a hold.
    """
    tokens = check_tokens(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"expected a song of shape (T,), got {tuple(tokens.shape)}")
    if tokens.size == 0:
        raise ValueError("the song is empty")
    n = -(-len(tokens) // CLIP_STEPS)
    padded = np.full(n * CLIP_STEPS, REST, dtype=np.int64)
    padded[: len(tokens)] = normalize_tokens(tokens)
    return clip_windows(padded)


def join_clips(clips: np.ndarray) -> np.ndarray:
    """Concatenate clips (N, 32) into one song (32*N,); the inverse of :func:`split_clips`."""
    return check_clips(clips).reshape(-1)


def clip_is_valid(clips: np.ndarray) -> np.ndarray:
    """bool (N,): clips with at least 2 onsets and not all rest (what training keeps)."""
    clips = check_clips(clips)
    return (clips < N_PITCHES).sum(axis=1) >= 2


# ----------------------------------------------------------------------------- tokens <-> song code


def tokens_to_link_code(tokens: np.ndarray) -> str:
    """Token ids (T,) as a compact URL-safe string; the inverse of :func:`link_code_to_tokens`.

    The ids as bytes (all < 130), zlib-compressed, URL-safe base64 without padding: a 24-bar
    melody takes ~100 characters.
    """
    tokens = check_tokens(np.asarray(tokens))
    packed = zlib.compress(tokens.astype(np.uint8).tobytes(), 9)  # ids < 130 fit in a byte
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def link_code_to_tokens(code: str) -> np.ndarray:
    """Token ids int64 (T,) from :func:`tokens_to_link_code`'s string.

    Raises:
        ValueError: the code is damaged (cut short, edited), too long, or not a song.
    """
    code = (code or "").strip()
    if len(code) > MAX_CODE_CHARS:
        raise ValueError(f"the shared song is {len(code)} characters long; the limit is {MAX_CODE_CHARS}")
    limit = MAX_BARS * STEPS_PER_BAR
    try:
        packed = base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
        inflater = zlib.decompressobj()
        data = inflater.decompress(packed, limit + 1)  # never inflate more than the longest song
    except (binascii.Error, ValueError, zlib.error):
        raise ValueError("the shared song in this link is damaged (cut short or edited); ask for it again") from None
    if not inflater.eof:
        raise ValueError(f"the shared song is longer than {MAX_BARS} bars or its link was cut short")
    tokens = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    if tokens.size == 0 or tokens.max() >= N_STATES:
        raise ValueError("the shared song in this link is damaged (no notes, or ids that are not tokens)")
    return tokens
