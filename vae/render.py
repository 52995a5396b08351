"""What a person hears and downloads of a song: audio, MIDI bytes, and the output files handed to the UI.

Everything here takes a song as token ids (T,) (see ``vae.melody``). Audio is float32 mono in
[-1, 1]; the page plays it as Ogg Vorbis (~30 kbit/s, :func:`page_audio_bytes`), the API and the
downloads get the WAV. Output files are written once per content under ``OUT_DIR``
(:func:`write_output`), a cache bounded to ``CACHE_BYTES`` (see ``vae.disk_cache``);
the audio of recently played pieces is kept in a bounded in-memory cache (``PIECE_CACHE_BYTES``).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import os
import re
import tempfile
import threading
import wave
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar

import numpy as np
import pretty_midi

try:
    import soundfile
except (ImportError, OSError):  # no soundfile, or no libsndfile: the page gets the WAV
    soundfile = None

from vae import disk_cache
from vae.melody import (
    CLIP_STEPS,
    DEFAULT_BPM,
    HOLD,
    STEPS_PER_QUARTER,
    as_song,
    tokens_to_midi,
    tokens_to_notes,
)
from vae.pianoroll import png_bytes, roll_png
from vae.timing import timed

# ----------------------------------------------------------------------------- constants

SAMPLE_RATE = 22050  # Hz; enough for a GM piano, half the cost of 44.1 kHz
TAIL_SECONDS = 0.5  # release tail kept after the last step of the song
FADE_SECONDS = 0.02  # fade at the end of the tail, so a cut release never clicks
PEAK = 0.9  # audio is scaled so that its largest sample is this
SOUNDFONT = Path(pretty_midi.__file__).resolve().parent / "TimGM6mb.sf2"  # General MIDI, ships with pretty_midi
# Dry piano: reverb and chorus cost 60 % of the synthesis time and carry sound from one call to the next.
FLUID_SETTINGS = {"synth.reverb.active": 0, "synth.chorus.active": 0, "synth.polyphony": 64}
SINE_ATTACK = 0.005  # s, linear fade-in of each sine note
SINE_RELEASE = 0.08  # s, linear fade-out after the note ends
SINE_LEVEL = 0.3  # amplitude of one sine note before peak normalisation
SYNTHS = ("auto", "fluidsynth", "sine")
OUT_DIR = Path(tempfile.gettempdir()) / "melody-knobs"  # rolls, audio and MIDI files handed to the UI
PIECE_CACHE_BYTES = 32 * 2**20  # audio of recent pieces kept (a 2-bar piece at 100 bpm: 0.5 MB), see _Pieces
# Page audio: Ogg Vorbis through libsndfile, the fastest of its lossy encoders (Opus took 4x as long, MP3 2x);
# level 0.8 is ~30 kbit/s for a mono piano line: 110 kB for Twinkle's 29 s instead of a 1.3 MB WAV.
PAGE_AUDIO_LEVEL = 0.8
ENCODE_BLOCK = 65536  # samples per write to the Vorbis encoder (~3 s)
CACHE_BYTES = int(float(os.environ.get("MELODY_KNOBS_CACHE_MB", "256")) * 2**20)  # bound of OUT_DIR on disk
# A file handed out this recently is never dropped: the page may still fetch it (a slow link, a paused tab).
CACHE_GRACE_SECONDS = float(os.environ.get("MELODY_KNOBS_CACHE_GRACE_S", "120"))


# ----------------------------------------------------------------------------- audio


class _Fluid:
    """One FluidSynth per sample rate with the soundfont loaded, shared behind a lock.

    Loading the soundfont costs ~50 ms, so it is done once; a synth is not thread-safe for
    rendering, so renders take turns (each is ~50 ms for a 24-bar song).
    """

    lock: ClassVar[threading.Lock] = threading.Lock()
    synths: ClassVar[dict[int, tuple[object, int]]] = {}
    checked: ClassVar[bool] = False
    reason: ClassVar[str | None] = None  # why FluidSynth cannot be used, None when it can

    @classmethod
    def get(cls, sample_rate: int) -> tuple[object, int]:
        """(fluidsynth.Synth, soundfont id) for ``sample_rate``; call with ``lock`` held."""
        if sample_rate not in cls.synths:
            import fluidsynth  # raises ImportError (or OSError) when libfluidsynth is missing

            if not SOUNDFONT.is_file():
                raise FileNotFoundError(f"the General-MIDI soundfont that pretty_midi ships is missing: {SOUNDFONT}")
            synth = fluidsynth.Synth(samplerate=float(sample_rate), channels=16, **FLUID_SETTINGS)
            sfid = synth.sfload(str(SOUNDFONT))
            if sfid < 0:
                synth.delete()
                raise RuntimeError(f"FluidSynth could not load the soundfont {SOUNDFONT.name}")
            cls.synths[sample_rate] = (synth, sfid)
        return cls.synths[sample_rate]

    @classmethod
    def check(cls) -> str | None:
        with cls.lock:
            if not cls.checked:
                try:
                    cls.get(SAMPLE_RATE)
                    cls.reason = None
                except (ImportError, OSError, RuntimeError, AttributeError) as err:  # no lib, old lib, bad sf2
                    cls.reason = f"FluidSynth cannot be used ({type(err).__name__}: {err})"
                cls.checked = True
            return cls.reason


def fluidsynth_unavailable_reason() -> str | None:
    """Why audio falls back to the sine synth (a sentence to show the user), or None if it does not."""
    return _Fluid.check()


def _check_audio_args(bpm: float, sample_rate: int) -> None:
    if not bpm > 0:
        raise ValueError(f"tempo must be positive, got {bpm} bpm")
    if not 8000 <= sample_rate <= 96000:
        raise ValueError(f"sample_rate must be between 8000 and 96000 Hz, got {sample_rate}")


def _render_fluidsynth(song: np.ndarray, bpm: float, sample_rate: int, n_samples: int) -> np.ndarray:
    """FluidSynth's piano (program 0, velocity 100, as :func:`~vae.melody.tokens_to_midi` writes)
    playing the notes of ``song``: float32 (n_samples,), full scale 1."""
    step = 60.0 / bpm / STEPS_PER_QUARTER * sample_rate  # samples per step
    events = sorted([(round(start * step), 1, pitch) for start, _, pitch in tokens_to_notes(song)]
                    + [(round(end * step), 0, pitch) for _, end, pitch in tokens_to_notes(song)])  # offs first
    out = np.zeros(n_samples, dtype=np.float32)
    with _Fluid.lock:
        synth, sfid = _Fluid.get(sample_rate)
        synth.system_reset()  # no sound left over from the previous call
        synth.program_select(0, sfid, 0, 0)
        done = 0
        for at, on, pitch in [*events, (n_samples, -1, 0)]:
            at = min(at, n_samples)
            if at > done:
                out[done:at] = synth.get_samples(at - done)[::2] / 32768  # interleaved stereo int16: the left
                done = at
            if on == 1:
                synth.noteon(0, pitch, 100)
            elif on == 0:
                synth.noteoff(0, pitch)
    return out


def _render_sine(song: np.ndarray, bpm: float, sample_rate: int, n_samples: int) -> np.ndarray:
    """Plain sine tones with a short linear attack and release; sums overlapping releases."""
    step = 60.0 / bpm / STEPS_PER_QUARTER * sample_rate  # samples per step
    attack, release = max(1, round(SINE_ATTACK * sample_rate)), max(1, round(SINE_RELEASE * sample_rate))
    out = np.zeros(n_samples, dtype=np.float32)
    for start, end, pitch in tokens_to_notes(song):
        s0, held = round(start * step), round((end - start) * step)
        n = min(held + release, n_samples - s0)
        if n <= 0:
            continue
        t = np.arange(n)
        envelope = np.minimum(1.0, (t + 1) / attack)
        envelope *= np.clip((held + release - t) / release, 0.0, 1.0)
        freq = pretty_midi.note_number_to_hz(pitch)
        out[s0:s0 + n] += SINE_LEVEL * envelope * np.sin(2 * np.pi * freq * t / sample_rate)
    return out


def _pieces(song: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) steps of the pieces a song is synthesised in: its 2-bar clips, joined where a
    note is held over the cut (a clip of the model never starts with a hold, a decoded one may)."""
    cuts = [step for step in range(CLIP_STEPS, len(song), CLIP_STEPS) if song[step] != HOLD]
    bounds = [0, *cuts, len(song)]
    return list(itertools.pairwise(bounds))


