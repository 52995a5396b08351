"""What a user meets, second walk (issue 19), in a real browser (headless Chromium, Playwright): every song kept, the
model named on every tab and carried by every link, no stale words on screen, a phone's first screen, whole figures.

The app is served with two tiny models, "regularised" and "paper" (different weights, so different dims), like the
bundled pair."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from midi_files import melody_midi
from test_browser import CHROMIUM, open_page

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)")
ROLL = "#result-roll img"


@pytest.fixture(scope="module")
def two_models_url(tmp_path_factory):
    from conftest import served
    from tiny_model import make_tiny_model_folder

    from vae.bundle import load_bundle

    bundles = {name: load_bundle(str(make_tiny_model_folder(tmp_path_factory.mktemp(name), seed=seed)))
               for name, seed in (("regularised", 0), ("paper", 1))}
    assert bundles["regularised"].space.offset_names != bundles["paper"].space.offset_names
    with served(bundles, tmp_path_factory.mktemp("trust_out")) as url:
        yield url


@pytest.fixture
def page(browser, two_models_url):
    page = open_page(browser, two_models_url)
    yield page
    page.close()


def _tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def _text_of(page, selector: str) -> str:
    return page.locator(selector).first.inner_text()


def _wait_text(page, selector: str, text: str, timeout: int = 30_000) -> None:
    page.wait_for_function("([s, t]) => [...document.querySelectorAll(s)].some(e => e.innerText.includes(t))",
                           arg=[selector, text], timeout=timeout)


def _link(page, elem_id: str) -> str:
    page.wait_for_function("(id) => document.querySelector(`#${id} textarea, #${id} input`)?.value.startsWith('http')",
                           arg=elem_id, timeout=30_000)
    return page.locator(f"#{elem_id} textarea, #{elem_id} input").first.input_value()


def _turn(page, knob: str, value: str) -> str:
    """Type ``value`` into a knob's number box and wait for the new roll; returns its decoded URL."""
    before = unquote(page.locator(ROLL).get_attribute("src"))
    number = page.locator(f"#{knob} input[type=number]")
    number.fill(value)
    number.press("Enter")
    page.wait_for_function("(b) => decodeURIComponent(document.querySelector('#result-roll img').src) !== b",
                           arg=before, timeout=30_000)
    return unquote(page.locator(ROLL).get_attribute("src"))


def _toasts(page, text: str):
    return page.locator(".toast-body").filter(has_text=text)


# ----------------------------------------------------------------------------- 1: an uploaded song is kept


def test_a_second_upload_replaces_the_first_and_a_refused_one_names_the_song_that_stays(page, tmp_path):
    upload = page.locator("#song-upload input[type=file]")
    upload.set_input_files(str(melody_midi(tmp_path / "first_air.mid")))
    _wait_text(page, "#song-info", "first_air")
    assert page.locator("#song-box input").input_value() == "first_air", "the song box names the upload"
    assert "first_air" not in page.locator("#song-upload").inner_text(), "the box is empty again, ready for the next"
    upload = page.locator("#song-upload input[type=file]")
    assert upload.count() == 1, "the emptied box takes another file"
    upload.set_input_files(str(melody_midi(tmp_path / "second_air.mid", bpm=90)))
    _wait_text(page, "#song-info", "second_air")
    assert page.locator("#song-box input").input_value() == "second_air"
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"not a MIDI file at all")
    page.locator("#song-upload input[type=file]").set_input_files(str(bad))
    _toasts(page, "second_air stays loaded").wait_for(timeout=30_000)
    assert "second_air" in _text_of(page, "#song-info") and "Twinkle" not in _text_of(page, "#song-info")
    assert "second_air_pitch+3" in _turn(page, "pitch", "3"), "a knob moves the song kept"


# ----------------------------------------------------------------------------- 2: the model, named and carried


def test_the_model_is_named_on_every_tab_and_travels_in_the_link(page, browser, two_models_url):
    _wait_text(page, "#song-info", "Model: regularised")
    page.get_by_text("Advanced: one slider per pitch and rhythm dim").click()
    page.locator(".offset [data-testid=block-info]").first.wait_for(timeout=10_000)
    regular_names = page.locator(".offset [data-testid=block-info]").all_inner_texts()
    _tab(page, "Model")
    page.locator("#model-menu input").click()
    page.locator("[data-testid=dropdown-option]").filter(has_text="paper").first.click()
    _tab(page, "Knobs")
    _wait_text(page, "#song-info", "Model: paper")
    assert "(default model)" not in page.content()
    paper_names = page.locator(".offset [data-testid=block-info]").all_inner_texts()
    assert paper_names != regular_names, "the Advanced sliders name the dims of the model in use"
    _turn(page, "pitch", "2")
    page.wait_for_function("() => document.querySelector('#share-link textarea, #share-link input')"
                           "?.value.includes('pitch=2')", timeout=30_000)
    link = _link(page, "share-link")
    assert dict(parse_qsl(urlsplit(link).query))["model"] == "paper"
    for tab in ("Interpolate", "Analogy", "Sampling"):
        _tab(page, tab)
        _wait_text(page, ".model-note", "Model: paper")
    _tab(page, "Inspect")
    _wait_text(page, ".model-note", "The model paper")
    shared = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        shared.goto(link)
        _wait_text(shared, "#song-info", "Model: paper")
        shared.wait_for_function("() => document.querySelector('#pitch input[type=number]')?.value === '2'",
                                 timeout=30_000)  # the knobs come back too (they may show a moment after the facts)
    finally:
        shared.close()


