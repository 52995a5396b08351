"""The app's tabs beyond the paper: Analogy, Sampling and a typed melody (Gradio UI only).

The logic lives in ``vae.ideas`` (analogy, prior samples, variations) and ``vae.notation`` (typed
melodies); this module lays out the tabs, and its handlers read the songs and hand the results to
``vae.render`` like the Knobs tab. A typed melody travels as a song code (``vae.melody.tokens_to_link_code``),
so it works wherever a song code does: the Knobs tab, its share links and the API.
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlencode

import gradio as gr
import numpy as np

from guards import as_faithful, as_lossless, private, user_errors
from vae import ideas, render, song
from vae.knobs import GRID_RANGE
from vae.melody import Melody, tokens_to_link_code
from vae.notation import parse_melody, tokens_to_text
from vae.pianoroll import piano_roll_thumbnail, roll_png

EXAMPLES = song.example_songs()
DEFAULT = song.DEFAULT_EXAMPLE
CHOICES = song.example_choices(EXAMPLES)  # (title, name): the menus show titles; events, links and the API get names
DIRECTIONS = {"A's pitch with B's rhythm": "a_pitch", "A's rhythm with B's pitch": "a_rhythm"}
N_SAMPLES, MAX_SHOWN = 8, 16  # melodies from the prior: default, most on the page
N_VARIATIONS, MAX_VARIATIONS = 4, 8
TEMPERATURE = 0.5
TYPED_HELP = ("Notes like `C4 D4 E4/2 E4/2 F#4*2 r G4` (quarter notes; `/2` halves, `*2` doubles, `r` rests), "
              "or an ABC tune with a `K:` line.")
TYPED_EXAMPLE = "X:1\nT:Twinkle\nM:4/4\nL:1/4\nK:C\nCCGG|AA G2|FFEE|DD C2|"


def read(example=DEFAULT, midi_file=None, song_code=None, text=None, bpm=None) -> tuple[Melody, str]:
    """A song from an upload, else a typed melody, else a song code, else an example: (melody, name)."""
    return song.SongSource(example=example, upload=midi_file, code=song_code, bpm=bpm, text=text).read(EXAMPLES)


def thumbnail_gallery(songs, stem: str, captions) -> list[tuple[str, str]]:
    """(thumbnail PNG path, caption) of each song (T,), all on one pitch scale."""
    notes = np.concatenate([s[s < 128] for s in songs])
    window = (max(0, int(notes.min()) - 1), min(127, int(notes.max()) + 1)) if notes.size else None
    return [(str(render.image_file(piano_roll_thumbnail(s, pitch_range=window), f"{stem}_{i + 1}")), caption)
            for i, (s, caption) in enumerate(zip(songs, captions, strict=True))]


class Ideas:
    """Handlers of the Analogy, Sampling and typed-melody tabs, on the app's Handlers (models by name)."""

    def __init__(self, handlers):
        self.h = handlers

    @user_errors
    def analogy(self, a_example=DEFAULT, a_file=None, a_code=None, a_text=None, b_example="test_1", b_file=None,
                b_code=None, b_text=None, mix=1.0, direction="a_pitch", control=False, model=None, faithful=True,
                audio_format="mp3"):
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
        files = render.result_files(result, pitch.tokens, pitch.bpm, render.Label(title, stem),
                                    lossless=as_lossless(audio_format))
        return tuple(map(str, files))

    @staticmethod
    def _many(songs, bpm: float, stem: str, captions, audio_format=None):
        """Gallery, and roll / audio (MP3, or "wav") / MIDI of all the songs one after another, and the per-user
        state."""
        joined = ideas.join_with_rests(songs)
        roll = render.write_output(roll_png(joined, title=f"{stem}: {len(songs)}, a bar of rest between"),
                                   f"{stem}.png")
        return (thumbnail_gallery(songs, stem, captions), str(roll),
                *map(str, render.sound_files(joined, bpm, stem, as_lossless(audio_format))), ideas.SongSet(list(songs), bpm, stem))

    @user_errors
    def sample(self, n=N_SAMPLES, temperature=TEMPERATURE, seed=0, model=None, audio_format="mp3"):
        """``n`` 2-bar melodies from the prior: gallery, roll, audio and MIDI of them all."""
        clips = ideas.sample(self.h.pick(model).model, int(n), float(temperature), int(seed))
        return self._many(list(clips), 120.0, f"samples_t{float(temperature):g}_seed{int(seed)}",
                          [f"{i + 1} (seed {int(seed)})" for i in range(len(clips))], audio_format)

    @user_errors
    def variations(self, example=DEFAULT, midi_file=None, song_code=None, text=None, n=N_VARIATIONS, spread=1.0,
                   seed=0, temperature=0.0, model=None, faithful=True, audio_format="mp3"):
        """``n`` versions of a song, each clip's z drawn around its latent: gallery, roll, audio and MIDI."""
        melody, name = read(example, midi_file, song_code, text)
        versions = ideas.variations(self.h.pick(model).model, melody.tokens,
                                    ideas.Variations(int(n), float(spread), int(seed), float(temperature)),
                                    as_faithful(faithful))
        return self._many(list(versions), melody.bpm, f"{render.safe_stem(name)}_spread{float(spread):g}_seed{int(seed)}",
                          [f"variation {i + 1}" for i in range(len(versions))], audio_format)

    @user_errors
    def vary_loaded(self, state, n=N_VARIATIONS, spread=1.0, seed=0, temperature=0.0, model=None, faithful=True):
        """:meth:`variations` of the song loaded in the Knobs tab (its upload, example, code or typed melody)."""
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
        return *map(str, render.sound_files(many.songs[i], many.bpm, f"{many.stem}_{i + 1}")), \
            f"Playing {many.stem} {i + 1}"

    @user_errors
    def analogy_link(self, base, a_example, a_file, a_code, a_text, b_example, b_file, b_code, b_text, mix,
                     direction, control) -> str:
        """The URL that makes the same analogy again (an upload or a typed melody travels as a song code)."""
        params = {"analogy": "1"}
        for side, (example, midi_file, code, text) in (("a", (a_example, a_file, a_code, a_text)),
                                                       ("b", (b_example, b_file, b_code, b_text))):
            if midi_file or (text or "").strip() or code:
                params[f"an_{side}_song"] = tokens_to_link_code(read(example, midi_file, code, text)[0].tokens)
            else:
                params[f"an_{side}"] = example or DEFAULT
        params.update(an_mix=f"{float(mix):g}", an_direction=DIRECTIONS.get(direction, direction),
                      an_control="1" if control else "0")
        return f"{base or '/'}?{urlencode(params)}"

    @staticmethod
    def restore_analogy(request: gr.Request):
        """An analogy link's songs (example, song code), mix, direction and control, and whether there was one."""
        q = dict(request.query_params) if request else {}
        example = lambda side: q.get(f"an_{side}") if q.get(f"an_{side}") in EXAMPLES else DEFAULT
        try:
            mix = min(max(float(q.get("an_mix", 1.0)), 0.0), 1.0)
        except ValueError:
            mix = 1.0
        direction = q.get("an_direction") if q.get("an_direction") in DIRECTIONS.values() else "a_pitch"
        return (example("a"), q.get("an_a_song", ""), example("b"), q.get("an_b_song", ""), mix, direction,
                q.get("an_control") == "1", "analogy" in q)

    @staticmethod
    def sample_link(base, n, temperature, seed) -> str:
        """The URL that samples the same melodies again."""
        query = urlencode({"sample_seed": int(seed), "n": int(n), "temperature": f"{float(temperature):g}"})
        return f"{base or '/'}?{query}"

    @staticmethod
    def restore_sample(request: gr.Request):
        """A sampling link's n, temperature and seed (the defaults without one)."""
        q = dict(request.query_params) if request else {}
        try:
            return (min(max(int(q.get("n", N_SAMPLES)), 1), MAX_SHOWN), float(q.get("temperature", TEMPERATURE)),
                    int(q.get("sample_seed", 0)), "sample_seed" in q)
        except ValueError:
            return N_SAMPLES, TEMPERATURE, 0, False

    def to_knobs(self, code, bpm, state, model=None, faithful=True):
        """A typed melody (its song code) as the Knobs tab's song: clears the upload, then loads it."""
        return None, code, bpm, *self.h.load_song(song_code=code, bpm=bpm, state=state, model=model, faithful=faithful)

    @staticmethod
    @user_errors
    def as_midi(text) -> str:
        """A typed melody as a MIDI file, for the Interpolate tab's file inputs."""
        melody = parse_melody(text)
        return str(render.midi_file(melody.tokens, melody.bpm, "typed_melody"))

    @user_errors
    def preview(self, text):
        """A typed melody at once: its roll, its song code and tempo, and a line about it."""
        if not (text or "").strip():
            return None, "", 120.0, TYPED_HELP
        melody = parse_melody(text)
        roll = render.write_output(roll_png(melody.tokens, title="typed melody"), "typed.png")
        warn = "".join(f" ⚠️ {w}." for w in melody.warnings)
        return (str(roll), tokens_to_link_code(melody.tokens), melody.bpm,
                f"{len(melody.tokens) // 16} bars at {melody.bpm:g} bpm: `{tokens_to_text(melody.tokens)[:300]}`{warn}")


