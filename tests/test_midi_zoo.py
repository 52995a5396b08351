"""A MIDI zoo, written byte by byte at test time (tests/midi_bytes.py): every corner of the Standard MIDI
File format that a user's file may hit. Each gives a melody or one clear sentence (ValueError), never
a traceback or a hang: every file is read in a worker thread with a time limit, from bytes and from a
path, and the whole zoo is also uploaded to a real server, which must answer each and keep serving.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from midi_bytes import (
    SCALE,
    header,
    meta,
    note_off,
    note_on,
    notes,
    smf,
    tempo,
    time_signature,
    track,
    varlen,
)

from vae import song
from vae.melody import BPM_RANGE, Melody, load_melody, tokens_to_notes

TIME_LIMIT_S = 10.0  # per file, on 2 shared cores (the slowest here reads in < 1 s)
TPQ = 480  # ticks per quarter note
QUARTER = 4  # steps
SCALE_NOTES = [(QUARTER * i, QUARTER * i + QUARTER, p) for i, p in enumerate(SCALE)]


def _melody(*tracks: bytes, fmt: int = 1, division: int = TPQ) -> bytes:
    return smf(fmt, list(tracks), division)


def _meter_every_bar() -> bytes:
    meters = [(4, 4), (3, 4), (7, 8), (5, 16), (2, 2)]
    events = []
    for bar in range(100):  # one bar of each, one note a bar
        n, d = meters[bar % len(meters)]
        ticks = TPQ * 4 * n // d
        events += [(0, time_signature(n, d)), (0, note_on(60 + bar % 12)), (ticks, note_off(60 + bar % 12))]
    return _melody(track(events), fmt=0)


def _meta_only(size: int = song.MAX_UPLOAD_BYTES - 4096) -> bytes:
    text = meta(0x01, b"la " * 33)  # 103-byte text events, ~20,000 of them: 2 MB, not one note
    return _melody(track([(1, text)] * (size // (len(text) + 1))), fmt=0)


def _running_status() -> bytes:
    """Note-ons that omit the status byte (running status), note-offs as note-on with velocity 0."""
    events = [(0, note_on(SCALE[0]))]
    for a, b in itertools.pairwise(SCALE):
        events += [(TPQ, bytes([a, 0])), (0, bytes([b, 100]))]
    return _melody(track(events + [(TPQ, bytes([SCALE[-1], 0]))]), fmt=0)


def _short_notes() -> bytes:
    """A zero-length note (dropped), 1-tick notes (one step each), a quarter note."""
    return _melody(track([(0, note_on(60)), (0, note_off(60)), (0, note_on(62)), (1, note_off(62)),
                          (TPQ // 4 - 1, note_on(64)), (TPQ, note_off(64)), (0, note_on(65)), (0, note_off(65)),
                          (0, note_on(67)), (1, note_off(67))]), fmt=0)


def _sixteen_tracks() -> bytes:
    """Format 1, 16 tracks on channels 0-15; the drum channel (9) has most notes, channel 15 the most pitched ones."""
    tracks = []
    for channel in range(16):
        count = 40 if channel == 9 else channel + 1
        tracks.append(track(notes([40 + channel + i % 5 for i in range(count)], TPQ // 2, channel=channel)))
    return _melody(*tracks)


def _pitch_bends() -> bytes:
    events = []
    for i, pitch in enumerate(SCALE):
        events += [(0, bytes([0xE0, i * 13 % 128, i * 29 % 128]))] + notes([pitch], TPQ)
    return _melody(track(events), fmt=0)


# name -> (bytes, check): check gets the Melody, or the ValueError's message when it is a str to find in it
ZOO = {
    "format-0": (lambda: _melody(track([(0, tempo(500_000))] + notes(SCALE, TPQ)), fmt=0),
                 lambda m: tokens_to_notes(m.tokens) == SCALE_NOTES and m.bpm == 120),
    "format-1": (lambda: _melody(track([(0, tempo(600_000)), (0, time_signature(4, 4))]), track(notes(SCALE, TPQ))),
                 lambda m: tokens_to_notes(m.tokens) == SCALE_NOTES and m.bpm == 100),
    "format-2": (lambda: _melody(track(notes(SCALE, TPQ)), track(notes([48, 50, 52], TPQ)), fmt=2),
                 lambda m: tokens_to_notes(m.tokens) == SCALE_NOTES and len(m.instruments) == 2),
    "smpte-25fps": (lambda: _melody(track(notes(SCALE, 40)), fmt=0, division=0xE728), "SMPTE frames"),
    "smpte-30fps": (lambda: _melody(track(notes(SCALE, 40)), fmt=0, division=0xE250), "SMPTE frames"),
    "division-0": (lambda: _melody(track(notes(SCALE, 40)), fmt=0, division=0), "time division is 0 ticks"),
    "sixteen-tracks": (_sixteen_tracks,
                       lambda m: len(m.instruments) == 16 and m.instrument == 15 and m.instruments[9].is_drum),
    "running-status-velocity-0-off": (_running_status, lambda m: tokens_to_notes(m.tokens) == SCALE_NOTES),
    "zero-length-and-1-tick-notes": (_short_notes,
                                     lambda m: tokens_to_notes(m.tokens) == [(0, 1, 62), (1, 5, 64), (5, 6, 67)]),
    "only-a-1-tick-note": (lambda: _melody(track([(0, note_on(60)), (1, note_off(60))]), fmt=0),
                           lambda m: tokens_to_notes(m.tokens) == [(0, 1, 60)] and len(m.tokens) == 16),
    "only-zero-length-notes": (lambda: _melody(track([(0, note_on(60)), (0, note_off(60))] * 8), fmt=0),
                               "has no notes"),
    "overlapping-same-pitch": (lambda: _melody(track([(0, note_on(60)), (TPQ // 2, note_on(60)),
                                                      (TPQ // 2, note_off(60)), (TPQ // 2, note_off(60))]), fmt=0),
                               lambda m: tokens_to_notes(m.tokens)[:2] == [(0, 2, 60), (2, 4, 60)]),
    "pitch-bends": (_pitch_bends, lambda m: tokens_to_notes(m.tokens) == SCALE_NOTES),
    # 3.58 bpm: a set_tempo holds 3 bytes of microseconds, so no MIDI file can be slower (1 bpm is unwritable)
    "tempo-3.58-bpm-slowest": (lambda: _melody(track([(0, tempo(0xFFFFFF))] + notes(SCALE, TPQ)), fmt=0),
                               lambda m: m.bpm == BPM_RANGE[0] and "3.58 bpm" in m.messages[0]
                               and tokens_to_notes(m.tokens) == SCALE_NOTES),
    "tempo-1000-bpm": (lambda: _melody(track([(0, tempo(60_000))] + notes(SCALE, TPQ)), fmt=0),
                       lambda m: m.bpm == BPM_RANGE[1] and "1000 bpm" in m.messages[0]),
    "tempo-0": (lambda: _melody(track([(0, tempo(0))] + notes(SCALE, TPQ)), fmt=0), "sets a tempo of 0"),
    "tempo-change-every-tick": (lambda: _melody(track([(1, tempo(400_000 + i)) for i in range(50_000)]
                                                      + notes(SCALE, TPQ)), fmt=0),
                                lambda m: [(e - s, p) for s, e, p in tokens_to_notes(m.tokens)]
                                == [(QUARTER, p) for p in SCALE]),
    "meter-change-every-bar": (_meter_every_bar,
                               lambda m: m.meter == "4/4" and "3/4, 5/16, 7/8" in m.messages[0]
                               and len(tokens_to_notes(m.tokens)) == 100),
    "2-mb-of-meta-events": (_meta_only, "has no notes"),
    "first-note-after-10-minutes": (lambda: _melody(track([(0, tempo(500_000))]
                                                          + notes(SCALE, TPQ, first_delta=TPQ * 1200)), fmt=0),
                                    lambda m: tokens_to_notes(m.tokens) == SCALE_NOTES),
    "first-note-after-a-year": (lambda: _melody(track(notes(SCALE, TPQ, first_delta=0x0FFFFFFF)), fmt=0),
                                "far longer than any song"),
    "more-tracks-than-written": (lambda: smf(1, [track(notes(SCALE, TPQ))])[:10] + b"\xff\xff"
                                 + smf(1, [track(notes(SCALE, TPQ))])[12:], "could not read this file as MIDI"),
    "running-status-without-status": (lambda: _melody(track([(0, b"\x3c\x40")] + notes(SCALE, TPQ)), fmt=0),
                                      "could not read this file as MIDI"),
    "track-longer-than-the-file": (lambda: header(0, 1, TPQ) + b"MTrk\xff\xff\xff\xff" + varlen(0) + note_on(60), "ends too early"),
}


def _read(source) -> Melody | str:
    """load_melody(source) within TIME_LIMIT_S: the melody, or the ValueError's message."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        future = pool.submit(load_melody, source)
        try:
            return future.result(timeout=TIME_LIMIT_S)
        except FutureTimeout:
            pytest.fail(f"reading took longer than {TIME_LIMIT_S} s")
        except ValueError as err:
            return str(err)


