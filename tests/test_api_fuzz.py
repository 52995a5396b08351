"""Hostile input through the HTTP API: every parameter of every named endpoint, fuzzed.

The calls go through gradio's raw HTTP API (``/gradio_api/call/<endpoint>``) rather than
gradio_client, because gradio_client refuses to send NaN or infinity (they are not JSON) while
any HTTP client can. The parameters, their order and their defaults are read from the server
(``view_api``), so a new parameter is fuzzed too. Each answer is a result or one clear sentence;
never gradio's generic "the upstream app raised an exception" (a null error), and the server keeps
serving. Hypothesis runs derandomized with a bounded number of examples.
"""

from __future__ import annotations

import json
import math
import os

import httpx
import numpy as np
import pytest
from gradio_client import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from midi_bytes import SCALE, notes, smf, track

from vae.melody import MAX_CODE_CHARS, tokens_to_link_code

TIMEOUT_S = 60
N_EXAMPLES = {"/modulate": 40, "/load_song": 20, "/interpolate": 25, "/inspect": 10, "/sample": 15, "/analogy": 15,
              "/variations": 15}
FUZZ = settings(max_examples=40, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

NUMBERS = st.one_of(
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 0, -1, 1, 2, 3, 7, 8, 12.5, 4.5, 512, 513, 2**63]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70),
    st.text(max_size=12), st.booleans(), st.none(), st.lists(st.integers(), max_size=3),
)
TEXTS = st.one_of(
    st.sampled_from(["A" * 100_000, "A" * (MAX_CODE_CHARS + 1), tokens_to_link_code(np.full(64, 60)), tokens_to_link_code(np.full(32, 129)),
                     "../../etc/passwd", "\x00", "nan,inf,0,0,0,0,0", "1e308," * 7, "-4,4,-4,4,-4,4,-4", "", " "]),
    st.text(max_size=40), st.binary(max_size=40).map(lambda b: b.decode("latin-1")), st.integers(), st.none(),
)
CHOICES = st.one_of(
    st.sampled_from(["twinkle", "test_1", "regularised", "paper", "../../etc/passwd", "/etc/passwd", "", "nope", "GPT"]),
    st.text(max_size=20), st.integers(), st.none(), st.floats(allow_nan=True),
)
# A file parameter names a file that was uploaded first; one that names any other file is refused by gradio
# itself, before the app sees it, with its generic (null) error: see test_file_references_outside_the_uploads.
FILES = st.none()
OUTSIDE = [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}},
           {"path": "../../../../etc/passwd.mid", "meta": {"_type": "gradio.FileData"}},
           {"path": "https://example.invalid/song.mid", "meta": {"_type": "gradio.FileData"}},
           "not a file", {"nonsense": True}]
HOSTILE = {"Slider": NUMBERS, "Number": NUMBERS, "Textbox": TEXTS, "Dropdown": CHOICES, "Radio": CHOICES, "Checkbox": NUMBERS,
           "File": FILES}
KEEP = object()  # leave the parameter at its default


class Api:
    """Raw calls of the app's named endpoints, with every parameter in its place."""

    def __init__(self, url: str):
        self.url = url
        client = Client(url, verbose=False)
        self.params = {name: endpoint["parameters"]
                       for name, endpoint in client.view_api(print_info=False, return_format="dict")[
                           "named_endpoints"].items()}
        client.close()
        self.http = httpx.Client(timeout=TIMEOUT_S)

    def call(self, endpoint: str, **overrides) -> tuple[str, object]:
        """('complete', outputs) or ('error', message) of one call; HTTP refusals as ('http <code>', body)."""
        data = [overrides.get(p["parameter_name"], p.get("parameter_default")) for p in self.params[endpoint]]
        body = json.dumps({"data": data}, allow_nan=True)  # NaN and Infinity as JavaScript would send them
        answer = self.http.post(f"{self.url}gradio_api/call{endpoint}", content=body,
                                headers={"content-type": "application/json"})
        if answer.status_code != 200:
            return f"http {answer.status_code}", answer.text
        event = answer.json()["event_id"]
        stream = self.http.get(f"{self.url}gradio_api/call{endpoint}/{event}").text
        kind, _, payload = stream.partition("\ndata: ")
        kind = kind.removeprefix("event: ").strip()
        payload = json.loads(payload.strip().split("\n")[0])
        return kind, payload["error"] if kind == "error" else payload

    def strategy(self, endpoint: str):
        return st.fixed_dictionaries({
            p["parameter_name"]: st.one_of(st.just(KEEP), HOSTILE.get(p["component"], NUMBERS))
            for p in self.params[endpoint]})


