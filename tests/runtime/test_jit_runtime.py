"""The JIT runtime: native memories, tables, globals, host calls, traps, resources."""

from __future__ import annotations

import gc
import resource

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Func,
    FuncType,
    Global,
    GlobalType,
    Instance,
    Limits,
    Linker,
    Memory,
    MemoryType,
    Module,
    Store,
    Table,
    TableType,
    Trap,
    TrapCode,
    ValType,
    wat2wasm,
)
from pyjitwasm.runtime.jit.memory import STATIC_BOUND, STATIC_GUARD, JitMemory
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.native import ffi, invoke_depth
from pyjitwasm.translate import vmctx as vm

I32 = ValType.i32()
FUNCREF = ValType.funcref()
PAGE = 65536


def _store(**config) -> Store:
    return Store(Engine(Config(strategy="jit", **config)))


def _instance(store: Store, wat: str, imports=()):
    module = Module(store.engine, wat)
    return Instance(store, module, list(imports)).exports(store)


MEMORY_MODULE = """
(module
  (memory (export "mem") 1 100)
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "size") (result i32) (memory.size)))
"""

MEMORY64_MODULE = """
(module
  (memory (export "mem") i64 1)
  (func (export "load") (param i64) (result i32) (i32.load (local.get 0)))
  (func (export "store") (param i64 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0))))
"""


# Memories ------------------------------------------------------------------------------


def test_static_memory_guard_fault_is_a_trap_and_growth_keeps_the_base() -> None:
    store = _store()
    ex = _instance(store, MEMORY_MODULE)
    mem = ex["mem"]._rt
    assert isinstance(mem, JitMemory) and mem.static
    assert mem._resv.size == STATIC_BOUND + STATIC_GUARD
    base = mem.base
    ex["store"](store, PAGE - 4, 0x11223344)
    assert ex["load"](store, PAGE - 4) == 0x11223344
    for address in (PAGE - 3, PAGE, 0xFFFFFFFF):
        with pytest.raises(Trap) as info:
            ex["load"](store, address)
        assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    assert ex["grow"](store, 2) == 1
    assert mem.base == base
    ex["store"](store, 3 * PAGE - 4, 7)
    assert ex["load"](store, 3 * PAGE - 4) == 7
    assert ex["load"](store, PAGE - 4) == 0x11223344
    # Growth is visible to the host and bounded by the declared maximum.
    assert ex["mem"].size(store) == 3
    assert ex["grow"](store, 98) == -1
    assert ex["size"](store) == 3


