"""The model run over many clips: μ of clips, latents fitted to clips, and greedy decodes, in batches.

Every function takes a model with ``encode(LongTensor (B, 32)) -> (mu, logvar)`` and
``decode(z) -> LongTensor (B, 32)``, works in batches with the model in eval mode (restored
afterwards), under ``torch.no_grad`` except where :func:`fit_z` takes gradients with respect to z
(never the weights), and returns numpy arrays or CPU tensors. Faithful encoding
(:func:`encode_z`) is the one way every path that reads a user's song gets its latents. Long runs accept
``progress(fraction, message)``, called after every batch, for a UI progress bar.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
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


# ----------------------------------------------------------------------------- faithful encoding

FIT_STEPS = 300  # most Adam steps on a clip's z: most stop within 25, 1 in 10 of the hard test clips needs over 100
FIT_LR = 0.1  # Adam's step size on z, in latent units
PROGRESS_EVERY = 5  # steps between progress reports (a page's bar need not hear of every step)
FIT_CACHE_SONGS = 64  # fitted songs kept with each model (a few kB each)
_cache_lock = threading.Lock()


def _tokens_nll(model, z: Tensor, clips: Tensor) -> tuple[Tensor, Tensor]:
    """Teacher-forced NLL summed over each clip's steps (N,), and whether every step's argmax is the clip's token (N,)."""
    logits = model.decode_logits(z, clips)  # (N, 32, S)
    nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), clips, reduction="none").sum(1)  # (N,)
    return nll, (logits.argmax(-1) == clips).all(1)


@timed("fit")
def fit_z(model, clips: np.ndarray, steps: int = FIT_STEPS, lr: float = FIT_LR, progress: Progress | None = None
          ) -> tuple[Tensor, Tensor]:
    """Latents fitted to the clips they encode (semi-amortised inference, Kim et al. 2018).

    Each clip's z starts at its μ and takes Adam steps that raise the teacher-forced likelihood of
    the clip, the model's weights frozen. A clip stops as soon as its greedy decode is the clip: the
    teacher-forced argmax is the clip's token at every step exactly when greedy decoding, which feeds
    its own argmax back, reproduces the clip. A clip that never gets there keeps whichever of μ and
    its last z decodes more of its steps (μ on a tie), so fitting never does worse than μ.

    Args:
        model: the VAE.
        clips: int array (N, 32).
        steps: most Adam steps per clip; 0 returns μ.
        lr: Adam's step size.
        progress: ``progress(fraction, message)`` every ``PROGRESS_EVERY`` steps and when every clip is done.

    Returns:
        (z, mu): FloatTensors (N, D) on the CPU; equal clips get equal rows.
    """
    clips = check_clips(clips)
    distinct, inverse = np.unique(clips, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    device = device_of(model)
    x = torch.as_tensor(distinct, device=device)
    with inference(model):
        mu = torch.cat([model.encode(x[i:i + BATCH_SIZE])[0] for i in range(0, len(x), BATCH_SIZE)]).float()
    z = mu.clone()
    m, v = torch.zeros_like(z), torch.zeros_like(z)  # Adam's moments, row by row: finished rows leave the batch
    active = torch.arange(len(z), device=device)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            for step in range(1, steps + 1):
                zi = z[active].requires_grad_(True)
                nll, exact = _tokens_nll(model, zi, x[active])
                (grad,) = torch.autograd.grad(nll.sum(), zi)
                keep = ~exact  # an exact row stops at the z it has now
                active, grad = active[keep], grad[keep]
                if progress is not None and (step % PROGRESS_EVERY == 0 or not len(active)):
                    progress(step / steps, f"fitting {len(active)} of {len(z)} clips")
                if not len(active):
                    break
                m[active] = 0.9 * m[active] + 0.1 * grad
                v[active] = 0.999 * v[active] + 0.001 * grad.square()
                z[active] -= lr * (m[active] / (1 - 0.9 ** step)) / ((v[active] / (1 - 0.999 ** step)).sqrt() + 1e-8)
    finally:
        model.train(was_training)
    z = _no_worse_than(model, z, mu, distinct)
    return z.cpu()[inverse], mu.cpu()[inverse]


def _no_worse_than(model, z: Tensor, mu: Tensor, clips: np.ndarray) -> Tensor:
    """z where its greedy decode gets more of the clip's steps right than μ's, else μ (only moved rows are decoded):
    a latent leaves μ only where that helps."""
    moved = (z != mu).any(1).nonzero()[:, 0]
    if not len(moved):
        return z
    fitted, amortised = (decode_z(model, t[moved].cpu()) for t in (z, mu))
    target = clips[moved.cpu().numpy()]
    better = torch.as_tensor((fitted == target).sum(1) > (amortised == target).sum(1), device=z.device)
    out = mu.clone()
    out[moved[better]] = z[moved[better]]
    return out


def fitted_and_mu(model, clips: np.ndarray, progress: Progress | None = None) -> tuple[Tensor, Tensor]:
    """(z, μ) of a song's clips (N, 32), z fitted to them (:func:`fit_z`), each FloatTensor (N, D) on the CPU.

    Kept with the model for the last ``FIT_CACHE_SONGS`` songs, so a song read again (an example, a shared
    link) is not fitted again. A model without teacher-forced logits (``decode_logits``) cannot be fitted:
    z is μ.
    """
    if not hasattr(model, "decode_logits"):
        mu = encode_mu(model, clips, progress=progress)
        return mu, mu
    clips = check_clips(clips)
    key = hashlib.blake2b(clips.tobytes(), digest_size=16).hexdigest()
    cache = model.__dict__.setdefault("_fitted_latents", OrderedDict())  # lives and dies with the weights
    with _cache_lock:
        if key in cache:
            cache.move_to_end(key)
            return tuple(t.clone() for t in cache[key])
    z, mu = fit_z(model, clips, progress=progress)
    with _cache_lock:
        cache[key] = (z.clone(), mu.clone())
        while len(cache) > FIT_CACHE_SONGS:
            cache.popitem(last=False)
    return z, mu


def encode_z(model, clips: np.ndarray, faithful: bool = True, progress: Progress | None = None) -> Tensor:
    """The latents of a song's clips (N, 32): fitted to them (:func:`fitted_and_mu`) when ``faithful``, else μ.

    Every path that encodes a user's song (knobs, grid corners, analogy, variations, the command line, the
    report) asks here, so that ``faithful`` means the same everywhere.

    Returns:
        FloatTensor (N, D) on the CPU.
    """
    return fitted_and_mu(model, clips, progress)[0] if faithful else encode_mu(model, clips, progress=progress)


def readings(model, clips: np.ndarray, faithful: bool = True, progress: Progress | None = None
             ) -> tuple[Tensor, np.ndarray, np.ndarray]:
    """What a song's clips (N, 32) play at rest both ways, from one fit and one decode (rows where the fitted z
    is μ are decoded once).

    Returns:
        (z, played, own): the latents the knobs move (fitted when ``faithful``, else μ), FloatTensor (N, D);
        the clips they decode to and the clips μ decodes to (the model's own reading), int64 (N, 32) each.
    """
    z, mu = fitted_and_mu(model, clips, progress) if faithful else (encode_mu(model, clips, progress=progress),) * 2
    decoded = decode_z(model, torch.cat([z, mu]))
    return z, decoded[: len(z)], decoded[len(z):]
