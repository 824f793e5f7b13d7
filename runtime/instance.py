"""Module instances and the function instances they hold.

A function and the instance that defines it refer to each other (a wasm function runs
in its instance; an instance lists its functions), so both live here. Instantiation
itself, which creates them, is ``runtime/instantiate.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import EXTERNREF, FUNCREF, I32, I64, V128, FuncType

HostCallable = Callable[["ModuleInstance | None", list[Any]], list[Any]]
"""A host function at runtime level: ``(calling instance or None, args) -> results``,
both in the runtime's value representation."""


class FuncInstance:
    """A function: wasm-defined (``host is None``) or implemented by the host.

    For a wasm function, ``instance`` is its module instance, ``index`` its index in the
    module's function index space and ``code_slot`` the index of its body; ``compiled``
    caches whatever an execution engine made of it (the interpreter's compiled body, the
    JIT's ``JitFunc``). ``api`` is the embedding API's wrapper, made on demand.
    """

    __slots__ = ("type", "context", "host", "instance", "index", "code_slot", "compiled", "api")

    def __init__(
        self,
        ftype: FuncType,
        context: StoreContext,
        host: HostCallable | None = None,
        instance: ModuleInstance | None = None,
        index: int = -1,
        code_slot: int = -1,
    ) -> None:
        self.type = ftype
        self.context = context
        self.host = host
        self.instance = instance
        self.index = index
        self.code_slot = code_slot
        self.compiled: Any = None
        self.api: Any = None

    @property
    def is_host(self) -> bool:
        return self.host is not None

    @property
    def name(self) -> str | None:
        """The function's name from its module's name section, if any."""
        if self.instance is None:
            return None
        return self.instance.module.func_name(self.index)

    def __repr__(self) -> str:
        if self.host is not None:
            return f"<host function {self.type}>"
        return f"<wasm function {self.name or self.index} {self.type}>"


Extern = FuncInstance | TableInstance | MemoryInstance | GlobalInstance
"""A runtime object that can be imported or exported."""


class ModuleInstance:
    """A module instantiated in a store: its entities (imports first in each index
    space), its element and data segments (emptied when dropped) and its exports.

    ``code_cache`` is what the execution engine keeps per module and shares between the
    module's instances (the interpreter's compiled bodies); the runtime never looks
    inside it."""

    __slots__ = (
        "module",
        "context",
        "funcs",
        "tables",
        "memories",
        "globals",
        "elems",
        "datas",
        "exports",
        "code_cache",
    )

    def __init__(self, module: WasmModule, context: StoreContext, code_cache: object) -> None:
        self.module = module
        self.context = context
        self.funcs: list[FuncInstance] = []
        self.tables: list[TableInstance] = []
        self.memories: list[MemoryInstance] = []
        self.globals: list[GlobalInstance] = []
        self.elems: list[list[Any]] = []
        self.datas: list[bytes] = []
        self.exports: dict[str, Extern] = {}
        self.code_cache = code_cache

    @property
    def name(self) -> str | None:
        """The module's name from its name section (read when asked: parsing the section
        can cost milliseconds)."""
        return self.module.names.module

    @property
    def types(self) -> list[FuncType]:
        return self.module.types

    def release(self) -> None:
        """Its store is gone: drop the entities, so the cycles they form with this
        instance (a function's ``instance``, funcrefs in tables) no longer hold them."""
        self.funcs.clear()
        self.tables.clear()
        self.memories.clear()
        self.globals.clear()
        self.elems.clear()
        self.exports.clear()


def default_value(valtype: int) -> Any:
    """The zero value of a value type in the runtime representation."""
    if valtype == I32 or valtype == I64 or valtype == V128:
        return 0
    if valtype in (FUNCREF, EXTERNREF):
        return None
    return 0.0
