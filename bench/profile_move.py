"""Where the time of one knob move goes, stage by stage, from the release of the pitch knob to playable audio.

    python bench/profile_move.py --model assets/model [--moves 12] [--root ../other-checkout] [--out bench/out/move.json]

Starts ``app.py`` (of ``--root``, this checkout by default) as ``bench/bench_page.py`` does, with the app's stage
timings on (``vae.timing``, ``$MELODY_KNOBS_TIMINGS``), and moves the pitch knob in headless Chromium ``--moves``
times. Each move is placed on one clock (the page's ``performance.timeOrigin + now()`` and the app's
``time.time()``, both the machine's wall clock) and cut into:

- **page → server**: the range input's ``input`` event → the page's ``queue/join`` request (gradio's JavaScript);
- **queue**: that request → the handler starts (HTTP, gradio's queue and preprocessing);
- **handler** stages as the app records them: ``decode`` (the model), ``audio`` (synthesis), ``mp3`` / ``ogg`` / ``wav``
  (encoding), ``roll`` + ``png`` (drawing), ``midi``, ``write`` (output files), the handler's first answer and
  its end (stages on other threads overlap and are listed as they ran, not summed);
- **→ roll on screen**, **→ audio linked** (the new audio's link in the page), **→ audio fetched** (its file fully
  received) and **→ playable** (the player shows its length), each from the ``input`` event.

Prints the median (p90) of each and writes every move to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from bench_page import Page, start_app
from harness import CHROMIUM, CHROMIUM_ARGS, ROOT, describe, machine
from playwright.sync_api import sync_playwright

from vae import timing

WATCH = """() => {
  window.__marks = {};
  const mark = (name) => { if (!(name in window.__marks)) window.__marks[name] = performance.timeOrigin + performance.now(); };
  document.querySelector('#pitch input[type=range]').addEventListener('input', () => mark('input'), true);
  const fetch0 = window.fetch;
  window.fetch = function (url) { if (String(url).includes('queue/join')) mark('join'); return fetch0.apply(this, arguments); };
  new PerformanceObserver((list) => { for (const e of list.getEntries())
      if (/\\.(mp3|ogg|wav)$/.test(decodeURIComponent(e.name))) window.__marks['audio_fetched'] = performance.timeOrigin + e.responseEnd;
  }).observe({entryTypes: ['resource']});
  const roll = () => document.querySelector('#result-roll img')?.getAttribute('src');
  const audio = () => document.querySelector('#result-audio a[download]')?.getAttribute('href');
  const duration = () => document.querySelector('#result-audio #duration')?.innerText || '';
  let seen = [roll(), audio()];
  new MutationObserver(() => {
    if (roll() !== seen[0]) { seen[0] = roll(); mark('roll_on_screen'); }
    if (audio() !== seen[1]) { seen[1] = audio(); mark('audio_linked'); }
  }).observe(document.body, {subtree: true, childList: true, attributes: true, characterData: true});
  window.__reset = () => { window.__marks = {}; seen = [roll(), audio()]; };
}"""
HANDLER_STAGES = ("decode", "audio", "mp3", "ogg", "wav", "roll", "png", "midi", "write")


def one_move(page: Page, fraction: float, log: Path, offset: int) -> tuple[dict, int]:
    page.page.evaluate("() => window.__reset()")
    moved = page.move(fraction)  # waits until the audio is playable
    if not moved:
        return {}, offset
    marks = page.page.evaluate("() => window.__marks")
    records, offset = timing.read(log, offset)
    t0 = marks["input"] / 1000  # seconds, wall clock
    row = {f"{name}_ms": 1000 * (marks[name] / 1000 - t0) for name in ("join", "roll_on_screen", "audio_linked",
                                                                       "audio_fetched") if name in marks}
    row["playable_ms"] = moved["playable_ms"]  # from the bench's own clock: release -> the player's length shown
    handler = [r for r in records if r["stage"] in ("handler:modulate_sliders", "handler:modulate_sliders:all")]
    if handler:
        first = min(handler, key=lambda r: r["end"])
        start = first["end"] - first["ms"] / 1000
        row["handler_start_ms"] = 1000 * (start - t0)
        row["handler_first_answer_ms"] = 1000 * (first["end"] - t0)
        row["handler_end_ms"] = 1000 * (max(r["end"] for r in handler) - t0)
    for stage in HANDLER_STAGES:
        row[f"{stage}_took_ms"] = sum(r["ms"] for r in records if r["stage"] == stage)
    return row, offset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="assets/model")
    parser.add_argument("--moves", type=int, default=12)
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose app.py to run")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "move.json"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="profile_move_"))
    log = tmp / "timings.jsonl"
    os.environ[timing.ENV_VAR] = str(log)  # the app started below inherits it
    app = start_app(args.model, tmp, 256, 120, Path(args.root))
    url, facts, rows = app.url, machine(), []
    load_start = facts["load_average"]
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            page = Page(browser, url)
            page.move(0.99)  # warm
            page.page.evaluate(WATCH)
            _, offset = timing.read(log, 0)
            for fraction in np.random.default_rng(0).permutation(np.linspace(0.04, 0.96, args.moves)):
                row, offset = one_move(page, float(fraction), log, offset)
                if row:
                    rows.append(row)
            browser.close()
    finally:
        app.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    keys = sorted({k for r in rows for k in r}, key=lambda k: np.nanmedian([r.get(k, np.nan) for r in rows]))
    print(f"{describe(facts)} -> {os.getloadavg()}; {len(rows)} moves of the pitch knob on Twinkle; {args.root}")
    print("ms from the knob's input event (…_took_ms: how long a handler stage took), median (p90):")
    for key in keys:
        values = np.array([r.get(key, np.nan) for r in rows], dtype=float)
        print(f"  {key:28} {np.nanmedian(values):7.1f} ({np.nanpercentile(values, 90):6.1f})")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"root": args.root, "load_start": load_start, "moves": rows}, indent=1))


if __name__ == "__main__":
    main()