# ----------------------------------------------------------------------------- layout


def song_picker(label: str, clip: int | None = None, ids: tuple = (None, None)) -> tuple:
    """An example menu (titles shown, names given; it may name an upload), a MIDI upload, a clip number."""
    with gr.Column():
        example = gr.Dropdown(CHOICES, value=DEFAULT, label=f"{label}example", allow_custom_value=True,
                              elem_id=ids[0])
        upload = gr.File(label=f"{label}or your MIDI file (.mid)", file_types=[".mid", ".midi"], height=110,
                         elem_id=ids[1])
        number = gr.Number(clip, label=f"{label}clip (2 bars each, from 1)", precision=0, minimum=1) if clip else None
    return example, upload, number


def _picker(label: str, example: str) -> tuple:
    with gr.Column():
        chosen = gr.Dropdown(CHOICES, value=example, label=f"{label}: example")
        upload = gr.File(label=f"{label}: or a MIDI file", file_types=[".mid", ".midi"])
        text = gr.Textbox(label=f"{label}: or type a melody", lines=2, placeholder="C4 D4 E4/2 E4/2 F4*2 | G4*4")
        code = gr.Textbox(visible=False)
    return chosen, upload, code, text


def analogy_tab() -> SimpleNamespace:
    """The Analogy tab: songs A and B, direction, mix, control; the result's roll, audio and MIDI."""
    ui = SimpleNamespace()
    with gr.Tab("Analogy"):
        gr.Markdown("The **pitch of one song with the rhythm of another**, clip by clip: each 2-bar clip of the pitch "
                    "song keeps its latent code but takes the **rhythm dims** of the other song's clip (which repeats "
                    "when shorter). The mix slerps only those dims; the control swaps random other dims instead.")
        with gr.Row():
            ui.a = _picker("Song A", DEFAULT)
            ui.b = _picker("Song B", "test_1" if "test_1" in EXAMPLES else DEFAULT)
            with gr.Column():
                ui.direction = gr.Radio(list(DIRECTIONS.items()), value="a_pitch", label="Direction")
                ui.mix = gr.Slider(*ideas.MIX_RANGE, value=1.0, step=0.05, label="Mix (0: the pitch song as it is)",
                                   elem_id="analogy-mix")
                ui.control = gr.Checkbox(label="Random control: swap random non-significant dims")
                ui.go = gr.Button("Make the analogy", variant="primary", elem_id="analogy-go")
        ui.roll = gr.Image(label="Result (orange) over the pitch song (grey)", format="png", interactive=False,
                           elem_id="analogy-roll")
        with gr.Row():
            ui.audio = gr.Audio(label="Result", interactive=False, elem_id="analogy-audio")
            ui.midi = gr.File(label="Result as MIDI", interactive=False, height=80)
            ui.link = gr.Textbox(label="Share this analogy", buttons=["copy"], interactive=False)
    return ui


