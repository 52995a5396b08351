"""Melody Knobs: turn the pitch, rhythm and residual knobs of a MusicVAE on a melody (Gradio UI).

    python app.py [--model user/repo | --model path/to/folder] [--revision SHA] [--host H] [--port P] [--share]

Yang et al., "Inspecting and Interacting with Meaningful Music Representations using VAE",
NIME 2019. The logic lives in ``vae/`` (``vae.session``, ``vae.explore``, ``vae.share``); this file
only lays out the UI and turns library errors (ValueError) into messages.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os

import gradio as gr
import torch

from vae import explore, hub, render, session, share, timing
from vae.session import OFFSET_RANGE, PITCH_RANGE, RESIDUAL_RANGE, RHYTHM_RANGE, Knobs

TITLE = "Melody Knobs"
HOST = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if os.environ.get("SPACE_ID") else "127.0.0.1")
PORT = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
# Events that run at once (each with TORCH_THREADS torch threads): one per core of a basic Space,
# so a knob move is not stuck behind another user's grid or analysis.
DEFAULT_CONCURRENCY = 2
QUEUE_SIZE = 64  # waiting events beyond this are refused with "queue full"
# torch threads per process. One event's work is small (a song's clips in one batch); with more
# threads, concurrent events and the server spin against each other (measured on 2 busy cores:
# a Twinkle knob move took 470 ms with 2 threads, 99 ms with 1).
TORCH_THREADS = int(os.environ.get("MELODY_KNOBS_TORCH_THREADS", "1"))
GRID_DEFAULT = 5
# The whole grid at once (no scrolling), cells shaped like the thumbnails (render.THUMB_SIZE, 5:3).
CSS = "#grid .grid-wrap { max-height: none; height: auto; } #grid .thumbnail-item { aspect-ratio: 5 / 3; }"
EXAMPLES = session.example_songs()
SONG_LIMITS = (f"Limits: MIDI files up to {session.MAX_UPLOAD_BYTES // 2**20} MB, {session.MAX_BARS} bars and "
               f"{session.MAX_SONG_SECONDS // 60} minutes, played at {session.BPM_RANGE[0]:g} to "
               f"{session.BPM_RANGE[1]:g} bpm; a grid of {session.GRID_RANGE[0]} to {session.GRID_RANGE[1]} cells "
               "per side.")
_CONFIG = {"source": None, "revision": None}  # app settings, the same for every user (set by build_demo)
logger = logging.getLogger("melody_knobs")


@functools.lru_cache(maxsize=2)
def _load_bundle(source: str | None, revision: str | None) -> session.ModelBundle:
    def log(fraction: float, message: str) -> None:
        logger.info("computing the pitch and rhythm dims: %3.0f %% (%s)", 100 * fraction, message)

    return session.load_bundle(source, revision, EXAMPLES, progress=log)


def bundle() -> session.ModelBundle:
    """The model, its dims and its card: loaded once per process, shared read-only by all users."""
    return _load_bundle(_CONFIG["source"], _CONFIG["revision"])


def user_errors(fn):
    """Show a library ValueError to the user as a gr.Error; the server keeps serving."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValueError as err:
            raise gr.Error(str(err)) from err
    return timing.timed(f"handler:{fn.__name__}")(wrapper)  # off unless $MELODY_KNOBS_TIMINGS is set


def _song(state, example, midi_file, track, song_code, bpm) -> session.Song:
    track = None if track in (None, "") else int(track)
    key = session.song_key(example, midi_file, song_code, bpm)
    if isinstance(state, session.Song) and state.matches(key, track):
        return state
    melody, name, example = session.read_song(example, midi_file, song_code, bpm, track, EXAMPLES)
    return session.prepare_song(bundle().model, melody, name, key, example)


# ----------------------------------------------------------------------------- handlers


