"""Linear memories for compiled code: mmap-backed, with a native VMMemoryDefinition.

Two heap styles (they must match how the code was compiled, see ``compile_module.py``):

* **static** (32-bit memories of 64 KiB pages, the default): one reservation of 4 GiB
  plus a 2 GiB guard region.  The base never moves; growing makes more of it accessible
  (``mprotect``).  Compiled code does no bounds checks: any 32-bit address plus offset
  lands inside the reservation, and the inaccessible part faults, which the native
  handler turns into a memory-out-of-bounds trap.
* **dynamic** (64-bit memories, memories of 1-byte pages whose length may end inside an
  OS page, or 32-bit ones configured so; ``translate.module_info.uses_static_heap`` decides):
  compiled code checks every access against the current length.  The memory reserves
  room to grow into (its declared maximum, at most ``reserve_bytes``) and grows in place;
  past the reservation it moves its pages into a larger one with ``mremap`` (no copy of
  the contents).

Host views (:meth:`JitMemory.view`) cover the accessible length at the time they were
taken.  A grow invalidates them in the API's sense: they do not see the new pages, and
after a dynamic memory moved they read zeros (the old range stays mapped for them) --
never a crash.  Take a fresh view after anything that may grow the memory.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from pyjitwasm.runtime.images import MemoryImage
from pyjitwasm.runtime.jit.slots import SlotLease, clear_pages
from pyjitwasm.runtime.jit.vm import Reservation, map_image, zero_pages
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.native import ffi
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.module_info import uses_static_heap
from pyjitwasm.wasm.types import MemoryType

STATIC_BOUND = 1 << 32
STATIC_GUARD = 1 << 31
DEFAULT_DYNAMIC_RESERVE = 1 << 30
# Far beyond what a host will commit; keeps page arithmetic in range for memory64.
MAX_DYNAMIC_BYTES = 1 << 46


def _entries(context: StoreContext) -> int:
    """The store's count of entries into compiled code (``JitStoreContext.entries``)."""
    return getattr(context, "entries", -1)


_RETIRED: list[Reservation] = []


def _retired() -> Reservation:
    """The one tiny inaccessible reservation every detached memory points at."""
    if not _RETIRED:
        _RETIRED.append(Reservation(0, guarded=False))
    return _RETIRED[0]


