"""Float values kept in xmm0/xmm1 by the single-pass x86-64 tier 0 (``x64/``).

A float heap load leaves its value in xmm1 and an arithmetic result stays in xmm0, their
slots written only when a register is reused for another live value or an instruction
reads slots (``FunctionCompiler.spill_xmm``).  Each function below puts a value held
only in a register in one of those places (a second load, a second product, a call, a
branch with a block result, a comparison, a local, a store, a reinterpretation) and is
compared against the reference interpreter: values only moved are compared bit for bit
(i64 bit patterns: NaN payloads count), arithmetic results as floats (any NaN).
"""

from __future__ import annotations

import struct

import pytest

from pyjitwasm.runtime.native import lazy_stubs_supported
from pyjitwasm.x64 import tier0

from support.x64_cases import CASES, x64_counts

pytestmark = pytest.mark.skipif(not (lazy_stubs_supported() and tier0.supported_host()),
                                reason="the x86-64 tier 0 is for x86-64 Linux")


# Memory: f64 at 0, 8, 16, 24 and f32 at 32, 36 (``set`` writes the bit patterns).
FLOAT_REGISTERS = """
(module
  (memory 1)
  (func $id (param f64) (result f64) (local.get 0))
  (func (export "set") (param i64 i64 i64 i64 i32 i32)
    (i64.store (i32.const 0) (local.get 0)) (i64.store (i32.const 8) (local.get 1))
    (i64.store (i32.const 16) (local.get 2)) (i64.store (i32.const 24) (local.get 3))
    (i32.store (i32.const 32) (local.get 4)) (i32.store (i32.const 36) (local.get 5)))
  (func (export "loads_nested") (result f64)
    ;; the first load's xmm1 is spilled by the second; the sum's xmm0 by the product
    (f64.sub (f64.add (f64.load (i32.const 0)) (f64.load (i32.const 8)))
             (f64.mul (f64.load (i32.const 16)) (f64.load (i32.const 24)))))
  (func (export "first_from_xmm1") (result f64)
    (f64.div (f64.load (i32.const 0)) (f64.load offset=8 (i32.const 0))))
  (func (export "second_in_xmm0") (result f64)
    ;; the second operand is computed into xmm0 while the first waits in its slot
    (f64.sub (f64.load (i32.const 8))
             (f64.sqrt (f64.mul (f64.load (i32.const 0)) (f64.load (i32.const 0))))))
  (func (export "sqrt_chain") (result f64)
    (f64.sqrt (f64.sqrt (f64.load (i32.const 16)))))
  (func (export "across_call") (result f64)
    (f64.add (f64.mul (f64.load (i32.const 0)) (f64.load (i32.const 8)))
             (call $id (f64.load (i32.const 16)))))
  (func (export "moved_across_call") (result i64)
    (i64.xor (i64.reinterpret_f64 (f64.load (i32.const 0)))
             (i64.reinterpret_f64 (call $id (f64.load (i32.const 8))))))
  (func (export "block_result") (param i32) (result i64)
    (i64.reinterpret_f64
      (block (result f64)
        (f64.load (i32.const 8))
        (br_if 0 (local.get 0))
        (drop)
        (f64.load (i32.const 24)))))
  (func (export "block_sum") (param i32) (result f64)
    (block (result f64)
      (f64.add (f64.load (i32.const 0)) (f64.load (i32.const 8)))
      (br_if 0 (local.get 0))
      (drop)
      (f64.load (i32.const 24))))
  (func (export "compares") (result i32)
    (i32.add
      (i32.add (f64.lt (f64.load (i32.const 0)) (f64.load (i32.const 8)))
               (i32.shl (f64.lt (f64.add (f64.load (i32.const 0)) (f64.load (i32.const 8)))
                                (f64.load (i32.const 16))) (i32.const 1)))
      (i32.add (i32.shl (f64.ge (f64.load (i32.const 8)) (f64.load (i32.const 0)))
                        (i32.const 2))
               (i32.shl (f64.eq (f64.load (i32.const 16))
                                (f64.mul (f64.load (i32.const 0)) (f64.load (i32.const 24))))
                        (i32.const 3)))))
  (func (export "locals") (result f64) (local f64 f64)
    (local.set 0 (f64.load (i32.const 0)))
    (local.set 1 (f64.add (local.tee 0 (f64.mul (local.get 0) (f64.load (i32.const 8))))
                          (local.get 0)))
    (f64.sub (local.get 1) (local.get 0)))
  (func (export "local_bits") (result i64) (local f64 f32)
    (local.set 0 (f64.load (i32.const 8)))
    (local.set 1 (f32.load (i32.const 32)))
    (i64.add (i64.reinterpret_f64 (local.get 0))
             (i64.extend_i32_u (i32.reinterpret_f32 (local.tee 1 (local.get 1))))))
  (func (export "stores") (result i64)
    ;; a float stored straight from xmm1: the bits as loaded, NaN payloads included
    (f64.store (i32.const 40) (f64.load (i32.const 0)))
    (f32.store (i32.const 48) (f32.load (i32.const 32)))
    (f32.store (i32.const 52) (f32.load (i32.const 36)))
    (i64.xor (i64.load (i32.const 40)) (i64.rotl (i64.load (i32.const 48)) (i64.const 17))))
  (func (export "stored_results") (result f64)
    ;; stored from xmm0 (arithmetic results), both widths
    (f64.store (i32.const 56) (f64.add (f64.load (i32.const 0)) (f64.load (i32.const 8))))
    (f32.store (i32.const 64) (f32.mul (f32.load (i32.const 32)) (f32.load (i32.const 36))))
    (f64.add (f64.load (i32.const 56)) (f64.promote_f32 (f32.load (i32.const 64)))))
  (func (export "f32_mix") (result f64)
    (f64.add (f64.promote_f32 (f32.sqrt (f32.load (i32.const 32))))
             (f64.promote_f32 (f32.demote_f64 (f64.load (i32.const 8))))))
  (func (export "selected") (param i32) (result i64)
    (i64.reinterpret_f64
      (select (f64.load (i32.const 0)) (f64.load (i32.const 16)) (local.get 0))))
  (func (export "selected_product") (param i32) (result f64)
    (select (f64.load (i32.const 0)) (f64.mul (f64.load (i32.const 8)) (f64.load (i32.const 16)))
            (local.get 0)))
  (func (export "squares") (result f64) (local f64 f64)
    ;; local.tee x; local.get x; mul: the square in the register
    (f64.add (f64.mul (local.tee 0 (f64.sub (f64.load (i32.const 0)) (f64.load (i32.const 8))))
                      (local.get 0))
             (f64.mul (local.tee 1 (f64.load (i32.const 16))) (local.get 1))))
  (func (export "rewritten") (param f64) (result f64) (local f64)
    ;; the local changes after the tee from xmm0: its new value must be read
    (drop (local.tee 1 (f64.add (f64.load (i32.const 0)) (f64.load (i32.const 8)))))
    (local.set 1 (local.get 0))
    (f64.mul (f64.add (f64.load (i32.const 0)) (f64.load (i32.const 8))) (local.get 1)))
  (func (export "rewritten_const") (result f64) (local f64)
    (f64.add (local.tee 0 (f64.mul (f64.load (i32.const 0)) (f64.load (i32.const 8))))
             (block (result f64) (local.set 0 (f64.const 0.5)) (local.get 0))))
  (func (export "sqrt_of_tee") (result f64) (local f64)
    ;; d2 * sqrt(d2): the sqrt takes the local from xmm0 and d2 moves to xmm1, then
    ;; the product has its first operand in xmm1 and its second in xmm0
    (f64.div (f64.load (i32.const 24))
      (f64.mul (local.tee 0 (f64.add (f64.load (i32.const 0)) (f64.load (i32.const 8))))
               (f64.sqrt (local.get 0)))))
  (func (export "swapped_operands") (result f64) (local f64)
    ;; non-commutative operations with the first operand in xmm1, the second in xmm0
    (f64.sub (local.tee 0 (f64.sub (f64.load (i32.const 0)) (f64.load (i32.const 8))))
             (f64.sqrt (local.get 0))))
  (func (export "swapped_f32") (result f32) (local f32)
    (f32.div (local.tee 0 (f32.add (f32.load (i32.const 32)) (f32.load (i32.const 36))))
             (f32.sqrt (local.get 0))))
  (func (export "busy_xmm1") (result f64) (local f64)
    ;; xmm1 holds a live load when the sqrt takes the local from xmm0
    (f64.add (f64.load (i32.const 16))
      (f64.mul (local.tee 0 (f64.mul (f64.load (i32.const 0)) (f64.load (i32.const 8))))
               (f64.sqrt (local.get 0)))))
  (func (export "kernel") (param i32) (result f64) (local i32 f64)
    ;; an nbody-like loop: loads, products, sqrt, division, stores back
    (loop $l
      (local.set 2 (f64.sub (f64.load (i32.const 0)) (f64.load (i32.const 8))))
      (f64.store (i32.const 16)
        (f64.add (f64.load (i32.const 16))
                 (f64.div (local.get 2)
                          (f64.add (f64.const 1)
                                   (f64.sqrt (f64.mul (local.get 2) (local.get 2)))))))
      (f64.store (i32.const 0) (f64.mul (f64.load (i32.const 0)) (f64.const 0.75)))
      (br_if $l (i32.lt_u (local.tee 1 (i32.add (local.get 1) (i32.const 1)))
                          (local.get 0))))
    (f64.load (i32.const 16)))
)
"""



