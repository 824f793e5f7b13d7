"""A store's epoch poll page: how compiled loops notice a deadline without a compare.

With ``Config.epoch_interruption`` every JIT store has a page of its own (native.c,
epoch poll pages), whose address its instances' vmctx header holds (``epoch_poll``).
Word 0 of the page is the store's copy of the engine's epoch. Function entries and
loops around loops compare it with the deadline, as Wasmtime compares the engine's
epoch; innermost loops only load it (``translate/interrupts.py``). The page is readable
while the deadline lies ahead, and each ``Engine.increment_epoch`` copies the new epoch
into it (the counter's ``on_increment`` hook, :func:`publish_on_increment`). Once the
epoch reaches the deadline the page is protected instead ("armed"): the next load from
it faults, and the native fault handler traps with ``interrupt``, or, if the deadline
has moved in the meantime, makes the page readable again and lets the load run again.
So every check keeps Wasmtime's meaning: it traps when ``epoch >= deadline``.

Who arms and disarms: an increment (for the stores whose deadline it reaches) and
``Store.set_epoch_deadline`` (a deadline already reached, e.g. 0 ticks, arms at once;
any other disarms). Both hold the counter's lock. A new or reused store, whose deadline
is 0, starts disarmed: no code of it runs before a function entry, and that entry's
compare (the copy is the epoch, >= 0) calls the libcall, which traps while the deadline
stays 0.
"""

from __future__ import annotations

from typing import Any

from pyjitwasm.runtime.interrupts import EpochCounter
from pyjitwasm.runtime.native import (
    poll_page_armed,
    poll_page_disarm,
    poll_page_free,
    poll_page_new,
    poll_page_sync,
    poll_pages_publish,
)


def publish_on_increment(epoch: EpochCounter) -> None:
    """Make ``epoch``'s increments reach its stores' poll pages (``epoch.address``: its
    native cell)."""
    address = epoch.address
    epoch.on_increment = lambda: poll_pages_publish(address)


class EpochPoll:
    """A store's poll page (native memory, given back when this object goes).

    ``limits`` is the store's native limits record, whose deadline word the fault
    handler and the increments read: kept alive as long as the page."""

    __slots__ = ("page", "_limits")

    _free = staticmethod(poll_page_free)  # (reachable from __del__ at exit)

    def __init__(self, epoch: EpochCounter, limits: Any, deadline_address: int) -> None:
        self._limits = limits
        self.page = 0
        self.page = poll_page_new(epoch.address, deadline_address)

    def follow_deadline(self) -> None:
        """The store's deadline word changed: arm the page if the epoch has reached
        it, else disarm it. The caller holds the counter's lock."""
        poll_page_sync(self.page)

    def reset(self, epoch: EpochCounter) -> None:
        """The store is made new (deadline 0, nothing running): disarmed."""
        with epoch.lock:
            poll_page_disarm(self.page)

    @property
    def armed(self) -> bool:
        """Whether a load from the page faults now."""
        return poll_page_armed(self.page)

    def __del__(self) -> None:
        page, self.page = self.page, 0
        if page:
            self._free(page)