@user_errors
def load_song(example=session.DEFAULT_EXAMPLE, midi_file=None, track=None, song_code=None, bpm=None, state=None,
              keep_bars=None):
    """Load a song (upload > song code > example): original roll, audio, summary, track list, bar range."""
    song = _song(state, example, midi_file, track, song_code, bpm)
    for message in song.warnings:
        gr.Warning(message)
    notes = "".join(f"\n\n⚠️ {m}" for m in song.warnings)
    first, last = keep_bars or (1, song.n_bars)
    first, last = min(max(int(first), 1), song.n_bars), min(max(int(last), 1), song.n_bars)
    return (str(song.roll_path), str(song.audio_path), session.song_summary(song) + notes,
            gr.Dropdown(choices=song.tracks, value=song.track if song.tracks else None, visible=len(song.tracks) > 1,
                        allow_custom_value=True),
            gr.Slider(maximum=song.n_bars, value=min(first, last)), gr.Slider(maximum=song.n_bars, value=last), song)


@user_errors
def describe_song(example=session.DEFAULT_EXAMPLE, midi_file=None, track=None, song_code=None, bpm=None, state=None):
    """Load a song (upload > song code > example): its piano roll, its audio, and facts about it."""
    song = _song(state, example, midi_file, track, song_code, bpm)
    facts = {"name": song.name, "bars": song.n_bars, "clips": song.n_clips, "bpm": song.bpm, "meter": song.meter,
             "track": song.track, "tracks": [{"index": i, "label": label} for label, i in song.tracks],
             "reconstruction_accuracy": song.accuracy, "warnings": song.warnings,
             "song_code": session.encode_song(song.tokens)}
    return str(song.roll_path), str(song.audio_path), facts, song


@user_errors
def load_restored(example, midi_file, track, song_code, bpm, state, bar_from, bar_to):
    """load_song for a share link: keeps the link's bar range (clamped to the song)."""
    return load_song(example, midi_file, track, song_code, bpm, state, keep_bars=(bar_from, bar_to))


@user_errors
def modulate(example=session.DEFAULT_EXAMPLE, midi_file=None, track=None, song_code=None, bpm=None, pitch=0.0,
             rhythm=0.0, residual=0.0, control=False, bar_from=1, bar_to=session.MAX_BARS, dim_offsets=None,
             state=None):
    """Turn the knobs on a song: result piano roll (over the original), result audio, result MIDI file."""
    song = _song(state, example, midi_file, track, song_code, bpm)
    if isinstance(dim_offsets, str) or dim_offsets is None:  # the API's "0.5,0,-1" (pitch dims, then rhythm dims)
        dim_offsets = session.parse_offsets(dim_offsets)
    last = min(int(bar_to or song.n_bars), song.n_bars)  # past the end (the API's default) means the end
    knobs = Knobs(pitch, rhythm, residual, bool(control), (int(bar_from or 1), last), tuple(dim_offsets))
    result = session.apply_knobs(bundle().model, bundle().dims, song, knobs)
    title = f"{song.name}: pitch {pitch:+g}, rhythm {rhythm:+g}, residual {residual:+g}" + " (random control)" * knobs.control
    stem = session.result_stem(song, knobs)
    return (str(session.image_file(render.piano_roll(result, compare=song.tokens, title=title), stem)),
            str(session.audio_file(result, song.bpm, stem)), str(session.midi_file(result, song.bpm, stem)), song)


def pick_example(example, state):
    """The user chose an example: it replaces any uploaded or shared song."""
    return None, "", *load_song(example, state=state)


def pick_upload(midi_file, state):
    """The user uploaded a MIDI file: it replaces any shared song."""
    return "", *load_song(midi_file=midi_file, state=state)


def clear_upload(example, state):
    """The user removed the upload: back to the chosen example."""
    return load_song(example, state=state)


def modulate_sliders(state, example, midi_file, track, song_code, bpm, pitch, rhythm, residual, control, bar_from,
                     bar_to, *dim_offsets):
    return modulate(example, midi_file, track, song_code, bpm, pitch, rhythm, residual, control, bar_from, bar_to,
                    dim_offsets, state)


