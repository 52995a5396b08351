"""Build the training data: 2-bar clips from music21's folk-tune corpus and/or a MIDI folder of any size.

    python training/prepare_data.py --out data/clips.npz [--midi-dir DIR] [--limit N]
    python training/prepare_data.py --collections --midi-dir DIR --workers 8 --out data/mine.npz
    python training/prepare_data.py ... --shard 0/4          # machine 0 of 4 (then merge: see README)

Two stages. Reading: a pool of --workers processes reads the files, each under --file-timeout
seconds (past it the worker is killed and replaced), a MIDI file's melody picked as the app picks it;
results are written every --files-per-shard files to shards plus a manifest (file -> tunes and
clips, or why it was skipped) in the parts folder, so memory stays bounded, a stopped run resumes
where it stopped, and --shard I/N reads one slice of the files. Merging, once every file is in the
manifests: tunes in duple meters (2/4, 4/4, 2/2, ...) are cut into 32-step windows with a one-bar hop,
filtered (at least 2 onsets), split train / validation / test **by tune** (seeded) and
de-duplicated within each split. Writes a compressed .npz and a metadata JSON beside it.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vae.melody import (
    CLIP_STEPS,
    N_PITCHES,
    STEPS_PER_BAR,
    STEPS_PER_QUARTER,
    MeterWarning,
    clip_is_valid,
    clip_windows,
    load_melody,
    notes_to_tokens,
)
from vae.recipes import COLLECTIONS, RECIPES, recipe_defaults
from vae.shards import FILES_PER_SHARD, ShardWriter, read_manifests, read_tunes
from vae.workpool import CRASH, ERROR, OK, TIMEOUT, imap_timed

NATIVE_BAR_QUARTERS = (2.0, 4.0, 8.0)  # 2/4, 4/4 and 2/2, 4/2: bars that tile a 2-bar 4/4 clip
HOP = STEPS_PER_BAR  # one-bar hop between training windows
FILE_TIMEOUT = 120.0  # s per file: ~10x the slowest music21 opus (han1.abc, 11 s on 2 shared cores)


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


def parse_file(path: str) -> tuple[list[tuple[str, np.ndarray]], Counter, Counter, str | None]:
    """All duple-meter tunes of one corpus file: ([(tune_id, tokens)], meters kept, meters dropped, why none)."""
    from music21 import converter, stream

    kept, dropped, tunes = Counter(), Counter(), []
    try:
        parsed = converter.parse(path)
    except Exception as e:  # noqa: BLE001 - a damaged file in the corpus costs its tunes, not the run
        dropped["unparseable"] += 1
        return tunes, kept, dropped, f"unparseable: {type(e).__name__}: {e}"[:300]
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
    reason = None if tunes else f"no duple-meter tune: {dict(dropped)}"
    return tunes, kept, dropped, reason


def parse_midi(path: str, tune_id: str) -> tuple[list[tuple[str, np.ndarray]], Counter, Counter, str | None]:
    """The melody of one MIDI file, picked as the app picks it (:func:`vae.melody.load_melody`)."""
    try:
        melody = load_melody(path)
    except ValueError as e:
        return [], Counter(), Counter({"unreadable": 1}), f"unreadable: {e}"[:300]
    if not melody.duple:  # by the warning's type: a tempo moved into range keeps the tune
        meter = next(w for w in melody.warnings if isinstance(w, MeterWarning))
        return [], Counter(), Counter({melody.meter: 1}), f"warning: {meter}"[:300]
    return [(tune_id, melody.tokens)], Counter({melody.meter: 1}), Counter(), None


def build_split(tunes: list[tuple[str, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, int]:
    """De-duplicated valid clips of ``tunes`` and the index of the tune of each clip."""
    clips, owner = [], []
    for k, (_, tokens) in enumerate(tunes):
        w = clip_windows(tokens, HOP)
        w = w[clip_is_valid(w)].astype(np.uint8)  # ids < 130: a byte each until the split is built
        clips.append(w)
        owner.append(np.full(len(w), k))
    clips = np.concatenate(clips) if clips else np.zeros((0, CLIP_STEPS), np.uint8)
    owner = np.concatenate(owner) if owner else np.zeros(0, np.int64)
    _, first = np.unique(as_rows(clips), return_index=True)  # the first of each clip, as unique(axis=0) gives
    first.sort()
    return clips[first].astype(np.int64), owner[first], len(clips) - len(first)


def as_rows(clips: np.ndarray) -> np.ndarray:
    """Clips (N, 32) as N values of 32 bytes: whole clips compared at once, in 1/8 of int64's memory."""
    return np.ascontiguousarray(clips, dtype=np.uint8).view(np.dtype((np.void, CLIP_STEPS))).ravel()


