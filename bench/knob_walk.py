"""The walk of one knob move through the project's modules: where it stops, where it climbs back up a floor, and
how it returns. For reading the house, not for timing.

    python bench/knob_walk.py [--model assets/model] [--depth 4]

Loads Twinkle once (not traced), then traces one move of the pitch knob as the page makes it (the Knobs tab's
handler): every call from one of the project's modules into another (``app``, ``ui.*`` or the root modules of older
checkouts: the page; ``vae.*``: the library). Prints the calls as a tree of modules, consecutive calls inside one
module folded, then the counts: **stops** (module entries), **climbs** (a library module calling up into the page)
and the floors the move went through, in order.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAGE_MODULES = ("app", "tabs", "guards")


def floor(module: str) -> str | None:
    """'page', 'library' or None (not the project's)."""
    if module.startswith("vae.") or module == "vae":
        return "library"
    if module.startswith("ui.") or module in PAGE_MODULES:
        return "page"
    return None


def trace_move(fn, *args) -> tuple[list[tuple[int, str]], int]:
    """(depth, module) of each call that enters another of the project's modules while ``fn(*args)`` runs (a
    generator is run to its end), and how many of them climb from the library up into the page."""
    entries: list[tuple[int, str]] = []
    frames: list[tuple[str | None, int]] = []  # (the project's module the frame runs in, its depth)
    climbs = 0

    def profile(frame, event, _arg):
        nonlocal climbs
        if event == "call":
            module = frame.f_globals.get("__name__", "")
            current, depth = frames[-1] if frames else (None, 0)
            if floor(module) and module != current:
                depth += 1
                entries.append((depth, module))
                climbs += floor(current or "") == "library" and floor(module) == "page"
                current = module
            frames.append((current, depth))
        elif event == "return" and frames:
            frames.pop()

    sys.setprofile(profile)
    try:
        result = fn(*args)
        if hasattr(result, "__next__"):
            for _ in result:
                pass
    finally:
        sys.setprofile(None)
    return entries, climbs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "assets" / "model"))
    parser.add_argument("--depth", type=int, default=4, help="deepest level of the tree to print")
    args = parser.parse_args()
    import torch

    import app
    from vae.bundle import load_bundle

    torch.set_num_threads(1)
    h = app.Handlers(load_bundle(args.model))
    offsets = [0.0] * h.bundle.space.n_offsets
    source = ("twinkle", None, None, "", None, "") if Path(ROOT / "ui").is_dir() else ("twinkle", None, None, "", None)
    song = h.load_song()[-1]  # twinkle, the default example
    knobs = (3.0, 0.0, 0.0, False, 1, song.n_bars, *offsets)
    entries, climbs = trace_move(h.modulate_sliders, song, None, True, "", *source, *knobs)
    for depth, module in entries:
        if depth <= args.depth:
            print(f"{'  ' * (depth - 1)}{module}")
    floors = [floor(m) for _, m in entries]
    path = [f for i, f in enumerate(floors) if i == 0 or floors[i - 1] != f]
    print(f"\nstops: {len(entries)} module entries, {len({m for _, m in entries})} modules; "
          f"climbs (library -> page): {climbs}; floors in order: {' > '.join(path)}")


if __name__ == "__main__":
    main()
