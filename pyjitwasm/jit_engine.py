"""The "jit" strategy of an Engine: compile modules to machine code and run them natively.

A Module is compiled once, on its first instantiation (``jit/compiler.py``), with the
runtime's symbols (``libcalls.symbol_addresses``); its machine code is released when the
Module and every instance using it are gone (instances live as long as their store).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime.functions import FuncInstance
from pyjitwasm.runtime.jit.call import invoke
from pyjitwasm.runtime.jit.callers import api_caller_for
from pyjitwasm.runtime.jit.compile_module import CompiledModule, CompileOptions, compile_module
from pyjitwasm.runtime.jit.globals import JitGlobal
from pyjitwasm.runtime.jit.instance import JitModuleInstance, instantiate
from pyjitwasm.runtime.jit.memory import JitMemory
from pyjitwasm.runtime.jit.store import JitStoreContext
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import GlobalType, MemoryType, TableType

if TYPE_CHECKING:
    from pyjitwasm.engine import Config


class JitModuleCode:
    """A module's compiled code, made on first use."""

    __slots__ = ("module", "options", "_compiled", "_lock")

    def __init__(self, module: WasmModule, options: CompileOptions) -> None:
        self.module = module
        self.options = options
        self._compiled: CompiledModule | None = None
        self._lock = threading.Lock()

    def compiled(self) -> CompiledModule:
        """The machine code (compiling it the first time)."""
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = compile_module(self.module, self.options,
                                                    symbol_addresses())
        return self._compiled


class JitBackend:
    """Everything an Engine delegates to when its strategy is "jit"."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.options = CompileOptions(heap_style=config.memory_style)

    def module_code(self, module: WasmModule) -> JitModuleCode:
        return JitModuleCode(module, self.options)

    def new_context(self) -> JitStoreContext:
        c = self.config
        return JitStoreContext(c.max_call_depth, c.max_host_nesting, c.max_wasm_stack,
                               c.memory_style, c.dynamic_memory_reserve)

    def invoke(self, func: FuncInstance, args: list[Any]) -> list[Any]:
        return invoke(func, args)

    def api_caller(self, func: FuncInstance, store: Any) -> Any:
        from pyjitwasm.values import to_python, to_raw

        return api_caller_for(func, store, to_raw, to_python)

    def new_memory(self, mtype: MemoryType, context: StoreContext) -> JitMemory:
        assert isinstance(context, JitStoreContext)
        return JitMemory(mtype, context, static=context.heap_style == "static",
                         reserve_bytes=context.dynamic_reserve)

    def new_table(self, ttype: TableType, context: StoreContext, init: Any) -> JitTable:
        assert isinstance(context, JitStoreContext)
        return JitTable(ttype, context, init)

    def new_global(self, gtype: GlobalType, value: Any, context: StoreContext) -> JitGlobal:
        assert isinstance(context, JitStoreContext)
        return JitGlobal(gtype, value, context)

    def instantiate(self, code: JitModuleCode, imports: Sequence[Any],
                    context: StoreContext) -> JitModuleInstance:
        assert isinstance(context, JitStoreContext)
        return instantiate(code.compiled(), imports, context, invoke)
