"""The pooling instance allocator's limits and bookkeeping, for every engine.

With ``Config.allocation_strategy = "pooling"`` (or a :class:`PoolingAllocationConfig`)
an engine hands out instances, memories and tables from a pool bounded by Wasmtime's
limits (the names are Wasmtime's ``PoolingAllocationConfig``'s): how many may be live at
once across all the engine's stores (``total_core_instances``, ``total_memories``,
``total_tables``) and how large each may be (``max_memory_size``, ``table_elements``,
``max_memories_per_module``, ``max_tables_per_module``, ``max_core_instance_size``). A
module that cannot fit raises :class:`ResourceLimitError` naming the limit when it is
instantiated; a pool that is full raises it too. A store returns its slots to the pool
when it is dropped (or closed), and the next instance reuses them.

:class:`InstancePool` counts the slots; the engines' allocators (``PooledPlainAllocator``
here for the interpreter, ``runtime/jit/pool.py`` for the JIT, which also keeps the
memory reservations and copy-on-write images of the slots) call it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pyjitwasm.runtime.instance import ModuleInstance
from pyjitwasm.runtime.instantiation import PlainAllocator
from pyjitwasm.runtime.limits import ResourceLimitError
from pyjitwasm.runtime.memory import BytearrayMemory, MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import ListTable, TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import MemoryType, TableType

_SETTINGS = {
    # name: (default, what it bounds) -- Wasmtime's defaults.
    "total_core_instances": (1000, "live instances across the engine's stores"),
    "total_memories": (1000, "live linear memories across the engine's stores"),
    "total_tables": (1000, "live tables across the engine's stores"),
    "max_memory_size": (10 << 20, "bytes of each linear memory"),
    "table_elements": (20_000, "elements of each table"),
    "max_memories_per_module": (1, "memories a module may define"),
    "max_tables_per_module": (1, "tables a module may define"),
    "max_core_instance_size": (1 << 20, "bytes of an instance's vmctx"),
    "max_unused_warm_slots": (100, "free memory slots kept ready for reuse"),
    "linear_memory_keep_resident": (64 * 1024, "bytes of a freed memory slot cleared "
                                    "with memset and kept resident"),
}


class PoolingAllocationConfig:
    """The limits of a pooling allocator (Wasmtime's ``PoolingAllocationConfig``).

    Every limit is a keyword argument and an attribute of the same name; unset ones
    take Wasmtime's defaults: ``total_core_instances``, ``total_memories`` and
    ``total_tables`` (1000 each: how many may be live at once in all the engine's
    stores), ``max_memory_size`` (10 MiB: the most bytes one memory may reach; a pooled
    memory never grows past it), ``table_elements`` (20,000 per table),
    ``max_memories_per_module`` and ``max_tables_per_module`` (1 each),
    ``max_core_instance_size`` (1 MiB of vmctx), ``max_unused_warm_slots`` (100 free
    memory slots kept mapped for reuse; more are unmapped when freed),
    ``linear_memory_keep_resident`` (64 KiB, where Wasmtime's default is 0: the first
    bytes of a freed slot are cleared with memset and stay resident, which measured
    faster than discarding them and faulting them in again, docs/pooling.md)."""

    total_core_instances: int
    total_memories: int
    total_tables: int
    max_memory_size: int
    table_elements: int
    max_memories_per_module: int
    max_tables_per_module: int
    max_core_instance_size: int
    max_unused_warm_slots: int
    linear_memory_keep_resident: int

    def __init__(self, **limits: int) -> None:
        for name, (default, _) in _SETTINGS.items():
            setattr(self, name, limits.pop(name, default))
        if limits:
            raise TypeError(f"unknown pooling limit(s) {sorted(limits)}; expected some of "
                            f"{sorted(_SETTINGS)}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _SETTINGS:
            raise AttributeError(f"PoolingAllocationConfig has no limit {name!r}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int")
        object.__setattr__(self, name, value)

    def copy(self) -> PoolingAllocationConfig:
        return PoolingAllocationConfig(**{name: getattr(self, name) for name in _SETTINGS})

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)}" for name in _SETTINGS)
        return f"PoolingAllocationConfig({inner})"


class StorePoolUse:
    """The slots one store holds (``StoreContext.pool``), given back when it is dropped.
    ``pool`` is None for an on-demand engine, whose memories may still use slots
    (``runtime/jit/slots.py``)."""

    __slots__ = ("pool", "instances", "memories", "tables", "on_release")

    def __init__(self, pool: InstancePool | None) -> None:
        self.pool = pool
        self.instances = 0
        self.memories = 0
        self.tables = 0
        # Engine-specific slot returns (the JIT's memory slots), run on release.
        self.on_release: list[Callable[[], None]] = []

    def release(self) -> None:
        """The store is gone: its instances, memories and tables leave the pool's counts
        and its memory slots go back for reuse. Idempotent."""
        returns, self.on_release = self.on_release, []
        for give_back in returns:
            give_back()
        if self.pool is not None:
            self.pool.give_back(self.instances, self.memories, self.tables)
        self.instances = self.memories = self.tables = 0


class InstancePool:
    """The live counts of one engine's pooling allocator, checked against its limits.

    Thread-safe: stores of one engine may instantiate in several threads."""

    def __init__(self, config: PoolingAllocationConfig) -> None:
        self.config = config.copy()
        self.live_instances = 0
        self.live_memories = 0
        self.live_tables = 0
        # Guards the counts (the JIT's pooled allocator guards its parked instances with
        # it too, so parking or adopting one is one critical section).  Reentrant: a
        # collection may start at any allocation inside it, and the finalizers it runs
        # (a dropped module's parked instances, a dropped store's slots) give counts back
        # on the same thread.
        self.lock = threading.RLock()

    # Per-module limits -------------------------------------------------------------

    def check_module(self, module: WasmModule, vmctx_size: int = 0) -> None:
        """Raise ResourceLimitError if an instance of ``module`` cannot fit a slot."""
        c = self.config
        if len(module.memories) > c.max_memories_per_module:
            raise ResourceLimitError(
                f"defined memories count of {len(module.memories)} exceeds the per-instance "
                f"limit of {c.max_memories_per_module} (max_memories_per_module)")
        if len(module.tables) > c.max_tables_per_module:
            raise ResourceLimitError(
                f"defined tables count of {len(module.tables)} exceeds the per-instance "
                f"limit of {c.max_tables_per_module} (max_tables_per_module)")
        for index, mtype in enumerate(module.memories):
            if mtype.minimum_bytes > c.max_memory_size:
                raise ResourceLimitError(
                    f"memory index {index} has a minimum byte size of "
                    f"{mtype.minimum_bytes} which exceeds the limit of "
                    f"{c.max_memory_size} bytes (max_memory_size)")
        for index, ttype in enumerate(module.tables):
            if ttype.minimum > c.table_elements:
                raise ResourceLimitError(
                    f"table index {index} has a minimum element size of {ttype.minimum} "
                    f"which exceeds the limit of {c.table_elements} (table_elements)")
        if vmctx_size > c.max_core_instance_size:
            raise ResourceLimitError(
                f"instance allocation for this module requires {vmctx_size} bytes which "
                f"exceeds the configured maximum of {c.max_core_instance_size} bytes "
                "(max_core_instance_size)")

    # Slots ---------------------------------------------------------------------------

    def use_of(self, context: StoreContext) -> StorePoolUse:
        """The record of the slots ``context``'s store holds (made on first use)."""
        use = context.pool
        if use is None:
            use = context.pool = StorePoolUse(self)
        elif use.pool is not self:
            raise ValueError("a store belongs to one engine's pool")
        assert isinstance(use, StorePoolUse)
        return use

    def take_instance(self, context: StoreContext, module: WasmModule) -> None:
        """Count a new instance of ``module`` (with its memories and tables) in
        ``context``'s store, or raise ResourceLimitError when the pool is full."""
        memories, tables = len(module.memories), len(module.tables)
        self.take_counts(memories, tables)
        use = self.use_of(context)
        use.instances += 1
        use.memories += memories
        use.tables += tables

    def take_counts(self, memories: int, tables: int) -> None:
        """Count one more live instance with ``memories`` memories and ``tables`` tables
        in the pool (not in a store's record), or raise ResourceLimitError when full."""
        with self.lock:
            self.take_counts_locked(memories, tables)

    def take_counts_locked(self, memories: int, tables: int) -> None:
        """:meth:`take_counts` for a caller holding ``lock``."""
        c = self.config
        if self.live_instances + 1 > c.total_core_instances:
            raise ResourceLimitError(
                f"maximum concurrent core instance limit of {c.total_core_instances} "
                "reached (total_core_instances)")
        if self.live_memories + memories > c.total_memories:
            raise ResourceLimitError(
                f"maximum concurrent memory limit of {c.total_memories} reached "
                "(total_memories)")
        if self.live_tables + tables > c.total_tables:
            raise ResourceLimitError(
                f"maximum concurrent table limit of {c.total_tables} reached "
                "(total_tables)")
        self.live_instances += 1
        self.live_memories += memories
        self.live_tables += tables

    def give_back(self, instances: int, memories: int, tables: int) -> None:
        with self.lock:
            self.give_back_locked(instances, memories, tables)

    def give_back_locked(self, instances: int, memories: int, tables: int) -> None:
        """:meth:`give_back` for a caller holding ``lock``."""
        self.live_instances -= instances
        self.live_memories -= memories
        self.live_tables -= tables


class PooledPlainAllocator(PlainAllocator):
    """The interpreter's allocator under a pool: the pool's limits and counts (its
    memories are bytearrays, which need no slots of address space)."""

    def __init__(self, pool: InstancePool) -> None:
        self.pool = pool

    def new_instance(self, module: WasmModule, code: object,
                     context: StoreContext) -> ModuleInstance:
        self.pool.check_module(module)
        self.pool.take_instance(context, module)
        return ModuleInstance(module, context, code)

    def new_table(self, inst: ModuleInstance, index: int, ttype: TableType) -> TableInstance:
        return ListTable(ttype, inst.context,
                         max_elements=self.pool.config.table_elements)

    def new_memory(self, inst: ModuleInstance, index: int,
                   mtype: MemoryType) -> MemoryInstance:
        return BytearrayMemory(mtype, inst.context,
                               max_bytes=self.pool.config.max_memory_size)


def on_store_release(context: StoreContext, callback: Callable[[], None]) -> None:
    """Run ``callback`` when ``context``'s store is dropped (give a slot back)."""
    use = context.pool
    if use is None:
        use = context.pool = StorePoolUse(None)
    use.on_release.append(callback)


def release_store_slots(context: StoreContext) -> None:
    """Give a dropped store's pooled slots back (nothing for on-demand allocation)."""
    use = context.pool
    if use is not None:
        use.release()
