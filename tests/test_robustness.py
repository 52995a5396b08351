"""Bad input, limits and a failing Hub: a clear message, no traceback, and the app keeps serving.

Every bad file is made here, at test time (no stored binary fixtures). Each case is checked in the
library (``vae.melody.load_melody`` raises ValueError), then through a real server with
gradio_client (the message arrives as an AppError, word for word), and after every bad request a
good one must still succeed.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pretty_midi
import pytest
from gradio.utils import get_upload_folder
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from midi_files import chords_midi, melody_midi, tempo_change_midi, write_midi

import app
import vae.song
from ui import store
from vae import hub, knobs, pianoroll, song
from vae.bundle import Bundle, load_bundle
from vae.melody import (
    BPM_RANGE,
    CLIP_STEPS,
    MAX_BARS,
    Melody,
    MeterWarning,
    TempoWarning,
    check_tokens,
    load_melody,
    midi_to_tokens,
    notes_to_tokens,
    split_clips,
    tokens_to_link_code,
    tokens_to_notes,
)

PNG = b"\x89PNG\r\n\x1a\n"
MB = 2**20


# ----------------------------------------------------------------------------- bad files, made at test time


def _random_bytes(path: Path) -> None:
    path.write_bytes(np.random.default_rng(7).bytes(4096))


def _header_then_noise(path: Path) -> None:
    """A valid MIDI header and track header, then random bytes as the track's events."""
    noise = np.random.default_rng(8).bytes(512)
    path.write_bytes(b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk" + len(noise).to_bytes(4, "big") + noise)


def _truncated(path: Path) -> None:
    data = melody_midi(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _text(path: Path) -> None:
    path.write_text("Twinkle, twinkle, little star,\nHow I wonder what you are!\n" * 20, encoding="utf-8")


def _drums_only(path: Path) -> None:
    write_midi(path, [(0, True, [36, 38, 42, 38] * 4)])


def _no_notes(path: Path) -> None:
    write_midi(path, [(0, False, [])])


def _thousand_bars(path: Path) -> None:
    write_midi(path, [(0, False, [60 + i % 12 for i in range(1000)])], beats=4)  # one whole note per bar


BAD_FILES = [
    (_random_bytes, "could not read this file as MIDI: it is not a MIDI file"),
    (_header_then_noise, "could not read this file as MIDI"),
    (_truncated, "could not read this file as MIDI: it ends too early"),
    (_empty, "is empty (0 bytes); choose a Standard MIDI File (.mid)"),
    (_text, "could not read this file as MIDI: it is not a MIDI file"),
    (_drums_only, "this MIDI file has only drum tracks; a melody needs a pitched instrument"),
    (_no_notes, "this MIDI file has no notes"),
    (_thousand_bars, f"this melody is 1000 bars long; the limit is {MAX_BARS} bars"),
]
BAD_IDS = ["random-bytes", "header-then-noise", "truncated", "zero-length", "text-named-mid", "drums-only",
           "no-notes", "1000-bars"]


def _friendly(message: str, expected: str) -> None:
    assert expected in message, message
    assert "Traceback" not in message and 'File "' not in message and "\n" not in message, message
    assert not re.search(r"\b[A-Z]\w*(Error|Exception)\b|MThd|Error -\d", message), "no exception names: " + message


@pytest.mark.parametrize(("make", "message"), BAD_FILES, ids=BAD_IDS)
def test_bad_files_raise_a_clear_value_error(tmp_path, make, message):
    path = tmp_path / "song.mid"
    make(path)
    for source in (path, path.read_bytes(), str(path)):
        with pytest.raises(ValueError) as info:
            load_melody(source)
        _friendly(str(info.value), message)


def test_chords_only_give_their_top_notes(tmp_path):
    path = chords_midi(tmp_path / "chords.mid", [[60, 64, 67], [62, 65, 69], [64, 67, 72], [65, 69, 74]] * 2)
    melody = load_melody(path)
    assert tokens_to_notes(melody.tokens) == [(4 * i, 4 * i + 4, p) for i, p in enumerate([67, 69, 72, 74] * 2)]
    assert melody.warnings == []


@pytest.mark.parametrize("meter", [(3, 4), (6, 8)])
def test_triple_and_compound_meters_warn_but_work(tmp_path, meter):
    path = melody_midi(tmp_path / "waltz.mid", meter=meter)
    with pytest.warns(MeterWarning, match=f"{meter[0]}/{meter[1]}, not a duple meter"):
        tokens = midi_to_tokens(path)
    melody = load_melody(path)
    assert melody.meter == f"{meter[0]}/{meter[1]}" and len(melody.warnings) == 1
    assert isinstance(melody.warnings[0], MeterWarning) and not melody.duple
    assert len(tokens) % 16 == 0 and split_clips(tokens).shape[1] == CLIP_STEPS
    assert [p for _, _, p in tokens_to_notes(tokens)] == [60, 62, 64, 65, 67, 69, 71, 72, 72, 71, 69, 67, 65, 64,
                                                          62, 60]


def test_tempo_changes_keep_the_beat_grid_and_the_first_tempo(tmp_path):
    scale = [60, 62, 64, 65, 67, 69, 71, 72] * 2
    melody = load_melody(tempo_change_midi(tmp_path / "rubato.mid", scale, tempi=[120, 60, 90, 150]))
    assert tokens_to_notes(melody.tokens) == [(4 * i, 4 * i + 4, p) for i, p in enumerate(scale)]
    assert melody.bpm == 120 and melody.warnings == []


@pytest.mark.parametrize(("bpm", "played"), [(5.0, BPM_RANGE[0]), (1000.0, BPM_RANGE[1]), (60.0, 60.0)])
def test_a_tempo_outside_the_range_is_played_at_the_nearest_end_and_said(tmp_path, bpm, played):
    melody = load_melody(melody_midi(tmp_path / "slow.mid", bpm=bpm))
    assert melody.bpm == pytest.approx(played)
    assert (f"played at {played:g} bpm" in " ".join(melody.messages)) == (bpm != played)
    assert [type(w) for w in melody.warnings] == [TempoWarning] * (bpm != played) and melody.duple


def _whole_notes(path: Path, n: int, first_step: int = 0) -> Path:
    """``n`` whole notes, the first starting ``first_step`` sixteenths into the song."""
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    inst = pretty_midi.Instrument(program=0)
    step = 60.0 / 120 / 4
    inst.notes = [pretty_midi.Note(100, 60 + i % 12, (first_step + 16 * i) * step, (first_step + 16 * i + 16) * step)
                  for i in range(n)]
    pm.instruments.append(inst)
    pm.write(str(path))
    return path


def test_song_length_limit_counts_whole_bars(tmp_path):
    assert len(load_melody(_whole_notes(tmp_path / "max.mid", MAX_BARS)).tokens) == MAX_BARS * 16
    with pytest.raises(ValueError, match=f"{MAX_BARS + 1} bars long; the limit is {MAX_BARS} bars"):
        load_melody(_whole_notes(tmp_path / "over.mid", MAX_BARS + 1))
    # MAX_BARS bars of notes that start on beat 4 touch MAX_BARS + 1 bars once the pickup is padded
    with pytest.raises(ValueError, match=f"{MAX_BARS + 1} bars long"):
        load_melody(_whole_notes(tmp_path / "pickup.mid", MAX_BARS, first_step=12))


def test_upload_limit_refuses_a_50_mb_file_before_reading_it(tmp_path, monkeypatch):
    big = tmp_path / "big.mid"
    with big.open("wb") as f:
        f.truncate(50 * MB)  # sparse: the size is what is checked
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("a file over the limit must not be read"))
    with pytest.raises(ValueError, match="big.mid is 52.4 MB; the limit is 2 MB"):
        song.upload_bytes(big)


# ----------------------------------------------------------------------------- knobs at the edges of the MIDI range


@pytest.fixture(scope="module")
def tiny_bundle(tiny_model_dir) -> Bundle:
    return load_bundle(str(tiny_model_dir))


@pytest.mark.parametrize("pitch", [0, 120, 127])
@pytest.mark.parametrize("turned", [knobs.Knobs(pitch=12), knobs.Knobs(pitch=-12),
                                    knobs.Knobs(pitch=12, rhythm=3, residual=3)], ids=["up", "down", "all-max"])
def test_knobs_on_a_song_at_the_edge_of_the_midi_range_give_valid_tokens(tiny_bundle, tmp_path, monkeypatch,
                                                                         pitch, turned):
    """The knobs move z, never the tokens: whatever the decoder says is a token, and it renders and plays."""
    monkeypatch.setattr(store, "OUT_DIR", tmp_path)
    tokens = notes_to_tokens([(4 * i, 4 * i + 4, pitch) for i in range(16)], n_steps=64)
    s = song.prepare_song(tiny_bundle.model, Melody(tokens=tokens, bpm=120.0), f"at{pitch}")
    result = knobs.apply(tiny_bundle.model, tiny_bundle.space, s.tokens, turned, latents=s.latents)
    assert check_tokens(result).shape == tokens.shape
    assert pianoroll.piano_roll(result, compare=tokens).shape == (pianoroll.ROLL_HEIGHT, pianoroll.ROLL_WIDTH, 3)
    assert store.audio_file(result, s.bpm, "edge", lossless=True).read_bytes().startswith(b"RIFF")
    written = pretty_midi.PrettyMIDI(str(store.midi_file(result, s.bpm, "edge")))
    assert all(0 <= n.pitch <= 127 for track in written.instruments for n in track.notes)  # fitted: maybe none


# ----------------------------------------------------------------------------- limits in the library


def test_a_song_that_plays_too_long_is_refused_before_any_work(tiny_bundle, monkeypatch):
    monkeypatch.setattr(vae.song, "readings", lambda *a, **k: pytest.fail("refused songs are not encoded"))
    slow = Melody(tokens=np.full(MAX_BARS * 16, 60), bpm=BPM_RANGE[0])
    with pytest.raises(ValueError, match=f"plays for 205 minutes at 10 bpm; the limit is "
                                         f"{song.MAX_SONG_SECONDS // 60} minutes"):
        song.prepare_song(tiny_bundle.model, slow, "slow")


@pytest.mark.parametrize("bpm", [0.001, 5, 401, float("inf"), float("nan")])
def test_a_song_code_with_a_tempo_outside_the_range_is_refused(bpm):
    with pytest.raises(ValueError, match="tempo must be 10 to 400 bpm"):
        song.SongSource(code=tokens_to_link_code(np.full(32, 60)), bpm=bpm).read()


def test_concurrent_writers_of_one_output_never_expose_half_a_file(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "OUT_DIR", tmp_path)
    data = np.random.default_rng(0).bytes(8 * MB)
    barrier, seen = threading.Barrier(8), []

    def work() -> None:
        barrier.wait()
        seen.append(store.write_output(data, "same.wav").read_bytes() == data)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert seen == [True] * 8
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["same.wav"], "no partial files are left"


# ----------------------------------------------------------------------------- through the server


@pytest.fixture(scope="module")
def client(app_url):
    client = Client(app_url, verbose=False)
    yield client
    client.close()


def _good_request_succeeds(client: Client) -> None:
    # μ: fitted to a song, the untrained tiny model may play all holds, and load_melody wants notes
    roll, audio, midi = client.predict(example="twinkle", pitch=1, faithful=False, api_name="/modulate")
    assert Path(audio).read_bytes().startswith(b"\xff\xf3")
    assert Path(roll).read_bytes().startswith(PNG) and len(load_melody(midi).tokens) == 12 * 16


@pytest.mark.parametrize(("make", "message"), BAD_FILES, ids=BAD_IDS)
def test_bad_uploads_through_the_server_get_the_friendly_message(client, tmp_path, make, message):
    path = tmp_path / "song.mid"
    make(path)
    for api_name, moves in (("/modulate", {"pitch": 2}), ("/load_song", {})):
        with pytest.raises(AppError) as info:
            client.predict(midi_file=handle_file(str(path)), **moves, api_name=api_name)
        _friendly(str(info.value), message)
        _good_request_succeeds(client)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"pitch": 12.5}, "greater than maximum value 12"),  # gradio checks the slider's range
    ({"bar_from": 30}, "the bar range must satisfy 1 <= from <= to <= 12"),
    ({"track": 3}, "track 3 does not exist"),
    ({"dim_offsets": "1,2"}, "per-dimension offsets"),
    ({"song_code": "not a song!", "bpm": 120}, "the shared song in this link is damaged"),
    ({"song_code": tokens_to_link_code(np.full(32, 60)), "bpm": 0.5}, "the shared song's tempo must be 10 to 400 bpm, got 0.5"),
], ids=["pitch-over-range", "bar-past-the-end", "no-such-track", "offsets", "bad-song-code", "song-code-tempo"])
def test_bad_knobs_through_the_server_get_the_friendly_message(client, kwargs, message):
    with pytest.raises(AppError) as info:
        client.predict(**kwargs, api_name="/modulate")
    _friendly(str(info.value), message)
    _good_request_succeeds(client)


