"""What a person hears and downloads of a song, encoded: audio and MIDI bytes, and the output files handed to the UI.

Everything here takes a song as token ids (T,) (see ``vae.melody``). Audio (synthesised by ``vae.synth``, once
per result) goes to the page and the API as MP3 (32 kbit/s, :func:`page_audio_bytes`); a lossless WAV is
written only when it is asked for. Output files are written once per content under ``OUT_DIR``
(:func:`write_output`), a cache bounded to ``CACHE_BYTES`` (see ``vae.disk_cache``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
import threading
import wave
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

try:
    import lameenc
except ImportError:  # no lameenc: the page gets Ogg Vorbis
    lameenc = None
try:
    import soundfile
except (ImportError, OSError):  # no soundfile, or no libsndfile: the page gets the WAV
    soundfile = None

from vae import disk_cache
from vae.melody import DEFAULT_BPM, as_song, tokens_to_midi
from vae.pianoroll import png_bytes, roll_png
from vae.synth import SAMPLE_RATE, fluidsynth_unavailable_reason, song_seconds, synthesize  # noqa: F401 (API)
from vae.timing import timed

# ----------------------------------------------------------------------------- constants

OUT_DIR = Path(tempfile.gettempdir()) / "melody-knobs"  # rolls, audio and MIDI files handed to the UI
# Page and API audio: MP3 through LAME (lameenc) at its fast quality 7, 32 kbit/s mono: 117 kB for Twinkle's
# 29 s instead of a 1.3 MB WAV, encoded in 31 ms (Ogg Vorbis through libsndfile, the page's audio before, took
# 65 ms for 111 kB; both within the spectral test of tests/test_render.py). Ogg stays where lameenc is missing.
PAGE_MP3_KBPS, PAGE_MP3_QUALITY = 32, 7
PAGE_OGG_LEVEL = 0.8  # libsndfile's Vorbis compression level: ~30 kbit/s for a mono piano line
ENCODE_BLOCK = 65536  # samples per write to the Vorbis encoder (~3 s)
CACHE_BYTES = int(float(os.environ.get("MELODY_KNOBS_CACHE_MB", "256")) * 2**20)  # bound of OUT_DIR on disk
# A file handed out this recently is never dropped: the page may still fetch it (a slow link, a paused tab).
CACHE_GRACE_SECONDS = float(os.environ.get("MELODY_KNOBS_CACHE_GRACE_S", "120"))
WRITTEN_AUDIO = 256  # the audio files of this many recent songs are found again without synthesising them
_written: OrderedDict[tuple, Path] = OrderedDict()  # (tokens, bpm, stem, lossless) -> audio file, see audio_file
_written_lock = threading.Lock()


# ----------------------------------------------------------------------------- encoding


def _pcm16(audio: np.ndarray) -> np.ndarray:
    """Mono float audio (n,) in [-1, 1] as 16-bit little-endian samples; values beyond are clipped."""
    audio = np.asarray(audio, dtype=np.float32)  # 24 bits of mantissa: enough for 16-bit samples, 10x faster
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n,), got {tuple(audio.shape)}")
    pcm = np.empty(audio.shape, dtype="<i2")
    np.rint(np.clip(audio, -1.0, 1.0) * 32767, out=pcm, casting="unsafe")
    return pcm


@timed("wav")
def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Encode mono float audio (n,) in [-1, 1] as a 16-bit PCM WAV file; values beyond are clipped."""
    pcm = _pcm16(audio)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


@timed("mp3")
def mp3_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Mono float audio (n,) in [-1, 1] as MP3 through LAME (``lameenc``): constant PAGE_MP3_KBPS, LAME's quality
    PAGE_MP3_QUALITY. The decoder plays LAME's 1,105 samples of encoder delay (50 ms at 22.05 kHz) first."""
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(PAGE_MP3_KBPS)
    encoder.set_in_sample_rate(int(sample_rate))
    encoder.set_channels(1)
    encoder.set_quality(PAGE_MP3_QUALITY)
    return bytes(encoder.encode(_pcm16(audio).tobytes()) + encoder.flush())


