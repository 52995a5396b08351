"""Melody Knobs: a MusicVAE of 2-bar melodies with pitch, rhythm and residual knobs."""

from vae.model import PRESETS, MusicVAE, VAEConfig, set_seed

__all__ = ["PRESETS", "MusicVAE", "VAEConfig", "load_model", "set_seed"]


def __getattr__(name):
    if name == "load_model":
        from vae.hub import load_model

        return load_model
    raise AttributeError(name)
