"""Damaged model folders: truncated and bit-flipped weights, a Git LFS pointer, configs with extra or missing
fields, and a dims.json from another model. Each is refused with its reason; a refused model folder falls
back to the bundled weights (as a failing Hub does) and the app says why; a refused dims.json is replaced
by dims computed at start-up, with a note that says why.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
import torch
from tiny_model import make_tiny_model_folder

import app
from ui import store
from vae.bundle import load_bundle
from vae.checkpoint import CONFIG_FILE, MAX_WEIGHT, WEIGHTS_FILE, load_folder, weights_sha256
from vae.hub import PAPER_DIR, load_model


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """Two tiny model folders of different weights, both with a dims.json that records its weights' sha256."""
    out = {}
    for name, seed in (("bundled", 0), ("other", 1)):
        folder = make_tiny_model_folder(tmp_path_factory.mktemp(name), seed=seed)
        dims = json.loads((folder / "dims.json").read_text())
        dims["weights_sha256"] = weights_sha256(folder / WEIGHTS_FILE)  # as training/inspect_latent.py writes it
        (folder / "dims.json").write_text(json.dumps(dims))
        out[name] = folder
    return out


@pytest.fixture
def user_folder(folders, tmp_path) -> Path:
    """A copy of the 'other' folder to damage."""
    return Path(shutil.copytree(folders["other"], tmp_path / "user_model"))


def _header_size(data: bytes) -> int:
    return 8 + struct.unpack("<Q", data[:8])[0]


def _flip(data: bytes, at: int, mask: int) -> bytes:
    out = bytearray(data)
    out[at] ^= mask
    return bytes(out)


def _first_weight_at(data: bytes, value_above: float = 0.0) -> int:
    """Byte offset of the first float32 weight whose |value| is above ``value_above`` (little endian)."""
    start = _header_size(data)
    for at in range(start, len(data), 4):
        (value,) = struct.unpack("<f", data[at:at + 4])
        if abs(value) > value_above:
            return at
    raise AssertionError("no such weight")


