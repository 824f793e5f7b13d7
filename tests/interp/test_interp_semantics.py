"""Interpreter semantics the spec suite covers thinly or that are easy to get wrong."""

from __future__ import annotations

import struct

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store, Trap, TrapCode, Val
from pyjitwasm.interp.numeric import i64_to_f32
from pyjitwasm.runtime.floats import f32_from_bits, f32_to_bits


def _exports(wat: str):
    store = Store(Engine(Config(strategy="interp")))
    return store, Instance(store, Module(store.engine, wat), []).exports(store)


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def test_i64_to_f32_rounds_once() -> None:
    # 2**60 + 2**36 + 1 sits just above a tie between two f32 values: converting via a
    # double first rounds to the tie and then to even, which is wrong.
    v = (1 << 60) + (1 << 36) + 1
    assert i64_to_f32(v) == float((1 << 60) + (1 << 37))
    assert i64_to_f32(-v) == -float((1 << 60) + (1 << 37))
    assert i64_to_f32((1 << 60) + (1 << 36)) == float(1 << 60)  # exact tie -> even


@pytest.mark.parametrize("bits", [0x7FA00001, 0xFFC00123, 0x7F800001, 0x3F800000])
def test_f32_bits_round_trip(bits: int) -> None:
    assert f32_to_bits(f32_from_bits(bits)) == bits


def test_signaling_nan_survives_moves_memory_and_sign_ops() -> None:
    store, ex = _exports("""
    (module (memory 1)
      (func (export "f") (param f32) (result f32) (local f32)
        (local.set 1 (f32.neg (f32.abs (local.get 0))))
        (f32.store (i32.const 4) (local.get 1))
        (f32.copysign (f32.load (i32.const 4)) (f32.const 1))))
    """)
    [out] = ex["f"].call_vals(store, [Val.f32_bits(0xFFA00001)])
    assert out.bits == 0x7FA00001


def test_f32_arithmetic_rounds_each_result() -> None:
    store, ex = _exports("""
    (module (func (export "f") (param f32 f32) (result f32)
      (f32.add (f32.mul (local.get 0) (local.get 1)) (local.get 1))))
    """)
    a, b = _f32(0.1), _f32(3.3)
    assert ex["f"](store, a, b) == _f32(_f32(a * b) + b)


def test_min_max_signed_zero_and_nearest() -> None:
    store, ex = _exports("""
    (module
      (func (export "min") (param f64 f64) (result f64) (f64.min (local.get 0) (local.get 1)))
      (func (export "max") (param f64 f64) (result f64) (f64.max (local.get 0) (local.get 1)))
      (func (export "nearest") (param f32) (result f32) (f32.nearest (local.get 0))))
    """)
    assert struct.pack("<d", ex["min"](store, 0.0, -0.0)) == struct.pack("<d", -0.0)
    assert struct.pack("<d", ex["max"](store, -0.0, 0.0)) == struct.pack("<d", 0.0)
    assert ex["nearest"](store, 2.5) == 2.0 and ex["nearest"](store, 3.5) == 4.0
    assert struct.pack("<f", ex["nearest"](store, -0.5)) == struct.pack("<f", -0.0)


def test_branches_carry_values_and_discard_the_rest() -> None:
    store, ex = _exports("""
    (module
      (func (export "pick") (param i32) (result i32 i32)
        (block $b (result i32 i32)
          (i32.const 100)  ;; left below the branch values, must be discarded
          (drop)
          (i32.const 1) (i32.const 2) (i32.const 3)
          (br_table $b $b 0 (local.get 0))
          (drop) (drop)))
      (func (export "sum") (param i32) (result i32) (local i32)
        (local.get 0)
        (loop $l (param i32) (result i32)
          local.tee 0
          local.get 1
          i32.add
          local.set 1
          (br_if $l (i32.sub (local.get 0) (i32.const 1)) (local.get 0))
          (drop) (local.get 1))))
    """)
    assert ex["pick"](store, 0) == [2, 3]
    assert ex["pick"](store, 7) == [2, 3]
    assert ex["sum"](store, 4) == 10


def test_bulk_memory_checks_bounds_before_writing() -> None:
    store, ex = _exports("""
    (module (memory (export "m") 1)
      (func (export "fill") (param i32 i32) (memory.fill (local.get 0) (i32.const 9) (local.get 1)))
      (func (export "copy") (param i32 i32 i32)
        (memory.copy (local.get 0) (local.get 1) (local.get 2))))
    """)
    mem = ex["m"]
    ex["fill"](store, 65536, 0)  # zero length at the exact end is fine
    with pytest.raises(Trap) as info:
        ex["fill"](store, 65530, 7)
    assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    assert mem.read(store, 65530, 65536) == bytearray(6)  # nothing was written
    mem.write(store, b"abcdef", 0)
    ex["copy"](store, 2, 0, 4)  # overlapping copy behaves like memmove
    assert mem.read(store, 0, 6) == bytearray(b"ababcd")
    with pytest.raises(Trap):
        ex["fill"](store, 65537, 0)


def test_memory64_and_multiple_memories() -> None:
    store, ex = _exports("""
    (module
      (memory $a i64 1)
      (memory $b 1)
      (func (export "f") (param i64) (result i32)
        (i32.store $b (i32.const 0) (i32.const 77))
        (i64.store $a (local.get 0) (i64.const 0x1122334455667788))
        (i32.add (i32.load8_u $a (local.get 0)) (i32.load $b (i32.const 0))))
      (func (export "grow") (result i64) (memory.grow $a (i64.const 1))))
    """)
    assert ex["f"](store, 8) == 0x88 + 77
    with pytest.raises(Trap):
        ex["f"](store, 65535)
    with pytest.raises(Trap):
        ex["f"](store, -1)  # 2**64 - 1 as an unsigned address
    assert ex["grow"](store) == 1


def test_tail_calls_do_not_grow_the_stack() -> None:
    store = Store(Engine(Config(max_call_depth=50)))
    module = Module(store.engine, """
    (module (func $count (export "count") (param i32 i32) (result i32)
      (if (result i32) (i32.eqz (local.get 0))
        (then (local.get 1))
        (else (return_call $count (i32.sub (local.get 0) (i32.const 1))
                                  (i32.add (local.get 1) (i32.const 2)))))))
    """)
    count = Instance(store, module, []).exports(store)["count"]
    assert count(store, 1000, 0) == 2000


def test_table_ops_and_call_indirect_signature_check() -> None:
    store, ex = _exports("""
    (module
      (type $ii (func (param i32) (result i32)))
      (table $t 2 funcref)
      (func $inc (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
      (func $noop)
      (elem declare func $inc $noop)
      (func (export "setup") (table.set $t (i32.const 0) (ref.func $inc))
        (table.set $t (i32.const 1) (ref.func $noop)))
      (func (export "call") (param i32 i32) (result i32)
        (call_indirect $t (type $ii) (local.get 1) (local.get 0)))
      (func (export "grow") (result i32) (table.grow $t (ref.null func) (i32.const 3))))
    """)
    ex["setup"](store)
    assert ex["call"](store, 0, 41) == 42
    with pytest.raises(Trap) as info:
        ex["call"](store, 1, 0)
    assert info.value.trap_code == TrapCode.BAD_SIGNATURE
    assert ex["grow"](store) == 2
    with pytest.raises(Trap) as info:
        ex["call"](store, 4, 0)
    assert info.value.trap_code == TrapCode.INDIRECT_CALL_TO_NULL