@pytest.fixture(scope="module")
def api(app_url) -> Api:
    api = Api(app_url)
    yield api
    api.http.close()


def _clear(kind: str, answer, what) -> None:
    if kind == "complete":
        assert isinstance(answer, list) and answer, what
        return
    if kind.startswith("http 4"):  # refused by the web layer (e.g. a body that is not a list), before any event
        return
    assert kind == "error", (kind, what)
    assert isinstance(answer, str) and answer, f"a null error (gradio's generic failure) for {what}"
    assert "\n" not in answer and "Traceback" not in answer and len(answer) < 400, answer


def _still_serving(api: Api) -> None:
    kind, answer = api.call("/modulate", example="twinkle", pitch=1)
    assert kind == "complete", answer


def test_every_named_endpoint_is_fuzzed(api):
    assert set(N_EXAMPLES) == set(api.params), "a new endpoint needs its N_EXAMPLES"
    for endpoint, params in api.params.items():
        assert all(p["component"] in HOSTILE for p in params), (endpoint, [p["component"] for p in params])


@pytest.mark.parametrize("endpoint", list(N_EXAMPLES))
def test_hostile_parameters_get_a_result_or_one_sentence(api, endpoint):
    seen = {"complete": 0, "error": 0}

    @settings(FUZZ, max_examples=N_EXAMPLES[endpoint])
    @given(api.strategy(endpoint))
    def one(params):
        params = {k: v for k, v in params.items() if v is not KEEP}
        kind, answer = api.call(endpoint, **params)
        _clear(kind, answer, (endpoint, {k: str(v)[:40] for k, v in params.items()}))
        seen[kind] = seen.get(kind, 0) + 1

    one()
    _still_serving(api)
    assert seen["error"] > 0, seen


NAMED = [
    ("/modulate", {"pitch": math.nan}, "pitch must be a finite number, got 'nan'"),
    ("/modulate", {"rhythm": -math.inf}, "rhythm must be a finite number, got '-inf'"),
    ("/modulate", {"residual": 1e308}, "greater than maximum value 3"),
    ("/modulate", {"pitch": "five"}, "pitch must be a finite number, got 'five'"),
    ("/modulate", {"bar_from": math.inf}, "bar_from must be a finite number"),
    ("/modulate", {"bar_from": 5, "bar_to": 2}, "the bar range must satisfy 1 <= from <= to"),
    ("/modulate", {"bar_from": -3}, "the bar range must satisfy 1 <= from <= to"),
    ("/modulate", {"track": "abc"}, "track must be a finite number, got 'abc'"),
    ("/modulate", {"song_code": "A" * 100_000, "bpm": 120}, "the shared song is 100000 characters long"),
    ("/modulate", {"song_code": tokens_to_link_code(np.full(64, 60)), "bpm": math.nan}, "bpm must be a finite number"),
    ("/modulate", {"dim_offsets": "nan,inf,0,0,0,0,0"}, "got nan"),
    ("/modulate", {"example": "../../etc/passwd"}, "is not in the list of choices"),
    ("/modulate", {"model": "gpt"}, "is not in the list of choices"),
    ("/load_song", {"bpm": 1e308, "song_code": "abc"}, "tempo must be 10 to 400 bpm"),
    ("/interpolate", {"source_clip": -1}, "less than minimum value 1"),
    ("/interpolate", {"source_clip": 1e308}, "choose a clip from 1 to 6, got 1e+308"),
    ("/interpolate", {"target_clip": math.nan}, "target_clip must be a finite number"),
    ("/interpolate", {"grid_size": 2}, "less than minimum value 3"),
    ("/interpolate", {"grid_size": 100}, "greater than maximum value 7"),
    ("/interpolate", {"grid_size": 4.5}, "the grid size must be a whole number from 3 to 7"),
    ("/interpolate", {"target_example": "nope"}, "there is no example called 'nope'"),
    ("/inspect", {"model": "paper-but-not-here"}, "is not in the list of choices"),
    ("/inspect", {"track": "abc"}, "track must be a whole track number (from 0), got 'abc'"),
    ("/inspect", {"track": 1e308}, "track must be a whole track number (from 0), got '1e+308'"),
    ("/sample", {"n": math.nan}, "n must be a finite number, got 'nan'"),
    ("/sample", {"seed": "x"}, "seed must be a finite number, got 'x'"),
    ("/variations", {"spread": math.inf}, "spread must be a finite number, got 'inf'"),
    ("/analogy", {"direction": "sideways"}, "is not in the list of choices"),
]


