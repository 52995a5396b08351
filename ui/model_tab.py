"""The Model tab: which model every tab uses; for each, where its weights came from and its card."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import gradio as gr

from ui.inspect_tab import FIGURES_DIR
from vae.bundle import MODELS_HELP, Bundle

IMAGE_LINK = re.compile(r"(?P<alt>!\[[^\]]*\])\((?P<target>[^)\s]+)(?P<rest>[^)]*)\)")  # ![alt](target "title")


def _served(path) -> str | None:  # a figure of a model card, where gradio serves the allowed files
    return f"/gradio_api/file={quote(str(path))}" if path.is_relative_to(FIGURES_DIR) else None


def card_markdown(b: Bundle, url: Callable[[Path], str | None]) -> str | None:
    """The card with each relative image link to a file that exists (e.g. ``../figures/training_curves.png``)
    replaced by ``url(absolute path)``: a page serves files at URLs, not at paths relative to a folder.
    Links ``url`` gives None for, missing files and absolute URLs stay as they are."""
    if b.card is None or b.card_dir is None:
        return b.card

    def link(match: re.Match) -> str:
        target = match["target"]
        path = (b.card_dir / target).resolve() if not re.match(r"[a-z][a-z0-9+.-]*:|/|#", target) else None
        served = url(path) if path is not None and path.is_file() else None
        return f"{match['alt']}({served or target}{match['rest']})"

    return IMAGE_LINK.sub(link, b.card)


def source_markdown(b: Bundle) -> str:
    """Where the weights came from, as Markdown for the Model tab (the card follows it)."""
    info = b.source_info
    rows = [("source", info.source), ("requested", info.requested or "default (bundled)"),
            ("Hub repo", info.repo_id), ("revision", info.revision), ("folder", info.path),
            ("from local cache", info.from_cache if info.source == "hub" else None),
            ("fallback reason", info.fallback_reason), ("latent size", b.model.config.latent_dim)]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows if v is not None)
    return (f"### Where the weights came from\n{info.describe()}.\n\n| field | value |\n|---|---|\n{table}\n\n"
            f"{b.dims_note}\n\n### Model card")


def layout(bundles: dict[str, Bundle]) -> gr.Dropdown:
    """The Model tab; returns the menu of models."""
    with gr.Tab("Model", id="model"):
        choice = gr.Dropdown(list(bundles), value=next(iter(bundles)), label="Model used by every tab",
                             info=MODELS_HELP, elem_id="model-menu")
        for name, b in bundles.items():
            with gr.Accordion(f"Model '{name}'", open=name == next(iter(bundles))):
                card = card_markdown(b, _served)
                gr.Markdown(f"{source_markdown(b)}\n\n{card or '*This model folder has no README.md (model card).*'}")
    return choice
