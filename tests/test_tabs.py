"""The Analogy, Sampling and typed-melody tabs' handlers as plain functions (tiny model)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import gradio as gr
import pytest

import app
from ui import store
from ui.analogy_tab import Analogy
from ui.interpolate_tab import Interpolate
from ui.sampling_tab import Sampling
from ui.typed_tab import TYPED_EXAMPLE, Typed
from vae.bundle import load_bundle
from vae.melody import link_code_to_tokens, load_melody
from vae.notation import parse_melody


@pytest.fixture(scope="module")
def ideas(tiny_model_dir, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.setattr(store, "OUT_DIR", tmp_path_factory.mktemp("tabs_out"))
    h = app.Handlers(load_bundle(str(tiny_model_dir)))
    yield SimpleNamespace(h=h, analogy=Analogy(h), sampling=Sampling(h), typed=Typed(h))
    patch.undo()


def test_analogy_both_directions_and_a_typed_song(ideas):
    # μ: fitted to a song, the untrained tiny model may play all holds, and load_melody wants notes
    roll, audio, midi = ideas.analogy.analogy("twinkle", None, None, None, "test_1", mix=1.0, faithful=False)
    assert Path(roll).name.startswith("twinkle_with_rhythm_of_test_1") and Path(audio).suffix == ".mp3"
    assert len(load_melody(midi).tokens) == 12 * 16  # as long as twinkle, the pitch song
    *_, back = ideas.analogy.analogy("twinkle", b_text="C4 D4 E4 F4 | G4*4", direction="A's rhythm with B's pitch",
                             faithful=False)
    assert Path(back).name.startswith("typed_melody_with_rhythm_of_twinkle") and len(load_melody(back).tokens) == 32
    with pytest.raises(gr.Error, match="mix must be between"):
        ideas.analogy.analogy(mix=2)


def test_sample_is_seeded_and_plays_on_click(ideas):
    gallery, _roll, _audio, midi, many = ideas.sampling.sample(3, 0.8, 5)
    assert len(gallery) == 3 and gallery[0][1] == "1 (seed 5)"
    assert ideas.sampling.sample(3, 0.8, 5)[3] == midi and ideas.sampling.sample(3, 0.8, 6)[3] != midi
    assert len(load_melody(midi).tokens) == 3 * 32 + 2 * 16  # with a bar of rest between
    played, played_midi, info = ideas.sampling.play(many, gr.SelectData(None, {"index": 1, "value": None}))
    assert Path(played).suffix == ".mp3" and len(load_melody(played_midi).tokens) == 32 and "2" in info


def test_variations_of_a_typed_melody(ideas):
    gallery, *_, many = ideas.sampling.variations(text="C4 D4 E4 F4 G4 A4 B4 C5", n=3, spread=2.0, seed=1)
    assert len(gallery) == 3 and all(len(s) == 32 for s in many.songs)


def test_typed_melody_preview_code_and_title(ideas):
    roll, code, bpm, title, info = ideas.typed.preview(TYPED_EXAMPLE)
    assert Path(roll).read_bytes()[1:4] == b"PNG" and bpm == 120 and info.startswith("**Twinkle**: 4 bars")
    assert (link_code_to_tokens(code) == parse_melody(TYPED_EXAMPLE).tokens).all() and title == "Twinkle"
    assert ideas.typed.preview("")[1] == ""
    # A melody that does not read clears the roll, the code and the title, and says why under the box.
    bad_roll, bad_code, _bpm, bad_title, info = ideas.typed.preview("C4 X9")
    assert (bad_roll, bad_code, bad_title) == (None, "", "") and "does not read" in info and "cannot read" in info
    tab, upload, song_code, _bpm, title, *loaded = ideas.typed.to_knobs(*ideas.typed.preview(TYPED_EXAMPLE)[1:4], None)
    assert upload is None and song_code == code and loaded[-1].n_bars == 4
    assert title == "Twinkle" and loaded[-2] == "Twinkle" and loaded[-1].label == "Twinkle", "named by its T: line"
    assert tab.selected == "knobs"
    with pytest.raises(gr.Error, match="Type a melody that reads first"):
        ideas.typed.to_knobs("", 120.0, "", None)


def _request(link: str):
    return type("R", (), {"query_params": dict(parse_qsl(urlsplit(link).query))})()


def test_sample_link_round_trip_with_the_model(ideas):
    link = ideas.sampling.link("http://x/", None, 4, 0.7, 9)
    assert "model=" not in link, "the default model goes unsaid"
    n, temperature, seed, model, tab, go = ideas.sampling.restore(_request(link))
    assert (n, temperature, seed, model, tab.selected, go) == (4, 0.7, 9, "regularised", "sampling", True)
    assert ideas.sampling.restore(_request("http://x/"))[-1] is False


def test_analogy_link_round_trip(ideas):
    link = ideas.analogy.link("http://x/", None, "twinkle", None, None, None, "test_1", None, None, "C4 D4 | E4*2",
                              0.5, "a_rhythm", True)
    a_example, a_code, b_menu, b_code, mix, direction, control, _model, tab, go = ideas.analogy.restore(_request(link))
    assert (a_example, a_code, mix, direction, control, go) == ("twinkle", "", 0.5, "a_rhythm", True, True)
    assert b_menu == "shared song" and tab.selected == "analogy", "the menu names the link's song, not an example"
    assert (link_code_to_tokens(b_code) == parse_melody("C4 D4 | E4*2").tokens).all()
    assert ideas.analogy.analogy(a_example, None, a_code, None, b_menu, None, b_code, None, mix, direction, control)
    assert ideas.analogy.restore(_request("http://x/?an_mix=x"))[-1] is False


def test_analogy_song_b_is_another_song_than_a():
    from ui import analogy_tab

    assert analogy_tab.B_DEFAULT != analogy_tab.DEFAULT


def test_a_typed_melody_as_a_midi_file_for_the_interpolate_tab(ideas, tiny_model_dir):
    path = Typed.as_midi("C4 D4 E4 F4 | G4*4 | A4 B4 C5*2")
    assert (load_melody(path).tokens[:48] == parse_melody("C4 D4 E4 F4 | G4*4 | A4 B4 C5*2").tokens[:48]).all()
    grids = Interpolate(app.Handlers(load_bundle(str(tiny_model_dir))))
    gallery, grid = grids.interpolate(source_file=path, source_clip=2, target_clip=1, grid_size=3)
    assert len(gallery) == 9 and grid.cells.shape == (3, 3, 32)


def test_variations_of_the_knobs_tabs_song(ideas):
    with pytest.raises(gr.Error, match="load a song in the Knobs tab first"):
        ideas.sampling.vary_loaded(None)
    loaded = ideas.h.load_song()[-1]  # twinkle
    gallery, *_, many = ideas.sampling.vary_loaded(loaded, None, True, 2, 1.0, 3)
    assert len(gallery) == 2 and many.bpm == loaded.bpm and all(len(v) == len(loaded.tokens) for v in many.songs)