def list_jobs(collections: list[str], midi_dir: str | None, limit: int | None) -> list[tuple[str, str, str]]:
    """Every file to read as (kind, path, key), in a fixed order; a key names the file on any machine."""
    jobs = []
    if collections:
        from music21 import corpus

        for name in collections:
            paths = sorted(str(p) for p in corpus.getComposer(name))
            if not paths:
                raise SystemExit(f"music21 corpus collection {name!r} not found; is music21 installed?")
            jobs += [("abc", p, f"music21/{Path(p).parent.name}/{Path(p).name}") for p in paths[:limit]]
    if midi_dir:
        root = Path(midi_dir)
        if not root.is_dir():
            raise SystemExit(f"--midi-dir {midi_dir} is not a folder")
        paths = sorted(p for p in root.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
        jobs += [("midi", str(p), f"midi/{p.relative_to(root).as_posix()}") for p in paths[:limit]]
    if not jobs:
        raise SystemExit("nothing to read: name --collections and/or --midi-dir")
    return jobs


def parse_job(job: tuple[str, str, str]) -> dict:
    """One file's manifest fields and tunes: what a worker sends back."""
    kind, path, key = job
    t0 = time.perf_counter()
    tunes, kept, dropped, reason = parse_file(path) if kind == "abc" else parse_midi(path, key)
    clips = sum(int(clip_is_valid(clip_windows(t, HOP)).sum()) for _, t in tunes)
    return {"tunes": tunes, "info": {"clips": clips, "kept": kept, "dropped": dropped, "skipped": reason,
                                     "seconds": round(time.perf_counter() - t0, 3)}}


def warm_worker(kinds: frozenset[str]) -> None:
    """Imports that would otherwise count against a worker's first file's time limit."""
    if "abc" in kinds:
        import music21.converter  # noqa: F401
    import pretty_midi  # noqa: F401


def parse_all(todo: list[tuple[str, str, str]], writer: ShardWriter, workers: int, timeout: float) -> Counter:
    """Read ``todo`` in ``workers`` processes, each file under ``timeout`` s, into shards; skips by reason."""
    skipped = Counter()
    warm = partial(warm_worker, frozenset(kind for kind, _, _ in todo))
    results = imap_timed(parse_job, todo, workers, timeout, init=warm)
    try:
        for (_, _, key), status, value in tqdm(results, total=len(todo), desc="reading files", unit="file"):
            if status == OK:
                tunes, info = value["tunes"], value["info"]
            else:  # the worker was killed (timeout), died (crash) or its parser raised (error)
                why = {TIMEOUT: f"over {timeout:g} s, killed", CRASH: "the worker died", ERROR: value}[status]
                tunes, info = [], {"clips": 0, "kept": {}, "dropped": {}, "skipped": f"{status}: {why}"[:300]}
            if info["skipped"]:
                skipped[info["skipped"].split(":")[0]] += 1
            writer.add(key, tunes, info)
    finally:  # on Ctrl-C too: the files already read are kept
        writer.flush()
    return skipped


def merge(folder: Path, entries: list[dict], args: argparse.Namespace) -> tuple[dict, dict]:
    """The by-tune split, windows and de-dup of the tunes in ``entries`` (as before shards): arrays and metadata."""
    tunes = sorted(read_tunes(folder, entries), key=lambda t: t[0])
    kept, dropped, per_source = Counter(), Counter(), Counter()
    for entry in entries:
        kept.update(entry["kept"])
        dropped.update(entry["dropped"])
    for tune_id, _ in tunes:
        per_source[tune_id.split("/")[0]] += 1
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
        arrays[f"{split}_songs"] = np.concatenate([t for _, t in split_tunes]).astype(np.int64)
        arrays[f"{split}_song_lengths"] = np.array([len(t) for _, t in split_tunes])
        arrays[f"{split}_tune_ids"] = np.array([tid for tid, _ in split_tunes])
        meta_splits[split] = {"tunes": len(split_tunes), "clips": len(clips), "duplicates_removed": n_dup}
    train_rows = as_rows(arrays["train_clips"])
    for split in ("val", "test"):
        shared = int(np.isin(as_rows(arrays[f"{split}_clips"]), train_rows).sum())
        meta_splits[split]["clips_also_in_train"] = shared
    meta = {"sources": {"collections": args.collections, "midi_dir": args.midi_dir}, "seed": args.seed,
            "tunes_per_source": dict(per_source), "meters_kept": dict(kept), "meters_dropped": dict(dropped),
            "splits": meta_splits, "hop_steps": HOP}
    return arrays, meta


def peak_rss_mb() -> float:
    """The largest resident memory this process has had so far (MB; the workers are not counted)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipe", default=None, choices=sorted(RECIPES),
                    help="a shipped model's data (vae/recipes.py) as defaults; flags given here win over it")
    ap.add_argument("--out", default="data/clips.npz")
    ap.add_argument("--collections", nargs="*", default=list(COLLECTIONS),
                    help="music21 corpus collections to read; give the flag alone for none (the folder alone)")
    ap.add_argument("--midi-dir", default=None, help="also read every .mid/.midi under this folder")
    ap.add_argument("--limit", type=int, default=None, help="at most this many files per source (for tests)")
    ap.add_argument("--split", type=float, nargs=2, default=(0.05, 0.05), help="validation and test shares")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="parsing processes")
    ap.add_argument("--file-timeout", type=float, default=FILE_TIMEOUT,
                    help="seconds one file may take; a file past it is killed with its worker and skipped")
    ap.add_argument("--shard", default="0/1", metavar="I/N",
                    help="read only slice I of N of the files (one machine of N); the .npz is written by the "
                         "run that finds every slice done in the parts folder")
    ap.add_argument("--parts", default=None, help="shards and manifests (default: OUT without .npz + '.parts')")
    ap.add_argument("--files-per-shard", type=int, default=FILES_PER_SHARD,
                    help="files whose tunes are held in memory before they are written to a shard")
    known, _ = ap.parse_known_args()
    ap.set_defaults(**recipe_defaults(known.recipe, "prepare"))
    args = ap.parse_args()
    try:
        i, n = (int(x) for x in args.shard.split("/"))
    except ValueError:
        i, n = -1, 0
    if not 0 <= i < n:
        raise SystemExit(f"--shard {args.shard}: give I/N with 0 <= I < N, e.g. 0/4")
    out = Path(args.out)
    folder = Path(args.parts) if args.parts else out.with_suffix(".parts")

    t0 = time.time()
    jobs = list_jobs(args.collections, args.midi_dir, args.limit)
    mine = jobs[i::n]
    done = read_manifests(folder)
    todo = [job for job in mine if job[2] not in done]
    print(f"{len(jobs)} files; slice {i}/{n}: {len(mine)}, of which {len(mine) - len(todo)} already done "
          f"(in {folder}), {len(todo)} to read with {args.workers} workers", flush=True)
    try:
        skipped_now = parse_all(todo, ShardWriter(folder, f"{i}of{n}", args.files_per_shard), args.workers,
                                args.file_timeout)
    except KeyboardInterrupt:
        raise SystemExit(f"stopped: {len(read_manifests(folder))} files are recorded in {folder}; "
                         "the same command goes on from there") from None
    seconds = time.time() - t0
    done = read_manifests(folder)
    entries = [done[key] for _, _, key in jobs if key in done]
    skipped = Counter(e["skipped"].split(":")[0] for e in entries if e["skipped"])
    summary = {"files": len(jobs), "read_now": len(todo), "read_before": len(mine) - len(todo),
               "skipped_now": dict(skipped_now), "files_done": len(entries), "skipped": dict(skipped),
               "clips_before_dedup": sum(e["clips"] for e in entries), "seconds": round(seconds, 1),
               "files_per_s": round(len(todo) / max(seconds, 1e-9), 2), "peak_rss_mb_reading": peak_rss_mb()}
    print(json.dumps(summary, indent=2), flush=True)
    if len(entries) < len(jobs):
        print(f"{len(jobs) - len(entries)} files are left to other slices; when every slice's files are in "
              f"{folder}, run this command again (any --shard) to write {out}")
        return

    arrays, meta = merge(folder, entries, args)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    meta.update(files=summary, seconds=round(time.time() - t0, 1), peak_rss_mb=peak_rss_mb())
    out.with_suffix(".json").write_text(json.dumps(meta, indent=2))
    print(json.dumps(meta["splits"], indent=2))
    print(f"wrote {out} in {meta['seconds']} s")


if __name__ == "__main__":
    main()