DAMAGE = {
    "truncated-half": (lambda d: d[: len(d) // 2], "not a readable safetensors file"),
    "truncated-by-one-byte": (lambda d: d[:-1], "not a readable safetensors file"),
    "a-byte-too-many": (lambda d: d + b"\x00", "not a readable safetensors file"),
    "bit-flip-header-length": (lambda d: _flip(d, 3, 0x10), "not a readable safetensors file"),
    "bit-flip-header-json": (lambda d: _flip(d, 8, 0x10), "not a readable safetensors file"),
    "bit-flip-tensor-name": (lambda d: _flip(d, 20, 0x10), "do not fit config.json"),
    # the exponent's top bit of a float32 weight (byte 3 of 4, little endian): |w| < 1 becomes > 1e6 ...
    "bit-flip-exponent-small-weight": (lambda d: _flip(d, _first_weight_at(d) + 3, 0x40), "absurd values"),
    # ... and 1 <= |w| < 2 (exponent 127) becomes inf or NaN
    "bit-flip-exponent-to-inf": (lambda d: _to_inf(d), "NaN, infinite or absurd"),
    "git-lfs-pointer": (lambda d: b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"0" * 64
                        + b"\nsize 336896\n", "Git LFS pointer"),
    "empty": (lambda d: b"", "not a readable safetensors file"),
}


def _to_inf(data: bytes) -> bytes:
    """Set one weight to 1.5 (exponent 127), then flip its exponent's top bit: +inf-or-NaN territory."""
    at = _first_weight_at(data)
    out = bytearray(data)
    out[at:at + 4] = struct.pack("<f", 1.5)
    out[at + 3] ^= 0x40
    (value,) = struct.unpack("<f", out[at:at + 4])
    assert not torch.isfinite(torch.tensor(value)), value
    return bytes(out)


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damaged_weights_are_refused_and_fall_back_to_the_bundled_ones(folders, user_folder, damage):
    make, reason = DAMAGE[damage]
    weights = user_folder / WEIGHTS_FILE
    weights.write_bytes(make(weights.read_bytes()))
    with pytest.raises(ValueError, match=reason):
        load_folder(user_folder)
    with pytest.raises((OSError, ValueError), match=reason):
        load_model(str(user_folder), fallback=False)
    model = load_model(str(user_folder), bundled_dir=folders["bundled"])
    info = model.source_info
    assert (info.source, info.requested) == ("bundled", str(user_folder))
    assert reason in info.fallback_reason and "\n" not in info.fallback_reason
    assert torch.equal(model.to_mu.weight, load_folder(folders["bundled"]).to_mu.weight)


def test_trained_and_tiny_weights_stay_far_below_the_limit(folders):
    for model in (load_folder(folders["bundled"]), load_folder(PAPER_DIR)):
        assert max(float(p.detach().abs().max()) for p in model.parameters()) < MAX_WEIGHT / 1e5


def test_a_mantissa_bit_flip_loads_but_its_dims_json_no_longer_fits(folders, user_folder, monkeypatch):
    """A flip in a weight's low bits leaves a plausible model: only the recorded hash can tell."""
    weights = user_folder / WEIGHTS_FILE
    weights.write_bytes(_flip(weights.read_bytes(), _first_weight_at(weights.read_bytes()), 0x01))
    bundle = load_bundle(str(user_folder))
    assert bundle.source_info.source == "local" and bundle.dims_computed
    assert "dims.json is not usable (it was measured on other weights" in bundle.dims_note


@pytest.mark.parametrize(("edit", "reason"), [
    (lambda c: c.update(attention=True), "unknown config fields ['attention']"),
    (lambda c: c.pop("enc_hidden"), "config.json lacks enc_hidden (the sizes the weights were built with)"),
    (lambda c: [c.pop(k) for k in ("latent_dim", "dec_layers")], "config.json lacks latent_dim, dec_layers"),
    (lambda c: c.update(latent_dim="sixteen"), "config.json does not describe"),
    (lambda c: c.update(kl_norm="max"), "kl_norm must be 'mean' or 'sum'"),
    (lambda c: c.update(dec_hidden=65), "do not fit config.json"),
], ids=["extra-field", "missing-size", "missing-two-sizes", "string-size", "bad-value", "other-size"])
def test_a_config_with_extra_missing_or_wrong_fields_is_refused_with_its_reason(folders, user_folder, edit, reason):
    config = json.loads((user_folder / CONFIG_FILE).read_text())
    edit(config)
    (user_folder / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(ValueError) as info:
        load_folder(user_folder)
    assert reason in str(info.value)
    model = load_model(str(user_folder), bundled_dir=folders["bundled"])
    assert model.source_info.source == "bundled" and reason in model.source_info.fallback_reason


def test_a_config_missing_only_training_fields_loads_with_their_defaults(user_folder):
    config = json.loads((user_folder / CONFIG_FILE).read_text())
    for name in ("beta", "kl_norm", "dropout", "reg_attributes", "reg_gamma", "reg_delta"):
        config.pop(name, None)
    (user_folder / CONFIG_FILE).write_text(json.dumps(config))
    assert load_folder(user_folder).config.beta == 0.1


def test_a_dims_json_of_another_model_is_refused_and_the_dims_are_computed_with_a_note(folders, user_folder,
                                                                                      tmp_path, monkeypatch):
    shutil.copyfile(folders["bundled"] / "dims.json", user_folder / "dims.json")
    own = load_bundle(str(folders["other"]))
    assert not own.dims_computed and own.dims_note.startswith("Pitch and rhythm dims from dims.json")
    bundle = load_bundle(str(user_folder))
    assert bundle.source_info.source == "local" and bundle.dims_computed
    expected, actual = weights_sha256(folders["bundled"] / WEIGHTS_FILE), weights_sha256(user_folder / WEIGHTS_FILE)
    assert (f"**dims.json is not usable (it was measured on other weights (sha256 {expected[:12]}…, this "
            f"model.safetensors is {actual[:12]}…): it belongs to another model, or the weights changed since) in "
            in bundle.dims_note), bundle.dims_note
    assert "computed at start-up" in bundle.dims_note

    monkeypatch.setattr(store, "OUT_DIR", tmp_path / "out")
    demo = app.build_demo(bundle)
    texts = [b.value for b in demo.blocks.values() if type(b).__name__ == "Markdown" and isinstance(b.value, str)]
    assert any("it was measured on other weights" in t and t.startswith("# Melody Knobs") for t in texts), "banner"
    assert any("it was measured on other weights" in t and t.startswith("### Where the weights") for t in texts)


def test_the_app_falls_back_from_a_truncated_folder_and_says_why(folders, user_folder, tmp_path, monkeypatch):
    weights = user_folder / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[:1000])
    monkeypatch.setattr("vae.hub.BUNDLED_DIR", folders["bundled"])
    monkeypatch.setattr(store, "OUT_DIR", tmp_path / "out")
    bundle = load_bundle(str(user_folder))
    assert bundle.source_info.source == "bundled" and not bundle.dims_computed
    demo = app.build_demo(bundle)
    texts = [b.value for b in demo.blocks.values() if type(b).__name__ == "Markdown" and isinstance(b.value, str)]
    assert any(f"{user_folder} could not be loaded** (model.safetensors is not a readable safetensors file" in t
               for t in texts), "banner"
    assert any("| fallback reason | model.safetensors is not a readable safetensors file" in t for t in texts)
