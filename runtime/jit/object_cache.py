"""The process's persistent store for what the runtime compiles outside any module: its
shims' objects (``shims.py``) and its per-signature Python callers' code objects
(``callers.py``).  Both are the process's, not an engine's: the first engine with a
code cache provides the store (``code_cache.CodeCache``), as long as it lives."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from types import CodeType
from typing import Protocol


class ObjectCache(Protocol):
    """Where compiled shims and callers are kept between runs."""

    def object_key(self, llvm_ir: str) -> str: ...

    def load_object(self, key: str) -> bytes | None: ...

    def store_object(self, key: str, obj: bytes) -> None: ...

    def code_object_key(self, source: str) -> str: ...

    def load_code_object(self, key: str) -> CodeType | None: ...

    def store_code_object(self, key: str, code: CodeType) -> None: ...


_object_cache: weakref.ref[ObjectCache] | None = None


def use_object_cache(cache: ObjectCache) -> None:
    """Keep shims and callers in ``cache`` while it lives."""
    global _object_cache
    if _object_cache is None or _object_cache() is None:
        _object_cache = weakref.ref(cache)


def object_cache() -> ObjectCache | None:
    """The store in use, if any."""
    return _object_cache() if _object_cache is not None else None


def compiled_source(source: str, filename: str) -> CodeType:
    """``compile(source, filename, "exec")``, through the store when there is one (a
    warm start then unmarshals a caller's code instead of compiling ~30 lines of Python,
    0.05 ms against 0.4)."""
    cache = object_cache()
    key = cache.code_object_key(source) if cache is not None else ""
    code = cache.load_code_object(key) if cache is not None else None
    if code is None:
        code = compile(source, filename, "exec")
        if cache is not None:
            cache.store_code_object(key, code)
    return code


def compiled_template(name: str, make_source: Callable[[], str], filename: str) -> CodeType:
    """:func:`compiled_source` of ``make_source()``, kept under ``name`` rather than
    under the source's digest: ``name`` must say everything the source depends on but
    the compiler's own code (a per-signature caller: its kind and signature; the
    store's key names the compiler build).  A warm start then neither generates the
    source nor hashes it (~25 us of a program's first call)."""
    cache = object_cache()
    if cache is None:
        return compile(make_source(), filename, "exec")
    key = cache.code_object_key(f"template {name}")  # (no source begins so)
    code = cache.load_code_object(key)
    if code is None:
        code = compile(make_source(), filename, "exec")
        cache.store_code_object(key, code)
    return code


__all__ = ["ObjectCache", "compiled_source", "compiled_template", "object_cache",
           "use_object_cache"]
