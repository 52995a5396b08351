"""Bundle: a loaded model with its knob space, model card and report, and where they all came from.

The app loads one bundle at start and shares it read-only between all users; the model folder's
``dims.json`` gives the knobs, and where it is missing or does not fit the model they are found at
start on the example songs' clips (:func:`vae.dims.discover_dims`), and ``dims_note`` says so.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vae import hub, render
from vae.checkpoint import WEIGHTS_FILE, weights_sha256
from vae.dims import KnobSpace, discover_dims
from vae.inference import Progress, encode_z
from vae.melody import clip_is_valid, load_melody, split_clips
from vae.model import MusicVAE
from vae.song import example_songs

logger = logging.getLogger(__name__)

DIMS_FILE, REPORT_FILE, CARD_FILE = "dims.json", "report.json", "README.md"
MODELS_HELP = ("regularised: pitch and onset count tied to latent dims 0 and 1 (the knobs keep their labels); "
               "paper: the paper's recipe, no regularisation")


@dataclass
class Bundle:
    """A loaded model with everything the app shows about it."""

    model: MusicVAE
    space: KnobSpace  # the knobs: their dims, directions, maps and curves
    dims_note: str  # where the dims came from, a sentence for the user
    dims_computed: bool  # True when dims.json was missing or unusable and the dims were found at start
    card: str | None  # README.md of the model folder (the model card), without front matter
    report: dict | None  # report.json of the model folder
    source_info: hub.SourceInfo
    card_dir: Path | None = None  # the folder the card's relative links start from

    def notices(self) -> list[str]:
        """What the user should know about this model and the audio it plays, one Markdown sentence each."""
        out = []
        if reason := render.fluidsynth_unavailable_reason():
            out.append(f"**Audio falls back to plain sine tones**: {reason}.")
        if reason := render.page_audio_unavailable_reason():
            out.append(f"**Audio is sent uncompressed (WAV)**: {reason}.")
        if self.source_info.fallback_reason:
            out.append(f"**{self.source_info.requested} could not be loaded** ({self.source_info.fallback_reason}); "
                       "using the bundled weights.")
        return out + [self.dims_note] * self.dims_computed


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


def _check_weights_hash(raw: dict, model: MusicVAE) -> None:
    """Raise ValueError when dims.json names the sha256 of other weights than the model's (see weights_sha256)."""
    expected = raw.get("weights_sha256")
    weights = Path(model.source_info.path) / WEIGHTS_FILE
    if not expected or not weights.is_file():
        return  # dims.json written before the hash was recorded (or by discover_dims alone)
    actual = weights_sha256(weights)
    if actual != expected:
        raise ValueError(f"it was measured on other weights (sha256 {str(expected)[:12]}…, this {WEIGHTS_FILE} is "
                         f"{actual[:12]}…): it belongs to another model, or the weights changed since")


def _read_dims(model: MusicVAE, where: str) -> tuple[KnobSpace | None, str | None]:
    """(space, None) from the model folder's dims.json; (None, why) when it is missing or not usable."""
    raw = _read_json(hub.model_file(model.source_info, DIMS_FILE))
    if not raw:
        return None, "was not found"
    try:
        _check_weights_hash(raw, model)
        space = KnobSpace.from_json(raw)
        if space.latent_dim != model.config.latent_dim:
            raise ValueError(f"it is for a {space.latent_dim}-dim latent, the model's is {model.config.latent_dim}")
    except ValueError as err:
        logger.warning("%s in %s is not usable (%s)", DIMS_FILE, where, err)
        return None, f"is not usable ({err})"
    return space, None


def load_bundle(source: str | None = None, revision: str | None = None, examples: dict[str, Path] | None = None,
                progress: Progress | None = None, fallback: bool = True) -> Bundle:
    """Load the model (see :func:`vae.hub.load_model`) with its dims.json, report.json and card."""
    model = hub.load_model(source, revision, fallback=fallback)
    info = model.source_info
    where = f"{info.repo_id} @ {(info.revision or '')[:7]}" if info.source == "hub" else info.path
    (space, why), note = _read_dims(model, where), f"Pitch and rhythm dims from {DIMS_FILE} in {where}."
    computed = space is None
    if computed:
        clips = example_clips(examples if examples is not None else example_songs())
        logger.warning("%s %s in %s: computing the dims from %d example clips", DIMS_FILE, why, where, len(clips))
        space = discover_dims(model, clips, progress=progress)
        note = (f"**{DIMS_FILE} {why} in {where}**, so the pitch and rhythm dims were computed at start-up "
                f"from {len(clips)} clips of the example songs (fewer than the ≥ 2,000 of the shipped analysis).")
    card = hub.model_file(info, CARD_FILE)
    card_text = strip_front_matter(card.read_text(encoding="utf-8", errors="replace")) if card else None
    return Bundle(model=model, space=space, dims_note=note, dims_computed=computed, card=card_text,
                  report=_read_json(hub.model_file(info, REPORT_FILE)), source_info=info,
                  card_dir=card.parent if card else None)


DEFAULT_MODEL, PAPER_MODEL = "regularised", "paper"  # the names the app and its API know the bundled models by


def load_bundles(source: str | None = None, revision: str | None = None, examples: dict[str, Path] | None = None,
                 progress: Progress | None = None, paper_dir: str | Path | None = None) -> dict[str, Bundle]:
    """The app's models by name: the default (``source``, else the bundled regularised model) and the bundled
    paper-recipe model (``assets/model-paper``) when that folder loads. The default comes first. The example
    songs' latents are fitted to them here, once per model (:func:`fit_examples`), so that picking one is instant."""
    examples = examples if examples is not None else example_songs()
    bundles = {DEFAULT_MODEL: load_bundle(source, revision, examples, progress)}
    paper = Path(paper_dir) if paper_dir is not None else hub.PAPER_DIR
    if paper.is_dir():
        try:
            bundles[PAPER_MODEL] = load_bundle(str(paper), None, examples, progress, fallback=False)
        except (OSError, ValueError) as err:
            logger.warning("the paper-recipe model in %s is not usable (%s); serving the default model only", paper, err)
    for bundle in bundles.values():
        fit_examples(bundle.model, examples)
    return bundles


def fit_examples(model, examples: dict[str, Path]) -> None:
    """Fit the latents of every readable example song (default track) to it, into the model's cache of fitted
    songs (:func:`vae.inference.encode_z`)."""
    for path in examples.values():
        try:
            encode_z(model, split_clips(load_melody(path).tokens))
        except ValueError as err:
            logger.warning("example %s not fitted (%s)", path.name, err)


def pick_bundle(bundles: dict[str, Bundle], name: str | None) -> Bundle:
    """The bundle called ``name`` (None or "": the first, the default)."""
    if name in (None, ""):
        return next(iter(bundles.values()))
    if name not in bundles:
        raise ValueError(f"there is no model called {name!r}; choose one of {', '.join(bundles)}")
    return bundles[name]
