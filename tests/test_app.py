"""The app's handlers as plain functions, on a tiny untrained model (never the shipped weights)."""

from __future__ import annotations

import re
import wave
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qsl, urlsplit

import gradio as gr
import numpy as np
import pretty_midi
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from midi_files import melody_midi, write_midi
from PIL import Image

import app
import vae.melody
import vae.song
from ui import inspect_tab, model_tab, store
from ui.inspect_tab import Inspect
from ui.interpolate_tab import Interpolate
from vae import knobs, measures, pianoroll, render
from vae.bundle import Bundle, load_bundle
from vae.inference import decode_z, encode_mu, encode_z
from vae.melody import join_clips, load_melody, split_clips
from vae.notation import parse_melody
from vae.song import Song, SongSource

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_bundle(tiny_model_dir) -> Bundle:
    return load_bundle(str(tiny_model_dir))


@pytest.fixture
def tiny_app(tiny_bundle, monkeypatch, tmp_path) -> app.Handlers:
    monkeypatch.setattr(store, "OUT_DIR", tmp_path / "out")
    return app.Handlers(tiny_bundle)


@pytest.fixture
def twinkle(tiny_app) -> Song:
    """Twinkle as the untrained tiny model reads it (μ): fitted, it plays all holds, which no knob test can use;
    faithful encoding is tested on the shipped model (test_api_unchanged) and in test_inference."""
    return tiny_app.load_song(faithful=False)[-1]


def midi_of(path) -> bytes:
    return Path(path).read_bytes()


def n_offsets(h: app.Handlers) -> int:
    return h.bundle.space.n_offsets


# ----------------------------------------------------------------------------- loading songs


def test_load_example_gives_roll_audio_summary_and_bar_range(tiny_app):
    roll, audio, info, track, bar_from, bar_to, box, song = tiny_app.load_song()
    assert (song.name, song.example, song.n_bars, song.n_clips, song.bpm) == ("twinkle", "twinkle", 12, 6, 100.0)
    assert midi_of(roll).startswith(PNG) and box == "twinkle"
    assert midi_of(audio).startswith(b"\xff\xf3") and Path(audio).stat().st_size < 150_000, "the page gets compressed audio"
    assert "**Twinkle, Twinkle (Mozart's theme)**" in info, "an example is called by its tune's title, not its file"
    assert "12 bars" in info and "2/4" in info and song.facts()["title"] == "Twinkle, Twinkle (Mozart's theme)"
    assert (bar_to.maximum, bar_to.value, bar_from.value) == (12, 12, 1)
    assert track.visible is False
    assert tiny_app.load_song(state=song)[-1] is song, "the same song must come from the cache, not be re-encoded"


def test_every_example_loads(tiny_app):
    assert next(iter(app.EXAMPLES)) == "twinkle"
    for name in app.EXAMPLES:
        assert tiny_app.load_song(SongSource(example=name))[-1].n_clips >= 1


def test_upload_with_several_tracks_offers_a_track_picker(tiny_app, tmp_path):
    path = write_midi(tmp_path / "band.mid", [(0, False, [60, 62] * 4), (40, False, [72, 74, 76, 77] * 4),
                                              (0, True, [36] * 16)])
    _, _, info, track, _, _, box, song = tiny_app.load_song(SongSource(upload=str(path)))
    assert track.visible and [index for _, index in track.choices] == [0, 1]
    assert song.track == 1 and song.name == "band" and song.example is None
    assert box == "band", "the song box names the uploaded song"
    assert "Melody: track 2" in info and "highest voice" in info, "the app says which track it chose and why"
    other = tiny_app.load_song(SongSource(upload=str(path), track=0), state=song)[-1]
    assert other.track == 0 and not np.array_equal(other.tokens[:16], song.tokens[:16])


def test_a_knob_move_only_decodes(tiny_app, twinkle, monkeypatch):
    def no_reload(*args, **kwargs):
        raise AssertionError("a knob move must use the cached latents")

    monkeypatch.setattr(vae.song, "prepare_song", no_reload)
    tiny_app.modulate(pitch=3, state=twinkle, faithful=False)


# ----------------------------------------------------------------------------- knobs


