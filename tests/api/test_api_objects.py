"""Memories, tables, globals and values through the public API, including misuse."""

from __future__ import annotations

import math

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
    Memory,
    MemoryType,
    Module,
    Store,
    Table,
    TableType,
    Val,
    ValType,
    WasmError,
)


def test_memory_accessors_and_growth() -> None:
    store = Store()
    mem = Memory(store, MemoryType(1, 3))
    assert mem.size(store) == 1
    assert mem.data_len(store) == 65536
    assert mem.type(store).maximum == 3 and not mem.type(store).is_64
    mem.write(store, b"abc", 10)
    assert bytes(mem.read(store, 9, 14)) == b"\0abc\0"
    view = mem.buffer(store)
    view[0] = 42
    assert mem.read(store, 0, 1)[0] == 42
    del view
    assert mem.grow(store, 2) == 1
    assert mem.size(store) == 3
    with pytest.raises(WasmError):
        mem.grow(store, 1)
    with pytest.raises(IndexError):
        mem.write(store, b"xy", 3 * 65536 - 1)
    assert mem.read(store, 3 * 65536 - 1, 3 * 65536) == bytearray(1)


def test_memory_grow_while_a_view_is_held_keeps_working() -> None:
    store = Store()
    mem = Memory(store, MemoryType(Limits(1, None)))
    view = mem.buffer(store)
    mem.write(store, b"\x07", 5)
    assert mem.grow(store, 1) == 1
    assert mem.data_len(store) == 2 * 65536
    assert mem.read(store, 5, 6) == bytearray(b"\x07")
    assert len(view) == 65536  # the old view is stale but still valid memory


def test_memory64_type() -> None:
    store = Store()
    mem = Memory(store, MemoryType(1, 1 << 40, is_64=True))
    assert mem.type(store).is_64
    assert mem.type(store).maximum == 1 << 40


def test_table_accessors_and_type_errors() -> None:
    store = Store()
    f = Func(store, FuncType([], [ValType.i32()]), lambda: 7)
    table = Table(store, TableType(ValType.funcref(), 2, 10), None)
    assert table.size(store) == 2
    assert table.get(store, 0) is None
    table.set(store, 1, f)
    assert table.get(store, 1) == f
    assert table.get(store, 1)(store) == 7
    assert table.grow(store, 3, f) == 2
    assert table.size(store) == 5
    assert table.get(store, 4) == f
    table.fill(store, 0, None, 5)
    assert [table.get(store, i) for i in range(5)] == [None] * 5
    with pytest.raises(TypeError):
        table.set(store, 0, "an externref is not a funcref")
    with pytest.raises(IndexError):
        table.set(store, 5, f)
    with pytest.raises(WasmError):
        table.grow(store, 100, None)
    assert table.size(store) == 5  # failed operations changed nothing
    other = Store()
    foreign = Func(other, FuncType([], []), lambda: None)
    with pytest.raises(ValueError):
        table.set(store, 0, foreign)
    assert table.get(store, 0) is None


def test_externref_table_holds_python_objects() -> None:
    store = Store()
    table = Table(store, TableType(ValType.externref(), 3), None)
    marker = object()
    table.set(store, 2, marker)
    assert table.get(store, 2) is marker
    copy_dst = Table(store, TableType(ValType.externref(), 3), "x")
    copy_dst.copy(store, 0, table, 1, 2)
    assert copy_dst.get(store, 0) is None and copy_dst.get(store, 1) is marker
    assert copy_dst.get(store, 2) == "x"


def test_globals_with_mutability_and_type_checks() -> None:
    store = Store()
    g = Global(store, GlobalType(ValType.i32(), True), -5)
    assert g.value(store) == -5
    assert g.get_val(store) == Val.i32(-5)
    g.set_value(store, 0xFFFFFFFF)
    assert g.value(store) == -1
    with pytest.raises(TypeError):
        g.set_value(store, 1.5)
    with pytest.raises(ValueError):
        g.set_value(store, 1 << 40)
    assert g.value(store) == -1
    const = Global(store, GlobalType(ValType.f64(), False), 2.5)
    with pytest.raises(WasmError):
        const.set_value(store, 1.0)
    assert const.type(store) == GlobalType(ValType.f64(), False)


def test_float_vals_keep_nan_payloads() -> None:
    store = Store()
    g32 = Global(store, GlobalType(ValType.f32(), True), Val.f32_bits(0x7FA00001))
    assert g32.get_val(store).bits == 0x7FA00001  # a signaling NaN survives
    g64 = Global(store, GlobalType(ValType.f64(), True), Val.f64_bits(0xFFF4000000000123))
    assert g64.get_val(store).bits == 0xFFF4000000000123
    assert math.isnan(g64.value(store))
    g32.set_value(store, 0.1)
    assert g32.value(store) == pytest.approx(0.1, rel=1e-7)
    assert g32.get_val(store).bits == 0x3DCCCCCD  # rounded to f32


