"""The "interp" strategy of an Engine: run modules on the reference interpreter.

Each function body is compiled to the interpreter's code on its first call, once per
module (``InterpModule.code`` is shared by every instance).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pyjitwasm.backend import Converter, PreparedModule
from pyjitwasm.config import Config
from pyjitwasm.interp import ModuleCode
from pyjitwasm.interp import invoke as interp_invoke
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.instance import Extern, FuncInstance, ModuleInstance
from pyjitwasm.runtime.instantiation import PlainAllocator, instantiate
from pyjitwasm.runtime.memory import BytearrayMemory, MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import ListTable, TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import GlobalType, MemoryType, TableType
from pyjitwasm.wasm.validator import validate_module

_ALLOCATOR = PlainAllocator()


class InterpModule:
    """A module prepared for the interpreter: its compiled-body cache."""

    __slots__ = ("module", "code")

    def __init__(self, module: WasmModule) -> None:
        self.module = module
        self.code = ModuleCode(module)

    def instantiate(self, imports: Sequence[Extern], context: StoreContext) -> ModuleInstance:
        return instantiate(self.module, self.code, imports, context, _ALLOCATOR, interp_invoke)


class InterpBackend:
    """Everything an Engine delegates to when its strategy is "interp"."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def new_context(self) -> StoreContext:
        return StoreContext(self.config.max_call_depth, self.config.max_host_nesting)

    def validate(self, module: WasmModule, wasm: bytes) -> None:
        validate_module(module)

    def prepare(self, module: WasmModule, wasm: bytes | None = None) -> InterpModule:
        return InterpModule(module)

    def code_fingerprint(self) -> dict[str, str]:
        # Bodies are compiled per process: a serialized module is the wasm alone.
        import pyjitwasm

        return {"engine": "interp", "pyjitwasm": pyjitwasm.__version__,
                "setting.features": repr(self.config.features)}

    def serialize_code(self, prepared: PreparedModule, wasm: bytes, jobs: int | None = None,
                       progress: Callable[[int, int], None] | None = None) -> list[bytes]:
        return []

    def prepare_serialized(self, module: WasmModule, wasm: bytes,
                           code: list[bytes]) -> InterpModule:
        return InterpModule(module)

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
