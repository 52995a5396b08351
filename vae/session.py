"""The app's logic without its UI: the loaded model bundle, one user's song and its knob settings.

``app.py`` keeps a :class:`Song` per user (in ``gr.State``) so that a knob move only decodes:
the song's tokens, tempo and the μ of its clips are computed once when it is loaded, and the
original's piano roll and audio are written once to files. Nothing here imports gradio; errors a
user can fix are ``ValueError`` with a message to show as it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
import tempfile
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from vae import analysis, hub, render
from vae.melody import (
    BPM_RANGE,
    CLIP_STEPS,
    MAX_BARS,
    N_STATES,
    STEPS_PER_BAR,
    Melody,
    check_tokens,
    clip_is_valid,
    load_melody,
    split_clips,
)
from vae.model import MusicVAE
from vae.timing import timed

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES_DIR = ROOT / "assets" / "examples"
FIGURES_DIR = ROOT / "assets" / "figures"
DEFAULT_EXAMPLE = "twinkle"  # Mozart's theme, "Ah vous dirai-je, Maman" (DESIGN "Example song")
DIMS_FILE, REPORT_FILE, CARD_FILE = "dims.json", "report.json", "README.md"
OUT_DIR = Path(tempfile.gettempdir()) / "melody-knobs"  # rolls, audio and MIDI files handed to the UI

PITCH_RANGE = (-12.0, 12.0)  # semitones (+1 ≈ one semitone)
RHYTHM_RANGE = (-2.0, 3.0)  # splits (+1 ≈ each note split in two)
RESIDUAL_RANGE = (-3.0, 3.0)  # standard deviations of the clips along the residual axis
OFFSET_RANGE = (-4.0, 4.0)  # raw latent units added to one pitch or rhythm dim
GRID_RANGE = (3, 7)  # cells per side of the interpolation grid
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # a MIDI melody is a few kB
MAX_SONG_SECONDS = 30 * 60  # longest audio rendered (MAX_BARS at >= 69 bpm); its peak memory grows with length
CONTROL_SEED = 0  # the random control moves onto the same dims every time, so results can be shared
MAX_CODE_CHARS = 16_000  # longest song code accepted (share links): a long song that compresses badly


# ----------------------------------------------------------------------------- the model bundle


@dataclass
class ModelBundle:
    """A loaded model with everything the app shows about it."""

    model: MusicVAE
    dims: dict  # discover_dims dict in its dims_from_json form (tensors)
    dims_raw: dict  # the same as read from dims.json (or computed), JSON types
    dims_note: str  # where the dims came from, a sentence for the user
    card: str | None  # README.md of the model folder (the model card), without front matter
    report: dict | None  # report.json of the model folder
    source_info: hub.SourceInfo


def _read_json(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        logger.warning("could not read %s (%s)", path, err)
        return None
    return data if isinstance(data, dict) else None


def strip_front_matter(text: str) -> str:
    """A model card without its YAML front matter (the Hub's metadata block between '---' lines)."""
    match = re.match(r"\A---\s*\n.*?\n---\s*\n", text, flags=re.DOTALL)
    return text[match.end():] if match else text


def example_clips(examples: dict[str, Path]) -> np.ndarray:
    """The clips (N, 32) with at least 2 onsets of every readable example song."""
    clips = []
    for path in examples.values():
        try:
            clips.append(split_clips(load_melody(path).tokens))
        except ValueError as err:
            logger.warning("example %s skipped (%s)", path.name, err)
    if not clips:
        raise ValueError("no example song could be read to compute the pitch and rhythm dims")
    clips = np.concatenate(clips)
    return clips[clip_is_valid(clips)]


def load_bundle(source: str | None = None, revision: str | None = None, examples: dict[str, Path] | None = None,
                progress: analysis.Progress | None = None) -> ModelBundle:
    """Load the model (see :func:`vae.hub.load_model`) with its dims.json, report.json and card.

    When the model folder has no usable dims.json, the dims are found with
    :func:`vae.analysis.discover_dims` on the example songs' clips, and ``dims_note`` says so.
    """
    model = hub.load_model(source, revision)
    info = model.source_info
    where = f"{info.repo_id} @ {(info.revision or '')[:7]}" if info.source == "hub" else info.path
    dims_raw, note = _read_json(hub.model_file(info, DIMS_FILE)), f"Pitch and rhythm dims from {DIMS_FILE} in {where}."
    try:
        dims = analysis.dims_from_json(dims_raw) if dims_raw else None
        if dims is not None and dims["latent_dim"] != model.config.latent_dim:
            raise ValueError(f"it is for a {dims['latent_dim']}-dim latent, the model's is {model.config.latent_dim}")
    except ValueError as err:
        logger.warning("%s in %s is not usable (%s)", DIMS_FILE, where, err)
        dims = None
    if dims is None:
        clips = example_clips(examples if examples is not None else example_songs())
        logger.warning("%s is missing in %s: computing the dims from %d example clips", DIMS_FILE, where, len(clips))
        dims_raw = analysis.discover_dims(model, clips, progress=progress)
        dims = analysis.dims_from_json(dims_raw)
        note = (f"**{DIMS_FILE} was not found in {where}**, so the pitch and rhythm dims were computed at start-up "
                f"from {len(clips)} clips of the example songs (fewer than the ≥ 2,000 of the shipped analysis).")
    card = hub.model_file(info, CARD_FILE)
    card_text = strip_front_matter(card.read_text(encoding="utf-8", errors="replace")) if card else None
    return ModelBundle(model=model, dims=dims, dims_raw=dims_raw, dims_note=note, card=card_text,
                       report=_read_json(hub.model_file(info, REPORT_FILE)), source_info=info)


# ----------------------------------------------------------------------------- songs


def example_songs(folder: Path = EXAMPLES_DIR) -> dict[str, Path]:
    """Example name (file stem) -> path of every ``*.mid`` in ``folder``, the default example first."""
    paths = sorted(Path(folder).glob("*.mid"), key=lambda p: (p.stem != DEFAULT_EXAMPLE, p.stem))
    return {p.stem: p for p in paths}


def _digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:16]


