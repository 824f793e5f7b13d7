"""Where the code cache lives: ``Config.cache``'s values, the environment variable and
the default directory.  Kept apart from the cache itself (``runtime/jit/code_cache.py``)
so configuring it loads no LLVM.

``Config.cache = True`` uses the default directory: ``$PYJITWASM_CACHE`` when it names a
directory, else ``$XDG_CACHE_HOME/pyjitwasm`` (``~/.cache/pyjitwasm``).
``PYJITWASM_CACHE=0`` (or ``false``, ``no``, ``off``) turns the default off: ``True``
then caches nothing, and neither does ``pyjitwasm run``; the test suite sets it, so no
test writes to the user's cache.  An explicit location always applies: a directory, or
a TOML file in Wasmtime's cache configuration shape (its other keys, about
compression and cleanup intervals, are accepted and ignored)::

    [cache]
    directory = "/some/path"  # optional; the default directory otherwise
    enabled = false           # optional (older Wasmtime versions): turns the cache off
    files-total-size-soft-limit = "512Mi"  # optional; 1 GiB, or $PYJITWASM_CACHE_SIZE_LIMIT

The size limit is kept by deleting the least recently used entries
(``runtime/jit/cache_cleanup.py``).
"""

from __future__ import annotations

import os
from pathlib import Path

from pyjitwasm.runtime.jit.cache_cleanup import default_size_limit, parse_size

CACHE_ENV = "PYJITWASM_CACHE"
_OFF = ("0", "false", "no", "off")


def default_cache_off() -> bool:
    """Whether ``$PYJITWASM_CACHE`` turns the default cache off."""
    return os.environ.get(CACHE_ENV, "").strip().lower() in _OFF


def default_cache_directory() -> Path | None:
    """The directory ``Config.cache = True`` means, or None when the environment turns
    the default cache off."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in _OFF:
        return None
    if value and value.lower() not in ("1", "true", "yes", "on"):
        return Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "pyjitwasm"


def cache_size_limit_of(setting: bool | str | os.PathLike[str]) -> int:
    """The size limit (bytes) a ``Config.cache`` value selects: a TOML configuration's
    ``files-total-size-soft-limit``, else the default (``cache_cleanup``).  ValueError
    for a size that does not parse."""
    if isinstance(setting, bool) or not Path(setting).expanduser().is_file():
        return default_size_limit()
    section = _cache_section(Path(setting).expanduser(), setting)
    value = section.get("files-total-size-soft-limit")
    if value is None:
        return default_size_limit()
    try:
        if not isinstance(value, str | int):
            raise ValueError(f"not a size: {value!r}")
        return parse_size(value)
    except ValueError as exc:
        raise ValueError(f"cache configuration {os.fspath(setting)!r}: "
                         f"files-total-size-soft-limit: {exc}") from None


def _cache_section(path: Path, setting: str | os.PathLike[str]) -> dict[str, object]:
    import tomllib  # here: only a cache configuration file needs it

    try:
        config = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cache configuration {os.fspath(setting)!r}: {exc}") from exc
    section = config.get("cache", {})
    if not isinstance(section, dict):
        raise ValueError(f"cache configuration {os.fspath(setting)!r}: [cache] is not a table")
    return section


def cache_directory_of(setting: bool | str | os.PathLike[str]) -> Path | None:
    """The cache directory a ``Config.cache`` value selects (None: no cache).  A path
    must be an existing directory or a TOML configuration file; ValueError otherwise."""
    if setting is True:
        return default_cache_directory()
    if setting is False:
        return None
    path = Path(setting).expanduser()
    if path.is_dir():
        return path
    if not path.is_file():
        raise ValueError(f"cache: {os.fspath(setting)!r} is neither a directory nor a "
                         "cache configuration file")
    section = _cache_section(path, setting)
    if section.get("enabled", True) is False:
        return None
    directory = section.get("directory")
    if directory is None:
        return default_cache_directory()
    if not isinstance(directory, str):
        raise ValueError(f"cache configuration {os.fspath(setting)!r}: directory must be "
                         "a string")
    return (path.parent / Path(directory).expanduser()).resolve()