def sampling_tab() -> SimpleNamespace:
    """The Sampling tab: melodies from the prior, and variations of a song; click a roll to hear it."""
    ui = SimpleNamespace()
    with gr.Tab("Sampling"):
        gr.Markdown("**New melodies** from the prior z ~ N(0, I): temperature 0 decodes greedily, more samples each "
                    "step. **Variations** of a song draw each clip's z around its own code (spread in units of the "
                    "encoder's σ). The same seed gives the same melodies. Click a roll to hear it.")
        with gr.Row():
            ui.n = gr.Slider(1, MAX_SHOWN, value=N_SAMPLES, step=1, label="Melodies")
            ui.temperature = gr.Slider(*ideas.TEMPERATURE_RANGE, value=TEMPERATURE, step=0.05, label="Temperature")
            ui.seed = gr.Number(0, precision=0, minimum=0, label="Seed")
            ui.go = gr.Button("Sample", variant="primary", elem_id="sample-go")
        with gr.Accordion("Variations of a song", open=False), gr.Row():
            ui.song = _picker("Song", DEFAULT)
            with gr.Column():
                ui.n_var = gr.Slider(1, MAX_VARIATIONS, value=N_VARIATIONS, step=1, label="Variations")
                ui.spread = gr.Slider(*ideas.SPREAD_RANGE, value=1.0, step=0.1, label="Spread (σ)")
                ui.vary = gr.Button("Vary this song", elem_id="vary-go")
                ui.vary_loaded = gr.Button("Vary the Knobs tab's song", elem_id="vary-loaded")
        ui.gallery = gr.Gallery(label="Click a roll to hear it", columns=4, allow_preview=False, object_fit="contain",
                                format="png", elem_id="samples")
        with gr.Row():
            ui.info = gr.Markdown()
            ui.audio = gr.Audio(label="Selected", interactive=False, elem_id="sample-audio")
            ui.midi = gr.File(label="As MIDI", interactive=False, height=80)
        with gr.Accordion("All of them, one after another", open=False):
            ui.roll = gr.Image(format="png", interactive=False, show_label=False)
            with gr.Row():
                ui.all_audio, ui.all_midi = gr.Audio(interactive=False), gr.File(interactive=False, height=80)
        ui.link = gr.Textbox(label="Share these melodies", buttons=["copy"], interactive=False)
    return ui