class JitMemory(MemoryInstance):
    """A linear memory whose ``{base, length}`` definition compiled code reads.

    ``definition`` is the address of the VMMemoryDefinition to keep up to date: inline
    in the defining instance's vmctx (pass the vmctx buffer as ``keepalive``), or a
    standalone one for a host-created memory.
    """

    __slots__ = ("static", "definition", "reserve_bytes", "_resv", "_length", "_own_def",
                 "_u64", "host_touched", "_entries_mark", "_zero_from")

    def __init__(
        self,
        mtype: MemoryType,
        context: StoreContext,
        static: bool = True,
        definition: int | None = None,
        reserve_bytes: int = DEFAULT_DYNAMIC_RESERVE,
        keepalive: object = None,
        reservation: Reservation | None = None,
        max_bytes: int | None = None,
        definition_words: Any = None,
    ) -> None:
        # ``static`` is the engine's heap style; the memory's type may still rule it out.
        self.static = uses_static_heap("static" if static else "dynamic", mtype)
        super().__init__(mtype, context, STATIC_BOUND if self.static else MAX_DYNAMIC_BYTES)
        # A pooling allocator's slot: its reservation, and the size it never grows past.
        if max_bytes is not None:
            self.max_bytes = min(self.max_bytes, max_bytes)
        self.reserve_bytes = reserve_bytes
        # Whatever owns the definition's storage (the vmctx buffer) must outlive us.
        self._own_def = keepalive
        if definition is None:
            self._own_def = ffi.new("uint64_t[2]")
            definition = int(ffi.cast("uintptr_t", self._own_def))
        self.definition = definition
        # ``definition_words``: the definition as a u64 pointer already (cheaper than a
        # cast: the vmctx's word array plus an index).
        self._u64 = ffi.cast("uint64_t *", definition) if definition_words is None \
            else definition_words
        size = mtype.minimum_bytes
        if size > self.max_bytes or mtype.minimum > self.maximum:
            raise MemoryError(f"memory minimum of {mtype.minimum} pages is too large")
        if reservation is not None:
            self._resv = reservation
        elif self.static:
            self._resv = Reservation(STATIC_BOUND + STATIC_GUARD, guarded=True)
        else:
            limit = self.maximum << mtype.page_size_log2
            room = max(size, min(limit, reserve_bytes))
            self._resv = Reservation(room, guarded=True)
        if self._resv.committed < size:
            self._resv.commit(size)  # (a warm slot is committed already: no call)
        self._length = size
        # Set by every host path that can write the bytes (:meth:`write`, :meth:`view`,
        # which ``data``, the API's read/write, buffers and ``data_ptr`` go through);
        # cleared when a pooling allocator resets the memory. With its store's count of
        # wasm entries it tells the allocator whether a parked memory may have been
        # written since its last reset (``pool.py``).
        self.host_touched = False
        # Every byte from ``_zero_from`` on is zero while the store has made no wasm
        # entry since ``_entries_mark`` and nothing above touched the memory: then a
        # slot's reset clears only the bytes before it (:meth:`possibly_written`).
        self._entries_mark = _entries(context)
        self._zero_from = 0
        self._publish()

    def _publish(self) -> None:
        u64 = self._u64
        u64[vm.MEMORY_DEF_BASE // 8] = self._resv.base
        u64[vm.MEMORY_DEF_LENGTH // 8] = self._length

    @property
    def data(self) -> memoryview:
        return self.view()

    @property
    def base(self) -> int:
        """The address of byte 0 (stable for static memories)."""
        return self._resv.base

    @property
    def byte_size(self) -> int:
        return self._length

    def _resize(self, new_bytes: int) -> None:
        """Commit more of the reservation (moving to a larger one first if needed) and
        publish the new length to compiled code."""
        if new_bytes > self._resv.size:
            self._relocate(new_bytes)
        self._resv.commit(new_bytes)
        self._length = new_bytes
        self._publish()

    def _relocate(self, needed: int) -> None:
        # Only dynamic memories get here (a static reservation covers every 32-bit size).
        limit = min(self.maximum << self.type.page_size_log2, self.max_bytes)
        room = min(limit, max(needed, 2 * self._resv.size))
        fresh = Reservation(room, guarded=True)
        self._resv.move_into(fresh)
        old, self._resv = self._resv, fresh
        # Publish before the old range may disappear: compiled code reloads the base.
        self._publish()
        del old

    def apply_image(self, image: MemoryImage) -> None:
        """Initialize the fresh memory with ``image``: a large image is mapped
        copy-on-write from its memfd (no copy; pages are copied only when written) where
        the memory never moves (static heaps, pooled slots: a move would have to remap
        two mappings); otherwise it is copied."""
        at = self._resv.base + image.address
        if image.cow_capable and (self.static or self.max_bytes <= self._resv.size):
            map_image(at, len(image.data), image.fd(), image.fd_offset)
            if isinstance(self._resv, SlotLease):
                self._resv.cow = True  # its reset must drop the mapping
        else:
            # cffi's memmove: a ctypes call costs about six times as much.
            ffi.memmove(ffi.cast("char *", at), image.data, len(image.data))
            self.image_copied(image.end)

    def image_copied(self, nbytes: int) -> None:
        """The first ``nbytes`` now hold an image (written without :meth:`write`)."""
        if nbytes > self._zero_from:
            self._zero_from = nbytes

    def possibly_written(self) -> int:
        """How many bytes from address 0 may not be zero: only an image's, if the store
        has not entered wasm since the memory was made or last reset and no host path
        touched it (no API object, no :meth:`write` or :meth:`view`); else all that is
        committed. Every write is one of those (``pool.py`` ``_Tenancy._untouched``
        lists them), so a slot's reset clears no less than was written."""
        if (self.host_touched or self.api is not None
                or _entries(self.context) != self._entries_mark):
            return self._resv.committed
        return self._zero_from

    def reset_for_reuse(self, keep_resident: int) -> bool:
        """A pooling allocator parks this memory's instance for the next store: zero its
        pages as a reset slot's are (``slots.py``) and return True, or return False
        (nothing changed) if it grew or a host view still holds its pages."""
        resv = self._resv
        # This frame's name, the attribute and getrefcount's argument: no view holds it.
        if (not isinstance(resv, SlotLease) or sys.getrefcount(resv) > 3
                or self._length != self.type.minimum_bytes):
            return False
        if not resv.mapped:
            return False  # the cyclic collector unmapped it first (Reservation.mapped)
        if resv.cow:
            zero_pages(resv.base, resv.committed)
            resv.cow = False
        else:
            clear_pages(resv.base, min(resv.committed, self.possibly_written()),
                        keep_resident)
        self.host_touched = False
        self._entries_mark = _entries(self.context)
        self._zero_from = 0
        return True

    def rebind(self, context: StoreContext) -> None:
        """Belong to ``context``'s store (a parked instance's memory, reset already),
        counted against its limits, and publish the definition again."""
        context.resources.add_memory(self.type.minimum_bytes)
        self.context = context
        self.api = None
        self._entries_mark = _entries(context)  # (reset already: all zero)
        self._publish()

    def detach_reservation(self) -> Reservation:
        """Its store is gone and a pooling allocator takes the slot back: hand over the
        reservation and become an empty memory that can touch nothing (host views
        taken before keep the reservation alive on their own)."""
        resv = self._resv
        self._resv = _retired()
        self._length = 0
        return resv

    def read(self, start: int, stop: int) -> bytearray:
        if start < 0 or stop < start or stop > self._length:
            raise IndexError("out of bounds memory access")
        return bytearray(ctypes.string_at(self._resv.base + start, stop - start))

    def write(self, start: int, value: bytes | bytearray | memoryview) -> None:
        data = bytes(value)
        end = start + len(data)
        if start < 0 or end > self._length:
            raise IndexError("out of bounds memory access")
        self.host_touched = True
        ctypes.memmove(self._resv.base + start, data, len(data))

    def view(self) -> memoryview:
        """A zero-copy view of the accessible bytes.  Growth invalidates it (it keeps its
        length, and reads zeros if a dynamic memory moved); it never dangles."""
        self.host_touched = True  # the view is writable
        return self._resv.view(self._length)