@timed("ogg")
def ogg_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Mono float audio (n,) in [-1, 1] as Ogg Vorbis through libsndfile (``soundfile``), level PAGE_OGG_LEVEL."""
    audio, buffer = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), io.BytesIO()
    with soundfile.SoundFile(buffer, "w", int(sample_rate), 1, format="OGG", subtype="VORBIS",
                             compression_level=PAGE_OGG_LEVEL) as out:
        # In blocks: libsndfile's Vorbis encoder crashes the process (SIGSEGV) on one write of a few
        # minutes of audio (seen at 5 min, 22 kHz), whatever the samples.
        for start in range(0, len(audio), ENCODE_BLOCK):
            out.write(audio[start:start + ENCODE_BLOCK])
    return buffer.getvalue()


def page_audio_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[bytes, str]:
    """Mono float audio (n,) encoded for the page and the API: (MP3 bytes, "mp3"); where lameenc is missing,
    (Ogg Vorbis bytes, "ogg"); where soundfile is missing too, (WAV bytes, "wav") (see
    :func:`page_audio_unavailable_reason`)."""
    if lameenc is not None:
        return mp3_bytes(audio, sample_rate), "mp3"
    if soundfile is not None:
        return ogg_bytes(audio, sample_rate), "ogg"
    return wav_bytes(audio, sample_rate), "wav"


def page_audio_unavailable_reason() -> str | None:
    """Why the page gets uncompressed WAV audio (a sentence for the user), or None if it does not."""
    if lameenc is None and soundfile is None:
        return "neither the lameenc package (MP3) nor soundfile (libsndfile, Ogg Vorbis) is installed"
    return None


# ----------------------------------------------------------------------------- MIDI


@timed("midi")
def midi_bytes(tokens, bpm: float = DEFAULT_BPM) -> bytes:
    """A Standard MIDI File of the song (piano, velocity 100, 4/4 at ``bpm``), as bytes."""
    buffer = io.BytesIO()
    tokens_to_midi(as_song(tokens), bpm=bpm).write(buffer)
    return buffer.getvalue()


# ----------------------------------------------------------------------------- output files
# The app hands gradio files written here, never arrays: gradio rewrites an array's cache file on every
# answer, so a user downloading it while another user gets the same answer would receive half a file.


def safe_stem(name: str) -> str:
    """A file-name-safe version of a song name."""
    return re.sub(r"[^\w.+-]+", "_", name).strip("._")[:60] or "song"


def digest(data: bytes) -> str:
    """A short content hash: the folder of an output file, the key of an upload."""
    return hashlib.sha1(data).hexdigest()[:16]


@timed("write")
def write_output(data: bytes, filename: str) -> Path:
    """Write ``data`` to ``OUT_DIR/<digest>/filename`` (once per content) and return the path.

    A file written before is marked as used (its folder's time), so the bounded cache keeps it longest."""
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


def audio_file(tokens, bpm: float, stem: str, lossless: bool = False) -> Path:
    """The song synthesised once and written under ``OUT_DIR``: ``<stem>.mp3`` as the page plays it (see
    :func:`page_audio_bytes`), or with ``lossless`` ``<stem>.wav``. A song played again (a knob that returns to
    where it was) is not synthesised again while its file is kept."""
    key = (str(OUT_DIR), as_song(tokens).tobytes(), float(bpm), safe_stem(stem), bool(lossless))
    with _written_lock:
        path = _written.get(key)
    if path is not None and path.is_file():
        with contextlib.suppress(OSError):  # dropped meanwhile: written again below
            os.utime(path.parent)  # marked as used, as write_output does
            return path
    audio, _ = synthesize(tokens, bpm)
    data, suffix = (wav_bytes(audio), "wav") if lossless else page_audio_bytes(audio)
    path = write_output(data, f"{key[3]}.{suffix}")
    with _written_lock:
        _written[key] = path
        while len(_written) > WRITTEN_AUDIO:
            _written.popitem(last=False)
    return path


def image_file(image: np.ndarray, stem: str) -> Path:
    """Write an RGB image (H, W, 3) as ``<stem>.png`` under ``OUT_DIR`` and return its path."""
    return write_output(png_bytes(image), f"{safe_stem(stem)}.png")


def midi_file(tokens, bpm: float, stem: str) -> Path:
    """Write the song as ``<stem>.mid`` under ``OUT_DIR`` and return its path."""
    return write_output(midi_bytes(tokens, bpm), f"{safe_stem(stem)}.mid")


class SoundFiles(NamedTuple):
    """What plays a song: its audio (MP3 as the page plays it, or WAV) and its MIDI file."""

    audio: Path
    midi: Path


def sound_files(tokens, bpm: float, stem: str, lossless: bool = False) -> SoundFiles:
    """The song's audio and MIDI files: (mp3, mid), or with ``lossless`` (wav, mid)."""
    return SoundFiles(audio_file(tokens, bpm, stem, lossless), midi_file(tokens, bpm, stem))


class Label(NamedTuple):
    """What a result is called: its roll's caption and its files' name stem."""

    title: str  # e.g. "twinkle: pitch +5"
    stem: str  # e.g. "twinkle_pitch+5": files are <stem>.png, .mid, .mp3


class ResultFiles(NamedTuple):
    """The files of a knob result: its piano roll over the original (PNG), its audio (MP3, or WAV), its MIDI."""

    roll: Path | None  # None: not written (the CLI without --roll)
    audio: Path | None  # None while it is being encoded (see result_files_as_ready), or not written
    midi: Path


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
