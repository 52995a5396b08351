"""What a person sees and hears of a song: piano-roll images, audio and MIDI bytes.

Everything here takes a song as token ids (T,) (see ``vae.melody``). Images are RGB uint8
arrays (H, W, 3), drawn with numpy (text with matplotlib's font machinery, never pyplot: this
module runs inside a multi-threaded server); audio is float32 mono in [-1, 1].
"""

from __future__ import annotations

import functools
import io
import itertools
import threading
import wave
from collections import OrderedDict
from pathlib import Path
from typing import ClassVar

import numpy as np
import pretty_midi
from matplotlib import font_manager
from matplotlib.ft2font import LoadFlags
from PIL import Image  # Pillow, the image library matplotlib itself is built on

from vae.melody import (
    CLIP_STEPS,
    DEFAULT_BPM,
    HOLD,
    N_PITCHES,
    STEPS_PER_BAR,
    STEPS_PER_QUARTER,
    check_tokens,
    tokens_to_midi,
    tokens_to_notes,
)
from vae.timing import timed

# ----------------------------------------------------------------------------- constants

ROLL_WIDTH = 1024  # default piano-roll size in pixels
ROLL_HEIGHT = 320
THUMB_SIZE = (160, 96)  # (width, height) of a gallery cell in pixels
PNG_LEVEL = 1  # zlib level of PNGs: a roll encodes in 4 ms instead of 9 (matplotlib's imsave), ~12 kB
PITCH_MARGIN = 2  # semitones shown above the highest and below the lowest note
MIN_PITCH_SPAN = 12  # always show at least an octave, so there is a C to label
EMPTY_RANGE = (60, 72)  # pitch window of a song with no notes (C4-C5)

NOTE_COLOR = "#d9480f"  # the song (or the result, in compare mode)
NOTE_EDGE = "#7a2905"
GHOST_COLOR = "#d0d4da"  # the original, in compare mode
GHOST_EDGE = "#8a919b"
BLACK_KEY_ROW = "#eef0f3"
BAR_LINE = "#c3c8cf"
CLIP_LINE = "#7d848e"  # every 2 bars: where the model cuts the song into clips
THUMB_BG = (250, 250, 251)
THUMB_BAR = (222, 225, 230)
THUMB_NOTE = (217, 72, 15)

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


# ----------------------------------------------------------------------------- input


def _song(tokens, name: str = "tokens") -> np.ndarray:
    """``tokens`` as an int64 song (T,); clips (N, 32) are joined."""
    arr = check_tokens(np.asarray(tokens), name=name)
    if arr.ndim == 2 and arr.shape[1] == CLIP_STEPS:
        arr = arr.reshape(-1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a song of shape (T,) or clips (N, {CLIP_STEPS}), got {tuple(arr.shape)}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: a song needs at least one step")
    return arr


def _notes(tokens: np.ndarray) -> np.ndarray:
    """int array (N, 3) of (start_step, end_step, pitch); a hold extends the note before it."""
    notes = tokens_to_notes(tokens)
    return np.asarray(notes, dtype=np.int64).reshape(-1, 3)


def _pitch_window(pitches: np.ndarray, margin: int = PITCH_MARGIN) -> tuple[int, int]:
    """Lowest and highest MIDI pitch to show: the pitches used, a margin, at least an octave."""
    if pitches.size == 0:
        return EMPTY_RANGE
    lo, hi = int(pitches.min()) - margin, int(pitches.max()) + margin
    short = MIN_PITCH_SPAN - (hi - lo)
    if short > 0:
        lo, hi = lo - short // 2, hi + short - short // 2
    shift = max(0, -lo) - max(0, hi - (N_PITCHES - 1))
    return max(0, lo + shift), min(N_PITCHES - 1, hi + shift)


def _check_range(pitch_range: tuple[int, int]) -> tuple[int, int]:
    lo, hi = (int(p) for p in pitch_range)
    if not 0 <= lo <= hi < N_PITCHES:
        raise ValueError(f"pitch_range must be (low, high) with 0 <= low <= high <= 127, got {pitch_range}")
    return lo, hi


# ----------------------------------------------------------------------------- piano roll


def _rgb(color: str) -> np.ndarray:
    """'#rrggbb' -> uint8 (3,)."""
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)


