"""Per-file results of a data preparation, kept on disk as shards plus a manifest.

A folder holds, for each slice ``i`` of ``n`` (``--shard i/n``; one run is slice 0 of 1):

- ``shard-{i}of{n}-{k}.npz``: the tunes of a few hundred files: their tokens end to end (uint8: ids
  are < 130), their lengths and their tune ids;
- ``manifest-{i}of{n}.jsonl``: one line per file read: its key, its shard, its tune ids, and the
  reason when it gave no tune.

A shard is written before its manifest lines, so a run stopped at any point leaves only files that
are either fully recorded or absent: the next run reads the absent ones. Slices written on several
machines merge by copying their folders' files into one folder.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

FILES_PER_SHARD = 256  # files whose results are held in memory before they are written


class ShardWriter:
    """Collects the results of files and writes them every ``every`` files.

    Args:
        folder: the parts folder (created).
        part: the slice's name, e.g. ``"0of1"``.
        every: files per shard; memory holds at most this many files' tunes.
    """

    def __init__(self, folder: Path, part: str, every: int = FILES_PER_SHARD):
        self.folder, self.part, self.every = Path(folder), part, every
        self.folder.mkdir(parents=True, exist_ok=True)
        taken = [int(p.stem.rsplit("-", 1)[1]) for p in self.folder.glob(f"shard-{part}-*.npz")]
        self.next_index = max(taken, default=-1) + 1  # orphans of a stopped run are never overwritten
        self.manifest = self.folder / f"manifest-{part}.jsonl"
        if self.manifest.exists() and self.manifest.stat().st_size:
            with open(self.manifest, "rb+") as f:  # a line cut short by a stop: end it, so the next stands alone
                f.seek(-1, 2)
                if f.read(1) != b"\n":
                    f.write(b"\n")
        self.entries: list[dict] = []
        self.tunes: list[tuple[str, np.ndarray]] = []

    def add(self, key: str, tunes: list[tuple[str, np.ndarray]], info: dict) -> None:
        """Record one file: ``tunes`` [(tune_id, tokens (T,))], ``info`` any JSON fields (e.g. ``skipped``)."""
        self.entries.append({"file": key, "tunes": [tid for tid, _ in tunes], **info})
        self.tunes += tunes
        if len(self.entries) >= self.every:
            self.flush()

    def flush(self) -> None:
        """Write the shard (if any tune) and then the manifest lines of the files collected so far."""
        if not self.entries:
            return
        shard = None
        if self.tunes:
            shard = f"shard-{self.part}-{self.next_index:05d}.npz"
            self.next_index += 1
            tokens = np.concatenate([t for _, t in self.tunes])
            if tokens.size and (tokens.min() < 0 or tokens.max() > 255):
                raise ValueError("token ids must fit a byte (0-255) to be stored in a shard")
            tmp = self.folder / f".tmp-{shard}"
            np.savez(tmp, tokens=tokens.astype(np.uint8), lengths=np.array([len(t) for _, t in self.tunes]),
                     tune_ids=np.array([tid for tid, _ in self.tunes]))
            tmp.rename(self.folder / shard)
        with open(self.manifest, "a") as f:
            f.writelines(json.dumps({**e, "shard": shard if e["tunes"] else None}) + "\n" for e in self.entries)
        self.entries, self.tunes = [], []


def read_manifests(folder: Path) -> dict[str, dict]:
    """Every file recorded in ``folder``'s manifests, by key (a line cut short by a stop is ignored)."""
    done = {}
    for path in sorted(Path(folder).glob("manifest-*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[entry["file"]] = entry
    return done


def read_tunes(folder: Path, entries: Iterable[dict]) -> Iterator[tuple[str, np.ndarray]]:
    """The tunes (tune_id, tokens uint8 (T,)) of manifest ``entries``, one shard in memory at a time."""
    wanted: dict[str, set[str]] = {}
    for entry in entries:
        if entry["tunes"]:
            wanted.setdefault(entry["shard"], set()).update(entry["tunes"])
    for shard, ids in sorted(wanted.items()):
        arrays = _read_shard(Path(folder) / shard)
        tokens, lengths, tune_ids = arrays["tokens"], arrays["lengths"], arrays["tune_ids"]
        ends = np.cumsum(lengths)
        for tid, end, length in zip(tune_ids.tolist(), ends, lengths):
            if tid in ids:
                yield tid, tokens[end - length : end].copy()  # a copy: the shard's array is let go


def _read_shard(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a shard (an .npz written by np.savez), read with pickling refused (the library never unpickles)."""
    with zipfile.ZipFile(path) as archive:
        return {name.removesuffix(".npy"): np.lib.format.read_array(archive.open(name), allow_pickle=False)
                for name in archive.namelist()}
