"""Piano-roll images of a song: the full roll (optionally over another song, greyed) and gallery thumbnails.

Images are RGB uint8 arrays (H, W, 3), drawn with numpy (text with matplotlib's font machinery,
never pyplot: this runs inside a multi-threaded server), and PNG bytes made with Pillow.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pretty_midi
from matplotlib import font_manager
from matplotlib.ft2font import LoadFlags
from PIL import Image  # Pillow, the image library matplotlib itself is built on

from vae.melody import CLIP_STEPS, N_PITCHES, STEPS_PER_BAR, as_song, check_tokens, tokens_to_notes
from vae.timing import timed

ROLL_WIDTH = 1024  # default piano-roll size in pixels
ROLL_HEIGHT = 320
THUMB_SIZE = (160, 96)  # (width, height) of a gallery cell in pixels
PNG_LEVEL = 1  # zlib level of PNGs: a roll encodes in 4 ms instead of 9 (matplotlib's imsave), ~12 kB
PITCH_MARGIN = 2  # semitones shown above the highest and below the lowest note
MIN_PITCH_SPAN = 12  # always show at least an octave, so there is a C to label
EMPTY_RANGE = (60, 72)  # pitch window of a song with no notes (C4-C5)

NOTE_COLOR = "#d9480f"  # the song (or the result, in compare mode)
NOTE_EDGE = "#7a2905"
GHOST_COLOR = "#d0d4da"  # the original, in compare mode (its legend is on the page: gradio's buttons cover the image's corner)
RESULT_MARGIN = 0.25  # share of a row left above and below a result's note over the original, which shows there
GHOST_EDGE = "#8a919b"
LEGEND_HTML = (f'<span style="color:{GHOST_EDGE}">■ grey: the original</span> &nbsp; <span style="color:{NOTE_COLOR}">'
               '■ orange: the result</span> &nbsp; (where they agree, orange inside grey)')  # shown beside a roll
BLACK_KEY_ROW = "#eef0f3"
BLACK_KEYS = (1, 3, 6, 8, 10)  # pitch classes
WHITE_KEYS = (0, 2, 4, 5, 7, 9, 11)
OUTSIDE_SHADE = 0.88  # bars outside the chosen range: background darkened to 88 %
LABEL_POINTS = 7  # pitch names and bar numbers
TITLE_POINTS = 8  # the caption above a roll
DPI = 100  # pixels per inch of the text's point sizes; the image size does not depend on it
LABEL_GREY = "#6b7280"  # pitch names other than C
BAR_LINE = "#c3c8cf"
CLIP_LINE = "#7d848e"  # every 2 bars: where the model cuts the song into clips
THUMB_BG = (250, 250, 251)
THUMB_BAR = (222, 225, 230)
THUMB_NOTE = (217, 72, 15)


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
def _text_mask(text: str, size: float) -> np.ndarray:
    """Coverage (h, w) uint8 of ``text`` in matplotlib's default font, drawn by its FreeType wrapper.

    matplotlib keeps one FT2Font per font file and thread, so this is safe in a threaded server;
    labels repeat from call to call (bar numbers, octaves), so they are drawn once.
    """
    prop = font_manager.FontProperties(size=size, weight="normal")
    font = font_manager.get_font(font_manager.findfont(prop))
    font.clear()
    font.set_size(size, DPI)
    font.set_text(text, 0.0, flags=LoadFlags.DEFAULT)
    font.draw_glyphs_to_bitmap(antialiased=True)
    mask = np.asarray(font.get_image()).copy()
    mask.flags.writeable = False
    return mask


def _draw_text(image: np.ndarray, text: str, at: tuple[float, float], size: float, color: str = "#000000",
               anchor: tuple[str, str] = ("left", "top")) -> None:
    """Blend ``text`` (``size`` points) into ``image`` (in place), anchored at pixel ``at`` = (x, y) by its
    ``anchor`` = (horizontal: left / center / right, vertical: top / center / bottom)."""
    mask = _text_mask(text, size)
    (x, y), (ha, va) = at, anchor
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


def _boxes(image: np.ndarray, xs: tuple[np.ndarray, np.ndarray], ys: tuple[np.ndarray, np.ndarray], fill: str,
           edge: str) -> None:
    """Rectangles [y0, y1) x [x0, x1) with a 1-pixel border, drawn in place; ``xs`` = (x0, x1) and ``ys`` =
    (y0, y1), int arrays (n,) of pixels."""
    (x0, x1), (y0, y1), fill, edge = xs, ys, _rgb(fill), _rgb(edge)
    for a, b, c, d in zip(y0.tolist(), y1.tolist(), x0.tolist(), x1.tolist(), strict=True):
        image[a:b, c:d] = edge
        image[a + 1:b - 1, c + 1:d - 1] = fill


def _bar_ticks(n_steps: int) -> tuple[np.ndarray, list[str]]:
    """Bar-number ticks: every bar, thinned so that at most ~24 labels are drawn."""
    n_bars = -(-n_steps // STEPS_PER_BAR)
    every = max(1, int(np.ceil(n_bars / 24)))
    bars = np.arange(0, n_bars, every)
    return bars * STEPS_PER_BAR, [str(b + 1) for b in bars]


@dataclass(frozen=True)
class _Frame:
    """Where a roll's plot lies in the image: pixel edges, the steps and the pitches it shows."""

    top: int
    left: int
    plot_w: int
    plot_h: int
    n_steps: int
    lo: int
    hi: int

    def x_of(self, steps) -> np.ndarray:
        return self.left + (np.asarray(steps) * self.plot_w) // self.n_steps

    def rows_of(self, pitches) -> tuple[np.ndarray, np.ndarray]:
        """Top and bottom pixel of each pitch's row."""
        row, n_rows = self.hi - np.asarray(pitches), self.hi - self.lo + 1
        return self.top + (row * self.plot_h) // n_rows, self.top + ((row + 1) * self.plot_h) // n_rows


