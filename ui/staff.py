"""The result as notation on the Knobs tab (Gradio UI only): its ABC text to read and copy, and its staff.

The text comes from :func:`vae.score.abc_text`; abcjs (vendored in ``assets/abcjs``, MIT) draws it as a staff in
the browser, served from the app's own files, so the page needs no network (a Space may have none).
"""

from __future__ import annotations

from urllib.parse import quote

import gradio as gr

from ui.guards import private
from vae.resources import asset

ABCJS = asset("abcjs/abcjs-basic-min.js")  # abcjs 6.7.2, see assets/abcjs/README.md (in the wheel too)
DRAW_JS = asset("notation.js").read_text()  # draws the staff each time the text changes
ABC_HELP = "The result in ABC notation: copy it into any ABC editor, or paste it on the \"Type a melody\" tab."


def notation_block() -> gr.Textbox:
    """A "Notation" block: the result's staff (``#result-staff``, an SVG drawn by abcjs) over its ABC text
    (``#result-abc``). Returns the text box, an output of the knob move; the staff follows it in the browser."""
    gr.set_static_paths([ABCJS.parent])  # served where it is, by a path relative to the page (works under a root path)
    with gr.Accordion("Notation", open=True, elem_id="notation"):
        staff = gr.HTML("", html_template='<div class="staff"></div>', js_on_load=DRAW_JS, elem_id="result-staff",
                        head=f'<script src="gradio_api/file={quote(str(ABCJS))}"></script>', padding=False)
        abc = gr.Textbox(label="ABC notation", info=ABC_HELP, lines=4, max_lines=12, interactive=False,
                         buttons=["copy"], elem_id="result-abc")
    abc.change(None, abc, staff, js="(text) => text", **private("draw_staff"))  # in the browser, no server call
    return abc
