"""Every answer reaches the page and is shown (assets/stream_watch.js), in a real browser (headless Chromium, Playwright).

gradio's page client submits an event with /queue/join and reads every answer of the session from one stream,
/queue/data, that the server ends when nothing of the session is left. On a busy machine two races lost a first roll:
an answer read before its join's answer was not shown, and an event submitted just as the stream ended had no stream
to bring its answer. Races are a matter of timing, so these tests make their outcome happen every time, with a script
that runs before the page's own: every join's answer comes late, or every stream ends at once, as the server ends it."""

from __future__ import annotations

import pytest
from test_browser import CHROMIUM

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM} (apt install chromium)")

# Runs before the page's own scripts: while window.dropStreams is true, a /queue/data stream ends at once with the
# server's "close_stream", as a stream the server ended just before the page's last submission would.
DROP_STREAMS = """
window.dropStreams = true;
window.droppedStreams = 0;
const serverFetch = window.fetch.bind(window);
window.fetch = (input, init) => {
  const url = typeof input === "string" ? input : input instanceof Request ? input.url : String(input);
  if (window.dropStreams && url.includes("/queue/data")) {
    window.droppedStreams += 1;
    return Promise.resolve(new Response('data: {"msg": "close_stream"}\\n\\n',
                                        {headers: {"Content-Type": "text/event-stream"}}));
  }
  return serverFetch(input, init);
};
"""


def _pitch(page, value: str) -> None:
    """Type ``value`` into the pitch knob's box and wait for its result's roll."""
    number = page.locator("#pitch input[type=number]")
    number.fill(value)
    number.press("Enter")
    page.wait_for_function("(v) => decodeURIComponent(document.querySelector('#result-roll img').src)"
                           ".includes(`pitch+${v}`)", arg=value, timeout=60_000)


# Runs before the page's own scripts: every /queue/join answer reaches the page 1.5 s late, after the event's answers
# have come on the stream (a browser too busy to read it sooner).
LATE_JOINS = """
const serverFetch = window.fetch.bind(window);
window.fetch = async (input, init) => {
  const url = typeof input === "string" ? input : input instanceof Request ? input.url : String(input);
  const response = await serverFetch(input, init);
  if (url.includes("/queue/join")) await new Promise((resolve) => setTimeout(resolve, 1500));
  return response;
};
"""


def test_answers_that_come_before_their_join_is_read_are_shown(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(LATE_JOINS)
    try:
        page.goto(app_url)
        page.wait_for_selector("#result-roll img", timeout=60_000)  # the first roll: a generator's two answers
        _pitch(page, "3")
        page.wait_for_function("() => document.querySelector('#result-audio a[download]')?.href.includes('pitch')",
                               timeout=60_000)  # its second answer, the audio, too
    finally:
        page.close()


def test_answers_left_on_the_server_with_no_stream_reach_the_page(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.add_init_script(DROP_STREAMS)
    try:
        page.goto(app_url)
        page.wait_for_function("() => window.droppedStreams > 0", timeout=60_000)
        page.wait_for_timeout(2_000)
        assert page.locator("#result-roll img").count() == 0, "no answer came while the streams were cut"
        page.evaluate("() => { window.dropStreams = false; }")  # the server's streams work again, none is open
        page.wait_for_selector("#result-roll img", timeout=60_000)  # the answers waiting on the server arrive
        page.wait_for_function("() => document.querySelector('#song-info')?.innerText.includes('bars')",
                               timeout=30_000)
        assert page.evaluate("() => window.streamWatch.kicks") >= 1, "the watch sent its no-op event to open a stream"
        page.wait_for_function("() => window.streamWatch.due() === 0", timeout=30_000)  # and all came
    finally:
        page.close()


def test_the_watch_counts_every_answer_of_a_working_page(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(app_url)
        page.wait_for_selector("#result-roll img", timeout=120_000)
        _pitch(page, "3")
        # Every event it saw submitted, it saw answered: none stays due, so it has nothing to act on (an id it missed
        # would make it send its event every few seconds for as long as the page is open).
        page.wait_for_function("() => window.streamWatch.due() === 0", timeout=30_000)
        page.wait_for_timeout(4_000)  # longer than the watch waits before it acts
        assert page.evaluate("() => window.streamWatch.due()") == 0
    finally:
        page.close()


# ----------------------------------------------------------------------------- results in the order of the knobs


@pytest.fixture(scope="module")
def slow_rest_url(tiny_model_dir, tmp_path_factory):
    """The app, whose result with every knob at rest takes 1.5 s longer (the result a new song is shown with)."""
    import time

    from conftest import served

    from ui.knobs_tab import Handlers

    original = Handlers.modulate_sliders
    n_source = 6  # the SOURCE widgets' values come first, then the knobs: pitch, rhythm, residual, ...

    def slow_at_rest(self, state, model, faithful, base, *values):
        if not any(values[n_source:n_source + 3]):
            time.sleep(1.5)
        yield from original(self, state, model, faithful, base, *values)

    patch = pytest.MonkeyPatch()
    patch.setattr(Handlers, "modulate_sliders", slow_at_rest)
    try:
        with served(str(tiny_model_dir), tmp_path_factory.mktemp("slow_rest_out")) as url:
            yield url
    finally:
        patch.undo()


def test_a_knob_moved_while_a_new_song_is_shown_wins(browser, slow_rest_url):
    """A new song is shown through the knobs as they stand; a knob moved meanwhile must give the last result. With the
    new song's result and the knob's as two events, the slower one (the song's, at rest) landed last."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    try:
        page.goto(slow_rest_url)
        page.wait_for_selector("#result-roll img", timeout=120_000)
        page.locator("#song-box input").click()
        page.locator("[data-testid=dropdown-option]").nth(1).click()  # another example: a new song, at rest
        page.wait_for_function("() => !document.querySelector('#song-info')?.innerText.includes('Twinkle')",
                               timeout=30_000)
        _pitch(page, "3")  # typed while the new song's result (1.5 s) is computed
        page.wait_for_timeout(3_000)  # anything still to come has come
        roll = page.evaluate("() => decodeURIComponent(document.querySelector('#result-roll img').src)")
        link = page.locator("#share-link textarea, #share-link input").first.input_value()
        assert "pitch+3" in roll and "pitch=3" in link, (roll, link)
    finally:
        page.close()