@user_errors
def share_link(state, base, pitch, rhythm, residual, control, bar_from, bar_to, *dim_offsets):
    """The URL that restores this song and these knobs."""
    if not isinstance(state, session.Song):
        return ""
    knobs = Knobs(pitch, rhythm, residual, bool(control), (int(bar_from), int(bar_to)), tuple(dim_offsets))
    return share.share_url(base, state, knobs.checked(state.n_bars, len(dim_offsets)))


def restore(request: gr.Request):
    """On page load: the example or song and the knobs of a share link, and the page's own URL."""
    n_offsets = len(bundle().dims["pitch_dims"]) + len(bundle().dims["rhythm_dims"])
    try:
        shared = share.parse_share_query(dict(request.query_params) if request else {})
    except ValueError as err:
        gr.Warning(f"This link could not be read ({err}); showing the default song.")
        shared = share.SharedState()
    if shared.example is not None and shared.example not in EXAMPLES:
        gr.Warning(f"This link names an example that is not here ({shared.example!r}); showing the default song.")
        shared.example = None
    knobs = shared.knobs.clamped()
    offsets = (list(knobs.offsets) + [0.0] * n_offsets)[:n_offsets]
    bars = knobs.bars or (1, session.MAX_BARS)
    return (shared.example or session.DEFAULT_EXAMPLE, shared.code or "", shared.bpm, shared.track, knobs.pitch,
            knobs.rhythm, knobs.residual, knobs.control, bars[0], bars[1], *offsets,
            share.page_url(request.headers) if request else "")


@user_errors
def interpolate(source_example=session.DEFAULT_EXAMPLE, source_file=None, source_clip=1,
                target_example=session.DEFAULT_EXAMPLE, target_file=None, target_clip=3, grid_size=GRID_DEFAULT):
    """The 2-way pitch x rhythm grid between two 2-bar clips, as captioned piano-roll thumbnails."""
    clips, bpm = [], None
    for example, midi_file, number in ((source_example, source_file, source_clip),
                                       (target_example, target_file, target_clip)):
        melody, name, _ = session.read_song(example, midi_file, examples=EXAMPLES)
        clips.append(explore.clip_of(melody.tokens, number, name))
        bpm = bpm or melody.bpm
    grid = explore.interpolate(bundle().model, bundle().dims, clips[0], clips[1], grid_size)
    n = len(grid)
    cells = [(str(session.image_file(image, f"cell_{k // n}_{k % n}")), caption)
             for k, (image, caption) in enumerate(explore.grid_thumbnails(grid))]
    return cells, {"grid": grid, "bpm": bpm}


def grid_columns(grid_state):
    """One gallery row per grid row."""
    return gr.Gallery(columns=len(grid_state["grid"]))


@user_errors
def play_cell(grid_state, evt: gr.SelectData):
    """Audio and MIDI of the grid cell the user selected."""
    if not grid_state:
        raise ValueError("make a grid first")
    grid = grid_state["grid"]
    i, j = divmod(int(evt.index), len(grid))
    caption = explore.grid_caption(i, j, len(grid))
    stem, bpm = f"cell_{i}_{j}", grid_state["bpm"]
    return (str(session.audio_file(grid[i, j], bpm, stem)), str(session.midi_file(grid[i, j], bpm, stem)),
            f"Cell: {caption}")


@user_errors
def play_diagonal(grid_state):
    """The cells (i, i) from source to target joined into one melody: audio and MIDI."""
    if not grid_state:
        raise ValueError("make a grid first")
    path = explore.diagonal(grid_state["grid"])
    bpm = grid_state["bpm"]
    return (str(session.audio_file(path, bpm, "diagonal")), str(session.midi_file(path, bpm, "diagonal")),
            "The diagonal, source to target")


@user_errors
def inspect_song(example=session.DEFAULT_EXAMPLE, midi_file=None, track=None, song_code=None, bpm=None, state=None,
                 progress=gr.Progress()):  # noqa: B008
    """Re-run the pitch/rhythm analysis (disentanglement by augmentation) on the current song's clips."""
    song = _song(state, example, midi_file, track, song_code, bpm)
    dims = explore.analyse_song(bundle().model, song, progress=lambda f, msg: progress(f, desc=msg))
    return explore.dims_rows(dims), explore.dim_scores_figure(dims, f"{song.name}: {song.n_clips} clips"), song


