"""WASI preview 1 for hosts: the wasi_snapshot_preview1 imports a command module needs.

Usage mirrors wasmtime-py::

    config = WasiConfig()
    config.argv = ["prog", "arg"]
    config.inherit_stdout()
    config.preopen_dir("/tmp/data", "data")
    set_wasi(store, config)          # store.set_wasi(config)
    define_wasi(linker)              # linker.define_wasi()
    linker.instantiate(store, module).exports(store)["_start"](store)

``proc_exit`` raises ``ExitTrap`` (with ``.code``), which is not a ``Trap``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pyjitwasm.wasi.config import DirPerms, FilePerms, WasiConfig
from pyjitwasm.wasi.constants import Errno
from pyjitwasm.wasi.context import set_wasi, wasi_context
from pyjitwasm.wasi.errors import ExitTrap
from pyjitwasm.wasi.memory import MissingMemoryError

if TYPE_CHECKING:
    from pyjitwasm.wasi.bindings import define_wasi, function_names

# The host functions (``bindings``: the fd, path, poll and process calls) load on first
# use, from ``define_wasi`` (what ``Linker.define_wasi`` calls): an embedding that never
# links WASI does not import them (~4 ms at ``import pyjitwasm``).
_FROM_BINDINGS = ("define_wasi", "function_names")


def __getattr__(name: str) -> Any:
    if name in _FROM_BINDINGS:
        from pyjitwasm.wasi import bindings

        return getattr(bindings, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DirPerms",
    "Errno",
    "FilePerms",
    "ExitTrap",
    "MissingMemoryError",
    "WasiConfig",
    "define_wasi",
    "function_names",
    "set_wasi",
    "wasi_context",
]
