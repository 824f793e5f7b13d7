"""A store's epoch poll page: how compiled loops notice a deadline without a compare.

With ``Config.epoch_interruption`` the innermost loops of compiled code check the epoch
with one load from the store's poll page (``translate/interrupts.py``), whose address the
store's limits record holds. The page is readable while the deadline lies ahead. Once
the engine's epoch reaches it the page is protected ("armed"): the next poll faults and
the native fault handler traps with ``interrupt``, or, if the deadline has moved in the
meantime, makes the page readable again and lets the load run again (``native.c``, epoch
poll pages). Function entries and outer loops still compare the epoch with the deadline,
so every check keeps Wasmtime's meaning: it traps when ``epoch >= deadline``.

Who arms the page: ``EpochCounter.increment`` (for the stores whose deadline it reaches:
:meth:`EpochPoll.deadline_reached`) and ``Store.set_epoch_deadline`` (a deadline already
reached, e.g. 0 ticks, arms at once; any other disarms and is watched). A new or reused
store, whose deadline is 0, starts disarmed: no code of it runs before a function entry,
and that entry's compare traps while the deadline stays 0.
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
)


class EpochPoll:
    """A store's poll page (native memory, given back when this object goes).

    ``limits`` is the store's native limits record, whose deadline word the fault
    handler reads: kept alive here, since the counter's heap may hold this object a
    while after the store is gone."""

    __slots__ = ("page", "watch_ticket", "_limits", "__weakref__")

    def __init__(self, epoch: EpochCounter, limits: Any, deadline_address: int) -> None:
        self._limits = limits
        self.watch_ticket = 0
        self.page = 0
        self.page = poll_page_new(epoch.address, deadline_address)

    def follow_deadline(self, epoch: EpochCounter, deadline: int) -> None:
        """The store's deadline word now holds ``deadline``: arm the page if the epoch
        has reached it, else disarm it and watch the deadline. The caller holds
        ``epoch.lock``."""
        if poll_page_sync(self.page):
            epoch.unwatch(self)
        else:
            epoch.watch(self, deadline)

    def deadline_reached(self) -> None:
        """The engine's epoch reached the watched deadline (under ``epoch.lock``)."""
        poll_page_sync(self.page)

    def reset(self, epoch: EpochCounter) -> None:
        """The store is made new (deadline 0, nothing running): disarmed, unwatched."""
        with epoch.lock:
            epoch.unwatch(self)
            poll_page_disarm(self.page)

    @property
    def armed(self) -> bool:
        """Whether a poll faults now."""
        return poll_page_armed(self.page)

    def __del__(self) -> None:
        page, self.page = self.page, 0
        if page:
            poll_page_free(page)
