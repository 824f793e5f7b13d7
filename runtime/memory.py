"""Linear memory instances: the interface every engine's memories have, and the
bytearray-backed memory of the interpreter."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from pyjitwasm.runtime.images import MemoryImage
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.wasm.types import MemoryType

# Hard cap on the bytes one memory may hold in the bytearray-backed implementation, so
# a huge minimum or grow fails cleanly instead of exhausting the host.
DEFAULT_MAX_BYTES = 1 << 32


class MemoryInstance(ABC):
    """A linear memory: a byte buffer whose size is a whole number of pages (64 KiB, or
    the page size its type declares: custom page sizes).

    The interface is deliberately narrow (size, grow, read, write, view). ``data`` is the
    current buffer; code that caches it must re-read it after anything that may grow the
    memory, because growing may replace the buffer.
    """

    __slots__ = ("type", "context", "max_bytes", "api")

    def __init__(self, mtype: MemoryType, context: StoreContext, max_bytes: int) -> None:
        # Store limits: counted and checked before anything is allocated.
        context.resources.add_memory(mtype.minimum_bytes)
        self.type = mtype
        self.context = context
        self.max_bytes = max_bytes
        self.api: Any = None

    @property
    @abstractmethod
    def data(self) -> bytearray | memoryview:
        """The accessible bytes (replaced, or invalidated, by growth)."""

    @property
    @abstractmethod
    def byte_size(self) -> int:
        """Current size in bytes."""

    @abstractmethod
    def _resize(self, new_bytes: int) -> None:
        """Make the memory ``new_bytes`` long (larger), zero-filled; MemoryError if not."""

    @abstractmethod
    def read(self, start: int, stop: int) -> bytearray:
        """Copy bytes ``[start, stop)``; IndexError when out of bounds."""

    @abstractmethod
    def write(self, start: int, value: bytes | bytearray | memoryview) -> None:
        """Copy ``value`` to ``start``; IndexError (and no write) when out of bounds."""

    @abstractmethod
    def view(self) -> memoryview:
        """A zero-copy view of the accessible bytes, invalidated by growth."""

    def apply_image(self, image: MemoryImage) -> None:
        """Initialize the fresh (all-zero) memory with a module's memory image."""
        self.write(image.address, image.data)

    @property
    def is_64(self) -> bool:
        return self.type.is_64

    @property
    def pages(self) -> int:
        """Current size in pages."""
        return self.byte_size >> self.type.page_size_log2

    @property
    def maximum(self) -> int:
        """The most pages this memory may ever have (declared, or implied by its index
        type and page size)."""
        limit = self.type.page_limit
        if self.type.maximum is not None:
            limit = min(limit, self.type.maximum)
        return limit

    def current_type(self) -> MemoryType:
        """The memory's type with its current size as the minimum (used for import matching)."""
        return MemoryType(self.pages, self.type.maximum, self.type.is_64,
                          self.type.page_size_log2)

    def grow(self, delta: int) -> int:
        """Grow by ``delta`` pages; return the old size in pages, or -1 when it cannot grow."""
        old = self.pages
        new = old + delta
        new_bytes = new << self.type.page_size_log2
        if delta < 0 or new > self.maximum or new_bytes > self.max_bytes:
            return -1
        limits = self.context.resources.limits  # store limits (runtime/limits.py)
        if limits is not None and not limits.memory_fits(new_bytes):
            return -1
        if delta == 0:
            return old
        try:
            self._resize(new_bytes)
        except (MemoryError, OSError):
            return -1
        return old


class BytearrayMemory(MemoryInstance):
    """The interpreter's memory: ``data`` is a plain bytearray the interpreter indexes."""

    __slots__ = ("data",)

    def __init__(
        self, mtype: MemoryType, context: StoreContext, max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        super().__init__(mtype, context, max_bytes)
        size = mtype.minimum_bytes
        if size > max_bytes:
            raise MemoryError(f"memory minimum of {mtype.minimum} pages is too large")
        self.data: bytearray = bytearray(size)

    @property
    def byte_size(self) -> int:
        return len(self.data)

    def _resize(self, new_bytes: int) -> None:
        try:
            self.data.extend(bytes(new_bytes - len(self.data)))
        except BufferError:
            # A host view pins the old buffer: copy into a fresh one instead. The old view
            # stays valid but no longer tracks this memory.
            fresh = bytearray(new_bytes)
            fresh[: len(self.data)] = self.data
            self.data = fresh

    def read(self, start: int, stop: int) -> bytearray:
        if start < 0 or stop < start or stop > len(self.data):
            raise IndexError("out of bounds memory access")
        return self.data[start:stop]

    def write(self, start: int, value: bytes | bytearray | memoryview) -> None:
        end = start + len(value)
        if start < 0 or end > len(self.data):
            raise IndexError("out of bounds memory access")
        self.data[start:end] = value

    def view(self) -> memoryview:
        return memoryview(self.data)
