"""A model folder on disk: ``config.json`` (the fields of :class:`vae.model.VAEConfig`) and
``model.safetensors``, read strictly and written with the model card and companion files.

Weights are only ever read with safetensors, never unpickled.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import safetensors.torch

from vae.model import MusicVAE, VAEConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
# The fields that fix the tensors' shapes: a config without them would build a model the weights cannot be
# checked against (the others, e.g. beta, only matter for training and take their defaults).
SHAPE_FIELDS = ("n_states", "seq_len", "latent_dim", "enc_hidden", "enc_layers", "dec_hidden", "dec_layers")
# Largest |weight| believed: the shipped models stay below 4, and one flipped exponent bit turns any weight
# above 1e-32 into more than 1e6 (or into inf / NaN).
MAX_WEIGHT = 1e6
LFS_POINTER = b"version https://git-lfs"  # what a clone without git-lfs holds instead of the weights


def weights_sha256(path: str | Path) -> str:
    """The sha256 (hex) of a weights file: what dims.json and report.json record as ``weights_sha256``."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_config(path: Path) -> VAEConfig:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path.parent} has no {CONFIG_FILE}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{CONFIG_FILE} is not valid JSON ({err})") from err
    if isinstance(data, dict):
        missing = [name for name in SHAPE_FIELDS if name not in data]
        if missing:
            raise ValueError(f"{CONFIG_FILE} lacks {', '.join(missing)} (the sizes the weights were built with); "
                             "write model folders with vae.checkpoint.save_model")
        try:
            return VAEConfig.from_dict(data)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{CONFIG_FILE} does not describe a MusicVAE: {err}") from err
    raise ValueError(f"{CONFIG_FILE} must hold a JSON object of VAEConfig fields, got {type(data).__name__}")


def build_model(config_path: str | Path, weights_path: str | Path) -> MusicVAE:
    """Build a MusicVAE from a config.json and load a model.safetensors into it, strictly.

    Args:
        config_path: JSON object whose keys are :class:`VAEConfig` fields (unknown keys are refused).
        weights_path: safetensors file whose tensor names and shapes match the config exactly.

    Returns:
        The model, in eval mode.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: the config is not valid, the weights file is not readable safetensors, or the
            weights do not fit the config (missing, unexpected or differently shaped tensors).
    """
    config_path, weights_path = Path(config_path), Path(weights_path)
    config = _read_config(config_path)
    if not weights_path.is_file():
        raise FileNotFoundError(f"{weights_path.parent} has no {WEIGHTS_FILE}")
    with weights_path.open("rb") as f:
        if f.read(len(LFS_POINTER)) == LFS_POINTER:
            raise ValueError(f"{WEIGHTS_FILE} is a Git LFS pointer, not the weights: run `git lfs pull` in the "
                             "repository (or download the file itself)")
    try:
        state = safetensors.torch.load_file(weights_path)
    except Exception as err:  # SafetensorError has no public base class to catch
        raise ValueError(f"{WEIGHTS_FILE} is not a readable safetensors file ({err})") from err
    damaged = sorted(name for name, tensor in state.items() if tensor.is_floating_point()
                     and not (tensor.abs() <= MAX_WEIGHT).all())  # NaN compares False
    if damaged:  # a flipped exponent bit, or a training run that diverged
        raise ValueError(f"{WEIGHTS_FILE} is damaged: {', '.join(damaged[:3])} hold NaN, infinite or absurd values "
                         f"(|w| > {MAX_WEIGHT:g})")
    try:
        model = MusicVAE(config)
    except (TypeError, ValueError, RuntimeError) as err:
        raise ValueError(f"{CONFIG_FILE} does not describe a buildable MusicVAE ({err})") from err
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        details = " ".join(str(err).split())
        raise ValueError(f"the weights in {WEIGHTS_FILE} do not fit {CONFIG_FILE}: {details[:400]}") from err
    return model.eval()


def load_folder(folder: str | Path) -> MusicVAE:
    """Load the model folder written by :func:`save_model` (config.json + model.safetensors), strictly.

    Raises:
        FileNotFoundError: the folder or one of its two files is missing.
        ValueError: see :func:`build_model`.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"no model folder at {folder}")
    return build_model(folder / CONFIG_FILE, folder / WEIGHTS_FILE)


def save_model(model: MusicVAE, folder: str | Path, extra_files: dict[str, Path | str] | None = None) -> Path:
    """Write a model folder: config.json, model.safetensors, a README.md model card, and extra files.

    Args:
        model: the model to save.
        folder: created if needed; existing files of the same names are replaced.
        extra_files: file name in the folder -> a :class:`~pathlib.Path` to copy there, or a
            ``str`` that is written as the file's text (e.g. ``{"dims.json": Path("runs/x/dims.json"),
            "README.md": card_text}``). A README.md given here replaces the generated card.

    Returns:
        The folder.
    """
    folder = Path(folder)
    extra_files = dict(extra_files or {})
    for name in extra_files:
        if Path(name).name != name or name in (CONFIG_FILE, WEIGHTS_FILE):
            raise ValueError(f"extra file names must be plain file names other than {CONFIG_FILE} and "
                             f"{WEIGHTS_FILE}, got {name!r}")
    for name, content in extra_files.items():
        if isinstance(content, Path) and not content.is_file():
            raise FileNotFoundError(f"extra file {name!r}: no file at {content}")
    model.save_pretrained(folder)
    for name, content in extra_files.items():
        if isinstance(content, Path):
            shutil.copyfile(content, folder / name)
        else:
            (folder / name).write_text(str(content), encoding="utf-8")
    return folder
