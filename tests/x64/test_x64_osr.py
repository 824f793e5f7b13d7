"""On-stack replacement from x64 tier-0 code: the loop-header slow path and the OSR slot
(``x64/function.py`` ``osr_stub``, ``translate/tiering.py``'s slot layout,
``ModuleCode.request_loop_tier_up``).  Here the runtime's side is replaced where a test
needs a state it cannot otherwise hold still: an entry that stays pending, one that
never comes, and a hand-made entry (machine code that returns one local) that shows
what the x64 frame hands over."""

from __future__ import annotations

import ctypes
import mmap
from collections.abc import Iterator
from typing import Any

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.native import lazy_stubs_supported
from pyjitwasm.translate.tier_table import OSR_NEVER, OSR_PENDING
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.x64 import tier0

pytestmark = pytest.mark.skipif(not (lazy_stubs_supported() and tier0.supported_host()),
                                reason="the x86-64 tier 0 is for x86-64 Linux")

SUM = """(module
  (func (export "sum") (param i32) (result i64) (local i32 i64)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get 1) (local.get 0)))
        (local.set 2 (i64.add (local.get 2) (i64.extend_i32_u (local.get 1))))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br $l)))
    (local.get 2))
  (func (export "on_stack") (param i32) (result i32) (local i32)
    ;; the loop is entered with a value below it: never a candidate
    (i32.const 7)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.const 2)))
      (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
    (i32.add (local.get 1))))
"""

# mov rax, [rsi - 16]; ret: the entry returns local 2 (the sum so far) at once.
RETURN_LOCAL_2 = b"\x48\x8b\x46\xf0\xc3"


@pytest.fixture
def osr_x64(x64_everywhere: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "50")
    monkeypatch.delenv("PYJITWASM_OSR", raising=False)


@pytest.fixture
def asks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int, int]]:
    """Every ``tier_up_loop`` libcall: (function number, loop offset, result)."""
    seen: list[tuple[int, int, int]] = []
    original = ModuleCode.request_loop_tier_up

    def spy(self: ModuleCode, k: int, loop_offset: int, slot: int) -> int:
        result = original(self, k, loop_offset, slot)
        seen.append((k, loop_offset, result))
        return result

    monkeypatch.setattr(ModuleCode, "request_loop_tier_up", spy)
    return seen


@pytest.fixture
def hand_made_entry() -> Iterator[int]:
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    page.write(RETURN_LOCAL_2)
    yield ctypes.addressof(ctypes.c_char.from_buffer(page))


def _instance() -> tuple[Store, dict[str, Any], ModuleCode]:
    store = Store(Engine(Config(lazy_compilation=True)))
    module = Module(store.engine, SUM)
    exports = Instance(store, module, []).exports(store)
    code = module._prepared.compiled()  # noqa: SLF001 - the test looks inside
    assert isinstance(code, ModuleCode)
    return store, exports, code


def _slot(code: ModuleCode, k: int, slot: int = 0) -> tuple[int, int]:
    return code.osr_slot(k, slot)


def _loop_offset(code: ModuleCode, k: int) -> int:
    return next(i.offset for i in code.module.codes[k].instrs if i.op == op.LOOP)


