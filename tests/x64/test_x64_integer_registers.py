"""Integer results kept in rax only by the single-pass x86-64 tier 0 (``x64/``).

An arithmetic result or a heap load stays in rax, its slot written only when rax is
reused while the value is alive or before an instruction that reads slots
(``FunctionCompiler.spill_rax``).  Each function puts such a value where rax is taken
for something else (a second operand, an index, a float comparison, a wide constant, a
call, a branch with a value) and is compared against the reference interpreter."""

from __future__ import annotations

import pytest

from pyjitwasm.runtime.native import lazy_stubs_supported
from pyjitwasm.x64 import tier0

from support.x64_cases import CASES, x64_counts

pytestmark = pytest.mark.skipif(not (lazy_stubs_supported() and tier0.supported_host()),
                                reason="the x86-64 tier 0 is for x86-64 Linux")


INTEGER_REGISTERS = """
(module
  (memory 1)
  (func $twice (param i32) (result i32) (i32.add (local.get 0) (local.get 0)))
  (func (export "second_in_rax") (param i32 i32 i32) (result i32)
    (i32.sub (local.get 0) (i32.mul (local.get 1) (local.get 2))))
  (func (export "both_computed") (param i32 i32 i32) (result i32)
    (i32.sub (i32.add (local.get 0) (local.get 1)) (i32.mul (local.get 1) (local.get 2))))
  (func (export "deep") (param i32 i32 i32) (result i32)
    (i32.xor (i32.add (local.get 0) (i32.const 7))
      (i32.or (i32.and (local.get 1) (i32.const 0xff0))
        (i32.sub (local.get 2) (i32.mul (local.get 0) (local.get 1))))))
  (func (export "memory") (param i32 i32 i32) (result i32)
    ;; addresses and values computed into rax, stored, loaded back
    (i32.store (i32.and (local.get 0) (i32.const 0xfffc)) (i32.mul (local.get 1) (local.get 2)))
    (i32.store offset=4 (i32.and (local.get 0) (i32.const 0xfffc))
                        (i32.add (local.get 1) (i32.const 1)))
    (i32.store16 offset=8 (i32.const 0) (i32.sub (local.get 2) (local.get 1)))
    (i32.add (i32.mul (local.get 2) (i32.const 3))
      (i32.add (i32.load (i32.and (local.get 0) (i32.const 0xfffc)))
               (i32.add (i32.load offset=4 (i32.and (local.get 0) (i32.const 0xfffc)))
                        (i32.load16_s offset=8 (i32.const 0))))))
  (func (export "wide") (param i64 i64) (result i64)
    (i64.add (i64.mul (local.get 0) (local.get 1))
      (i64.sub (i64.const 0x123456789abcdef) (i64.xor (local.get 0) (local.get 1)))))
  (func (export "wide_memory") (param i64 i64) (result i64)
    (i64.store (i32.const 16) (i64.add (local.get 0) (local.get 1)))
    (i64.store32 (i32.const 24) (i64.mul (local.get 0) (local.get 1)))
    (i64.add (i64.load (i32.const 16)) (i64.load32_u (i32.const 24))))
  (func (export "float_compare") (param i32 i32 f64 f64) (result i32)
    (i32.add (i32.mul (local.get 0) (local.get 1))
             (i32.add (f64.lt (local.get 2) (local.get 3))
                      (i32.shl (f64.eq (local.get 2) (local.get 3)) (i32.const 4)))))
  (func (export "across_call") (param i32 i32) (result i32)
    (i32.sub (i32.mul (local.get 0) (local.get 1))
             (call $twice (i32.add (local.get 0) (local.get 1)))))
  (func (export "block_value") (param i32 i32) (result i32)
    (block (result i32)
      (i32.add (local.get 0) (local.get 1))
      (br_if 0 (i32.and (local.get 1) (i32.const 1)))
      (i32.mul (local.get 0) (i32.const 3))
      (i32.add)))
  (func (export "locals") (param i32 i32) (result i32) (local i32 i32)
    (local.set 2 (i32.add (local.get 0) (local.get 1)))
    (local.set 3 (i32.add (local.tee 2 (i32.mul (local.get 2) (local.get 2))) (local.get 2)))
    (i32.sub (local.get 3) (local.get 2)))
  (func (export "selected") (param i32 i32) (result i32)
    (select (i32.add (local.get 0) (local.get 1)) (i32.mul (local.get 0) (local.get 1))
            (i32.lt_s (local.get 0) (local.get 1))))
  (func (export "shifted") (param i32 i32) (result i32)
    (i32.shl (i32.add (local.get 0) (local.get 1)) (i32.sub (local.get 1) (local.get 0))))
  (func (export "loop_sum") (param i32) (result i32) (local i32 i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get 1) (local.get 0)))
        (i32.store (i32.shl (i32.and (local.get 1) (i32.const 255)) (i32.const 2))
                   (i32.add (local.get 2) (local.get 1)))
        (local.set 2 (i32.add (local.get 2)
                              (i32.load (i32.shl (i32.and (local.get 1) (i32.const 255))
                                                 (i32.const 2)))))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br $l)))
    (local.get 2))
)
"""

ARGS32 = (0, 1, -1, 3, 0x7FFFFFFF, -0x80000000, 0x12345)
ARGS64 = (0, 1, -1, 1 << 40, -0x8000000000000000, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFF)


def test_integer_values_in_rax_match_the_interpreter(x64_everywhere: None) -> None:
    before = x64_counts()
    pair = CASES._Pair(INTEGER_REGISTERS)
    for a in ARGS32:
        for b in ARGS32:
            for c in (0, 5, -7):
                for name in ("second_in_rax", "both_computed", "deep", "memory"):
                    pair.check(name, a, b, c)
            for name in ("across_call", "block_value", "locals", "selected", "shifted"):
                pair.check(name, a, b)
            for x, y in ((1.0, 2.0), (2.0, 2.0), (float("nan"), 1.0)):
                pair.check("float_compare", a, b, x, y)
    for a in ARGS64:
        for b in ARGS64:
            pair.check("wide", a, b)
            pair.check("wide_memory", a, b)
    for n in (0, 1, 10, 300):
        pair.check("loop_sum", n)
    assert pair.check("second_in_rax", 10, 2, 3) == ("ok", 4)
    assert pair.check("block_value", 4, 1) == ("ok", 5)
    assert pair.check("block_value", 4, 2) == ("ok", 18)
    after = x64_counts()
    assert after[0] > before[0] and after[1] == before[1]


def test_integer_results_skip_their_slots() -> None:
    from pyjitwasm.runtime.jit.compile_module import CompileOptions
    from pyjitwasm.wasm.decoder import decode_module
    from pyjitwasm.x64.function import FunctionCompiler

    wat = """(module (memory 1)
      (func (param i32) (result i32)
        (i32.load (i32.add (local.get 0) (i32.const 8)))))"""
    module = decode_module(__import__("wasmtime").wat2wasm(wat))
    info = CompileOptions(heap_style="static").module_info(module)
    code = bytearray()
    FunctionCompiler(info, 0, code, [], False).compile(tier0.handlers())
    # mov eax, [local 0]; add eax, 8; mov eax, eax; mov eax, [r12 + rax + 0]: the sum
    # goes from rax to the load's index with no slot store between
    assert b"\x05\x08\x00\x00\x00\x89\xc0\x41\x8b\x84\x04" in code
