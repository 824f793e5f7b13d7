"""Linear memory instances."""

from __future__ import annotations

from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.wasm.types import MAX_PAGES_32, MAX_PAGES_64, PAGE_SIZE, MemoryType

# Hard cap on the bytes one memory may hold in this bytearray-backed implementation, so
# a huge minimum or grow fails cleanly instead of exhausting the host.
DEFAULT_MAX_BYTES = 1 << 32


class MemoryInstance:
    """A linear memory: a byte buffer whose size is a whole number of 64 KiB pages.

    The interface is deliberately narrow (size, grow, read, write, view) so the JIT can
    later back memories with a reserved mapping. ``data`` is the current buffer; code
    that caches it must re-read it after anything that may grow the memory, because
    growing may replace the buffer (when a host still holds a view of the old one).
    """

    __slots__ = ("type", "data", "context", "max_bytes", "api")

    def __init__(
        self, mtype: MemoryType, context: StoreContext, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        self.type = mtype
        self.context = context
        self.max_bytes = max_bytes
        size = mtype.minimum * PAGE_SIZE
        if size > max_bytes:
            raise MemoryError(f"memory minimum of {mtype.minimum} pages is too large")
        self.data = bytearray(size)
        self.api = None

    @property
    def is_64(self) -> bool:
        return self.type.is_64

    @property
    def pages(self) -> int:
        """Current size in pages."""
        return len(self.data) // PAGE_SIZE

    @property
    def byte_size(self) -> int:
        return len(self.data)

    @property
    def maximum(self) -> int:
        """The most pages this memory may ever have (declared or implied by its index type)."""
        limit = MAX_PAGES_64 if self.type.is_64 else MAX_PAGES_32
        if self.type.maximum is not None:
            limit = min(limit, self.type.maximum)
        return limit

    def current_type(self) -> MemoryType:
        """The memory's type with its current size as the minimum (used for import matching)."""
        return MemoryType(self.pages, self.type.maximum, self.type.is_64)

    def grow(self, delta: int) -> int:
        """Grow by ``delta`` pages; return the old size in pages, or -1 when it cannot grow."""
        old = self.pages
        new = old + delta
        if delta < 0 or new > self.maximum or new * PAGE_SIZE > self.max_bytes:
            return -1
        if delta == 0:
            return old
        try:
            self._resize(new * PAGE_SIZE)
        except (MemoryError, OSError):
            return -1
        return old

    def _resize(self, new_bytes: int) -> None:
        """Make the memory ``new_bytes`` long (larger), zero-filled; MemoryError if not."""
        try:
            self.data.extend(bytes(new_bytes - len(self.data)))
        except BufferError:
            # A host view pins the old buffer: copy into a fresh one instead. The old view
            # stays valid but no longer tracks this memory.
            fresh = bytearray(new_bytes)
            fresh[: len(self.data)] = self.data
            self.data = fresh

    def read(self, start: int, stop: int) -> bytearray:
        """Copy bytes ``[start, stop)``; IndexError when out of bounds."""
        if start < 0 or stop < start or stop > len(self.data):
            raise IndexError("out of bounds memory access")
        return self.data[start:stop]

    def write(self, start: int, value: bytes | bytearray | memoryview) -> None:
        """Copy ``value`` to ``start``; IndexError (and no write) when out of bounds."""
        end = start + len(value)
        if start < 0 or end > len(self.data):
            raise IndexError("out of bounds memory access")
        self.data[start:end] = value

    def view(self) -> memoryview:
        """A zero-copy view of the current buffer, invalidated by growth."""
        return memoryview(self.data)
