"""The Interpolate tab: the pitch x rhythm grid between two 2-bar clips (``vae.knobs.grid``), a cell's audio."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np

from ui import store
from ui.common import DEFAULT, EXAMPLES, song_picker
from ui.guards import as_faithful, private, user_errors
from vae import knobs, song
from vae.knobs import GRID_RANGE, GridState
from vae.pianoroll import thumbnails

GRID_DEFAULT = 5
NO_GRID = "Make a grid first: choose two clips and press **Interpolate**, then click a cell or play the diagonal."
READY = "Click a cell to hear it, or play the diagonal."


def grid_gallery(cells: np.ndarray) -> list[tuple[Path, str]]:
    """The grid's cells (N, N, 32) as (thumbnail PNG file, caption), row by row."""
    n = len(cells)
    return [(store.image_file(image, f"cell_{k // n}_{k % n}"), knobs.grid_caption(k // n, k % n, n))
            for k, image in enumerate(thumbnails(cells))]


class Interpolate:
    """The tab's handlers, on the app's knob handlers ``h`` (models by name)."""

    def __init__(self, h):
        self.h = h

    @user_errors
    def interpolate(self, source_example=DEFAULT, source_file=None, source_clip=1,  # noqa: PLR0913 (an API endpoint: its parameters are the API's names)
                    target_example=DEFAULT, target_file=None, target_clip=3, grid_size=GRID_DEFAULT, model=None,
                    faithful=True):
        """The pitch x rhythm grid between two 2-bar clips as captioned roll thumbnails (faithful: corners play the
        clips), and the grid for the page."""
        source, bpm = song.read_clip(source_example, source_file, source_clip, EXAMPLES)
        target, _ = song.read_clip(target_example, target_file, target_clip, EXAMPLES)
        b = self.h.pick(model)
        cells = knobs.grid(b.model, b.space, source, target, grid_size, as_faithful(faithful))
        return [(str(path), caption) for path, caption in grid_gallery(cells)], GridState(cells, bpm)

    @user_errors
    def play_cell(self, grid: GridState | None, evt: gr.SelectData):
        """Audio (it plays at once) and MIDI of the grid cell the user selected."""
        if not isinstance(grid, GridState):  # a sentence, not an error: nothing is broken
            return None, None, NO_GRID
        i, j = grid.position(evt.index)
        audio, midi = store.sound_files(grid.cells[i, j], grid.bpm, f"cell_{i}_{j}")
        return str(audio), str(midi), f"Cell: {knobs.grid_caption(i, j, grid.n)}"

    @user_errors
    def play_diagonal(self, grid: GridState | None):
        """The cells (i, i) from source to target joined into one melody: audio and MIDI."""
        if not isinstance(grid, GridState):
            return None, None, NO_GRID
        audio, midi = store.sound_files(knobs.diagonal(grid.cells), grid.bpm, "diagonal")
        return str(audio), str(midi), "The diagonal, source to target"

    @staticmethod
    def named(midi_file, example):
        """The menu names the file that plays while there is one; without, an example."""
        return Path(midi_file).stem if midi_file else example if example in EXAMPLES else DEFAULT


def layout(grid_default: int = GRID_DEFAULT) -> SimpleNamespace:
    """The Interpolate tab: two clips, the grid between them, a cell's audio."""
    ui = SimpleNamespace()
    with gr.Tab("Interpolate", id="interpolate"):
        gr.Markdown("Source at the top left, target at the bottom right; **pitch** moves down the rows, **rhythm** along "
                    "the columns (SLERP), the rest follow the Manhattan distance. Click a cell to hear it.")
        ui.model_note = gr.Markdown(elem_classes=["model-note"])
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


def wire(h, g: SimpleNamespace, page: SimpleNamespace) -> None:
    """The tab's events: a grid, a cell or the diagonal played. ``page``: the model menu and the faithful box."""
    x = Interpolate(h)
    grid_state = gr.State()
    cell_out = [g.cell_audio, g.cell_midi, g.cell_info]
    g.make_grid.click(x.interpolate, [*g.src, *g.tgt, g.grid_size, page.model, page.faithful], [g.gallery, grid_state],
                      api_name="interpolate"
                      ).success(lambda grid: (gr.Gallery(columns=grid.n), None, None, READY), grid_state,
                                [g.gallery, *cell_out], **private("grid_columns"))  # a gallery row per grid row
    g.gallery.select(x.play_cell, grid_state, cell_out, **private("play_cell"))
    g.diagonal.click(x.play_diagonal, grid_state, cell_out, **private("play_diagonal"))
    for example, upload, _ in (g.src, g.tgt):  # an upload, a typed melody's file, or none
        upload.change(x.named, [upload, example], example, **private("name_upload"))