def test_pitch_knob_changes_the_song_and_zero_gives_the_reconstruction(tiny_app, twinkle):
    recon = join_clips(decode_z(tiny_app.bundle.model, twinkle.latents))[: len(twinkle.tokens)]
    roll0, audio0, midi0, _ = tiny_app.modulate(state=twinkle, faithful=False)
    assert midi_of(midi0) == render.midi_bytes(recon, twinkle.bpm)
    roll5, audio5, midi5, _ = tiny_app.modulate(pitch=5, state=twinkle, faithful=False)
    assert imread(roll5).shape[:2] == (pianoroll.ROLL_HEIGHT, pianoroll.ROLL_WIDTH) and midi_of(roll5).startswith(PNG)
    assert midi_of(midi5) != midi_of(midi0) and "pitch+5" in Path(midi5).name
    assert midi_of(roll5) != midi_of(roll0)
    assert midi_of(audio5).startswith(b"\xff\xf3"), "the API's audio is the page's compressed audio by default"
    assert midi_of(audio5) != midi_of(audio0) and all(Path(f).stem == Path(midi5).stem for f in (roll5, audio5))
    _, lossless, *_ = tiny_app.modulate(pitch=5, state=twinkle, faithful=False, audio_format="wav")
    with wave.open(lossless) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (render.SAMPLE_RATE, 2, 1)
    assert Path(lossless).stem == Path(audio5).stem
    with pytest.raises(gr.Error, match="audio_format must be 'mp3' or 'wav'"):
        tiny_app.modulate(pitch=5, state=twinkle, faithful=False, audio_format="flac")


def test_a_knob_move_synthesises_once_and_writes_a_wav_only_when_asked(tiny_app, twinkle, monkeypatch):
    calls = []
    synthesize = render.synthesize
    monkeypatch.setattr(store, "synthesize", lambda *a, **kw: calls.append(1) or synthesize(*a, **kw))
    knobs = (3.5, 0.5, 0, False, 1, 12, *[0.0] * n_offsets(tiny_app))
    song_in = ("twinkle", None, None, "", None, "")  # example, upload, track, code, bpm, title
    first, then = tiny_app.modulate_sliders(twinkle, None, False, "http://host/", *song_in, *knobs)
    roll, skipped, midi, wav, did, _, link, abc = first  # the roll first, the audio once it is encoded
    assert midi_of(roll).startswith(PNG)
    assert isinstance(skipped, dict) and all(isinstance(x, dict) for x in then[:1] + then[2:]), "gr.skip(): unchanged"
    audio = then[1]
    assert len(calls) == 1, "one synthesis per move"
    assert wav is None and not list(store.OUT_DIR.rglob("*.wav")), "no WAV until one is asked for"
    assert midi_of(audio).startswith(b"\xff\xf3") and "pitch=3.5" in link and "What the knobs did" in did
    assert f"\nT:{twinkle.label}: pitch +3.5, rhythm +0.5" in abc and "\nK:" in abc, "the result as ABC, titled"
    assert len(parse_melody(abc).tokens) == len(twinkle.tokens)
    made = tiny_app.result_wav(twinkle, None, False, *song_in, *knobs)
    assert midi_of(made).startswith(b"RIFF") and Path(made).stem == Path(audio).stem == Path(midi).stem
    assert [p.name for p in store.OUT_DIR.rglob("*.wav")] == [Path(made).name]


def test_random_control_moves_other_dims(tiny_app, twinkle):
    *_, moved, _ = tiny_app.modulate(pitch=5, state=twinkle, faithful=False)
    *_, control, _ = tiny_app.modulate(pitch=5, control=True, state=twinkle, faithful=False)
    assert midi_of(control) != midi_of(moved) and "control" in Path(control).name


def test_bar_range_changes_only_the_clips_that_hold_those_bars(tiny_app, twinkle):
    *_, path, _ = tiny_app.modulate(pitch=12, bar_from=3, bar_to=4, state=twinkle, faithful=False)
    result = split_clips(load_melody(path).tokens)
    original = split_clips(twinkle.tokens)
    assert result.shape == original.shape
    assert np.array_equal(np.delete(result, 1, axis=0), np.delete(original, 1, axis=0))
    assert not np.array_equal(result[1], original[1])


