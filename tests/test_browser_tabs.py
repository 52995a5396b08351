"""The Analogy, Sampling and Type-a-melody tabs in a real browser (headless Chromium through Playwright)."""

from __future__ import annotations

import pytest
from test_browser import ARTIFACTS, CHROMIUM, opened

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)")


@pytest.fixture(scope="module")
def page(app_url):
    with opened(app_url) as page:
        page.wait_for_selector("#result-roll img", timeout=30_000)  # the Knobs tab has loaded its song
        yield page


def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_analogy_tab_shows_and_plays_the_result(page):
    page.get_by_role("tab", name="Analogy").click()
    page.locator("#analogy-go").click()
    page.wait_for_selector("#analogy-roll img", timeout=30_000)
    page.wait_for_function("() => document.querySelector('#analogy-audio a[download]')", timeout=30_000)
    assert page.request.get(page.locator("#analogy-roll img").get_attribute("src")).body()[1:4] == b"PNG"
    page.wait_for_function("() => [...document.querySelectorAll('textarea, input')].some("
                           "t => t.value.includes('an_a=twinkle'))", timeout=10_000)
    _shot(page, "browser_analogy.png")


def test_sampling_tab_shows_thumbnails_that_play_on_click(page):
    page.get_by_role("tab", name="Sampling").click()
    page.locator("#sample-go").click()
    page.wait_for_function("() => document.querySelectorAll('#samples img').length === 8", timeout=30_000)
    page.locator("#samples img").nth(2).click()
    page.wait_for_function("() => document.querySelector('#sample-audio a[download]')", timeout=30_000)
    assert "_3" in page.locator("#sample-audio a[download]").get_attribute("href")
    page.wait_for_function("() => [...document.querySelectorAll('textarea, input')].some("
                           "t => t.value.includes('sample_seed=0'))", timeout=10_000)
    page.get_by_text("Variations of a song", exact=True).click()
    page.locator("#vary-loaded").click()  # the Knobs tab's song (twinkle): 4 variations
    page.wait_for_function("() => document.querySelectorAll('#samples img').length === 4", timeout=30_000)
    # The new set takes the old one's place: no player, file or link of the samples is left.
    page.wait_for_function("() => !document.querySelector('#sample-audio a[download]')", timeout=10_000)
    assert not page.locator("textarea, input").evaluate_all("ts => ts.some(t => t.value.includes('sample_seed'))")
    _shot(page, "browser_sampling.png")


def test_a_typed_melody_shows_at_once_and_goes_to_the_knobs_tab(page):
    page.get_by_role("tab", name="Type a melody").click()
    page.wait_for_selector("#typed-roll img", timeout=30_000)
    before = page.locator("#typed-roll img").get_attribute("src")
    page.locator("#typed-text textarea").fill("C4 E4 G4 C5 | B4*2 G4*2")
    page.wait_for_function("(b) => document.querySelector('#typed-roll img').src !== b", arg=before, timeout=30_000)
    result_before = page.locator("#result-roll img").get_attribute("src")
    page.locator("#typed-to-knobs").click()
    page.get_by_role("tab", name="Knobs").click()
    page.wait_for_function("(b) => document.querySelector('#result-roll img').src !== b", arg=result_before,
                           timeout=30_000)
    page.wait_for_function("() => [...document.querySelectorAll('textarea')].some(t => t.value.includes('song='))",
                           timeout=10_000)
    _shot(page, "browser_typed.png")
    page.get_by_role("tab", name="Type a melody").click()
    page.locator("#typed-to-source").click()
    page.get_by_role("tab", name="Interpolate").click()
    page.get_by_role("cell", name="typed_melody.mid").wait_for(timeout=30_000)  # the Source's file
    page.get_by_role("button", name="Interpolate", exact=True).click()
    page.wait_for_function("() => document.querySelectorAll('#grid img').length === 25", timeout=30_000)


def test_share_links_restore_the_analogy_and_the_samples(page, app_url):
    page.goto(f"{app_url}?analogy=1&an_a=twinkle&an_b=test_1&an_mix=0.5&an_direction=a_rhythm")
    page.get_by_role("tab", name="Analogy").click()
    page.wait_for_selector("#analogy-roll img", timeout=30_000)
    assert float(page.locator("#analogy-mix input[type=number]").input_value()) == 0.5
    page.goto(f"{app_url}?sample_seed=3&n=5&temperature=0.2")
    page.get_by_role("tab", name="Sampling").click()
    page.wait_for_function("() => document.querySelectorAll('#samples img').length === 5", timeout=30_000)
