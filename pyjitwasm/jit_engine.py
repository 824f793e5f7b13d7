"""The "jit" strategy of an Engine: compile modules to machine code and run them natively.

A Module gets its code slots on its first instantiation (``runtime/jit/module_code.py``),
linked against the runtime's symbols (``libcalls.symbol_addresses``): each function is
compiled on its first call (or all at once, with ``CompileOptions(lazy=False)``); the
machine code is released when the Module and every instance using it are gone
(instances live as long as their store).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from pyjitwasm.backend import Converter
from pyjitwasm.config import Config
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.instance import Extern, FuncInstance
from pyjitwasm.runtime.jit.call import invoke
from pyjitwasm.runtime.jit.callers import api_caller_for
from pyjitwasm.runtime.jit.compile_module import CompileOptions
from pyjitwasm.runtime.jit.globals import JitGlobal
from pyjitwasm.runtime.jit.instance import instantiate
from pyjitwasm.runtime.jit.memory import JitMemory
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.jit.store import JitStoreContext
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.jit.vmctx import JitModuleInstance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import GlobalType, MemoryType, TableType


def _jit_context(context: StoreContext) -> JitStoreContext:
    if not isinstance(context, JitStoreContext):
        raise TypeError("this object belongs to a store of another engine")
    return context


class JitModule:
    """A module prepared for the JIT: its compiled code, made on first use."""

    __slots__ = ("module", "options", "_compiled", "_lock")

    def __init__(self, module: WasmModule, options: CompileOptions) -> None:
        self.module = module
        self.options = options
        self._compiled: ModuleCode | None = None
        self._lock = threading.Lock()

    def compiled(self) -> ModuleCode:
        """The module's code slots (compiling everything the first time unless the
        options say lazy: then each function compiles on its first call)."""
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    self._compiled = ModuleCode(self.module, self.options,
                                                symbol_addresses())
        return self._compiled

    def instantiate(self, imports: Sequence[Extern],
                    context: StoreContext) -> JitModuleInstance:
        return instantiate(self.compiled(), imports, context, invoke)


class JitBackend:
    """Everything an Engine delegates to when its strategy is "jit"."""

    def __init__(self, config: Config) -> None:
        self.config = config
        options = CompileOptions(heap_style=config.memory_style,
                                 opt_level=config.compile_opt_level, verify=config.verify_ir,
                                 relaxed_simd_deterministic=config.relaxed_simd_deterministic)
        if config.lazy_compilation is not None:
            options = replace(options, lazy=config.lazy_compilation)
        self.options = options

    def new_context(self) -> JitStoreContext:
        c = self.config
        return JitStoreContext(c.max_call_depth, c.max_host_nesting, c.max_wasm_stack,
                               c.memory_style, c.dynamic_memory_reserve)

    def prepare(self, module: WasmModule) -> JitModule:
        return JitModule(module, self.options)

    def invoke(self, func: FuncInstance, args: list[Any]) -> list[Any]:
        return invoke(func, args)

    def api_caller(self, func: FuncInstance, store: object, to_raw: Converter,
                   to_python: Converter) -> Callable[..., Any] | None:
        if func.host is not None:
            return None
        return api_caller_for(func, store, to_raw, to_python)

    def new_memory(self, mtype: MemoryType, context: StoreContext) -> MemoryInstance:
        ctx = _jit_context(context)
        return JitMemory(mtype, ctx, static=ctx.heap_style == "static",
                         reserve_bytes=ctx.dynamic_reserve)

    def new_table(self, ttype: TableType, context: StoreContext, init: Any) -> TableInstance:
        return JitTable(ttype, _jit_context(context), init)

    def new_global(self, gtype: GlobalType, value: Any, context: StoreContext) -> GlobalInstance:
        return JitGlobal(gtype, value, _jit_context(context))