def test_a_new_song_says_once_which_knobs_stay_and_nothing_at_rest(tiny_app, twinkle, tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(gr, "Info", lambda message, **kw: said.append(message))
    offsets = [0.0] * n_offsets(tiny_app)
    tiny_app.pick_example("test_1", twinkle, None, True, 0, 0, 0, False, *offsets)
    assert said == [], "at rest: no notice"
    *_, song = tiny_app.pick_example("test_2", twinkle, None, True, 5, 0, 0, False, *offsets)
    assert song.example == "test_2" and said[0].startswith(
        "The knobs stay where they were: pitch +5. Set them to 0") and len(said) == 1
    tiny_app.pick_upload(str(melody_midi(tmp_path / "scale.mid")), song, None, True, 0, 1, 0, False, 1.0, *offsets[1:])
    tiny_app.pick_example("twinkle", song, None, True, 0, 0, -1, False, *offsets)
    assert said[1:] == [f"The knobs stay where they were: {w}. Set them to 0 to hear the new song as it is."
                        for w in ("rhythm +1, 1 dim slider", "residual -1")]
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"not midi")
    monkeypatch.setattr(gr, "Warning", lambda message, **kw: None)
    tiny_app.pick_upload(str(bad), song, None, True, 5, 0, 0, False, *offsets)
    assert len(said) == 3, "a refused file changes no song: no word about the knobs"


def test_the_result_roll_shades_the_bars_outside_the_chosen_range(tiny_app, twinkle):
    roll, *_ = tiny_app.modulate(bar_from=3, bar_to=4, state=twinkle, faithful=False)
    image = np.asarray(Image.open(roll).convert("RGB"))
    x = {bar: 38 + ((bar - 1) * 16 * (pianoroll.ROLL_WIDTH - 44)) // len(twinkle.tokens) + 3 for bar in (1, 3, 4, 12)}
    white = {bar: (image[30:-30, x[bar]] == 255).all(axis=1).sum() for bar in x}  # unshaded background rows
    assert white[1] == white[12] == 0 and white[3] > 50 and white[4] > 50, white


def test_per_dimension_sliders_move_the_latent(tiny_app, twinkle):
    *_, zero, _ = tiny_app.modulate(state=twinkle, faithful=False)
    *_, moved, _ = tiny_app.modulate(dim_offsets=",".join(["4"] * n_offsets(tiny_app)), state=twinkle, faithful=False)
    (_, _, from_sliders, _, did, *_), _ = tiny_app.modulate_sliders(twinkle, None, False, "", "twinkle", None, None, "",
                                                                    None, "", 0, 0, 0, False, 1, 12, *[4.0] * n_offsets(tiny_app))
    assert midi_of(moved) != midi_of(zero) and midi_of(moved) == midi_of(from_sliders)
    assert "What the knobs did" in did and "semitones" in did and "notes" in did
    with pytest.raises(gr.Error, match=f"expected {n_offsets(tiny_app)} per-dimension offsets"):
        tiny_app.modulate(dim_offsets="1,2", state=twinkle, faithful=False)
    with pytest.raises(gr.Error, match="numbers separated by commas"):
        tiny_app.modulate(dim_offsets="1;2", state=twinkle, faithful=False)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"pitch": 13}, "pitch must be between -12 and \\+12 semitones"),
    ({"rhythm": -3}, "rhythm must be between"),
    ({"residual": 9}, "residual must be between"),
    ({"bar_from": 8, "bar_to": 4}, "bar range must satisfy"),
    ({"example": "nope"}, "no example called 'nope'"),
])
def test_out_of_range_knobs_are_refused_clearly(tiny_app, kwargs, message):
    with pytest.raises(gr.Error, match=message):
        tiny_app.modulate(**kwargs)


# ----------------------------------------------------------------------------- bad input