def _draw_background(image: np.ndarray, f: _Frame, bars: tuple[int, int] | None) -> None:
    """Black-key rows, bar lines (darker every 2 bars, where the model cuts clips), bars outside ``bars`` shaded."""
    for pitch in range(f.lo, f.hi + 1):
        if pitch % 12 in BLACK_KEYS:
            y0, y1 = f.rows_of(pitch)
            image[y0:y1, f.left:f.left + f.plot_w] = _rgb(BLACK_KEY_ROW)
    if bars is not None:  # outside the chosen bars: the knobs leave them as they were
        first, last = (bars[0] - 1) * STEPS_PER_BAR, min(bars[1] * STEPS_PER_BAR, f.n_steps)
        for a, b in ((0, first), (last, f.n_steps)):
            x0, x1 = int(f.x_of(a)), int(f.x_of(b))
            image[f.top:f.top + f.plot_h, x0:x1] = image[f.top:f.top + f.plot_h, x0:x1] * OUTSIDE_SHADE
    lines = np.arange(STEPS_PER_BAR, f.n_steps, STEPS_PER_BAR)
    image[f.top:f.top + f.plot_h, f.x_of(lines[lines % CLIP_STEPS != 0])] = _rgb(BAR_LINE)
    image[f.top:f.top + f.plot_h, f.x_of(lines[lines % CLIP_STEPS == 0])] = _rgb(CLIP_LINE)


def _draw_notes(image: np.ndarray, f: _Frame, notes: np.ndarray, ghost: np.ndarray, compare: bool) -> None:
    """The original (``ghost``, grey) full height, then the song or result over it."""
    gap = 1 if f.plot_w / f.n_steps >= 3 else 0  # a pixel between repeated notes, when there is room
    row_h = f.plot_h / (f.hi - f.lo + 1)
    result_margin = RESULT_MARGIN if compare else 0.1
    for drawn, fill, edge, margin in ((ghost, GHOST_COLOR, GHOST_EDGE, 0.0), (notes, NOTE_COLOR, NOTE_EDGE, result_margin)):
        drawn = drawn[(drawn[:, 2] >= f.lo) & (drawn[:, 2] <= f.hi)]
        if len(drawn):  # over the original, the result fills the middle of the row: the original shows around it
            y0, y1 = f.rows_of(drawn[:, 2])
            pad = round(row_h * margin)
            x0 = f.x_of(drawn[:, 0])
            _boxes(image, (x0, np.maximum(f.x_of(drawn[:, 1]) - gap, x0 + 1)),
                   (y0 + pad, np.maximum(y1 - pad, y0 + pad + 1)), fill, edge)


def _pitch_labels(f: _Frame) -> list[int]:
    """The pitches to name at the left: every white key when its row fits the text, else C and G, else C."""
    row_h = f.plot_h / (f.hi - f.lo + 1)
    text_h = _text_mask("C4", LABEL_POINTS).shape[0]
    for classes, rows in ((WHITE_KEYS, 1), ((0, 7), 5), ((0,), 0)):  # rows: how close two labels can be
        if row_h * rows >= text_h + 1 or rows == 0:
            break
    return [p for p in range(f.lo, f.hi + 1) if p % 12 in classes]


