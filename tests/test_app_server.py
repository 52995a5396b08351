"""The app through a real server on localhost, driven with gradio_client (tiny model)."""

from __future__ import annotations

from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from midi_files import melody_midi

from vae.melody import load_melody

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_modulate_an_example(client):
    # μ: fitted, the untrained tiny model may play all holds, which load_melody refuses to read back
    roll, audio, midi = client.predict(example="twinkle", pitch=5, faithful=False, api_name="/modulate")
    assert Path(roll).read_bytes().startswith(PNG) and Path(audio).read_bytes().startswith(b"\xff\xf3")
    _, wav, _ = client.predict(example="twinkle", pitch=5, faithful=False, audio_format="wav", api_name="/modulate")
    assert Path(wav).read_bytes().startswith(b"RIFF"), "lossless on request"
    assert load_melody(midi).tokens.size == 12 * 16
    *_, unmoved = client.predict(example="twinkle", faithful=False, api_name="/modulate")
    assert Path(unmoved).read_bytes() != Path(midi).read_bytes()


def test_modulate_an_upload(client, tmp_path):
    path = melody_midi(tmp_path / "scale.mid")
    _roll, _audio, midi = client.predict(midi_file=handle_file(str(path)), rhythm=1, bar_from=1, bar_to=2,
                                       faithful=False, api_name="/modulate")
    assert Path(midi).name.startswith("scale_rhythm+1") and load_melody(midi).tokens.size == 4 * 16
    roll_orig, _audio_orig, facts = client.predict(midi_file=handle_file(str(path)), api_name="/load_song")
    assert (facts["name"], facts["bars"], facts["clips"]) == ("scale", 4, 2)
    assert Path(roll_orig).read_bytes().startswith(PNG)
    *_, again = client.predict(midi_file=handle_file(str(path)), pitch=-3, api_name="/modulate")
    assert Path(again).name.startswith("scale_pitch-3"), "bar_to's default (past the end) must still mean the end"


def test_interpolate(client):
    cells = client.predict(source_clip=1, target_clip=4, grid_size=3, api_name="/interpolate")
    assert len(cells) == 9 and cells[4]["caption"] == "pitch t=0.50 · rhythm t=0.50"
    assert Path(cells[0]["image"]).read_bytes().startswith(PNG)


def test_the_menus_show_titles_and_the_api_still_takes_example_names(client, app_url):
    import json
    import urllib.request

    config = json.loads(urllib.request.urlopen(f"{app_url}config", timeout=30).read())
    box = next(c["props"] for c in config["components"] if c["props"].get("elem_id") == "song-box")
    assert ["The Boatie Rows (Scottish strathspey)", "test_4"] in box["choices"] and box["value"] == "twinkle"
    *_, midi = client.predict(example="test_1", pitch=2, api_name="/modulate")  # share links and fixtures use names
    assert Path(midi).name.startswith("test_1_pitch+2")
    cells = client.predict(source_example="test_4", target_example="test_1", grid_size=3, api_name="/interpolate")
    assert len(cells) == 9


def test_bad_input_gets_a_message_and_the_server_keeps_serving(client, tmp_path):
    bad = tmp_path / "broken.mid"
    bad.write_bytes(b"not a MIDI file at all")
    with pytest.raises(Exception, match="could not read this file as MIDI"):
        client.predict(midi_file=handle_file(str(bad)), api_name="/modulate")
    with pytest.raises(Exception, match="greater than maximum value 7"):  # gradio checks the slider's range
        client.predict(grid_size=9, api_name="/interpolate")
    huge = tmp_path / "huge.mid"
    huge.write_bytes(b"MThd" + bytes(3 * 2**20))
    with pytest.raises(Exception, match="(?i)too large|exceeds|maximum|413"):
        client.predict(midi_file=handle_file(str(huge)), api_name="/modulate")
    assert client.predict(example="twinkle", pitch=1, api_name="/modulate")[0]


def test_the_model_cards_training_curves_are_served(tmp_path):
    import json
    import re
    import urllib.request

    from conftest import served

    with served(None, tmp_path) as url:  # the bundled models and their cards, as app.py serves them
        config = json.loads(urllib.request.urlopen(f"{url}config", timeout=30).read())
        cards = [c["props"]["value"] for c in config["components"]
                 if c["type"] == "markdown" and "### Model card" in str(c["props"].get("value"))]
        images = [src for card in cards for src in re.findall(r"!\[[^\]]*\]\(([^)\s]+)", card)]
        assert len(cards) == 2 and len(images) >= 2 and all(src.startswith("/gradio_api/file=") for src in images)
        for src in images:
            with urllib.request.urlopen(f"{url.rstrip('/')}{src}", timeout=30) as answer:
                assert answer.status == 200 and answer.read(8) == PNG
