"""What a person hears and downloads of a song, encoded: audio and MIDI bytes, and the names of a result's files.

Everything here takes a song as token ids (T,) (see ``vae.melody``). Audio (synthesised by ``vae.synth``) goes to
the page and the API as MP3 (32 kbit/s, :func:`page_audio_bytes`), else Ogg Vorbis, else WAV; a lossless WAV on
request. The page's files are written by its output store (``ui/store.py``); the command line writes its own.
"""

from __future__ import annotations

import hashlib
import io
import re
import wave
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

from vae.melody import DEFAULT_BPM, as_song, tokens_to_midi
from vae.synth import SAMPLE_RATE, fluidsynth_unavailable_reason, song_seconds, synthesize  # noqa: F401 (API)
from vae.timing import timed

# ----------------------------------------------------------------------------- constants

# Page and API audio: MP3 through LAME (lameenc) at its fast quality 7, 32 kbit/s mono: 117 kB for Twinkle's
# 29 s instead of a 1.3 MB WAV, encoded in 31 ms (Ogg Vorbis through libsndfile, the page's audio before, took
# 65 ms for 111 kB; both within the spectral test of tests/test_render.py). Ogg stays where lameenc is missing.
PAGE_MP3_KBPS, PAGE_MP3_QUALITY = 32, 7
PAGE_OGG_LEVEL = 0.8  # libsndfile's Vorbis compression level: ~30 kbit/s for a mono piano line
ENCODE_BLOCK = 65536  # samples per write to the Vorbis encoder (~3 s)


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
# ----------------------------------------------------------------------------- names and the containers of a result's files


def safe_stem(name: str) -> str:
    """A file-name-safe version of a song name."""
    return re.sub(r"[^\w.+-]+", "_", name).strip("._")[:60] or "song"


def digest(data: bytes) -> str:
    """A short content hash: the folder of an output file, the key of an upload."""
    return hashlib.sha1(data).hexdigest()[:16]


class SoundFiles(NamedTuple):
    """What plays a song: its audio (MP3 as the page plays it, or WAV) and its MIDI file."""

    audio: Path
    midi: Path


class Label(NamedTuple):
    """What a result is called: its roll's caption and its files' name stem."""

    title: str  # e.g. "twinkle: pitch +5"
    stem: str  # e.g. "twinkle_pitch+5": files are <stem>.png, .mid, .mp3


class ResultFiles(NamedTuple):
    """The files of a knob result: its piano roll over the original (PNG), its audio (MP3, or WAV), its MIDI."""

    roll: Path | None  # None: not written (the CLI without --roll)
    audio: Path | None  # None while it is being encoded (see result_files_as_ready), or not written
    midi: Path


