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

Compiled code does not compare the epoch with the deadline in every loop: its innermost
loops load from the store's poll page, which faults once the deadline is reached
(``runtime/jit/epoch_poll.py``). So the counter must tell a store when its deadline is
reached: a store ``watch``es its deadline, and ``increment`` calls ``deadline_reached``
of the watchers whose deadline the new epoch reaches. They wait in a min-heap ordered by
deadline, so an increment that reaches no deadline costs one comparison.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from typing import Any, Protocol


class DeadlineWatcher(Protocol):
    """What waits for a deadline (``EpochCounter.watch``): ``watch_ticket`` is the
    counter's, 0 while it waits for none."""

    watch_ticket: int

    def deadline_reached(self) -> None:
        """The epoch has reached the deadline last watched (called under the counter's
        ``lock``, on the thread that incremented it)."""


class EpochCounter:
    """An engine's epoch: a counter that only grows.  ``cell[0]`` is the value: a list
    cell by default (the interpreter reads it directly), or a native ``uint64_t[1]``
    the JIT passes in, where compiled code reads it."""

    __slots__ = ("cell", "address", "lock", "_due", "_watching", "_tickets")

    def __init__(self, cell: Any = None) -> None:
        self.cell: Any = cell if cell is not None else [0]
        self.address = 0  # of a native cell, once the JIT has needed it
        self.lock = threading.Lock()
        """Held while the epoch changes, and by whoever changes a deadline it watches."""
        # (deadline, ticket, watcher): a watcher's entries but the one of its current
        # ticket are stale, dropped when they come up or the heap is compacted.
        self._due: list[tuple[int, int, DeadlineWatcher]] = []
        self._watching = 0  # watchers with a current ticket
        self._tickets = itertools.count(1)

    @property
    def value(self) -> int:
        """The current epoch."""
        return self.cell[0]

    def increment(self) -> None:
        """Advance the epoch by one (thread-safe), telling the watchers whose deadline
        it reaches."""
        with self.lock:
            value = self.cell[0] + 1
            self.cell[0] = value
            due = self._due
            while due and due[0][0] <= value:
                _, ticket, watcher = heapq.heappop(due)
                if watcher.watch_ticket == ticket:
                    watcher.watch_ticket = 0
                    self._watching -= 1
                    watcher.deadline_reached()

    def watch(self, watcher: DeadlineWatcher, deadline: int) -> None:
        """Call ``watcher.deadline_reached()`` once the epoch reaches ``deadline``
        (instead of any deadline it watched before). The caller holds ``lock``."""
        if not watcher.watch_ticket:
            self._watching += 1
        ticket = watcher.watch_ticket = next(self._tickets)
        due = self._due
        if len(due) >= 64 and len(due) > 4 * self._watching:
            # Mostly stale entries (deadlines moved, stores dropped): keep the current.
            due[:] = [entry for entry in due if entry[2].watch_ticket == entry[1]]
            heapq.heapify(due)
        heapq.heappush(due, (deadline, ticket, watcher))

    def unwatch(self, watcher: DeadlineWatcher) -> None:
        """Forget the deadline ``watcher`` watches, if any. The caller holds ``lock``."""
        if watcher.watch_ticket:
            watcher.watch_ticket = 0
            self._watching -= 1

    def watched(self) -> int:
        """How many watchers wait for a deadline (for tests)."""
        return self._watching

    def pending(self) -> int:
        """How many heap entries there are, stale ones included (for tests)."""
        return len(self._due)