def _draw_axes(image: np.ndarray, f: _Frame, title: str | None) -> None:
    """The axes, pitch names at the left (C in black, the others grey), bar numbers below, the title above."""
    image[f.top:f.top + f.plot_h + 1, f.left - 1] = 0
    image[f.top + f.plot_h, f.left - 1:f.left + f.plot_w] = 0
    for pitch in _pitch_labels(f):
        y0, y1 = f.rows_of(pitch)
        _draw_text(image, pretty_midi.note_number_to_name(pitch), (f.left - 4, (y0 + y1) / 2), LABEL_POINTS,
                   "#000000" if pitch % 12 == 0 else LABEL_GREY, anchor=("right", "center"))
    for step, label in zip(*_bar_ticks(f.n_steps), strict=True):
        _draw_text(image, label, (int(f.x_of(step)) + 2, f.top + f.plot_h + 3), LABEL_POINTS)
    if title:
        _draw_text(image, title, (f.left, 4), TITLE_POINTS)


@timed("roll")
def piano_roll(tokens, compare=None, *, title: str | None = None, size: tuple[int, int] = (ROLL_WIDTH, ROLL_HEIGHT),
               pitch_range: tuple[int, int] | None = None, bars: tuple[int, int] | None = None) -> np.ndarray:
    """Draw a song as a piano roll.

    Time runs left to right in sixteenth-note steps, with a thin line at every bar and a darker
    one every 2 bars (where the model cuts clips); pitch runs upwards over the range the song
    uses plus a margin, with note names at the left (every white key where the rows leave room,
    else C and G, else C; C in black, the others grey). Each note is a rectangle from its onset to
    the step where it stops (holds extend it). Drawn with numpy into the pixel grid (a knob move
    redraws it: ~2 ms, where a matplotlib figure took ~25 ms); text comes from matplotlib's font.

    Args:
        tokens: int array (T,) of token ids (or clips (N, 32)): the song, drawn in a strong colour.
        compare: optional second song (T',), e.g. the original before a knob move, drawn beneath
            in light grey so that what changed stands out.
        title: optional caption above the roll.
        size: (width, height) of the image in pixels.
        pitch_range: (low, high) MIDI pitches to show; default: fitted to the notes.
        bars: optional (first, last) bar, counted from 1, both included: the bars a knob move
            changed; the bars outside are shaded darker.

    Returns:
        uint8 array (height, width, 3), RGB.

    Raises:
        ValueError: a token is not a state id, the song is empty, or the size is too small.
    """
    width, height = (int(v) for v in size)
    if width < 64 or height < 48:
        raise ValueError(f"a piano roll needs at least 64 x 48 pixels, got {width} x {height}")
    song = as_song(tokens)
    notes = _notes(song)
    ghost = _notes(as_song(compare, "compare")) if compare is not None else np.zeros((0, 3), np.int64)
    n_steps = max(len(song), 0 if compare is None else len(np.ravel(compare)))
    if pitch_range is None:
        lo, hi = _pitch_window(np.concatenate([notes[:, 2], ghost[:, 2]]))
    else:
        lo, hi = _check_range(pitch_range)
    top, left, bottom, right = 22 if (title or compare is not None) else 6, 38, 20, 6
    frame = _Frame(top, left, width - left - right, height - top - bottom, n_steps, lo, hi)
    image = np.full((height, width, 3), 255, dtype=np.uint8)
    _draw_background(image, frame, _check_bars(bars, n_steps))
    _draw_notes(image, frame, notes, ghost, compare is not None)
    _draw_axes(image, frame, title)
    return image


def _check_bars(bars: tuple[int, int] | None, n_steps: int) -> tuple[int, int] | None:
    """``bars`` (first, last) checked against a song of ``n_steps``; None when they cover all of it."""
    if bars is None:
        return None
    n_bars = -(-n_steps // STEPS_PER_BAR)
    first, last = (int(b) for b in bars)
    if not 1 <= first <= last <= n_bars:
        raise ValueError(f"bars must be (first, last) with 1 <= first <= last <= {n_bars}, got {bars}")
    return None if (first, last) == (1, n_bars) else (first, last)


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
    song = as_song(tokens)
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


def roll_png(tokens, compare=None, *, title: str | None = None, bars: tuple[int, int] | None = None) -> bytes:
    """:func:`piano_roll` of ``tokens`` (over ``compare``, ``bars`` marked) as PNG bytes."""
    return png_bytes(piano_roll(tokens, compare, title=title, bars=bars))


def thumbnails(clips: np.ndarray, size: tuple[int, int] = THUMB_SIZE) -> list[np.ndarray]:
    """A thumbnail of every clip of ``clips`` (..., 32), in row-major order, all on one pitch scale."""
    clips = check_tokens(np.asarray(clips)).reshape(-1, CLIP_STEPS)
    pitches = clips[clips < N_PITCHES]
    window = (max(0, int(pitches.min()) - 1), min(N_PITCHES - 1, int(pitches.max()) + 1)) if pitches.size else None
    return [piano_roll_thumbnail(clip, size, pitch_range=window) for clip in clips]


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
