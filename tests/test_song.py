from dataclasses import replace

import numpy as np
import pytest
from midi_files import melody_midi

from ui import store
from ui.knobs_tab import song_summary
from vae import song
from vae.bundle import load_bundle
from vae.melody import HOLD, tokens_to_link_code


@pytest.fixture(scope="module")
def bundle(tiny_model_dir):
    return load_bundle(str(tiny_model_dir))


@pytest.fixture
def twinkle(bundle, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "OUT_DIR", tmp_path)
    source = song.SongSource(example="twinkle")
    melody, name = source.read()
    return song.prepare_song(bundle.model, melody, name, source)


def test_prepare_song_caches_latents_and_the_store_writes_the_original(twinkle, bundle, tmp_path, monkeypatch):
    assert twinkle.latents.shape == (6, bundle.model.config.latent_dim) and twinkle.n_bars == 12
    assert not list(tmp_path.rglob("*.*")), "the library writes no file: the page's store does"
    roll, audio = store.original_files(twinkle)
    assert roll.read_bytes()[:4] == b"\x89PNG" and audio.read_bytes()[:2] == b"\xff\xf3"
    drawn = []
    piano_roll = store.piano_roll
    monkeypatch.setattr(store, "piano_roll", lambda *a, **kw: drawn.append(1) or piano_roll(*a, **kw))
    assert store.original_files(twinkle) == (roll, audio), "written once per content"
    assert drawn == [], "a song loaded again is not drawn again"
    assert store.original_files(twinkle, lossless=True).audio.read_bytes()[:4] == b"RIFF", "a WAV when asked for"
    assert roll.name == "twinkle-original.png"
    key = song.SongSource(example="twinkle").key()
    assert twinkle.matches(key, None) and not twinkle.matches(key, 3)
    assert not twinkle.matches(key, None, song.Reading(faithful=False))
    assert not twinkle.matches(key, None, song.Reading(model_name="paper"))
    assert "**twinkle**: 12 bars of 4/4 (written in 2/4), 6 two-bar clips, 100 bpm" in song_summary(twinkle)
    facts = twinkle.facts()
    assert (facts["bars"], facts["clips"], facts["song_code"]) == (12, 6, tokens_to_link_code(twinkle.tokens))
    assert facts["key"] == "C major" and "Key: C major (estimated from its notes)." in song_summary(twinkle)


def test_load_takes_the_cached_song_when_it_is_the_same(twinkle, bundle):
    assert song.load(bundle.model, song.SongSource(example="twinkle"), cached=twinkle) is twinkle
    other = song.load(bundle.model, song.SongSource(example="test_2"), cached=twinkle)
    assert other.name == "test_2" and other.example == "test_2"
    shared = song.load(bundle.model, song.SongSource(code=tokens_to_link_code(twinkle.tokens), bpm=90))
    assert shared.name == "shared song" and shared.example is None and np.array_equal(shared.tokens, twinkle.tokens)


@pytest.mark.parametrize(("source", "example", "name"), [
    (song.SongSource(), "twinkle", "twinkle"),
    (song.SongSource(example="test_2", track=0), "test_2", "test_2"),
    (song.SongSource(example="test_2", code="CODE", bpm=90), None, "shared song"),
    (song.SongSource(example="test_2", code="CODE", text="C4 D4 E4 F4"), None, "typed melody"),
    (song.SongSource(example="test_2", code="CODE", text="  ", bpm=90), None, "shared song"),
], ids=["default", "example", "code-over-example", "text-over-code", "blank-text"])
def test_a_song_source_reads_the_first_of_upload_text_code_example(source, example, name):
    """One reader for every source: the page, the API, the typed-melody tabs and the CLI."""
    source = replace(source, code=tokens_to_link_code(np.full(32, 62))) if source.code else source
    melody, got = source.read()
    assert got == name and source.example_name == example and len(melody.tokens) % 16 == 0
    assert source.key() == replace(source, track=7).key(), "the track is not part of the key"


def test_a_song_source_upload_comes_first(tmp_path):
    path = melody_midi(tmp_path / "mine.mid")
    source = song.SongSource(example="test_2", upload=path, code="damaged", text="C4")
    melody, name = source.read()
    assert name == "mine" and len(melody.tokens) == 64 and source.example_name is None
    assert source.key().startswith("upload:")
    assert source.key() != song.SongSource(upload=melody_midi(tmp_path / "other.mid", bpm=90)).key()


def test_read_song_refuses_what_it_cannot_read(tmp_path):
    with pytest.raises(ValueError, match="no example called 'nope'"):
        song.SongSource(example="nope").read()
    with pytest.raises(ValueError, match="tempo must be 10 to 400 bpm"):
        song.SongSource(code=tokens_to_link_code(np.full(32, 60)), bpm=5).read()


def test_upload_limits(tmp_path):
    big = tmp_path / "big.mid"
    big.write_bytes(bytes(song.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(ValueError, match="the limit is 2 MB"):
        song.upload_bytes(big)
    (tmp_path / "empty.mid").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        song.upload_bytes(tmp_path / "empty.mid")


def test_clip_of_counts_from_one():
    clip = lambda pitch: np.array(([pitch] + [HOLD] * 3) * 8, dtype=np.int64)
    tokens = np.concatenate([clip(60), clip(62)])
    assert song.clip_of(tokens, 2)[0] == 62
    with pytest.raises(ValueError, match="has 2 two-bar clips; choose a clip from 1 to 2"):
        song.clip_of(tokens, 3, "it")


def test_examples_come_default_first():
    assert next(iter(song.example_songs())) == song.DEFAULT_EXAMPLE


def test_every_example_has_a_title_for_the_menus_and_keeps_its_name(tmp_path):
    examples = song.example_songs()
    choices = song.example_choices(examples)
    assert [name for _, name in choices] == list(examples), "the menus give the names the API and links use"
    titles = {name: title for title, name in choices}
    assert titles["test_4"] == "The Boatie Rows (Scottish strathspey)" and titles["twinkle"].startswith("Twinkle")
    assert all(title != name for title, name in choices), "no example is shown by its file name"
    (tmp_path / "mine.mid").write_bytes(b"")  # a folder without examples.json: the names
    assert song.example_choices(song.example_songs(tmp_path)) == [("mine", "mine")]


def test_folder_songs_keeps_long_duple_songs_and_draws_them_with_the_seed(tmp_path):
    from vae.melody import load_melody, tokens_to_midi

    long = np.tile(load_melody(melody_midi(tmp_path / "scale.mid")).tokens, 3)  # 12 bars of 4/4
    for i in range(6):
        tokens_to_midi((long + i * (long < 128)).astype(np.int64)).write(str(tmp_path / f"long{i}.mid"))
    melody_midi(tmp_path / "waltz.mid", meter=(3, 4))  # not duple: left out
    (tmp_path / "broken.mid").write_bytes(b"not midi")  # unreadable: left out
    picked = song.folder_songs(tmp_path, 4, min_bars=8, seed=3)
    assert len(picked) == 4 and all(len(s) == 12 * 16 for s in picked)  # scale.mid has 4 bars: too short
    assert [s.tolist() for s in song.folder_songs(tmp_path, 4, min_bars=8, seed=3)] == [s.tolist() for s in picked]
    assert len(song.folder_songs(tmp_path, 99, min_bars=8)) == 6
    assert len(song.folder_songs(tmp_path, 99, min_bars=4)) == 7
