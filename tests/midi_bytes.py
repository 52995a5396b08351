"""Standard MIDI Files written byte by byte (struct), for the cases pretty_midi and mido will not write:
SMPTE time division, running status, format 2, odd tempi, millions of meta events."""

from __future__ import annotations

import struct


def varlen(n: int) -> bytes:
    """A MIDI variable-length quantity (7 bits a byte, the high bit set on all but the last)."""
    if not 0 <= n <= 0x0FFFFFFF:
        raise ValueError(f"a MIDI delta time must be 0..0x0FFFFFFF, got {n}")
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def header(fmt: int, n_tracks: int, division: int) -> bytes:
    """MThd: ``division`` is ticks per quarter note (< 0x8000), or an SMPTE word (high bit set)."""
    return b"MThd" + struct.pack(">IHHH", 6, fmt, n_tracks, division)


def track(events: list[tuple[int, bytes]], end: bool = True) -> bytes:
    """MTrk of (delta ticks, event bytes) pairs, with an end-of-track event unless ``end`` is False."""
    body = b"".join(varlen(delta) + data for delta, data in events)
    if end:
        body += varlen(0) + b"\xff\x2f\x00"
    return b"MTrk" + struct.pack(">I", len(body)) + body


def smf(fmt: int, tracks: list[bytes], division: int = 480) -> bytes:
    return header(fmt, len(tracks), division) + b"".join(tracks)


def meta(kind: int, data: bytes) -> bytes:
    return bytes([0xFF, kind]) + varlen(len(data)) + data


def tempo(us_per_quarter: int) -> bytes:
    """set_tempo: microseconds per quarter note, 3 bytes (0..16,777,215: 3.58 bpm is the slowest)."""
    return meta(0x51, us_per_quarter.to_bytes(3, "big"))


def time_signature(numerator: int, denominator: int) -> bytes:
    return meta(0x58, bytes([numerator, denominator.bit_length() - 1, 24, 8]))


def note_on(pitch: int, velocity: int = 100, channel: int = 0) -> bytes:
    return bytes([0x90 | channel, pitch, velocity])


def note_off(pitch: int, channel: int = 0) -> bytes:
    return bytes([0x80 | channel, pitch, 64])


def notes(pitches: list[int], ticks: int, channel: int = 0, first_delta: int = 0) -> list[tuple[int, bytes]]:
    """Events of ``pitches`` played one after the other, ``ticks`` long each."""
    events = []
    for i, p in enumerate(pitches):
        events.append((first_delta if i == 0 else 0, note_on(p, channel=channel)))
        events.append((ticks, note_off(p, channel=channel)))
    return events


SCALE = [60, 62, 64, 65, 67, 69, 71, 72]
