"""vae.render: audio, MIDI bytes and the output files."""

from __future__ import annotations

import io
import itertools
import os
import sys
import threading
import time
import wave

import numpy as np
import pretty_midi
import pytest
from test_pianoroll import random_song

from ui import store
from vae import render
from vae import synth as synthesis
from vae.melody import HOLD, REST, midi_to_tokens, tokens_to_notes

SR = 16000  # Hz: small, keeps the audio tests fast


def _dominant_hz(audio: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.fft.rfftfreq(len(audio), 1 / sample_rate)[spectrum.argmax()])


@pytest.fixture
def song(rng) -> np.ndarray:
    return random_song(rng, n_bars=8)


# ----------------------------------------------------------------------------- audio


def _expected_samples(n_steps: int, bpm: float, sample_rate: int) -> int:
    return round((n_steps * 60 / bpm / 4 + synthesis.TAIL_SECONDS) * sample_rate)


needs_fluidsynth = pytest.mark.skipif(render.fluidsynth_unavailable_reason() is not None,
                                      reason=f"{render.fluidsynth_unavailable_reason()}")


@pytest.fixture
def no_fluidsynth(monkeypatch):
    """Pretend libfluidsynth cannot be loaded."""
    monkeypatch.setattr(synthesis._Fluid, "checked", True)
    monkeypatch.setattr(synthesis._Fluid, "reason", "FluidSynth cannot be used (ImportError: pretend)")


@pytest.mark.parametrize("synth", [pytest.param("fluidsynth", marks=needs_fluidsynth), "sine"])
@pytest.mark.parametrize("bpm", [80.0, 120.0, 175.0])
def test_audio_has_the_song_length_and_sound(song, synth, bpm):
    audio, used = render.synthesize(song, bpm=bpm, sample_rate=SR, synth=synth)
    assert used == synth
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == _expected_samples(len(song), bpm, SR)
    assert np.abs(audio).max() == pytest.approx(synthesis.PEAK, abs=1e-6)
    assert np.sqrt(np.mean(audio ** 2)) > 0.02


