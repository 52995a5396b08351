"""What a user meets in a real browser (headless Chromium, Playwright), issue 13: a page that recovers from a bad
upload, a legend beside the roll, the chorale's soprano, knobs that answer typing and arrow keys, an Interpolate tab
that plays a clicked cell, a phone layout with the knob and the roll on one screen, and (item 9) example titles, a
notice when knobs carry over to a new song, and the model card's figures."""

from __future__ import annotations

import io
import re
from urllib.parse import unquote

import numpy as np
import pytest
from midi_files import chorale_midi
from PIL import Image
from test_browser import CHROMIUM, open_page

from vae import pianoroll

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)")
ROLL = "#result-roll img"


@pytest.fixture
def page(browser, app_url):
    page = open_page(browser, app_url)
    yield page
    page.close()


def _roll_src(page) -> str:  # the roll's URL, decoded: its file name says where the knobs stood
    return unquote(page.locator(ROLL).get_attribute("src"))


def _wait_new_roll(page, before: str) -> str:
    page.wait_for_function("(b) => decodeURIComponent(document.querySelector('#result-roll img')?.src) !== b",
                           arg=before, timeout=30_000)
    return _roll_src(page)


def _error_badges(page) -> int:  # gradio's red "Error" status over a component
    return page.locator(".wrap .error:visible, .error-badge:visible").count()


def _move_pitch(page) -> str:
    before = _roll_src(page)
    box = page.locator("#pitch input[type=range]").bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
    return _wait_new_roll(page, before)


# ----------------------------------------------------------------------------- item 2: a bad upload


@pytest.mark.parametrize("data", [b"hello, I am a text file named .mid", b""], ids=["text", "empty"])
def test_a_bad_upload_is_removed_and_the_song_and_knobs_keep_working(page, tmp_path, data):
    bad = tmp_path / "notes.mid"
    bad.write_bytes(data)
    page.locator("#song-upload input[type=file]").set_input_files(str(bad))
    toast = page.locator(".toast-body").filter(has_text="stays loaded")
    toast.wait_for(timeout=30_000)
    text = toast.inner_text()
    assert not re.search(r"[A-Z][a-z]+Error|MThd|Traceback", text), text
    page.wait_for_timeout(500)
    assert "notes.mid" not in page.locator("#song-upload").inner_text(), "the refused file leaves the upload box"
    assert "Twinkle, Twinkle" in page.locator("#song-info").inner_text(), "the song before stays loaded"
    assert _error_badges(page) == 0
    assert "pitch+" in _move_pitch(page), "every knob keeps working"
    assert _error_badges(page) == 0


# ----------------------------------------------------------------------------- item 3: the legend


def test_faithful_is_on_by_default_and_a_link_turns_it_off(browser, app_url):
    """The switch starts on, and the song box says how much plays back both ways; a link with faithful=0 opens with
    it off (the model's own reading), and its share link keeps it."""
    page = open_page(browser, app_url)
    try:
        assert page.locator("#faithful input").is_checked()
        assert "model's own reading" in page.locator("#song-info").inner_text()
    finally:
        page.close()
    page = open_page(browser, f"{app_url}?example=twinkle&faithful=0")
    try:
        assert not page.locator("#faithful input").is_checked()
        page.wait_for_function("() => document.querySelector('#song-info')?.innerText.includes('faithful to the song: off')",
                               timeout=30_000)
    finally:
        page.close()


def test_the_legend_is_on_the_page_and_at_rest_the_original_shows(browser, app_url):
    # the model's own reading: fitted to Twinkle, the untrained tiny model plays all holds
    page = open_page(browser, f"{app_url}?example=twinkle&faithful=0")
    legend = page.locator("#roll-legend")
    assert legend.is_visible() and "grey" in legend.inner_text() and "orange" in legend.inner_text()
    lb, rb = legend.bounding_box(), page.locator(ROLL).bounding_box()
    assert lb["y"] + lb["height"] <= rb["y"] + 1 or lb["y"] >= rb["y"] + rb["height"] - 1, "outside the image"
    image = np.asarray(Image.open(io.BytesIO(page.request.get(_roll_src(page)).body())).convert("RGB")).astype(int)

    def count(color: str) -> int:
        rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])
        return int((np.abs(image - rgb).max(axis=-1) <= 2).sum())

    assert count(pianoroll.GHOST_COLOR) > 0.3 * count(pianoroll.NOTE_COLOR) > 0, "the result hides the original"
    page.close()


# ----------------------------------------------------------------------------- item 4: a chorale's melody


def test_a_chorale_upload_plays_its_soprano_and_the_song_box_names_it(page, tmp_path):
    page.locator("#song-upload input[type=file]").set_input_files(str(chorale_midi(tmp_path / "chorale.mid")))
    page.wait_for_function("() => document.querySelector('#song-info')?.innerText.includes('chorale')",
                           timeout=30_000)
    info = page.locator("#song-info").inner_text()
    assert "Melody: track 1, Soprano" in info and "highest voice" in info
    assert page.locator("#song-box input").input_value() == "chorale", "the song box names the uploaded song"


# ----------------------------------------------------------------------------- item 5: typing and arrow keys


