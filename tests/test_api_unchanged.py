"""The re-draw of vae/ (issue 12) changes no behaviour through the HTTP API: the same /modulate requests on
the bundled model give the same notes as before it (tests/fixtures/modulate_bundled.json, recorded on main's
code at the commit it names)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import served
from gradio_client import Client

from vae.hub import BUNDLED_DIR
from vae.melody import load_melody

RECORDED = json.loads((Path(__file__).parent / "fixtures" / "modulate_bundled.json").read_text())


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with served(str(BUNDLED_DIR), tmp_path_factory.mktemp("bundled_out")) as url:
        yield Client(url, verbose=False)


@pytest.mark.parametrize("call", RECORDED["calls"], ids=lambda c: Path(c["file"]).stem)
def test_modulate_gives_the_recorded_notes(client, call):
    *_, midi = client.predict(**call["request"], api_name="/modulate")
    assert Path(midi).name == call["file"]
    assert load_melody(midi).tokens.tolist() == call["tokens"]
