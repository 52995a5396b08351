"""The Inspect tab: the paper's figures and the dims and report of the model in use, and the analysis re-run on
the Knobs tab's song (``vae.dims.song_dims``)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import gradio as gr

from ui.common import TABLE
from ui.guards import private, user_errors
from vae import measures
from vae.dims import song_dims
from vae.resources import asset

FIGURES_DIR = asset("figures")  # assets/figures, or the installed wheel's copy (vae/resources.py)
# The figures in the paper's order, each with what it shows; a model other than the default has its own in a
# sub-folder of its name (those it lacks are not shown); the last two compare the models and show for both.
FIGURES = {
    "fig2_pca": "Fig. 2: the latent codes of transposed clips, by PCA",
    "fig3_pitch_dims": "Fig. 3: the dims a transposition moves (the pitch dims)",
    "fig4_rhythm_dims": "Fig. 4: the dims a note split moves (the rhythm dims)",
    "fig5_pitch_paths": "Fig. 5: the pitch dims along a transposition",
    "fig6_pitch_knob": "Fig. 6: the pitch knob on test songs",
    "fig7_rhythm_knob": "Fig. 7: the rhythm knob on test songs",
    "fig8_residual_knob": "Fig. 8: the residual knob on test songs",
    "fig9_grid": "Fig. 9: a pitch × rhythm interpolation grid",
    "fig10_knob_fidelity": "Knob fidelity: does each knob move the song by what its label says?",
    "training_curves": "Training curves",
    "fig11_faithful": "The song at rest: both models, read (μ) and faithful",
    "runs": "Every training run",
}
HELP = ("**Reading the numbers.** *C_pitch* / *C_rhythm*: the share of the latent move under a transposition / a "
        "note split that falls on the pitch / rhythm dims (1 = all of it). *Stability*: the share of transpositions "
        "whose own top dims are the pitch dims. *Overlap*: dims that are both. *Token accuracy*: the share of steps "
        "decoded back exactly. *Linearity* (R²) and *gain* (slope): how closely a knob moves by what its label says.")
SHARED = ("fig11_faithful", "runs")


def figure_paths(model: str, default: str) -> list[Path | None]:
    """Each of ``FIGURES`` for the model called ``model`` (None where it has none)."""
    folder = FIGURES_DIR if model == default else FIGURES_DIR / model
    paths = [(FIGURES_DIR if stem in SHARED else folder) / f"{stem}.png" for stem in FIGURES]
    return [p if p.is_file() else None for p in paths]


class Inspect:
    """The tab's handlers, on the app's knob handlers ``h`` (models by name, and the song loading)."""

    def __init__(self, h):
        self.h = h
        self._shown: dict[str, tuple] = {}  # model name -> the tab's values: made once, read by every page load

    def model_changed(self, model=None):
        """The tab for the model ``model`` picks: its name, figures, dims table, report and scores plot."""
        name = self.h.model_name(model)
        if name not in self._shown:
            b = self.h.pick(model)
            figures = [gr.Image(value=str(p) if p else None, visible=p is not None)
                       for p in figure_paths(name, self.h.default)]
            report = measures.report_rows(b.report) if b.report else []
            plot = measures.dim_scores_figure(b.space, name) if "pitch_scores" in b.space.meta else None
            self._shown[name] = (f"### The model **{name}**", *figures, measures.dims_rows(b.space),
                                 gr.Dataframe(value=report, visible=bool(report)),
                                 gr.Plot(value=plot, visible=plot is not None))
        return self._shown[name]

    @user_errors
    def inspect_song(self, example=None, midi_file=None, track=None, song_code=None, bpm=None,  # noqa: PLR0913 (an API endpoint: its parameters are the API's names)
                     state=None, model=None, faithful=True, progress=gr.Progress()):  # noqa: B008
        """Re-run the pitch/rhythm analysis (disentanglement by augmentation) on the current song's clips, on μ."""
        s = self.h._song(state, self.h.source(example, midi_file, track, song_code, bpm), model, faithful)
        space = song_dims(self.h.pick(model).model, s.tokens, s.label, progress=lambda f, msg: progress(f, desc=msg))
        return measures.dims_rows(space), measures.dim_scores_figure(space, f"{s.label}: {s.n_clips} clips"), s


def layout(h) -> SimpleNamespace:
    """The Inspect tab, at first for the default model (``model_changed`` fills it for the one in use)."""
    ui = SimpleNamespace()
    with gr.Tab("Inspect", id="inspect"):
        gr.Markdown("Disentanglement by augmentation (paper §3): transpose clips by 1–12 semitones and split two whole "
                    f"notes into 2–16; the latent dims that move most are the pitch and rhythm dims.\n\n{HELP}")
        ui.model_note = gr.Markdown(elem_classes=["model-note"])
        ui.figures = []
        with gr.Row(elem_id="figures"):
            for stem, title in FIGURES.items():  # whole figures, two to a row, each under its title
                with gr.Column(min_width=400):
                    ui.figures.append(gr.Image(label=title, show_label=True, interactive=False, format="png",
                                               buttons=["fullscreen"], elem_classes=["figure"],
                                               elem_id=f"figure-{stem}"))
        with gr.Row():
            ui.dims = gr.Dataframe(label="Dims of this model", **TABLE)
            ui.report = gr.Dataframe(label="report.json", elem_id="report", **TABLE)
        ui.scores = gr.Plot(label="Σ |Δz| per latent dim")
        ui.analyse = gr.Button("Re-run the analysis on the current song's clips")
        with gr.Row():
            ui.song_dims = gr.Dataframe(label="Dims found on this song (the knobs keep the model's own dims)",
                                        **TABLE)
            ui.song_plot = gr.Plot(label="Σ |Δz| per latent dim, this song")
    return ui


def wire(demo: gr.Blocks, h, i: SimpleNamespace, page: SimpleNamespace) -> None:
    """The tab follows the model menu (and fills on page load); the button re-runs the analysis on the Knobs tab's
    song (``page.k``, ``page.state``)."""
    x = Inspect(h)
    shown = {"fn": x.model_changed, "inputs": page.model,
             "outputs": [i.model_note, *i.figures, i.dims, i.report, i.scores], **private("inspect_model")}
    demo.load(**shown)
    page.model.change(**shown)
    k = page.k
    i.analyse.click(x.inspect_song, [*k.source[:5], page.state, page.model, k.faithful],
                    [i.song_dims, i.song_plot, page.state], api_name="inspect")