def _long_song(path: Path) -> Path:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(program=0)
    inst.notes = [pretty_midi.Note(velocity=100, pitch=60, start=0.0, end=0.5),
                  pretty_midi.Note(velocity=100, pitch=62, start=999 * 2.0, end=1000 * 2.0)]  # all of bar 1000
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_bytes(b"hello, I am not a MIDI file") and p, "could not read this file as MIDI"),
    (lambda p: p.write_bytes(b"") and p, "is empty"),
    (lambda p: write_midi(p, [(0, True, [36, 38] * 8)]), "only drum tracks"),
    (lambda p: p.write_bytes(b"MThd" + bytes(3 * 2**20)) and p, "the limit is 2 MB"),
    (_long_song, "1000 bars long; the limit is 512 bars"),
])
def test_bad_uploads_get_a_clear_message_and_the_app_keeps_serving(tiny_app, tmp_path, make, message):
    path = tmp_path / "song.mid"
    make(path)
    with pytest.raises(gr.Error, match=message):
        tiny_app.load_song(SongSource(upload=str(path)))
    with pytest.raises(gr.Error, match=message):
        tiny_app.modulate(midi_file=str(path), pitch=1)
    assert tiny_app.load_song()[-1].name == "twinkle"


@pytest.mark.parametrize("data", [b"hello, I am a text file named .mid", b""])
def test_a_refused_upload_leaves_the_box_and_the_song_before_stays(tiny_app, tmp_path, data):
    good = tiny_app.pick_upload(str(melody_midi(tmp_path / "scale.mid")), None)
    song = good[-1]
    assert good[0] is None and good[1] == song.upload and song.name == "scale", "the box is emptied for the next file"
    assert good[-2] == "scale", "the song box names the upload"
    bad = tmp_path / "bad.mid"
    bad.write_bytes(data)
    with pytest.warns(UserWarning) as notices:
        box, *rest = tiny_app.pick_upload(str(bad), song)
    assert box is None, "the refused file leaves the box"
    assert all(r is gr.skip() or r == gr.skip() for r in rest), "nothing else changes: no error badges, same song"
    message = str(notices[0].message)
    assert message[0].isupper() and message.endswith("scale stays loaded."), "it names the song that stays"
    assert not re.search(r"[A-Z][a-z]+Error|MThd|Traceback", message), message
    assert tiny_app.pick_upload(str(bad), None)[0] is None, "with no upload before, the box is emptied"
    *_, moved, _ = tiny_app.modulate(midi_file=song.upload, pitch=2, state=song)
    assert "scale_pitch+2" in Path(moved).name, "every knob keeps working on the song before"


def test_user_errors_are_logged_as_one_line(tiny_app, caplog):
    caplog.set_level("INFO", logger="melody_knobs")
    with pytest.raises(gr.Error) as err:
        tiny_app.modulate(pitch=13)
    assert not err.value.print_exception, "gradio must not print a traceback for a user's mistake"
    [record] = [r for r in caplog.records if r.name == "melody_knobs"]
    assert "pitch must be between" in record.getMessage() and record.exc_info is None
    assert "\n" not in record.getMessage()


def test_a_chorale_plays_its_soprano_and_says_why(tiny_app, tmp_path):
    from midi_files import chorale_midi

    _, _, info, track, *_, box, song = tiny_app.load_song(SongSource(upload=str(chorale_midi(tmp_path / "bwv.mid"))))
    assert song.track == 0 and track.value == 0 and box == "bwv"
    assert "Melody: track 1, Soprano" in info and "highest voice" in info


def test_three_four_warns_visibly_and_still_works(tiny_app, tmp_path):
    path = melody_midi(tmp_path / "waltz.mid", meter=(3, 4))
    with pytest.warns(UserWarning, match="3/4"):
        _, _, info, *_, song = tiny_app.load_song(SongSource(upload=str(path)))
    assert "⚠️" in info and "3/4" in info
    roll, *_ = tiny_app.modulate(midi_file=str(path), pitch=2, state=song)
    assert midi_of(roll).startswith(PNG)


# ----------------------------------------------------------------------------- share links


def _restore(h: app.Handlers, url: str):
    request = SimpleNamespace(query_params=dict(parse_qsl(urlsplit(url).query)),
                              headers={"referer": "http://host:7860/?old=1"})
    return h.restore(request)