@pytest.mark.parametrize("synth", [pytest.param("fluidsynth", marks=needs_fluidsynth), "sine"])
def test_audio_is_loud_where_notes_are(synth):
    song = np.array(([67, HOLD, HOLD, HOLD] * 8) + [REST] * 32)  # 2 bars of notes, 2 bars of rest
    audio, _ = render.synthesize(song, sample_rate=SR, synth=synth)
    half = _expected_samples(32, 120.0, SR) - round(synthesis.TAIL_SECONDS * SR)
    first, last = audio[:half], audio[half + SR // 2:]  # skip the release of the last note
    assert np.sqrt(np.mean(first ** 2)) > 20 * np.sqrt(np.mean(last ** 2))


@needs_fluidsynth
def test_fluidsynth_repeats_and_is_thread_safe(song):
    # FluidSynth dithers its 16-bit output, so renders agree to about one least significant bit.
    first, _ = render.synthesize(song, sample_rate=SR)
    again, _ = render.synthesize(song, sample_rate=SR)
    assert np.allclose(first, again, atol=2e-3)  # nothing carried over from the previous render
    results = [None] * 4

    def work(i: int) -> None:
        results[i] = render.synthesize(song, sample_rate=SR)[0]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(np.allclose(first, r, atol=2e-3) for r in results)


def _envelope(audio: np.ndarray, window: int) -> np.ndarray:
    return np.sqrt(np.add.reduceat(audio ** 2, np.arange(0, len(audio), window)) / window)


@pytest.mark.parametrize("synth", [pytest.param("fluidsynth", marks=needs_fluidsynth), "sine"])
def test_song_played_clip_by_clip_sounds_like_the_song_in_one_go(song, synth, monkeypatch):
    audio, _ = render.synthesize(song, sample_rate=SR, synth=synth)
    monkeypatch.setattr(synthesis, "_pieces", lambda s: [(0, len(s))])  # the whole song as one piece
    synthesis._Pieces.clear()
    whole, _ = render.synthesize(song, sample_rate=SR, synth=synth)
    # FluidSynth starts notes on 64-sample blocks, so the waveforms differ by a few ms of phase; the sound doesn't.
    assert np.allclose(_envelope(audio, SR // 20), _envelope(whole, SR // 20), atol=0.01)


def test_pieces_are_clips_joined_where_a_note_is_held_over_the_cut():
    song = np.array([60] + [HOLD] * 31 + [62] + [HOLD] * 31 + [HOLD] * 32 + [64] + [HOLD] * 15)
    assert synthesis._pieces(song) == [(0, 32), (32, 96), (96, 112)]


def test_repeated_and_unchanged_clips_are_synthesised_once(song, monkeypatch):
    calls = []
    play = synthesis._render_sine
    monkeypatch.setattr(synthesis, "_render_sine", lambda *a: calls.append(a[0]) or play(*a))
    synthesis._Pieces.clear()
    clip = song[:32]
    render.synthesize(np.tile(clip, 4), sample_rate=SR, synth="sine")
    assert len(calls) == 1
    render.synthesize(np.concatenate([clip, song[32:64]]), sample_rate=SR, synth="sine")
    assert len(calls) == 2, "a song that shares a clip with the last one synthesises only its new clip"


def test_piece_cache_stays_within_its_budget(song, monkeypatch):
    monkeypatch.setattr(synthesis, "PIECE_CACHE_BYTES", 3 * 4 * _expected_samples(32, 120.0, SR))
    synthesis._Pieces.clear()
    render.synthesize(song, sample_rate=SR, synth="sine")  # 4 distinct 2-bar clips
    assert len(synthesis._Pieces.items) == 3 and synthesis._Pieces.size <= synthesis.PIECE_CACHE_BYTES
    synthesis._Pieces.clear()


def test_sine_plays_the_right_pitch():
    audio, used = render.synthesize(np.array([69] + [HOLD] * 31), sample_rate=SR, synth="sine")
    assert used == "sine"
    assert _dominant_hz(audio[: SR * 3], SR) == pytest.approx(440.0, abs=1.0)


def test_falls_back_to_sine_without_fluidsynth(song, no_fluidsynth):
    assert render.fluidsynth_unavailable_reason() is not None
    assert "pretend" in render.fluidsynth_unavailable_reason()
    audio, used = render.synthesize(song, sample_rate=SR)
    assert used == "sine" and len(audio) == _expected_samples(len(song), 120.0, SR)
    with pytest.raises(RuntimeError, match="libfluidsynth"):
        render.synthesize(song, sample_rate=SR, synth="fluidsynth")


def test_missing_library_is_detected(song, monkeypatch):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # makes `import fluidsynth` raise ImportError
    monkeypatch.setattr(synthesis._Fluid, "synths", {})
    monkeypatch.setattr(synthesis._Fluid, "checked", False)
    assert render.fluidsynth_unavailable_reason() is not None
    assert "ModuleNotFoundError" in render.fluidsynth_unavailable_reason()
    assert render.synthesize(song, sample_rate=SR)[1] == "sine"


@pytest.mark.parametrize("synth", ["auto", "sine"])
def test_silent_song_gives_silence_of_the_right_length(synth):
    audio, _ = render.synthesize(np.full(64, REST), sample_rate=SR, synth=synth)
    assert len(audio) == _expected_samples(64, 120.0, SR) and not audio.any()


@pytest.mark.parametrize("kwargs, message", [
    ({"bpm": 0}, "tempo"), ({"sample_rate": 100}, "sample_rate"), ({"synth": "organ"}, "synth"),
])
def test_synthesize_rejects_bad_arguments(song, kwargs, message):
    with pytest.raises(ValueError, match=message):
        render.synthesize(song, **kwargs)


def test_wav_bytes_round_trip():
    audio = np.sin(np.linspace(0, 200, SR)).astype(np.float32) * 0.5
    with wave.open(io.BytesIO(render.wav_bytes(audio, SR))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate(), wav.getnframes()) == (1, 2, SR, SR)
        back = np.frombuffer(wav.readframes(SR), dtype="<i2") / 32767
    assert np.allclose(back, audio, atol=1e-4)


# ----------------------------------------------------------------------------- MIDI


@pytest.mark.parametrize("bpm", [90.0, 120.0, 150.0])
def test_midi_bytes_round_trip(rng, bpm):
    song = random_song(rng, n_bars=6)
    data = render.midi_bytes(song, bpm=bpm)
    assert data.startswith(b"MThd")
    pm = pretty_midi.PrettyMIDI(io.BytesIO(data))
    assert pm.get_tempo_changes()[1][0] == pytest.approx(bpm, rel=1e-4)  # MIDI stores whole microseconds
    step = 60 / bpm / 4
    notes = [(round(n.start / step), round(n.end / step), n.pitch) for n in pm.instruments[0].notes]
    assert notes == tokens_to_notes(song)
    assert np.array_equal(midi_to_tokens(data), song)


def test_output_files_are_written_once_per_content_under_out_dir(song, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "OUT_DIR", tmp_path)
    roll, audio, midi = store.result_files(song, song, 100.0, render.Label("a title", "my song: +3"))
    assert [p.name for p in (roll, audio, midi)] == ["my_song_+3.png", "my_song_+3.mp3", "my_song_+3.mid"]
    assert store.result_files(song, song, 100.0, render.Label("a title", "my song: +3"), lossless=True).audio.suffix == ".wav"
    assert all(p.is_relative_to(tmp_path) for p in (roll, audio, midi)) and np.array_equal(midi_to_tokens(midi), song)
    assert store.midi_file(song, 100.0, "my song: +3") == midi, "the same content is the same file"
    assert render.safe_stem("../..") == "song"


# ----------------------------------------------------------------------------- page audio and the bounded cache


def _band_db(audio: np.ndarray, sr: int, frame: int = 2048) -> np.ndarray:
    """Energy in dB of each frame (rows) in 24 log-spaced bands from 60 Hz to 9 kHz (columns)."""
    n = len(audio) // frame
    spectra = np.abs(np.fft.rfft(audio[:n * frame].reshape(n, frame) * np.hanning(frame), axis=1)) ** 2
    edges = np.searchsorted(np.fft.rfftfreq(frame, 1 / sr), np.geomspace(60, 9000, 25))
    bands = np.stack([spectra[:, a:b].sum(axis=1) for a, b in itertools.pairwise(edges)], axis=1)
    return 10 * np.log10(bands + 1e-12)


@pytest.mark.parametrize("encoder", ["mp3", "ogg"])
def test_page_audio_is_small_and_sounds_like_the_wav(encoder):
    import soundfile  # requirements.txt: decodes both (libsndfile >= 1.1 reads MP3)

    song = midi_to_tokens(render.Path(__file__).resolve().parents[1] / "assets" / "examples" / "twinkle.mid")
    audio, _ = render.synthesize(song, 100.0)
    data, suffix = render.page_audio_bytes(audio) if encoder == "mp3" else (render.ogg_bytes(audio), "ogg")
    assert suffix == encoder and data[:2] == (b"\xff\xf3" if encoder == "mp3" else b"Og")  # MPEG-2 layer III; Ogg
    assert len(data) < 120_000 < len(render.wav_bytes(audio)) / 10, "Twinkle's 29 s: ~115 kB instead of 1.3 MB"
    decoded, sr = soundfile.read(io.BytesIO(data), dtype="float32")
    # LAME's decoder plays its encoder delay first (576 + 529 samples); Vorbis has none. The correlation's peak
    # finds it, give or take a period of the tune's notes.
    delay = 1105 if encoder == "mp3" else 0
    peak = int(np.argmax(np.correlate(decoded[:sr + 2048], audio[:sr], "valid")))
    assert sr == render.SAMPLE_RATE and abs(peak - delay) < 64
    assert 0 <= len(decoded) - delay - len(audio) < sr // 10, "the whole song, give or take the last frame"
    ref, got = _band_db(audio, sr), _band_db(decoded[delay:delay + len(audio)], sr)
    loud = ref > ref.max() - 50  # the bands a listener hears; below that is the quiet tail of the spectrum
    assert np.median(np.abs(got - ref)[loud]) < 1.0, "the spectrum of every frame within 1 dB (median)"


def test_the_output_cache_stays_bounded_over_300_moves(monkeypatch, tmp_path):
    monkeypatch.setattr(store, "OUT_DIR", tmp_path / "out")
    monkeypatch.setattr(store, "CACHE_BYTES", 2_000_000)
    monkeypatch.setattr(store, "CACHE_GRACE_SECONDS", 0.0)
    rng = np.random.default_rng(0)
    sizes = []
    for move in range(300):  # roll + audio + MIDI of ~140 kB a move, as the page's knob move writes them
        for name, size in (("roll.png", 15_000), ("song.ogg", 120_000), ("song.mid", 300)):
            store.write_output(rng.bytes(size), f"move{move}_{name}")
        sizes.append(store.disk_cache.folder_bytes(store.OUT_DIR))
    assert max(sizes) <= 2_000_000 + 140_000, "the bound holds, give or take the move being written"
    assert sizes[-1] > 1_000_000, "recent files are kept"
    last = store.write_output(b"the newest file", "new.txt")
    assert last.is_file() and last.read_bytes() == b"the newest file"


def test_recently_used_files_are_kept_and_a_dropped_one_is_written_again(monkeypatch, tmp_path):
    monkeypatch.setattr(store, "OUT_DIR", tmp_path / "out")
    monkeypatch.setattr(store, "CACHE_BYTES", 100_000)
    old = store.write_output(b"x" * 40_000, "old.bin")
    other = store.write_output(b"y" * 40_000, "other.bin")
    now = time.time()
    os.utime(old.parent, (now - 20, now - 20))  # written first ...
    os.utime(other.parent, (now - 10, now - 10))
    assert store.write_output(b"x" * 40_000, "old.bin") == old  # ... and used again: the most recently used
    monkeypatch.setattr(store, "CACHE_GRACE_SECONDS", 0.0)
    store.disk_cache.prune(store.OUT_DIR, 50_000, grace=0.0)
    assert old.is_file(), "the least recently used folder went first, not the oldest written"
    store.disk_cache.prune(store.OUT_DIR, 0, grace=3600)
    assert old.is_file(), "nothing handed out within the grace period is dropped"
    store.disk_cache.prune(store.OUT_DIR, 0, grace=0.0)
    assert not old.exists() and store.write_output(b"x" * 40_000, "old.bin").is_file()


def test_without_lameenc_the_page_gets_ogg_and_without_soundfile_too_the_wav(monkeypatch):
    audio = np.zeros(SR // 10, dtype=np.float32)
    monkeypatch.setattr(render, "lameenc", None)
    assert render.page_audio_bytes(audio, SR)[1] == "ogg" and render.page_audio_unavailable_reason() is None
    monkeypatch.setattr(render, "soundfile", None)
    data, suffix = render.page_audio_bytes(audio, SR)
    assert suffix == "wav" and data == render.wav_bytes(audio, SR)
    assert "lameenc" in render.page_audio_unavailable_reason() and "soundfile" in render.page_audio_unavailable_reason()


def test_long_page_audio_is_encoded_without_crashing_the_process():
    """libsndfile's Vorbis encoder (the Ogg fallback) crashed the whole server (SIGSEGV) on one write of a few
    minutes; the MP3 encoder takes them too."""
    import subprocess
    import sys

    code = ("import numpy as np; from vae import render; six_minutes = np.zeros(render.SAMPLE_RATE * 360, np.float32); "
            "ogg = render.ogg_bytes(six_minutes); data, kind = render.page_audio_bytes(six_minutes); "
            "print('encoded:', kind, min(len(data), len(ogg)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-500:]
    # Only our own line is read: a library may print its own lines on some machines (CI did).
    lines = [line.split() for line in done.stdout.splitlines() if line.startswith("encoded: ")]
    assert len(lines) == 1, f"stdout: {done.stdout[-500:]!r} stderr: {done.stderr[-500:]!r}"
    _, kind, size = lines[0]
    assert int(size) > 0 and kind in ("mp3", "ogg", "wav")


def test_a_song_played_again_is_not_synthesised_again(song, tmp_path, monkeypatch):
    monkeypatch.setattr(store, "OUT_DIR", tmp_path)
    calls, synthesize = [], render.synthesize
    monkeypatch.setattr(store, "synthesize", lambda *a, **kw: calls.append(1) or synthesize(*a, **kw))
    first = store.audio_file(song, 100.0, "again")
    assert store.audio_file(song, 100.0, "again") == first and len(calls) == 1, "the knob came back: same file"
    assert store.audio_file(song, 100.0, "again", lossless=True).suffix == ".wav" and len(calls) == 2
    first.unlink()  # dropped by the bounded cache: written again
    assert store.audio_file(song, 100.0, "again").read_bytes()[:2] == b"\xff\xf3" and len(calls) == 3
