"""The Model tab: which model every tab uses; for each, where its weights came from and its card."""

from __future__ import annotations

from urllib.parse import quote

import gradio as gr

from ui.inspect_tab import FIGURES_DIR
from vae.bundle import MODELS_HELP, Bundle


def _served(path) -> str | None:  # a figure of a model card, where gradio serves the allowed files
    return f"/gradio_api/file={quote(str(path))}" if path.is_relative_to(FIGURES_DIR) else None


def layout(bundles: dict[str, Bundle]) -> gr.Dropdown:
    """The Model tab; returns the menu of models."""
    with gr.Tab("Model", id="model"):
        choice = gr.Dropdown(list(bundles), value=next(iter(bundles)), label="Model used by every tab",
                             info=MODELS_HELP, elem_id="model-menu")
        for name, b in bundles.items():
            with gr.Accordion(f"Model '{name}'", open=name == next(iter(bundles))):
                card = b.card_markdown(_served)
                gr.Markdown(f"{b.source_markdown()}\n\n{card or '*This model folder has no README.md (model card).*'}")
    return choice
