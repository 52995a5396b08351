"""Share links: a song, its knobs, the model and the title as URL query parameters, and back (the page only).

A song that is one of the examples is named (``example=twinkle``); any other song travels in the
URL itself (``song=<code>&bpm=100``, the code of :func:`vae.melody.tokens_to_link_code`). A song read the model's
own way (μ, not fitted to the song) says so (``faithful=0``); faithful is the default and goes unsaid. A song
that is not an example carries its title (``title=...``), and a model other than the default is named
(``model=paper``), so that whoever opens the link hears the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode, urlsplit, urlunsplit

import numpy as np

from vae.knobs import Knobs
from vae.melody import BPM_RANGE, link_code_to_tokens, tokens_to_link_code
from vae.song import SHARED_SONG, Song


@dataclass
class SharedState:
    """What a share link restores."""

    example: str | None = None
    code: str | None = None  # song code, when the song is not an example
    bpm: float | None = None
    track: int | None = None  # track of an example with several melodic tracks
    knobs: Knobs = field(default_factory=Knobs)
    faithful: bool = True  # latents fitted to the song (else μ: the model's own reading)
    title: str = ""  # what the page calls a song that is not an example
    model: str = ""  # the model the link was made with ("": the default)


MAX_TITLE_CHARS = 80


def share_query(song: Song, knobs: Knobs, model: str = "") -> str:
    """The query string (without '?') that restores ``song`` with ``knobs`` (``model``: its name, "" for the
    default model, which goes unsaid)."""
    params: dict[str, str] = {"model": model} if model else {}
    if song.example is not None:
        params["example"] = song.example
        if song.track != min((index for _, index in song.tracks), default=song.track):
            params["track"] = str(song.track)
    else:
        params["song"] = tokens_to_link_code(song.tokens)
        params["bpm"] = f"{song.bpm:g}"
        if song.label != SHARED_SONG:
            params["title"] = song.label[:MAX_TITLE_CHARS]
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
        ValueError: a parameter is not a number, or the bar range is not 'first-last' (every fault, one sentence).
    """
    shared, problems = _parse(params)
    if problems:
        raise ValueError("; ".join(problems))
    return shared


def _parse(params: Mapping[str, str]) -> tuple[SharedState, list[str]]:
    """A share link's query read field by field: what could be read (the rest at its default), and each fault."""
    problems: list[str] = []

    def number(name: str, default: float = 0.0) -> float:
        try:
            return _number(params, name, default)
        except ValueError as err:
            problems.append(str(err))
            return default

    bars = None
    if params.get("bars"):
        try:
            first, last = (int(b) for b in str(params["bars"]).split("-"))
            bars = (first, last)
        except ValueError:
            problems.append(f"the link's bars={params['bars']!r} is not a range like 3-6")
    offsets: tuple[float, ...] = ()
    if params.get("dims"):
        offsets = tuple(_offset(v, problems) for v in str(params["dims"]).split(","))
    knobs = Knobs(pitch=number("pitch"), rhythm=number("rhythm"), residual=number("residual"),
                  control=params.get("control") in ("1", "true", "yes"), bars=bars, offsets=offsets)
    code = params.get("song") or None
    bpm = number("bpm", 120.0) if code else None
    if bpm is not None and not BPM_RANGE[0] <= bpm <= BPM_RANGE[1]:
        problems.append(f"the link's tempo {bpm:g} bpm is outside {BPM_RANGE[0]:g}-{BPM_RANGE[1]:g}")
        bpm = 120.0
    track = int(number("track", -1))
    return SharedState(example=None if code else (params.get("example") or None), code=code, bpm=bpm,
                       track=None if track < 0 or code else track, knobs=knobs,
                       faithful=str(params.get("faithful", "1")).lower() not in ("0", "false", "no"),
                       title=str(params.get("title") or "")[:MAX_TITLE_CHARS] if code else "",
                       model=str(params.get("model") or "")), problems


def _offset(text: str, problems: list[str]) -> float:
    try:
        return _number({"dims": text}, "dims")
    except ValueError as err:
        problems.append(str(err))
        return 0.0


def restore(params: Mapping[str, str], examples: Mapping[str, object], n_offsets: int,
            models: Sequence[str] = ()) -> tuple[SharedState, list[str]]:
    """What a share link restores, made safe to show: (state, problems to tell the user).

    Each part of the link stands on its own: a damaged song (a link cut short) or an example that is not in
    ``examples`` restores the default song with the link's knobs; a knob that cannot be read stays at 0; knobs
    are clamped to their ranges (and said so) and offsets padded or cut to ``n_offsets``; a model not in
    ``models`` (when given) is the default one. Every fault is named, in one sentence each.
    """
    shared, faults = _parse(params)
    problems = [f"This link could not be read in full ({'; '.join(faults)}); the rest of it is restored."] * bool(faults)
    if shared.code:
        try:
            link_code_to_tokens(shared.code)
        except ValueError as err:
            problems.append(f"This link's song is damaged ({err}; was the link cut short?); showing the default song "
                            "with the link's knobs.")
            shared = replace(shared, code=None, bpm=None, title="")
    if shared.example is not None and shared.example not in examples:
        problems.append(f"This link names an example that is not here ({shared.example!r}); showing the default song.")
        shared.example = None
    if shared.model and models and shared.model not in models:
        problems.append(f"This link names a model that is not here ({shared.model!r}); using the default model.")
        shared.model = ""
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


def share_url(base: str, song: Song, knobs: Knobs, model: str = "") -> str:
    """``base`` (the page URL) with the query that restores ``song`` and ``knobs`` (and ``model``, when not the
    default)."""
    return f"{base or '/'}?{share_query(song, knobs, model)}"
