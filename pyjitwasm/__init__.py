"""pyjitwasm: a WebAssembly JIT compiler and runtime for Python hosts.

The component folders of the repository (``wasm/``, ``ir/``, ``jit/``, ``runtime/``,
``libcalls/``, ``interp/``) install as subpackages of this package. The embedding API
below follows wasmtime-py's shapes, so host code ports by changing the import.
"""

from __future__ import annotations

from pyjitwasm.artifact import ArtifactError, CorruptArtifactError, IncompatibleArtifactError
from pyjitwasm.config import Config
from pyjitwasm.engine import Engine
from pyjitwasm.errors import (
    ArgumentTypeError,
    UnsupportedConfigError,
    WasmIndexError,
    WasmTypeError,
    WasmValueError,
)
from pyjitwasm.externs import Caller, Func, Global, Memory, Table
from pyjitwasm.instance import Instance, InstanceExports
from pyjitwasm.linker import InstancePre, Linker
from pyjitwasm.module import Module
from pyjitwasm.runtime.errors import Frame, InstantiationError, LinkError, Trap
from pyjitwasm.store import Store
from pyjitwasm.valtypes import (
    ExportType,
    FuncType,
    GlobalType,
    ImportType,
    Limits,
    MemoryType,
    TableType,
    ValType,
)
from pyjitwasm.values import Val
from pyjitwasm.wasi import DirPerms, ExitTrap, FilePerms, WasiConfig
from pyjitwasm.wasm.errors import DecodeError, UnsupportedFeatureError, ValidationError, WasmError
from pyjitwasm.wasm.traps import TrapCode
from pyjitwasm.wat import WatError, wat2wasm

WasmtimeError = WasmError
"""Alias so code written for wasmtime-py ports by changing the import."""

__version__ = "0.1.0"

__all__ = [
    "ArgumentTypeError",
    "ArtifactError",
    "Caller",
    "Config",
    "CorruptArtifactError",
    "DecodeError",
    "DirPerms",
    "Engine",
    "ExitTrap",
    "ExportType",
    "FilePerms",
    "Frame",
    "Func",
    "FuncType",
    "Global",
    "GlobalType",
    "ImportType",
    "IncompatibleArtifactError",
    "Instance",
    "InstanceExports",
    "InstancePre",
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
    "UnsupportedConfigError",
    "UnsupportedFeatureError",
    "Val",
    "ValType",
    "ValidationError",
    "WasiConfig",
    "WasmError",
    "WasmIndexError",
    "WasmTypeError",
    "WasmValueError",
    "WasmtimeError",
    "WatError",
    "wat2wasm",
]
