"""pyjitwasm: a WebAssembly JIT compiler and runtime for Python hosts.

The component folders of the repository (``wasm/``, ``ir/``, ``jit/``, ``runtime/``,
``libcalls/``, ``interp/``) install as subpackages of this package. The embedding API
below follows wasmtime-py's shapes, so host code ports by changing the import.
"""

from __future__ import annotations

import os as _os

# Run from a source checkout without installing (``python -m pyjitwasm`` in the repo root
# puts the checkout first on sys.path): the component folders sit beside this package, so
# extend the package path to the checkout root, which maps them exactly as installing does.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "wasm")) and _os.path.isfile(
    _os.path.join(_root, "wasm", "decoder.py")
):
    __path__.append(_root)  # type: ignore[name-defined]  # noqa: F821

from .engine import Config, Engine  # noqa: E402
from .externs import Caller, Func, Global, Memory, Table  # noqa: E402
from .instance import Instance, InstanceExports  # noqa: E402
from .linker import Linker  # noqa: E402
from .module import Module  # noqa: E402
from .runtime.errors import Frame, InstantiationError, LinkError, Trap  # noqa: E402
from .store import Store  # noqa: E402
from .valtypes import (  # noqa: E402
    ExportType,
    FuncType,
    GlobalType,
    ImportType,
    Limits,
    MemoryType,
    TableType,
    ValType,
)
from .values import Val  # noqa: E402
from .wasi import ExitTrap, WasiConfig  # noqa: E402
from .wasm.errors import DecodeError, UnsupportedFeatureError, ValidationError, WasmError  # noqa: E402
from .wasm.traps import TrapCode  # noqa: E402
from .wat import WatError, wat2wasm  # noqa: E402

WasmtimeError = WasmError
"""Alias so code written for wasmtime-py ports by changing the import."""

__version__ = "0.1.0"

__all__ = [
    "Caller",
    "Config",
    "DecodeError",
    "Engine",
    "ExitTrap",
    "ExportType",
    "Frame",
    "Func",
    "FuncType",
    "Global",
    "GlobalType",
    "ImportType",
    "Instance",
    "InstanceExports",
    "InstantiationError",
    "Limits",
    "LinkError",
    "Linker",
    "Memory",
    "MemoryType",
    "Module",
    "Store",
    "Table",
    "TableType",
    "Trap",
    "TrapCode",
    "UnsupportedFeatureError",
    "Val",
    "ValType",
    "ValidationError",
    "WasiConfig",
    "WasmError",
    "WasmtimeError",
    "WatError",
    "wat2wasm",
]
