"""Share links: a song and its knob settings as URL query parameters, and back.

A song that is one of the examples is named (``example=twinkle``); any other song travels in the
URL itself (``song=<code>&bpm=100``, the code of :func:`vae.melody.tokens_to_link_code`). A song read the model's
own way (μ, not fitted to the song) says so (``faithful=0``); faithful is the default and goes unsaid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np

from vae.knobs import Knobs
from vae.melody import BPM_RANGE, link_code_to_tokens, tokens_to_link_code
from vae.song import Song


@dataclass
class SharedState:
    """What a share link restores."""

    example: str | None = None
    code: str | None = None  # song code, when the song is not an example
    bpm: float | None = None
    track: int | None = None  # track of an example with several melodic tracks
    knobs: Knobs = field(default_factory=Knobs)
    faithful: bool = True  # latents fitted to the song (else μ: the model's own reading)


def share_query(song: Song, knobs: Knobs) -> str:
    """The query string (without '?') that restores ``song`` with ``knobs``."""
    params: dict[str, str] = {}
    if song.example is not None:
        params["example"] = song.example
        if song.track != min((index for _, index in song.tracks), default=song.track):
            params["track"] = str(song.track)
    else:
        params["song"] = tokens_to_link_code(song.tokens)
        params["bpm"] = f"{song.bpm:g}"
    for name in ("pitch", "rhythm", "residual"):
        value = getattr(knobs, name)
        if value:
            params[name] = f"{value:g}"
    if knobs.control:
        params["control"] = "1"
    if not song.faithful:
        params["faithful"] = "0"
    if knobs.bars is not None:
        params["bars"] = f"{knobs.bars[0]}-{knobs.bars[1]}"
    if any(knobs.offsets):
        params["dims"] = ",".join(f"{v:g}" for v in knobs.offsets)
    return urlencode(params, safe=",")


def _number(params: Mapping[str, str], name: str, default: float = 0.0) -> float:
    text = params.get(name)
    if text in (None, ""):
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"the link's {name}={text!r} is not a number") from None
    if not np.isfinite(value):
        raise ValueError(f"the link's {name}={text!r} is not a finite number")
    return value


def parse_share_query(params: Mapping[str, str]) -> SharedState:
    """Read a share link's query parameters (as :func:`share_query` writes them).

    Knob values are only parsed here; :meth:`Knobs.checked` validates them against the song.

    Raises:
        ValueError: a parameter is not a number, or the bar range is not 'first-last'.
    """
    bars = None
    if params.get("bars"):
        try:
            first, last = (int(b) for b in str(params["bars"]).split("-"))
        except ValueError:
            raise ValueError(f"the link's bars={params['bars']!r} is not a range like 3-6") from None
        bars = (first, last)
    offsets: tuple[float, ...] = ()
    if params.get("dims"):
        offsets = tuple(_number({"dims": v}, "dims") for v in str(params["dims"]).split(","))
    knobs = Knobs(pitch=_number(params, "pitch"), rhythm=_number(params, "rhythm"),
                  residual=_number(params, "residual"), control=params.get("control") in ("1", "true", "yes"),
                  bars=bars, offsets=offsets)
    code = params.get("song") or None
    bpm = _number(params, "bpm", 120.0) if code else None
    if bpm is not None and not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
        raise ValueError(f"the link's tempo {bpm:g} bpm is outside {BPM_RANGE[0]:g}-{BPM_RANGE[1]:g}")
    track = int(_number(params, "track", -1))
    return SharedState(example=None if code else (params.get("example") or None), code=code, bpm=bpm,
                       track=None if track < 0 or code else track, knobs=knobs,
                       faithful=str(params.get("faithful", "1")).lower() not in ("0", "false", "no"))


def restore(params: Mapping[str, str], examples: Mapping[str, object], n_offsets: int) -> tuple[SharedState, list[str]]:
    """What a share link restores, made safe to show: (state, problems to tell the user).

    A link that cannot be read (a parameter or its song damaged), or names an example that is not in
    ``examples``, restores the default song; its knobs are clamped to their ranges (and said so) and its
    offsets padded or cut to ``n_offsets``. Each problem is one sentence for the user.
    """
    problems = []
    try:
        shared = parse_share_query(params)
        if shared.code:
            link_code_to_tokens(shared.code)  # a damaged song: the whole link falls back, not an empty page
    except ValueError as err:
        problems.append(f"This link could not be read ({err}); showing the default song.")
        shared = SharedState()
    if shared.example is not None and shared.example not in examples:
        problems.append(f"This link names an example that is not here ({shared.example!r}); showing the default song.")
        shared.example = None
    knobs = shared.knobs.clamped()
    if knobs != shared.knobs:
        problems.append("This link's knobs were outside their ranges; they are set to the nearest values.")
    shared.knobs = replace(knobs, offsets=tuple((list(knobs.offsets) + [0.0] * n_offsets)[:n_offsets]))
    return shared, problems


def page_url(headers: Mapping[str, str]) -> str:
    """The app page's URL without query, from the headers of a browser's request.

    The Referer of a request from the page is the page itself; behind a proxy (a Space) the
    forwarded host and protocol are used when there is no Referer. "" when neither is there.
    """
    referer = headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))
    host = headers.get("x-forwarded-host") or headers.get("host")
    return f"{headers.get('x-forwarded-proto', 'http')}://{host}/" if host else ""


def share_url(base: str, song: Song, knobs: Knobs) -> str:
    """``base`` (the page URL) with the query that restores ``song`` and ``knobs``."""
    return f"{base or '/'}?{share_query(song, knobs)}"
