"""The code cache's size limit (``runtime/jit/cache_cleanup.py``): least recently used
entries go first, a hit counts as a use, and a cleanup runs at most once per interval."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from pyjitwasm import Config, WasmtimeError
from pyjitwasm.runtime.jit import cache_cleanup
from pyjitwasm.runtime.jit.cache_cleanup import (
    LOW_WATER,
    cache_entries,
    cleanup,
    cleanup_due,
    parse_size,
)
from pyjitwasm.runtime.jit.code_cache import open_code_cache
from pyjitwasm.runtime.jit.fingerprint import FORMAT_VERSION

FINGERPRINT = {"test": "cleanup"}


def _fill(root: Path, count: int, size: int) -> list[Path]:
    """``count`` entries of ``size`` bytes, the first the least recently used."""
    paths = []
    now = time.time()
    for i in range(count):
        path = root / f"{i:02x}" / f"entry{i}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        os.utime(path, (now - 1000 + i, now - 1000 + i))
        paths.append(path)
    return paths


def test_sizes_parse_as_wasmtime_writes_them() -> None:
    assert parse_size("1Gi") == 1 << 30
    assert parse_size("512Mi") == 512 << 20
    assert parse_size("10K") == 10_000
    assert parse_size("4096") == parse_size(4096) == 4096
    for bad in ("", "1.5G", "-3", "12 parsecs"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_a_cache_over_its_limit_loses_its_least_recently_used_entries(
        tmp_path: Path) -> None:
    paths = _fill(tmp_path, 10, 1000)
    assert cleanup(tmp_path, 20_000) == 0  # within the limit: nothing goes
    freed = cleanup(tmp_path, 5000)
    kept = [p for p in paths if p.exists()]
    assert freed == 10_000 - 1000 * len(kept)
    assert sum(size for _, size, _ in cache_entries(tmp_path)) <= 5000 * LOW_WATER
    assert kept == paths[-len(kept):]  # the newest stay


def test_a_hit_makes_an_entry_recently_used(tmp_path: Path) -> None:
    cache = open_code_cache(tmp_path, FINGERPRINT)
    assert cache is not None
    cache.store_note("a" * 64)
    cache.store_note("b" * 64)
    root = tmp_path / f"v{FORMAT_VERSION}"
    old = time.time() - 5000
    for path in (cache._path("a" * 64), cache._path("b" * 64)):  # noqa: SLF001
        os.utime(path, (old, old))
    assert cache.has_note("a" * 64)  # a hit: "a" is now the most recent
    # One entry's worth of room: "b" goes, "a" stays.
    size = cache._path("a" * 64).stat().st_size  # noqa: SLF001
    cleanup(root, size + size // 2)
    assert cache.has_note("a" * 64) and not cache.has_note("b" * 64)


def test_a_cleanup_runs_at_most_once_per_interval(tmp_path: Path) -> None:
    assert cleanup_due(tmp_path, interval=3600)
    assert not cleanup_due(tmp_path, interval=3600)
    assert cleanup_due(tmp_path, interval=0)


def test_opening_a_cache_cleans_it_up_when_due(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / f"v{FORMAT_VERSION}"
    paths = _fill(root, 8, 1000)
    started = []
    real = cache_cleanup.cleanup_in_background

    def spy(where: Path, limit: int):  # type: ignore[no-untyped-def]
        thread = real(where, limit)
        started.append(thread)
        return thread

    monkeypatch.setattr("pyjitwasm.runtime.jit.code_cache.cleanup_in_background", spy)
    assert open_code_cache(tmp_path, FINGERPRINT, size_limit=4000) is not None
    assert started[0] is not None
    started[0].join(30)
    assert not paths[0].exists() and paths[-1].exists()
    # Checked just now: the next process to open it leaves it alone.
    assert open_code_cache(tmp_path, FINGERPRINT, size_limit=10) is not None
    assert started[1] is None and paths[-1].exists()


def test_the_limit_comes_from_a_wasmtime_cache_configuration(tmp_path: Path) -> None:
    toml = tmp_path / "cache.toml"
    toml.write_text(f'[cache]\ndirectory = "{tmp_path}"\n'
                    'files-total-size-soft-limit = "256Mi"\n')
    config = Config()
    config.cache = str(toml)
    assert config.cache_size_limit == 256 << 20
    toml.write_text('[cache]\nfiles-total-size-soft-limit = "lots"\n')
    with pytest.raises(WasmtimeError, match="files-total-size-soft-limit"):
        Config().cache = str(toml)
