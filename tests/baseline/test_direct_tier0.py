"""The direct tier-0 emitter (``baseline/``): wasm straight to LLVM text (the default
tier 0; the tests set ``PYJITWASM_TIER0_DIRECT=1`` anyway).

Each export of the modules below runs on the JIT with the switch on (lazy compilation,
a tier-up threshold that keeps every function at tier 0 unless a test lowers it) and on
the reference interpreter; results and trap codes must agree, and the functions must
really have been written by the direct emitter (``tier0.STATS``) or, where a test says
so, have fallen back to the IR path.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

import pytest

from pyjitwasm import Config, Engine, Func, FuncType, Instance, Module, Store, Trap, ValType
from pyjitwasm.baseline import tier0
from pyjitwasm.baseline.emitter import HANDLERS, emit_function
from pyjitwasm.baseline.tier0 import (
    DIRECT_LOOP_PIPELINE,
    DIRECT_NESTED_LOOP_PIPELINE,
    GREEDY_NESTED_LOOP_INSTRUCTIONS,
    DirectTier0,
)
from pyjitwasm.jit.abi import RUNTIME_DECLARATIONS
from pyjitwasm.jit.codeload import parse_ir
from pyjitwasm.jit.compiler import CodegenOptions
from pyjitwasm.jit.lower import attributes, module_metadata
from pyjitwasm.jit.pipelines import TIER0_PIPELINE
from pyjitwasm.runtime.jit.compile_module import TIER0, TIER1, CompileOptions
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.native import lazy_stubs_supported
from pyjitwasm.translate.module_info import function_name
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.loops import has_nested_loop

pytestmark = pytest.mark.skipif(not lazy_stubs_supported(),
                                reason="lazy compilation (and so tier 0) is x86-64 only")

INTEGERS = """
(module
  (func (export "i32_ops") (param i32 i32) (result i32)
    (i32.add (i32.mul (local.get 0) (local.get 1))
      (i32.xor (i32.sub (local.get 0) (local.get 1))
        (i32.or (i32.and (local.get 0) (i32.const 0xff0f)) (i32.shl (local.get 1)
          (i32.const 35))))))
  (func (export "i32_shifts") (param i32 i32) (result i32)
    (i32.add (i32.add (i32.shl (local.get 0) (local.get 1)) (i32.shr_s (local.get 0) (local.get 1)))
      (i32.add (i32.shr_u (local.get 0) (local.get 1))
        (i32.add (i32.rotl (local.get 0) (local.get 1)) (i32.rotr (local.get 0) (local.get 1))))))
  (func (export "i32_bits") (param i32) (result i32)
    (i32.add (i32.clz (local.get 0))
      (i32.add (i32.mul (i32.ctz (local.get 0)) (i32.const 64))
        (i32.add (i32.mul (i32.popcnt (local.get 0)) (i32.const 4096))
          (i32.add (i32.extend8_s (local.get 0)) (i32.extend16_s (local.get 0)))))))
  (func (export "i32_cmp") (param i32 i32) (result i32)
    (i32.or (i32.or (i32.or (i32.eq (local.get 0) (local.get 1))
                            (i32.shl (i32.ne (local.get 0) (local.get 1)) (i32.const 1)))
                    (i32.or (i32.shl (i32.lt_s (local.get 0) (local.get 1)) (i32.const 2))
                            (i32.shl (i32.lt_u (local.get 0) (local.get 1)) (i32.const 3))))
      (i32.or (i32.or (i32.shl (i32.gt_s (local.get 0) (local.get 1)) (i32.const 4))
                      (i32.shl (i32.gt_u (local.get 0) (local.get 1)) (i32.const 5)))
        (i32.or (i32.or (i32.shl (i32.le_s (local.get 0) (local.get 1)) (i32.const 6))
                        (i32.shl (i32.le_u (local.get 0) (local.get 1)) (i32.const 7)))
          (i32.or (i32.or (i32.shl (i32.ge_s (local.get 0) (local.get 1)) (i32.const 8))
                          (i32.shl (i32.ge_u (local.get 0) (local.get 1)) (i32.const 9)))
                  (i32.shl (i32.eqz (local.get 0)) (i32.const 10)))))))
  (func (export "div_s") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "div_u") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
  (func (export "rem_s") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
  (func (export "rem_u") (param i32 i32) (result i32) (i32.rem_u (local.get 0) (local.get 1)))
  (func (export "rem_s_minus_one") (param i32) (result i32) (i32.rem_s (local.get 0)
    (i32.const -1)))
  (func (export "div_s_by_zero_const") (param i32) (result i32) (i32.div_s (local.get 0)
    (i32.const 0)))
  (func (export "i64_ops") (param i64 i64) (result i64)
    (i64.add (i64.mul (local.get 0) (local.get 1))
      (i64.xor (i64.rotl (local.get 0) (local.get 1))
        (i64.add (i64.shr_s (local.get 0) (local.get 1))
          (i64.add (i64.clz (local.get 0)) (i64.add (i64.ctz (local.get 1)) (i64.popcnt
            (local.get 0))))))))
  (func (export "i64_div") (param i64 i64) (result i64)
    (i64.add (i64.div_s (local.get 0) (local.get 1))
      (i64.add (i64.rem_s (local.get 0) (local.get 1))
        (i64.add (i64.div_u (local.get 0) (local.get 1)) (i64.rem_u (local.get 0) (local.get 1))))))
  (func (export "i64_cmp") (param i64 i64) (result i32)
    (i32.add (i64.lt_s (local.get 0) (local.get 1))
      (i32.add (i32.mul (i64.ge_u (local.get 0) (local.get 1)) (i32.const 2))
               (i32.mul (i64.eqz (local.get 0)) (i32.const 4)))))
  (func (export "conversions") (param i64) (result i64)
    (i64.add (i64.extend_i32_s (i32.wrap_i64 (local.get 0)))
      (i64.add (i64.extend_i32_u (i32.wrap_i64 (local.get 0)))
        (i64.add (i64.extend8_s (local.get 0))
          (i64.add (i64.extend16_s (local.get 0)) (i64.extend32_s (local.get 0)))))))
  (func (export "consts") (result i64)
    (i64.add (i64.const -9223372036854775808) (i64.extend_i32_u (i32.const -1))))
)
"""

FLOATS = """
(module
  (func (export "f64_ops") (param f64 f64) (result f64)
    (f64.add (f64.mul (local.get 0) (local.get 1))
      (f64.sub (f64.div (local.get 0) (local.get 1))
        (f64.add (f64.min (local.get 0) (local.get 1)) (f64.max (local.get 0) (local.get 1))))))
  (func (export "f32_ops") (param f32 f32) (result f32)
    (f32.add (f32.copysign (f32.abs (local.get 0)) (local.get 1))
      (f32.add (f32.neg (f32.sqrt (f32.abs (local.get 1))))
        (f32.add (f32.ceil (local.get 0))
          (f32.add (f32.floor (local.get 0)) (f32.add (f32.trunc (local.get 0)) (f32.nearest
            (local.get 0))))))))
  (func (export "f64_cmp") (param f64 f64) (result i32)
    (i32.add (f64.eq (local.get 0) (local.get 1))
      (i32.add (i32.mul (f64.ne (local.get 0) (local.get 1)) (i32.const 2))
        (i32.add (i32.mul (f64.lt (local.get 0) (local.get 1)) (i32.const 4))
          (i32.add (i32.mul (f64.gt (local.get 0) (local.get 1)) (i32.const 8))
            (i32.add (i32.mul (f64.le (local.get 0) (local.get 1)) (i32.const 16))
                     (i32.mul (f64.ge (local.get 0) (local.get 1)) (i32.const 32))))))))
  (func (export "mul_one") (param f64) (result i64)
    (i64.reinterpret_f64 (f64.mul (local.get 0) (f64.const 1))))
  (func (export "demote_promote") (param f32) (result i32)
    (i32.reinterpret_f32 (f32.demote_f64 (f64.promote_f32 (local.get 0)))))
  (func (export "trunc_s") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
  (func (export "trunc_u") (param f32) (result i64) (i64.trunc_f32_u (local.get 0)))
  (func (export "trunc_sat") (param f64) (result i32) (i32.trunc_sat_f64_s (local.get 0)))
  (func (export "from_int") (param i64) (result f64)
    (f64.add (f64.convert_i64_u (local.get 0))
      (f64.add (f64.convert_i32_s (i32.wrap_i64 (local.get 0)))
               (f64.promote_f32 (f32.convert_i64_s (local.get 0))))))
  (func (export "bits") (param i32) (result f32) (f32.reinterpret_i32 (local.get 0)))
)
"""

CONTROL = """
(module
  (type $pair (func (param i32 i32) (result i32 i32)))
  (type $i2i (func (param i32) (result i32)))
  (type $i2l (func (param i32) (result i64)))
  (global $g (mut i32) (i32.const 7))
  (global $k i64 (i64.const 40))
  (table 4 funcref)
  (elem (i32.const 0) $double $add1)
  (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $add1 (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $two (param i32 i32) (result i32) (i32.sub (local.get 0) (local.get 1)))
  (func (export "blocks") (param i32) (result i32)
    (block (result i32)
      (block (result i32)
        (drop (br_if 1 (i32.const 100) (i32.eq (local.get 0) (i32.const 1))))
        (drop (br_if 0 (i32.const 200) (i32.eq (local.get 0) (i32.const 2))))
        (if (result i32) (local.get 0) (then (i32.const 3)) (else (i32.const 4))))
      (i32.const 1000)
      (i32.add)))
  (func (export "table") (param i32) (result i32)
    (block (block (block (block
      (br_table 0 1 2 3 (local.get 0)))
      (return (i32.const 10)))
      (return (i32.const 11)))
      (return (i32.const 12)))
    (i32.const 13))
  (func (export "table_values") (param i32) (result i32)
    (i32.add (i32.const 1)
      (block (result i32)
        (block (result i32)
          (br_table 0 1 0 (i32.const 50) (local.get 0)))
        (i32.const 7) (i32.add))))
  (func (export "loop_params") (param i32) (result i32 )
    (i32.const 0) (local.get 0)
    (loop (param i32 i32) (result i32)
      ;; (acc, n) -> acc + n, n - 1 while n > 0
      (local.set 0)
      (i32.add (local.get 0))
      (local.get 0) (i32.const 1) (i32.sub)
      (local.tee 0) (local.get 0) (i32.const 0) (i32.gt_s)
      (br_if 0)
      (drop)))
  (func (export "multi_block") (param i32) (result i32)
    (local.get 0) (i32.const 5)
    (block (type $pair)
      (block (param i32 i32) (result i32 i32) (br_if 1 (local.get 0))))
    (call $two))
  (func (export "if_no_else") (param i32) (result i32)
    (i32.const 5)
    (if (param i32) (result i32) (local.get 0) (then (i32.const 9) (i32.add))))
  (func (export "select") (param i32 i64 i64) (result i64)
    (select (local.get 1) (local.get 2) (local.get 0)))
  (func (export "select_t") (param i32) (result f64)
    (select (result f64) (f64.const 1.5) (f64.const -2) (local.get 0)))
  (func (export "globals") (param i32) (result i64)
    (global.set $g (i32.add (global.get $g) (local.get 0)))
    (i64.add (global.get $k) (i64.extend_i32_s (global.get $g))))
  (func (export "calls") (param i32) (result i32)
    (call $two (call $double (local.get 0)) (call $add1 (local.get 0))))
  (func (export "indirect") (param i32 i32) (result i32)
    (call_indirect (type $i2i) (local.get 1) (local.get 0)))
  (func (export "indirect_wrong_type") (param i32) (result i32)
    (i32.wrap_i64 (call_indirect (type $i2l) (i32.const 1) (local.get 0))))
  (func (export "trap") (param i32) (result i32)
    (if (local.get 0) (then unreachable))
    (i32.const 42))
  (func (export "early_return") (param i32) (result i32)
    (loop $l
      (if (i32.gt_u (local.get 0) (i32.const 100)) (then (return (local.get 0))))
      (local.set 0 (i32.mul (i32.add (local.get 0) (i32.const 1)) (i32.const 2)))
      (br $l))
    (i32.const -1))
  (func (export "dead_code") (param i32) (result i32)
    (block (result i32)
      (br 0 (local.get 0))
      (i32.const 1) (i32.add) (loop (br 0)) (if (then) (else)) (drop)))
)
"""

MEMORY = """
(module
  (memory 1 3)
  (data (i32.const 16) "\\01\\02\\03\\04\\05\\06\\07\\08\\f9\\fa\\fb\\fc\\fd\\fe\\ff\\80")
  (func (export "loads") (param i32) (result i64)
    (i64.add (i64.extend_i32_u (i32.load (local.get 0)))
      (i64.add (i64.load offset=1 (local.get 0))
        (i64.add (i64.extend_i32_s (i32.load8_s offset=8 (local.get 0)))
          (i64.add (i64.extend_i32_u (i32.load8_u offset=8 (local.get 0)))
            (i64.add (i64.extend_i32_s (i32.load16_s offset=9 (local.get 0)))
              (i64.add (i64.extend_i32_u (i32.load16_u offset=9 (local.get 0)))
                (i64.add (i64.load8_s offset=10 (local.get 0))
                  (i64.add (i64.load16_u offset=11 (local.get 0))
                    (i64.add (i64.load32_s offset=12 (local.get 0)) (i64.load32_u offset=4
                      (local.get 0))))))))))))
  (func (export "stores") (param i32 i64) (result i64)
    (i64.store offset=100 (local.get 0) (local.get 1))
    (i32.store8 offset=108 (local.get 0) (i32.wrap_i64 (local.get 1)))
    (i32.store16 offset=110 (local.get 0) (i32.const -2))
    (i64.store32 offset=112 (local.get 0) (local.get 1))
    (f64.store offset=120 (local.get 0) (f64.const 2.5))
    (f32.store offset=128 (local.get 0) (f32.const -1))
    (i64.store8 offset=132 (local.get 0) (local.get 1))
    (i64.store16 offset=134 (local.get 0) (local.get 1))
    (i64.add (i64.load offset=100 (local.get 0))
      (i64.add (i64.load offset=108 (local.get 0))
        (i64.add (i64.load offset=112 (local.get 0))
          (i64.add (i64.reinterpret_f64 (f64.load offset=120 (local.get 0)))
            (i64.add (i64.load offset=128 (local.get 0)) (i64.extend_i32_u
              (i32.reinterpret_f32 (f32.load offset=128 (local.get 0))))))))))
  (func (export "load_at") (param i32) (result i32) (i32.load offset=3 (local.get 0)))
  (func (export "store_at") (param i32) (i64.store (local.get 0) (i64.const 1)))
  (func (export "big_offset") (param i32) (result i32) (i32.load offset=0xfffffff0 (local.get 0)))
  (func (export "size_grow") (param i32) (result i32)
    (i32.add (i32.mul (memory.size) (i32.const 1000)) (memory.grow (local.get 0))))
  (func (export "fill_copy") (param i32 i32 i32) (result i64)
    (memory.fill (local.get 0) (i32.const 0x1ab) (local.get 2))
    (memory.copy (local.get 1) (local.get 0) (local.get 2))
    (i64.add (i64.load (i32.const 16))
      (i64.load (i32.and (local.get 1) (i32.const 0xfff0)))))
  (func (export "after_grow") (param i32) (result i32)
    (drop (memory.grow (i32.const 1)))
    (i32.store (local.get 0) (i32.const 77))
    (i32.load (local.get 0)))
)
"""

MIXED = """
(module
  (type $i2i (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $simd $direct)
  ;; v128 makes this function take the IR path; it calls a direct one both ways.
  (func $simd (param i32) (result i32)
    (i32.add (i32x4.extract_lane 1 (i32x4.splat (local.get 0)))
      (call $direct (local.get 0))))
  (func $direct (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func (export "mixed") (param i32) (result i32)
    (i32.add (call $simd (local.get 0))
      (i32.add (call_indirect (type $i2i) (local.get 0) (i32.const 0))
               (call_indirect (type $i2i) (local.get 0) (i32.const 1)))))
  (func (export "hot") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (call $direct (local.get 0))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $l (local.get 0)))
    (local.get 1))
)
"""

I32_ARGS = [0, 1, -1, 7, -7, 0x7FFFFFFF, -0x80000000, 12345, 31, 32, 33, 255, 256, -256]
I64_ARGS = [0, 1, -1, 7, 0x7FFFFFFFFFFFFFFF, -0x8000000000000000, 1 << 40, 63, 64, 65]
F64_ARGS = [0.0, -0.0, 1.5, -2.5, 3.7, -1e300, math.inf, -math.inf, math.nan, 2147483647.9,
            -2147483648.9, 4.5e9]
F32_ARGS = [0.0, -0.0, 1.5, -2.5, 0.5, 3.5, -3.5, 1e10, math.inf, math.nan, 1.8e19, -0.9]


@pytest.fixture
def direct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_TIER0_DIRECT", "1")
    monkeypatch.setenv("PYJITWASM_TIER0_X64", "0")  # baseline/'s LLVM text, not x64/
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "2000000000")
    monkeypatch.delenv("PYJITWASM_TIERS", raising=False)
    monkeypatch.delenv("PYJITWASM_TIER0_DIRECT_PIPELINE", raising=False)


def _outcome(call: Any) -> tuple[str, Any]:
    try:
        value = call()
    except Trap as trap:
        return ("trap", trap.trap_code.name if trap.trap_code else trap.message)
    if isinstance(value, float):
        return ("ok", struct.pack("<d", value) if not math.isnan(value) else "nan")
    if isinstance(value, (list, tuple)):
        return ("ok", tuple(value))
    return ("ok", value)


class _Pair:
    """One module on the direct JIT and on the interpreter, each in its own store."""

    def __init__(self, wat: str, imports: Any = None, **config: Any) -> None:
        self.jit = self._instance(wat, Config(lazy_compilation=True, **config), imports)
        self.interp = self._instance(wat, Config(strategy="interp", **config), imports)

    @staticmethod
    def _instance(wat: str, config: Config, imports: Any) -> tuple[Store, Any, Module]:
        store = Store(Engine(config))
        module = Module(store.engine, wat)
        instance = Instance(store, module, imports(store) if imports else [])
        return store, instance.exports(store), module

    def check(self, name: str, *args: Any) -> tuple[str, Any]:
        jstore, jexports, _ = self.jit
        istore, iexports, _ = self.interp
        got = _outcome(lambda: jexports[name](jstore, *args))
        want = _outcome(lambda: iexports[name](istore, *args))
        assert got == want, f"{name}{args}: direct tier 0 {got}, interpreter {want}"
        return got

    @property
    def code(self) -> ModuleCode:
        code = self.jit[2]._prepared.compiled()  # noqa: SLF001 - the test looks inside
        assert isinstance(code, ModuleCode)
        return code


def _counts() -> tuple[int, int]:
    # Functions written directly and fallbacks so far in this process (a trap's first
    # backtrace compiles its batch once more, for source lines: counted again).
    return tier0.STATS.functions, tier0.STATS.fallbacks


def test_integer_operations_match_the_interpreter(direct: None) -> None:
    before = _counts()
    pair = _Pair(INTEGERS)
    for a in I32_ARGS:
        for b in I32_ARGS:
            for name in ("i32_ops", "i32_shifts", "i32_cmp", "div_s", "div_u", "rem_s",
                         "rem_u"):
                pair.check(name, a, b)
        for name in ("i32_bits", "rem_s_minus_one", "div_s_by_zero_const"):
            pair.check(name, a)
    for a in I64_ARGS:
        for b in I64_ARGS:
            for name in ("i64_ops", "i64_div", "i64_cmp"):
                pair.check(name, a, b)
        pair.check("conversions", a)
    pair.check("consts")
    functions, fallbacks = _counts()
    assert functions - before[0] >= 15 and fallbacks == before[1]


def test_division_traps_carry_their_codes(direct: None) -> None:
    pair = _Pair(INTEGERS)
    assert pair.check("div_s", 1, 0) == ("trap", "INTEGER_DIVISION_BY_ZERO")
    assert pair.check("div_s", -0x80000000, -1) == ("trap", "INTEGER_OVERFLOW")
    assert pair.check("rem_s", -0x80000000, -1) == ("ok", 0)
    assert pair.check("rem_u", 5, 0) == ("trap", "INTEGER_DIVISION_BY_ZERO")
    assert pair.check("div_s_by_zero_const", 3) == ("trap", "INTEGER_DIVISION_BY_ZERO")


def test_float_operations_match_the_interpreter(direct: None) -> None:
    before = _counts()
    pair = _Pair(FLOATS)
    for a in F64_ARGS:
        for b in F64_ARGS:
            pair.check("f64_ops", a, b)
            pair.check("f64_cmp", a, b)
        for name in ("mul_one", "trunc_s", "trunc_sat"):
            pair.check(name, a)
    for a in F32_ARGS:
        for b in F32_ARGS:
            pair.check("f32_ops", a, b)
        pair.check("trunc_u", a)
        pair.check("demote_promote", a)
    for bits in (0x7FA00001, 0xFFC00000, 0x3F800000, 0x80000000):
        pair.check("bits", bits if bits < 1 << 31 else bits - (1 << 32))
    for a in I64_ARGS:
        pair.check("from_int", a)
    assert pair.check("trunc_s", math.nan) == ("trap", "BAD_CONVERSION_TO_INTEGER")
    assert pair.check("trunc_s", 2147483648.0) == ("trap", "INTEGER_OVERFLOW")
    assert pair.check("trunc_s", -2147483648.9)[0] == "ok"
    assert pair.check("trunc_u", -1.0) == ("trap", "INTEGER_OVERFLOW")
    # A signalling NaN times one comes out quiet (wasm arithmetic makes no sNaN).
    snan = struct.unpack("<d", struct.pack("<Q", 0x7FF4000000000000))[0]
    assert pair.check("mul_one", snan)[1] & (1 << 51)
    functions, fallbacks = _counts()
    assert functions - before[0] >= 10 and fallbacks == before[1]


def test_control_flow_calls_and_globals_match_the_interpreter(direct: None) -> None:
    before = _counts()
    pair = _Pair(CONTROL)
    for a in (0, 1, 2, 3, 4, 5, -1, 200):
        for name in ("blocks", "table", "table_values", "loop_params", "multi_block",
                     "if_no_else", "select_t", "globals", "calls", "trap", "early_return",
                     "dead_code"):
            pair.check(name, a)
        pair.check("select", a, 1 << 40, -5)
        for b in (0, 1, 2, 3, 4):
            pair.check("indirect", a, b)
    assert pair.check("trap", 1) == ("trap", "UNREACHABLE")
    functions, fallbacks = _counts()
    assert functions - before[0] >= 17 and fallbacks == before[1]


def test_call_indirect_traps(direct: None) -> None:
    pair = _Pair(CONTROL)
    assert pair.check("indirect", 0, 5) == ("ok", 10)
    assert pair.check("indirect", 2, 5) == ("trap", "INDIRECT_CALL_TO_NULL")
    assert pair.check("indirect", 4, 5) == ("trap", "UNDEFINED_ELEMENT")
    assert pair.check("indirect_wrong_type", 0) == ("trap", "BAD_SIGNATURE")


@pytest.mark.parametrize("style", ["static", "dynamic"])
def test_memory_on_static_and_dynamic_heaps(direct: None, style: str) -> None:
    before = _counts()
    pair = _Pair(MEMORY, memory_style=style)
    for address in (0, 1, 8, 16, 17, 65520, 65527, 65528, 65529, 65535, 65536, -1):
        pair.check("loads", address)
        pair.check("stores", address, 0x1122334455667788)
        pair.check("load_at", address)
        pair.check("store_at", address)
        pair.check("big_offset", address)
    assert pair.check("load_at", 65533) == ("trap", "MEMORY_OUT_OF_BOUNDS")
    assert pair.check("store_at", 65529) == ("trap", "MEMORY_OUT_OF_BOUNDS")
    assert pair.check("big_offset", 0) == ("trap", "MEMORY_OUT_OF_BOUNDS")
    for dst, src, size in ((0, 8, 16), (16, 20, 12), (20, 16, 12), (65530, 0, 10),
                           (0, 65530, 10), (65536, 0, 0), (65537, 0, 0), (0, 0, 65536),
                           (100, 200, -1)):
        pair.check("fill_copy", dst, src, size)
    assert pair.check("fill_copy", 0, 65530, 10) == ("trap", "MEMORY_OUT_OF_BOUNDS")
    assert pair.check("after_grow", 70000) == ("ok", 77)  # in the page grown
    for delta in (0, 1, 5, -1):
        pair.check("size_grow", delta)
    assert pair.check("size_grow", 0) == ("ok", 3000 + 3)  # grown to the maximum
    functions, fallbacks = _counts()
    assert functions - before[0] >= 7 and fallbacks == before[1]


def test_calls_between_direct_and_ir_path_functions(direct: None) -> None:
    before = _counts()
    pair = _Pair(MIXED)
    for a in (0, 1, 5, -3):
        pair.check("mixed", a)
    functions, fallbacks = _counts()
    assert fallbacks == before[1] + 1  # $simd
    assert functions - before[0] == 2  # mixed and $direct (hot is not called yet)


def test_tier_up_from_direct_tier_0_code(direct: None,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "1000")
    pair = _Pair(MIXED)
    code = pair.code
    hot = next(e.index for e in code.module.exports if e.name == "hot")
    assert pair.check("hot", 10) == ("ok", 165)
    assert code.tier_of(hot) == TIER0
    # One call whose loop runs past the threshold: queued during the call, tier 1 next.
    assert pair.check("hot", 5000) == ("ok", 3 * 5000 * 5001 // 2 % (1 << 32))
    assert code.wait_for_tier_ups(60)
    assert code.tier_of(hot) == TIER1 and not code.tier_up_errors
    assert pair.check("hot", 5000)[0] == "ok"


def test_stack_exhaustion_traps(direct: None) -> None:
    wat = '(module (func $f (export "f") (param i32) (result i32) ' \
          '(i32.add (call $f (i32.add (local.get 0) (i32.const 1))) (i32.const 1))))'
    store = Store(Engine(Config(lazy_compilation=True)))
    exports = Instance(store, Module(store.engine, wat), []).exports(store)
    with pytest.raises(Trap) as info:
        exports["f"](store, 0)
    assert info.value.trap_code is not None
    assert info.value.trap_code.name == "STACK_OVERFLOW"


def test_host_imports_through_direct_code(direct: None) -> None:
    wat = """(module (import "h" "f" (func $h (param i32) (result i32)))
      (import "h" "g" (global $g i32))
      (import "h" "m" (memory 1))
      (func (export "f") (param i32) (result i32)
        (i32.store (i32.const 8) (global.get $g))
        (i32.add (call $h (local.get 0)) (i32.load (i32.const 8)))))"""
    from pyjitwasm import Global, GlobalType, Limits, Memory, MemoryType, Val

    def imports(store: Store) -> list[Any]:
        func = Func(store, FuncType([ValType.i32()], [ValType.i32()]), lambda x: x * 10)
        glob = Global(store, GlobalType(ValType.i32(), False), Val.i32(5))
        memory = Memory(store, MemoryType(Limits(1, None)))
        return [func, glob, memory]

    pair = _Pair(wat, imports)
    assert pair.check("f", 4) == ("ok", 45)


def test_functions_not_covered_fall_back() -> None:
    module = decode_module(__import__("wasmtime").wat2wasm(MIXED))
    info = CompileOptions().module_info(module)
    assert emit_function(info, 0, function_name(0), "", {}) is None  # SIMD
    declarations: dict[str, str] = {}
    text = emit_function(info, 1, function_name(1), "", declarations)
    assert text is not None
    # The text alone is a valid LLVM module (the verifier runs in parse_ir).
    parse_ir("\n".join([RUNTIME_DECLARATIONS, text, *declarations.values(), attributes(),
                        module_metadata()]))
    epoch = CompileOptions(epoch_interruption=True).module_info(module)
    assert emit_function(epoch, 1, function_name(1), "", {}) is None


def test_the_dispatch_table_covers_the_common_opcodes() -> None:
    for code in (op.LOCAL_GET, op.I32_LOAD, op.I32_CONST, op.I32_STORE, op.CALL,
                 op.CALL_INDIRECT, op.BR_TABLE, op.MEMORY_GROW, op.SELECT):
        assert code in HANDLERS
    assert op.MEMORY_INIT not in HANDLERS and op.RETURN_CALL not in HANDLERS


def test_backtraces_through_direct_code_carry_wasm_offsets(direct: None) -> None:
    check_backtraces_against_the_interpreter(_counts)


def check_backtraces_against_the_interpreter(counts: Callable[[], tuple[int, int]]) -> None:
    """A trap's frames through lazily compiled tier-0 code are the interpreter's, wasm
    offsets included, for an ``unreachable`` and a guard-page fault; ``counts()``: the
    tier-0 compiler's (functions compiled, fallbacks), which must show it compiled them
    (``tests/x64`` runs this too)."""
    wat = """(module (memory 1)
      (func $inner (param i32) (result i32)
        (if (i32.eqz (local.get 0)) (then unreachable))
        (i32.load (i32.sub (i32.const 0) (local.get 0))))
      (func $outer (export "f") (param i32) (result i32)
        (i32.add (i32.const 1) (call $inner (local.get 0)))))"""

    def frames(config: Config, arg: int) -> list[tuple[Any, ...]]:
        store = Store(Engine(config))
        exports = Instance(store, Module(store.engine, wat), []).exports(store)
        with pytest.raises(Trap) as info:
            exports["f"](store, arg)
        return [(f.func_index, f.func_offset, f.module_offset) for f in info.value.frames]

    for arg in (0, 4):  # unreachable; an out-of-bounds load (a guard-page fault)
        before = counts()
        got = frames(Config(lazy_compilation=True), arg)
        assert counts()[0] > before[0]
        assert got == frames(Config(strategy="interp"), arg)
        assert all(offset is not None for _, _, offset in got) and len(got) == 2


def test_small_batches_with_nested_loops_get_the_greedy_register_allocator() -> None:
    module = decode_module(__import__("wasmtime").wat2wasm("""(module
      (func $nested (loop (block (loop (br 1)))))
      (func $siblings (loop) (loop) (block (loop)))
      (func $flat (block (block))))"""))
    nested, siblings, flat = module.codes
    assert has_nested_loop(nested.instrs)
    assert not has_nested_loop(siblings.instrs) and not has_nested_loop(flat.instrs)
    direct = DirectTier0(CompileOptions().module_info(module))
    loops = CodegenOptions(pipeline=TIER0_PIPELINE)
    assert direct.codegen_options(loops, [nested]).llvm_pipeline == DIRECT_NESTED_LOOP_PIPELINE
    assert direct.codegen_options(loops, [siblings]).llvm_pipeline == DIRECT_LOOP_PIPELINE
    # Past the size limit the greedy allocator costs too much: the fast one.
    many = [nested] * (GREEDY_NESTED_LOOP_INSTRUCTIONS // nested.instr_count + 1)
    assert direct.codegen_options(loops, many).llvm_pipeline == DIRECT_LOOP_PIPELINE
