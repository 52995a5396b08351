"""What the page lets through (Gradio UI only): library errors as one sentence, numbers checked, private events.

Shared by the tab modules of ``ui/``; the logic itself lives in ``vae/``.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import time

import gradio as gr

from vae import timing

logger = logging.getLogger("melody_knobs")


def user_errors(fn):
    """Show a library ValueError to the user as a gr.Error, logged as one line (a user's mistake, not a bug).
    A generator (a handler that answers in steps) stays one, so that gradio sends each step as it comes. The
    handler's time is recorded as ``handler:<name>`` (its first answer; ``:all`` to its last) when
    ``$MELODY_KNOBS_TIMINGS`` is set (:mod:`vae.timing`)."""
    stage = f"handler:{fn.__name__}"

    def refuse(err: ValueError) -> gr.Error:
        logger.info("refused (%s): %s", fn.__name__, err)
        return gr.Error(str(err), print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def steps(*args, **kwargs):
            start, first = time.perf_counter(), True
            try:
                for item in fn(*args, **kwargs):
                    if first:
                        timing.record(stage, time.perf_counter() - start)
                        first = False
                    yield item
            except ValueError as err:
                raise refuse(err) from None
            finally:
                timing.record(f"{stage}:all", time.perf_counter() - start)
        return steps

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        except ValueError as err:
            raise refuse(err) from None
        finally:
            timing.record(stage, time.perf_counter() - start)
    return wrapper


def private(name: str) -> dict:  # events of the page itself, not offered to API clients
    return {"api_name": name, "api_visibility": "private"}


def _finite(preprocess, name: str, optional: bool):
    """``preprocess`` of a number input, first refusing what is not a finite number with one sentence."""
    def checked(payload):
        if (payload is not None or not optional) and (isinstance(payload, bool) or not isinstance(payload, (int, float))
                                                      or not math.isfinite(payload)):
            raise gr.Error(f"{name} must be a finite number, got {str(payload)[:40]!r}")
        return preprocess(payload)
    return checked


def refuse_non_numbers(demo: gr.Blocks) -> None:
    """API callers may send anything: a number input given a string, NaN or ±inf answers one sentence that
    names the parameter (gradio's own answer is a generic "the upstream app raised an exception", or a NaN
    that passes its range check)."""
    names: dict[int, str] = {}
    for dependency in demo.fns.values():
        try:
            params = list(inspect.signature(dependency.fn).parameters)
        except (TypeError, ValueError):
            continue
        for param, block in zip(params, dependency.inputs):
            names.setdefault(block._id, param)
    for block in demo.blocks.values():
        if isinstance(block, (gr.Number, gr.Slider)):
            block.preprocess = _finite(block.preprocess, names.get(block._id) or block.label or "a number",
                                       optional=isinstance(block, gr.Number))  # an empty Number is None


def as_faithful(value) -> bool:
    """The 'faithful to the song' switch as the page or an API call gives it: a checkbox's bool, or a link's
    or a client's text ('0', 'false', 'no' and 'off' turn it off). None means the default, on."""
    if value is None or isinstance(value, bool):
        return value is None or value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on", ""):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"faithful must be true or false, got {str(value)[:40]!r}")


def as_lossless(audio_format) -> bool:
    """The API's ``audio_format``: "mp3" (None, the default: compressed, as the page plays it) or "wav" (lossless)."""
    text = "mp3" if audio_format is None else str(audio_format).strip().lower().lstrip(".")
    if text not in ("mp3", "wav"):
        raise ValueError(f"audio_format must be 'mp3' or 'wav', got {str(audio_format)[:40]!r}")
    return text == "wav"