def _product(k: int) -> str:
    return (f"(f64.mul (f64.load (i32.const {8 * (k % 4)}))"
            f" (f64.load (i32.const {8 * ((k + 1) % 4)})))")


def _parked_functions() -> str:
    """Functions whose float values wait in xmm2-xmm7 (``FunctionCompiler.fpool``)."""
    chain = _product(8)
    for k in range(7, -1, -1):
        chain = f"({'f64.sub' if k % 2 else 'f64.add'} {_product(k)} {chain})"
    p = _product
    return f"""
  (func (export "many_live") (result f64)
    ;; nine products alive at once: parked in xmm2-xmm7, then in slots
    {chain})
  (func (export "parked_uses") (param i32) (result f64) (local f64)
    ;; values parked by the next computation, then taken by each kind of consumer
    (i32.const 80) {p(0)} {p(1)} (drop) (f64.store)
    {p(2)} {p(3)} (drop) (local.set 1)
    {p(1)} {p(2)} (drop) (f64.sqrt)
    {p(3)} {p(0)} (drop) (f64.lt (f64.const 1)) (f64.convert_i32_u)
    (f64.add)
    (block (param f64) (result f64)
      {p(2)} (drop)
      (br_if 0 (local.get 0))
      (f64.add (call $id {p(0)})))
    (f64.add (f64.load (i32.const 80)))
    (f64.add (local.get 1)))
  (func (export "parked_compare") (result i32)
    (f64.gt {p(0)} (f64.add {p(1)} {p(2)})))
"""