def typed_tab() -> SimpleNamespace:
    """The Type tab: a melody typed as ABC or note text, shown at once, to use in the other tabs."""
    ui = SimpleNamespace()
    with gr.Tab("Type a melody"):
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
                ui.info = gr.Markdown()
                ui.roll = gr.Image(format="png", interactive=False, show_label=False, elem_id="typed-roll")
        ui.code, ui.bpm = gr.Textbox(visible=False), gr.Number(visible=False)
    return ui


def interpolate_tab(grid_default: int) -> SimpleNamespace:
    """The Interpolate tab: two clips, the grid between them, a cell's audio."""
    ui = SimpleNamespace()
    with gr.Tab("Interpolate"):
        gr.Markdown("Source at the top left, target at the bottom right; **pitch** moves down the rows, **rhythm** along "
                    "the columns (SLERP), the rest follow the Manhattan distance. Click a cell to hear it.")
        with gr.Row():
            ui.src, ui.tgt = song_picker("Source ", clip=1), song_picker("Target ", clip=3)
            with gr.Column():
                ui.grid_size = gr.Slider(*GRID_RANGE, value=grid_default, step=1, label="Grid size")
                ui.make_grid = gr.Button("Interpolate", variant="primary", elem_id="make-grid")
                ui.diagonal = gr.Button("Play the diagonal (source → target)", elem_id="diagonal")
        ui.gallery = gr.Gallery(show_label=False, columns=grid_default, allow_preview=False, object_fit="contain",
                                format="png", elem_id="grid")
        with gr.Row():
            ui.cell_info = gr.Markdown(elem_id="cell-info")
            ui.cell_audio = gr.Audio(label="Selected", interactive=False, autoplay=True, elem_id="cell-audio")
            ui.cell_midi = gr.File(label="As MIDI", interactive=False, height=80)
    return ui