def test_typing_a_value_and_arrow_keys_recompute(page):
    number = page.locator("#pitch input[type=number]")
    before = _roll_src(page)
    number.fill("3")
    number.press("Enter")
    assert "pitch+3" in _wait_new_roll(page, before), "a typed value recomputes"
    before = _roll_src(page)
    page.locator("#pitch input[type=range]").focus()
    page.keyboard.press("ArrowRight")
    after = _wait_new_roll(page, before)
    value = float(number.input_value())
    assert value == 3.5 and f"pitch+{value:g}" in after, "an arrow key recomputes, and the result shows its value"


# ----------------------------------------------------------------------------- item 7: the Interpolate tab


def test_interpolate_captions_clicks_and_the_diagonal_before_a_grid(page):
    page.get_by_role("tab", name="Interpolate").click()
    page.locator("#diagonal").click()
    page.wait_for_function("() => document.querySelector('#cell-info')?.innerText.includes('Make a grid first')",
                           timeout=30_000)
    assert _error_badges(page) == 0 and page.locator(".toast-body").filter(has_text="Error").count() == 0
    page.locator("#make-grid").click()
    page.wait_for_function("() => document.querySelectorAll('#grid .thumbnail-item img').length === 25",
                           timeout=30_000)
    page.wait_for_timeout(300)
    for k in (0, 12, 24):
        cell = page.locator("#grid .thumbnail-item").nth(k)
        img, caption = cell.locator("img").bounding_box(), cell.locator(".caption-label").bounding_box()
        assert caption["y"] >= img["y"] + img["height"] - 1, "the caption is under the thumbnail, not over it"
        assert "pitch t=" in cell.locator(".caption-label").inner_text()
    page.locator("#grid .thumbnail-item").nth(7).click()
    page.wait_for_function("() => document.querySelector('#cell-info')?.innerText.includes('Cell:')", timeout=30_000)
    page.wait_for_function("() => (document.querySelector('#cell-audio #time')?.innerText || '0:00') !== '0:00'",
                           timeout=15_000)  # the player's clock runs: the cell plays without another click


# ----------------------------------------------------------------------------- the phone layout


def test_on_a_phone_the_knob_and_the_roll_are_on_one_screen(browser, app_url):
    page = open_page(browser, app_url, 390, 844)
    try:
        knob = page.locator("#pitch")
        knob.scroll_into_view_if_needed()
        k, r = knob.bounding_box(), page.locator(ROLL).bounding_box()
        assert r["y"] + r["height"] - k["y"] <= 844, "the pitch knob and the whole roll fit on one screen"
        page.evaluate("(y) => window.scrollBy(0, y)", k["y"] - 10)
        k, r = knob.bounding_box(), page.locator(ROLL).bounding_box()
        assert k["y"] >= 0 and r["y"] + r["height"] <= 844 and r["height"] >= 80
    finally:
        page.close()


def test_on_a_phone_the_whole_grid_fits_the_screen_width(browser, app_url):
    page = open_page(browser, app_url, 390, 844)
    try:
        page.get_by_role("tab", name="Interpolate").click()
        page.locator("#make-grid").click()
        page.wait_for_function("() => document.querySelectorAll('#grid .thumbnail-item img').length === 25",
                               timeout=30_000)
        page.wait_for_timeout(300)
        boxes = [page.locator("#grid .thumbnail-item").nth(k).bounding_box() for k in range(5)]
        assert boxes[-1]["x"] + boxes[-1]["width"] <= 390, "the fifth column is on screen, not cut off"
        assert len({round(b["y"]) for b in boxes}) == 1, "one grid row per gallery row"
    finally:
        page.close()


# ----------------------------------------------------------------------------- item 9: smaller things


def _pick_example(page, title: str) -> None:
    page.locator("#song-box input").click()
    page.locator("[data-testid=dropdown-option]").filter(has_text=title).first.click()
    page.wait_for_function("(t) => document.querySelector('#song-info')?.innerText.includes(t)", arg=title,
                           timeout=30_000)  # the song box and the song's facts both call it by its title


def test_examples_have_titles_and_a_new_song_says_once_that_the_knobs_stay(page):
    assert page.locator("#song-box input").input_value() == "Twinkle, Twinkle (Mozart's theme)"
    _move_pitch(page)
    _pick_example(page, "The Boatie Rows")
    stay = page.locator(".toast-body").filter(has_text="The knobs stay where they were: pitch +")
    stay.wait_for(timeout=30_000)
    assert stay.count() == 1
    number = page.locator("#pitch input[type=number]")
    before = _roll_src(page)
    number.fill("0")
    number.press("Enter")
    _wait_new_roll(page, before)
    _pick_example(page, "Der Alpjäger")
    page.wait_for_timeout(1000)
    assert page.locator(".toast-body").filter(has_text="The knobs stay").count() <= 1, "at rest: no new notice"


def test_the_model_tab_shows_the_cards_training_curves(browser, tmp_path):
    from conftest import served

    with served(None, tmp_path) as url:  # the bundled models, whose cards link their figures relatively
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url)
            page.get_by_role("tab", name="Model").click()
            page.wait_for_function("() => { const i = document.querySelector('img[alt=\"training curves\"]');"
                                   " return i && i.complete && i.naturalWidth > 100; }", timeout=30_000)
        finally:
            page.close()