# ----------------------------------------------------------------------------- layout


def _banner(b: session.ModelBundle) -> str:
    lines = [(f"# {TITLE}\nTurn the **pitch**, **rhythm** and **residual** knobs of a MusicVAE on a melody, or walk "
              "a pitch × rhythm grid between two clips (Yang et al., NIME 2019).")]
    reason = render.fluidsynth_unavailable_reason()
    if reason:
        lines.append(f"⚠️ **Audio falls back to plain sine tones**: {reason}.")
    if b.source_info.fallback_reason:
        lines.append(f"⚠️ **{b.source_info.requested} could not be loaded** ({b.source_info.fallback_reason}); "
                     "using the bundled weights.")
    if "not found" in b.dims_note:
        lines.append(f"⚠️ {b.dims_note}")
    return "\n\n".join(lines)


def _model_markdown(b: session.ModelBundle) -> str:
    info = b.source_info
    rows = [("source", info.source), ("requested", info.requested or "default (bundled)"),
            ("Hub repo", info.repo_id), ("revision", info.revision), ("folder", info.path),
            ("from local cache", info.from_cache if info.source == "hub" else None),
            ("fallback reason", info.fallback_reason), ("latent size", b.model.config.latent_dim)]
    table = "\n".join(f"| {k} | {v} |" for k, v in rows if v is not None)
    return (f"### Where the weights came from\n{info.describe()}.\n\n| field | value |\n|---|---|\n{table}\n\n"
            f"{b.dims_note}\n\n### Model card")


def _api_song_inputs() -> list:
    """Hidden inputs naming a song: example, MIDI file, track, share code, tempo of the share code."""
    return [gr.Dropdown(list(EXAMPLES), value=session.DEFAULT_EXAMPLE), gr.File(file_types=[".mid", ".midi"]),
            gr.Number(precision=0), gr.Textbox(), gr.Number()]


def _song_picker(label: str, clip: int | None = None):
    example = gr.Dropdown(list(EXAMPLES), value=session.DEFAULT_EXAMPLE, label=f"{label}example")
    upload = gr.File(label=f"{label}or your MIDI file (.mid)", file_types=[".mid", ".midi"])
    number = gr.Number(clip, label=f"{label}clip (2 bars each, from 1)", precision=0, minimum=1) if clip else None
    return example, upload, number


