"""Store limits (wasmtime-py's ``Store.set_limits``, Wasmtime's ``StoreLimits``).

A store may bound the bytes of each linear memory, the elements of each table, and how
many instances, tables and memories it ever creates. Sizes are checked when an entity
is created (its minimum) and on every grow: a grow past a limit fails (``memory.grow`` and
``table.grow`` give -1 in wasm, the API's ``grow`` raises), as a grow past the declared
maximum does. Counts are cumulative over the store's life, as in Wasmtime (a store never
frees an entity before it is dropped); host-created memories and tables count too.
Creating past a limit raises :class:`ResourceLimitError`; an instantiation that would pass
a count limit fails before anything of it is created.

Every check lives in the memory and table base classes and in ``instantiation.py``, so
both engines, the JIT's grow libcalls and the WASI layer (which only reads and writes
memory through the same objects) obey the same limits.
"""

from __future__ import annotations

from pyjitwasm.runtime.errors import InstantiationError


class ResourceLimitError(InstantiationError):
    """Creating an instance, memory or table would pass a limit of its store (or of a
    pooling allocator); the message names the limit."""


class StoreLimits:
    """The limits of one store; ``None`` is unlimited. ``memory_size`` is in bytes per
    memory, ``table_elements`` per table; ``instances``, ``tables`` and ``memories``
    bound how many the store creates."""

    __slots__ = ("memory_size", "table_elements", "instances", "tables", "memories")

    def __init__(self) -> None:
        self.memory_size: int | None = None
        self.table_elements: int | None = None
        self.instances: int | None = None
        self.tables: int | None = None
        self.memories: int | None = None

    def update(self, memory_size: int = -1, table_elements: int = -1, instances: int = -1,
               tables: int = -1, memories: int = -1) -> None:
        """Set the limits given as non-negative numbers; a negative one is left as it was
        (wasmtime-py's convention)."""
        if memory_size >= 0:
            self.memory_size = memory_size
        if table_elements >= 0:
            self.table_elements = table_elements
        if instances >= 0:
            self.instances = instances
        if tables >= 0:
            self.tables = tables
        if memories >= 0:
            self.memories = memories

    def memory_fits(self, nbytes: int) -> bool:
        return self.memory_size is None or nbytes <= self.memory_size

    def table_fits(self, elements: int) -> bool:
        return self.table_elements is None or elements <= self.table_elements


class ResourceCounts:
    """How many instances, memories and tables a store has created, checked against its
    limits (``limits`` is None until ``set_limits`` is first called)."""

    __slots__ = ("limits", "instances", "memories", "tables")

    def __init__(self) -> None:
        self.limits: StoreLimits | None = None
        self.instances = 0
        self.memories = 0
        self.tables = 0

    def check_instance(self, memories: int, tables: int) -> None:
        """An instance defining ``memories`` memories and ``tables`` tables is about to be
        made: raise ResourceLimitError if it would pass a count limit, then count it."""
        limits = self.limits
        if limits is not None:
            _check("instance", self.instances + 1, limits.instances)
            _check("memory", self.memories + memories, limits.memories)
            _check("table", self.tables + tables, limits.tables)
        self.instances += 1

    def add_memory(self, minimum_bytes: int) -> None:
        """A memory of ``minimum_bytes`` is being created."""
        limits = self.limits
        if limits is not None:
            _check("memory", self.memories + 1, limits.memories)
            if not limits.memory_fits(minimum_bytes):
                raise ResourceLimitError(
                    f"memory minimum size of {minimum_bytes} bytes exceeds the store's "
                    f"memory_size limit of {limits.memory_size} bytes")
        self.memories += 1

    def add_table(self, minimum: int) -> None:
        """A table of ``minimum`` elements is being created."""
        limits = self.limits
        if limits is not None:
            _check("table", self.tables + 1, limits.tables)
            if not limits.table_fits(minimum):
                raise ResourceLimitError(
                    f"table minimum size of {minimum} elements exceeds the store's "
                    f"table_elements limit of {limits.table_elements}")
        self.tables += 1


def _check(what: str, count: int, limit: int | None) -> None:
    if limit is not None and count > limit:
        plural = {"memory": "memories"}.get(what, what + "s")
        raise ResourceLimitError(
            f"resource limit exceeded: {what} count too high at {count} (the store's "
            f"{plural} limit is {limit})")
