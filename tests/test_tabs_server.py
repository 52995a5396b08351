"""/analogy, /sample and /variations through a real server with gradio_client (tiny model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client

from vae.melody import load_melody

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_analogy_answers_with_roll_audio_and_midi(client):
    # μ: fitted to a song, the untrained tiny model may play all holds, and load_melody wants notes
    roll, audio, midi = client.predict(a_example="twinkle", b_example="test_1", mix=1, faithful=False,
                                       api_name="/analogy")
    assert Path(roll).read_bytes().startswith(PNG) and Path(audio).read_bytes().startswith(b"\xff\xf3")
    assert len(load_melody(midi).tokens) == 12 * 16
    *_, typed = client.predict(a_text="C4 D4 E4 F4 | G4*4", b_example="twinkle", faithful=False, api_name="/analogy")
    assert len(load_melody(typed).tokens) == 32
    *_, reverse = client.predict(a_text="C4 D4 E4 F4 | G4*4", b_example="twinkle", direction="a_rhythm",
                                 faithful=False, api_name="/analogy")
    assert len(load_melody(reverse).tokens) == 12 * 16  # twinkle's pitch, the typed melody's rhythm
    *_, control = client.predict(a_example="twinkle", b_example="test_1", control=True, api_name="/analogy")
    assert Path(control).name.endswith("_control.mid")


def test_sample_answers_with_thumbnails_roll_audio_and_midi(client):
    gallery, roll, audio, midi = client.predict(n=4, temperature=0.5, seed=2, api_name="/sample")
    assert len(gallery) == 4 and Path(gallery[0]["image"]).read_bytes().startswith(PNG)
    assert Path(roll).read_bytes().startswith(PNG) and Path(audio).read_bytes().startswith(b"\xff\xf3")
    assert len(load_melody(midi).tokens) == 4 * 32 + 3 * 16
    again = client.predict(n=4, temperature=0.5, seed=2, api_name="/sample")[3]
    assert Path(again).read_bytes() == Path(midi).read_bytes()


def test_variations_and_bad_input(client):
    gallery, *_, midi = client.predict(example="twinkle", n=2, spread=1.5, api_name="/variations")
    assert len(gallery) == 2 and len(load_melody(midi).tokens) == 2 * 12 * 16 + 16
    with pytest.raises(Exception, match="cannot read"):
        client.predict(a_text="C4 nonsense", api_name="/analogy")
    assert client.predict(n=1, api_name="/sample")[0]