def write_output(data: bytes, filename: str) -> Path:
    """Write ``data`` to ``OUT_DIR/<digest>/filename`` (once per content) and return the path."""
    path = OUT_DIR / _digest(data) / filename
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then renamed: a user asking for the same file meanwhile never sees half of it.
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{filename}.", delete=False) as part:
            part.write(data)
        Path(part.name).replace(path)
    return path


@dataclass
class Song:
    """One user's song, ready for knob moves. Lives in ``gr.State``; holds no big arrays but μ."""

    key: str  # identifies the source (example, upload bytes or share code, and track)
    name: str  # for titles and file names
    tokens: np.ndarray  # int64 (T,)
    bpm: float  # tempo of the source, quarter notes per minute
    latents: torch.Tensor  # μ of each clip, (N, D)
    example: str | None = None  # example name, when the song is one
    meter: str = "4/4"
    warnings: list[str] = field(default_factory=list)
    tracks: list[tuple[str, int]] = field(default_factory=list)  # (label, index) of each melodic track
    track: int = 0
    accuracy: float = 0.0  # share of steps the model reconstructs with the knobs at 0
    roll_path: Path | None = None  # the original's piano roll (PNG)
    audio_path: Path | None = None  # the original's audio (WAV)
    synth: str = "sine"

    def matches(self, key: str, track: int | None) -> bool:
        """Whether this song is what ``key`` (see :func:`song_key`) and ``track`` ask for."""
        return self.key == key and (track is None or int(track) == self.track)

    @property
    def n_bars(self) -> int:
        return -(-len(self.tokens) // STEPS_PER_BAR)

    @property
    def n_clips(self) -> int:
        return len(self.latents)


def encode_song(tokens: np.ndarray) -> str:
    """Token ids (T,) as a compact URL-safe string; the inverse of :func:`decode_song`.

    The ids as bytes (all < 130), zlib-compressed, URL-safe base64 without padding: a 24-bar
    melody takes ~100 characters.
    """
    tokens = check_tokens(np.asarray(tokens))
    packed = zlib.compress(tokens.astype(np.uint8).tobytes(), 9)  # ids < 130 fit in a byte
    return base64.urlsafe_b64encode(packed).decode("ascii").rstrip("=")


def decode_song(code: str) -> np.ndarray:
    """Token ids int64 (T,) from :func:`encode_song`'s string.

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
    except (binascii.Error, ValueError, zlib.error) as err:
        raise ValueError(f"the shared song in this link is damaged ({err}); ask for the link again") from None
    if not inflater.eof:
        raise ValueError(f"the shared song is longer than {MAX_BARS} bars or its link was cut short")
    tokens = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    if tokens.size == 0 or tokens.max() >= N_STATES:
        raise ValueError("the shared song in this link is damaged (no notes, or ids that are not tokens)")
    return tokens


def upload_bytes(path: str | Path) -> bytes:
    """The bytes of an uploaded file, refused with a clear message when empty or too big."""
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise ValueError(f"{path.name} is {size / 1e6:.1f} MB; the limit is {MAX_UPLOAD_BYTES / 1e6:.0f} MB "
                         "(a MIDI melody is a few kB)")
    if size == 0:
        raise ValueError(f"{path.name} is empty (0 bytes); choose a Standard MIDI File (.mid)")
    return path.read_bytes()


def song_key(example: str | None = None, upload: str | Path | None = None, code: str | None = None,
             bpm: float | None = None) -> str:
    """The cache key of a song source (the track aside); precedence: upload, then share code, then example."""
    if upload:
        return f"upload:{_digest(upload_bytes(upload))}"
    if code:
        return f"code:{_digest(code.encode())}:{bpm}"
    return f"example:{example or DEFAULT_EXAMPLE}"


@timed("read_song")
def read_song(example: str | None = None, upload: str | Path | None = None, code: str | None = None,
              bpm: float | None = None, track: int | None = None,
              examples: dict[str, Path] | None = None) -> tuple[Melody, str, str | None]:
    """Read a song from an upload, a share code or an example: (melody, display name, example name).

    Raises:
        ValueError: unknown example, unreadable or unsuitable MIDI, bad share code, too long.
    """
    if upload:
        return load_melody(upload_bytes(upload), track), Path(upload).stem, None
    if code:
        bpm = float(bpm or 120.0)
        if not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
            raise ValueError(f"the shared song's tempo must be {BPM_RANGE[0]:g} to {BPM_RANGE[1]:g} bpm, got {bpm:g}")
        return Melody(tokens=decode_song(code), bpm=bpm), "shared song", None
    examples = example_songs() if examples is None else examples
    name = example or DEFAULT_EXAMPLE
    if name not in examples:
        raise ValueError(f"there is no example called {name!r}; choose one of {sorted(examples)}")
    return load_melody(examples[name], track), name, name


def prepare_song(model: MusicVAE, melody: Melody, name: str, key: str, example: str | None = None) -> Song:
    """Encode a melody's clips once and render its original roll and audio to files.

    Raises:
        ValueError: the song plays longer than ``MAX_SONG_SECONDS`` at its tempo.
    """
    seconds = render.song_seconds(len(melody.tokens), melody.bpm)
    if seconds > MAX_SONG_SECONDS:
        raise ValueError(f"this song plays for {seconds / 60:.0f} minutes at {melody.bpm:g} bpm; the limit is "
                         f"{MAX_SONG_SECONDS // 60} minutes. Cut it shorter and try again")
    clips = split_clips(melody.tokens)
    latents = analysis.encode_mu(model, clips)
    accuracy = float((analysis.decode_z(model, latents) == clips).mean())
    tracks = [(f"{t['index'] + 1}. {t['name']} ({t['notes']} notes)", t["index"]) for t in melody.instruments
              if t["notes"] and not t["is_drum"]]
    stem = safe_stem(name)
    roll = render.piano_roll(melody.tokens, title=f"{name}: original, {len(melody.tokens) // STEPS_PER_BAR} bars")
    audio, synth = render.synthesize(melody.tokens, melody.bpm)
    return Song(key=key, name=name, tokens=melody.tokens, bpm=melody.bpm, latents=latents, example=example,
                meter=melody.meter, warnings=list(melody.warnings), tracks=tracks, track=melody.instrument,
                accuracy=accuracy, roll_path=write_output(render.png_bytes(roll), f"{stem}-original.png"),
                audio_path=write_output(render.wav_bytes(audio), f"{stem}-original.wav"), synth=synth)


def safe_stem(name: str) -> str:
    """A file-name-safe version of a song name."""
    return re.sub(r"[^\w.+-]+", "_", name).strip("._")[:60] or "song"


# ----------------------------------------------------------------------------- knobs


def _check_range(name: str, value: float, bounds: tuple[float, float], unit: str) -> float:
    value = float(value)
    if not bounds[0] <= value <= bounds[1]:
        raise ValueError(f"{name} must be between {bounds[0]:+g} and {bounds[1]:+g} {unit}, got {value:g}")
    return value


@dataclass(frozen=True)
class Knobs:
    """Where the knobs stand (DESIGN "Knob effects" for the units)."""

    pitch: float = 0.0  # semitones
    rhythm: float = 0.0  # splits
    residual: float = 0.0  # standard deviations
    control: bool = False  # move the pitch and rhythm amounts onto random non-significant dims instead
    bars: tuple[int, int] | None = None  # (first, last) bar, counted from 1, both included; None: all
    offsets: tuple[float, ...] = ()  # raw latent move per pitch dim, then per rhythm dim

    def checked(self, n_bars: int, n_offsets: int) -> Knobs:
        """These knobs, validated for a song of ``n_bars`` and a model with ``n_offsets`` dims.

        A bar range that covers the whole song becomes None. Raises ValueError when out of range.
        """
        _check_range("pitch", self.pitch, PITCH_RANGE, "semitones")
        _check_range("rhythm", self.rhythm, RHYTHM_RANGE, "splits")
        _check_range("residual", self.residual, RESIDUAL_RANGE, "standard deviations")
        offsets = tuple(float(v) for v in self.offsets) or (0.0,) * n_offsets
        if len(offsets) != n_offsets:
            raise ValueError(f"expected {n_offsets} per-dimension offsets (pitch dims, then rhythm dims), "
                             f"got {len(offsets)}")
        for value in offsets:
            _check_range("a per-dimension offset", value, OFFSET_RANGE, "latent units")
        bars = self.bars
        if bars is not None:
            first, last = (int(b) for b in bars)
            if not 1 <= first <= last <= n_bars:
                raise ValueError(f"the bar range must satisfy 1 <= from <= to <= {n_bars} (this song has "
                                 f"{n_bars} bars), got {first} to {last}")
            bars = None if (first, last) == (1, n_bars) else (first, last)
        return replace(self, bars=bars, offsets=offsets)


    def clamped(self) -> Knobs:
        """These knobs with every amount moved into its range (for values read from a link)."""
        def clip(value: float, bounds: tuple[float, float]) -> float:
            return float(min(max(value, bounds[0]), bounds[1]))

        return replace(self, pitch=clip(self.pitch, PITCH_RANGE), rhythm=clip(self.rhythm, RHYTHM_RANGE),
                       residual=clip(self.residual, RESIDUAL_RANGE),
                       offsets=tuple(clip(v, OFFSET_RANGE) for v in self.offsets))


def parse_offsets(text: str | None) -> tuple[float, ...]:
    """Per-dimension offsets written "0.5,0,-1" (pitch dims, then rhythm dims); "" or None: none given."""
    try:
        return tuple(float(v) for v in (text or "").replace(" ", "").split(",") if v)
    except ValueError:
        raise ValueError(f"per-dimension offsets must be numbers separated by commas, like 0.5,0,-1; got {text!r}") \
            from None


def offset_vector(dims: dict, offsets: tuple[float, ...]) -> torch.Tensor:
    """FloatTensor (D,) with ``offsets`` on the pitch dims, then the rhythm dims, zeros elsewhere."""
    out = torch.zeros(dims["latent_dim"])
    for d, value in zip(torch.cat([dims["pitch_dims"], dims["rhythm_dims"]]).tolist(), offsets, strict=True):
        out[d] += float(value)
    return out


def clip_rows(n_clips: int, bars: tuple[int, int] | None) -> slice:
    """The clips that hold any of bars (first, last), counted from 1 (clip i holds bars 2i+1, 2i+2)."""
    if bars is None:
        return slice(0, n_clips)
    return slice((bars[0] - 1) // 2, min(n_clips, (bars[1] - 1) // 2 + 1))


def apply_knobs(model: MusicVAE, dims: dict, song: Song, knobs: Knobs) -> np.ndarray:
    """The song with the knobs turned: tokens (T,).

    Every clip in the bar range is moved and decoded (one batch); clips outside it keep their
    original notes, so that only the chosen bars change.
    """
    n_offsets = len(dims["pitch_dims"]) + len(dims["rhythm_dims"])
    knobs = knobs.checked(song.n_bars, n_offsets)
    rows = clip_rows(song.n_clips, knobs.bars)
    moved = analysis.modulate(model, song.latents[rows], dims, pitch=knobs.pitch, rhythm=knobs.rhythm,
                              residual=knobs.residual, control=knobs.control, seed=CONTROL_SEED,
                              offset=offset_vector(dims, knobs.offsets))
    clips = split_clips(song.tokens)
    clips[rows] = moved.reshape(-1, CLIP_STEPS)
    return clips.reshape(-1)[: len(song.tokens)]


# The app hands gradio files written by write_output, never arrays: gradio rewrites an array's cache file on
# every answer, so a user downloading it while another user gets the same answer would receive half a file.


def audio_file(tokens: np.ndarray, bpm: float, stem: str) -> Path:
    """Write the song's audio as ``<stem>.wav`` under ``OUT_DIR`` and return its path."""
    audio, _ = render.synthesize(tokens, bpm)
    return write_output(render.wav_bytes(audio), f"{safe_stem(stem)}.wav")


def image_file(image: np.ndarray, stem: str) -> Path:
    """Write an RGB image (H, W, 3) as ``<stem>.png`` under ``OUT_DIR`` and return its path."""
    return write_output(render.png_bytes(image), f"{safe_stem(stem)}.png")


def midi_file(tokens: np.ndarray, bpm: float, stem: str) -> Path:
    """Write the song as ``<stem>.mid`` under ``OUT_DIR`` and return its path."""
    return write_output(render.midi_bytes(tokens, bpm), f"{safe_stem(stem)}.mid")


def result_stem(song: Song, knobs: Knobs) -> str:
    """A file name for a knob result, e.g. 'twinkle_pitch+3_rhythm+1'."""
    parts = [song.name] + [f"{name}{value:+g}" for name, value in
                           (("pitch", knobs.pitch), ("rhythm", knobs.rhythm), ("residual", knobs.residual)) if value]
    if any(knobs.offsets):
        parts.append("dims")
    if knobs.control:
        parts.append("control")
    return safe_stem("_".join(parts))


def song_summary(song: Song) -> str:
    """One Markdown line about a loaded song."""
    written = "" if song.meter == "4/4" else f" (written in {song.meter})"
    return (f"**{song.name}**: {song.n_bars} bars of 4/4{written}, {song.n_clips} two-bar clips, {song.bpm:g} bpm. "
            f"The model reconstructs {100 * song.accuracy:.1f} % of its steps with every knob at 0.")
