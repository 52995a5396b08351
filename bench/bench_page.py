"""What the page downloads and how soon it can play: bytes per knob move, release -> playable audio on an
emulated link, and the output cache on disk over a soak of many moves.

    python bench/bench_page.py --model assets/model [--moves 20] [--soak 300] [--out bench/out/page.json]

Starts ``app.py`` in a subprocess with its own temporary directory (so the output cache, ``<tmp>/melody-knobs``,
and gradio's cache, ``<tmp>/gradio``, are this run's alone) and drives the page in headless Chromium
(Playwright, Debian's /usr/bin/chromium), as a user does:

- **bytes per knob move** (DESIGN "Measures"): every response the page fetches between a knob release and the
  next, by Chromium's own count (CDP ``Network.loadingFinished`` encodedDataLength: bodies and headers, the
  event stream included), and the sizes of the result's roll, audio and MIDI files;
- **release -> answer**: mouse release on the pitch knob -> the new result's roll on the page (the page shows the
  roll first and the audio when it is encoded; before, both came in one answer); **-> audio linked**: the new
  audio's link in the player;
- **release -> playable**: mouse release on the pitch knob -> the new result's audio fully downloaded and the
  player showing its length, on localhost and with Chromium's network emulated at 10 Mbit/s down and up and
  40 ms round trip (CDP ``Network.emulateNetworkConditions``);
- **soak**: ``--soak`` knob moves (typed values, each a new result) with the cache bounded to ``--cache-mb``
  and a ``--grace-s`` grace period; the disk used by both caches before, during (max) and after.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from urllib.parse import unquote

import numpy as np
from harness import CHROMIUM, CHROMIUM_ARGS, ROOT, App, folder_bytes, machine
from playwright.sync_api import sync_playwright

LINK = {"offline": False, "latency": 40, "downloadThroughput": 10e6 / 8, "uploadThroughput": 10e6 / 8}  # 10 Mbit/s
ROLL, AUDIO_LINK = "#result-roll img", "#result-audio a[download]"


def start_app(model: str, tmp: Path, cache_mb: float, grace_s: float, root: Path = ROOT) -> App:
    """The app of ``root`` with its output cache bounded to ``cache_mb`` (``grace_s``), once it answers."""
    app = App(model, tmp, {"MELODY_KNOBS_CACHE_MB": str(cache_mb), "MELODY_KNOBS_CACHE_GRACE_S": str(grace_s)}, root)
    app.wait_up()
    return app


class Page:
    """The app's page in Chromium, with CDP's count of every byte it receives."""

    def __init__(self, browser, url: str, conditions: dict | None = None):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
        self.cdp = self.page.context.new_cdp_session(self.page)
        self.cdp.send("Network.enable")
        self.link(conditions)  # from the start: Chromium does not throttle a stream opened before
        self.received, self.urls, self.done = 0, {}, {}  # bytes; request id -> URL; URL -> when it finished
        self.cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], unquote(e["request"]["url"])))
        self.cdp.on("Network.loadingFinished", self._finished)
        self.page.goto(url)
        self.page.wait_for_selector(ROLL, timeout=60_000)
        self.page.wait_for_function(f"() => document.querySelector('{AUDIO_LINK}')", timeout=60_000)

    def _finished(self, event: dict) -> None:
        self.received += event["encodedDataLength"]
        self.done[self.urls.get(event["requestId"], "")] = time.perf_counter()

    def link(self, conditions: dict | None) -> None:
        self.cdp.send("Network.emulateNetworkConditions", conditions or {"offline": False, "latency": 0,
                                                                          "downloadThroughput": -1,
                                                                          "uploadThroughput": -1})

    def roll_src(self) -> str:
        return self.page.locator(ROLL).get_attribute("src") or ""

    def audio_href(self) -> str:
        return unquote(self.page.locator(AUDIO_LINK).get_attribute("href") or "")

    def move(self, fraction: float) -> dict:
        """Press and release the pitch knob at ``fraction`` of its track; wait until the new audio is playable."""
        page, before, roll_before = self.page, self.audio_href(), self.roll_src()
        knob = page.locator("#pitch input[type=number]")
        value = knob.input_value()
        box = page.locator("#pitch input[type=range]").bounding_box()
        start_bytes = self.received
        page.mouse.move(box["x"] + fraction * box["width"], box["y"] + box["height"] / 2)
        page.mouse.down()
        t0 = time.perf_counter()
        page.mouse.up()
        if knob.input_value() == value:  # the same value again (the track's ends): no new result to wait for
            return {}
        # Answered: the new result's roll is on screen (the page draws the roll before the audio arrives).
        page.wait_for_function("(b) => (document.querySelector('#result-roll img')?.getAttribute('src') || '') !== b",
                               arg=roll_before, timeout=60_000)
        answered = time.perf_counter() - t0
        page.wait_for_function("(b) => decodeURIComponent(document.querySelector('#result-audio a[download]')"
                               "?.getAttribute('href') || '') !== b", arg=before, timeout=60_000)
        audio_linked = time.perf_counter() - t0
        href = self.audio_href()
        # Playable: the player fetched the whole file and shows its length.
        page.wait_for_function("() => (document.querySelector('#result-audio #duration')?.innerText || '') !== ''",
                               timeout=60_000)
        for _ in range(600):  # CDP events arrive while Playwright waits
            if href in self.done:
                break
            page.wait_for_timeout(10)
        playable = max(time.perf_counter() - t0 if href not in self.done else self.done[href] - t0, answered)
        page.wait_for_timeout(300)  # late requests (none expected) still count towards this move
        return {"answered_ms": 1000 * answered, "audio_linked_ms": 1000 * audio_linked, "playable_ms": 1000 * playable,
                "received_bytes": self.received - start_bytes, "audio": href}

    def files(self) -> dict:
        """Sizes of the result's roll, audio, MIDI and WAV files as the page links them."""
        page, out = self.page, {}
        for name, selector, attr in (("roll", ROLL, "src"), ("audio", AUDIO_LINK, "href")):  # what the page fetches
            out[name] = len(page.request.get(page.locator(selector).get_attribute(attr)).body())
        links = page.locator("a[download]").evaluate_all("as => as.map(a => a.href)")
        for url in links:
            if url.endswith(".mid"):
                out["midi"] = len(page.request.get(url).body())
            elif url.endswith(".wav"):
                out["wav_download"] = len(page.request.get(url).body())
        return out


