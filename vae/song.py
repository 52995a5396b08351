"""Song: one user's song read from an example, an upload or a song code, ready for knob moves.

A :class:`Song` lives in the app's per-user ``gr.State``: the tokens, tempo and latents of its clips
are computed once when it is loaded (fitted to the song, or μ with ``faithful=False``: see
:func:`vae.inference.encode_z`), and the original's piano roll and audio are written once to
files, so that a knob move only decodes. Errors a user can fix are ``ValueError`` with a message to
show as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from pretty_midi import note_number_to_name

from vae import render
from vae.inference import Progress, readings
from vae.melody import (
    BPM_RANGE,
    DEFAULT_BPM,
    MAX_BARS,
    MELODY_MIN_SHARE,
    STEPS_PER_BAR,
    Melody,
    join_clips,
    link_code_to_tokens,
    load_melody,
    split_clips,
    tokens_to_link_code,
)
from vae.notation import parse_melody
from vae.resources import asset
from vae.score import estimate_key
from vae.timing import timed

EXAMPLES_DIR = asset("examples")  # the checkout's assets/examples, or the installed wheel's copy
EXAMPLES_INDEX = "examples.json"  # beside the example files: each one's source tune and title
SHARED_SONG = "shared song"  # the name of a song read from a link code that carries no title
DEFAULT_EXAMPLE = "twinkle"  # Mozart's theme, "Ah vous dirai-je, Maman" (DESIGN "Example song")
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a MIDI melody is a few kB
MAX_SONG_SECONDS = 30 * 60  # longest audio rendered (MAX_BARS at >= 69 bpm); its peak memory grows with length
LIMITS = (f"Limits: MIDI files up to {MAX_UPLOAD_BYTES // 2**20} MB, {MAX_BARS} bars and {MAX_SONG_SECONDS // 60} "
          f"minutes, played at {BPM_RANGE[0]:g} to {BPM_RANGE[1]:g} bpm.")


@dataclass
class Song:
    """One user's song, ready for knob moves. Holds no big arrays but its latents."""

    key: str  # identifies the source (example, upload bytes, code or text, the track aside), see SongSource.key
    name: str  # for file names (and captions, unless it has a title)
    tokens: np.ndarray  # int64 (T,)
    bpm: float  # tempo of the source, quarter notes per minute
    latents: torch.Tensor  # each clip's z, (N, D): fitted to the clip when faithful, else μ
    example: str | None = None  # example name, when the song is one
    meter: str = "4/4"
    warnings: list[str] = field(default_factory=list)
    tracks: list[tuple[str, int]] = field(default_factory=list)  # (label, index) of each melodic track
    track: int = 0
    accuracy: float = 0.0  # share of steps played back with the knobs at 0 (from the latents)
    model_accuracy: float = 0.0  # the same from μ: the model's own reading of the song
    faithful: bool = True  # whether the latents were fitted to the song (else μ)
    unmoved: np.ndarray | None = None  # int64 (T,): the song decoded with the knobs at 0 (what the knobs move from)
    model_name: str = ""  # the model the latents are of
    upload: str | None = None  # the uploaded file the song was read from, if it was
    choice: str = ""  # which track is the melody and why, when the file has several
    title: str = ""  # what the page calls it, e.g. an example's tune title (default: the name)

    @property
    def label(self) -> str:
        """What captions and the song box call it: the title, else the name."""
        return self.title or self.name

    def matches(self, key: str, track: int | None, reading: Reading | None = None) -> bool:
        """Whether this song is what ``key`` (see :meth:`SongSource.key`) and ``track`` ask for, encoded by the
        model that ``reading`` names the same way (fitted or μ)."""
        reading = reading or Reading()
        return (self.key == key and (track is None or int(track) == self.track)
                and self.model_name == reading.model_name and self.faithful == bool(reading.faithful))

    @property
    def n_bars(self) -> int:
        return -(-len(self.tokens) // STEPS_PER_BAR)

    @property
    def n_clips(self) -> int:
        return len(self.latents)

    def bar_range(self, keep: tuple[int, int] | None = None) -> tuple[int, int]:
        """(first, last) bar, counted from 1: ``keep`` moved into this song (a share link's range), else all."""
        first, last = keep or (1, self.n_bars)
        first, last = min(max(int(first), 1), self.n_bars), min(max(int(last), 1), self.n_bars)
        return min(first, last), last

    def facts(self) -> dict:
        """What the API's /load_song tells about the song (JSON types)."""
        return {"name": self.name, "title": self.label, "bars": self.n_bars, "clips": self.n_clips, "bpm": self.bpm, "meter": self.meter,
                "key": estimate_key(self.tokens).name,  # e.g. "G major": see vae.score.estimate_key
                "track": self.track, "tracks": [{"index": i, "label": label} for label, i in self.tracks],
                "reconstruction_accuracy": self.accuracy, "model_reading_accuracy": self.model_accuracy,
                "faithful": self.faithful, "warnings": self.warnings,
                "song_code": tokens_to_link_code(self.tokens)}


def example_songs(folder: Path = EXAMPLES_DIR) -> dict[str, Path]:
    """Example name (file stem) -> path of every ``*.mid`` in ``folder``, the default example first."""
    paths = sorted(Path(folder).glob("*.mid"), key=lambda p: (p.stem != DEFAULT_EXAMPLE, p.stem))
    return {p.stem: p for p in paths}


def example_choices(examples: dict[str, Path]) -> list[tuple[str, str]]:
    """(title, name) of each example, for a menu that shows titles and gives names: the title from the
    ``examples.json`` beside the files (e.g. 'test_4' -> 'The Boatie Rows (Scottish strathspey)'), else the name."""
    return [(example_title(Path(path)), name) for name, path in examples.items()]


def example_title(path: Path) -> str:
    """An example's tune title, from the ``examples.json`` beside its file; else its name (the file stem)."""
    index = path.parent / EXAMPLES_INDEX
    entries = json.loads(index.read_text()) if index.is_file() else []
    return next((e["title"] for e in entries if Path(e["file"]).stem == path.stem and e.get("title")), path.stem)


def folder_songs(folder: Path, n: int, min_bars: int = 8, seed: int = 0) -> list[np.ndarray]:
    """``n`` songs (tokens (T,)) drawn with ``seed`` from the ``*.mid`` files of a folder that read as duple-meter
    songs of at least ``min_bars`` bars (e.g. an evaluation set such as Nottingham), in file-name order."""
    songs = []
    for path in sorted(Path(folder).glob("*.mid")):
        try:
            melody = load_melody(path)
        except ValueError:
            continue
        if melody.duple and len(melody.tokens) >= min_bars * STEPS_PER_BAR:
            songs.append(melody.tokens)
    pick = np.random.default_rng(seed).choice(len(songs), size=min(n, len(songs)), replace=False)
    return [songs[i] for i in sorted(pick)]


def upload_bytes(path: str | Path) -> bytes:
    """The bytes of an uploaded file, refused with a clear message when empty or too big."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise ValueError(f"{path.name} is {size / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB "
                         "(a MIDI melody is a few kB)")
    if size == 0:
        raise ValueError(f"the file {path.name} is empty (0 bytes); choose a Standard MIDI File (.mid)")
    return path.read_bytes()


@dataclass(frozen=True)
class SongSource:
    """Where a song comes from, as the page, a share link, the API and the CLI name it.

    The first of ``upload``, ``text`` (not blank) and ``code`` that is given is read, else the example (default:
    :data:`DEFAULT_EXAMPLE`). ``track`` picks a MIDI file's melody track; ``bpm`` is a code's or a typed melody's
    tempo.
    """

    example: str | None = None  # an example's name (a file stem of example_songs)
    upload: str | Path | None = None  # a MIDI file: an upload's path
    code: str | None = None  # a link code (vae.melody.tokens_to_link_code)
    bpm: float | None = None  # tempo of a code or a typed melody, quarter notes per minute (default 120)
    track: int | None = None  # index of a MIDI file's melody track; None: see vae.melody.load_melody
    text: str | None = None  # a typed melody: note text or ABC (vae.notation)
    title: str = ""  # what to call a song read from a code or typed text (a tune's T: line, a link's title)

    @property
    def typed(self) -> bool:
        """Whether the song is a typed melody (``text`` not blank, no upload)."""
        return not self.upload and bool((self.text or "").strip())

    @property
    def example_name(self) -> str | None:
        """The example this source reads, or None when an upload, a typed melody or a code comes first."""
        return None if self.upload or self.typed or self.code else self.example or DEFAULT_EXAMPLE

    def key(self) -> str:
        """The cache key of the source (the track aside): the upload's bytes, the code or text and tempo, or the
        example."""
        if self.upload:
            return f"upload:{render.digest(upload_bytes(self.upload))}"
        if self.typed:
            return f"text:{render.digest(self.text.encode())}:{self.bpm}"
        if self.code:
            return f"code:{render.digest(self.code.encode())}:{self.bpm}"
        return f"example:{self.example_name}"

    @timed("read_song")
    def read(self, examples: dict[str, Path] | None = None) -> tuple[Melody, str]:
        """The song: (melody, display name): an upload's file stem, "typed melody", "shared song" or the example's
        name (one of ``examples``, default :func:`example_songs`).

        Raises:
            ValueError: unknown example, unreadable or unsuitable MIDI or text, bad link code, too long.
        """
        if self.upload:
            return load_melody(upload_bytes(self.upload), self.track), Path(self.upload).stem
        if self.typed:
            return parse_melody(self.text, self.bpm), "typed melody"
        if self.code:
            bpm = float(self.bpm or DEFAULT_BPM)
            if not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
                raise ValueError(f"the shared song's tempo must be {BPM_RANGE[0]:g} to {BPM_RANGE[1]:g} bpm, got {bpm:g}")
            return Melody(tokens=link_code_to_tokens(self.code), bpm=bpm), SHARED_SONG
        examples = example_songs() if examples is None else examples
        name = self.example_name
        if name not in examples:
            raise ValueError(f"there is no example called {name!r}; choose one of {sorted(examples)}")
        return load_melody(examples[name], self.track), name


@dataclass(frozen=True)
class Reading:
    """How a song's latents are found: by which model, fitted to the song or μ, and who follows the fit."""

    model_name: str = ""  # the model's name in the app ("" for the default model)
    faithful: bool = True  # fit the latents to the song (vae.inference.encode_z), else μ
    progress: Progress | None = None  # progress(fraction, message) while the latents are fitted


def prepare_song(model, melody: Melody, name: str, source: SongSource | None = None, title: str = "",
                 reading: Reading | None = None) -> Song:
    """Encode a melody's clips once (``title``: what the page calls it, default ``name``; ``source``: where it was read, None for tokens made here). The latents are
    found as ``reading`` says (default: fitted to the clips, :func:`vae.inference.encode_z`), else μ.

    Raises:
        ValueError: the song plays longer than ``MAX_SONG_SECONDS`` at its tempo.
    """
    reading = reading or Reading()
    seconds = render.song_seconds(len(melody.tokens), melody.bpm)
    if seconds > MAX_SONG_SECONDS:
        raise ValueError(f"this song plays for {seconds / 60:.0f} minutes at {melody.bpm:g} bpm; the limit is "
                         f"{MAX_SONG_SECONDS // 60} minutes. Cut it shorter and try again")
    clips = split_clips(melody.tokens)
    latents, played, own = readings(model, clips, reading.faithful, reading.progress)
    accuracy, model_accuracy = float((played == clips).mean()), float((own == clips).mean())
    tracks = [(f"{t.index + 1}. {t.name} ({t.notes} notes)", t.index) for t in melody.instruments if t.melodic]
    chosen = melody.instruments[melody.instrument] if melody.instruments else None
    choice = (f"Melody: track {chosen.index + 1}, {chosen.name} (median pitch "
              f"{note_number_to_name(round(chosen.pitch))}). Unless you pick another track, the melody is the "
              f"highest voice, as in a chorale's soprano, of the tracks that play at least {MELODY_MIN_SHARE:.0%} as "
              "many notes as the busiest." if chosen and len(tracks) > 1 else "")
    key = source.key() if source else f"tokens:{render.digest(melody.tokens.tobytes())}:{melody.bpm}"
    return Song(key=key, name=name, tokens=melody.tokens, bpm=melody.bpm, latents=latents,
                example=source.example_name if source else None, meter=melody.meter, warnings=melody.messages,
                tracks=tracks, track=melody.instrument, accuracy=accuracy, model_accuracy=model_accuracy,
                faithful=bool(reading.faithful), unmoved=join_clips(played)[: len(melody.tokens)],
                model_name=reading.model_name,
                upload=str(source.upload) if source and source.upload else None, choice=choice, title=title)


def track_number(track) -> int | None:
    """A track index from a page's dropdown or an API call (None or "": the default track)."""
    if track is None or (isinstance(track, str) and not track.strip()):
        return None
    try:
        number = float(track)
    except (TypeError, ValueError):
        number = float("nan")
    if not np.isfinite(number) or number != int(number) or abs(number) > 65535:  # a MIDI file's most tracks
        raise ValueError(f"track must be a whole track number (from 0), got {str(track)[:40]!r}")
    return int(number)


def load(model, source: SongSource, examples: dict[str, Path] | None = None, cached: Song | None = None,
         reading: Reading | None = None) -> Song:
    """The song that ``source`` names: ``cached`` when it is that song, encoded by the same model the same way
    (``reading``, see :func:`prepare_song`), else read and prepared."""
    reading = reading or Reading()
    source = replace(source, track=track_number(source.track))
    named = source.title.strip() if not source.upload and (source.code or source.typed) else ""
    if isinstance(cached, Song) and cached.matches(source.key(), source.track, reading) and (
            not named or cached.title == named):
        return cached
    examples = example_songs() if examples is None else examples
    melody, name = source.read(examples)
    example = source.example_name
    title = example_title(examples[example]) if example else named
    return prepare_song(model, melody, render.safe_stem(title) if named else name, source, title, reading)


def clip_of(tokens: np.ndarray, number: int, name: str = "this song") -> np.ndarray:
    """Clip ``number`` (counted from 1) of a song's tokens (T,): int64 (32,)."""
    clips = split_clips(tokens)
    try:
        whole = not isinstance(number, (bool, str)) and float(number).is_integer()  # False for NaN and inf
    except (TypeError, ValueError, OverflowError):
        whole = False
    if not whole or not 1 <= int(number) <= len(clips):
        try:
            shown = f"{float(number):.6g}" if isinstance(number, (int, float)) else repr(number)[:40]
        except OverflowError:
            shown = "a number too large to write"
        raise ValueError(f"{name} has {len(clips)} two-bar clips; choose a clip from 1 to {len(clips)}, got {shown}")
    return clips[int(number) - 1]


def read_clip(example: str | None, upload: str | Path | None, number: int,
              examples: dict[str, Path] | None = None) -> tuple[np.ndarray, float]:
    """Clip ``number`` (from 1) of the song an example or an upload names, and the song's tempo: (int64 (32,), bpm)."""
    melody, name = SongSource(example=example, upload=upload).read(examples)
    return clip_of(melody.tokens, number, name), melody.bpm
