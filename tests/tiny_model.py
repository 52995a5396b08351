"""A tiny model folder for app tests and app development while the real model trains.

    python tests/tiny_model.py /tmp/tiny_model    # then: python app.py --model /tmp/tiny_model

The folder holds config.json and model.safetensors of ``MusicVAE(PRESETS["tiny"])`` (seeded, untrained)
and a dims.json from :func:`vae.dims.discover_dims` on seeded synthetic clips; never the shipped
weights. An untrained model's knob directions are tiny (~0.002 per semitone), so the pitch and rhythm
directions are rescaled to ``KNOB_NORM`` per unit: app tests check that a knob reaches the model and
changes what it decodes, not the musical effect (the real model's report measures that).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from vae.checkpoint import save_model
from vae.dims import Discovery, discover_dims
from vae.melody import CLIP_STEPS, HOLD, notes_to_tokens
from vae.model import PRESETS, MusicVAE, set_seed

KNOB_NORM = 0.5  # latent units per knob unit (semitone, split) in the tiny model's dims.json


def synthetic_clips(n: int = 64, seed: int = 0) -> np.ndarray:
    """int64 (n, 32): random melodies of notes of 1-8 steps between C4 and C6."""
    rng = np.random.default_rng(seed)
    clips = []
    for _ in range(n):
        notes, step = [], 0
        while step < CLIP_STEPS:
            length = int(rng.choice([1, 2, 4, 8]))
            notes.append((step, step + length, int(rng.integers(60, 84))))
            step += length
        clips.append(notes_to_tokens(notes, n_steps=CLIP_STEPS))
    out = np.stack(clips)
    assert (out[:, 0] != HOLD).all()
    return out


def make_tiny_model_folder(folder: str | Path, seed: int = 0, with_dims: bool = True) -> Path:
    """Write a tiny model folder (config.json, model.safetensors, README.md, optionally dims.json)."""
    set_seed(seed)
    model = MusicVAE(PRESETS["tiny"]).eval()
    extra = {"README.md": "---\nlicense: mit\n---\n# Tiny test model\n\nUntrained, for tests only.\n"}
    if with_dims:
        dims = discover_dims(model, synthetic_clips(seed=seed), Discovery(n_rhythm_clips=200, seed=seed)).to_json()
        for knob in ("pitch", "rhythm"):
            direction = np.asarray(dims[f"{knob}_direction"])
            dims[f"{knob}_direction"] = (direction * KNOB_NORM / np.linalg.norm(direction)).tolist()
        # An untrained model's fitted transport maps barely move z: use translations of the same size
        # as the linear knob (a valid transport: map p adds p times the direction on the pitch dims).
        unit = np.asarray(dims["pitch_direction"])[dims["pitch_dims"]]
        eye = np.eye(len(unit))
        dims["pitch_transport"] = {key: [np.vstack([eye, sign * p * unit]).tolist() for p in dims["shifts"]]
                                   for key, sign in (("forward", 1), ("backward", -1))}
        extra["dims.json"] = json.dumps(dims)
    return save_model(model, folder, extra_files=extra)


if __name__ == "__main__":
    print(make_tiny_model_folder(sys.argv[1] if len(sys.argv) > 1 else "/tmp/tiny_model"))
