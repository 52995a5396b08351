"""Melody Knobs: turn the pitch, rhythm and residual knobs of a MusicVAE on a melody (Gradio UI).

    python app.py [--model user/repo | --model path/to/folder] [--revision SHA] [--host H] [--port P] [--share]

Yang et al., "Inspecting and Interacting with Meaningful Music Representations using VAE", NIME 2019. The logic
lives in ``vae/``; this file only lays out the UI and turns library errors (ValueError) into messages.
"""

from __future__ import annotations

import argparse
import logging
import os
from types import SimpleNamespace

import gradio as gr
import torch

from ui import analogy_tab, api, inspect_tab, interpolate_tab, knobs_tab, model_tab, sampling_tab, store, typed_tab
from ui.common import EXAMPLES, MP3
from ui.guards import private, refuse_non_numbers
from ui.inspect_tab import FIGURES_DIR
from ui.knobs_tab import Handlers, model_note
from vae import hub, song
from vae.bundle import Bundle, load_bundles
from vae.resources import asset

__all__ = ["EXAMPLES", "Handlers", "build_demo", "main", "serve"]
TITLE = "Melody Knobs"
INTRO = (f"# {TITLE}\nTurn the **pitch**, **rhythm** and **residual** knobs of a MusicVAE on a melody, or walk a pitch "
         "× rhythm grid between two clips (Yang et al., NIME 2019).")
HOST = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1")
PORT = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
DEFAULT_CONCURRENCY = 2  # events at once: one per core of a basic Space (a knob move never waits for a grid)
QUEUE_SIZE = 64  # waiting events beyond this are refused with "queue full"
# torch threads per process. One event's work is small (a song's clips in one batch); with more threads, concurrent
# events and the server spin against each other (2 busy cores: a Twinkle knob move took 470 ms with 2 threads, 99 with 1).
TORCH_THREADS = int(os.environ.get("MELODY_KNOBS_TORCH_THREADS", "1"))
CSS = asset("app.css").read_text()  # grid captions, phone order, report (assets/, or the installed wheel's copy)
# Every answer reaches the page: a watch on its event stream, and the no-op event it sends (see the script).
HEAD = f"<script>\n{asset('stream_watch.js').read_text()}</script>"
logger = logging.getLogger("melody_knobs")


def _banner(b: Bundle) -> str:
    return "\n\n".join([INTRO, *(f"⚠️ {notice}" for notice in b.notices())])


def stream_kick() -> None:
    """Nothing: the page's watch (assets/stream_watch.js) sends this event so that gradio's client opens the event
    stream again, which brings the answers waiting for it on the server."""


def build_demo(bundles: dict[str, Bundle] | Bundle) -> gr.Blocks:
    """The app on loaded bundles, models by name, the default first (see :func:`vae.bundle.load_bundles`): the tabs
    of ``ui/`` on one page, sharing the user's song (``state``), the model menu and the page's URL."""
    h = Handlers(bundles)
    with gr.Blocks(title=TITLE, delete_cache=(3600, 86400)) as demo:
        state, base = gr.State(), gr.State("")
        gr.Markdown(_banner(h.bundle), elem_id="banner")
        with gr.Tabs(overflow_behavior="wrap") as tabs:  # a phone shows every tab, on two lines
            k, g = knobs_tab.layout(h), interpolate_tab.layout()
            a, s, t = analogy_tab.layout(), sampling_tab.layout(), typed_tab.layout()
            i, model = inspect_tab.layout(h), model_tab.layout(h.bundles)
        fmt = gr.Radio([MP3, "wav"], value=MP3, visible=False)  # API clients may ask for lossless audio
        page = SimpleNamespace(state=state, base=base, model=model, faithful=k.faithful, fmt=fmt, tabs=tabs,
                               k=k, g=g, a=a, s=s)
        knobs_tab.wire(demo, h, k, page)
        interpolate_tab.wire(h, g, page)
        analogy_tab.wire(demo, h, a, page)
        sampling_tab.wire(demo, h, s, page)
        typed_tab.wire(demo, h, t, page)
        inspect_tab.wire(demo, h, i, page)
        notes = [g.model_note, a.model_note, s.model_note]  # the model is named on every tab that uses it
        named = {"fn": lambda m: [model_note(h.model_name(m))] * len(notes), "inputs": model, "outputs": notes}
        demo.load(**named, api_visibility="private")
        model.change(**named, api_visibility="private")
        api.wire(h, state)
        kick = gr.Button("reconnect", elem_id="stream-kick", visible="hidden")  # clicked by assets/stream_watch.js
        kick.click(stream_kick, show_progress="hidden", trigger_mode="multiple",  # each click joins, answered or not
                   **private("stream_kick"))
    refuse_non_numbers(demo)
    return demo


def serve(demo: gr.Blocks, host: str = HOST, port: int = PORT, share: bool = False, **kwargs):
    """Queue and launch ``demo`` with the app's limits; ``kwargs`` go to ``launch`` (e.g. prevent_thread_lock)."""
    torch.set_num_threads(TORCH_THREADS)
    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_SIZE)
    gr.set_static_paths([store.OUT_DIR])  # served where they are (bounded there), not copied into gradio's cache
    return demo.launch(server_name=host, server_port=port, share=share, max_file_size=song.MAX_UPLOAD_BYTES,
                       allowed_paths=[str(FIGURES_DIR)], css=CSS, head=HEAD, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help=f"Hub repo id or model folder (default ${hub.ENV_MODEL}, else assets/model)")
    parser.add_argument("--revision", help="branch, tag or commit of the Hub repo")
    parser.add_argument("--host", default=HOST, help="address to listen on (0.0.0.0 on a Space)")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    log = lambda f, msg: logger.info("computing the pitch and rhythm dims: %3.0f %% (%s)", 100 * f, msg)
    bundles = load_bundles(args.model, args.revision, EXAMPLES, progress=log)
    serve(build_demo(bundles), args.host, args.port, args.share)


if __name__ == "__main__":
    main()
