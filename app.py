"""Melody Knobs: turn the pitch, rhythm and residual knobs of a MusicVAE on a melody (Gradio UI).

    python app.py [--model user/repo | --model path/to/folder] [--revision SHA] [--host H] [--port P] [--share]

Yang et al., "Inspecting and Interacting with Meaningful Music Representations using VAE", NIME 2019. The logic
lives in ``vae/``; this file only lays out the UI and turns library errors (ValueError) into messages.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import gradio as gr
import torch

import staff
import tabs
from guards import as_faithful, as_lossless, private, refuse_non_numbers, user_errors
from vae import hub, knobs, measures, render, score, share, song
from vae.bundle import DEFAULT_MODEL, MODELS_HELP, Bundle, load_bundles, pick_bundle
from vae.dims import song_dims
from vae.knobs import GRID_RANGE, OFFSET_RANGE, PITCH_RANGE, RESIDUAL_RANGE, RHYTHM_RANGE, Knobs
from vae.melody import MAX_BARS, STEPS_PER_BAR
from vae.pianoroll import LEGEND_HTML

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
GRID_DEFAULT = 5
TABLE = {"headers": ["measure", "value"], "wrap": True, "column_widths": ["45%", "55%"], "max_height": 420}
CSS = (Path(__file__).resolve().parent / "assets" / "app.css").read_text()  # grid captions, phone order, report
FIGURES_DIR = Path(__file__).resolve().parent / "assets" / "figures"
EXAMPLES, DEFAULT = song.example_songs(), song.DEFAULT_EXAMPLE
FAITHFUL_HELP = "On: the song's latents are fitted to it, so the knobs at 0 play it as it is. Off: the model's reading."
MP3 = "mp3"  # the API's audio: compressed as the page plays it; "wav" for lossless
NO_GRID = "Make a grid first: choose two clips and press **Interpolate**, then click a cell or play the diagonal."
logger = logging.getLogger("melody_knobs")


class Handlers:
    """The app's event handlers, bound to the bundles (models by name): loaded once, shared read-only by all
    users. Per-user data (the loaded song, the grid) comes and goes through ``gr.State``."""

    def __init__(self, bundles: dict[str, Bundle] | Bundle):
        self.bundles = bundles if isinstance(bundles, dict) else {DEFAULT_MODEL: bundles}
        self.bundle = next(iter(self.bundles.values()))  # the default model
        self.pick = functools.partial(pick_bundle, self.bundles)  # model name (None: the default) -> Bundle

    def _song(self, state, example, midi_file, track, song_code, bpm, model=None, faithful=True) -> song.Song:
        default = model in (None, "", next(iter(self.bundles)))  # songs of the default model carry no model name
        bar = gr.Progress()  # a bar on the page while a new song's latents are fitted; nothing outside an event
        return song.load(self.pick(model).model, example, midi_file, song_code, bpm, track, EXAMPLES, cached=state,
                         model_name="" if default else model, faithful=as_faithful(faithful),
                         progress=lambda f, msg: bar(f, desc=msg))

    @user_errors
    def load_song(self, example=DEFAULT, midi_file=None, track=None, song_code=None, bpm=None, state=None,
                  bar_from=None, bar_to=None, model=None, faithful=True):
        """Load a song (upload > song code > example): original roll, audio, summary, track list, bar range (the
        one given, e.g. a share link's, moved into the song; else all of it), the name in the song box."""
        s = self._song(state, example, midi_file, track, song_code, bpm, model, faithful)
        for message in s.warnings:
            gr.Warning(message)
        first, last = s.bar_range((bar_from, bar_to) if bar_from and bar_to else None)
        roll, page_audio = s.files()
        return (str(roll), str(page_audio), s.summary(),
                gr.Dropdown(choices=s.tracks, value=s.track if s.tracks else None, visible=len(s.tracks) > 1,
                            allow_custom_value=True),
                gr.Slider(maximum=s.n_bars, value=first), gr.Slider(maximum=s.n_bars, value=last),
                s.example or s.name, s)  # the song box names the song that plays

    @user_errors
    def describe_song(self, example=DEFAULT, midi_file=None, track=None, song_code=None, bpm=None, state=None,
                      model=None, faithful=True, audio_format=MP3):
        """Load a song (upload > song code > example): its piano roll, its audio (MP3, or "wav"), facts about it."""
        s = self._song(state, example, midi_file, track, song_code, bpm, model, faithful)
        return *map(str, s.files(as_lossless(audio_format))), s.facts(), s

    load_restored = load_song  # a share link's song, with its bar range

    @staticmethod
    def _turn(s: song.Song, b: Bundle, controls, lossless: bool = False):
        """The knobs (as :meth:`Knobs.from_controls` takes them) on a loaded song: the knobs, the result, and its files as they
        are ready (:func:`render.result_files_as_ready`: roll and MIDI, then the audio: MP3, or with ``lossless`` WAV)."""
        k = Knobs.from_controls(*controls, n_bars=s.n_bars)
        title, stem = k.title(s.label, b.dims.offset_names), k.stem(s.name)  # named before the walk goes down
        result = knobs.apply(b.model, b.dims, s.tokens, k, latents=s.latents)
        return k, result, render.result_files_as_ready(result, s.tokens, s.bpm, title, stem, k.bars, lossless)

    @user_errors
    def modulate(self, example=DEFAULT, midi_file=None, track=None, song_code=None, bpm=None, pitch=0.0,
                 rhythm=0.0, residual=0.0, control=False, bar_from=1, bar_to=MAX_BARS, dim_offsets=None, state=None,
                 model=None, faithful=True, audio_format=MP3):
        """Turn the knobs on a song: result piano roll (over the original), audio (MP3, or "wav"), MIDI file."""
        s = self._song(state, example, midi_file, track, song_code, bpm, model, faithful)
        controls = (pitch, rhythm, residual, control, bar_from, bar_to, dim_offsets)
        *_, files = self._turn(s, self.pick(model), controls, as_lossless(audio_format))[2]
        return (*map(str, files), s)

    @staticmethod
    def _new_song(knob_values, *outputs) -> tuple:
        """``outputs`` of a new song, which takes the knobs as they stand (pitch, rhythm, residual, control, offsets):
        said once, unless they are at rest."""
        if knob_values and (moved := Knobs(*knob_values[:3], bool(knob_values[3]), None, knob_values[4:]).moved()):
            gr.Info(f"The knobs stay where they were: {moved}. Set them to 0 to hear the new song as it is.")
        return outputs

    def pick_example(self, example, state, model=None, faithful=True, *knob_values):  # replaces an upload or shared song
        return self._new_song(knob_values, None, "", *self.load_song(example, state=state, model=model, faithful=faithful))

    def pick_upload(self, midi_file, state, model=None, faithful=True, *knob_values):
        """An upload replaces any shared song; a file that is refused leaves the box, and the song before stays."""
        try:
            loaded = self.load_song(midi_file=midi_file, state=state, model=model, faithful=faithful)
        except gr.Error as err:
            gr.Warning(f"{err.message[:1].upper()}{err.message[1:]}. The song you had stays loaded.")
            return getattr(state, "upload", None), *[gr.skip()] * 9
        return self._new_song(knob_values, midi_file, "", *loaded)

    def clear_upload(self, example, state, model=None, faithful=True, *knob_values):  # back to the chosen example
        return self._new_song(knob_values, *self.load_song(example if example in EXAMPLES else DEFAULT, state=state,
                                                           model=model, faithful=faithful))

    @user_errors
    def modulate_sliders(self, state, model, faithful, base, example, midi_file, track, song_code, bpm, *knob_values):
        """modulate for the page (knob_values: the 6 knobs, then the offsets), in two answers: the result's roll and
        MIDI (no WAV yet: a button makes one), a line on what the knobs did, the song, its link and its ABC text; then,
        once encoded, its audio."""
        s = self._song(state, example, midi_file, track, song_code, bpm, model, faithful)
        controls = (*knob_values[:6], knob_values[6:])  # pitch, rhythm, residual, control, bars, offsets
        k, result, files = self._turn(s, self.pick(model), controls)
        roll, _, midi = next(files)
        first, last = k.bars  # measured where the knobs moved the song
        bars = slice((first - 1) * STEPS_PER_BAR, last * STEPS_PER_BAR)
        where = "" if (first, last) == (1, s.n_bars) else f" in bars {first}–{last}"
        did = f"**What the knobs did**{where} (against the song at rest): {measures.what_it_did(s.rest[bars], result[bars])}"
        abc = score.abc_text(result, s.bpm, k.title(s.label, self.pick(model).dims.offset_names))  # in its own key
        yield str(roll), gr.skip(), str(midi), None, did, s, self.share_link(s, base, *knob_values), abc
        yield gr.skip(), str(next(files).audio), *[gr.skip()] * 6

    @user_errors
    def result_wav(self, state, model, faithful, example, midi_file, track, song_code, bpm, *knob_values):
        """The result of the knobs as they stand as a lossless WAV, for the page's download button."""
        s = self._song(state, example, midi_file, track, song_code, bpm, model, faithful)
        *_, files = self._turn(s, self.pick(model), (*knob_values[:6], knob_values[6:]), lossless=True)[2]
        return str(files.audio)

    @user_errors
    def share_link(self, state, base, pitch, rhythm, residual, control, bar_from, bar_to, *dim_offsets):
        """The URL that restores this song and these knobs."""
        if not isinstance(state, song.Song):
            return ""
        k = Knobs.from_controls(pitch, rhythm, residual, control, bar_from, bar_to, dim_offsets, state.n_bars)
        return share.share_url(base, state, k.checked(state.n_bars, len(dim_offsets)))

    def restore(self, request: gr.Request):
        """On page load: the example or song and the knobs of a share link, and the page's own URL."""
        shared, problems = share.restore(dict(request.query_params) if request else {}, EXAMPLES,
                                         self.bundle.dims.n_offsets)
        if problems:  # one notice, however many things were wrong
            gr.Warning(" ".join(problems))
        k, bars = shared.knobs, shared.knobs.bars or (1, MAX_BARS)
        return (shared.example or DEFAULT, shared.code or "", shared.bpm, shared.track, shared.faithful, k.pitch,
                k.rhythm, k.residual, k.control, *bars, *k.offsets, share.page_url(request.headers) if request else "")

    @user_errors
    def interpolate(self, source_example=DEFAULT, source_file=None, source_clip=1, target_example=DEFAULT,
                    target_file=None, target_clip=3, grid_size=GRID_DEFAULT, model=None, faithful=True):
        """The pitch x rhythm grid between two 2-bar clips as captioned roll thumbnails (faithful: corners play the clips)."""
        source, bpm = song.read_clip(source_example, source_file, source_clip, EXAMPLES)
        target, _ = song.read_clip(target_example, target_file, target_clip, EXAMPLES)
        b = self.pick(model)
        cells = knobs.grid(b.model, b.dims, source, target, grid_size, as_faithful(faithful))
        return [(str(path), caption) for path, caption in knobs.grid_gallery(cells)], {"grid": cells, "bpm": bpm}

    @user_errors
    def play_cell(self, grid_state, evt: gr.SelectData):
        """Audio (it plays at once) and MIDI of the grid cell the user selected."""
        if not grid_state:  # a sentence, not an error: nothing is broken
            return None, None, NO_GRID
        cells = grid_state["grid"]
        i, j = divmod(int(evt.index), len(cells))
        audio, midi = render.sound_files(cells[i, j], grid_state["bpm"], f"cell_{i}_{j}")
        return str(audio), str(midi), f"Cell: {knobs.grid_caption(i, j, len(cells))}"

    @user_errors
    def play_diagonal(self, grid_state):
        """The cells (i, i) from source to target joined into one melody: audio and MIDI."""
        if not grid_state:
            return None, None, NO_GRID
        audio, midi = render.sound_files(knobs.diagonal(grid_state["grid"]), grid_state["bpm"], "diagonal")
        return str(audio), str(midi), "The diagonal, source to target"

    @user_errors
    def inspect_song(self, example=DEFAULT, midi_file=None, track=None, song_code=None, bpm=None, state=None,
                     model=None, faithful=True, progress=gr.Progress()):  # noqa: B008
        """Re-run the pitch/rhythm analysis (disentanglement by augmentation) on the current song's clips, on μ."""
        s = self._song(state, example, midi_file, track, song_code, bpm, model, faithful)
        dims = song_dims(self.pick(model).model, s.tokens, s.label, progress=lambda f, msg: progress(f, desc=msg))
        return measures.dims_rows(dims), measures.dim_scores_figure(dims, f"{s.label}: {s.n_clips} clips"), s


# ----------------------------------------------------------------------------- layout


def _banner(b: Bundle) -> str:
    return "\n\n".join([INTRO, *(f"⚠️ {notice}" for notice in b.notices())])


def knobs_tab(b: Bundle) -> SimpleNamespace:
    """The Knobs tab: a song, the knob sliders, the result's roll, audio, MIDI and share link."""
    ui = SimpleNamespace()
    with gr.Tab("Knobs"), gr.Row():
        with gr.Column(scale=1, min_width=300, elem_id="song-col"):
            ui.example, ui.upload, _ = tabs.song_picker("Song: ", ids=("song-box", "song-upload"))
            ui.track = gr.Dropdown([], label="Track (melody)", visible=False, allow_custom_value=True)
            ui.song_code, ui.bpm = gr.Textbox(visible=False), gr.Number(visible=False)
            ui.info = gr.Markdown(label="Song", elem_id="song-info")
            ui.faithful = gr.Checkbox(True, label="Faithful to the song", elem_id="faithful", info=FAITHFUL_HELP)
            gr.Markdown(f"{song.LIMITS} A grid has {GRID_RANGE[0]} to {GRID_RANGE[1]} cells per side.")
        with gr.Column(scale=2, elem_id="knob-col"):
            with gr.Row():
                ui.pitch = gr.Slider(*PITCH_RANGE, value=0, step=0.5, label="Pitch (semitones)", elem_id="pitch")
                ui.rhythm = gr.Slider(*RHYTHM_RANGE, value=0, step=0.25, label="Rhythm (splits)", elem_id="rhythm")
                ui.residual = gr.Slider(*RESIDUAL_RANGE, value=0, step=0.25, label="Residual (std)")
            gr.HTML(LEGEND_HTML, elem_id="roll-legend")
            ui.roll = gr.Image(label="Result (orange) over the original (grey)", show_label=False, format="png",
                               interactive=False, elem_id="result-roll", buttons=["fullscreen"])
            ui.did = gr.Markdown(elem_id="what-it-did")
            with gr.Row():
                ui.audio_orig = gr.Audio(label="Original", interactive=False)
                ui.audio_out = gr.Audio(label="Result", interactive=False, elem_id="result-audio")
            with gr.Row():
                ui.bar_from = gr.Slider(1, MAX_BARS, value=1, step=1, label="From bar")
                ui.bar_to = gr.Slider(1, MAX_BARS, value=MAX_BARS, step=1, label="To bar")
                ui.control = gr.Checkbox(label="Random control: same move on random non-significant dims")
            with gr.Accordion("Advanced: one slider per pitch and rhythm dim (raw latent units)", open=False), gr.Row():
                ui.offsets = [gr.Slider(*OFFSET_RANGE, value=0, step=0.1, label=f"{n} (default model)", min_width=140)
                              for n in b.dims.offset_names]
            with gr.Row():
                ui.midi_out = gr.File(label="Result as MIDI", interactive=False, height=80)
                with gr.Column(min_width=160):
                    ui.make_wav = gr.Button("Make a lossless WAV", size="sm", elem_id="make-wav")
                    ui.wav_out = gr.File(label="Result as WAV", interactive=False, height=80, elem_id="result-wav")
                ui.link = gr.Textbox(label="Share this song and knobs", buttons=["copy"], interactive=False)
            ui.abc = staff.notation_block()  # the result as ABC text and as a staff
            with gr.Accordion("Original piano roll", open=False):
                ui.roll_orig = gr.Image(label="Original piano roll", show_label=False, format="png", interactive=False)
    return ui


def inspect_tab(b: Bundle) -> SimpleNamespace:
    """The Inspect tab: the paper's figures, this model's dims and report, the analysis on the current song."""
    figures = sorted(FIGURES_DIR.glob("*.png"))
    ui = SimpleNamespace()
    with gr.Tab("Inspect"):
        gr.Markdown("Disentanglement by augmentation (paper §3): transpose clips by 1–12 semitones and split two whole "
                    f"notes into 2–16; the latent dims that move most are the pitch and rhythm dims.\n\n{measures.HELP}")
        if figures:  # whole figures (contain, not cropped), each with its name
            gr.Gallery([(str(p), p.stem.replace("_", " ")) for p in figures], label="Figures", object_fit="contain",
                       columns=min(2, len(figures)), height="auto", elem_id="figures")
        with gr.Row():
            gr.Dataframe(measures.dims_rows(b.dims), label="Dims of this model", **TABLE)
            if b.report:
                gr.Dataframe(measures.report_rows(b.report), label="report.json", elem_id="report", **TABLE)
        if "pitch_scores" in b.dims.meta:
            gr.Plot(measures.dim_scores_figure(b.dims, "this model"), label="Σ |Δz| per latent dim")
        ui.analyse = gr.Button("Re-run the analysis on the current song's clips")
        with gr.Row():
            ui.song_dims = gr.Dataframe(label="Dims found on this song (the knobs keep the model's own dims)", **TABLE)
            ui.song_plot = gr.Plot(label="Σ |Δz| per latent dim, this song")
    return ui


def _served(path: Path) -> str | None:  # a figure of a model card, where gradio serves the allowed files
    return f"/gradio_api/file={quote(str(path))}" if path.is_relative_to(FIGURES_DIR) else None


def model_tab(bundles: dict[str, Bundle]) -> gr.Dropdown:
    """The Model tab: which model the other tabs use; for each, where its weights came from and its card."""
    with gr.Tab("Model"):
        choice = gr.Dropdown(list(bundles), value=next(iter(bundles)), label="Model used by every tab",
                             info=MODELS_HELP)
        for name, b in bundles.items():
            with gr.Accordion(f"Model '{name}'", open=name == next(iter(bundles))):
                card = b.card_markdown(_served)
                gr.Markdown(f"{b.source_markdown()}\n\n{card or '*This model folder has no README.md (model card).*'}")
    return choice


def wire_knobs(demo: gr.Blocks, h: Handlers, k: SimpleNamespace, state, base, model):
    """Loading a song (page load, example, upload, track, model) and moving a knob: the result, then the share link.
    Returns ``show(event)``, which chains the result and the link after another event that loads a song."""
    song_in = [k.example, k.upload, k.track, k.song_code, k.bpm]
    knob_in = [k.pitch, k.rhythm, k.residual, k.control, k.bar_from, k.bar_to]
    load_out = [k.roll_orig, k.audio_orig, k.info, k.track, k.bar_from, k.bar_to, k.example, state]
    load_in = [*song_in, state, k.bar_from, k.bar_to, model, k.faithful]  # load_song's inputs
    stay = [state, model, k.faithful, k.pitch, k.rhythm, k.residual, k.control, *k.offsets]  # those that stay are named
    refresh = {"fn": h.modulate_sliders, "inputs": [state, model, k.faithful, base, *song_in, *knob_in, *k.offsets],
               "outputs": [k.roll, k.audio_out, k.midi_out, k.wav_out, k.did, state, k.link, k.abc], **private("knobs")}
    loads = (
        demo.load(h.restore, None, [k.example, k.song_code, k.bpm, k.track, k.faithful, *knob_in, *k.offsets, base],
                  **private("restore")
                  ).then(h.load_song, load_in, load_out, **private("load_restored")),
        k.example.input(h.pick_example, [k.example, *stay], [k.upload, k.song_code, *load_out], **private("pick_example")),
        k.upload.upload(h.pick_upload, [k.upload, *stay], [k.upload, k.song_code, *load_out], **private("pick_upload")),
        k.upload.clear(h.clear_upload, [k.example, *stay], load_out, **private("clear_upload")),
        gr.on([k.track.input, model.input, k.faithful.input], h.load_song, load_in, load_out, **private("pick_track")),
    )
    show = lambda event: event.success(**refresh)
    for event in loads:  # a new song: show it through the knobs as they stand
        show(event)
    # .input: a drag, a typed value or an arrow key; always_last computes the latest value once the one running ends
    gr.on([s.input for s in (k.pitch, k.rhythm, k.residual, k.control, k.bar_from, k.bar_to, *k.offsets)],
          trigger_mode="always_last", **refresh)
    k.make_wav.click(h.result_wav, [state, model, k.faithful, *song_in, *knob_in, *k.offsets], k.wav_out,
                     **private("result_wav"))
    return show


def wire_api(h: Handlers, state) -> None:
    """API-only endpoints on hidden components of their own: a page's slider limits never constrain an API call."""
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


def build_demo(bundles: dict[str, Bundle] | Bundle) -> gr.Blocks:
    """The app on loaded bundles, models by name, the default first (see :func:`vae.bundle.load_bundles`)."""
    h = Handlers(bundles)
    bundles, bundle = h.bundles, h.bundle
    with gr.Blocks(title=TITLE, delete_cache=(3600, 86400)) as demo:
        state, grid_state, base = gr.State(), gr.State(), gr.State("")
        gr.Markdown(_banner(bundle))
        k, g = knobs_tab(bundle), tabs.interpolate_tab(GRID_DEFAULT)
        a, s, t = tabs.analogy_tab(), tabs.sampling_tab(), tabs.typed_tab()
        i, model = inspect_tab(bundle), model_tab(bundles)
        tabs.wire(demo, h, a, s, t, model, base, k, g, state, wire_knobs(demo, h, k, state, base, model))
        g.make_grid.click(h.interpolate, [*g.src, *g.tgt, g.grid_size, model, k.faithful], [g.gallery, grid_state],
                          api_name="interpolate"
                          ).success(lambda grid: gr.Gallery(columns=len(grid["grid"])), grid_state, g.gallery,
                                    **private("grid_columns"))  # one gallery row per grid row
        g.gallery.select(h.play_cell, grid_state, [g.cell_audio, g.cell_midi, g.cell_info], **private("play_cell"))
        g.diagonal.click(h.play_diagonal, grid_state, [g.cell_audio, g.cell_midi, g.cell_info],
                         **private("play_diagonal"))
        i.analyse.click(h.inspect_song, [k.example, k.upload, k.track, k.song_code, k.bpm, state, model, k.faithful],
                        [i.song_dims, i.song_plot, state], api_name="inspect")
        wire_api(h, state)
    refuse_non_numbers(demo)
    return demo


def serve(demo: gr.Blocks, host: str = HOST, port: int = PORT, share: bool = False, **kwargs):
    """Queue and launch ``demo`` with the app's limits; ``kwargs`` go to ``launch`` (e.g. prevent_thread_lock)."""
    torch.set_num_threads(TORCH_THREADS)
    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_SIZE)
    gr.set_static_paths([render.OUT_DIR])  # served where they are (bounded there), not copied into gradio's cache
    return demo.launch(server_name=host, server_port=port, share=share, max_file_size=song.MAX_UPLOAD_BYTES,
                       allowed_paths=[str(FIGURES_DIR)], css=CSS, **kwargs)


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
