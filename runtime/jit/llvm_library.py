"""Where llvmlite's LLVM library is, found without importing ``llvmlite.binding`` (which
loads it): for the build fingerprint (``fingerprint.py``) and for loading it ahead of the
import without the GIL (``tiering.py``)."""

from __future__ import annotations

import importlib.util
import os
from functools import cache

from pyjitwasm.runtime.native import preload_library


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
