"""The Type a melody tab: a melody typed as ABC or note text (``vae.notation``), shown at once, sent to the other
tabs. A typed melody travels as a song code (``vae.melody.tokens_to_link_code``) with its ``T:`` title, so it works wherever
a song code does: the Knobs tab, its share links and the API."""

from __future__ import annotations

import re
from types import SimpleNamespace

import gradio as gr

from ui import store
from ui.guards import private, user_errors
from ui.knobs_tab import stamped
from vae import render, song
from vae.melody import tokens_to_link_code
from vae.notation import parse_melody, tokens_to_text
from vae.pianoroll import roll_png

TYPED_HELP = ("Notes like `C4 D4 E4/2 E4/2 F#4*2 r G4` (quarter notes; `/2` halves, `*2` doubles, `r` rests), "
              "or an ABC tune with a `K:` line.")
TYPED_EXAMPLE = "X:1\nT:Twinkle\nM:4/4\nL:1/4\nK:C\nCCGG|AA G2|FFEE|DD C2|"
TYPED_NAME = "typed melody"


def tune_title(text: str) -> str:
    """The first ``T:`` title of an ABC tune, else "typed melody"."""
    found = re.search(r"^\s*T:\s*(.+?)\s*$", text or "", flags=re.MULTILINE)
    return found.group(1)[:80] if found else TYPED_NAME


class Typed:
    """The tab's handlers, on the app's knob handlers ``h``."""

    def __init__(self, h):
        self.h = h

    def to_knobs(self, code, bpm, title, state, model=None, faithful=True):
        """A typed melody (its song code and title) as the Knobs tab's song: clears the upload, loads it, and shows
        the Knobs tab."""
        if not code:
            raise gr.Error("Type a melody that reads first: the message under the box says what is wrong.",
                           print_exception=False)
        loaded = self.h.load_song(song.SongSource(code=code, bpm=bpm, title=title), state, model, faithful)
        gr.Info(f"“{title}” is in the Knobs tab.", duration=4)
        return gr.Tabs(selected="knobs"), None, code, bpm, title, *loaded

    @staticmethod
    @user_errors
    def as_midi(text) -> str:
        """A typed melody as a MIDI file, for the Interpolate tab's file inputs."""
        melody = parse_melody(text)
        return str(store.midi_file(melody.tokens, melody.bpm, render.safe_stem(tune_title(text))))

    @staticmethod
    def preview(text):
        """A typed melody at once: its roll, its song code, tempo and title, and a line about it; a melody that does
        not read clears them all and says why, under the box."""
        if not (text or "").strip():
            return None, "", 120.0, "", TYPED_HELP
        try:
            melody = parse_melody(text)
        except ValueError as err:
            return None, "", 120.0, "", f"⚠️ **This melody does not read**: {err}. {TYPED_HELP}"
        title = tune_title(text)
        roll = store.write_output(roll_png(melody.tokens, title=title), "typed.png")
        warn = "".join(f" ⚠️ {w}." for w in melody.warnings)
        return (str(roll), tokens_to_link_code(melody.tokens), melody.bpm, title,
                (f"**{title}**: {len(melody.tokens) // 16} bars at {melody.bpm:g} bpm: "
                f"`{tokens_to_text(melody.tokens)[:300]}`{warn}"))


def layout() -> SimpleNamespace:
    """The Type tab: a melody typed as ABC or note text, shown at once, to use in the other tabs."""
    ui = SimpleNamespace()
    with gr.Tab("Type a melody", id="typed"):
        gr.Markdown(TYPED_HELP)
        with gr.Row():
            with gr.Column():
                ui.text = gr.Textbox(TYPED_EXAMPLE, lines=6, label="Melody", elem_id="typed-text")
                with gr.Row():
                    ui.to_knobs = gr.Button("Turn its knobs", variant="primary", elem_id="typed-to-knobs")
                    ui.to_a, ui.to_b = gr.Button("Use as analogy song A"), gr.Button("Use as analogy song B")
                    ui.to_vary = gr.Button("Vary it")
                    ui.to_src = gr.Button("Use as interpolation source", elem_id="typed-to-source")
                    ui.to_tgt = gr.Button("Use as interpolation target")
            with gr.Column():
                ui.info = gr.Markdown(elem_id="typed-info")
                ui.roll = gr.Image(format="png", interactive=False, show_label=False, elem_id="typed-roll")
        ui.code, ui.bpm, ui.title = gr.Textbox(visible=False), gr.Number(visible=False), gr.Textbox(visible=False)
    return ui


def wire(demo: gr.Blocks, h, t: SimpleNamespace, page: SimpleNamespace) -> None:
    """The tab's events: the preview as one types, and the buttons that send the melody to the Knobs tab (``page.k``,
    whose result follows its ``loaded`` token), the Analogy tab (``page.a``), the Sampling tab's variations
    (``page.s``) and the Interpolate tab (``page.g``) as a MIDI file in place of an upload."""
    x, k = Typed(h), page.k
    preview = {"fn": x.preview, "inputs": t.text, "outputs": [t.roll, t.code, t.bpm, t.title, t.info],
               **private("typed")}
    demo.load(**preview)
    t.text.change(trigger_mode="always_last", **preview)
    t.to_knobs.click(stamped(x.to_knobs), [t.code, t.bpm, t.title, page.state, page.model, page.faithful],
                     [page.tabs, k.upload_path, k.song_code, k.bpm, k.song_title, *k.load_out, page.state, k.loaded],
                     **private("typed_knobs"))  # a new token in k.loaded: the Knobs tab shows the song
    for button, picker in ((t.to_src, page.g.src), (t.to_tgt, page.g.tgt)):
        button.click(x.as_midi, t.text, picker[1], **private("typed_to_grid"))
    for button, picker in ((t.to_a, page.a.a), (t.to_b, page.a.b), (t.to_vary, page.s.song)):
        button.click(lambda text: (None, text), t.text, [picker[1], picker[3]], **private("typed_to"))