def test_an_entry_that_never_comes_parks_the_loop(
        osr_x64: None, asks: list[tuple[int, int, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ModuleCode, "_start_osr",
                        lambda self, k, off: self._osr_ready(k, off, None))
    store, exports, code = _instance()
    assert exports["sum"](store, 100_000) == 100_000 * 99_999 // 2
    offset = _loop_offset(code, 0)
    assert asks == [(0, offset, OSR_NEVER)]  # asked once, then parked
    assert _slot(code, 0) == (OSR_NEVER, offset + 1)


def test_a_pending_entry_is_looked_at_without_calls(
        osr_x64: None, asks: list[tuple[int, int, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ModuleCode, "_start_osr", lambda self, k, off: None)
    store, exports, code = _instance()
    # 100,000 iterations: ~100 looks at the slot (every OSR_RECHECK), one libcall.
    assert exports["sum"](store, 100_000) == 100_000 * 99_999 // 2
    assert asks == [(0, _loop_offset(code, 0), OSR_PENDING)]
    assert exports["sum"](store, 1000) == 1000 * 999 // 2
    assert len(asks) == 1


def test_the_entry_gets_the_locals_and_its_result_is_returned(
        osr_x64: None, asks: list[tuple[int, int, int]], hand_made_entry: int,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ModuleCode, "_start_osr",
                        lambda self, k, off: self._osr_ready(k, off, hand_made_entry))
    store, exports, code = _instance()
    partial = exports["sum"](store, 100_000)
    # The entry returned the sum of the iterations x64 code ran: 0 + 1 + ... + (i - 1).
    i = round((2 * partial) ** 0.5) + 1
    assert partial == i * (i - 1) // 2 and 10 < i < 1000
    assert asks == [(0, _loop_offset(code, 0), hand_made_entry)]
    assert _slot(code, 0) == (hand_made_entry, _loop_offset(code, 0) + 1)


def test_a_loop_with_values_below_it_asks_for_a_plain_tier_up(
        osr_x64: None, asks: list[tuple[int, int, int]]) -> None:
    store, exports, code = _instance()
    assert exports["on_stack"](store, 10_000) == 10_000 + 7
    assert asks == []
    assert _slot(code, 1) == (0, 0)
    assert code.wait_for_tier_ups(60)


def test_osr_off_parks_at_the_first_ask(
        osr_x64: None, asks: list[tuple[int, int, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_OSR", "0")
    store, exports, code = _instance()
    assert exports["sum"](store, 100_000) == 100_000 * 99_999 // 2
    assert [result for *_, result in asks] == [OSR_NEVER]
    assert _slot(code, 0) == (0, 0)


def test_a_synchronous_entry_takes_the_frame_at_its_first_ask(
        osr_x64: None, asks: list[tuple[int, int, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    # PYJITWASM_OSR_SYNC=1 (how the spec and differential suites exercise entries):
    # the entry is compiled inside the first ask, so the frame moves at once, and the
    # rest of the loop runs in tier-1 code (the sum is still exact).
    monkeypatch.setenv("PYJITWASM_OSR_SYNC", "1")
    store, exports, code = _instance()
    assert exports["sum"](store, 100_000) == 100_000 * 99_999 // 2
    ((k, offset, entry),) = asks
    assert (k, offset) == (0, _loop_offset(code, 0)) and entry > OSR_NEVER + 1
    assert code.osr_entry(0, offset) == entry and code.osr_compiles == 1
    assert _slot(code, 0) == (entry, offset + 1)


TWO_LOOPS = """(module
  (func (export "partition") (param i32) (result i32) (local i32 i32 i32)
    ;; an outer loop around two inner loops that take turns (quicksort's partition)
    (loop $outer
      (local.set 2 (i32.const 0))
      (loop $up
        (local.set 2 (i32.add (local.get 2) (i32.const 1)))
        (br_if $up (i32.lt_u (local.get 2) (i32.const 7))))
      (local.set 3 (i32.const 9))
      (loop $down
        (local.set 3 (i32.sub (local.get 3) (i32.const 1)))
        (br_if $down (i32.gt_u (local.get 3) (i32.const 2))))
      (local.set 1 (i32.add (local.get 1) (i32.add (local.get 2) (local.get 3))))
      (br_if $outer (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))))
    (local.get 1)))
"""


def test_each_loop_has_a_slot_of_its_own(
        osr_x64: None, asks: list[tuple[int, int, int]], monkeypatch: pytest.MonkeyPatch) -> None:
    # Entries that stay pending: each hot loop asks once and then only looks at its own
    # slot.  With one slot per function the loops took it from each other on every look
    # (a call into the runtime each time: 124 on quicksort's first call).
    monkeypatch.setattr(ModuleCode, "_start_osr", lambda self, k, off: None)
    store = Store(Engine(Config(lazy_compilation=True)))
    module = Module(store.engine, TWO_LOOPS)
    code = module._prepared.compiled()  # noqa: SLF001 - the test looks inside
    assert isinstance(code, ModuleCode)
    run = Instance(store, module, []).exports(store)["partition"]
    assert run(store, 200_000) == 200_000 * (7 + 2)
    outer, up, down = (i.offset for i in code.module.codes[0].instrs if i.op == op.LOOP)
    assert sorted(off for _, off, _ in asks) == sorted({off for _, off, _ in asks})
    assert {off for _, off, _ in asks} <= {outer, up, down} and len(asks) >= 2
    # Slots in the order x64 met the loops: outer 0, up 1, down 2.
    for slot, offset in enumerate((outer, up, down)):
        if offset in {off for _, off, _ in asks}:
            assert _slot(code, 0, slot) == (OSR_PENDING, offset + 1)