def test_funcs_check_argument_count_and_types() -> None:
    store = Store()
    module = Module(
        store.engine,
        '(module (func (export "add") (param i32 i64) (result i64)'
        " (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1))))",
    )
    add = Instance(store, module, []).exports(store)["add"]
    assert add(store, -1, 10) == 9
    assert add(store, Val.i32(2), Val.i64(-3)) == -1
    assert add.call_vals(store, [1, 1]) == [Val.i64(2)]
    with pytest.raises(TypeError):
        add(store, 1)
    with pytest.raises(TypeError):
        add(store, 1.0, 2)
    with pytest.raises(TypeError):
        add(store, Val.i64(1), 2)


def test_objects_from_another_store_are_rejected() -> None:
    engine = Engine()
    a, b = Store(engine), Store(engine)
    mem = Memory(a, MemoryType(1))
    with pytest.raises(ValueError):
        mem.size(b)
    module = Module(engine, '(module (import "" "m" (memory 1)))')
    with pytest.raises(ValueError):
        Instance(b, module, [mem])
    func = Instance(a, Module(engine, '(module (func (export "f")))'), []).exports(a)["f"]
    with pytest.raises(ValueError):
        func(b)


def test_val_constructors_and_types() -> None:
    assert Val.i32(-1).value == -1 and Val.i32(-1).bits == 0xFFFFFFFF
    assert Val.i64(2**64 - 1).value == -1
    assert Val.f32(1.1).value == pytest.approx(1.1, rel=1e-7)
    assert Val.f64(1.1).value == 1.1
    assert Val.externref(None).value is None
    assert Val.funcref(None).type == ValType.funcref()
    assert Val.v128(1 << 100).value == 1 << 100
    assert str(ValType.externref()) == "externref"
    assert ValType.i32() == ValType.i32() and ValType.i32() != ValType.i64()
    with pytest.raises(ValueError):
        Val.i32(1 << 32)
    with pytest.raises(TypeError):
        Val.funcref("nope")


def test_exports_object_behaves_like_a_mapping() -> None:
    store = Store()
    module = Module(
        store.engine,
        '(module (func (export "a")) (memory (export "m") 1) (global (export "g") i32'
        " (i32.const 4)) (table (export \"t\") 1 funcref))",
    )
    exports = Instance(store, module, []).exports(store)
    assert list(exports) == ["a", "m", "g", "t"]
    assert len(exports) == 4
    assert isinstance(exports["m"], Memory)
    assert exports.by_index[2].value(store) == 4
    assert exports[0] == exports["a"]
    assert exports.get("missing") is None
    with pytest.raises(KeyError):
        exports["missing"]
    assert [e.name for e in module.exports] == ["a", "m", "g", "t"]
    assert isinstance(module.exports[3].type, TableType)


FLOAT_RESULTS_WAT = """
(module
  (import "host" "three" (func $host_three (param f32) (result f32 f32 f32)))
  (type $four (func (param f64) (result f64 f64 f64 f64)))
  (table 1 funcref)
  (elem (i32.const 0) $four)
  (func $three (export "three") (param f32) (result f32 f32 f32)
    (local.get 0) (local.get 0) (local.get 0))
  (func $four (export "four") (param f64) (result f64 f64 f64 f64)
    (local.get 0) (local.get 0) (local.get 0) (local.get 0))
  (func (export "call_three") (param f32) (result f32 f32 f32)
    (call $three (local.get 0)))
  (func (export "tail_three") (param f32) (result f32 f32 f32)
    (return_call $three (local.get 0)))
  (func (export "via_host") (param f32) (result f32 f32 f32)
    (call $host_three (local.get 0)))
  (func (export "via_table") (param f64) (result f64 f64 f64 f64)
    (call_indirect (type $four) (local.get 0) (i32.const 0))))
"""


@pytest.mark.parametrize("strategy", ["interp", "jit"])
def test_three_and_four_float_results_keep_signalling_nans(strategy: str) -> None:
    # The JIT once returned a third or fourth float result on the x87 stack (LLVM's
    # convention for a struct of floats), which quieted signalling NaNs.
    store = Store(Engine(Config(strategy=strategy)))
    f32 = ValType.f32()
    host = Func(store, FuncType([f32], [f32, f32, f32]), lambda x: (x, x, x))
    ex = Instance(store, Module(store.engine, FLOAT_RESULTS_WAT), [host]).exports(store)
    snan32 = Val.f32_bits(0x7FA00001)
    for name in ("three", "call_three", "tail_three", "via_host"):
        assert [v.bits for v in ex[name].call_vals(store, [snan32])] == [0x7FA00001] * 3, name
    snan64 = Val.f64_bits(0xFFF4000000000123)
    for name in ("four", "via_table"):
        assert [v.bits for v in ex[name].call_vals(store, [snan64])] == \
            [0xFFF4000000000123] * 4, name
