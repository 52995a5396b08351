"""A folder of content-addressed output folders on disk, bounded in bytes: the least recently used go first.

``vae.render`` writes each output file to ``<folder>/<digest>/<name>`` and reports the bytes here; a
folder's modification time is when it was last handed out (``ui.store.write_output`` touches it).
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

_lock = threading.Lock()
_sizes: dict[Path, int] = {}  # bytes under each folder, counted as files are written (one tally per process)


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under ``folder`` (0 when it does not exist)."""
    folder = Path(folder)
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def prune(folder: Path, keep_bytes: int, grace: float) -> int:
    """Drop the least recently used sub-folders of ``folder`` until at most ``keep_bytes`` remain, never one
    used in the last ``grace`` seconds (the page may still fetch its files). Returns the bytes that remain."""
    entries = []
    for sub in Path(folder).iterdir() if Path(folder).exists() else ():
        try:
            entries.append((sub.stat().st_mtime, folder_bytes(sub), sub))
        except OSError:  # dropped meanwhile by another process
            continue
    total, now = sum(size for _, size, _ in entries), time.time()
    for used, size, sub in sorted(entries, key=lambda e: e[0]):
        if total <= keep_bytes or used > now - grace:
            break
        shutil.rmtree(sub, ignore_errors=True)
        total -= size
    return total


def added(folder: Path, n_bytes: int, limit: int, grace: float) -> None:
    """Count ``n_bytes`` just written under ``folder``; past ``limit``, prune it to three quarters of it
    (so that a scan of the folder is rare). Other processes' files are counted at the next scan."""
    folder = Path(folder)
    with _lock:
        if folder not in _sizes:
            _sizes[folder] = folder_bytes(folder)
        else:
            _sizes[folder] += n_bytes
        if _sizes[folder] > limit:
            _sizes[folder] = prune(folder, limit * 3 // 4, grace)
