"""Calls from compiled code into Python host functions (runtime/jit/hostcalls.py).

The JIT runs API host functions through per-signature entries that exchange values
through a per-thread native buffer.  These tests check that, seen from the API, they
behave exactly like the interpreter's generic path: every value type in both
directions (NaN payloads included), result checking, Callers, exceptions crossing
compiled frames, re-entrancy, threads, signatures too large for the buffer, and that a
store's host functions do not outlive it.
"""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Func,
    FuncType,
    Instance,
    Linker,
    Module,
    Store,
    Val,
    ValType,
)
from pyjitwasm.runtime import native
from pyjitwasm.runtime.jit import hostcalls
from pyjitwasm.wasm.errors import WasmError

ENGINES = ["interp", "jit"]
I32, I64, F32, F64 = ValType.i32(), ValType.i64(), ValType.f32(), ValType.f64()
V128, FUNCREF, EXTERNREF = ValType.v128(), ValType.funcref(), ValType.externref()

ALL_TYPES = """
(module
  (import "" "h" (func $h (param i32 i64 f32 f64 v128 funcref externref)
                          (result i32 i64 f32 f64 v128 funcref externref)))
  (func $f (export "f") (param i32) (result i32) (local.get 0))
  (elem declare func $f)
  (func (export "run") (param i32 i64 f32 f64 v128 externref)
                       (result i32 i64 f32 f64 v128 funcref externref)
    (call $h (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
             (ref.func $f) (local.get 5))))
"""


def _store(engine: str, data: Any = None) -> Store:
    return Store(Engine(Config(strategy=engine)), data)


@pytest.mark.parametrize("engine", ENGINES)
def test_every_value_type_crosses_both_ways(engine: str) -> None:
    store = _store(engine)
    seen: list[tuple[Any, ...]] = []
    marker = object()

    def host(a: int, b: int, c: float, d: float, e: int, f: Any, g: Any) -> tuple[Any, ...]:
        seen.append((a, b, c, d, e, f, g))
        return (a - 1, b + 1, c, -d, e ^ 1, f, g)

    types = [I32, I64, F32, F64, V128, FUNCREF, EXTERNREF]
    h = Func(store, FuncType(types, types), host)
    ex = Instance(store, Module(store.engine, ALL_TYPES), [h]).exports(store)
    big = (1 << 127) | 5
    out = ex["run"](store, -7, -(2**63), 1.5, -2.25, big, marker)
    (a, b, c, d, e, f, g), = seen
    assert (a, b, c, d, e) == (-7, -(2**63), 1.5, -2.25, big)
    assert isinstance(f, Func) and f(store, 41) == 41
    assert g is marker
    assert tuple(out[:5]) == (-8, -(2**63) + 1, 1.5, 2.25, big ^ 1)
    assert out[5] == ex["f"] and out[6] is marker

    # NaN payloads and signed extremes survive (compare bits through Vals).
    seen.clear()
    vals = ex["run"].call_vals(store, [Val.i32(2**31 - 1), Val.i64(2**63 - 1),
                                       Val.f32_bits(0x7FA00001), Val.f64_bits(0x7FF0000000000123),
                                       Val.v128(0), Val.externref(None)])
    a, b, c, d, _, f, g = seen[0]
    assert (a, b) == (2**31 - 1, 2**63 - 1)
    assert vals[2].bits == 0x7FA00001
    assert vals[3].bits == 0xFFF0000000000123  # negated: only the sign bit changes
    assert vals[0].value == 2**31 - 2 and vals[1].value == -(2**63)
    assert vals[6].value is None


