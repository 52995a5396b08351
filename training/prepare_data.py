"""Build the training data: 2-bar clips from music21's folk-tune corpus (and any MIDI folder).

    python training/prepare_data.py --out data/clips.npz [--midi-dir DIR] [--limit N]

Tunes in duple meters (2/4, 4/4, 2/2, ...) are turned into tokens, cut into 32-step windows with
a one-bar hop, filtered (at least 2 onsets), split train / validation / test **by tune** (seeded)
and de-duplicated within each split. Writes a compressed .npz and a metadata JSON beside it.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vae.melody import (
    CLIP_STEPS,
    N_PITCHES,
    STEPS_PER_BAR,
    STEPS_PER_QUARTER,
    clip_is_valid,
    clip_windows,
    load_melody,
    notes_to_tokens,
)

COLLECTIONS = ("essenFolksong", "oneills1850", "ryansMammoth")
NATIVE_BAR_QUARTERS = (2.0, 4.0, 8.0)  # 2/4, 4/4 and 2/2, 4/2: bars that tile a 2-bar 4/4 clip
HOP = STEPS_PER_BAR  # one-bar hop between training windows


def score_to_tokens(score) -> tuple[np.ndarray | None, str]:
    """Tokens of a music21 score's top line, or (None, meter) when the meter is not duple."""
    from music21 import chord, note

    sigs = list(score.recurse().getElementsByClass("TimeSignature"))
    meters = {ts.ratioString for ts in sigs} or {"4/4"}
    meter = "+".join(sorted(meters))
    if any(ts.barDuration.quarterLength not in NATIVE_BAR_QUARTERS or ts.numerator not in (2, 4) for ts in sigs):
        return None, meter
    parts = score.parts if score.parts else [score]
    part = parts[0]
    measures = list(part.getElementsByClass("Measure"))
    shift = float(measures[0].paddingLeft) if measures else 0.0  # align a pickup to its bar
    notes = []
    for n in part.stripTies().flatten().notes:
        if n.duration.isGrace or n.quarterLength <= 0:
            continue
        if isinstance(n, chord.Chord):
            pitch = max(p.midi for p in n.pitches)
        elif isinstance(n, note.Note):
            pitch = n.pitch.midi
        else:
            continue
        start = round((float(n.offset) + shift) * STEPS_PER_QUARTER)
        end = round((float(n.offset + n.quarterLength) + shift) * STEPS_PER_QUARTER)
        if 0 <= pitch < N_PITCHES:
            notes.append((start, end, pitch))
    if len(notes) < 2:
        return None, meter
    n_steps = -(-max(e for _, e, _ in notes) // STEPS_PER_BAR) * STEPS_PER_BAR
    return notes_to_tokens(notes, n_steps=n_steps), meter


def parse_file(path: str) -> tuple[list[tuple[str, np.ndarray]], Counter, Counter]:
    """All duple-meter tunes of one corpus file: ([(tune_id, tokens)], meters kept, meters dropped)."""
    from music21 import converter, stream

    kept, dropped, tunes = Counter(), Counter(), []
    try:
        parsed = converter.parse(path)
    except Exception:  # noqa: BLE001 - a damaged file in the corpus costs its tunes, not the run
        dropped["unparseable"] += 1
        return tunes, kept, dropped
    scores = parsed.scores if isinstance(parsed, stream.Opus) else [parsed]
    for i, score in enumerate(scores):
        try:
            tokens, meter = score_to_tokens(score)
        except Exception:  # noqa: BLE001 - music21 raises many kinds on odd scores
            tokens, meter = None, "error"
        if tokens is None:
            dropped[meter] += 1
        else:
            kept[meter] += 1
            tunes.append((f"{Path(path).parent.name}/{Path(path).name}#{i}", tokens))
    return tunes, kept, dropped


def parse_midi(path: str) -> tuple[list[tuple[str, np.ndarray]], Counter, Counter]:
    try:
        melody = load_melody(path)
    except ValueError:
        return [], Counter(), Counter({"unreadable": 1})
    if melody.warnings:
        return [], Counter(), Counter({melody.meter: 1})
    return [(f"midi/{Path(path).name}", melody.tokens)], Counter({melody.meter: 1}), Counter()


def build_split(tunes: list[tuple[str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, int]:
    """De-duplicated valid clips of ``tunes`` and the index of the tune of each clip."""
    clips, owner = [], []
    for k, (_, tokens) in enumerate(tunes):
        w = clip_windows(tokens, HOP)
        w = w[clip_is_valid(w)]
        clips.append(w)
        owner.append(np.full(len(w), k))
    clips = np.concatenate(clips) if clips else np.zeros((0, CLIP_STEPS), np.int64)
    owner = np.concatenate(owner) if owner else np.zeros(0, np.int64)
    _, first = np.unique(clips, axis=0, return_index=True)
    first.sort()
    return clips[first], owner[first], len(clips) - len(first)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/clips.npz")
    ap.add_argument("--collections", nargs="*", default=list(COLLECTIONS))
    ap.add_argument("--midi-dir", default=None, help="also read every .mid/.midi under this folder")
    ap.add_argument("--limit", type=int, default=None, help="at most this many files per source (for tests)")
    ap.add_argument("--split", type=float, nargs=2, default=(0.05, 0.05), help="validation and test shares")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    jobs: list[tuple[str, str]] = []
    if args.collections:
        from music21 import corpus

        for name in args.collections:
            paths = sorted(str(p) for p in corpus.getComposer(name))
            if not paths:
                raise SystemExit(f"music21 corpus collection {name!r} not found; is music21 installed?")
            jobs += [("abc", p) for p in paths[: args.limit]]
    if args.midi_dir:
        paths = sorted(str(p) for p in Path(args.midi_dir).rglob("*") if p.suffix.lower() in (".mid", ".midi"))
        jobs += [("midi", p) for p in paths[: args.limit]]
    if not jobs:
        raise SystemExit("nothing to read: name --collections and/or --midi-dir")

    t0 = time.time()
    tunes, kept, dropped, per_source = [], Counter(), Counter(), Counter()
    with Pool(args.workers) as pool:
        results = pool.imap_unordered(_parse_job, jobs)
        for found, k, d in tqdm(results, total=len(jobs), desc="parsing files", unit="file"):
            tunes += found
            kept += k
            dropped += d
            for tune_id, _ in found:
                per_source[tune_id.split("/")[0]] += 1
    tunes.sort(key=lambda t: t[0])
    rng = np.random.default_rng(args.seed)
    order = rng.permutation(len(tunes))
    n_val, n_test = (max(1, round(s * len(tunes))) for s in args.split)
    parts = {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}

    arrays, meta_splits = {}, {}
    for split, idx in parts.items():
        split_tunes = [tunes[i] for i in sorted(idx)]
        clips, owner, n_dup = build_split(split_tunes)
        arrays[f"{split}_clips"] = clips
        arrays[f"{split}_tune"] = owner
        arrays[f"{split}_songs"] = np.concatenate([t for _, t in split_tunes])
        arrays[f"{split}_song_lengths"] = np.array([len(t) for _, t in split_tunes])
        arrays[f"{split}_tune_ids"] = np.array([tid for tid, _ in split_tunes])
        meta_splits[split] = {"tunes": len(split_tunes), "clips": len(clips), "duplicates_removed": n_dup}
    train_set = {c.tobytes() for c in arrays["train_clips"]}
    for split in ("val", "test"):
        shared = sum(c.tobytes() in train_set for c in arrays[f"{split}_clips"])
        meta_splits[split]["clips_also_in_train"] = shared

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    meta = {"sources": {"collections": args.collections, "midi_dir": args.midi_dir}, "seed": args.seed,
            "tunes_per_source": dict(per_source), "meters_kept": dict(kept), "meters_dropped": dict(dropped),
            "splits": meta_splits, "hop_steps": HOP, "seconds": round(time.time() - t0, 1)}
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(meta["splits"], indent=2))
    print(f"wrote {out} in {meta['seconds']} s")


def _parse_job(job: tuple[str, str]):
    kind, path = job
    return parse_file(path) if kind == "abc" else parse_midi(path)


if __name__ == "__main__":
    main()
