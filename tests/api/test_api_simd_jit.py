"""v128 values across every boundary of the JIT, through the public API: exported
functions' parameters and results (single and multi-value), host functions called from
wasm, mutable and imported v128 globals, locals, loop block parameters, select,
call_indirect; v128 memory accesses checked on their full 16 bytes, on static and
dynamic heaps."""

from __future__ import annotations

import pytest

from pyjitwasm import (
    Config,
    Engine,
    FuncType,
    Global,
    GlobalType,
    Linker,
    Module,
    Store,
    Trap,
    TrapCode,
    Val,
    ValType,
)


# Lanes of i32x4 (lane 0 first) as the 128-bit integer the API uses for v128.
def i32x4(*lanes: int) -> int:
    return sum((lane & 0xFFFFFFFF) << (32 * i) for i, lane in enumerate(lanes))


A = i32x4(1, 2, 3, 4)
B = i32x4(10, 20, 30, -1)
ALL_ONES = (1 << 128) - 1

MODULE = """
(module
  (import "host" "combine" (func $combine (param v128 i32 v128) (result v128 v128)))
  (import "host" "g" (global $imported (mut v128)))
  (memory (export "memory") 1)
  (global $g (export "g") (mut v128) (v128.const i32x4 7 8 9 10))
  (table 1 funcref)
  (elem (i32.const 0) $add)
  (type $binop (func (param v128 v128) (result v128)))
  (func $add (export "add") (type $binop)
    (i32x4.add (local.get 0) (local.get 1)))
  (func (export "swap") (param v128 i32 v128) (result v128 i32 v128)
    (local.get 2) (local.get 1) (local.get 0))
  (func (export "via_host") (param v128 v128) (result v128)
    (local $first v128)
    (call $combine (local.get 0) (i32.const 3) (local.get 1))
    (local.set $first)
    (i32x4.sub (local.get $first)))
  (func (export "indirect") (param v128 v128) (result v128)
    (call_indirect (type $binop) (local.get 0) (local.get 1) (i32.const 0)))
  (func (export "bump_globals") (param v128) (result v128)
    (global.set $g (i32x4.add (global.get $g) (local.get 0)))
    (global.set $imported (v128.xor (global.get $imported) (local.get 0)))
    (global.get $g))
  (func (export "sum_loop") (param v128 i32) (result v128)
    ;; v128 block parameters around a loop: doubles the vector n times.
    (local.get 0)
    (loop $l (param v128) (result v128)
      (i32x4.add (local.tee 0) (local.get 0))
      (local.tee 1 (i32.sub (local.get 1) (i32.const 1)))
      (br_if $l)))
  (func (export "pick") (param v128 v128 i32) (result v128)
    (select (local.get 0) (local.get 1) (local.get 2)))
  (func (export "load") (param i32) (result v128) (v128.load align=1 (local.get 0)))
  (func (export "store") (param i32 v128) (v128.store (local.get 0) (local.get 1)))
  (func (export "load_splat") (param i32) (result v128) (v128.load64_splat (local.get 0)))
  (func (export "store_lane") (param i32 v128) (v128.store32_lane 3 (local.get 0) (local.get 1)))
)
"""


def _instance(memory_style: str = "static"):
    store = Store(Engine(Config(strategy="jit", memory_style=memory_style)))
    linker = Linker(store.engine)
    seen: list[tuple[int, int, int]] = []

    def combine(x: int, n: int, y: int) -> tuple[int, int]:
        seen.append((x, n, y))
        # Both results: the host's own v128 values back to wasm.
        return Val.v128(i32x4(n, n, n, n)), y ^ ALL_ONES

    v128 = ValType.v128()
    linker.define_func("host", "combine", FuncType([v128, ValType.i32(), v128], [v128, v128]),
                       combine)
    imported = Global(store, GlobalType(v128, True), Val.v128(A))
    linker.define(store, "host", "g", imported)
    instance = linker.instantiate(store, Module(store.engine, MODULE))
    return store, instance.exports(store), imported, seen