@pytest.mark.parametrize("engine", ENGINES)
def test_unsigned_results_and_result_errors_match(engine: str) -> None:
    store = _store(engine)
    wat = """
    (module (import "" "h" (func $h (param i32) (result i32)))
      (import "" "m" (func $m (result i32 i64)))
      (import "" "n" (func $n))
      (func (export "h") (param i32) (result i32) (call $h (local.get 0)))
      (func (export "m") (result i32 i64) (call $m))
      (func (export "n") (call $n)))
    """
    results: dict[str, Any] = {"h": 0, "m": (1, 2), "n": None}
    h = Func(store, FuncType([I32], [I32]), lambda x: results["h"])
    m = Func(store, FuncType([], [I32, I64]), lambda: results["m"])
    n = Func(store, FuncType([], []), lambda: results["n"])
    ex = Instance(store, Module(store.engine, wat), [h, m, n]).exports(store)
    results["h"] = 0xFFFFFFFF
    assert ex["h"](store, 0) == -1
    results["h"] = True
    assert ex["h"](store, 0) == 1
    results["h"] = Val.i32(-5)
    assert ex["h"](store, 0) == -5
    results["m"] = [-1, 2**64 - 1]
    assert ex["m"](store) == [-1, -1]
    for bad, error in [(2**32, ValueError), (-(2**31) - 1, ValueError), (1.0, TypeError),
                       ("1", TypeError), (None, TypeError)]:
        results["h"] = bad
        with pytest.raises(error):
            ex["h"](store, 0)
    for bad in [(1,), (1, 2, 3), 5, None]:
        results["m"] = bad
        with pytest.raises(TypeError):
            ex["m"](store)
    results["n"] = 0
    with pytest.raises(TypeError):
        ex["n"](store)


@pytest.mark.parametrize("engine", ENGINES)
def test_caller_sees_the_calling_instance_and_expires(engine: str) -> None:
    store = _store(engine, data={"hits": 0})
    kept: list[Any] = []

    def host(caller: Any, addr: int) -> int:
        kept.append(caller)
        caller.data["hits"] += 1
        mem = caller["mem"]
        assert caller.get("nope") is None
        return mem.read(caller, addr, addr + 1)[0]

    linker = Linker(store.engine)
    linker.define_func("", "h", FuncType([I32], [I32]), host, access_caller=True)
    module = Module(store.engine, """
        (module (import "" "h" (func $h (param i32) (result i32)))
          (memory (export "mem") 1) (data (i32.const 10) "\\2a")
          (func (export "peek") (param i32) (result i32) (call $h (local.get 0))))
        """)
    ex = linker.instantiate(store, module).exports(store)
    assert ex["peek"](store, 10) == 42
    assert ex["peek"](store, 11) == 0
    assert store.data["hits"] == 2
    assert kept[0].get("mem") is None  # an expired Caller finds nothing (as wasmtime-py)
    with pytest.raises(WasmError):
        _ = kept[1].data


@pytest.mark.parametrize("engine", ENGINES)
def test_exceptions_keep_their_identity_through_nested_calls(engine: str) -> None:
    store = _store(engine)

    class Boom(Exception):
        pass

    raised: list[BaseException] = []

    def host(caller: Any, n: int) -> int:
        if n == 0:
            exc = Boom("deep")
            raised.append(exc)
            raise exc
        return caller["down"](caller, n - 1) + 1

    linker = Linker(store.engine)
    linker.define_func("", "h", FuncType([I32], [I32]), host, access_caller=True)
    module = Module(store.engine, """
        (module (import "" "h" (func $h (param i32) (result i32)))
          (func (export "down") (param i32) (result i32) (call $h (local.get 0))))
        """)
    ex = linker.instantiate(store, module).exports(store)
    with pytest.raises(Boom) as info:
        ex["down"](store, 4)
    assert info.value is raised[0]
    if engine == "jit":
        assert len(info.value.wasm_frames) == 5
        assert native.invoke_depth() == 0
    # Still usable, and re-entrant calls return the right values.
    calls = []

    def counting(caller: Any, n: int) -> int:
        calls.append(n)
        return n if n >= 3 else caller["down"](caller, n + 1) * 10 + n

    store2 = Store(store.engine)
    linker2 = Linker(store2.engine)
    linker2.define_func("", "h", FuncType([I32], [I32]), counting, access_caller=True)
    ex2 = linker2.instantiate(store2, module).exports(store2)
    assert ex2["down"](store2, 0) == 3210
    assert calls == [0, 1, 2, 3]


@pytest.mark.parametrize("engine", ENGINES)
def test_signature_too_large_for_the_buffer(engine: str) -> None:
    n = hostcalls.HOST_BUFFER_SLOTS + 6
    params = " ".join(["i64"] * n)
    gets = " ".join(f"(local.get {i})" for i in range(n))
    wat = f"""
    (module (import "" "h" (func $h (param {params}) (result i64)))
      (func (export "run") (param {params}) (result i64) (call $h {gets})))
    """
    store = _store(engine)
    h = Func(store, FuncType([I64] * n, [I64]), lambda *xs: sum(i * x for i, x in enumerate(xs)))
    ex = Instance(store, Module(store.engine, wat), [h]).exports(store)
    args = [i * 3 - 50 for i in range(n)]
    assert ex["run"](store, *args) == sum(i * x for i, x in enumerate(args))