def test_share_link_round_trip_for_an_upload(tiny_app, tmp_path):
    song = tiny_app.load_song(SongSource(upload=str(melody_midi(tmp_path / "scale.mid", bpm=90))))[-1]
    offsets = [0.5] + [0.0] * (n_offsets(tiny_app) - 1)
    url = tiny_app.share_link(song, "http://host:7860/", None, 3, 1, -0.5, True, 2, 3, *offsets)
    assert url.startswith("http://host:7860/?song=") and "example=" not in url and "title=scale" in url
    example, upload, track, code, bpm, title, model, faithful, *knobs_and_more = _restore(tiny_app, url)
    pitch, rhythm, residual, control, bar_from, bar_to, *rest = knobs_and_more
    assert (faithful, pitch, rhythm, residual, control, bar_from, bar_to) == (True, 3, 1, -0.5, True, 2, 3)
    assert list(rest[:-1]) == offsets and rest[-1] == "http://host:7860/" and model == "regularised"
    *_, restored_from, restored_to, box, restored = tiny_app.load_page_song(None, model, True, bar_from, bar_to,
                                                                           example, upload, track, code, bpm, title)
    assert np.array_equal(restored.tokens, song.tokens) and restored.bpm == 90
    assert box == "scale" and restored.label == "scale", "an upload comes back under its own name"
    assert (restored_from.value, restored_to.value) == (2, 3)


def test_share_link_names_an_example_and_a_bad_link_falls_back(tiny_app, twinkle):
    url = tiny_app.share_link(twinkle, "http://host/", None, 0, 0, 0, False, 1, 12, *[0.0] * n_offsets(tiny_app))
    assert url == "http://host/?example=twinkle&faithful=0", "the model's own reading travels in the link"
    assert _restore(tiny_app, url)[7] is False and _restore(tiny_app, "http://host/?example=twinkle")[7] is True
    assert _restore(tiny_app, url)[:4] == ("twinkle", None, None, "")
    with pytest.warns(UserWarning, match="could not be read") as notices:
        restored = _restore(tiny_app, "http://host/?pitch=loud&rhythm=1&residual=x&bars=3")
    assert restored[0] == "twinkle" and restored[8:11] == (0, 1, 0), "what reads is kept: rhythm +1"
    text = str(notices[0].message)
    assert "pitch='loud'" in text and "residual='x'" in text and "bars='3'" in text, "every fault is named"
    assert _restore(tiny_app, "http://host/?example=twinkle&pitch=99")[8] == 12, "a link's knob is clamped to its range"
    with pytest.raises(gr.Error, match="damaged"):
        tiny_app.load_song(SongSource(code="!!!not-a-song", bpm=120))


def test_a_damaged_shared_song_falls_back_to_the_default_song_with_one_notice(tiny_app, twinkle):
    url = tiny_app.share_link(twinkle, "http://host/", None, 0, 0, 0, False, 1, 12, *[0.0] * n_offsets(tiny_app))
    good = _restore(tiny_app, url.replace("example=twinkle", f"song={vae.melody.tokens_to_link_code(twinkle.tokens)}&bpm=90"))
    assert good[3] and good[4] == 90
    with pytest.warns(UserWarning) as notices:  # a link cut short: the song is lost, its knobs are not
        example, upload, track, code, bpm, title, model, faithful, pitch, rhythm, *_ = _restore(
            tiny_app, f"http://host/?pitch=99&rhythm=1&song={good[3][:-12]}xyz&bpm=90")
    assert (example, code) == ("twinkle", "") and (pitch, rhythm) == (12, 1) and len(notices) == 1
    text = str(notices[0].message)
    assert "showing the default song" in text and "cut short" in text and "outside their ranges" in text
    assert not re.search(r"Error -3|zlib|[A-Z][a-z]+Error", text), text
    *_, box, song = tiny_app.load_page_song(None, model, faithful, 1, 12, example, upload, track, code, bpm, title)
    assert song.name == "twinkle" and box == "twinkle"


def test_the_model_travels_in_the_link_and_a_missing_one_is_said(tiny_bundle, twinkle, monkeypatch, tmp_path):
    monkeypatch.setattr(store, "OUT_DIR", tmp_path / "out")
    h = app.Handlers({"regularised": tiny_bundle, "paper": tiny_bundle})
    url = h.share_link(twinkle, "http://host/", "paper", 2, 0, 0, False, 1, 12, *[0.0] * h.n_sliders)
    assert "model=paper" in url and "model=" not in h.share_link(twinkle, "", "regularised", 2, 0, 0, False, 1, 12,
                                                                 *[0.0] * h.n_sliders)
    assert _restore(h, url)[6] == "paper"
    with pytest.warns(UserWarning, match="names a model that is not here"):
        assert _restore(h, "http://host/?model=bigger")[6] == "regularised"


