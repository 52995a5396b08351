"""The Knobs tab: a song (example, upload, typed or shared), the pitch, rhythm and residual knobs, the result.

A song's source on the page is six widgets, in this order everywhere (``SOURCE``): the example menu (which also
names an upload or a shared song), the uploaded file (kept in a ``gr.State``: the upload box itself is emptied
after each upload, ready for the next file), the track, a song code (a typed or shared song), its tempo and its
title. The API's endpoints take the same song as keyword arguments (``ui.api``).
"""

from __future__ import annotations

import functools
import uuid
from types import SimpleNamespace

import gradio as gr

from ui import links, staff, store
from ui.common import DEFAULT, EXAMPLES, MP3, song_picker
from ui.guards import as_faithful, as_lossless, private, user_errors
from vae import knobs, measures, render, score, song
from vae.bundle import DEFAULT_MODEL, Bundle, pick_bundle
from vae.knobs import GRID_RANGE, OFFSET_RANGE, PITCH_RANGE, RESIDUAL_RANGE, RHYTHM_RANGE, Knobs
from vae.melody import MAX_BARS, STEPS_PER_BAR
from vae.pianoroll import LEGEND_HTML
from vae.score import estimate_key

FAITHFUL_HELP = "On: the song's latents are fitted to it, so the knobs at 0 play it as it is. Off: the model's reading."
NOTICE_SECONDS = 8  # a pop-up goes after this long, so that an old message never sits beside a new song
SOURCE = ("example", "upload", "track", "code", "bpm", "title")  # a song's widgets in handler order: SongSource fields


def song_summary(s: song.Song) -> str:
    """Markdown about the song: one line of facts, which track is the melody and why, and its warnings."""
    written = "" if s.meter == "4/4" else f" (written in {s.meter})"
    facts = f"**{s.label}**: {s.n_bars} bars of 4/4{written}, {s.n_clips} two-bar clips, {s.bpm:g} bpm. "
    facts += f"Key: {estimate_key(s.tokens).name} (estimated from its notes). "
    if s.faithful:
        facts += (f"With every knob at 0 it plays back {100 * s.accuracy:.1f} % of its steps (faithful to the "
                  f"song); the model's own reading: {100 * s.model_accuracy:.1f} %.")
    else:
        facts += (f"With every knob at 0 the model's own reading plays back {100 * s.accuracy:.1f} % of its "
                  "steps (faithful to the song: off).")
    return "\n\n".join([facts] + [s.choice] * bool(s.choice) + [f"⚠️ {m}" for m in s.warnings])


def model_note(name: str) -> str:
    """The line that names the model a tab uses."""
    return f"Model: **{name}** (change it in the Model tab)"


