"""The Sampling tab: melodies from the prior and variations of a song (``vae.ideas``); click a roll to hear it."""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlencode

import gradio as gr

from ui import store
from ui.common import DEFAULT, MP3, picker, read, thumbnail_gallery
from ui.guards import as_faithful, as_lossless, private, user_errors
from vae import ideas, render, song
from vae.pianoroll import roll_png

N_SAMPLES, MAX_SHOWN = 8, 16  # melodies from the prior: default, most on the page
N_VARIATIONS, MAX_VARIATIONS = 4, 8
TEMPERATURE = 0.5


class Sampling:
    """The tab's handlers, on the app's knob handlers ``h`` (models by name)."""

    def __init__(self, h):
        self.h = h

    @staticmethod
    def _many(songs, bpm: float, stem: str, captions, audio_format=None):
        """Gallery, and roll / audio (MP3, or "wav") / MIDI of all the songs one after another, and the per-user
        state."""
        joined = ideas.join_with_rests(songs)
        roll = store.write_output(roll_png(joined, title=f"{stem}: {len(songs)}, a bar of rest between"),
                                   f"{stem}.png")
        return (thumbnail_gallery(songs, stem, captions), str(roll),
                *map(str, store.sound_files(joined, bpm, stem, as_lossless(audio_format))),
                ideas.SongSet(list(songs), bpm, stem))

    @user_errors
    def sample(self, n=N_SAMPLES, temperature=TEMPERATURE, seed=0, model=None, audio_format=MP3):
        """``n`` 2-bar melodies from the prior: gallery, roll, audio and MIDI of them all."""
        clips = ideas.sample(self.h.pick(model).model, int(n), float(temperature), int(seed))
        return self._many(list(clips), 120.0, f"samples_t{float(temperature):g}_seed{int(seed)}",
                          [f"{i + 1} (seed {int(seed)})" for i in range(len(clips))], audio_format)

    @user_errors
    def variations(self, example=DEFAULT, midi_file=None, song_code=None, text=None, n=N_VARIATIONS, spread=1.0,  # noqa: PLR0913 (an API endpoint: its parameters are the API's names)
                   seed=0, temperature=0.0, model=None, faithful=True, audio_format=MP3):
        """``n`` versions of a song, each clip's z drawn around its latent: gallery, roll, audio and MIDI."""
        melody, name = read(example, midi_file, song_code, text)
        versions = ideas.variations(self.h.pick(model).model, melody.tokens,
                                    ideas.Variations(int(n), float(spread), int(seed), float(temperature)),
                                    as_faithful(faithful))
        return self._many(list(versions), melody.bpm, f"{render.safe_stem(name)}_spread{float(spread):g}_seed{int(seed)}",
                          [f"variation {i + 1}" for i in range(len(versions))], audio_format)

    @user_errors
    def vary_loaded(self, state, model=None, faithful=True, *settings):
        """:meth:`variations` of the song loaded in the Knobs tab (its upload, example, code or typed melody);
        ``settings``: n, spread, seed and temperature, as the page's widgets give them (default 4, 1, 0, 0)."""
        n, spread, seed, temperature = (*settings, *(N_VARIATIONS, 1.0, 0, 0.0)[len(settings):])
        if not isinstance(state, song.Song):
            raise ValueError("load a song in the Knobs tab first")  # noqa: TRY004 (a message for the user)
        versions = ideas.variations(self.h.pick(model).model, state.tokens,
                                    ideas.Variations(int(n), float(spread), int(seed), float(temperature)),
                                    as_faithful(faithful))
        return self._many(list(versions), state.bpm, f"{render.safe_stem(state.name)}_spread{float(spread):g}_seed"
                          f"{int(seed)}", [f"variation {i + 1}" for i in range(len(versions))])

    @user_errors
    def play(self, many, evt: gr.SelectData):
        """Audio and MIDI of the gallery item the user clicked."""
        if not many:
            raise ValueError("make some melodies first")
        i = int(evt.index)
        return *map(str, store.sound_files(many.songs[i], many.bpm, f"{many.stem}_{i + 1}")), \
            f"Playing {many.stem} {i + 1}"

    def link(self, base, model, n, temperature, seed) -> str:
        """The URL that samples the same melodies again, with the model when not the default."""
        query = urlencode({"sample_seed": int(seed), "n": int(n), "temperature": f"{float(temperature):g}"}
                          | self.h.model_param(model))
        return f"{base or '/'}?{query}"

    def restore(self, request: gr.Request):
        """A sampling link's n, temperature, seed and model, the tab to show, and whether there was one (the defaults
        without one)."""
        q = dict(request.query_params) if request else {}
        if "sample_seed" not in q:
            return N_SAMPLES, TEMPERATURE, 0, gr.skip(), gr.skip(), False
        try:
            n, temperature, seed = int(q.get("n", N_SAMPLES)), float(q.get("temperature", TEMPERATURE)), int(q["sample_seed"])
        except ValueError:
            gr.Warning("This link's melodies could not be read (n, temperature and seed are numbers); showing the "
                       "defaults.", duration=8)
            n, temperature, seed = N_SAMPLES, TEMPERATURE, 0
        return (min(max(n, 1), MAX_SHOWN), temperature, seed, self.h.model_name(q.get("model")),
                gr.Tabs(selected="sampling"), True)