@pytest.mark.parametrize(("endpoint", "params", "message"), NAMED,
                         ids=[f"{e}-{'-'.join(p)}" for e, p, _ in NAMED])
def test_named_hostile_inputs_get_their_sentence(api, endpoint, params, message):
    kind, answer = api.call(endpoint, **params)
    assert kind == "error" and message in answer, (kind, str(answer)[:300])
    _clear(kind, answer, params)


@pytest.mark.parametrize("reference", OUTSIDE, ids=["etc-passwd", "dot-dot", "url", "string", "not-file-data"])
def test_file_references_outside_the_uploads_are_refused_and_never_read(api, reference):
    for endpoint, name in (("/load_song", "midi_file"), ("/interpolate", "source_file")):
        kind, answer = api.call(endpoint, **{name: reference})
        assert kind == "error" or kind.startswith("http 4"), (kind, str(answer)[:200])
    _still_serving(api)


def _upload(api: Api, raw_name: bytes) -> tuple[int, object]:
    """Upload a melody under a raw (possibly non-UTF-8) file name, as a hand-made multipart request."""
    data = smf(0, [track(notes(SCALE * 2, 480))])
    boundary = b"fuzzboundary"
    body = (b"--" + boundary + b'\r\nContent-Disposition: form-data; name="files"; filename="' + raw_name
            + b'"\r\nContent-Type: audio/midi\r\n\r\n' + data + b"\r\n--" + boundary + b"--\r\n")
    answer = api.http.post(f"{api.url}gradio_api/upload", content=body,
                           headers={"content-type": f"multipart/form-data; boundary={boundary.decode()}"})
    return answer.status_code, answer.json() if answer.status_code == 200 else answer.text


@pytest.mark.parametrize("raw_name", [b"../../../../tmp/melody-knobs-escape.mid", b"\xff\xfe\x80 latin.mid",
                                      b"/etc/passwd.mid", b"a\x00b.mid", "\u00fc\U0001f3b5.mid".encode(), b"..",
                                      b"../.mid", b"x" * 300 + b".mid", b"..\\..\\win.mid"])
def test_upload_names_with_dot_dot_or_not_utf8_stay_in_the_upload_folder(api, raw_name, tmp_path):
    status, answer = _upload(api, raw_name)
    assert not os.path.exists("/tmp/melody-knobs-escape.mid")
    if status != 200:
        assert 400 <= status < 500 and "Traceback" not in str(answer), (status, answer)
        return
    (path,) = answer
    assert "/../" not in path and not path.startswith(("/etc", "/tmp/melody-knobs-escape"))
    kind, result = api.call("/load_song", midi_file={"path": path, "meta": {"_type": "gradio.FileData"}})
    _clear(kind, result, raw_name)
    if kind == "complete":
        assert result[2]["bars"] == 4
    _still_serving(api)
