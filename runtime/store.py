"""The per-store execution context shared by every runtime object a store owns."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyjitwasm.runtime.interrupts import EpochCounter
from pyjitwasm.runtime.limits import ResourceCounts


class StoreContext:
    """State a store's runtime objects share.

    Runtime objects keep a reference to their context; two objects belong to the same
    store exactly when their contexts are the same object. ``depth`` counts the wasm
    activations currently live across nested (host -> wasm) entries, so the call-depth
    limit holds however the host and wasm interleave.
    """

    __slots__ = ("max_call_depth", "max_host_nesting", "depth", "nesting", "recycle",
                 # Store limits and pooling (runtime/limits.py, runtime/pooling.py).
                 "resources", "pool",
                 "epoch", "consume_fuel", "epoch_interruption", "fuel_consumed",
                 "epoch_deadline")

    def __init__(self, max_call_depth: int = 10_000, max_host_nesting: int = 100,
                 epoch: EpochCounter | None = None, consume_fuel: bool = False,
                 epoch_interruption: bool = False) -> None:
        # Interruption (runtime/interrupts.py). The interpreter reads fuel_consumed and
        # epoch_deadline directly; the JIT keeps them in native memory (its subclass).
        self.epoch = epoch if epoch is not None else EpochCounter()
        self.consume_fuel = consume_fuel
        self.epoch_interruption = epoch_interruption
        self.fuel_consumed = 0  # minus the fuel left: >= 0 means none is left
        self.epoch_deadline = 0
        self.max_call_depth = max_call_depth
        self.max_host_nesting = max_host_nesting
        self.depth = 0
        self.nesting = 0
        # A pooling allocator's offer to park the whole context with its one instance
        # when the store is dropped: ``recycle(instances in the store) -> parked``.
        self.recycle: Callable[[int], bool] | None = None
        # Store limits and pooling: what the store created, checked against its limits
        # (``set_limits``), and the memory slots and pool counts this store holds, given
        # back when it is dropped (a ``pooling.StorePoolUse``; None while it holds none).
        self.resources = ResourceCounts()
        self.pool: Any = None

    # Interruption: what Store.set_fuel/get_fuel/set_epoch_deadline do -----------------

    def set_fuel(self, fuel: int) -> None:
        """Give the store ``fuel`` units (replacing what it had left)."""
        self.fuel_consumed = -fuel

    def get_fuel(self) -> int:
        """The fuel left (0 once consumed)."""
        return max(0, -self.fuel_consumed)

    def set_epoch_deadline(self, ticks_beyond_current: int) -> None:
        """Trap epoch checks once the engine's epoch is ``ticks_beyond_current`` past its
        current value."""
        self.epoch_deadline = self.epoch.value + ticks_beyond_current

    releases_instances = False
    """Whether :meth:`release` releases every instance of the store itself (then the API
    need not release them one by one first)."""

    def reset_for_reuse(self) -> bool:
        """The store was dropped and released, and nothing refers to this context any
        more: make it a new store's (True), or return False if it cannot be."""
        self.depth = self.nesting = 0
        self.recycle = None
        self.fuel_consumed = 0
        self.epoch_deadline = 0
        resources = self.resources
        resources.limits = None
        resources.instances = resources.memories = resources.tables = 0
        return True

    def release(self) -> None:
        """The store was dropped: break the reference cycles only the engine's own
        state forms, so its objects are freed at once (nothing to do here)."""

    def collect_references(self) -> None:
        """``Store.gc``: release references the engine holds for wasm that nothing can
        reach any more (nothing to do here: the interpreter's are Python objects)."""
