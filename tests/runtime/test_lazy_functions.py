"""An instance's defined functions are made on first use (``runtime/jit/instance.py``
``LazyFunctions``): always the same object, and every way of reaching a function
(exports, tables, ``call_indirect``, funcrefs read back, iteration) sees the right one."""

from __future__ import annotations

import threading

import pytest

from pyjitwasm import Config, Engine, Func, FuncType, Instance, Module, Store, Trap, ValType
from pyjitwasm.runtime.jit.instance import LazyFunctions
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.wasm.traps import TrapCode

TABLE_MODULE = """
(module
  (type $t (func (result i32)))
  (import "host" "seven" (func $seven (result i32)))
  (table $own (export "table") 8 funcref)
  (table $mixed (export "mixed") 4 funcref)
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.const 2))
  (func $three (result i32) (i32.const 3))
  (func $unused (result i32) (i32.const 4))
  (func $called (result i32) (i32.const 5))
  (elem (table $own) (i32.const 0) func $one $two $three)
  ;; overwrites element 1 afterwards, and its items are not all functions
  (elem (table $own) (i32.const 1) funcref (ref.null func) (ref.func $three))
  ;; imported and defined functions in one segment
  (elem (table $mixed) (i32.const 0) func $seven $two)
  ;; defined functions out of order
  (elem (table $mixed) (i32.const 2) func $three $one)
  (func (export "call") (param i32) (result i32) (call_indirect $own (type $t) (local.get 0)))
  (func (export "call_mixed") (param i32) (result i32)
    (call_indirect $mixed (type $t) (local.get 0)))
  (func (export "get") (param i32) (result funcref) (table.get $own (local.get 0)))
  (func (export "direct") (result i32) (call $called))
  (func (export "ref_two") (result funcref) (ref.func $two)))
"""
# Function indices: 0 $seven (import), 1 $one, 2 $two, 3 $three, 4 $unused, 5 $called,
# 6 call, 7 call_mixed, 8 get, 9 direct, 10 ref_two.


def _instance() -> tuple[Store, Instance]:
    store = Store(Engine(Config(strategy="jit")))
    seven = Func(store, FuncType([], [ValType.i32()]), lambda: 7)
    module = Module(store.engine, TABLE_MODULE)
    return store, Instance(store, module, [seven])


def _unmade(funcs: LazyFunctions) -> list[int]:
    return [i for i in range(len(funcs)) if list.__getitem__(funcs, i) is None]


def test_functions_are_made_on_first_use_and_stay_the_same() -> None:
    store, instance = _instance()
    rt = instance._rt
    funcs = rt.funcs
    assert isinstance(funcs, LazyFunctions)
    assert len(funcs) == 11
    # The import is there from the start; the exports were bound (made), and so were
    # $three and $two: the segments naming them are not all of the instance's own
    # functions.  The rest, including $one in the table, are not made yet.
    assert _unmade(funcs) == [1, 4, 5]
    assert rt.exports["call"] is funcs[6]
    first = funcs[4]
    assert first is funcs[4] and first is funcs[-7]
    assert first.index == 4 and first.code_slot == 3 and first.instance is rt
    assert funcs[1:3] == [funcs[1], funcs[2]]
    assert _unmade(funcs) == [5]
    # Iteration makes every function, once.
    listed = list(funcs)
    assert [f.index for f in listed[1:]] == list(range(1, 11))
    assert all(a is b for a, b in zip(listed, funcs, strict=True))
    assert _unmade(funcs) == []


def test_tables_and_calls_reach_functions_not_made() -> None:
    store, instance = _instance()
    ex = instance.exports(store)
    own = ex["table"]._rt
    assert isinstance(own, JitTable)
    # Element 0 was written as the record's word at instantiation; element 1 was
    # overwritten by the later segment (null), element 2 too ($three).
    assert own._words[0] & vm.FUNCREF_INIT_BIT
    assert [ex["call"](store, i) for i in (0, 2)] == [1, 3]
    with pytest.raises(Trap) as info:
        ex["call"](store, 1)
    assert info.value.trap_code == TrapCode.INDIRECT_CALL_TO_NULL
    assert ex["direct"](store) == 5
    assert [ex["call_mixed"](store, i) for i in range(4)] == [7, 2, 3, 1]
    # Calls through slots and records made no function objects.
    assert _unmade(instance._rt.funcs) == [1, 4, 5]


def test_funcrefs_read_back_are_the_instance_functions() -> None:
    store, instance = _instance()
    ex = instance.exports(store)
    funcs = instance._rt.funcs
    assert _unmade(funcs) == [1, 4, 5]
    # From wasm (a funcref result: the word is the record of a function not made yet).
    got = ex["get"](store, 0)
    assert got._rt is funcs[1]
    assert got(store) == 1
    # From the host (Table.get) and from ref.func.
    assert ex["table"].get(store, 2)._rt is funcs[3]
    assert ex["table"].get(store, 1) is None
    assert ex["ref_two"](store)._rt is funcs[2]
    assert ex["mixed"].get(store, 1)._rt is funcs[2]
    assert ex["get"](store, 0)._rt is funcs[1]


def _first_reads(funcs: LazyFunctions, index: int, threads: int) -> list[object]:
    """``funcs[index]`` read by ``threads`` threads at once."""
    barrier = threading.Barrier(threads)
    seen: list[object] = []

    def read() -> None:
        barrier.wait()
        seen.append(funcs[index])

    workers = [threading.Thread(target=read) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return seen


def test_threads_reading_a_function_first_get_one_object() -> None:
    for _ in range(20):
        _, instance = _instance()
        seen = _first_reads(instance._rt.funcs, 4, 4)
        assert len(seen) == 4 and all(item is seen[0] for item in seen)


def test_the_interpreter_keeps_a_plain_list() -> None:
    store = Store(Engine(Config(strategy="interp")))
    seven = Func(store, FuncType([], [ValType.i32()]), lambda: 7)
    instance = Instance(store, Module(store.engine, TABLE_MODULE), [seven])
    ex = instance.exports(store)
    assert type(instance._rt.funcs) is list
    assert [ex["call"](store, i) for i in (0, 2)] == [1, 3]
    assert ex["table"].get(store, 1) is None
    assert [ex["call_mixed"](store, i) for i in range(4)] == [7, 2, 3, 1]


def test_list_operations_see_made_functions() -> None:
    _, instance = _instance()
    funcs = instance._rt.funcs
    whole = funcs + []
    assert None not in whole and len(whole) == 11
    assert all(a is b for a, b in zip(whole, funcs.copy(), strict=True))
    assert funcs[4] in funcs and funcs.index(funcs[4]) == 4 and funcs.count(funcs[4]) == 1
    assert list(reversed(funcs))[0] is funcs[10]
    assert tuple(funcs) == tuple(whole) and funcs == whole