class Handlers:
    """The Knobs tab's event handlers, bound to the bundles (models by name): loaded once, shared read-only by all
    users, and the song loading the other tabs use. Per-user data (the loaded song) comes and goes through
    ``gr.State``."""

    def __init__(self, bundles: dict[str, Bundle] | Bundle):
        self.bundles = bundles if isinstance(bundles, dict) else {DEFAULT_MODEL: bundles}
        self.bundle = next(iter(self.bundles.values()))  # the default model
        self.default = next(iter(self.bundles))  # its name
        self.pick = functools.partial(pick_bundle, self.bundles)  # model name (None: the default) -> Bundle
        self.n_sliders = max(b.space.n_offsets for b in self.bundles.values())  # Advanced sliders on the page

    def model_name(self, model=None) -> str:
        """The name of the model ``model`` picks (None or "": the default)."""
        return model if model in self.bundles else self.default

    def model_param(self, model=None) -> dict[str, str]:
        """A link's query parameter naming the model ``model`` picks: none for the default model."""
        name = self.model_name(model)
        return {} if name == self.default else {"model": name}

    @staticmethod
    def source(*values) -> song.SongSource:
        """The song the SOURCE widgets' values (or an API call's, in the same order) name."""
        named = dict(zip(SOURCE, values, strict=False))
        return song.SongSource(**named | {"title": named.get("title") or ""})

    def _song(self, state, source: song.SongSource, model=None, faithful=True) -> song.Song:
        default = self.model_name(model) == self.default  # songs of the default model carry no model name
        bar = gr.Progress()  # a bar on the page while a new song's latents are fitted; nothing outside an event
        return song.load(self.pick(model).model, source, EXAMPLES, cached=state,
                         reading=song.Reading(model_name="" if default else model, faithful=as_faithful(faithful),
                                              progress=lambda f, msg: bar(f, desc=msg)))

    def summary(self, s: song.Song, model=None) -> str:
        """The song's facts on the page, and the model that reads it."""
        return f"{song_summary(s)}\n\n{model_note(self.model_name(model))}"

    @user_errors
    def load_song(self, source: song.SongSource | None = None, state=None, model=None, faithful=True, bars=None):
        """Load a song (upload > song code > example): original roll, audio, summary, track list, bar range (the
        one given, e.g. a share link's, moved into the song; else all of it), the name in the song box."""
        s = self._song(state, source or song.SongSource(), model, faithful)
        for message in s.warnings:
            gr.Warning(message, duration=NOTICE_SECONDS)
        first, last = s.bar_range(bars if bars and all(bars) else None)
        roll, page_audio = store.original_files(s)
        return (str(roll), str(page_audio), self.summary(s, model),
                gr.Dropdown(choices=s.tracks, value=s.track if s.tracks else None, visible=len(s.tracks) > 1,
                            allow_custom_value=True),
                gr.Slider(maximum=s.n_bars, value=first), gr.Slider(maximum=s.n_bars, value=last),
                s.example or s.label, s)  # the song box names the song that plays

    @user_errors
    def describe_song(self, example=DEFAULT, midi_file=None, track=None, song_code=None, bpm=None,  # noqa: PLR0913 (an API endpoint: its parameters are the API's names)
                      state=None, model=None, faithful=True, audio_format=MP3):
        """Load a song (upload > song code > example): its piano roll, its audio (MP3, or "wav"), facts about it."""
        s = self._song(state, self.source(example, midi_file, track, song_code, bpm), model, faithful)
        return *map(str, store.original_files(s, as_lossless(audio_format))), s.facts(), s

    def load_page_song(self, state, model, faithful, bar_from, bar_to, *source):
        """The song the SOURCE widgets' values name, keeping the bar range where it fits (a share link's)."""
        return self.load_song(self.source(*source), state, model, faithful, (bar_from, bar_to))

    @staticmethod
    def _turn(s: song.Song, b: Bundle, controls, lossless: bool = False):
        """The knobs (as :meth:`Knobs.from_controls` takes them) on a loaded song: the knobs, the result, and its
        files as they are ready (:func:`store.result_files_as_ready`: roll and MIDI, then the audio: MP3, or with
        ``lossless`` WAV)."""
        k = Knobs.from_controls(controls, n_bars=s.n_bars)
        title, stem = k.title(s.label, b.space.offset_names), k.stem(s.name)  # named before the walk goes down
        result = knobs.apply(b.model, b.space, s.tokens, k, latents=s.latents)
        label = render.Label(title, stem)
        return k, result, store.result_files_as_ready(result, s.tokens, s.bpm, label, k.bars, lossless)

    @user_errors
    def modulate(self, example=DEFAULT, midi_file=None, track=None, song_code=None, bpm=None,  # noqa: PLR0913 (an API endpoint: its parameters are the API's names)
                 pitch=0.0, rhythm=0.0, residual=0.0, control=False, bar_from=1, bar_to=MAX_BARS, dim_offsets=None,
                 state=None, model=None, faithful=True, audio_format=MP3):
        """Turn the knobs on a song: result piano roll (over the original), audio (MP3, or "wav"), MIDI file."""
        s = self._song(state, self.source(example, midi_file, track, song_code, bpm), model, faithful)
        controls = knobs.Controls(pitch, rhythm, residual, control, bar_from, bar_to, dim_offsets)
        *_, files = self._turn(s, self.pick(model), controls, as_lossless(audio_format))[2]
        return (*map(str, files), s)

    @staticmethod
    def _new_song(knob_values, *outputs) -> tuple:
        """``outputs`` of a new song, which takes the knobs as they stand (pitch, rhythm, residual, control, offsets):
        said once, unless they are at rest."""
        if knob_values and (moved := Knobs(*knob_values[:3], bool(knob_values[3]), None, knob_values[4:]).moved()):
            gr.Info(f"The knobs stay where they were: {moved}. Set them to 0 to hear the new song as it is.",
                    duration=NOTICE_SECONDS)
        return outputs

    def pick_example(self, example, state, model=None, faithful=True, *knob_values):
        """An example from the menu: it replaces an upload or a shared song (their file, code and title go)."""
        loaded = self.load_song(self.source(example), state, model, faithful)
        return self._new_song(knob_values, None, "", "", *loaded)

    def pick_upload(self, midi_file, state, model=None, faithful=True, *knob_values):
        """An uploaded file replaces the song; the box is emptied, ready for another. A file that is refused
        leaves the box too, and the song before it stays, whichever it was."""
        try:
            loaded = self.load_song(song.SongSource(upload=midi_file), state, model, faithful)
        except gr.Error as err:
            playing = state.label if isinstance(state, song.Song) else "The song you had"
            gr.Warning(f"{err.message[:1].upper()}{err.message[1:]}. {playing} stays loaded.",
                       duration=NOTICE_SECONDS)
            return None, *[gr.skip()] * 11
        return self._new_song(knob_values, None, midi_file, "", "", *loaded)

    def _page_song(self, state, model, faithful, source) -> song.Song:
        return self._song(state, self.source(*source), model, faithful)

    @user_errors
    def modulate_sliders(self, state, model, faithful, base, *values):
        """modulate for the page (``values``: the SOURCE widgets, the 6 knobs, then the offsets), in two answers: the
        result's roll and MIDI (no WAV yet: a button makes one), a line on what the knobs did, the song, its link and
        its ABC text; then, once encoded, its audio."""
        s = self._page_song(state, model, faithful, values[:6])
        knob_values = values[6:]
        controls = knobs.Controls(*knob_values[:6], knob_values[6:])  # pitch, rhythm, residual, control, bars, offsets
        k, result, files = self._turn(s, self.pick(model), controls)
        roll, _, midi = next(files)
        first, last = k.bars  # measured where the knobs moved the song
        bars = slice((first - 1) * STEPS_PER_BAR, last * STEPS_PER_BAR)
        where = "" if (first, last) == (1, s.n_bars) else f" in bars {first}–{last}"
        did = f"**What the knobs did**{where} (against the song at rest): {measures.what_it_did(s.unmoved[bars], result[bars])}"
        abc = score.abc_text(result, s.bpm, k.title(s.label, self.pick(model).space.offset_names))  # in its own key
        yield str(roll), gr.skip(), str(midi), None, did, s, self.share_link(s, base, model, *knob_values), abc
        yield gr.skip(), str(next(files).audio), *[gr.skip()] * 6

    @user_errors
    def result_wav(self, state, model, faithful, *values):
        """The result of the knobs as they stand (``values``: as :meth:`modulate_sliders`) as a lossless WAV, for the
        page's download button."""
        s = self._page_song(state, model, faithful, values[:6])
        knob_values = values[6:]
        *_, files = self._turn(s, self.pick(model), knobs.Controls(*knob_values[:6], knob_values[6:]), lossless=True)[2]
        return str(files.audio)

    @user_errors
    def share_link(self, state, base, model, *knob_values):
        """The URL that restores this song, these knobs (pitch, rhythm, residual, control, bars, offsets) and this
        model."""
        if not isinstance(state, song.Song):
            return ""
        pitch, rhythm, residual, control, bar_from, bar_to, *offsets = knob_values
        k = Knobs.from_controls(knobs.Controls(pitch, rhythm, residual, control, bar_from, bar_to, offsets),
                                state.n_bars)
        name = self.model_param(model).get("model", "")
        return links.share_url(base, state, k.checked(state.n_bars, len(offsets)), name)

    def restore(self, request: gr.Request):
        """On page load: the song (SOURCE), model and knobs of a share link, and the page's own URL."""
        shared, problems = links.restore(dict(request.query_params) if request else {}, EXAMPLES,
                                         self.n_sliders, list(self.bundles))
        if problems:  # one notice, naming every fault
            gr.Warning(" ".join(problems), duration=NOTICE_SECONDS * 2)
        k, bars = shared.knobs, shared.knobs.bars or (1, MAX_BARS)
        source = (shared.example or DEFAULT, None, shared.track, shared.code or "", shared.bpm, shared.title)
        return (*source, self.model_name(shared.model), shared.faithful, k.pitch, k.rhythm, k.residual, k.control,
                *bars, *k.offsets, links.page_url(request.headers) if request else "")

    def offset_sliders(self, model=None) -> list:
        """The Advanced sliders, named after the dims of the model ``model`` picks (hidden past its dims)."""
        names = self.pick(model).space.offset_names
        return [gr.Slider(label=names[i] if i < len(names) else "", visible=i < len(names))
                for i in range(self.n_sliders)]


