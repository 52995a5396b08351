"""The model run over many clips: μ of clips and greedy decodes of latents, in batches.

Every function takes a model with ``encode(LongTensor (B, 32)) -> (mu, logvar)`` and
``decode(z) -> LongTensor (B, 32)``, works in batches under ``torch.no_grad`` with the model in
eval mode (restored afterwards), and returns numpy arrays or CPU tensors. Long runs accept
``progress(fraction, message)``, called after every batch, for a UI progress bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor

from vae.melody import check_clips
from vae.timing import timed

Progress = Callable[[float, str], None]

BATCH_SIZE = 512  # clips per encoder / decoder call


class Tracker:
    """Counts batches across the stages of one call and reports the overall fraction."""

    def __init__(self, progress: Progress | None, total: int):
        self.progress, self.total, self.done = progress, max(total, 1), 0

    def step(self, message: str) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(min(self.done / self.total, 1.0), message)


def n_batches(n: int, batch_size: int = BATCH_SIZE) -> int:
    """How many batches ``n`` clips take (at least one)."""
    return max(1, math.ceil(n / batch_size))


@contextmanager
def inference(model) -> Iterator[None]:
    """Eval mode and no gradients for the block; the model's training mode comes back after."""
    was_training = getattr(model, "training", False)
    if hasattr(model, "eval"):
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training:
            model.train()


def device_of(model) -> torch.device:
    """The device of the model's first parameter (CPU for a model without any)."""
    params = getattr(model, "parameters", None)
    first = next(iter(params()), None) if params is not None else None
    return first.device if first is not None else torch.device("cpu")


def encode_batches(model, clips: np.ndarray, tracker: Tracker, message: str, batch_size: int = BATCH_SIZE) -> Tensor:
    """μ of clips (N, 32) batch by batch, inside :func:`inference`: FloatTensor (N, D) on the CPU."""
    device, out = device_of(model), []
    for start in range(0, len(clips), batch_size):
        mu, _ = model.encode(torch.as_tensor(clips[start:start + batch_size], device=device))
        out.append(mu.float().cpu())
        tracker.step(message)
    return torch.cat(out)


@timed("encode")
def encode_mu(model, clips: np.ndarray, batch_size: int = BATCH_SIZE, progress: Progress | None = None) -> Tensor:
    """μ of every clip: FloatTensor (N, D) on the CPU, for clips int array (N, 32)."""
    clips = check_clips(clips)
    with inference(model):
        return encode_batches(model, clips, Tracker(progress, n_batches(len(clips), batch_size)), "encoding",
                              batch_size)


@timed("decode")
def decode_z(model, z: Tensor, batch_size: int = BATCH_SIZE) -> np.ndarray:
    """Greedy decode of latents z (N, D) into clips: int64 array (N, 32).

    Equal rows are decoded once: a song's repeated clips, moved by the same knobs, stay equal
    (Twinkle's 6 clips are 3 distinct ones).
    """
    z = torch.as_tensor(z, dtype=torch.float32)
    distinct, inverse = torch.unique(z, dim=0, return_inverse=True)
    device, out = device_of(model), []
    with inference(model):
        for start in range(0, len(distinct), batch_size):
            out.append(model.decode(distinct[start:start + batch_size].to(device)).cpu().numpy())
    return np.concatenate(out).astype(np.int64)[inverse.cpu().numpy()]