class _Pieces:
    """The audio of recently played pieces, shared by all users (it depends on the notes alone), the
    least recently used dropped past PIECE_CACHE_BYTES: a knob move re-synthesises only what it changed."""

    lock: ClassVar[threading.Lock] = threading.Lock()
    items: ClassVar[OrderedDict[tuple, np.ndarray]] = OrderedDict()
    size: ClassVar[int] = 0

    @classmethod
    def audio(cls, piece: np.ndarray, bpm: float, sample_rate: int, synth: str) -> np.ndarray:
        """``piece`` (int64 tokens) played alone, with TAIL_SECONDS for its last release: float32, read-only."""
        key = (piece.tobytes(), float(bpm), sample_rate, synth)
        with cls.lock:
            if key in cls.items:
                cls.items.move_to_end(key)
                return cls.items[key]
        n_samples = round(song_seconds(len(piece), bpm) * sample_rate) + round(TAIL_SECONDS * sample_rate)
        play = _render_fluidsynth if synth == "fluidsynth" else _render_sine
        audio = play(piece, bpm, sample_rate, n_samples)
        audio.flags.writeable = False
        with cls.lock:
            if key not in cls.items and audio.nbytes <= PIECE_CACHE_BYTES:
                cls.items[key] = audio
                cls.size += audio.nbytes
                while cls.size > PIECE_CACHE_BYTES:
                    cls.size -= cls.items.popitem(last=False)[1].nbytes
        return audio

    @classmethod
    def clear(cls) -> None:
        with cls.lock:
            cls.items.clear()
            cls.size = 0


