"""Nothing changes what the bundled models play through the HTTP API unless it is meant to: the same
/modulate requests give the notes recorded in tests/fixtures/modulate_bundled.json (at the commit it names).
First recorded before the re-draw of vae/ (issue 12), which changed nothing; re-recorded with
tests/fixtures/record_modulate.py when the regularised model and its calibrated knobs shipped."""

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
    *_, midi = client.predict(**call["request"], api_name="/modulate")
    assert Path(midi).name == call["file"]
    assert load_melody(midi).tokens.tolist() == call["tokens"]