def wire(demo: gr.Blocks, h, a: SimpleNamespace, s: SimpleNamespace, t: SimpleNamespace, model, base,
         k: SimpleNamespace, g: SimpleNamespace, state, show_song) -> None:
    """The events of the three tabs. A typed melody goes to the Knobs tab (its widgets ``k``, the song
    ``state``), where ``show_song(event)`` chains the knobs' result after loading it, and to the
    Interpolate tab (``g``) as a MIDI file in place of an upload."""
    x = Ideas(h)
    many_state = gr.State()
    analogy_in = [*a.a, *a.b, a.mix, a.direction, a.control]
    fmt = gr.Radio(["mp3", "wav"], value="mp3", visible=False)  # API clients may ask for lossless audio
    a.go.click(x.analogy, [*analogy_in, model, k.faithful, fmt], [a.roll, a.audio, a.midi], api_name="analogy"
               ).success(x.analogy_link, [base, *analogy_in], a.link, **private("analogy_link"))
    for chosen, upload, code, _text in (a.a, a.b, s.song):  # a song picked here replaces a link's song code
        gr.on([chosen.input, upload.upload], lambda: "", None, code, **private("clear_code"))
    go_a = gr.State(False)
    demo.load(x.restore_analogy, None, [a.a[0], a.a[2], a.b[0], a.b[2], a.mix, a.direction, a.control, go_a],
              **private("restore_analogy")).success(
        lambda go, *args: x.analogy(*args) if go else [gr.skip()] * 3, [go_a, *analogy_in, model, k.faithful],
        [a.roll, a.audio, a.midi], **private("shared_analogy"))
    many_out = [s.gallery, s.roll, s.all_audio, s.all_midi, many_state]
    sample_in = [s.n, s.temperature, s.seed]
    # A new set takes the place of the old one: its selected melody's player, file and caption go, and so does the
    # link, which a sample set then gets anew (variations have none).
    forget = {"fn": lambda: (None, None, "", ""), "inputs": None, "outputs": [s.audio, s.midi, s.info, s.link],
              **private("forget_selected")}
    s.go.click(x.sample, [*sample_in, model, fmt], many_out, api_name="sample"
               ).success(**forget).success(x.sample_link, [base, *sample_in], s.link, **private("sample_link"))
    s.vary.click(x.variations, [*s.song, s.n_var, s.spread, s.seed, s.temperature, model, k.faithful, fmt], many_out,
                 api_name="variations").success(**forget)
    s.vary_loaded.click(x.vary_loaded, [state, s.n_var, s.spread, s.seed, s.temperature, model, k.faithful], many_out,
                        **private("vary_loaded")).success(**forget)
    s.gallery.select(x.play, many_state, [s.audio, s.midi, s.info], **private("play_sample"))
    shared = gr.State(False)
    demo.load(x.restore_sample, None, [*sample_in, shared], **private("restore_sample")).success(
        lambda go, *args: x.sample(*args) if go else [gr.skip()] * 5, [shared, *sample_in, model], many_out,
        **private("shared_sample"))
    preview = {"fn": x.preview, "inputs": t.text, "outputs": [t.roll, t.code, t.bpm, t.info], **private("typed")}
    demo.load(**preview)
    t.text.change(trigger_mode="always_last", **preview)
    load_out = [k.roll_orig, k.audio_orig, k.info, k.track, k.bar_from, k.bar_to, k.example, state]
    show_song(t.to_knobs.click(x.to_knobs, [t.code, t.bpm, state, model, k.faithful],
                               [k.upload, k.song_code, k.bpm, *load_out],
                               **private("typed_knobs")))
    for button, picker in ((t.to_src, g.src), (t.to_tgt, g.tgt)):
        button.click(x.as_midi, t.text, picker[1], **private("typed_to_grid"))
    for button, picker in ((t.to_a, a.a), (t.to_b, a.b), (t.to_vary, s.song)):
        button.click(lambda text: (None, text), t.text, [picker[1], picker[3]], **private("typed_to"))
