"""Nothing changes what the bundled models play through the HTTP API unless it is meant to: the same
/modulate requests give the notes recorded in tests/fixtures/modulate_bundled.json (at the commit it names).
First recorded before the re-draw of vae/ (issue 12), which changed nothing; re-recorded with
tests/fixtures/record_modulate.py when the regularised model and its calibrated knobs shipped. The notes
are the model's own reading (``faithful=False``, μ), as every request was before faithful encoding: with
it off, nothing a user got before has changed. With it on (the default), the knobs at 0 give the song back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import served
from gradio_client import Client

from vae.melody import load_melody

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "modulate_bundled.json").read_text())


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with served(None, tmp_path_factory.mktemp("bundled_out")) as url:
        yield Client(url, verbose=False)


@pytest.mark.parametrize("call", RECORDED["calls"], ids=lambda c: Path(c["file"]).stem)
def test_modulate_gives_the_recorded_notes(client, call):
    *_, midi = client.predict(**{"faithful": False, **call["request"]}, api_name="/modulate")
    assert Path(midi).name == call["file"]
    assert load_melody(midi).tokens.tolist() == call["tokens"]


@pytest.mark.parametrize("model", ["regularised", "paper"])
@pytest.mark.parametrize("example", ["twinkle", "test_1", "test_2", "test_3", "test_4"])
def test_faithful_knobs_at_rest_give_the_song_back(client, example, model):
    song = load_melody(Path(__file__).parents[1] / "assets" / "examples" / f"{example}.mid").tokens
    *_, midi = client.predict(example=example, model=model, api_name="/modulate")
    assert load_melody(midi).tokens.tolist() == song.tolist()
    *_, own = client.predict(example=example, model=model, faithful=False, api_name="/modulate")
    *_, facts = client.predict(example=example, model=model, faithful=False, api_name="/load_song")
    right = float((load_melody(own).tokens == song).mean())  # the model's own reading, as the song facts say
    assert facts["faithful"] is False and abs(facts["reconstruction_accuracy"] - right) < 0.03