@functools.lru_cache(maxsize=1024)
def _text_mask(text: str, size: float, bold: bool, dpi: int) -> np.ndarray:
    """Coverage (h, w) uint8 of ``text`` in matplotlib's default font, drawn by its FreeType wrapper.

    matplotlib keeps one FT2Font per font file and thread, so this is safe in a threaded server;
    labels repeat from call to call (bar numbers, octaves), so they are drawn once.
    """
    prop = font_manager.FontProperties(size=size, weight="bold" if bold else "normal")
    font = font_manager.get_font(font_manager.findfont(prop))
    font.clear()
    font.set_size(size, dpi)
    font.set_text(text, 0.0, flags=LoadFlags.DEFAULT)
    font.draw_glyphs_to_bitmap(antialiased=True)
    mask = np.asarray(font.get_image()).copy()
    mask.flags.writeable = False
    return mask


def _draw_text(image: np.ndarray, text: str, x: float, y: float, size: float, dpi: int, color: str = "#000000", *,
               ha: str = "left", va: str = "top", bold: bool = False) -> None:
    """Blend ``text`` into ``image`` (in place), anchored at pixel (x, y) by ``ha`` and ``va``."""
    mask = _text_mask(text, size, bold, dpi)
    h, w = mask.shape
    x0 = round(x - {"left": 0, "center": w / 2, "right": w}[ha])
    y0 = round(y - {"top": 0, "center": h / 2, "bottom": h}[va])
    ys = slice(max(y0, 0), min(y0 + h, image.shape[0]))
    xs = slice(max(x0, 0), min(x0 + w, image.shape[1]))
    if ys.start >= ys.stop or xs.start >= xs.stop:
        return
    alpha = mask[ys.start - y0:ys.stop - y0, xs.start - x0:xs.stop - x0, None] / 255.0
    region = image[ys, xs]
    region[:] = region * (1 - alpha) + _rgb(color) * alpha + 0.5


def _boxes(image: np.ndarray, x0, x1, y0, y1, fill: str, edge: str) -> None:
    """Rectangles [y0, y1) x [x0, x1) with a 1-pixel border, drawn in place."""
    fill, edge = _rgb(fill), _rgb(edge)
    for a, b, c, d in zip(y0.tolist(), y1.tolist(), x0.tolist(), x1.tolist(), strict=True):
        image[a:b, c:d] = edge
        image[a + 1:b - 1, c + 1:d - 1] = fill


