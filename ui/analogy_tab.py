"""The Analogy tab: the pitch of one song with the rhythm of another (``vae.ideas.analogy``), and its share link."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlencode

import gradio as gr

from ui import store
from ui.common import DEFAULT, EXAMPLES, MP3, picker, read
from ui.guards import as_faithful, as_lossless, private, user_errors
from vae import ideas, render
from vae.melody import tokens_to_link_code
from vae.song import SHARED_SONG

DIRECTIONS = {"A's pitch with B's rhythm": "a_pitch", "A's rhythm with B's pitch": "a_rhythm"}
B_DEFAULT = next((name for name in EXAMPLES if name != DEFAULT), DEFAULT)  # song B: another song than A


class Analogy:
    """The tab's handlers, on the app's knob handlers ``h`` (models by name)."""

    def __init__(self, h):
        self.h = h

    @user_errors
    def analogy(self, a_example=DEFAULT, a_file=None, a_code=None, a_text=None, b_example=B_DEFAULT, b_file=None,  # noqa: PLR0913 (an API endpoint: its parameters are the API's names)
                b_code=None, b_text=None, mix=1.0, direction="a_pitch", control=False, model=None, faithful=True,
                audio_format=MP3):
        """The pitch of one song with the rhythm of the other: roll (over the pitch song), audio (MP3, or "wav"),
        MIDI."""
        direction = DIRECTIONS.get(direction, direction)
        (a, name_a), (b, name_b) = read(a_example, a_file, a_code, a_text), read(b_example, b_file, b_code, b_text)
        bundle = self.h.pick(model)
        result = ideas.analogy(bundle.model, bundle.space, a.tokens, b.tokens,
                               ideas.Analogy(mix, direction, bool(control)), as_faithful(faithful))
        (pitch, p_name), r_name = ((a, name_a), name_b) if direction == "a_pitch" else ((b, name_b), name_a)
        title = f"pitch of {p_name}, rhythm of {r_name} (mix {float(mix):g})" + " (random control)" * bool(control)
        stem = f"{p_name}_with_rhythm_of_{r_name}_mix{float(mix):g}" + "_control" * bool(control)
        files = store.result_files(result, pitch.tokens, pitch.bpm, render.Label(title, stem),
                                    lossless=as_lossless(audio_format))
        return tuple(map(str, files))

    @user_errors
    def link(self, base, model, *values) -> str:
        """The URL that makes the same analogy again (``values``: song A's and B's pickers, mix, direction, control;
        an upload or a typed melody travels as a song code), with the model when not the default."""
        a_example, a_file, a_code, a_text, b_example, b_file, b_code, b_text, mix, direction, control = values
        params = {"analogy": "1"} | self.h.model_param(model)
        for side, (example, midi_file, code, text) in (("a", (a_example, a_file, a_code, a_text)),
                                                       ("b", (b_example, b_file, b_code, b_text))):
            if midi_file or (text or "").strip() or code:
                params[f"an_{side}_song"] = tokens_to_link_code(read(example, midi_file, code, text)[0].tokens)
            else:
                params[f"an_{side}"] = example or DEFAULT
        params.update(an_mix=f"{float(mix):g}", an_direction=DIRECTIONS.get(direction, direction),
                      an_control="1" if control else "0")
        return f"{base or '/'}?{urlencode(params)}"

    def restore(self, request: gr.Request):
        """An analogy link's songs (menu, song code), mix, direction, control and model, the tab to show, and
        whether there was one. A song that travels as a code is named "shared song" in its menu."""
        q = dict(request.query_params) if request else {}
        if "analogy" not in q:
            return *[gr.skip()] * 9, False
        example = lambda side, default: q.get(f"an_{side}") if q.get(f"an_{side}") in EXAMPLES else default
        try:
            mix = min(max(float(q.get("an_mix", 1.0)), 0.0), 1.0)
        except ValueError:
            mix = 1.0
        direction = q.get("an_direction") if q.get("an_direction") in DIRECTIONS.values() else "a_pitch"
        menu = lambda side, default: SHARED_SONG if q.get(f"an_{side}_song") else example(side, default)
        return (menu("a", DEFAULT), q.get("an_a_song", ""), menu("b", B_DEFAULT), q.get("an_b_song", ""), mix,
                direction, q.get("an_control") == "1", self.h.model_name(q.get("model")), gr.Tabs(selected="analogy"),
                True)


def layout() -> SimpleNamespace:
    """The Analogy tab: songs A and B, direction, mix, control; the result's roll, audio and MIDI."""
    ui = SimpleNamespace()
    with gr.Tab("Analogy", id="analogy"):
        gr.Markdown("The **pitch of one song with the rhythm of another**, clip by clip: each 2-bar clip of the pitch "
                    "song keeps its latent code but takes the **rhythm dims** of the other song's clip (which repeats "
                    "when shorter). The mix slerps only those dims; the control swaps random other dims instead.")
        ui.model_note = gr.Markdown(elem_classes=["model-note"])
        with gr.Row():
            ui.a = picker("Song A", DEFAULT)
            ui.b = picker("Song B", B_DEFAULT)
            with gr.Column():
                ui.direction = gr.Radio(list(DIRECTIONS.items()), value="a_pitch", label="Direction")
                ui.mix = gr.Slider(*ideas.MIX_RANGE, value=1.0, step=0.05, label="Mix (0: the pitch song as it is)",
                                   elem_id="analogy-mix")
                ui.control = gr.Checkbox(label="Random control: swap random non-significant dims")
                ui.go = gr.Button("Make the analogy", variant="primary", elem_id="analogy-go")
        ui.roll = gr.Image(label="Result (orange) over the pitch song (grey)", show_label=False, format="png",
                           interactive=False, elem_id="analogy-roll")
        with gr.Row():
            ui.audio = gr.Audio(label="Result", interactive=False, elem_id="analogy-audio")
            ui.midi = gr.File(label="Result as MIDI", interactive=False, height=80)
            ui.link = gr.Textbox(label="Share this analogy", buttons=["copy"], interactive=False, elem_id="analogy-link")
    return ui


def wire(demo: gr.Blocks, h, a: SimpleNamespace, page: SimpleNamespace) -> None:
    """The tab's events: the analogy and its link, and a link's analogy on page load. ``page``: the model menu,
    the faithful box, the page URL (``base``) and the API's audio format (``fmt``)."""
    x = Analogy(h)
    analogy_in = [*a.a, *a.b, a.mix, a.direction, a.control]
    make = {"fn": x.analogy, "inputs": [*analogy_in, page.model, page.faithful], "outputs": [a.roll, a.audio, a.midi]}
    link = {"fn": x.link, "inputs": [page.base, page.model, *analogy_in], "outputs": a.link, **private("analogy_link")}
    a.go.click(make["fn"], [*make["inputs"], page.fmt], make["outputs"], api_name="analogy").success(**link)
    for chosen, upload, code, _text in (a.a, a.b):  # a song picked here replaces a link's song code
        gr.on([chosen.input, upload.upload], lambda: "", None, code, **private("clear_code"))
    go = gr.State(False)
    demo.load(x.restore, None, [a.a[0], a.a[2], a.b[0], a.b[2], a.mix, a.direction, a.control, page.model,
                                page.tabs, go], **private("restore_analogy")).success(
        lambda shared, *args: x.analogy(*args) if shared else [gr.skip()] * 3, [go, *make["inputs"]],
        make["outputs"], **private("shared_analogy")).success(
        lambda shared, *args: x.link(*args) if shared else gr.skip(), [go, *link["inputs"]], a.link,
        **private("shared_analogy_link"))
