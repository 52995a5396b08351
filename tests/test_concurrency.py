"""Many users at once: 16 gradio_client sessions on one server, each turning knobs on its own song.

Every answer must be the one that a direct, in-process call of the library gives for that
session's song and knobs (byte for byte), so an answer that went to the wrong session, or a file
that two sessions wrote at once, fails the test. Some sessions ask for exactly the same thing
on purpose: they share one output file on the server.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from gradio_client import Client, handle_file
from midi_files import write_midi

import app
from vae import knobs, render, song
from vae.bundle import Bundle, load_bundle
from vae.inference import encode_z
from vae.melody import split_clips

N_USERS = 16
N_SAME = 4  # the last users all ask for the same example and knobs
DEADLINE_S = 240  # all sessions together, on 2 busy cores


@dataclass
class User:
    name: str
    path: Path | None  # uploaded song, or None for the example
    moves: list[dict]  # knob settings, one request each, in order

    def expected(self, b: Bundle, moves: dict) -> tuple[str, bytes]:
        """(file name, MIDI bytes) that the library gives for this song and these knobs."""
        source = song.SongSource(song.DEFAULT_EXAMPLE, self.path)
        melody, name = source.read(app.EXAMPLES)
        s = song.Song(key="direct", name=name, tokens=melody.tokens, bpm=melody.bpm, example=source.example_name,
                      latents=encode_z(b.model, split_clips(melody.tokens)))  # fitted, as the app's default
        k = knobs.Knobs(**moves)
        result = knobs.apply(b.model, b.space, s.tokens, k, latents=s.latents)
        return f"{render.safe_stem(k.stem(s.name))}.mid", render.midi_bytes(result, s.bpm)


def _users(folder: Path) -> list[User]:
    users = []
    for i in range(N_USERS - N_SAME):
        # 12 different melodies: their own scale, register, note length and tempo
        step = (1, 2, 3, 5)[i % 4]
        pitches = [48 + 2 * i + (step * j) % 12 for j in range(16)]
        path = write_midi(folder / f"user{i:02d}.mid", [(0, False, pitches)], bpm=80 + 10 * i, beats=(1, 0.5)[i % 2])
        users.append(User(f"user{i:02d}", path, [{"pitch": (i % 9) - 4, "rhythm": (i % 3) * 0.5},
                                                 {"pitch": 12 - i, "residual": 1}]))
    users += [User(f"same{i}", None, [{"pitch": 3}, {"pitch": 3}]) for i in range(N_SAME)]
    return users


def _session(url: str, user: User, barrier: threading.Barrier) -> list[tuple[str, bytes]]:
    client = Client(url, verbose=False)
    try:
        barrier.wait(timeout=60)  # every session sends its first request at the same moment
        answers = []
        for moves in user.moves:
            source = {"midi_file": handle_file(str(user.path))} if user.path else {"example": song.DEFAULT_EXAMPLE}
            roll, audio, midi = client.predict(**source, **moves, api_name="/modulate")
            assert Path(roll).read_bytes()[:4] == b"\x89PNG" and Path(audio).read_bytes()[:2] == b"\xff\xf3"
            answers.append((Path(midi).name, Path(midi).read_bytes()))
        return answers
    finally:
        client.close()


def test_sixteen_sessions_at_once_each_get_their_own_answers(app_url, tiny_model_dir, tmp_path, monkeypatch):
    users = _users(tmp_path)
    bundle = load_bundle(str(tiny_model_dir))
    expected = {u.name: [u.expected(bundle, k) for k in u.moves] for u in users}
    distinct = {answer for u in users[: N_USERS - N_SAME] for answer in expected[u.name]}
    assert len(distinct) == 2 * (N_USERS - N_SAME), "every session's answers must tell it apart from the others"

    lock, active, most = threading.Lock(), [0], [0]
    apply = knobs.apply

    def counted(*args, **kwargs):  # how many /modulate events run at once (the queue's concurrency limit)
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            time.sleep(0.05)  # long enough for events that are allowed to overlap to overlap
            return apply(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(knobs, "apply", counted)
    barrier = threading.Barrier(N_USERS)
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=N_USERS) as pool:
        futures = {u.name: pool.submit(_session, app_url, u, barrier) for u in users}
        _, not_done = wait(futures.values(), timeout=DEADLINE_S)
        assert not not_done, f"{len(not_done)} sessions did not finish within {DEADLINE_S} s"
    elapsed = time.monotonic() - start
    for name, future in futures.items():
        got = future.result()
        assert [g[0] for g in got] == [e[0] for e in expected[name]], name
        assert got == expected[name], f"{name} got another session's answer (or a damaged file)"
    assert 1 <= most[0] <= app.DEFAULT_CONCURRENCY, f"{most[0]} /modulate events ran at once"
    print(f"{N_USERS} sessions x 2 knob moves in {elapsed:.1f} s, at most {most[0]} at once")
