"""The JIT's pooling instance allocator: memories in reusable slots of address space.

A slot is one reservation (static heaps: 4 GiB plus the 2 GiB guard, like any static
memory; dynamic heaps: ``max_memory_size`` plus a guard page), registered once with the
fault handler and kept across instances. An instance's memory gets a free slot (or a new
one while ``total_memories`` allows), leased for the life of its store; the memory never
grows past ``max_memory_size``, so a slot never has to move. When the store is dropped
the lease ends and the slot is reset: its committed pages are replaced by fresh zero
pages (one ``mmap`` over them, which also drops a copy-on-write image mapped there, and
frees the old pages as ``madvise(MADV_DONTNEED)`` would), then it waits in the free list
(at most ``max_unused_warm_slots``; others are unmapped). A host view (``Memory`` read
buffers, numpy arrays) taken from the memory keeps the lease alive: the slot is reset
and reused only once the last view is gone, so no view ever sees another instance's
bytes. The pages a new tenant does not need are made inaccessible again before it
starts, so the guard-page bounds checks of static heaps hold for every tenant.

The limits and counts are ``runtime/pooling.py``'s; data segments are applied from the
module's memory images (``runtime/images.py``) like on-demand instances' are.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from typing import Any, cast

from pyjitwasm.runtime import instantiation
from pyjitwasm.runtime.images import MemoryImage
from pyjitwasm.runtime.jit.globals import JitGlobal
from pyjitwasm.runtime.jit.instance import (
    JitAllocator,
    _jit_context,
    _vmctx_template,
    _VmctxTemplate,
)
from pyjitwasm.runtime.jit.memory import STATIC_BOUND, STATIC_GUARD, JitMemory
from pyjitwasm.runtime.jit.slots import MemorySlotPool, SlotReturn
from pyjitwasm.runtime.jit.store import JitFunc, JitStoreContext
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.jit.vm import PAGE, round_to_pages
from pyjitwasm.runtime.jit.vmctx import CompiledCode, JitModuleInstance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.pooling import InstancePool
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import EXTERNREF, FUNCREF, MemoryType, TableType


class PooledJitAllocator(JitAllocator):
    """The JIT allocator under a pool: limits and counts from ``InstancePool``, memories
    in slots of a ``MemorySlotPool``."""

    def __init__(self, pool: InstancePool, static: bool) -> None:
        self.pool = pool
        config = pool.config
        slot_size = (STATIC_BOUND + STATIC_GUARD if static
                     else round_to_pages(config.max_memory_size) + PAGE)
        self.slots = MemorySlotPool(slot_size, config.max_unused_warm_slots,
                                    config.linear_memory_keep_resident)
        # Unmap the free slots with the allocator (its engine).
        weakref.finalize(self, MemorySlotPool.close, self.slots)
        # Parked instances (``_Tenancy``), per module code, ready for the next store.
        self._parked: weakref.WeakKeyDictionary[CompiledCode, list[_Tenancy]] = \
            weakref.WeakKeyDictionary()
        self._parked_count = 0
        self._parked_lock = threading.Lock()

    def _admit(self, template: _VmctxTemplate, module: WasmModule, code: CompiledCode,
               context: StoreContext) -> None:
        pool = self.pool
        if pool not in template.fits_pools:  # a module's fit is checked once per pool
            pool.check_module(module, code.layout.size)
            template.fits_pools.add(pool)
        pool.take_instance(context, module)

    def new_memory(self, inst: JitModuleInstance, index: int,
                   mtype: MemoryType) -> MemoryInstance:
        context = _jit_context(inst.context)
        lease = self.slots.acquire(mtype.minimum_bytes)
        memory = JitMemory(mtype, context, static=context.heap_style == "static",
                           definition=inst.vmctx + inst.layout.memory(index),
                           keepalive=inst.vmctx_buffer, reservation=lease,
                           max_bytes=self.pool.config.max_memory_size)
        del lease
        if not _parkable(inst):  # else the instance's _Tenancy returns the slot
            self.pool.use_of(context).on_release.append(SlotReturn(self.slots, memory))
        return memory

    def new_table(self, inst: JitModuleInstance, index: int, ttype: TableType) -> TableInstance:
        return JitTable(ttype, _jit_context(inst.context), None,
                        max_elements=self.pool.config.table_elements,
                        definition=inst.vmctx + inst.layout.table(index),
                        keepalive=inst.vmctx_buffer, lazy=True)

    def activate(self, inst: JitModuleInstance) -> None:
        super().activate(inst)
        if _parkable(inst):
            self.pool.use_of(inst.context).on_release.append(_Tenancy(self, inst))

    # Parked instances ------------------------------------------------------------------

    def reuse(self, code: CompiledCode, context: StoreContext,
              images: Sequence[MemoryImage]) -> JitModuleInstance | None:
        """A parked instance of ``code`` made ready in ``context``'s store (None if
        there is none): the pool's and the store's limits are checked and counted as
        for a new instance, then the vmctx is reset from the module's template and the
        globals, segments and exports are initialized again."""
        parked = self._parked.get(code)
        if not parked:
            return None
        with self._parked_lock:
            if not parked:
                return None
            tenancy = parked.pop()
            self._parked_count -= 1
        module = code.module
        template = _vmctx_template(code)
        try:
            context.resources.check_instance(len(module.memories), len(module.tables))
            self._admit(template, module, code, context)
            return tenancy.move_in(code, template, _jit_context(context), images, self)
        except BaseException:
            tenancy.give_slots_back()  # e.g. a limit: this instance is not reused
            raise

    @property
    def parked_instances(self) -> int:
        """Instances parked for reuse (each keeps its memory slots; for tests)."""
        return sum(len(parked) for parked in self._parked.values())

    def park(self, tenancy: _Tenancy, code: CompiledCode) -> bool:
        """Keep a reset instance for the next store, if fewer than
        ``max_unused_warm_slots`` are kept already."""
        limit = self.pool.config.max_unused_warm_slots
        with self._parked_lock:
            if self._parked_count >= limit:
                # Parked instances of dropped modules went with their code: recount.
                self._parked_count = sum(len(p) for p in self._parked.values())
                if self._parked_count >= limit:
                    return False
            self._parked_count += 1
            parked = self._parked.get(code)
            if parked is None:
                parked = self._parked[code] = []
            parked.append(tenancy)
        return True


def _parkable(inst: JitModuleInstance) -> bool:
    """Whether ``inst`` may be parked (:func:`_reusable`), computed once per module."""
    template = cast(_VmctxTemplate, inst.code_cache)
    parkable = template.parkable
    if parkable is None:
        parkable = template.parkable = _reusable(inst.module)
    return parkable


def _reusable(module: WasmModule) -> bool:
    """Whether a pooled instance of ``module`` can be parked and handed to the next
    store as it is: no imports (its entities are all its own), no start function, and
    only entities a reset returns to their initial state (funcref tables, 32-bit
    memories, globals holding no externref)."""
    return (not module.imports and module.start is None
            and all(t.elem_type == FUNCREF for t in module.tables)
            and not any(m.is_64 for m in module.memories)
            and all(g.type.valtype != EXTERNREF for g in module.globals))


class _Tenancy:
    """One pooled instance's stay in a store, and what happens when the store is
    dropped: the instance is reset and parked for the next store if nothing outside
    the dropped store can still reach it (no API object of its entities is alive, no
    host view of its memory, nothing grew), else its memory slots go back to the pool.

    While parked it holds its module's code only weakly (``code`` is cleared in the
    instance and its functions), so dropping the Module frees the parked instances."""

    __slots__ = ("allocator", "inst", "funcs", "tables", "memories", "globals", "code_ref")

    def __init__(self, allocator: PooledJitAllocator, inst: JitModuleInstance) -> None:
        self.allocator = allocator
        self.inst = inst
        # The store's release empties the instance's lists: keep what it defined.
        self.funcs = tuple(inst.funcs)
        self.tables = tuple(inst.tables)
        self.memories = tuple(inst.memories)
        self.globals = tuple(inst.globals)
        self.code_ref: weakref.ref[CompiledCode] | None = None

    def __call__(self) -> None:
        """The store was dropped (``StorePoolUse.release``)."""
        code = self.inst.compiled
        if code is None or not self._reset():
            self.give_slots_back()
            return
        self.code_ref = weakref.ref(code)
        # Never used while parked: no store can reach the instance until move_in.
        self.inst.compiled = cast(CompiledCode, None)
        for func in self.funcs:
            jf = func.compiled
            assert isinstance(jf, JitFunc)
            jf.rebind_code(None)
        if not self.allocator.park(self, code):
            self.give_slots_back()

    def _reset(self) -> bool:
        entities: tuple[Any, ...] = self.funcs + self.tables + self.memories + self.globals
        for entity in entities:
            ref = entity.api
            if ref is not None and ref() is not None:
                return False  # an API object may still use it
        keep = self.allocator.slots.keep_resident
        for table in self.tables:
            assert isinstance(table, JitTable)
            if not table.reset_for_reuse():
                return False
        for memory in self.memories:
            assert isinstance(memory, JitMemory)
            if not memory.reset_for_reuse(keep):
                return False
        return True

    def give_slots_back(self) -> None:
        for memory in self.memories:
            assert isinstance(memory, JitMemory)
            self.allocator.slots.give_back(memory)
        self.memories = ()

    def move_in(self, code: CompiledCode, template: _VmctxTemplate, context: JitStoreContext,
                images: Sequence[MemoryImage],
                allocator: PooledJitAllocator) -> JitModuleInstance:
        """Make the parked instance the new instance of ``code`` in ``context``'s store."""
        inst = self.inst
        state = context.jit
        inst.context = context
        inst.compiled = code
        template.write(inst, state)
        # Counted against the store's limits, and their definitions published again.
        for memory in self.memories:
            assert isinstance(memory, JitMemory)
            memory.rebind(context)
        for table in self.tables:
            assert isinstance(table, JitTable)
            table.rebind(context)
        funcrefs = state.funcrefs
        for func in self.funcs:
            func.context = context
            func.api = None
            jf = func.compiled
            assert isinstance(jf, JitFunc)
            jf.rebind_code(code)
            if jf.funcref:
                funcrefs[jf.funcref] = func
        for glob in self.globals:
            assert isinstance(glob, JitGlobal)
            glob.rebind(context)
        inst.funcs = list(self.funcs)
        inst.tables = list(self.tables)
        inst.memories = list(self.memories)
        inst.globals = list(self.globals)
        self.code_ref = None
        instantiation.reinitialize(template.plan, inst, allocator, images)
        return inst
