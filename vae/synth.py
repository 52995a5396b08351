"""Audio of a song: a General-MIDI piano (FluidSynth, or a sine synth where it cannot be loaded), synthesised
clip by clip with the audio of recent pieces cached, so that a knob move re-synthesises only what it changed.

Audio is float32 mono in [-1, 1]; how it is encoded and written for the page lives in ``vae.render``.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar

import numpy as np
import pretty_midi

from vae.melody import CLIP_STEPS, DEFAULT_BPM, HOLD, STEPS_PER_QUARTER, as_song, tokens_to_notes
from vae.timing import timed

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
PIECE_CACHE_BYTES = 32 * 2**20  # audio of recent pieces kept (a 2-bar piece at 100 bpm: 0.5 MB), see _Pieces

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