def song_seconds(n_steps: int, bpm: float = DEFAULT_BPM) -> float:
    """Length in seconds of ``n_steps`` sixteenth-note steps at ``bpm``."""
    return n_steps * 60.0 / bpm / STEPS_PER_QUARTER


@timed("audio")
def synthesize(tokens, bpm: float = DEFAULT_BPM, sample_rate: int = SAMPLE_RATE, *,
               synth: str = "auto") -> tuple[np.ndarray, str]:
    """Render a song to audio with a General-MIDI piano.

    FluidSynth plays the song through the TimGM6mb soundfont that pretty_midi ships; where
    libfluidsynth cannot be loaded, a plain sine synth plays it instead (see
    :func:`fluidsynth_unavailable_reason` for what to tell the user).

    Args:
        tokens: int array (T,) of token ids (or clips (N, 32)).
        bpm: tempo in quarter notes per minute.
        sample_rate: Hz.
        synth: "auto" (FluidSynth when available, else sine), "fluidsynth" or "sine".

    Returns:
        (audio, name): audio is float32 (n,) in [-1, 1], peak-normalised to 0.9 (silence stays
        zeros), n = round((T steps * 60 / bpm / 4 + 0.5 s tail) * sample_rate); name is the
        synth that played it, "fluidsynth" or "sine".

    Raises:
        ValueError: bad tokens, tempo or sample rate, or an unknown synth name.
        RuntimeError: ``synth="fluidsynth"`` but FluidSynth cannot be used.
    """
    if synth not in SYNTHS:
        raise ValueError(f"synth must be one of {SYNTHS}, got {synth!r}")
    song = as_song(tokens)
    sample_rate = int(sample_rate)
    _check_audio_args(bpm, sample_rate)
    n_song = round(song_seconds(len(song), bpm) * sample_rate)
    n_total = n_song + round(TAIL_SECONDS * sample_rate)

    used = "sine" if synth == "sine" else "fluidsynth"
    if used == "fluidsynth":
        reason = _Fluid.check()
        if reason is not None and synth == "fluidsynth":
            raise RuntimeError(f"{reason}; install libfluidsynth (apt install libfluidsynth3) or use synth='sine'")
        used = "sine" if reason is not None else used

    # Both synths are linear (FluidSynth without reverb or chorus), so the song is the sum of its pieces,
    # each played alone and placed at its start. Repeated clips are synthesised once, and a knob move
    # re-synthesises only the clips it changed (see _Pieces).
    audio = np.zeros(n_total, dtype=np.float32)
    samples_per_step = song_seconds(1, bpm) * sample_rate
    for start, stop in _pieces(song):
        piece = _Pieces.audio(song[start:stop], bpm, sample_rate, used)
        at = round(start * samples_per_step)
        n = min(len(piece), n_total - at)
        audio[at:at + n] += piece[:n]
    fade = min(round(FADE_SECONDS * sample_rate), n_total)
    audio[n_total - fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    peak = np.abs(audio).max(initial=0.0)
    if peak > 0:
        audio *= PEAK / peak
    return audio, used


@timed("wav")
def wav_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Encode mono float audio (n,) in [-1, 1] as a 16-bit PCM WAV file; values beyond are clipped."""
    audio = np.asarray(audio, dtype=np.float32)  # 24 bits of mantissa: enough for 16-bit samples, 10x faster
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n,), got {tuple(audio.shape)}")
    pcm = np.empty(audio.shape, dtype="<i2")
    np.rint(np.clip(audio, -1.0, 1.0) * 32767, out=pcm, casting="unsafe")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(int(sample_rate))
        out.writeframes(pcm.tobytes())
    return buffer.getvalue()


def page_audio_bytes(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[bytes, str]:
    """Mono float audio (n,) encoded for the page: (Ogg Vorbis bytes, "ogg"), or (WAV bytes, "wav")
    where soundfile (libsndfile) is missing (see :func:`page_audio_unavailable_reason`)."""
    if soundfile is None:
        return wav_bytes(audio, sample_rate), "wav"
    audio, buffer = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), io.BytesIO()
    with soundfile.SoundFile(buffer, "w", int(sample_rate), 1, format="OGG", subtype="VORBIS",
                             compression_level=PAGE_AUDIO_LEVEL) as out:
        # In blocks: libsndfile's Vorbis encoder crashes the process (SIGSEGV) on one write of a few
        # minutes of audio (seen at 5 min, 22 kHz), whatever the samples.
        for start in range(0, len(audio), ENCODE_BLOCK):
            out.write(audio[start:start + ENCODE_BLOCK])
    return buffer.getvalue(), "ogg"


def page_audio_unavailable_reason() -> str | None:
    """Why the page gets uncompressed WAV audio (a sentence for the user), or None if it does not."""
    return None if soundfile is not None else "the soundfile package (libsndfile) is not installed"


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


def audio_file(tokens, bpm: float, stem: str, page: bool = False) -> Path:
    """Write the song's audio under ``OUT_DIR`` and return its path: ``<stem>.wav``, or with ``page`` the
    compressed audio the page plays (``<stem>.ogg``, see :func:`page_audio_bytes`)."""
    audio, _ = synthesize(tokens, bpm)
    data, suffix = page_audio_bytes(audio) if page else (wav_bytes(audio), "wav")
    return write_output(data, f"{safe_stem(stem)}.{suffix}")


def image_file(image: np.ndarray, stem: str) -> Path:
    """Write an RGB image (H, W, 3) as ``<stem>.png`` under ``OUT_DIR`` and return its path."""
    return write_output(png_bytes(image), f"{safe_stem(stem)}.png")


def midi_file(tokens, bpm: float, stem: str) -> Path:
    """Write the song as ``<stem>.mid`` under ``OUT_DIR`` and return its path."""
    return write_output(midi_bytes(tokens, bpm), f"{safe_stem(stem)}.mid")


def sound_files(tokens, bpm: float, stem: str, page: bool = False) -> tuple[Path, Path]:
    """The song's audio and MIDI files: (wav, mid), or with ``page`` (page audio, mid)."""
    return audio_file(tokens, bpm, stem, page), midi_file(tokens, bpm, stem)


def result_files(tokens, original: np.ndarray, bpm: float, title: str, stem: str,
                 page: bool = False, bars: tuple[int, int] | None = None) -> tuple[Path, ...]:
    """A knob result's piano roll (over the original, the bars outside ``bars`` shaded), audio and MIDI files:
    (png, wav, mid), or with ``page`` (png, page audio, mid, wav): the page plays the compressed audio and
    offers the WAV to download."""
    roll = write_output(roll_png(tokens, original, title=title, bars=bars), f"{safe_stem(stem)}.png")
    return (roll, *sound_files(tokens, bpm, stem, page)) + ((audio_file(tokens, bpm, stem),) if page else ())