# ----------------------------------------------------------------------------- 3, 15: Sampling plays, Analogy's B


def test_a_sampling_thumbnail_plays_on_click(page):
    _tab(page, "Sampling")
    page.locator("#sample-go").click()
    page.wait_for_function("() => document.querySelectorAll('#samples img').length === 8", timeout=30_000)
    page.locator("#samples img").nth(1).click()
    page.wait_for_function("() => (document.querySelector('#sample-audio #time')?.innerText || '0:00') !== '0:00'",
                           timeout=15_000)  # the player's clock runs: it plays without another click


def test_analogy_starts_with_two_different_songs_and_its_roll_title_is_uncovered(page):
    _tab(page, "Analogy")
    menus = page.get_by_label("Song A: example"), page.get_by_label("Song B: example")
    assert menus[0].input_value() != menus[1].input_value(), "song B is another song than song A"
    page.locator("#analogy-go").click()
    page.wait_for_selector("#analogy-roll img", timeout=30_000)
    label = page.locator("#analogy-roll label[data-testid=block-label]")
    assert label.count() == 0 or not label.is_visible(), "no label over the roll's own title"


# ----------------------------------------------------------------------------- 4, 10: a typed melody


def test_turn_its_knobs_shows_the_knobs_tab_with_the_tunes_title(page):
    _tab(page, "Type a melody")
    page.locator("#typed-text textarea").fill("X:1\nT:Morning Air\nM:4/4\nL:1/4\nK:G\nGABc|d2 B2|cBAG|A4|")
    _wait_text(page, "#typed-info", "Morning Air")
    page.locator("#typed-to-knobs").click()
    page.wait_for_function("() => document.querySelector('[role=tab][aria-selected=true]')?.innerText === 'Knobs'",
                           timeout=30_000)  # the page goes to the Knobs tab by itself
    _wait_text(page, "#song-info", "Morning Air")
    assert page.locator("#song-box input").input_value() == "Morning Air"
    assert _toasts(page, "is in the Knobs tab").count() >= 1


def test_a_melody_that_does_not_read_says_why_under_the_box_and_clears_the_old_one(page):
    _tab(page, "Type a melody")
    _wait_text(page, "#typed-info", "Twinkle")
    page.locator("#typed-text textarea").fill("C4 D4 Q9 E4")
    _wait_text(page, "#typed-info", "does not read")
    assert "Twinkle" not in _text_of(page, "#typed-info"), "the old melody's description goes"
    assert page.locator("#typed-roll img").count() == 0, "and so does its roll"
    assert page.locator(".wrap .error:visible, .error-badge:visible").count() == 0, "no Error pill"


# ----------------------------------------------------------------------------- 5, 14: share links


def test_a_shared_analogy_opens_on_the_analogy_tab_with_its_songs_named_and_its_link(browser, two_models_url):
    from vae.melody import tokens_to_link_code
    from vae.notation import parse_notes

    code = tokens_to_link_code(parse_notes("C4 D4 E4 F4 | G4*2 E4*2").tokens)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(f"{two_models_url}?analogy=1&an_a_song={code}&an_b=twinkle&an_mix=0.5")
        page.wait_for_function("() => document.querySelector('[role=tab][aria-selected=true]')?.innerText === "
                               "'Analogy'", timeout=30_000)
        page.wait_for_selector("#analogy-roll img", timeout=30_000)
        assert page.get_by_label("Song A: example").input_value() == "shared song"
        assert "an_a_song=" in _link(page, "analogy-link"), "its share box holds the link again"
    finally:
        page.close()


def test_a_shared_upload_keeps_its_name_and_a_cut_link_keeps_its_knobs(page, browser, two_models_url, tmp_path):
    page.locator("#song-upload input[type=file]").set_input_files(str(melody_midi(tmp_path / "harbour_song.mid")))
    _wait_text(page, "#song-info", "harbour_song")
    _turn(page, "rhythm", "1")
    page.wait_for_function("() => document.querySelector('#share-link textarea, #share-link input')"
                           "?.value.includes('rhythm=1')", timeout=30_000)
    link = _link(page, "share-link")
    other = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        other.goto(link)
        _wait_text(other, "#song-info", "harbour_song")
        assert other.locator("#song-box input").input_value() == "harbour_song"
        cut = link[: link.index("song=") + 30] + "&pitch=loud&rhythm=1"  # cut short, with a knob that is no number
        other.goto(cut)
        _toasts(other, "cut short").wait_for(timeout=30_000)
        text = _toasts(other, "cut short").first.inner_text()
        assert "pitch='loud'" in text, "every fault is named, not only the first"
        # the knobs that read are kept (the notice may show a moment before the knobs take the link's values)
        other.wait_for_function("() => document.querySelector('#rhythm input[type=number]')?.value === '1'",
                                timeout=30_000)
    finally:
        other.close()