def summary(moves: list[dict]) -> dict:
    keys = ("answered_ms", "audio_linked_ms", "playable_ms", "received_bytes")
    a = {k: np.array([m.get(k, np.nan) for m in moves], dtype=float) for k in keys}
    return {k: {"median": float(np.nanmedian(v)), "p90": float(np.nanpercentile(v, 90))} for k, v in a.items()}


def soak(page: Page, n: int, out_dir: Path, gradio_dir: Path) -> dict:
    number = page.page.locator("#pitch input[type=number]")
    rhythm = page.page.locator("#rhythm input[type=number]")
    sizes, t0 = [], time.perf_counter()
    before = {"out": folder_bytes(out_dir), "gradio": folder_bytes(gradio_dir)}
    for k in range(n):  # 49 pitch values x 7 rhythm values: every move a new result
        pitch, rhy = -12 + 0.5 * (k % 49), [-1, -0.5, 0, 0.5, 1, 1.5, 2][(k // 49) % 7]
        href = page.audio_href()
        if k % 49 == 0:
            rhythm.fill(f"{rhy:g}")
            rhythm.press("Enter")
            page.page.wait_for_function("(b) => decodeURIComponent(document.querySelector('#result-audio "
                                        "a[download]')?.getAttribute('href') || '') !== b", arg=href, timeout=60_000)
            href = page.audio_href()
        number.fill(f"{pitch:g}")
        number.press("Enter")
        page.page.wait_for_function("(b) => decodeURIComponent(document.querySelector('#result-audio a[download]')"
                                    "?.getAttribute('href') || '') !== b", arg=href, timeout=60_000)
        if k % 10 == 9:
            sizes.append(folder_bytes(out_dir) + folder_bytes(gradio_dir))
    return {"moves": n, "seconds": time.perf_counter() - t0, "before": before,
            "after": {"out": folder_bytes(out_dir), "gradio": folder_bytes(gradio_dir)}, "max_total": max(sizes),
            "files_after": sum(1 for p in out_dir.rglob("*") if p.is_file())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="assets/model")
    parser.add_argument("--moves", type=int, default=20, help="timed knob moves per link")
    parser.add_argument("--soak", type=int, default=300, help="knob moves of the soak")
    parser.add_argument("--cache-mb", type=float, default=64, help="bound of the output cache during the run")
    parser.add_argument("--grace-s", type=float, default=10, help="grace period of the output cache")
    parser.add_argument("--out", default=str(ROOT / "bench" / "out" / "page.json"))
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose app.py to run (e.g. main's, to compare)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_page_"))
    app = start_app(args.model, tmp, args.cache_mb, args.grace_s, Path(args.root))
    url, facts = app.url, machine()
    result = {"machine": f"{facts['cpu']}, {facts['cores']} cores", "load_start": facts["load_average"],
              "model": args.model}
    rng = np.random.default_rng(0)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for name, conditions in (("localhost", None), ("10 Mbit/s, 40 ms RTT", LINK)):
                page = Page(browser, url, conditions)
                page.move(0.99)  # warm: the first move after load (outside the timed positions: each is a new value)
                result.setdefault("files", page.files())
                # Positions more than one slider step apart, shuffled: every move gives a new result.
                moves = [m for f in rng.permutation(np.linspace(0.04, 0.96, args.moves)) if (m := page.move(f))]
                result[name] = {"summary": summary(moves), "moves": moves}
                print(name, json.dumps(result[name]["summary"]), flush=True)
                page.page.close()
            if args.soak:
                result["soak"] = soak(Page(browser, url), args.soak, tmp / "melody-knobs", tmp / "gradio")
                print("soak", json.dumps(result["soak"]), flush=True)
            browser.close()
    finally:
        app.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    result["load_end"] = os.getloadavg()
    print("files", json.dumps(result["files"]), "load", result["load_start"], result["load_end"])
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
