"""Screenshots of the Knobs, Interpolate and Inspect tabs on a desktop and a phone, for the README.

    python bench/screenshots.py --model assets/model [--out assets/screenshots]

Starts ``app.py`` on a free port and takes each tab in headless Chromium (Debian's /usr/bin/chromium) at
1400x1000 and 390x844: the Knobs tab after a pitch move, at its first screen (on a phone: the song menu, the
pitch knob and the roll), its Notation block (desktop), the Interpolate tab with a 5x5 grid and a cell selected,
the Inspect tab at its figures.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from harness import CHROMIUM, CHROMIUM_ARGS, ROOT, App
from playwright.sync_api import sync_playwright

SIZES = {"desktop": (1400, 1000), "phone": (390, 844)}


def open_tab(page, name: str) -> None:
    """Click a tab; on a narrow screen gradio puts the tabs that do not fit under "More tabs"."""
    tab = page.get_by_role("tab", name=name)
    if tab.count() and tab.is_visible():
        tab.click()
        return
    page.get_by_role("button", name="More tabs").click()
    page.locator(".overflow-dropdown button").filter(has_text=name).click()


def shoot(browser, url: str, kind: str, out: Path) -> None:
    width, height = SIZES[kind]
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("#result-roll img", timeout=60_000)
    before = page.locator("#result-roll img").get_attribute("src")
    number = page.locator("#pitch input[type=number]")
    number.fill("5")
    number.press("Enter")
    page.wait_for_function("(b) => document.querySelector('#result-roll img')?.src !== b", arg=before, timeout=60_000)
    page.wait_for_timeout(800)
    page.screenshot(path=str(out / f"knobs_{kind}.png"))  # the first screen: song menu, knobs, roll
    if kind == "desktop":
        page.wait_for_function("() => document.querySelector('#result-staff svg')", timeout=60_000)
        page.locator("#result-staff").scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        page.screenshot(path=str(out / "notation_desktop.png"))

    open_tab(page, "Interpolate")
    page.locator("#make-grid").click()
    page.wait_for_function("() => document.querySelectorAll('#grid .thumbnail-item img').length === 25",
                           timeout=60_000)
    page.locator("#grid .thumbnail-item").nth(12).click()
    page.wait_for_timeout(1000)
    page.locator("#grid").scroll_into_view_if_needed()
    page.screenshot(path=str(out / f"interpolate_{kind}.png"))

    open_tab(page, "Inspect")
    page.wait_for_timeout(1500)
    page.locator("#figures").scroll_into_view_if_needed()
    page.screenshot(path=str(out / f"inspect_{kind}.png"))
    page.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="assets/model")
    parser.add_argument("--out", default=str(ROOT / "assets" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (tempfile.TemporaryDirectory(prefix="screenshots_") as tmp, App(args.model, Path(tmp)) as app,
          sync_playwright() as pw):
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for kind in SIZES:
            shoot(browser, app.url, kind, out)
        browser.close()
    print("\n".join(sorted(str(p) for p in out.glob("*.png"))))


if __name__ == "__main__":
    main()