def stamped(fn):
    """``fn``, a handler whose outputs end with the song ``state``, with one more output: a new token (the Knobs
    tab's ``loaded``) when it loaded a song, else none (a refused file). A token's change shows the song."""
    @functools.wraps(fn)
    def run(*args):
        outputs = fn(*args)
        return *outputs, uuid.uuid4().hex if isinstance(outputs[-1], song.Song) else gr.skip()
    return run


# ----------------------------------------------------------------------------- layout


def layout(h: Handlers) -> SimpleNamespace:
    """The Knobs tab: a song, the knob sliders, the result's roll, audio, MIDI and share link."""
    ui = SimpleNamespace()
    names = h.bundle.space.offset_names
    with gr.Tab("Knobs", id="knobs"), gr.Row(elem_id="knobs-row"):
        with gr.Column(scale=1, min_width=300, elem_id="song-col"):
            ui.example, ui.upload, _ = song_picker("Song: ", ids=("song-box", "song-upload"))
            ui.upload_path = gr.State()  # the uploaded file that plays (the box is emptied for the next one)
            ui.track = gr.Dropdown([], label="Track (melody)", visible=False, allow_custom_value=True)
            ui.song_code, ui.bpm = gr.Textbox(visible=False), gr.Number(visible=False)
            ui.song_title = gr.Textbox(visible=False)
            # A new token each time a song is loaded: its .change shows the song through the knobs (see wire)
            ui.loaded = gr.Textbox(visible="hidden", elem_id="song-loaded")
            ui.info = gr.Markdown(label="Song", elem_id="song-info")
            ui.faithful = gr.Checkbox(True, label="Faithful to the song", elem_id="faithful", info=FAITHFUL_HELP)
            gr.Markdown(f"{song.LIMITS} A grid has {GRID_RANGE[0]} to {GRID_RANGE[1]} cells per side.",
                        elem_id="limits")
        with gr.Column(scale=2, elem_id="knob-col"):
            with gr.Row(elem_id="knob-row"):
                ui.pitch = gr.Slider(*PITCH_RANGE, value=0, step=0.5, label="Pitch (semitones)", elem_id="pitch")
                ui.rhythm = gr.Slider(*RHYTHM_RANGE, value=0, step=0.25, label="Rhythm (splits)", elem_id="rhythm")
                ui.residual = gr.Slider(*RESIDUAL_RANGE, value=0, step=0.25, label="Residual (std)",
                                        elem_id="residual")
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
            with gr.Accordion("Advanced: one slider per pitch and rhythm dim of the model (raw latent units)",
                              open=False, elem_id="advanced"), gr.Row():
                ui.offsets = [gr.Slider(*OFFSET_RANGE, value=0, step=0.1, label=names[i] if i < len(names) else "",
                                        visible=i < len(names), min_width=200, elem_classes=["offset"])
                              for i in range(h.n_sliders)]
            with gr.Row():
                ui.midi_out = gr.File(label="Result as MIDI", interactive=False, height=80)
                with gr.Column(min_width=160):
                    ui.make_wav = gr.Button("Make a lossless WAV", size="sm", elem_id="make-wav")
                    ui.wav_out = gr.File(label="Result as WAV", interactive=False, height=80, elem_id="result-wav")
                ui.link = gr.Textbox(label="Share this song, knobs and model", buttons=["copy"], interactive=False,
                                     elem_id="share-link")
            ui.abc = staff.notation_block()  # the result as ABC text and as a staff
            with gr.Accordion("Original piano roll", open=False):
                ui.roll_orig = gr.Image(label="Original piano roll", show_label=False, format="png", interactive=False)
    ui.source = [ui.example, ui.upload_path, ui.track, ui.song_code, ui.bpm, ui.song_title]  # SOURCE's order
    ui.knobs = [ui.pitch, ui.rhythm, ui.residual, ui.control, ui.bar_from, ui.bar_to]
    ui.load_out = [ui.roll_orig, ui.audio_orig, ui.info, ui.track, ui.bar_from, ui.bar_to, ui.example]
    return ui