def test_threads_use_their_own_buffers() -> None:
    store = _store("jit")
    barrier = threading.Barrier(2)

    def host(a: int, b: int) -> int:
        if a % 97 == 0:
            barrier.wait(timeout=10)  # make the threads interleave inside host calls
        return a * 3 + b

    h = Func(store, FuncType([I32, I32], [I32]), host)
    module = Module(store.engine, """
        (module (import "" "h" (func $h (param i32 i32) (result i32)))
          (func (export "sum") (param $n i32) (param $b i32) (result i32) (local $acc i32)
            (block $done (loop $l
              (br_if $done (i32.eqz (local.get $n)))
              (local.set $acc (i32.add (local.get $acc) (call $h (local.get $n) (local.get $b))))
              (local.set $n (i32.sub (local.get $n) (i32.const 1)))
              (br $l)))
            (local.get $acc)))
        """)
    instances = [Instance(store, module, [h]).exports(store) for _ in range(2)]
    results: dict[int, int] = {}

    def work(k: int) -> None:
        results[k] = instances[k]["sum"](store, 970, k * 1000)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(2):
        assert results[k] == sum(a * 3 + k * 1000 for a in range(1, 971))


def test_threads_calling_one_store_get_their_own_results() -> None:
    # Python writes the arguments into a values array and reads the results from it
    # around pyjitwasm_invoke, which runs without the GIL: with one array per store,
    # another thread's call could overwrite either in between.  Both callers (the API's
    # and the runtime's, behind call_vals) are exercised.
    store = _store("jit")
    ex = Instance(store, Module(store.engine, """
        (module (func (export "mix") (param i32 i32) (result i32)
          (i32.add (i32.mul (local.get 0) (i32.const 100000)) (local.get 1))))
        """), []).exports(store)
    mix = ex["mix"]
    wrong: dict[int, list[tuple[int, Any]]] = {k: [] for k in range(4)}

    def work(k: int) -> None:
        for i in range(10_000):
            got = mix(store, k, i) if i % 2 else mix.call_vals(store, [k, i])[0].value
            if got != k * 100_000 + i:
                wrong[k].append((i, got))

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == {k: [] for k in range(4)}


def test_host_functions_do_not_keep_their_store_alive() -> None:
    def make() -> tuple[weakref.ref[Store], int]:
        store = _store("jit")
        h = Func(store, FuncType([I32], [I32]), lambda x: x + len(str(store)))
        ex = Instance(store, Module(store.engine, """
            (module (import "" "h" (func $h (param i32) (result i32)))
              (func (export "f") (param i32) (result i32) (call $h (local.get 0))))
            """), [h]).exports(store)
        assert ex["f"](store, 1) == 1 + len(str(store))
        index = h._rt.compiled.host_index
        assert native._buffered_functions[index] is not None
        return weakref.ref(store), index

    ref, index = make()
    gc.collect()
    assert ref() is None
    assert native._buffered_functions[index] is None  # unregistered with the store


def test_jit_host_calls_use_the_buffered_path() -> None:
    store = _store("jit")
    h = Func(store, FuncType([I32, I32], [I32]), lambda a, b: a + b)
    Instance(store, Module(store.engine, """
        (module (import "" "h" (func $h (param i32 i32) (result i32)))
          (func (export "f") (result i32) (call $h (i32.const 1) (i32.const 2))))
        """), [h])
    index = h._rt.compiled.host_index
    assert native._host_functions[index] is None
    entry = native._buffered_functions[index]()
    assert entry is not None
    # The entry reads its arguments from and writes its result into a host buffer.
    buffer = memoryview(bytearray(native.HOST_BUFFER_HEADER + 32))
    buffer[16:20] = (-3).to_bytes(4, "little", signed=True)
    buffer[32:36] = (10).to_bytes(4, "little")
    entry(buffer)
    assert int.from_bytes(buffer[16:20], "little") == 7