def test_a_text_file_with_another_extension_is_refused_by_type(client, tmp_path):
    path = tmp_path / "notes.txt"
    _text(path)
    with pytest.raises(AppError) as info:
        client.predict(midi_file=handle_file(str(path)), api_name="/modulate")
    _friendly(str(info.value), "Invalid file type")
    _good_request_succeeds(client)


@pytest.mark.parametrize("make", [lambda p: chords_midi(p, [[60, 64, 67], [62, 65, 71]] * 4),
                                  lambda p: melody_midi(p, meter=(3, 4)), lambda p: melody_midi(p, meter=(6, 8)),
                                  lambda p: tempo_change_midi(p, [60, 64, 67, 72] * 4, tempi=[120, 60, 90, 150])],
                         ids=["chords-only", "3/4", "6/8", "tempo-changes"])
def test_awkward_but_valid_songs_work_through_the_server(client, tmp_path, make):
    path = make(tmp_path / "odd.mid")
    expected = load_melody(path)
    _roll, _audio, facts = client.predict(midi_file=handle_file(str(path)), api_name="/load_song")
    assert (facts["bars"], facts["meter"], facts["bpm"]) == (len(expected.tokens) // 16, expected.meter, expected.bpm)
    assert facts["warnings"] == expected.messages
    assert all(f"{expected.meter}, not a duple meter" in w for w in facts["warnings"])
    _roll, audio, midi = client.predict(midi_file=handle_file(str(path)), pitch=3, rhythm=1, faithful=False,
                                        api_name="/modulate")  # μ: see _good_request_succeeds
    assert Path(audio).read_bytes().startswith(b"\xff\xf3") and load_melody(midi).tokens.size == expected.tokens.size
    _roll, audio, _midi = client.predict(midi_file=handle_file(str(path)), pitch=3, rhythm=1, api_name="/modulate")
    assert Path(audio).read_bytes().startswith(b"\xff\xf3")


def test_a_song_at_pitch_120_with_pitch_plus_12_stays_valid_through_the_server(client, tmp_path):
    path = write_midi(tmp_path / "high.mid", [(0, False, [120, 122, 124, 127] * 4)])
    roll, audio, midi = client.predict(midi_file=handle_file(str(path)), pitch=12, api_name="/modulate")
    assert Path(roll).read_bytes().startswith(PNG) and Path(audio).read_bytes().startswith(b"\xff\xf3")
    written = pretty_midi.PrettyMIDI(midi)
    assert all(0 <= n.pitch <= 127 for track in written.instruments for n in track.notes)  # fitted: maybe none
    _good_request_succeeds(client)


def test_a_50_mb_upload_is_refused_and_the_server_stays_up(client, app_url, tmp_path):
    big = tmp_path / "big.mid"
    big.write_bytes(b"MThd" + np.random.default_rng(1).bytes(50 * MB))
    start, wall_start = time.monotonic(), time.time()
    with big.open("rb") as f:
        response = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("big.mid", f, "audio/midi")},
                              timeout=60)
    assert response.status_code == 413, response.text
    assert f"maximum allowed size of {song.MAX_UPLOAD_BYTES} bytes" in response.text
    assert time.monotonic() - start < 30
    with pytest.raises(ValueError, match=f"exceeds the maximum file size of {song.MAX_UPLOAD_BYTES} bytes"):
        client.predict(midi_file=handle_file(str(big)), api_name="/modulate")  # gradio_client checks it first
    _good_request_succeeds(client)
    kept = [p for p in Path(get_upload_folder()).rglob("*")
            if p.is_file() and p.stat().st_mtime >= wall_start - 1 and p.stat().st_size > song.MAX_UPLOAD_BYTES]
    assert kept == [], "nothing of the refused upload is kept"


