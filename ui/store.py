"""The page's output store: the files gradio hands out (rolls, audio, MIDI), written once per content under
``OUT_DIR``, a folder bounded to ``CACHE_BYTES`` (``vae.disk_cache``), and a song's audio found again without
synthesising it (the recent ones). The bytes come from the library (``vae.render``, ``vae.pianoroll``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from vae import disk_cache, timing
from vae.melody import STEPS_PER_BAR, as_song
from vae.pianoroll import piano_roll, png_bytes, roll_png
from vae.render import (
    Label,
    ResultFiles,
    SoundFiles,
    digest,
    midi_bytes,
    page_audio_bytes,
    safe_stem,
    synthesize,
    wav_bytes,
)
from vae.song import Song

OUT_DIR = Path(tempfile.gettempdir()) / "melody-knobs"  # rolls, audio and MIDI files handed to the UI
CACHE_BYTES = int(float(os.environ.get("MELODY_KNOBS_CACHE_MB", "256")) * 2**20)  # bound of OUT_DIR on disk
# A file handed out this recently is never dropped: the page may still fetch it (a slow link, a paused tab).
CACHE_GRACE_SECONDS = float(os.environ.get("MELODY_KNOBS_CACHE_GRACE_S", "120"))
WRITTEN_AUDIO = 256  # the files of this many recent songs (audio, original rolls) are found again, not made again
_written: OrderedDict[tuple, Path] = OrderedDict()  # what was written -> its file: see _remembered
_written_lock = threading.Lock()


# The app hands gradio files written here, never arrays: gradio rewrites an array's cache file on every
# answer, so a user downloading it while another user gets the same answer would receive half a file.


def write_output(data: bytes, filename: str) -> Path:
    """Write ``data`` to ``OUT_DIR/<digest>/filename`` (once per content) and return the path; timed as "write"
    (:mod:`vae.timing`). A file written before is marked as used (its folder's time), so the bounded cache keeps
    it longest."""
    start = time.perf_counter()
    try:
        return _write(data, filename)
    finally:
        timing.record("write", time.perf_counter() - start)


def _write(data: bytes, filename: str) -> Path:
    path = OUT_DIR / digest(data) / filename
    if path.is_file():
        try:
            os.utime(path.parent)
            return path
        except OSError:  # dropped meanwhile: write it again
            pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written aside, then renamed: a user asking for the same file meanwhile never sees half of it.
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{filename}.", delete=False) as part:
        part.write(data)
    Path(part.name).replace(path)
    disk_cache.added(OUT_DIR, len(data), CACHE_BYTES, CACHE_GRACE_SECONDS)
    return path


def _remembered(key: tuple, make) -> Path:
    """The file written for ``key`` before, while the bounded folder keeps it (marked as used, as write_output does),
    else ``make()``'s, remembered for the next time (the last WRITTEN_AUDIO keys)."""
    with _written_lock:
        path = _written.get(key)
    if path is not None and path.is_file():
        with contextlib.suppress(OSError):  # dropped meanwhile: written again below
            os.utime(path.parent)
            return path
    path = make()
    with _written_lock:
        _written[key] = path
        while len(_written) > WRITTEN_AUDIO:
            _written.popitem(last=False)
    return path


def audio_file(tokens, bpm: float, stem: str, lossless: bool = False) -> Path:
    """The song synthesised once and written under ``OUT_DIR``: ``<stem>.mp3`` as the page plays it (see
    :func:`page_audio_bytes`), or with ``lossless`` ``<stem>.wav``. A song played again (a knob that returns to
    where it was) is not synthesised again while its file is kept."""
    def make() -> Path:
        audio, _ = synthesize(tokens, bpm)
        data, suffix = (wav_bytes(audio), "wav") if lossless else page_audio_bytes(audio)
        return write_output(data, f"{safe_stem(stem)}.{suffix}")

    return _remembered((str(OUT_DIR), as_song(tokens).tobytes(), float(bpm), safe_stem(stem), bool(lossless)), make)


def image_file(image: np.ndarray, stem: str) -> Path:
    """Write an RGB image (H, W, 3) as ``<stem>.png`` under ``OUT_DIR`` and return its path."""
    return write_output(png_bytes(image), f"{safe_stem(stem)}.png")


def midi_file(tokens, bpm: float, stem: str) -> Path:
    """Write the song as ``<stem>.mid`` under ``OUT_DIR`` and return its path."""
    return write_output(midi_bytes(tokens, bpm), f"{safe_stem(stem)}.mid")


def sound_files(tokens, bpm: float, stem: str, lossless: bool = False) -> SoundFiles:
    """The song's audio and MIDI files: (mp3, mid), or with ``lossless`` (wav, mid)."""
    return SoundFiles(audio_file(tokens, bpm, stem, lossless), midi_file(tokens, bpm, stem))


# A result's audio is synthesised and encoded here while the caller's thread draws its roll and writes its MIDI
# (FluidSynth, LAME and zlib run as C code): a knob move waits for the longer of the two, not their sum.
_BESIDE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="render")


def result_files_as_ready(tokens, original: np.ndarray, bpm: float, label: Label,
                          bars: tuple[int, int] | None = None, lossless: bool = False) -> Iterator[ResultFiles]:
    """A knob result's files as they are ready: first its piano roll (over the original, the bars outside ``bars``
    shaded, captioned ``label.title``) and its MIDI with ``audio=None``, then all three, named ``label.stem``. The
    audio is synthesised once, meanwhile, on another thread: the page's MP3, or with ``lossless`` the WAV. The page
    shows the roll while the audio is encoded."""
    audio = _BESIDE.submit(audio_file, tokens, bpm, label.stem, lossless)
    roll = write_output(roll_png(tokens, original, title=label.title, bars=bars), f"{safe_stem(label.stem)}.png")
    midi = midi_file(tokens, bpm, label.stem)
    yield ResultFiles(roll, None, midi)
    yield ResultFiles(roll, audio.result(), midi)


def result_files(tokens, original: np.ndarray, bpm: float, label: Label,
                 bars: tuple[int, int] | None = None, lossless: bool = False) -> ResultFiles:
    """All the files of :func:`result_files_as_ready` at once: (roll, audio, midi)."""
    *_, files = result_files_as_ready(tokens, original, bpm, label, bars, lossless)
    return files


class OriginalFiles(NamedTuple):
    """What the page shows of a song as it is: its piano roll (PNG) and its audio (MP3, or WAV)."""

    roll: Path
    audio: Path


def original_files(s: Song, lossless: bool = False) -> OriginalFiles:
    """A song's own piano roll (captioned with its label) and audio (the page's MP3, or with ``lossless`` a WAV),
    written under ``OUT_DIR`` with its name in their file names (again where the bounded folder dropped them)."""
    stem, title = f"{safe_stem(s.name)}-original", f"{s.label}: original, {len(s.tokens) // STEPS_PER_BAR} bars"
    roll = _remembered((str(OUT_DIR), as_song(s.tokens).tobytes(), title, stem), lambda: write_output(
        png_bytes(piano_roll(s.tokens, title=title)), f"{stem}.png"))  # a song loaded again is not drawn again
    return OriginalFiles(roll, audio_file(s.tokens, s.bpm, stem, lossless))