# ----------------------------------------------------------------------------- interpolation and inspection


def test_grid_corners_decode_the_source_and_target_clips(tiny_app):
    grids = Interpolate(tiny_app)
    items, grid_state = grids.interpolate("twinkle", None, 1, "twinkle", None, 3, 5)
    grid = grid_state.cells
    assert grid.shape == (5, 5, 32) and len(items) == 25
    model = tiny_app.bundle.model
    clips = split_clips(load_melody(app.EXAMPLES["twinkle"]).tokens)[[0, 2]]
    corners = decode_z(model, encode_z(model, clips))  # fitted to the clips (faithful, the default)
    assert np.array_equal(grid[0, 0], corners[0]) and np.array_equal(grid[4, 4], corners[1])
    _, own = grids.interpolate("twinkle", None, 1, "twinkle", None, 3, 5, faithful=False)
    assert np.array_equal(own.cells[0, 0], decode_z(model, encode_mu(model, clips))[0])
    assert items[1][1] == "pitch t=0.00 · rhythm t=0.25" and items[5][1] == "pitch t=0.25 · rhythm t=0.00"
    assert imread(items[0][0]).shape[:2] == pianoroll.THUMB_SIZE[::-1] and Path(items[7][0]).name == "cell_1_2.png"

    audio, midi, caption = grids.play_cell(grid_state, gr.SelectData(None, {"index": 7, "value": None}))
    assert "pitch t=0.25 · rhythm t=0.50" in caption and midi_of(midi) == render.midi_bytes(grid[1, 2], 100.0)
    audio, midi, _ = grids.play_diagonal(own)  # μ: the untrained tiny model's fitted cells may be all holds
    assert load_melody(midi).tokens.size >= 4 * 32 and midi_of(audio).startswith(b"\xff\xf3")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"grid_size": 8}, "from 3 to 7"),
    ({"grid_size": 2}, "from 3 to 7"),
    ({"target_clip": 99}, "choose a clip from 1 to 6"),
])
def test_bad_grid_requests_are_refused_clearly(tiny_app, kwargs, message):
    grids = Interpolate(tiny_app)
    with pytest.raises(gr.Error, match=message):
        grids.interpolate(**kwargs)
    audio, midi, message = grids.play_diagonal(None)  # a sentence, not an error: the page stays whole
    assert audio is None and midi is None and message.startswith("Make a grid first")


def test_inspect_reruns_the_analysis_on_the_song(tiny_app, twinkle):
    calls = []
    rows, figure, song = Inspect(tiny_app).inspect_song(state=twinkle, faithful=False,
                                               progress=lambda f, desc=None: calls.append(f))
    table = dict(rows)
    assert len(table["pitch dims"].split(", ")) == 2 and len(table["rhythm dims"].split(", ")) == 5
    assert isinstance(figure, Figure) and song is twinkle
    assert calls and calls[-1] == pytest.approx(1.0)


def test_model_tab_says_where_the_weights_came_from(tiny_app, tiny_model_dir):
    b = tiny_app.bundle
    text = model_tab.source_markdown(b)
    assert "local" in text and str(tiny_model_dir) in text and "dims.json" in text
    assert b.card.startswith("# Tiny test model")
    banner = app._banner(b)
    assert "Melody Knobs" in banner and ("sine" in banner) == (render.fluidsynth_unavailable_reason() is not None)


def test_missing_dims_json_is_computed_from_the_examples_and_said(tiny_app, tmp_path, monkeypatch):
    from tiny_model import make_tiny_model_folder

    folder = make_tiny_model_folder(tmp_path / "no_dims", with_dims=False)
    b = load_bundle(str(folder))
    assert "was not found" in b.dims_note and len(b.space.pitch_dims) == 2
    assert "was not found" in app._banner(b)