# ----------------------------------------------------------------------------- 7, 8, 17: layout


def test_on_a_phone_the_first_screen_has_the_song_menu_a_knob_the_roll_and_every_tab(browser, two_models_url):
    page = open_page(browser, two_models_url, 390, 844)
    try:
        page.wait_for_function("() => { const i = document.querySelector('#result-roll img');"
                               " return i && i.complete && i.naturalWidth > 0; }", timeout=30_000)
        menu, knob, roll = (page.locator(s).bounding_box() for s in ("#song-box", "#pitch", ROLL))
        assert menu["y"] < knob["y"] < roll["y"] and roll["y"] + roll["height"] <= 844, (menu, knob, roll)
        assert roll["x"] >= 0, "the roll starts on screen"
        natural = page.locator(ROLL).evaluate("i => i.naturalWidth")
        assert roll["width"] / natural >= 0.75, "the roll's note names are drawn at a size that reads"
        assert page.get_by_role("button", name="More tabs").count() == 0
        for name in ("Knobs", "Interpolate", "Analogy", "Sampling", "Type a melody", "Inspect", "Model"):
            assert page.get_by_role("tab", name=name, exact=True).is_visible(), name
    finally:
        page.close()


def test_pop_ups_stay_clear_of_the_knobs_and_the_upload_box_shows_its_words(page, tmp_path):
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"")
    page.locator("#song-upload input[type=file]").set_input_files(str(bad))
    toast = _toasts(page, "stays loaded")
    toast.wait_for(timeout=30_000)
    t, k = toast.bounding_box(), page.locator("#residual").bounding_box()
    overlap = not (t["x"] > k["x"] + k["width"] or t["x"] + t["width"] < k["x"] or t["y"] > k["y"] + k["height"]
                   or t["y"] + t["height"] < k["y"])
    assert not overlap, "the pop-up does not cover the Residual knob"
    box, words = page.locator("#song-upload").bounding_box(), page.get_by_text("Click to Upload").first.bounding_box()
    assert words["y"] + words["height"] <= box["y"] + box["height"], "'Click to Upload' is not cut off"
    page.get_by_text("Advanced: one slider per pitch and rhythm dim").click()
    page.locator(".offset").first.wait_for(timeout=10_000)
    ends = page.locator(".offset").first.locator(".min_value, .max_value")
    assert ends.count() == 2 and all(e.is_visible() for e in ends.all()), "each Advanced slider shows its ends"


# ----------------------------------------------------------------------------- 11, 13: Interpolate, Inspect


def test_interpolate_says_what_plays_and_names_an_upload(page, tmp_path):
    _tab(page, "Interpolate")
    page.locator("#diagonal").click()
    _wait_text(page, "#cell-info", "Make a grid first")
    page.locator("input[type=file]").nth(1).set_input_files(str(melody_midi(tmp_path / "tune_for_grid.mid")))
    page.wait_for_function("() => [...document.querySelectorAll('input')].some(i => i.value === 'tune_for_grid')",
                           timeout=30_000)  # the Source menu names the file, not an example
    page.locator("#make-grid").click()
    page.wait_for_function("() => document.querySelectorAll('#grid .thumbnail-item img').length === 25",
                           timeout=30_000)
    _wait_text(page, "#cell-info", "Click a cell")
    assert "Make a grid first" not in _text_of(page, "#cell-info"), "no stale sentence under a finished grid"
    page.locator("#grid .thumbnail-item").nth(6).click()
    _wait_text(page, "#cell-info", "Cell:")
    caption = page.locator("#grid .thumbnail-item.selected .caption-label")
    assert caption.evaluate("e => parseFloat(getComputedStyle(e).opacity)") == 1


def test_inspect_shows_every_figure_whole_under_its_title_in_the_papers_order(page):
    _tab(page, "Inspect")
    figures = page.locator(".figure")
    assert figures.first.locator("label").inner_text().strip().startswith("Fig. 2")
    assert page.locator("#figures .grid-wrap, #figures [style*='overflow: auto']").count() == 0
    for k in range(figures.count()):
        figure = figures.nth(k)
        if not figure.is_visible():
            continue
        label = figure.locator("label[data-testid=block-label]").bounding_box()
        image = figure.locator("img").bounding_box() if figure.locator("img").count() else None
        if image:
            assert label["y"] + label["height"] <= image["y"] + 1, "the title sits above its figure"