def build_demo(model: str | None = None, revision: str | None = None) -> gr.Blocks:
    """The app. ``model``: Hub repo id or folder (default: $MELODY_KNOBS_MODEL, else bundled)."""
    _CONFIG.update(source=model, revision=revision)
    b = bundle()
    dim_names = [f"pitch dim {d}" for d in b.dims["pitch_dims"].tolist()]
    dim_names += [f"rhythm dim {d}" for d in b.dims["rhythm_dims"].tolist()]
    figures = sorted(session.FIGURES_DIR.glob("*.png"))
    with gr.Blocks(title=TITLE, delete_cache=(3600, 86400)) as demo:
        state, grid_state, base = gr.State(), gr.State(), gr.State("")
        gr.Markdown(_banner(b))
        with gr.Tab("Knobs"), gr.Row():
            with gr.Column(scale=1, min_width=300):
                example, upload, _ = _song_picker("Song: ")
                track = gr.Dropdown([], label="Track (melody)", visible=False, allow_custom_value=True)
                song_code, bpm = gr.Textbox(visible=False), gr.Number(visible=False)
                info = gr.Markdown(label="Song")
                gr.Markdown(SONG_LIMITS)
            with gr.Column(scale=2):
                with gr.Row():
                    pitch = gr.Slider(*PITCH_RANGE, value=0, step=0.5, label="Pitch (semitones)", elem_id="pitch")
                    rhythm = gr.Slider(*RHYTHM_RANGE, value=0, step=0.25, label="Rhythm (splits)")
                    residual = gr.Slider(*RESIDUAL_RANGE, value=0, step=0.25, label="Residual (std)")
                with gr.Row():
                    bar_from = gr.Slider(1, session.MAX_BARS, value=1, step=1, label="From bar")
                    bar_to = gr.Slider(1, session.MAX_BARS, value=session.MAX_BARS, step=1, label="To bar")
                    control = gr.Checkbox(label="Random control: same move on random non-significant dims")
                with gr.Accordion("Advanced: one slider per pitch and rhythm dim (raw latent units)", open=False), \
                        gr.Row():
                    offsets = [gr.Slider(*OFFSET_RANGE, value=0, step=0.1, label=n, min_width=140) for n in dim_names]
                roll = gr.Image(label="Result (orange) over the original (grey)", show_label=False, format="png",
                                interactive=False,
                                elem_id="result-roll")
                with gr.Row():
                    audio_orig = gr.Audio(label="Original", interactive=False)
                    audio_out = gr.Audio(label="Result", interactive=False, elem_id="result-audio")
                with gr.Row():
                    midi_out = gr.File(label="Result as MIDI", interactive=False, height=80)
                    link = gr.Textbox(label="Share this song and knobs", buttons=["copy"], interactive=False)
                with gr.Accordion("Original piano roll", open=False):
                    roll_orig = gr.Image(label="Original piano roll", show_label=False, format="png", interactive=False)
        with gr.Tab("Interpolate"):
            gr.Markdown("Source at the top left, target at the bottom right; rows move the **pitch** dims, "
                        "columns the **rhythm** dims (SLERP), the rest follow the Manhattan distance. "
                        "Click a cell to hear it.")
            with gr.Row():
                with gr.Column():
                    src = _song_picker("Source ", clip=1)
                with gr.Column():
                    tgt = _song_picker("Target ", clip=3)
                with gr.Column():
                    grid_size = gr.Slider(*session.GRID_RANGE, value=GRID_DEFAULT, step=1, label="Grid size")
                    make_grid = gr.Button("Interpolate", variant="primary")
                    diagonal = gr.Button("Play the diagonal (source → target)")
            gallery = gr.Gallery(label="pitch (rows) × rhythm (columns)", columns=GRID_DEFAULT, allow_preview=False,
                                 object_fit="contain", format="png", elem_id="grid")
            with gr.Row():
                cell_info = gr.Markdown()
                cell_audio = gr.Audio(label="Selected", interactive=False)
                cell_midi = gr.File(label="As MIDI", interactive=False, height=80)
        with gr.Tab("Inspect"):
            gr.Markdown("Disentanglement by augmentation (paper §3): transpose clips by 1–12 semitones and split "
                        "two whole notes into 2–16; the latent dims that move most are the pitch and rhythm dims.")
            if figures:
                gr.Gallery([str(p) for p in figures], label="Figures", columns=min(3, len(figures)), height="auto")
            with gr.Row():
                gr.Dataframe(explore.dims_rows(b.dims_raw), headers=["measure", "value"], label="Dims of this model")
                if b.report:
                    gr.Dataframe(explore.report_rows(b.report), headers=["measure", "value"], label="report.json")
            if "pitch_scores" in b.dims_raw:
                gr.Plot(explore.dim_scores_figure(b.dims_raw, "this model"), label="Σ |Δz| per latent dim")
            analyse = gr.Button("Re-run the analysis on the current song's clips")
            with gr.Row():
                song_dims = gr.Dataframe(headers=["measure", "value"], label="Dims found on this song")
                song_plot = gr.Plot(label="Σ |Δz| per latent dim, this song")
        with gr.Tab("Model"):
            gr.Markdown(_model_markdown(b))
            gr.Markdown(b.card or "*This model folder has no README.md (model card).*")

        song_in = [example, upload, track, song_code, bpm]
        knob_in = [pitch, rhythm, residual, control, bar_from, bar_to]
        knob_out = [roll, audio_out, midi_out, state]
        load_out = [roll_orig, audio_orig, info, track, bar_from, bar_to, state]
        refresh = {"fn": modulate_sliders, "inputs": [state, *song_in, *knob_in, *offsets], "outputs": knob_out,
                   "api_name": "knobs", "api_visibility": "private"}
        link_args = {"fn": share_link, "inputs": [state, base, *knob_in, *offsets], "outputs": link,
                     "api_name": "share_link", "api_visibility": "private"}

        def ui_only(name: str) -> dict:  # events of the page itself, not offered to API clients
            return {"api_name": name, "api_visibility": "private"}

        loads = (
            demo.load(restore, None, [example, song_code, bpm, track, *knob_in, *offsets, base], **ui_only("restore")
                      ).then(load_restored, [*song_in, state, bar_from, bar_to], load_out, **ui_only("load_restored")),
            example.input(pick_example, [example, state], [upload, song_code, *load_out], **ui_only("pick_example")),
            upload.upload(pick_upload, [upload, state], [song_code, *load_out], **ui_only("pick_upload")),
            upload.clear(clear_upload, [example, state], load_out, **ui_only("clear_upload")),
            track.input(load_song, [*song_in, state], load_out, **ui_only("pick_track")),
        )
        for event in loads:  # a new song: show it through the knobs as they stand
            event.success(**refresh).success(**link_args)
        gr.on([pitch.release, rhythm.release, residual.release, control.input, bar_from.release, bar_to.release,
               *(s.release for s in offsets)], trigger_mode="always_last", **refresh).success(**link_args)
        make_grid.click(interpolate, [*src, *tgt, grid_size], [gallery, grid_state], api_name="interpolate"
                        ).success(grid_columns, grid_state, gallery, **ui_only("grid_columns"))
        gallery.select(play_cell, grid_state, [cell_audio, cell_midi, cell_info], **ui_only("play_cell"))
        diagonal.click(play_diagonal, grid_state, [cell_audio, cell_midi, cell_info], **ui_only("play_diagonal"))
        analyse.click(inspect_song, [*song_in, state], [song_dims, song_plot, state], api_name="inspect")

        # API-only endpoints (gradio_client) on hidden components of their own, so that what a page does to
        # its components (a slider's maximum set to the song's length) never constrains an API call.
        with gr.Row(visible=False):
            api_song = _api_song_inputs()
            api_knobs = [gr.Slider(*PITCH_RANGE, value=0), gr.Slider(*RHYTHM_RANGE, value=0),
                         gr.Slider(*RESIDUAL_RANGE, value=0), gr.Checkbox(), gr.Number(1, precision=0),
                         gr.Number(session.MAX_BARS, precision=0), gr.Textbox()]
            api_out = [gr.Image(format="png"), gr.Audio(), gr.File(), gr.JSON()]
            api_modulate, api_load = gr.Button(), gr.Button()
        api_modulate.click(modulate, [*api_song, *api_knobs, state], [*api_out[:3], state], api_name="modulate")
        api_load.click(describe_song, [*api_song, state], [api_out[0], api_out[1], api_out[3], state],
                       api_name="load_song")
    return demo


def serve(demo: gr.Blocks, host: str = HOST, port: int = PORT, share: bool = False, **kwargs):
    """Queue and launch ``demo`` with the app's limits; ``kwargs`` go to ``launch`` (e.g. prevent_thread_lock)."""
    torch.set_num_threads(TORCH_THREADS)
    demo.queue(default_concurrency_limit=DEFAULT_CONCURRENCY, max_size=QUEUE_SIZE)
    return demo.launch(server_name=host, server_port=port, share=share, max_file_size=session.MAX_UPLOAD_BYTES,
                       allowed_paths=[str(session.FIGURES_DIR)], css=CSS, **kwargs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help=f"Hub repo id or model folder (default ${hub.ENV_MODEL}, "
                                                       "else the bundled assets/model)")
    parser.add_argument("--revision", default=None, help="branch, tag or commit of the Hub repo")
    parser.add_argument("--host", default=HOST, help="address to listen on (0.0.0.0 on a Space)")
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    serve(build_demo(args.model, args.revision), args.host, args.port, args.share)


if __name__ == "__main__":
    main()