@pytest.mark.parametrize("style", ["dynamic"])
def test_dynamic_memory_grows_in_place_then_moves_without_losing_data(style: str) -> None:
    # A 2-page reservation: growing to 3 pages must move the memory.
    store = _store(memory_style=style, dynamic_memory_reserve=2 * PAGE)
    ex = _instance(store, MEMORY_MODULE)
    mem = ex["mem"]._rt
    assert not mem.static
    first_base = mem.base
    definition = ffi.cast("uint64_t *", mem.definition)
    ex["store"](store, 100, 42)
    assert ex["grow"](store, 1) == 1
    assert mem.base == first_base  # within the reservation: in place
    ex["store"](store, 2 * PAGE - 4, 43)
    with pytest.raises(Trap) as info:
        ex["load"](store, 2 * PAGE)
    assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    stale = ex["mem"].buffer(store)
    assert ex["grow"](store, 1) == 2  # beyond the reservation: moves
    assert definition[vm.MEMORY_DEF_BASE // 8] == mem.base
    assert definition[vm.MEMORY_DEF_LENGTH // 8] == 3 * PAGE
    assert ex["load"](store, 100) == 42
    assert ex["load"](store, 2 * PAGE - 4) == 43
    ex["store"](store, 3 * PAGE - 4, 44)
    assert ex["load"](store, 3 * PAGE - 4) == 44
    # A view taken before the move is stale but safe to touch.
    assert len(stale) == 2 * PAGE
    stale[100] = 1
    assert ex["load"](store, 100) == 42
    assert ex["grow"](store, 30) == 3
    assert ex["load"](store, 100) == 42


def test_memory64_is_dynamic_and_checks_bounds() -> None:
    store = _store()
    ex = _instance(store, MEMORY64_MODULE)
    assert not ex["mem"]._rt.static
    ex["store"](store, PAGE - 4, 5)
    assert ex["load"](store, PAGE - 4) == 5
    for address in (PAGE - 3, PAGE, 1 << 40, -1):
        with pytest.raises(Trap) as info:
            ex["load"](store, address)
        assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    assert ex["grow"](store, 1) == 1
    assert ex["load"](store, PAGE - 4) == 5
    assert ex["grow"](store, 1 << 50) == -1


def test_host_memory_is_shared_with_compiled_code() -> None:
    store = _store()
    mem = Memory(store, MemoryType(Limits(1, 4)))
    ex = _instance(store, """
        (module (import "" "m" (memory 1 4))
          (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
          (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))
        """, [mem])
    mem.write(store, b"\x09", 10)
    assert ex["load"](store, 10) == 9
    assert ex["grow"](store, 1) == 1
    assert mem.size(store) == 2
    mem.write(store, b"\x05", PAGE + 1)
    assert ex["load"](store, PAGE + 1) == 5


# Tables --------------------------------------------------------------------------------

NULL_ELEMENTS = """
(module
  (type $t (func (result i32)))
  (import "" "table" (table 4 funcref))
  (func $seven (result i32) (i32.const 7))
  (elem (table 0) (i32.const 0) funcref (ref.null func) (ref.func $seven) (ref.null func))
  (func (export "call") (param i32) (result i32) (call_indirect (type $t) (local.get 0)))
  (func (export "is_null") (param i32) (result i32) (ref.is_null (table.get (local.get 0))))
  (func (export "get") (param i32) (result funcref) (table.get (local.get 0))))
"""


def test_null_elements_in_an_imported_host_table_stay_null() -> None:
    """Regression: a host-created table written by an active segment holding
    ``ref.null func`` must store null as 1, never 0 (which means "not initialized")."""
    store = _store()
    table = Table(store, TableType(FUNCREF, Limits(4, None)), None)
    ex = _instance(store, NULL_ELEMENTS, [table])
    rt = table._rt
    assert isinstance(rt, JitTable) and rt.lazy is None
    words = [rt._words[i] for i in range(4)]
    assert words[0] == vm.FUNCREF_NULL and words[2] == vm.FUNCREF_NULL
    assert words[3] == vm.FUNCREF_NULL  # never written by the segment: the table's init
    assert words[1] & vm.FUNCREF_INIT_BIT and words[1] != vm.FUNCREF_NULL
    for index in (0, 2, 3):
        with pytest.raises(Trap) as info:
            ex["call"](store, index)
        assert info.value.trap_code == TrapCode.INDIRECT_CALL_TO_NULL
        assert ex["is_null"](store, index) == 1
        assert ex["get"](store, index) is None
        assert table.get(store, index) is None
    assert ex["call"](store, 1) == 7
    assert ex["is_null"](store, 1) == 0
    assert table.get(store, 1)(store) == 7


LAZY_TABLE = """
(module
  (type $t (func (result i32)))
  (table (export "table") 8 funcref)
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.const 2))
  (elem (i32.const 1) func $one $two)
  (elem (i32.const 5) funcref (ref.null func) (ref.func $two))
  (func (export "call") (param i32) (result i32) (call_indirect (type $t) (local.get 0)))
  (func (export "copy") (param i32 i32 i32) (table.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "set_null") (param i32) (table.set (local.get 0) (ref.null func))))
"""


def test_defined_tables_initialize_lazily() -> None:
    store = _store()
    ex = _instance(store, LAZY_TABLE)
    table = ex["table"]._rt
    # A segment of the instance's own functions is written at once, as the addresses of
    # their VMFuncRef records (no function object is made for that); others are lazy.
    assert table.lazy == {5: None, 6: table.lazy[6]}
    assert all(table._words[i] == 0 for i in (0, 3, 4, 5, 6, 7))
    assert table._words[1] & vm.FUNCREF_INIT_BIT and table._words[2] & vm.FUNCREF_INIT_BIT
    assert ex["call"](store, 2) == 2
    assert ex["call"](store, 6) == 2  # compiled code materializes element 6
    assert table._words[6] & vm.FUNCREF_INIT_BIT and 6 not in table.lazy
    assert table._words[5] == 0
    # Copying from never-touched elements copies what they stand for.
    ex["copy"](store, 3, 5, 2)  # [3] = null (from 5), [4] = $two (from 6)
    assert table._words[3] == vm.FUNCREF_NULL
    assert ex["call"](store, 4) == 2
    with pytest.raises(Trap) as info:
        ex["call"](store, 3)
    assert info.value.trap_code == TrapCode.INDIRECT_CALL_TO_NULL
    # Host reads materialize too.
    assert ex["table"].get(store, 1)(store) == 1
    assert ex["table"].get(store, 0) is None
    assert table._words[0] == vm.FUNCREF_NULL
    ex["set_null"](store, 6)
    assert table._words[6] == vm.FUNCREF_NULL
    assert ex["table"].get(store, 6) is None


def test_table_grow_fill_and_externref_handles() -> None:
    store = _store()
    ex = _instance(store, """
        (module
          (table (export "t") 1 externref)
          (func (export "grow") (param externref i32) (result i32)
            (table.grow (local.get 0) (local.get 1)))
          (func (export "get") (param i32) (result externref) (table.get (local.get 0)))
          (func (export "fill") (param i32 externref i32)
            (table.fill (local.get 0) (local.get 1) (local.get 2))))
        """)
    token = object()
    assert ex["grow"](store, token, 100) == 1
    assert ex["t"].size(store) == 101
    assert ex["get"](store, 100) is token
    assert ex["get"](store, 0) is None
    ex["fill"](store, 0, "x", 3)
    assert [ex["get"](store, i) for i in range(4)] == ["x", "x", "x", token]
    with pytest.raises(Trap) as info:
        ex["fill"](store, 100, None, 2)
    assert info.value.trap_code == TrapCode.TABLE_OUT_OF_BOUNDS
    assert ex["t"].get(store, 100) is token  # nothing written


# Globals -------------------------------------------------------------------------------


def test_globals_defined_imported_and_host_created() -> None:
    store = _store()
    host = Global(store, GlobalType(I32, True), 5)
    ex = _instance(store, """
        (module
          (import "" "g" (global $g (mut i32)))
          (global $own (export "own") (mut i64) (i64.const -1))
          (global $f (export "f") f64 (f64.const 2.5))
          (func (export "bump") (global.set $g (i32.add (global.get $g) (i32.const 1)))
            (global.set $own (i64.add (global.get $own) (i64.const 1)))))
        """, [host])
    ex["bump"](store)
    assert host.value(store) == 6
    assert ex["own"].value(store) == 0
    assert ex["f"].value(store) == 2.5
    host.set_value(store, 100)
    ex["bump"](store)
    assert host.value(store) == 101
    assert host._rt.slot != ex["own"]._rt.slot


# Host calls ----------------------------------------------------------------------------


def test_host_exceptions_cross_compiled_frames_and_reentrancy_works() -> None:
    store = _store()
    linker = Linker(store.engine)
    calls = []

    class Boom(Exception):
        pass

    def host(caller, n):
        calls.append(n)
        if n == 3:
            raise Boom(n)
        return caller["count"](caller, n + 1) + 1  # re-enter wasm from the host

    linker.define_func("", "host", FuncType([I32], [I32]), host, access_caller=True)
    module = Module(store.engine, """
        (module (import "" "host" (func $h (param i32) (result i32)))
          (func $count (export "count") (param i32) (result i32) (call $h (local.get 0))))
        """)
    ex = linker.instantiate(store, module).exports(store)
    with pytest.raises(Boom) as info:
        ex["count"](store, 0)
    assert calls == [0, 1, 2, 3]
    assert [f.func_index for f in info.value.wasm_frames] == [1, 1, 1, 1]
    assert invoke_depth() == 0
    calls.clear()
    with pytest.raises(Boom):
        ex["count"](store, 2)
    assert calls == [2, 3]


def test_host_function_in_a_table_is_callable_from_wasm_and_host() -> None:
    store = _store()
    double = Func(store, FuncType([I32], [I32]), lambda x: 2 * x)
    table = Table(store, TableType(FUNCREF, Limits(2, None)), None)
    table.set(store, 1, double)
    ex = _instance(store, """
        (module (type $t (func (param i32) (result i32)))
          (import "" "t" (table 2 funcref))
          (func (export "call") (param i32 i32) (result i32)
            (call_indirect (type $t) (local.get 1) (local.get 0))))
        """, [table])
    assert ex["call"](store, 1, 21) == 42
    assert table.get(store, 1) == double
    with pytest.raises(Trap) as info:
        ex["call"](store, 0, 1)
    assert info.value.trap_code == TrapCode.INDIRECT_CALL_TO_NULL


# Resources -----------------------------------------------------------------------------


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def test_many_traps_keep_rss_flat() -> None:
    store = _store()
    ex = _instance(store, MEMORY_MODULE)
    load = ex["load"]
    with pytest.raises(Trap):
        load(store, 1 << 20)
    # The first ~10,000 traps grow the process once by ~4 MiB (allocator arenas and
    # free lists), then it stays flat: a leak would grow with every round.
    for _ in range(10_000):
        try:
            load(store, 1 << 20)
        except Trap:
            pass
    before = _rss_kib()
    for _ in range(10_000):
        try:
            load(store, 1 << 20)
        except Trap:
            pass
    grown = _rss_kib() - before
    assert grown < 2048, f"RSS grew by {grown} KiB over 10,000 traps"
    assert invoke_depth() == 0
    assert load(store, 0) == 0


def test_compiling_and_dropping_modules_releases_their_resources() -> None:
    engine = Engine(Config(strategy="jit"))
    binary = wat2wasm("""
        (module (memory 1) (table 2 funcref) (elem (i32.const 0) $f)
          (func $f (export "f") (param i32) (result i32) (local.get 0)))
        """)

    def cycle(i: int) -> None:
        store = Store(engine)
        module = Module(engine, binary)  # compiled again for every Module
        assert Instance(store, module, []).exports(store)["f"](store, i) == i

    for i in range(100):
        cycle(i)
    gc.collect()
    before = _rss_kib()
    for i in range(300):
        cycle(i)
    gc.collect()
    grown = _rss_kib() - before
    # ~5 KiB per compile is llvmlite's (docs/jit-design.md); memories and vmctx are freed.
    assert grown < 300 * 24, f"RSS grew by {grown} KiB over 300 modules"
