"""The app in a real browser (headless Chromium through Playwright): move the pitch knob, see and hear it change."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)")


@contextmanager
def opened(url: str, viewport: dict | None = None):
    """A page of headless Chromium (Playwright, Debian's /usr/bin/chromium) at ``url``."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport=viewport or {"width": 1400, "height": 1100})
        page.goto(url)
        try:
            yield page
        finally:
            browser.close()


def open_page(browser, url: str, width: int = 1400, height: int = 1000):
    """A new page of ``browser`` at ``url``, once the Knobs tab shows its song: the result's roll and the song's
    facts."""
    page = browser.new_page(viewport={"width": width, "height": height})
    page.goto(url)
    page.wait_for_selector("#result-roll img", timeout=120_000)  # a first load fits the song (slow on a busy machine)
    page.wait_for_function("() => document.querySelector('#song-info')?.innerText.includes('bars')", timeout=60_000)
    return page


@pytest.fixture(scope="module")
def page(app_url):
    with opened(app_url) as page:
        yield page


def _roll_src(page) -> str:
    return page.locator("#result-roll img").get_attribute("src")


def test_moving_the_pitch_knob_changes_the_roll_and_the_audio(page):
    page.wait_for_selector("#result-roll img", timeout=30_000)
    page.wait_for_function("() => document.querySelector('#result-audio a[download]')", timeout=30_000)
    roll_before = _roll_src(page)
    audio_before = page.locator("#result-audio a[download]").get_attribute("href")
    image_before = page.request.get(roll_before).body()

    knob = page.locator("#pitch input[type=range]")
    box = knob.bounding_box()
    page.mouse.click(box["x"] + 0.75 * box["width"], box["y"] + box["height"] / 2)  # press and release at ~+6
    assert float(page.locator("#pitch input[type=number]").input_value()) > 3
    page.wait_for_function("(before) => document.querySelector('#result-roll img').src !== before", arg=roll_before,
                           timeout=30_000)

    assert page.request.get(_roll_src(page)).body() != image_before
    # The roll comes first, the audio once it is encoded: the player gets the new result's audio.
    page.wait_for_function("(before) => document.querySelector('#result-audio a[download]').getAttribute('href') "
                           "!== before", arg=audio_before, timeout=30_000)
    audio_after = page.locator("#result-audio a[download]").get_attribute("href")
    assert audio_after != audio_before and audio_after.endswith(".mp3")
    page.wait_for_function("() => document.querySelector('textarea, input') && "
                           "[...document.querySelectorAll('textarea')].some(t => t.value.includes('pitch='))",
                           timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser.png"), full_page=True)


def test_the_lossless_wav_is_made_when_asked_for(page):
    """A knob move writes no WAV; the button makes the WAV of the result as it stands, named like its MIDI."""
    page.wait_for_function("() => document.querySelector('#result-audio a[download]')", timeout=30_000)
    assert page.locator("#result-wav a[download]").count() == 0, "no WAV before it is asked for"
    page.locator("#make-wav").click()
    page.wait_for_function("() => document.querySelector('#result-wav a[download]')", timeout=30_000)
    href = page.locator("#result-wav a[download]").get_attribute("href")
    audio = page.locator("#result-audio a[download]").get_attribute("href")
    assert href.endswith(".wav") and Path(href).stem == Path(audio).stem
    assert page.request.get(href).body()[:4] == b"RIFF"