def layout() -> SimpleNamespace:
    """The Sampling tab: melodies from the prior, and variations of a song; click a roll to hear it."""
    ui = SimpleNamespace()
    with gr.Tab("Sampling", id="sampling"):
        gr.Markdown("**New melodies** from the prior z ~ N(0, I): temperature 0 decodes greedily, more samples each "
                    "step. **Variations** of a song draw each clip's z around its own code (spread in units of the "
                    "encoder's σ). The same seed gives the same melodies. Click a roll to hear it.")
        ui.model_note = gr.Markdown(elem_classes=["model-note"])
        with gr.Row():
            ui.n = gr.Slider(1, MAX_SHOWN, value=N_SAMPLES, step=1, label="Melodies")
            ui.temperature = gr.Slider(*ideas.TEMPERATURE_RANGE, value=TEMPERATURE, step=0.05, label="Temperature")
            ui.seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            ui.go = gr.Button("Sample", variant="primary", elem_id="sample-go")
        with gr.Accordion("Variations of a song", open=False), gr.Row():
            ui.song = picker("Song", DEFAULT)
            with gr.Column():
                ui.n_var = gr.Slider(1, MAX_VARIATIONS, value=N_VARIATIONS, step=1, label="Variations")
                ui.spread = gr.Slider(*ideas.SPREAD_RANGE, value=1.0, step=0.1, label="Spread (σ)")
                ui.vary = gr.Button("Vary this song", elem_id="vary-go")
                ui.vary_loaded = gr.Button("Vary the Knobs tab's song", elem_id="vary-loaded")
        ui.gallery = gr.Gallery(label="Click a roll to hear it", columns=4, allow_preview=False, object_fit="contain",
                                format="png", elem_id="samples")
        with gr.Row():
            ui.info = gr.Markdown()
            ui.audio = gr.Audio(label="Selected", interactive=False, autoplay=True, elem_id="sample-audio")
            ui.midi = gr.File(label="As MIDI", interactive=False, height=80)
        with gr.Accordion("All of them, one after another", open=False):
            ui.roll = gr.Image(format="png", interactive=False, show_label=False)
            with gr.Row():
                ui.all_audio, ui.all_midi = gr.Audio(interactive=False), gr.File(interactive=False, height=80)
        ui.link = gr.Textbox(label="Share these melodies", buttons=["copy"], interactive=False)
    return ui


def wire(demo: gr.Blocks, h, s: SimpleNamespace, page: SimpleNamespace) -> None:
    """The tab's events: a set of melodies or variations, a click that plays one, a link's set on page load.
    ``page``: the model menu, the faithful box, the Knobs tab's song (``state``), the page URL and the API's audio
    format."""
    x = Sampling(h)
    many_state = gr.State()
    many_out = [s.gallery, s.roll, s.all_audio, s.all_midi, many_state]
    sample_in = [s.n, s.temperature, s.seed]
    # A new set takes the place of the old one: its selected melody's player, file and caption go, and so does the
    # link, which a sample set then gets anew (variations have none).
    forget = {"fn": lambda: (None, None, "", ""), "inputs": None, "outputs": [s.audio, s.midi, s.info, s.link],
              **private("forget_selected")}
    s.go.click(x.sample, [*sample_in, page.model, page.fmt], many_out, api_name="sample"
               ).success(**forget).success(x.link, [page.base, page.model, *sample_in], s.link, **private("sample_link"))
    vary_in = [s.n_var, s.spread, s.seed, s.temperature, page.model, page.faithful]
    s.vary.click(x.variations, [*s.song, *vary_in, page.fmt], many_out, api_name="variations").success(**forget)
    s.vary_loaded.click(x.vary_loaded, [page.state, page.model, page.faithful, *vary_in[:4]], many_out,
                        **private("vary_loaded")).success(**forget)
    s.gallery.select(x.play, many_state, [s.audio, s.midi, s.info], **private("play_sample"))
    chosen, upload, code, _text = s.song  # a song picked here replaces a link's song code
    gr.on([chosen.input, upload.upload], lambda: "", None, code, **private("clear_code"))
    shared = gr.State(False)
    demo.load(x.restore, None, [*sample_in, page.model, page.tabs, shared], **private("restore_sample")).success(
        lambda go, *args: x.sample(*args) if go else [gr.skip()] * 5, [shared, *sample_in, page.model], many_out,
        **private("shared_sample")).success(
        lambda go, *args: x.link(*args) if go else gr.skip(), [shared, page.base, page.model, *sample_in], s.link,
        **private("shared_sample_link"))