def _bar_ticks(n_steps: int) -> tuple[np.ndarray, list[str]]:
    """Bar-number ticks: every bar, thinned so that at most ~24 labels are drawn."""
    n_bars = -(-n_steps // STEPS_PER_BAR)
    every = max(1, int(np.ceil(n_bars / 24)))
    bars = np.arange(0, n_bars, every)
    return bars * STEPS_PER_BAR, [str(b + 1) for b in bars]


@timed("roll")
def piano_roll(tokens, compare=None, *, title: str | None = None, width: int = ROLL_WIDTH,
               height: int = ROLL_HEIGHT, pitch_range: tuple[int, int] | None = None, dpi: int = 100) -> np.ndarray:
    """Draw a song as a piano roll.

    Time runs left to right in sixteenth-note steps, with a thin line at every bar and a darker
    one every 2 bars (where the model cuts clips); pitch runs upwards over the range the song
    uses plus a margin, with octave labels at every C. Each note is a rectangle from its onset to
    the step where it stops (holds extend it). Drawn with numpy into the pixel grid (a knob move
    redraws it: ~2 ms, where a matplotlib figure took ~25 ms); text comes from matplotlib's font.

    Args:
        tokens: int array (T,) of token ids (or clips (N, 32)): the song, drawn in a strong colour.
        compare: optional second song (T',), e.g. the original before a knob move, drawn beneath
            in light grey so that what changed stands out.
        title: optional caption above the roll.
        width, height: image size in pixels.
        pitch_range: (low, high) MIDI pitches to show; default: fitted to the notes.
        dpi: pixels per inch for font sizes (7 and 8 points); the image size does not depend on it.

    Returns:
        uint8 array (height, width, 3), RGB.

    Raises:
        ValueError: a token is not a state id, the song is empty, or the size is too small.
    """
    if width < 64 or height < 48:
        raise ValueError(f"a piano roll needs at least 64 x 48 pixels, got {width} x {height}")
    song = _song(tokens)
    notes = _notes(song)
    ghost = _notes(_song(compare, "compare")) if compare is not None else np.zeros((0, 3), np.int64)
    n_steps = max(len(song), 0 if compare is None else len(np.ravel(compare)))
    if pitch_range is None:
        lo, hi = _pitch_window(np.concatenate([notes[:, 2], ghost[:, 2]]))
    else:
        lo, hi = _check_range(pitch_range)

    top = 22 if (title or compare is not None) else 6
    left, bottom, right = 38, 20, 6
    plot_w, plot_h, n_rows = width - left - right, height - top - bottom, hi - lo + 1
    image = np.full((height, width, 3), 255, dtype=np.uint8)

    def x_of(steps) -> np.ndarray:
        return left + (np.asarray(steps) * plot_w) // n_steps

    def rows_of(pitches) -> tuple[np.ndarray, np.ndarray]:  # top and bottom pixel of each pitch's row
        row = hi - np.asarray(pitches)
        return top + (row * plot_h) // n_rows, top + ((row + 1) * plot_h) // n_rows

    for pitch in range(lo, hi + 1):
        if pitch % 12 in (1, 3, 6, 8, 10):
            y0, y1 = rows_of(pitch)
            image[y0:y1, left:left + plot_w] = _rgb(BLACK_KEY_ROW)
    bars = np.arange(STEPS_PER_BAR, n_steps, STEPS_PER_BAR)
    image[top:top + plot_h, x_of(bars[bars % CLIP_STEPS != 0])] = _rgb(BAR_LINE)
    image[top:top + plot_h, x_of(bars[bars % CLIP_STEPS == 0])] = _rgb(CLIP_LINE)

    gap = 1 if plot_w / n_steps >= 3 else 0  # a pixel between repeated notes, when there is room
    row_h = plot_h / n_rows
    for drawn, fill, edge, margin in ((ghost, GHOST_COLOR, GHOST_EDGE, 0.05), (notes, NOTE_COLOR, NOTE_EDGE, 0.1)):
        drawn = drawn[(drawn[:, 2] >= lo) & (drawn[:, 2] <= hi)]
        if len(drawn):  # the ghost (original) is a little taller, so a moved note never hides it all
            y0, y1 = rows_of(drawn[:, 2])
            pad = round(row_h * margin)
            x0 = x_of(drawn[:, 0])
            _boxes(image, x0, np.maximum(x_of(drawn[:, 1]) - gap, x0 + 1), y0 + pad, np.maximum(y1 - pad, y0 + pad + 1),
                   fill, edge)
    image[top:top + plot_h + 1, left - 1] = 0  # the axes: left and bottom
    image[top + plot_h, left - 1:left + plot_w] = 0

    for c in range(lo + (-lo) % 12, hi + 1, 12):
        y0, y1 = rows_of(c)
        _draw_text(image, pretty_midi.note_number_to_name(c), left - 4, (y0 + y1) / 2, 7, dpi, ha="right", va="center")
    for step, label in zip(*_bar_ticks(n_steps), strict=True):
        _draw_text(image, label, int(x_of(step)) + 2, top + plot_h + 3, 7, dpi)
    if title:
        _draw_text(image, title, left, 4, 8, dpi)
    if compare is not None:
        _draw_text(image, "original", width - right, 4, 7, dpi, GHOST_EDGE, ha="right", bold=True)
        _draw_text(image, "result", width - right - 50, 4, 7, dpi, NOTE_COLOR, ha="right", bold=True)
    return image


@timed("thumbnail")
def piano_roll_thumbnail(tokens, size: tuple[int, int] = THUMB_SIZE, *,
                         pitch_range: tuple[int, int] | None = None) -> np.ndarray:
    """A tiny piano roll for a gallery cell, drawn with numpy alone (no axes, no text).

    Args:
        tokens: int array (T,) of token ids (or clips (N, 32)).
        size: (width, height) in pixels.
        pitch_range: (low, high) MIDI pitches to show; pass the same range to every cell of a
            grid so that heights compare. Default: fitted to the notes.

    Returns:
        uint8 array (height, width, 3), RGB.
    """
    width, height = (int(s) for s in size)
    if width < 8 or height < 8:
        raise ValueError(f"a thumbnail needs at least 8 x 8 pixels, got {width} x {height}")
    song = _song(tokens)
    notes = _notes(song)
    lo, hi = _pitch_window(notes[:, 2], margin=1) if pitch_range is None else _check_range(pitch_range)
    n_rows, n_steps = hi - lo + 1, len(song)

    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:] = THUMB_BG
    bar_x = (np.arange(STEPS_PER_BAR, n_steps, STEPS_PER_BAR) * width) // n_steps
    image[:, bar_x] = THUMB_BAR
    gap = 1 if width / n_steps >= 3 else 0  # a pixel between repeated notes, when there is room
    notes = notes[(notes[:, 2] >= lo) & (notes[:, 2] <= hi)]
    x0 = (notes[:, 0] * width) // n_steps
    x1 = np.maximum((notes[:, 1] * width) // n_steps - gap, x0 + 1)
    row = hi - notes[:, 2]  # row 0 is the top of the image
    y0 = (row * height) // n_rows
    y1 = np.maximum(((row + 1) * height) // n_rows, y0 + 1)
    for a, b, c, d in zip(y0.tolist(), y1.tolist(), x0.tolist(), x1.tolist(), strict=True):
        image[a:b, c:d] = THUMB_NOTE
    return image


@timed("png")
def png_bytes(image: np.ndarray) -> bytes:
    """Encode an RGB uint8 image (H, W, 3) as PNG bytes."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image (H, W, 3), got {image.dtype} {tuple(image.shape)}")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="png", compress_level=PNG_LEVEL)
    return buffer.getvalue()


def save_png(image: np.ndarray, path: str | Path) -> Path:
    """Write an RGB uint8 image (H, W, 3) to ``path`` as PNG; returns the path."""
    path = Path(path)
    path.write_bytes(png_bytes(image))
    return path


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


def fluidsynth_available() -> bool:
    """True when libfluidsynth and the soundfont load; the first call loads them (~50 ms)."""
    return _Fluid.check() is None


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
    song = _song(tokens)
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


# ----------------------------------------------------------------------------- MIDI


@timed("midi")
def midi_bytes(tokens, bpm: float = DEFAULT_BPM) -> bytes:
    """A Standard MIDI File of the song (piano, velocity 100, 4/4 at ``bpm``), as bytes."""
    buffer = io.BytesIO()
    tokens_to_midi(_song(tokens), bpm=bpm).write(buffer)
    return buffer.getvalue()


def write_midi(tokens, path: str | Path, bpm: float = DEFAULT_BPM) -> Path:
    """Write the song to ``path`` as a Standard MIDI File; returns the path."""
    path = Path(path)
    path.write_bytes(midi_bytes(tokens, bpm))
    return path

