"""The module instance of the JIT: a module instance with a vmctx, and the registry that
finds a live instance from its vmctx address.

Compiled code knows its instance only by the vmctx address it receives; libcalls and
host calls (for the Caller) turn that address back into the instance here.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from pyjitwasm.runtime.instance import ModuleInstance
from pyjitwasm.runtime.native import ffi
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.wasm.module import WasmModule


class CompiledCode(Protocol):
    """What the runtime needs of a module's code (the JIT's ``ModuleCode``)."""

    @property
    def module(self) -> WasmModule: ...

    @property
    def layout(self) -> vm.VMContextLayout: ...

    @property
    def slots_address(self) -> int:
        """Address of the code slot table (what the vmctx field ``code_slots`` holds)."""
        ...

    @property
    def counters_address(self) -> int:
        """Address of the tier-up counter table (the vmctx field ``tier_counters``)."""
        ...

    def slot_address(self, func_index: int) -> int:
        """Address of defined function ``func_index``'s code slot."""
        ...

    def entry(self, func_index: int) -> tuple[int, int]:
        """(entry shim, machine code) of defined function ``func_index``, compiled now
        if it is not yet."""
        ...


class JitModuleInstance(ModuleInstance):
    """A module instance with a vmctx (``vmctx`` is its address, 16-byte aligned inside
    a buffer the instance owns)."""

    __slots__ = ("vmctx", "compiled", "layout", "func_refs", "vmctx_buffer", "_words",
                 "__weakref__")

    def __init__(self, module: WasmModule, context: StoreContext,
                 compiled: CompiledCode, func_refs: dict[int, int] | None = None,
                 size: int | None = None) -> None:
        super().__init__(module, context, None)
        self.compiled = compiled
        self.layout = compiled.layout
        # Function index -> number of its VMFuncRef record in the vmctx (the same for
        # every instance of the module: the allocator passes it in, and the size).
        self.func_refs = vm.func_ref_indices(module) if func_refs is None else func_refs
        if size is None:
            size = self.layout.size
        self.vmctx_buffer: Any = ffi.new("char[]", size + 16)
        self.vmctx: int = (int(ffi.cast("uintptr_t", self.vmctx_buffer)) + 15) & ~15
        self._words: Any = ffi.cast("uint64_t *", self.vmctx)

    def words(self) -> Any:
        """The vmctx as an array of u64 (``words() + k`` points at word ``k``: cheaper
        than a cast)."""
        return self._words

    def release(self) -> None:
        unregister_instance(self)
        super().release()


# vmctx address -> the instance, weakly. A plain dict of weak references without
# callbacks (a WeakValueDictionary entry costs about a microsecond more): released
# instances remove themselves, and an entry whose instance died unreleased reads as None
# and is overwritten when its address is reused.
_instances: dict[int, weakref.ref[JitModuleInstance]] = {}


def register_instance(inst: JitModuleInstance) -> None:
    """Make ``inst`` findable from its vmctx while it lives."""
    _instances[inst.vmctx] = weakref.ref(inst)


def unregister_instance(inst: JitModuleInstance) -> None:
    """``inst`` was released: forget it."""
    ref = _instances.get(inst.vmctx)
    if ref is not None and ref() in (inst, None):
        del _instances[inst.vmctx]


def instance_by_vmctx(vmctx: int) -> JitModuleInstance | None:
    """The live instance whose vmctx is at ``vmctx``."""
    ref = _instances.get(vmctx)
    return None if ref is None else ref()
