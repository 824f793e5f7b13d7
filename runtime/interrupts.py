"""Interruption state shared by both engines: the engine's epoch counter.

Wasmtime's two ways to bound a guest, as wasmtime-py exposes them:

* Epochs. An engine has a counter that ``Engine.increment_epoch`` bumps (from any
  thread, typically a timer); a store has a deadline, an epoch value set relative to the
  current one (``Store.set_epoch_deadline(ticks)``). Code compiled with
  ``Config.epoch_interruption`` checks at every function entry and loop header whether
  the epoch has reached the deadline, and traps with ``TrapCode.INTERRUPT`` when it has.
  A new store's deadline is 0, so it traps at the first check until one is set (as in
  Wasmtime).
* Fuel. With ``Config.consume_fuel`` every executed wasm instruction costs one unit of
  the store's fuel, except the ones that produce no code (``wasm/fuel.py``, Wasmtime's
  list), and the same checkpoints trap with ``TrapCode.OUT_OF_FUEL`` once the store has
  consumed all it was given (``Store.set_fuel``). A new store has no fuel.

The per-store state (consumed fuel, deadline) lives in the store's context
(``runtime.store.StoreContext``; the JIT keeps it in the native limits record compiled
code reads); the counter is the engine's, one object every store of the engine shares.

The JIT's compiled code reads the epoch from a copy in each store's poll page, and its
innermost loops only load from that page, which the engine protects once the store's
deadline is reached (``runtime/jit/epoch_poll.py``): so an increment also runs the
counter's ``on_increment`` hook, which the JIT sets to publish the new value to those
pages.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class EpochCounter:
    """An engine's epoch: a counter that only grows.  ``cell[0]`` is the value: a list
    cell by default (the interpreter reads it directly), or a native ``uint64_t[1]``
    the JIT passes in (copied into its stores' poll pages, read by its fault handler)."""

    __slots__ = ("cell", "address", "lock", "on_increment")

    def __init__(self, cell: Any = None) -> None:
        self.cell: Any = cell if cell is not None else [0]
        self.address = 0  # of a native cell, once the JIT has needed it
        self.lock = threading.Lock()
        """Held while the epoch changes, and by whoever changes a deadline that an
        ``on_increment`` hook reads."""
        self.on_increment: Callable[[], None] | None = None
        """Run (under ``lock``) after each increment."""

    @property
    def value(self) -> int:
        """The current epoch."""
        return self.cell[0]

    def increment(self) -> None:
        """Advance the epoch by one (thread-safe)."""
        with self.lock:
            self.cell[0] += 1
            if self.on_increment is not None:
                self.on_increment()
