from urllib.parse import parse_qsl

import numpy as np
import pytest

from ui import links as share
from vae.knobs import Knobs
from vae.melody import HOLD, MAX_BARS, MAX_CODE_CHARS, REST, link_code_to_tokens, tokens_to_link_code
from vae.song import Song


def _song(example=None, tokens=None, bpm=120.0):
    tokens = np.array([60, HOLD, 62, REST] * 8, dtype=np.int64) if tokens is None else tokens
    return Song(key="k", name="s", tokens=tokens, bpm=bpm, latents=None, example=example)


@pytest.mark.parametrize("n_bars", [1, 24, MAX_BARS])
def test_song_code_round_trip(n_bars, rng):
    tokens = rng.choice([60, 64, 67, HOLD, REST], size=n_bars * 16).astype(np.int64)
    code = tokens_to_link_code(tokens)
    assert code.isascii() and "=" not in code and "+" not in code and "/" not in code
    assert np.array_equal(link_code_to_tokens(code), tokens)


@pytest.mark.parametrize("code", ["", "!!!", tokens_to_link_code(np.full(32, 60))[:-6], "A" * (MAX_CODE_CHARS + 1)])
def test_damaged_song_codes_are_refused(code):
    with pytest.raises(ValueError, match="shared song"):
        link_code_to_tokens(code)


def test_a_code_that_inflates_past_the_longest_song_is_refused():
    with pytest.raises(ValueError, match=f"longer than {MAX_BARS} bars"):
        link_code_to_tokens(tokens_to_link_code(np.full(MAX_BARS * 16 + 16, REST)))


def test_query_round_trip():
    knobs = Knobs(pitch=-2.5, rhythm=1, residual=0.25, control=True, bars=(3, 6), offsets=(0.5, 0, -1))
    query = share.share_query(_song(bpm=90), knobs)
    assert "dims=0.5,0,-1" in query
    params = dict(parse_qsl(query))
    state = share.parse_share_query(params)
    assert state.knobs == knobs and state.bpm == 90 and state.example is None
    assert np.array_equal(link_code_to_tokens(state.code), _song().tokens)
    assert share.share_query(_song(example="twinkle"), Knobs()) == "example=twinkle"


@pytest.mark.parametrize(("params", "message"), [({"pitch": "up"}, "not a number"), ({"bars": "3"}, "range like"),
                                                 ({"pitch": "nan"}, "finite"), ({"song": "x", "bpm": "9999"}, "tempo")])
def test_bad_query_values_are_refused(params, message):
    with pytest.raises(ValueError, match=message):
        share.parse_share_query(params)


def test_page_url_from_referer_or_forwarded_host():
    assert share.page_url({"referer": "https://a.hf.space/?example=x#y"}) == "https://a.hf.space/"
    assert share.page_url({"x-forwarded-host": "b.hf.space", "x-forwarded-proto": "https"}) == "https://b.hf.space/"
    assert share.page_url({}) == ""
    assert share.share_url("", _song(example="t"), Knobs(pitch=1)) == "/?example=t&pitch=1"
