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
from typing import Any

from pyjitwasm.runtime.jit.instance import JitAllocator, _jit_context
from pyjitwasm.runtime.jit.memory import STATIC_BOUND, STATIC_GUARD, JitMemory
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.jit.vm import PAGE, Reservation, protect, round_to_pages, zero_pages
from pyjitwasm.runtime.jit.vmctx import CompiledCode, JitModuleInstance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.pooling import InstancePool
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import PAGE_SIZE, MemoryType, TableType


class SlotLease(Reservation):
    """A slot's reservation as one memory sees it while it holds the slot: the same
    range, no mapping of its own (the slot keeps it), and ``committed`` kept in step
    with the slot's."""

    __slots__ = ("slot",)

    def __init__(self, slot: Reservation) -> None:  # noqa: D107 - no new mapping
        self.slot = slot
        self.base = slot.base
        self.size = slot.size
        self.committed = slot.committed
        self.guarded = slot.guarded

    def commit(self, nbytes: int) -> None:
        super().commit(nbytes)
        self.slot.committed = self.committed

    def release(self) -> None:
        """The slot, not the lease, owns the mapping."""


class MemorySlotPool:
    """Free memory slots of one engine (all of one size)."""

    def __init__(self, slot_size: int, max_warm: int) -> None:
        self.slot_size = slot_size
        self.max_warm = max_warm
        self._free: list[Reservation] = []
        self._pending: set[weakref.ref[SlotLease]] = set()
        self._lock = threading.Lock()
        self.created = 0
        """Slots reserved so far (for tests and measurements)."""

    @property
    def free_slots(self) -> int:
        return len(self._free)

    def acquire(self, nbytes: int) -> SlotLease:
        """A lease on a slot whose first ``nbytes`` (page-rounded) are zero, readable and
        writable, and the rest inaccessible."""
        with self._lock:
            slot = self._free.pop() if self._free else None
        if slot is None:
            slot = Reservation(self.slot_size, guarded=True)
            self.created += 1
        want = round_to_pages(nbytes)
        if slot.committed > want:
            protect(slot.base + want, slot.committed - want, writable=False)
            slot.committed = want
        return SlotLease(slot)

    def give_back(self, memory: JitMemory) -> None:
        """``memory``'s store is gone: take its slot back, to be reset and reused once
        no host view of it is left."""
        lease = memory.detach_reservation()
        if not isinstance(lease, SlotLease):
            return
        slot = lease.slot
        ref = weakref.ref(lease, lambda r: self._recycle(r, slot))
        self._pending.add(ref)
        del lease  # with no view left, _recycle runs now

    def _recycle(self, ref: weakref.ref[SlotLease], slot: Reservation) -> None:
        self._pending.discard(ref)
        if slot.committed:
            zero_pages(slot.base, slot.committed)
        with self._lock:
            if len(self._free) < self.max_warm:
                self._free.append(slot)
                return
        slot.release()

    def close(self) -> None:
        """Unmap the free slots (the engine is going away)."""
        with self._lock:
            free, self._free = self._free, []
        for slot in free:
            slot.release()


class PooledJitAllocator(JitAllocator):
    """The JIT allocator under a pool: limits and counts from ``InstancePool``, memories
    in slots of a ``MemorySlotPool``."""

    def __init__(self, pool: InstancePool, static: bool) -> None:
        self.pool = pool
        config = pool.config
        slot_size = (STATIC_BOUND + STATIC_GUARD if static
                     else round_to_pages(config.max_memory_size) + PAGE)
        self.slots = MemorySlotPool(slot_size, config.max_unused_warm_slots)
        # Unmap the free slots with the allocator (its engine).
        weakref.finalize(self, MemorySlotPool.close, self.slots)

    def new_instance(self, module: WasmModule, code: CompiledCode,
                     context: StoreContext) -> JitModuleInstance:
        self.pool.check_module(module, code.layout.size)
        self.pool.take_instance(context, module)
        return super().new_instance(module, code, context)

    def new_memory(self, inst: JitModuleInstance, index: int,
                   mtype: MemoryType) -> MemoryInstance:
        context = _jit_context(inst.context)
        lease = self.slots.acquire(mtype.minimum * PAGE_SIZE)
        memory = JitMemory(mtype, context, static=context.heap_style == "static",
                           definition=inst.vmctx + inst.layout.memory(index),
                           keepalive=inst.vmctx_buffer, reservation=lease,
                           max_bytes=self.pool.config.max_memory_size)
        del lease
        self.pool.use_of(context).on_release.append(_SlotReturn(self.slots, memory))
        return memory

    def new_table(self, inst: JitModuleInstance, index: int, ttype: TableType) -> TableInstance:
        return JitTable(ttype, _jit_context(inst.context), None,
                        max_elements=self.pool.config.table_elements,
                        definition=inst.vmctx + inst.layout.table(index),
                        keepalive=inst.vmctx_buffer, lazy=True)


class _SlotReturn:
    """What a store runs when it is dropped: give one memory's slot back."""

    __slots__ = ("slots", "memory")

    def __init__(self, slots: MemorySlotPool, memory: JitMemory) -> None:
        self.slots = slots
        self.memory: Any = memory

    def __call__(self) -> None:
        memory, self.memory = self.memory, None
        if memory is not None:
            self.slots.give_back(memory)
