"""API-only endpoints (``/modulate``, ``/load_song``) on hidden components of their own: a page's slider limits
never constrain an API call. The other endpoints are the tabs' own buttons (``/interpolate``, ``/analogy``,
``/sample``, ``/variations``, ``/inspect``)."""

from __future__ import annotations

import gradio as gr

from ui.common import DEFAULT, EXAMPLES, MP3
from vae.knobs import PITCH_RANGE, RESIDUAL_RANGE, RHYTHM_RANGE
from vae.melody import MAX_BARS


def wire(h, state) -> None:
    """The endpoints, on the knob handlers ``h`` and the per-user song ``state``."""
    with gr.Row(visible=False):
        api_song = [gr.Dropdown(list(EXAMPLES), value=DEFAULT), gr.File(file_types=[".mid", ".midi"]),
                    gr.Number(precision=0), gr.Textbox(), gr.Number()]
        api_knobs = [gr.Slider(*PITCH_RANGE, value=0), gr.Slider(*RHYTHM_RANGE, value=0),
                     gr.Slider(*RESIDUAL_RANGE, value=0), gr.Checkbox(), gr.Number(1, precision=0),
                     gr.Number(MAX_BARS, precision=0), gr.Textbox()]
        api_out = [gr.Image(format="png"), gr.Audio(), gr.File(), gr.JSON()]
        api_model = gr.Dropdown(list(h.bundles), value=next(iter(h.bundles)))
        api_faithful, api_audio = gr.Checkbox(True), gr.Radio([MP3, "wav"], value=MP3)
        api_modulate, api_load = gr.Button(), gr.Button()
    api_modulate.click(h.modulate, [*api_song, *api_knobs, state, api_model, api_faithful, api_audio],
                       [*api_out[:3], state], api_name="modulate")
    api_load.click(h.describe_song, [*api_song, state, api_model, api_faithful, api_audio],
                   [api_out[0], api_out[1], api_out[3], state], api_name="load_song")