FLOAT_REGISTERS = FLOAT_REGISTERS.replace('  (func (export "kernel")',
                                          _parked_functions() + '  (func (export "kernel")')

NAMES = ("loads_nested", "first_from_xmm1", "second_in_xmm0", "sqrt_chain", "across_call",
         "moved_across_call", "compares", "locals", "local_bits", "stores",
         "stored_results", "f32_mix", "squares", "rewritten_const", "sqrt_of_tee",
         "swapped_operands", "swapped_f32", "busy_xmm1", "many_live", "parked_compare")


def _f64(value: float) -> int:
    return struct.unpack("<q", struct.pack("<d", value))[0]


def _f32(value: float) -> int:
    return struct.unpack("<i", struct.pack("<f", value))[0]


def _rotl(value: int) -> int:
    rotated = ((value << 17) | (value >> 47)) & (2**64 - 1)
    return rotated - 2**64 if rotated >> 63 else rotated


VALUES = [
    (_f64(1.5), _f64(-2.25), _f64(4.0), _f64(0.1), _f32(2.0), _f32(-3.5)),
    (_f64(0.0), _f64(-0.0), _f64(float("inf")), _f64(3.0), _f32(-0.0), _f32(1e30)),
    # NaNs with payloads (a signalling one too): loads and stores keep their bits
    (0x7FF4000000000001, -0x0008000000000000 + 5, _f64(2.0), _f64(float("nan")),
     0x7FA00001, -0x00400000),
    (_f64(1e300), _f64(1e-300), _f64(-7.5), _f64(2.0), _f32(float("inf")), _f32(1e-40)),
]