def test_build_demo_shows_the_figures_report_and_card(tiny_app, tiny_model_dir, tmp_path, monkeypatch):
    import json
    import shutil

    folder = Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))
    (folder / "report.json").write_text(json.dumps({"twinkle": {"token_accuracy": 0.99, "n_clips": 6}}))
    figures = tmp_path / "figures"
    figures.mkdir()
    pianoroll.save_png(pianoroll.piano_roll_thumbnail(np.full(32, 60)), figures / "fig3_pitch_dims.png")
    monkeypatch.setattr(inspect_tab, "FIGURES_DIR", figures)
    demo = app.build_demo(load_bundle(str(folder)))
    note, *shown, _dims, report, _plot = Inspect(app.Handlers(load_bundle(str(folder)))).model_changed(None)
    assert "regularised" in note and report.value["data"] == [["twinkle.token_accuracy", "0.99"], ["twinkle.n_clips", "6"]]
    assert [f.visible for f in shown].count(True) == 1 and "fig3_pitch_dims" in str(shown[1].value)
    blocks = {getattr(b, "label", None): b for b in demo.blocks.values()}
    assert blocks["Fig. 3: the dims a transposition moves (the pitch dims)"] is not None, "each figure has a title"
    apis = {d.api_name for d in demo.fns.values() if d.api_visibility == "public"}
    assert apis == {"modulate", "interpolate", "load_song", "inspect", "analogy", "sample", "variations"}
    assert all(d.api_name for d in demo.fns.values()), "every event has an explicit api_name"


def test_the_model_parameter_picks_a_bundle_and_the_song_is_encoded_by_it(tiny_bundle, monkeypatch, tmp_path):
    monkeypatch.setattr(store, "OUT_DIR", tmp_path / "out")
    h = app.Handlers({"regularised": tiny_bundle, "paper": tiny_bundle})
    *_, default_state = h.modulate(example="twinkle", pitch=2)
    *_, paper_state = h.modulate(example="twinkle", pitch=2, state=default_state, model="paper")
    assert default_state.model_name == "" and paper_state.model_name == "paper"
    assert paper_state is not default_state  # encoded again, by the model asked for
    with pytest.raises(gr.Error, match="no model called 'bigger'; choose one of regularised, paper"):
        h.modulate(example="twinkle", model="bigger")


def test_what_the_knobs_did_is_measured_on_the_bars_that_moved(tiny_app, twinkle):
    offsets = [0.0] * n_offsets(tiny_app)
    (*_, did, _, _, _), _ = tiny_app.modulate_sliders(twinkle, None, False, "", "twinkle", None, None, "", None, "",
                                                    7.5, 0, 0, False, 3, 8, *offsets)
    turned = knobs.Knobs.from_controls(knobs.Controls(7.5, 0, 0, False, 3, 8, offsets), twinkle.n_bars)
    result = knobs.apply(tiny_app.bundle.model, tiny_app.bundle.space, twinkle.tokens, turned, latents=twinkle.latents)
    moved = slice(2 * 16, 8 * 16)  # bars 3 to 8, 16 steps a bar
    assert did.endswith(f"in bars 3–8 (against the song at rest): "
                        f"{measures.what_it_did(twinkle.unmoved[moved], result[moved])}")
    (*_, whole, _, _, _), _ = tiny_app.modulate_sliders(twinkle, None, False, "", "twinkle", None, None, "", None, "",
                                                      7.5, 0, 0, False, 1, 12, *offsets)
    everywhere = knobs.apply(tiny_app.bundle.model, tiny_app.bundle.space, twinkle.tokens,
                             knobs.Knobs.from_controls(knobs.Controls(7.5, 0, 0, False, 1, 12, offsets), twinkle.n_bars),
                             latents=twinkle.latents)
    assert whole == f"**What the knobs did** (against the song at rest): {measures.what_it_did(twinkle.unmoved, everywhere)}"


def test_the_roll_title_names_the_advanced_offsets(tiny_app, twinkle, monkeypatch):
    titles, roll_png = [], store.roll_png
    monkeypatch.setattr(store, "roll_png", lambda *a, **kw: titles.append(kw["title"]) or roll_png(*a, **kw))
    offsets = [0.0] * n_offsets(tiny_app)
    offsets[-1] = 2.5
    list(tiny_app.modulate_sliders(twinkle, None, False, "", "twinkle", None, None, "", None, "", 3, 0, 0, False, 1, 12,
                                   *offsets))
    last_dim = tiny_app.bundle.space.offset_names[-1]
    assert titles == [f"{twinkle.label}: pitch +3, rhythm +0, residual +0, {last_dim} +2.5"], "the moved sliders are named"