def wire(demo: gr.Blocks, h: Handlers, k: SimpleNamespace, page: SimpleNamespace) -> None:
    """Loading a song (page load, example, upload, track, model) and moving a knob: the result and its link.

    ``page``: the song ``state``, the ``model`` menu and the page URL (``base``). Every event that loads a song
    (here, and the Typed tab's) ends with a new token in ``k.loaded``; the token's change and every knob are the
    triggers of one event, the result, which gradio runs one at a time per page with the latest values. So the result
    of a new song never lands after the result of a knob moved meanwhile (two events would race)."""
    state, model, base = page.state, page.model, page.base
    load_out = [*k.load_out, state, k.loaded]
    load_in = [state, model, k.faithful, k.bar_from, k.bar_to, *k.source]  # load_page_song's inputs
    stay = [state, model, k.faithful, k.pitch, k.rhythm, k.residual, k.control, *k.offsets]  # those that stay are named
    new_source = [k.upload_path, k.song_code, k.song_title]  # what a picked song replaces
    demo.load(h.restore, None, [*k.source, model, k.faithful, *k.knobs, *k.offsets, base], **private("restore")
              ).then(stamped(h.load_page_song), load_in, load_out, **private("load_restored"))
    k.example.input(stamped(h.pick_example), [k.example, *stay], [*new_source, *load_out], **private("pick_example"))
    k.upload.upload(stamped(h.pick_upload), [k.upload, *stay], [k.upload, *new_source, *load_out],
                    **private("pick_upload"))
    gr.on([k.track.input, model.input, k.faithful.input], stamped(h.load_page_song), load_in, load_out,
          **private("pick_track"))
    # .input: a drag, a typed value or an arrow key; always_last computes the latest value once the one running ends
    gr.on([k.loaded.change, *(s.input for s in (k.pitch, k.rhythm, k.residual, k.control, k.bar_from, k.bar_to,
                                                *k.offsets))],
          h.modulate_sliders, [state, model, k.faithful, base, *k.source, *k.knobs, *k.offsets],
          [k.roll, k.audio_out, k.midi_out, k.wav_out, k.did, state, k.link, k.abc], trigger_mode="always_last",
          **private("knobs"))
    k.make_wav.click(h.result_wav, [state, model, k.faithful, *k.source, *k.knobs, *k.offsets], k.wav_out,
                     **private("result_wav"))
    model.change(h.offset_sliders, model, k.offsets, **private("offset_names"))