def _one_sentence(message: str) -> None:
    assert "Traceback" not in message and 'File "' not in message and "\n" not in message, message
    assert len(message) < 300 and message[:1].islower(), message


@pytest.fixture(scope="module")
def zoo(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("zoo")
    paths = {}
    for name, (make, _) in ZOO.items():
        paths[name] = folder / f"{name}.mid"
        paths[name].write_bytes(make())
    return paths


@pytest.mark.parametrize("name", list(ZOO))
def test_every_file_of_the_zoo_gives_a_melody_or_one_clear_sentence(zoo, name):
    check = ZOO[name][1]
    data = zoo[name].read_bytes()
    assert len(data) <= song.MAX_UPLOAD_BYTES
    for source in (data, zoo[name]):
        got = _read(source)
        if isinstance(check, str):
            assert isinstance(got, str), f"expected a refusal, got a melody of {len(got.tokens)} steps"
            _one_sentence(got)
            assert check in got, got
        else:
            assert not isinstance(got, str), got
            assert len(got.tokens) and len(got.tokens) % 16 == 0 and check(got), tokens_to_notes(got.tokens)[:10]
            for message in got.messages:
                _one_sentence(message[0].lower() + message[1:])


def test_the_zoo_has_the_cases_of_the_issue():
    for case in ("format-0", "format-1", "format-2", "smpte-25fps", "sixteen-tracks", "running-status-velocity-0-off",
                 "zero-length-and-1-tick-notes", "overlapping-same-pitch", "pitch-bends", "tempo-3.58-bpm-slowest",
                 "tempo-1000-bpm", "meter-change-every-bar", "2-mb-of-meta-events", "first-note-after-10-minutes"):
        assert case in ZOO
    assert len(_meta_only()) > 2_000_000


def test_the_zoo_through_the_server_gets_answers_and_the_server_keeps_serving(app_url, zoo):
    client = Client(app_url, verbose=False)
    try:
        for name, path in zoo.items():
            check = ZOO[name][1]
            if isinstance(check, str):
                with pytest.raises(AppError) as info:
                    client.predict(midi_file=handle_file(str(path)), api_name="/load_song")
                assert check in str(info.value), (name, str(info.value))
                _one_sentence(str(info.value))
            else:
                _roll, _audio, facts = client.predict(midi_file=handle_file(str(path)), api_name="/load_song")
                assert facts["bars"] == len(load_melody(path).tokens) // 16, name
        _roll, _audio, facts = client.predict(example="twinkle", api_name="/load_song")
        assert facts["name"] == "twinkle"
    finally:
        client.close()
