"""The result as notation in a real browser (headless Chromium through Playwright): the ABC text and its staff,
drawn by the app's own copy of abcjs, follow the knobs; the page fetches nothing from outside."""

from __future__ import annotations

import io
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pretty_midi
import pytest
from test_browser import ARTIFACTS, CHROMIUM, opened

from vae.melody import HOLD, REST, load_melody, tokens_to_notes
from vae.score import MODES, Key, abc_text
from vae.song import example_songs

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)")

ABCJS = Path(__file__).resolve().parents[1] / "assets" / "abcjs" / "abcjs-basic-min.js"
ABC = "#result-abc textarea"
NOTES = "#result-staff svg .abcjs-note"


def _abc(page) -> str:
    return page.locator(ABC).input_value()


def _staff(page) -> str:
    return page.locator("#result-staff svg").first.inner_html()


def test_the_result_is_shown_as_abc_and_as_a_staff_that_follow_the_pitch_knob(app_url):
    with opened("about:blank") as page:
        hosts = []
        page.on("request", lambda request: hosts.append(urlparse(request.url).hostname))
        page.goto(app_url)
        page.wait_for_function(f"() => document.querySelector('{ABC}')?.value.includes('K:')", timeout=30_000)
        page.wait_for_selector("#result-staff svg", timeout=10_000)
        # The tiny untrained model plays rests when fitted to the song; its own reading (μ) plays notes.
        page.locator("#faithful input").click()
        page.wait_for_function(f"() => document.querySelectorAll('{NOTES}').length > 0", timeout=30_000)
        before, staff_before = _abc(page), _staff(page)
        assert before.startswith("X:1\nT:") and "\nM:4/4\nL:1/16\n" in before and before.rstrip().endswith("|]")
        assert page.evaluate("() => typeof window.ABCJS.renderAbc") == "function"

        knob = page.locator("#pitch input[type=range]")
        box = knob.bounding_box()
        page.mouse.click(box["x"] + 0.9 * box["width"], box["y"] + box["height"] / 2)  # press and release near +10
        page.wait_for_function(f"(before) => document.querySelector('{ABC}').value !== before", arg=before,
                               timeout=30_000)
        after = _abc(page)
        assert "pitch +" in after.splitlines()[1] and after.splitlines()[1] != before.splitlines()[1], "titled"
        page.wait_for_function("(before) => document.querySelector('#result-staff svg')?.innerHTML !== before",
                               arg=staff_before, timeout=10_000)
        assert page.locator(NOTES).count() > 0, "the staff is drawn again, with notes"
        assert int(page.locator("#result-staff .staff").get_attribute("data-draws")) >= 2
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#notation").screenshot(path=str(ARTIFACTS / "notation.png"))
    outside = {host for host in hosts if host not in ("127.0.0.1", "localhost", None)}
    assert not outside, f"the page fetched from {sorted(outside)}"
    assert any(host == "127.0.0.1" for host in hosts)


def test_abcjs_plays_the_abc_text_as_the_tokens_it_was_written_from():
    """What abcjs hears in our ABC (its own MIDI of the tune) is the song: every accidental, tie and octave as meant,
    with abcjs's own reading of accidentals (per octave, none lent by a tied-over note), and no parse warning."""
    rng = np.random.default_rng(0)
    songs = [load_melody(path).tokens for path in example_songs().values()]
    for _ in range(30):  # 6 bars of onsets of MIDI 24-108, holds and rests
        kinds = rng.choice(3, size=96, p=[0.35, 0.45, 0.2])
        songs.append(np.where(kinds == 0, rng.integers(24, 109, 96), np.where(kinds == 1, HOLD, REST)))
    cases = [(tokens, Key(tonic, mode)) for tokens in songs for mode in MODES for tonic in range(12)]
    with opened("about:blank") as page:
        page.add_script_tag(path=str(ABCJS))
        heard = page.evaluate("""(texts) => texts.map(text => ({warnings: ABCJS.parseOnly(text)[0].warnings || [],
            midi: Array.from(ABCJS.synth.getMidiFile(text, {midiOutputType: "binary"})[0])}))""",
                              [abc_text(tokens, 120, key=key) for tokens, key in cases])
    step = 60 / 120 / 4  # seconds per sixteenth at 120 bpm
    for (tokens, key), played in zip(cases, heard, strict=True):
        notes = pretty_midi.PrettyMIDI(io.BytesIO(bytes(played["midi"]))).instruments[0].notes
        assert not played["warnings"], (key, played["warnings"])
        assert [(round(n.start / step), round(n.end / step), n.pitch) for n in notes] == tokens_to_notes(tokens), key
