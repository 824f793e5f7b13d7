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

import weakref

from pyjitwasm.runtime.jit.instance import JitAllocator, _jit_context, _VmctxTemplate
from pyjitwasm.runtime.jit.memory import STATIC_BOUND, STATIC_GUARD, JitMemory
from pyjitwasm.runtime.jit.slots import MemorySlotPool, SlotReturn
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.jit.vm import PAGE, round_to_pages
from pyjitwasm.runtime.jit.vmctx import CompiledCode, JitModuleInstance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.pooling import InstancePool
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import PAGE_SIZE, MemoryType, TableType


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
        lease = self.slots.acquire(mtype.minimum * PAGE_SIZE)
        memory = JitMemory(mtype, context, static=context.heap_style == "static",
                           definition=inst.vmctx + inst.layout.memory(index),
                           keepalive=inst.vmctx_buffer, reservation=lease,
                           max_bytes=self.pool.config.max_memory_size)
        del lease
        self.pool.use_of(context).on_release.append(SlotReturn(self.slots, memory))
        return memory

    def new_table(self, inst: JitModuleInstance, index: int, ttype: TableType) -> TableInstance:
        return JitTable(ttype, _jit_context(inst.context), None,
                        max_elements=self.pool.config.table_elements,
                        definition=inst.vmctx + inst.layout.table(index),
                        keepalive=inst.vmctx_buffer, lazy=True)