@pytest.fixture(params=["static", "dynamic"])
def jit(request: pytest.FixtureRequest):
    return _instance(request.param)


def test_exported_function_params_and_results(jit) -> None:
    store, ex, _, _ = jit
    assert ex["add"](store, A, B) == i32x4(11, 22, 33, 3)
    assert ex["add"](store, Val.v128(ALL_ONES), Val.v128(i32x4(1, 1, 1, 1))) == 0
    assert ex["add"].call_vals(store, [Val.v128(A), Val.v128(A)])[0].value == i32x4(2, 4, 6, 8)


def test_multi_value_results_mix_v128_and_scalars(jit) -> None:
    store, ex, _, _ = jit
    assert ex["swap"](store, A, 5, B) == [B, 5, A]


def test_host_function_takes_and_returns_v128(jit) -> None:
    store, ex, _, seen = jit
    # wasm: first - second, where (first, second) = combine(a, 3, b) = (splat 3, ~b).
    result = ex["via_host"](store, A, B)
    assert seen == [(A, 3, B)]
    expected = [(3 - lane) & 0xFFFFFFFF for lane in (~10, ~20, ~30, 0)]
    assert result == i32x4(*expected)


def test_call_indirect_carries_v128(jit) -> None:
    store, ex, _, _ = jit
    assert ex["indirect"](store, A, A) == i32x4(2, 4, 6, 8)


def test_globals_defined_and_imported(jit) -> None:
    store, ex, imported, _ = jit
    exported = ex["g"]
    assert exported.value(store) == i32x4(7, 8, 9, 10)
    assert ex["bump_globals"](store, A) == i32x4(8, 10, 12, 14)
    assert exported.value(store) == i32x4(8, 10, 12, 14)
    assert imported.value(store) == 0  # A xor A
    imported.set_value(store, Val.v128(B))
    exported.set_value(store, Val.v128(ALL_ONES))
    assert ex["bump_globals"](store, A) == i32x4(0, 1, 2, 3)
    assert imported.value(store) == A ^ B


def test_loop_block_params_and_select(jit) -> None:
    store, ex, _, _ = jit
    assert ex["sum_loop"](store, A, 3) == i32x4(8, 16, 24, 32)
    assert ex["pick"](store, A, B, 1) == A
    assert ex["pick"](store, A, B, 0) == B


def test_v128_memory_accesses_check_all_sixteen_bytes(jit) -> None:
    store, ex, _, _ = jit
    memory = ex["memory"]
    ex["store"](store, 65536 - 16, A)
    assert ex["load"](store, 65536 - 16) == A
    assert bytes(memory.read(store, 65536 - 16, 65536)) == A.to_bytes(16, "little")
    assert ex["load"](store, 3) == 0  # unaligned: the alignment hint never traps
    for start in (65536 - 15, 65536 - 1, 0xFFFFFFF0):
        with pytest.raises(Trap) as info:
            ex["load"](store, start)
        assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
        with pytest.raises(Trap):
            ex["store"](store, start, A)
    # A store that traps writes nothing, even the bytes that are in bounds.
    assert bytes(memory.read(store, 65536 - 15, 65536)) == A.to_bytes(16, "little")[1:]
    ex["store_lane"](store, 65536 - 4, B)
    assert bytes(memory.read(store, 65536 - 4, 65536)) == b"\xff\xff\xff\xff"
    with pytest.raises(Trap):
        ex["store_lane"](store, 65536 - 3, B)
    last = int.from_bytes(memory.read(store, 65536 - 8, 65536), "little")
    assert last == 3 | 0xFFFFFFFF << 32  # lane 3 of A, then lane 3 of B stored over lane 4
    assert ex["load_splat"](store, 65536 - 8) == last | last << 64
    with pytest.raises(Trap):
        ex["load_splat"](store, 65536 - 7)