# ----------------------------------------------------------------------------- a failing Hub, as the app shows it


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.server
def test_an_unreachable_hub_falls_back_within_seconds_and_the_model_tab_says_why(tiny_model_dir, tmp_path,
                                                                                monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    for name in ("HF_HUB_CACHE", "HF_HUB_OFFLINE", hub.ENV_MODEL, hub.ENV_REVISION):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(hub, "BUNDLED_DIR", Path(tiny_model_dir))
    monkeypatch.setattr(store, "OUT_DIR", tmp_path / "out")

    start = time.monotonic()
    bundle = load_bundle("someone/unreachable-knobs")
    demo = app.build_demo(bundle)
    assert time.monotonic() - start < 10
    info = bundle.source_info
    assert (info.source, info.requested) == ("bundled", "someone/unreachable-knobs")
    assert "could not be reached" in info.fallback_reason
    texts = [b.value for b in demo.blocks.values() if type(b).__name__ == "Markdown" and isinstance(b.value, str)]
    model_tab = next(t for t in texts if t.startswith("### Where the weights came from"))
    assert "| fallback reason | the Hub at http://127.0.0.1:" in model_tab and "could not be reached" in model_tab
    assert "| source | bundled |" in model_tab and "| requested | someone/unreachable-knobs |" in model_tab
    assert any("someone/unreachable-knobs could not be loaded** (the Hub at" in t for t in texts), "banner"

    port = _closed_port()
    app.serve(demo, "127.0.0.1", port, prevent_thread_lock=True, quiet=True)
    try:
        page = httpx.get(f"http://127.0.0.1:{port}/config", timeout=10).json()
        served = [c["props"].get("value") for c in page["components"] if c.get("type") == "markdown"]
        assert any(isinstance(v, str) and "| fallback reason |" in v and "could not be reached" in v for v in served)
        fallback_client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        _good_request_succeeds(fallback_client)
        fallback_client.close()
    finally:
        demo.close()

