"""The Analogy, Sampling and typed-melody tabs' handlers as plain functions (tiny model)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import gradio as gr
import pytest

import app
import tabs
from vae import render
from vae.bundle import load_bundle
from vae.melody import link_code_to_tokens, load_melody
from vae.notation import parse_melody


@pytest.fixture(scope="module")
def ideas(tiny_model_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setattr(render, "OUT_DIR", tmp_path_factory.mktemp("tabs_out"))
    yield tabs.Ideas(app.Handlers(load_bundle(str(tiny_model_dir))))
    patch.undo()


def test_analogy_both_directions_and_a_typed_song(ideas):
    # μ: fitted to a song, the untrained tiny model may play all holds, and load_melody wants notes
    roll, audio, midi = ideas.analogy("twinkle", None, None, None, "test_1", mix=1.0, faithful=False)
    assert Path(roll).name.startswith("twinkle_with_rhythm_of_test_1") and Path(audio).suffix == ".mp3"
    assert len(load_melody(midi).tokens) == 12 * 16  # as long as twinkle, the pitch song
    *_, back = ideas.analogy("twinkle", b_text="C4 D4 E4 F4 | G4*4", direction="A's rhythm with B's pitch",
                             faithful=False)
    assert Path(back).name.startswith("typed_melody_with_rhythm_of_twinkle") and len(load_melody(back).tokens) == 32
    with pytest.raises(gr.Error, match="mix must be between"):
        ideas.analogy(mix=2)


def test_sample_is_seeded_and_plays_on_click(ideas):
    gallery, _roll, _audio, midi, many = ideas.sample(3, 0.8, 5)
    assert len(gallery) == 3 and gallery[0][1] == "1 (seed 5)"
    assert ideas.sample(3, 0.8, 5)[3] == midi and ideas.sample(3, 0.8, 6)[3] != midi
    assert len(load_melody(midi).tokens) == 3 * 32 + 2 * 16  # with a bar of rest between
    played, played_midi, info = ideas.play(many, gr.SelectData(None, {"index": 1, "value": None}))
    assert Path(played).suffix == ".mp3" and len(load_melody(played_midi).tokens) == 32 and "2" in info


def test_variations_of_a_typed_melody(ideas):
    gallery, *_, many = ideas.variations(text="C4 D4 E4 F4 G4 A4 B4 C5", n=3, spread=2.0, seed=1)
    assert len(gallery) == 3 and all(len(s) == 32 for s in many.songs)


def test_typed_melody_preview_and_code(ideas):
    roll, code, bpm, info = ideas.preview(tabs.TYPED_EXAMPLE)
    assert Path(roll).read_bytes()[1:4] == b"PNG" and bpm == 120 and info.startswith("4 bars")
    assert (link_code_to_tokens(code) == parse_melody(tabs.TYPED_EXAMPLE).tokens).all()
    assert ideas.preview("")[1] == ""
    with pytest.raises(gr.Error, match="cannot read"):
        ideas.preview("C4 X9")
    upload, song_code, _bpm, *loaded = ideas.to_knobs(code, bpm, None)
    assert upload is None and song_code == code and loaded[-1].n_bars == 4


def test_sample_link_round_trip():
    link = tabs.Ideas.sample_link("http://x/", 4, 0.7, 9)
    query = dict(p.split("=") for p in link.split("?")[1].split("&"))
    request = type("R", (), {"query_params": query})()
    assert tabs.Ideas.restore_sample(request) == (4, 0.7, 9, True)
    assert tabs.Ideas.restore_sample(type("R", (), {"query_params": {}})())[-1] is False


def test_analogy_link_round_trip(ideas):
    link = ideas.analogy_link("http://x/", "twinkle", None, None, None, "test_1", None, None, "C4 D4 | E4*2", 0.5,
                              "a_rhythm", True)
    request = type("R", (), {"query_params": dict(parse_qsl(urlsplit(link).query))})()
    a_example, a_code, b_example, b_code, mix, direction, control, go = tabs.Ideas.restore_analogy(request)
    assert (a_example, a_code, mix, direction, control, go) == ("twinkle", "", 0.5, "a_rhythm", True, True)
    assert (link_code_to_tokens(b_code) == parse_melody("C4 D4 | E4*2").tokens).all()
    assert ideas.analogy(a_example, None, a_code, None, b_example, None, b_code, None, mix, direction, control)
    assert tabs.Ideas.restore_analogy(type("R", (), {"query_params": {"an_mix": "x"}})())[-1] is False


def test_a_typed_melody_as_a_midi_file_for_the_interpolate_tab(ideas, tiny_model_dir):
    path = tabs.Ideas.as_midi("C4 D4 E4 F4 | G4*4 | A4 B4 C5*2")
    assert (load_melody(path).tokens[:48] == parse_melody("C4 D4 E4 F4 | G4*4 | A4 B4 C5*2").tokens[:48]).all()
    h = app.Handlers(load_bundle(str(tiny_model_dir)))
    gallery, grid = h.interpolate(source_file=path, source_clip=2, target_clip=1, grid_size=3)
    assert len(gallery) == 9 and grid.cells.shape == (3, 3, 32)


def test_variations_of_the_knobs_tabs_song(ideas):
    with pytest.raises(gr.Error, match="load a song in the Knobs tab first"):
        ideas.vary_loaded(None)
    loaded = ideas.h.load_song("twinkle")[-1]
    gallery, *_, many = ideas.vary_loaded(loaded, n=2, spread=1.0, seed=3)
    assert len(gallery) == 2 and many.bpm == loaded.bpm and all(len(v) == len(loaded.tokens) for v in many.songs)