def test_float_values_in_registers_match_the_interpreter(x64_everywhere: None) -> None:
    before = x64_counts()
    pair = CASES._Pair(FLOAT_REGISTERS)
    for values in VALUES:
        pair.check("set", *values)
        for name in NAMES:
            pair.check(name)
        for x in (2.0, -0.0, float("nan")):
            pair.check("rewritten", x)
        for flag in (0, 1):
            for name in ("block_result", "block_sum", "selected", "selected_product",
                         "parked_uses"):
                pair.check(name, flag)
        for count in (1, 2, 9):
            pair.check("set", *values)
            pair.check("kernel", count)
    assert pair.check("set", *VALUES[0]) == ("ok", None)
    assert pair.check("first_from_xmm1") == ("ok", struct.pack("<d", 1.5 / -2.25))
    assert pair.check("second_in_xmm0") == ("ok", struct.pack("<d", -2.25 - 1.5))
    moved = (_f32(-3.5) << 32 | _f32(2.0)) & (2**64 - 1)
    assert pair.check("rewritten", 2.0) == ("ok", struct.pack("<d", (1.5 - 2.25) * 2.0))
    assert pair.check("swapped_operands") == ("ok", struct.pack("<d", 3.75 - 3.75 ** 0.5))
    assert pair.check("stores") == ("ok", _f64(1.5) ^ _rotl(moved))
    after = x64_counts()
    assert after[0] > before[0] and after[1] == before[1]


def test_float_results_skip_their_slots() -> None:
    # The machine code itself: a product of two loads stored back is loads into xmm1,
    # register arithmetic and a store from xmm0, with no slot traffic in between.
    from pyjitwasm.runtime.jit.compile_module import CompileOptions
    from pyjitwasm.wasm.decoder import decode_module
    from pyjitwasm.x64.function import FunctionCompiler

    wat = """(module (memory 1)
      (func (param i32)
        (f64.store (local.get 0)
          (f64.mul (f64.load (local.get 0)) (f64.load offset=8 (local.get 0))))))"""
    module = decode_module(__import__("wasmtime").wat2wasm(wat))
    info = CompileOptions(heap_style="static").module_info(module)
    code = bytearray()
    FunctionCompiler(info, 0, code, [], False).compile(tier0.handlers())
    load = b"\xf2\x41\x0f\x10\x8c\x04"  # movsd xmm1, [r12 + rax + disp32]
    assert code.count(load) == 2
    assert b"\x0f\x28\xc1" in code  # movaps xmm0, xmm1: the first load makes room
    assert b"\xf2\x0f\x59\xc1" in code  # mulsd xmm0, xmm1
    assert b"\xf2\x41\x0f\x11\x84\x04" in code  # movsd [r12 + rax + disp32], xmm0
    # no movsd/movss to or from an rbp slot
    assert b"\xf2\x0f\x11\x45" not in code and b"\xf2\x0f\x11\x85" not in code
    assert b"\xf2\x0f\x10\x45" not in code and b"\xf2\x0f\x10\x85" not in code
