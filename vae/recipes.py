"""Named training recipes: the data, preset, regularisation and schedule of each shipped model.

Like Magenta's ``configs.py``, a name stands for a whole run, so that one machine and a cluster differ
only in the launcher::

    python training/prepare_data.py --recipe regularised
    python training/train.py --recipe regularised                              # one process
    torchrun --standalone --nproc_per_node=4 training/train.py --recipe regularised  # four

A recipe only sets defaults: any flag given on the command line wins over it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth")  # music21's folk collections, ~30 k tunes


@dataclass(frozen=True)
class Recipe:
    """A training run by name."""

    prepare: dict  # prepare_data.py flags (dest names): the sources, split and seed of the clips
    train: dict  # train.py flags (dest names): preset, regularisation, schedule
    note: str = ""  # where the recipe comes from
    lineage: tuple[dict, ...] = field(default_factory=tuple)  # the runs the shipped weights actually came from


_DATA = {"collections": list(COLLECTIONS), "midi_dir": None, "split": (0.05, 0.05), "seed": 0,
         "out": "data/clips.npz"}
_SCHEDULE = {"data": "data/clips.npz", "preset": "small", "minutes": 85.0, "batch": 64, "lr": 1e-3, "lr_min": 1e-5,
             "clip_grad": 1.0, "sample_max": 0.2, "input_dropout": 0.25, "decay_start": 0.7, "seed": 0}

RECIPES = {
    "regularised": Recipe(
        prepare=_DATA,
        train={**_SCHEDULE, "reg_attributes": "pitch,density", "reg_gamma": 0.3, "transpose": 12,
               "run_dir": "runs/regularised"},
        note="the default model (assets/model) from scratch: `make train`'s recipe",
        lineage=(  # assets/model/runs/*_args.json: a GPU start, then fine-tunes (--init) on 2 CPU cores
            {"run": "gpu_reg_g03", "minutes": 7.0, "lr": 1e-3, "decay_start": 0.7, "val_clips": 1000},
            {"run": "gpu_ft", "init": "gpu_reg_g03", "minutes": 2.3, "lr": 5e-4, "decay_start": 0.3},
            {"run": "cpu_ft", "init": "gpu_ft", "minutes": 45.0, "lr": 2e-4, "decay_start": 0.2},
            {"run": "cpu_ft2", "init": "cpu_ft", "minutes": 85.0, "lr": 1e-4, "decay_start": 0.3},
        ),
    ),
    "paper": Recipe(
        prepare=_DATA,
        train={**_SCHEDULE, "reg_attributes": "", "reg_gamma": 0.0, "transpose": 6, "run_dir": "runs/paper"},
        note="the paper-recipe model (assets/model-paper): assets/model-paper/runs/shipped_args.json",
    ),
}


def recipe_defaults(name: str | None, script: str) -> dict:
    """The flag defaults of recipe ``name`` for ``script`` (``"prepare"`` or ``"train"``); {} for no name."""
    if name is None:
        return {}
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {sorted(RECIPES)}")
    return dict(getattr(RECIPES[name], script))
