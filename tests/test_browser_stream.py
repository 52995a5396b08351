"""Every answer reaches the page (assets/stream_watch.js), in a real browser (headless Chromium, Playwright).

gradio's page client reads a session's answers from one event stream that the server ends when nothing of the session
is left; an event submitted just as it ends can be left with no stream to bring its answer (a first roll that never
came, on a busy machine). The race itself is a matter of timing, so these tests make its outcome happen every time: the
page's streams are ended before they reach the server, with the message the server ends them with, while events are
due. Nothing brings their answers but the page's watch."""

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
        page.locator("#pitch input[type=number]").fill("3")
        page.locator("#pitch input[type=number]").press("Enter")
        page.wait_for_function("() => document.querySelector('#result-roll img')?.src.includes('pitch%2B3')"
                               " || decodeURIComponent(document.querySelector('#result-roll img')?.src).includes("
                               "'pitch+3')", timeout=60_000)
        # Every event it saw submitted, it saw answered: none stays due, so it has nothing to act on (an id it missed
        # would make it send its event every few seconds for as long as the page is open).
        page.wait_for_function("() => window.streamWatch.due() === 0", timeout=30_000)
        page.wait_for_timeout(4_000)  # longer than the watch waits before it acts
        assert page.evaluate("() => window.streamWatch.due()") == 0
    finally:
        page.close()
