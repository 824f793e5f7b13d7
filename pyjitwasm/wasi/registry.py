"""The table of WASI function implementations and their wasm signatures.

Each implementation is a Python function named like its import, taking the store's
WasiContext, the caller's GuestMemory and the wasm arguments (unsigned), and returning
nothing on success; failures raise WasiErrno (or OSError, mapped to an errno).
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, NamedTuple

Impl = Callable[..., Any]


class WasiFunction(NamedTuple):
    """One import: ``params`` spells its parameter types (``i`` i32, ``I`` i64);
    ``returns_errno`` is False only for proc_exit."""

    name: str
    params: str
    returns_errno: bool
    impl: Impl


FUNCTIONS: dict[str, WasiFunction] = {}


def wasi_function(params: str, returns_errno: bool = True) -> Callable[[Impl], Impl]:
    """Register the decorated implementation under its own name."""

    def register(impl: Impl) -> Impl:
        FUNCTIONS[impl.__name__] = WasiFunction(impl.__name__, params, returns_errno, impl)
        return impl

    return register


# Encoders of the structures the host writes (layouts in constants.py).
FDSTAT = struct.Struct("<BxHxxxxQQ")
FILESTAT = struct.Struct("<QQB7xQQQQQ")
DIRENT = struct.Struct("<QQIB3x")
PRESTAT = struct.Struct("<B3xI")
SUBSCRIPTION = struct.Struct("<QB7xI4xQQH6x")
EVENT = struct.Struct("<QHB5xQH6x")
