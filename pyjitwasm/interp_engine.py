"""The "interp" strategy of an Engine: run modules on the reference interpreter.

Each function body is compiled to the interpreter's code on its first call, once per
module (``InterpModule.code`` is shared by every instance).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pyjitwasm.backend import Converter
from pyjitwasm.config import Config
from pyjitwasm.interp import ModuleCode
from pyjitwasm.interp import invoke as interp_invoke
from pyjitwasm.interp.metering import Metering
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.instance import Extern, FuncInstance, ModuleInstance
from pyjitwasm.runtime.instantiation import PlainAllocator, instantiate
from pyjitwasm.runtime.interrupts import EpochCounter
from pyjitwasm.runtime.memory import BytearrayMemory, MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import ListTable, TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import GlobalType, MemoryType, TableType

_ALLOCATOR = PlainAllocator()


class InterpModule:
    """A module prepared for the interpreter: its compiled-body cache."""

    __slots__ = ("module", "code")

    def __init__(self, module: WasmModule, metering: Metering | None = None) -> None:
        self.module = module
        self.code = ModuleCode(module, metering)

    def instantiate(self, imports: Sequence[Extern], context: StoreContext) -> ModuleInstance:
        return instantiate(self.module, self.code, imports, context, _ALLOCATOR, interp_invoke)


class InterpBackend:
    """Everything an Engine delegates to when its strategy is "interp"."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.epoch = EpochCounter()
        self.metering = Metering(fuel=config.consume_fuel, epoch=config.epoch_interruption)

    def new_context(self) -> StoreContext:
        c = self.config
        return StoreContext(c.max_call_depth, c.max_host_nesting, self.epoch,
                            c.consume_fuel, c.epoch_interruption)

    def prepare(self, module: WasmModule) -> InterpModule:
        return InterpModule(module, self.metering)

    def invoke(self, func: FuncInstance, args: list[Any]) -> list[Any]:
        return interp_invoke(func, args)

    def api_caller(self, func: FuncInstance, store: object, to_raw: Converter,
                   to_python: Converter) -> Callable[..., Any] | None:
        return None

    def new_memory(self, mtype: MemoryType, context: StoreContext) -> MemoryInstance:
        return BytearrayMemory(mtype, context)

    def new_table(self, ttype: TableType, context: StoreContext, init: Any) -> TableInstance:
        return ListTable(ttype, context, init)

    def new_global(self, gtype: GlobalType, value: Any, context: StoreContext) -> GlobalInstance:
        return GlobalInstance(gtype, value, context)
