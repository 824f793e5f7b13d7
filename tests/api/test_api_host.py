"""Host functions through the public API: Caller, store data, exceptions, re-entrancy."""

from __future__ import annotations

import pytest

from pyjitwasm import (
    Caller,
    Engine,
    Func,
    FuncType,
    Instance,
    Linker,
    Module,
    Store,
    Trap,
    TrapCode,
    ValType,
)

I32 = ValType.i32()

CALLS_HOST = """
(module
  (import "host" "log" (func $log (param i32 i32)))
  (import "host" "twice" (func $twice (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello, host")
  (func (export "greet") (call $log (i32.const 16) (i32.const 11)))
  (func $inner (export "inner") (param i32) (result i32)
    (i32.add (call $twice (local.get 0)) (i32.const 1)))
  (func (export "outer") (param i32) (result i32)
    (call $inner (local.get 0))))
"""


def _instantiate(store: Store, log, twice, access_caller: bool = True):
    engine = store.engine
    linker = Linker(engine)
    linker.define_func("host", "log", FuncType([I32, I32], []), log, access_caller=access_caller)
    linker.define_func("host", "twice", FuncType([I32], [I32]), twice)
    return linker.instantiate(store, Module(engine, CALLS_HOST)).exports(store)


def test_caller_reads_memory_and_store_data() -> None:
    store = Store(Engine(), data={"seen": []})

    def log(caller: Caller, ptr: int, length: int) -> None:
        memory = caller["memory"]
        text = memory.read(caller, ptr, ptr + length).decode()
        caller.data["seen"].append(text)
        assert caller.get("no-such-export") is None

    exports = _instantiate(store, log, lambda x: 2 * x)
    exports["greet"](store)
    exports["greet"](store)
    assert store.data["seen"] == ["hello, host", "hello, host"]


def test_caller_is_invalid_after_the_call() -> None:
    store = Store()
    kept: list[Caller] = []

    def log(caller: Caller, ptr: int, length: int) -> None:
        kept.append(caller)

    exports = _instantiate(store, log, lambda x: x)
    exports["greet"](store)
    # As in wasmtime-py: get() finds nothing any more, data/store raise.
    assert kept[0].get("memory") is None
    with pytest.raises(Exception, match="only be used during"):
        kept[0].data  # noqa: B018


def test_python_exception_crosses_wasm_frames_unchanged() -> None:
    store = Store()

    class Boom(Exception):
        pass

    raised = Boom("from the host")

    def twice(x: int) -> int:
        raise raised

    exports = _instantiate(store, lambda c, p, n: None, twice)
    with pytest.raises(Boom) as info:
        exports["outer"](store, 5)
    assert info.value is raised
    frames = info.value.wasm_frames
    # innermost first: inner (which called the host), then outer
    assert [f.func_index for f in frames] == [3, 4]


def test_reentrancy_host_calls_back_into_wasm() -> None:
    store = Store()
    engine = store.engine
    module = Module(
        engine,
        """
        (module
          (import "host" "recurse" (func $recurse (param i32) (result i32)))
          (func (export "count") (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
              (then (i32.const 0))
              (else (i32.add (i32.const 1)
                             (call $recurse (i32.sub (local.get 0) (i32.const 1))))))))
        """,
    )
    holder: dict[str, Func] = {}

    def recurse(n: int) -> int:
        return holder["count"](store, n)

    host = Func(store, FuncType([I32], [I32]), recurse)
    instance = Instance(store, module, [host])
    holder["count"] = instance.exports(store)["count"]
    assert holder["count"](store, 20) == 20


def test_unbounded_host_reentrancy_traps_as_stack_overflow() -> None:
    store = Store()
    module = Module(
        store.engine,
        """
        (module
          (import "host" "again" (func $again))
          (func (export "go") (call $again)))
        """,
    )
    holder: dict[str, Func] = {}
    host = Func(store, FuncType([], []), lambda: holder["go"](store))
    holder["go"] = Instance(store, module, [host]).exports(store)["go"]
    with pytest.raises(Trap) as info:
        holder["go"](store)
    assert info.value.trap_code == TrapCode.STACK_OVERFLOW
    # The store is usable afterwards: nesting and depth counters were restored.
    with pytest.raises(Trap):
        holder["go"](store)


def test_host_results_are_type_checked() -> None:
    store = Store()
    exports = _instantiate(store, lambda c, p, n: None, lambda x: "not an int")
    with pytest.raises(TypeError):
        exports["inner"](store, 1)


def test_multiple_results_and_host_func_called_directly() -> None:
    store = Store()
    ft = FuncType([I32, ValType.f64()], [ValType.f64(), I32])
    swap = Func(store, ft, lambda a, b: (b, a))
    assert swap(store, 7, 1.5) == [1.5, 7]  # several results: a list, as in wasmtime-py
    assert swap.type(store) == ft
    module = Module(
        store.engine,
        """
        (module
          (import "" "swap" (func $swap (param i32 f64) (result f64 i32)))
          (func (export "f") (result f64 i32) (call $swap (i32.const -3) (f64.const 2.5))))
        """,
    )
    f = Instance(store, module, [swap]).exports(store)["f"]
    assert f(store) == [2.5, -3]
