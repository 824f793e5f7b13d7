"""Memory slots: reservations of address space that outlive the memories using them.

Mapping and unmapping a static heap's 6 GiB reservation, and faulting in fresh zero
pages, is most of what creating a memory costs (about 20 us of a 60 us instantiation,
measured in docs/pooling.md). A :class:`MemorySlotPool` keeps reservations of one size
("slots") for reuse: a memory gets a :class:`SlotLease` on one for the life of its store,
and when the store is dropped the slot is reset and goes back to the free list (at most
``max_warm`` wait there; the others are unmapped). The pooling allocator
(``pool.py``) bounds and counts the slots; the on-demand allocator (``instance.py``)
uses a small unbounded pool of static-heap slots, so it reuses address space too.

Reset, once the last user of the lease is gone (a host view of the memory keeps the
lease, so no view ever sees another instance's bytes): the first ``keep_resident``
bytes are cleared with ``memset`` and stay resident, so the next instance does not fault
them in again (Wasmtime's ``linear_memory_keep_resident``); the rest of the committed
pages are discarded with ``madvise(MADV_DONTNEED)``; a slot where a copy-on-write image
was mapped gets fresh zero pages over its whole committed range instead (one ``mmap``).
A new tenant's pages past its minimum size are made inaccessible again before it runs,
so guard-page bounds checks hold for every tenant.
"""

from __future__ import annotations

import ctypes
import sys
import threading
import weakref
from typing import Protocol

from pyjitwasm.runtime.jit.vm import (
    Reservation,
    discard_pages,
    protect,
    round_to_pages,
    zero_pages,
)

DEFAULT_KEEP_RESIDENT = 64 * 1024
"""Bytes of a freed slot cleared with memset and kept resident (one wasm page)."""


_UNSHARED_REFS = 2
"""``sys.getrefcount`` of a lease only a local name refers to (the name, the argument)."""


class SlotLease(Reservation):
    """A slot's reservation as one memory sees it while it holds the slot: the same
    range, no mapping of its own (the slot keeps it), and ``committed`` kept in step
    with the slot's. ``cow`` records that a copy-on-write image was mapped into it."""

    __slots__ = ("slot", "cow")

    def __init__(self, slot: Reservation) -> None:  # no mapping of its own
        self.slot = slot
        self.base = slot.base
        self.size = slot.size
        self.committed = slot.committed
        self.guarded = slot.guarded
        self.cow = False

    def commit(self, nbytes: int) -> None:
        super().commit(nbytes)
        self.slot.committed = self.committed

    @property
    def mapped(self) -> bool:
        return self.slot.mapped

    def release(self) -> None:
        """The slot, not the lease, owns the mapping."""


class LeaseHolder(Protocol):
    """A memory that can give its lease back (``JitMemory``)."""

    def detach_reservation(self) -> Reservation: ...

    def possibly_written(self) -> int: ...


def clear_pages(base: int, written: int, keep_resident: int) -> None:
    """Zero the first ``written`` bytes at ``base`` (the rest are zero already): memset
    of those within ``keep_resident``, which stay resident, ``madvise`` of the others."""
    if written <= 0:
        return
    # Whole pages stay resident (``madvise`` takes a page-aligned start).
    resident = min(written, round_to_pages(keep_resident))
    ctypes.memset(base, 0, resident)
    if written > resident:
        discard_pages(base + resident, round_to_pages(written) - resident)


class MemorySlotPool:
    """Free memory slots of one size."""

    def __init__(self, slot_size: int, max_warm: int,
                 keep_resident: int = DEFAULT_KEEP_RESIDENT) -> None:
        self.slot_size = slot_size
        self.max_warm = max_warm
        self.keep_resident = keep_resident
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

    def give_back(self, memory: LeaseHolder) -> None:
        """``memory``'s store is gone: take its slot back, to be reset and reused once
        no host view of it is left."""
        written = memory.possibly_written()
        lease = memory.detach_reservation()
        if not isinstance(lease, SlotLease):
            return
        slot, cow = lease.slot, lease.cow
        if sys.getrefcount(lease) <= _UNSHARED_REFS:
            # No host view holds the lease (this frame's name and getrefcount's argument
            # are its only references): reset the slot now, without a weak reference.
            self._recycle(None, slot, cow, written)
            return
        # (A host view made the memory report everything as written.)
        ref = weakref.ref(lease, lambda r: self._recycle(r, slot, cow, written))
        self._pending.add(ref)
        del lease  # once the last view is gone, _recycle runs

    def _recycle(self, ref: weakref.ref[SlotLease] | None, slot: Reservation,
                 cow: bool, written: int) -> None:
        if ref is not None:
            self._pending.discard(ref)
        if not slot.mapped:
            return  # unmapped already, by the cyclic collector (see Reservation.mapped)
        with self._lock:
            keep = len(self._free) < self.max_warm
        if not keep:
            slot.release()
            return
        if cow:
            zero_pages(slot.base, slot.committed)
        else:
            clear_pages(slot.base, min(slot.committed, written), self.keep_resident)
        with self._lock:
            self._free.append(slot)

    def close(self) -> None:
        """Unmap the free slots (their allocator is going away)."""
        with self._lock:
            free, self._free = self._free, []
        for slot in free:
            slot.release()


class SlotReturn:
    """What a store runs when it is dropped: give one memory's slot back."""

    __slots__ = ("slots", "memory")

    def __init__(self, slots: MemorySlotPool, memory: LeaseHolder) -> None:
        self.slots = slots
        self.memory: LeaseHolder | None = memory

    def __call__(self) -> None:
        memory, self.memory = self.memory, None
        if memory is not None:
            self.slots.give_back(memory)

