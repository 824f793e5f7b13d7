"""Epoch deadlines through the JIT's poll pages (runtime/jit/epoch_poll.py, native.c):
innermost loops load from the store's page, which the engine protects once the deadline
is reached. Each test checks Wasmtime's meaning (a trap at the first check at or after
the deadline) on both engines where the API can observe it, and the page's state on the
JIT."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Func,
    FuncType,
    Instance,
    Module,
    PoolingAllocationConfig,
    Store,
    Trap,
    TrapCode,
)
from pyjitwasm.runtime.jit.epoch_poll import EpochPoll
from pyjitwasm.runtime.native import ffi

ENGINES = ["interp", "jit"]

# "spin" and "count" are innermost loops without a bound: the JIT polls in them.
# "ticks(n)" calls the host function $tick in every pass from the n-th on, forever, and
# counts its passes in a global.
GUEST = """
(module
  (import "" "tick" (func $tick))
  (global $passes (export "passes") (mut i32) (i32.const 0))
  (func (export "spin") (loop br 0))
  (func (export "count") (param i32) (result i32) (local i32)
    (loop
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if 0 (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1))
  (func (export "ticks") (param i32) (result i32) (local i32)
    (loop
      (global.set $passes (i32.add (global.get $passes) (i32.const 1)))
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (if (i32.ge_u (local.get 1) (local.get 0)) (then (call $tick)))
      (br 0))
    (local.get 1)))
"""


class Guest:
    """A store of an engine with epoch interruption, the guest instantiated, and the
    host function ``tick`` running ``self.on_tick`` (set by the test)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.store = Store(engine)
        self.on_tick: Any = lambda: None
        tick = Func(self.store, FuncType([], []), lambda: self.on_tick())
        module = Module(engine, GUEST)
        self.exports = Instance(self.store, module, [tick]).exports(self.store)

    def call(self, name: str, *args: Any) -> Any:
        return self.exports[name](self.store, *args)

    def trap(self, name: str, *args: Any) -> TrapCode:
        with pytest.raises(Trap) as info:
            self.call(name, *args)
        code = info.value.trap_code
        assert code is not None
        return code

    def passes(self) -> int:
        return int(self.exports["passes"].value(self.store))

    def poll(self) -> EpochPoll | None:
        """The JIT store's poll page (None on the interpreter)."""
        jit = getattr(self.store._ctx, "jit", None)
        return None if jit is None else jit.epoch_poll


def _engine(strategy: str, **settings: Any) -> Engine:
    config = Config(strategy=strategy)
    config.epoch_interruption = True
    for name, value in settings.items():
        setattr(config, name, value)
    return Engine(config)


def _armed(guest: Guest) -> bool | None:
    poll = guest.poll()
    return None if poll is None else poll.armed


@pytest.mark.parametrize("engine", ENGINES)
def test_a_deadline_reached_during_a_host_call_traps_at_the_next_loop_check(engine: str
                                                                         ) -> None:
    guest = Guest(_engine(engine))
    guest.store.set_epoch_deadline(1)
    guest.on_tick = guest.engine.increment_epoch  # the 5th pass reaches the deadline
    assert guest.trap("ticks", 5) == TrapCode.INTERRUPT
    assert guest.passes() == 5  # the next check is the loop header after the call
    assert _armed(guest) in (True, None)


@pytest.mark.parametrize("engine", ENGINES)
def test_a_deadline_of_zero_set_during_a_host_call_traps_at_the_next_check(engine: str
                                                                          ) -> None:
    guest = Guest(_engine(engine))
    guest.store.set_epoch_deadline(10)
    guest.on_tick = lambda: guest.store.set_epoch_deadline(0)
    assert guest.trap("ticks", 3) == TrapCode.INTERRUPT
    assert guest.passes() == 3


@pytest.mark.parametrize("engine", ENGINES)
def test_a_deadline_reached_while_another_thread_waits_in_a_host_call(engine: str) -> None:
    guest = Guest(_engine(engine))
    guest.store.set_epoch_deadline(1)
    ticked = threading.Event()

    def tick() -> None:  # another thread reaches the deadline while this call runs
        ticker = threading.Thread(target=guest.engine.increment_epoch)
        ticker.start()
        ticker.join()
        ticked.set()

    guest.on_tick = tick
    assert guest.trap("ticks", 2) == TrapCode.INTERRUPT
    assert ticked.is_set() and guest.passes() == 2


@pytest.mark.parametrize("engine", ENGINES)
def test_a_deadline_moved_during_a_host_call_lets_the_loop_go_on(engine: str) -> None:
    guest = Guest(_engine(engine))
    guest.store.set_epoch_deadline(1)
    calls = []

    def tick() -> None:
        calls.append(1)
        if len(calls) == 1:
            guest.engine.increment_epoch()  # reached: the page is armed...
            guest.store.set_epoch_deadline(1)  # ...and moved on at once: disarmed
        else:
            guest.engine.increment_epoch()  # the new deadline

    guest.on_tick = tick
    assert guest.trap("ticks", 3) == TrapCode.INTERRUPT
    assert len(calls) == 2 and guest.passes() == 4


def test_a_page_armed_for_a_deadline_that_moved_is_disarmed_by_the_fault() -> None:
    # The race the fault handler resolves: the page is armed, but the deadline word
    # already holds a later deadline (as when Store.set_epoch_deadline runs on another
    # thread between the two). The poll faults, the handler sees epoch < deadline,
    # makes the page readable again and the loop goes on.
    guest = Guest(_engine("jit"))
    state = guest.store._ctx.jit
    poll = guest.poll()
    assert poll is not None
    guest.store.set_epoch_deadline(0)
    assert poll.armed
    state.epoch_deadline = guest.engine.backend.epoch.value + 5  # behind the page's back
    assert guest.call("count", 100_000) == 100_000
    assert not poll.armed


@pytest.mark.parametrize("engine", ENGINES)
def test_two_stores_one_due_one_not(engine: str) -> None:
    engine_ = _engine(engine)
    due, later = Guest(engine_), Guest(engine_)
    due.store.set_epoch_deadline(1)
    later.store.set_epoch_deadline(3)
    engine_.increment_epoch()
    assert _armed(due) in (True, None) and _armed(later) in (False, None)
    assert later.call("count", 100_000) == 100_000
    assert due.trap("count", 10) == TrapCode.INTERRUPT
    engine_.increment_epoch()
    assert later.call("count", 10) == 10
    engine_.increment_epoch()
    assert _armed(later) in (True, None)
    assert later.trap("count", 10) == TrapCode.INTERRUPT


@pytest.mark.parametrize("engine", ENGINES)
def test_a_deadline_of_zero_traps_at_once_and_a_new_deadline_clears_it(engine: str) -> None:
    guest = Guest(_engine(engine))
    guest.engine.increment_epoch()
    guest.store.set_epoch_deadline(0)
    assert _armed(guest) in (True, None)
    assert guest.trap("count", 10) == TrapCode.INTERRUPT
    assert guest.trap("count", 10) == TrapCode.INTERRUPT  # still reached
    guest.store.set_epoch_deadline(1)
    assert _armed(guest) in (False, None)
    assert guest.call("count", 10) == 10


@pytest.mark.parametrize("engine", ENGINES)
def test_the_store_is_usable_after_a_trap_from_another_thread(engine: str) -> None:
    guest = Guest(_engine(engine))
    for _ in range(3):
        guest.store.set_epoch_deadline(1)
        timer = threading.Timer(0.05, guest.engine.increment_epoch)
        timer.start()
        started = time.monotonic()
        assert guest.trap("spin") == TrapCode.INTERRUPT
        assert time.monotonic() - started < 10
        timer.join()
        assert _armed(guest) in (True, None)
        guest.store.set_epoch_deadline(1)
        assert _armed(guest) in (False, None)
        assert guest.call("count", 1000) == 1000


def _page_epoch(poll: EpochPoll) -> int:
    """The epoch copy in word 0 of a disarmed page."""
    return int(ffi.cast("uint64_t *", poll.page)[0])


def test_increments_reach_every_page_and_arm_only_the_due() -> None:
    engine = _engine("jit")
    guests = [Guest(engine) for _ in range(3)]
    for ticks, guest in zip((1, 2, 2), guests, strict=True):
        guest.store.set_epoch_deadline(ticks)
    polls = [guest.poll() for guest in guests]
    assert all(poll is not None and not poll.armed for poll in polls)
    engine.increment_epoch()
    first, second, third = polls
    assert first is not None and second is not None and third is not None
    assert first.armed and not second.armed and not third.armed
    assert _page_epoch(second) == _page_epoch(third) == 1
    guests[2].store.set_epoch_deadline(5)
    engine.increment_epoch()
    assert second.armed and not third.armed and _page_epoch(third) == 2
    assert guests[2].call("count", 10) == 10
    assert guests[1].trap("count", 10) == TrapCode.INTERRUPT


def test_a_new_store_starts_disarmed_and_traps_by_its_entry_compare() -> None:
    guest = Guest(_engine("jit"))
    poll = guest.poll()
    assert poll is not None and not poll.armed
    assert guest.trap("spin") == TrapCode.INTERRUPT  # deadline 0: the entry compare


SPIN = """
(module
  (func (export "count") (param i32) (result i32) (local i32)
    (loop
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if 0 (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1)))
"""


def test_pooled_stores_reuse_the_page_disarmed() -> None:
    engine = _engine("jit", allocation_strategy=PoolingAllocationConfig(
        total_core_instances=2))
    module = Module(engine, SPIN)
    pages = set()
    for _ in range(4):
        store = Store(engine)
        count = Instance(store, module, []).exports(store)["count"]
        poll = store._ctx.jit.epoch_poll
        assert not poll.armed  # a new store's page
        pages.add(poll.page)
        store.set_epoch_deadline(5)
        assert not poll.armed
        assert count(store, 100_000) == 100_000
        store.set_epoch_deadline(0)  # armed, and dropped armed (a trap's traceback
        assert poll.armed            # would keep the store for the cyclic collector)
        del store, count, poll
    assert len(pages) <= 2  # the parked store's page again


def test_pages_of_dropped_stores_are_given_back() -> None:
    engine = _engine("jit")
    pages = set()
    for _ in range(50):
        guest = Guest(engine)
        poll = guest.poll()
        assert poll is not None
        pages.add(poll.page)
        del guest, poll
    assert len(pages) < 50


def _churn(guest: Guest, started: threading.Event, done: threading.Event) -> None:
    """Reach the deadline and move it again, 200 times, then reach it for good."""
    started.wait()
    for _ in range(200):
        guest.engine.increment_epoch()  # reached: armed
        guest.store.set_epoch_deadline(1)  # moved: disarmed
    guest.engine.increment_epoch()
    done.set()


def test_deadlines_moved_and_reached_from_another_thread_while_a_loop_runs() -> None:
    # The races the page's lock resolves: another thread reaches the deadline (arming
    # the page) and moves it again (disarming) while the loop polls; a poll that faults
    # in between must resume, and the loop must stop once the deadline stays reached.
    guest = Guest(_engine("jit"))
    for _ in range(5):
        guest.store.set_epoch_deadline(1)
        started, done = threading.Event(), threading.Event()
        thread = threading.Thread(target=_churn, args=(guest, started, done))
        thread.start()
        started.set()
        code = guest.trap("spin")
        thread.join()
        assert code == TrapCode.INTERRUPT and done.is_set()
        guest.store.set_epoch_deadline(1)
        assert guest.call("count", 1000) == 1000
