"""Keeping the code cache within a size: the least recently used entries go first.

Every lazily compiled batch, tier-up and plan-log line of every module ever run adds to
the cache, so without a bound it only grows (CPython for WASI: about 1,200 entries and
tens of MB per run that reaches new code).  Like Wasmtime's cache, the bound is a soft
limit on the total size (``DEFAULT_SIZE_LIMIT``; ``files-total-size-soft-limit`` in a
Wasmtime-shaped TOML cache configuration, or ``$PYJITWASM_CACHE_SIZE_LIMIT``), checked
at most once per ``CLEANUP_INTERVAL`` by whichever process opens the cache then, on a
background thread: when the entries exceed the limit, the oldest by modification time
are deleted until they fill ``LOW_WATER`` of it.  A cache hit touches its entry
(``CodeCache._read``), so "oldest" means least recently used.

Deleting an entry another process is reading is harmless: the reader has the file open,
or finds it missing and compiles again, as for any miss.
"""

from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path

DEFAULT_SIZE_LIMIT = 1 << 30
"""Bytes of entries the cache keeps by default (Wasmtime's default soft limit)."""
CLEANUP_INTERVAL = 3600.0
"""Seconds between two size checks of one cache directory."""
LOW_WATER = 0.8
"""A cleanup deletes entries until they take this fraction of the limit."""
MARKER = ".last-cleanup"
SIZE_LIMIT_ENV = "PYJITWASM_CACHE_SIZE_LIMIT"

_UNITS = {"": 1, "k": 10**3, "ki": 2**10, "m": 10**6, "mi": 2**20, "g": 10**9,
          "gi": 2**30, "t": 10**12, "ti": 2**40}


def parse_size(text: str | int) -> int:
    """A size as Wasmtime's cache configuration writes it: bytes, or a number with a
    unit (``K``, ``Ki``, ``M``, ``Mi``, ``G``, ``Gi``, ``T``, ``Ti``); ValueError
    otherwise."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise ValueError(f"negative size {text}")
        return text
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgGtT]i?)?\s*", str(text))
    if match is None:
        raise ValueError(f"not a size: {text!r} (expected e.g. 1073741824, 512Mi, 1Gi)")
    return int(match.group(1)) * _UNITS[(match.group(2) or "").lower()]


def default_size_limit() -> int:
    """``$PYJITWASM_CACHE_SIZE_LIMIT`` if set (and valid), else ``DEFAULT_SIZE_LIMIT``."""
    value = os.environ.get(SIZE_LIMIT_ENV, "").strip()
    if value:
        try:
            return parse_size(value)
        except ValueError:
            pass
    return DEFAULT_SIZE_LIMIT


def cache_entries(root: Path) -> list[tuple[float, int, Path]]:
    """(modification time, size, path) of every entry under ``root`` (the cache's
    ``v<FORMAT_VERSION>`` directory); temporary and marker files are not entries."""
    entries: list[tuple[float, int, Path]] = []
    try:
        shards = list(os.scandir(root))
    except OSError:
        return entries
    for shard in shards:
        if shard.name.startswith(".") or not shard.is_dir(follow_symlinks=False):
            continue
        try:
            files = list(os.scandir(shard.path))
        except OSError:
            continue
        for entry in files:
            if entry.name.startswith("."):
                continue
            try:
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            entries.append((stat.st_mtime, stat.st_size, Path(entry.path)))
    return entries


def cleanup(root: Path, limit: int) -> int:
    """Delete the least recently used entries under ``root`` until they take at most
    ``LOW_WATER * limit`` bytes, when they take more than ``limit``; the bytes deleted."""
    entries = cache_entries(root)
    total = sum(size for _, size, _ in entries)
    if total <= limit:
        return 0
    target = int(limit * LOW_WATER)
    freed = 0
    for _, size, path in sorted(entries):
        if total - freed <= target:
            break
        try:
            path.unlink()
        except OSError:
            continue
        freed += size
    return freed


def cleanup_due(root: Path, interval: float = CLEANUP_INTERVAL) -> bool:
    """Whether ``root`` was not checked for ``interval`` seconds; if so, mark it checked
    now (so that of several processes starting together one does the work)."""
    marker = root / MARKER
    try:
        if time.time() - marker.stat().st_mtime < interval:
            return False
    except OSError:
        pass  # never checked
    try:
        marker.touch()
    except OSError:
        return False
    return True


def cleanup_in_background(root: Path, limit: int) -> threading.Thread | None:
    """Start a cleanup of ``root`` on a daemon thread when one is due; the thread, or
    None."""
    if not cleanup_due(root):
        return None
    thread = threading.Thread(target=cleanup, args=(root, limit), daemon=True,
                              name="pyjitwasm-cache-cleanup")
    thread.start()
    return thread


__all__ = ["CLEANUP_INTERVAL", "DEFAULT_SIZE_LIMIT", "LOW_WATER", "SIZE_LIMIT_ENV",
           "cache_entries", "cleanup", "cleanup_due", "cleanup_in_background",
           "default_size_limit", "parse_size"]
