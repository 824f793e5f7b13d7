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
from pyjitwasm.interp.metering import Metering
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.images import MemoryImage, build_images
from pyjitwasm.runtime.instance import Extern, FuncInstance, ModuleInstance
from pyjitwasm.runtime.instantiation import InstantiationPlan, PlainAllocator, instantiate
from pyjitwasm.runtime.interrupts import EpochCounter
from pyjitwasm.runtime.memory import BytearrayMemory, MemoryInstance
from pyjitwasm.runtime.pooling import InstancePool, PooledPlainAllocator
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import ListTable, TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import GlobalType, MemoryType, TableType
from pyjitwasm.wasm.validator import EarlyBodyChecks, validate_module

_ALLOCATOR = PlainAllocator()


class InterpModule:
    """A module prepared for the interpreter: its compiled-body cache."""

    __slots__ = ("module", "code", "allocator", "images", "plan")

    def __init__(self, module: WasmModule, allocator: PlainAllocator = _ALLOCATOR,
                 metering: Metering | None = None) -> None:
        self.module = module
        self.code = ModuleCode(module, metering)
        # Instance allocation: on-demand or pooled, and the memory images (images.py),
        # built on the first instantiation (Module() stays as fast as before).
        self.allocator = allocator
        self.images: tuple[MemoryImage, ...] | None = None
        self.plan: InstantiationPlan | None = None

    def instantiate(self, imports: Sequence[Extern], context: StoreContext) -> ModuleInstance:
        images = self.images
        if images is None:
            images = self.images = build_images(self.module)
        plan = self.plan
        if plan is None:
            plan = self.plan = InstantiationPlan(self.module)
        return instantiate(self.module, self.code, imports, context, self.allocator,
                           interp_invoke, images, plan)


class InterpBackend:
    """Everything an Engine delegates to when its strategy is "interp"."""

    def __init__(self, config: Config) -> None:
        self.config = config
        # Instance allocation: pooled when the config says so (runtime/pooling.py).
        pooling = config.pooling
        self.allocator: PlainAllocator = _ALLOCATOR if pooling is None else \
            PooledPlainAllocator(InstancePool(pooling))
        self.epoch = EpochCounter()
        self.metering = Metering(fuel=config.consume_fuel, epoch=config.epoch_interruption)

    def new_context(self) -> StoreContext:
        c = self.config
        return StoreContext(c.max_call_depth, c.max_host_nesting, self.epoch,
                            c.consume_fuel, c.epoch_interruption)

    def known_valid(self, wasm: bytes, digest: str | None = None) -> bool:
        return False  # no code cache

    def may_know_valid(self) -> bool:
        return False

    def validate(self, module: WasmModule, wasm: bytes,
                 early: EarlyBodyChecks | None = None) -> None:
        validate_module(module, early)

    def prepare(self, module: WasmModule, wasm: bytes | None = None) -> InterpModule:
        return InterpModule(module, self.allocator, self.metering)

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
        return InterpModule(module, self.allocator, self.metering)

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
