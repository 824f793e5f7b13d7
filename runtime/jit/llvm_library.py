"""Where llvmlite's LLVM library is, found without importing ``llvmlite.binding`` (which
loads it): for the build fingerprint (``fingerprint.py``) and for loading it ahead of the
import without the GIL (``tiering.py``)."""

from __future__ import annotations

import importlib.util
import os
from functools import cache

from pyjitwasm.runtime.native import preload_library, release_file_pages


@cache
def llvm_library_path() -> str | None:
    """The LLVM library file ``llvmlite.binding`` loads, or None when it is not where
    llvmlite keeps it (next to its ``binding`` package)."""
    spec = importlib.util.find_spec("llvmlite")
    if spec is None or not spec.origin:
        return None
    binding = os.path.join(os.path.dirname(spec.origin), "binding")
    try:
        names = sorted(name for name in os.listdir(binding) if "llvmlite" in name
                       and name.rsplit(".", 1)[-1] in ("so", "dylib", "dll"))
    except OSError:
        return None
    return os.path.join(binding, names[0]) if names else None


def preload_llvm_library() -> None:
    """Load LLVM's library before ``llvmlite.binding`` is imported on this thread, with
    the GIL released (a background compile's first step; nothing if it is unknown)."""
    path = llvm_library_path()
    if path is not None:
        preload_library(path)


@cache
def _mapped_llvm_library_path() -> str | None:
    path = llvm_library_path()
    return os.path.realpath(path) if path is not None else None


def release_llvm_library_pages() -> int:
    """Drop LLVM's library pages that this process only read from its resident set; the
    KiB dropped (0 when the library or /proc/self/smaps is unknown).

    LLVM's library is ~150 MiB of file. Loading it touches ~40 MiB (its static
    initializers run code and read data all over it) and a compile another ~30 MiB; the
    kernel keeps all of it mapped, so a program that tiered up once carries ~70 MiB of
    LLVM in its resident set for the rest of its life. The pages stay in the page cache,
    so a later compile maps the ones it needs again for a page fault each."""
    path = _mapped_llvm_library_path()
    if path is None:
        return 0
    try:
        return release_file_pages(path)
    except OSError:  # no /proc: the pages stay, which costs memory, not correctness
        return 0
