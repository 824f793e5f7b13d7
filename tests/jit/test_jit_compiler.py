"""The JIT back end end to end: WAT -> wasm -> IR -> LLVM -> machine code, run through
the entry shims and compared with the reference interpreter (bit-exact where the spec is
deterministic)."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyjitwasm.runtime.jit.compile_module import CompileOptions, compile_module, escaping_functions
from pyjitwasm.runtime.native import runtime_symbols
from pyjitwasm.wasm import types as wt
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.opcodes import OPS, Imm
from pyjitwasm.wasm.traps import TrapCode

from support.jit_lower_harness import (
    WASM_TOOLS,
    InterpInstance,
    JitInstance,
    outcome,
    wat_to_wasm,
)

pytestmark = pytest.mark.skipif(WASM_TOOLS is None, reason="wasm-tools is not installed")

_NAMES = {wt.I32: "i32", wt.I64: "i64", wt.F32: "f32", wt.F64: "f64"}

NUMERIC = sorted(
    (info for info in OPS.values()
     if info.name.split(".")[0] in _NAMES.values() and info.sig is not None
     and info.imm == Imm.NONE),
    key=lambda info: info.name,
)
# Operations whose NaN results are fully determined by the spec (sign and payload moves).
_BIT_EXACT = {"abs", "neg", "copysign", "reinterpret_i32", "reinterpret_i64"}


def _export_name(name: str) -> str:
    return name.replace(".", "_")


def _numeric_wat() -> str:
    funcs = []
    for info in NUMERIC:
        params, results = info.sig
        ps = " ".join(_NAMES[p] for p in params)
        rs = " ".join(_NAMES[r] for r in results)
        gets = " ".join(f"local.get {i}" for i in range(len(params)))
        funcs.append(f'(func (export "{_export_name(info.name)}") (param {ps}) (result {rs}) '
                     f"{gets} {info.name})")
    return "(module\n" + "\n".join(funcs) + "\n)"


@pytest.fixture(scope="module")
def numeric() -> tuple[JitInstance, InterpInstance]:
    wasm = wat_to_wasm(_numeric_wat())
    jit = JitInstance(wasm)
    yield jit, InterpInstance(wasm)
    jit.close()


def _is_nan(bits: int, ty: int) -> bool:
    if ty == wt.F32:
        return bits & 0x7F800000 == 0x7F800000 and bits & 0x7FFFFF != 0
    if ty == wt.F64:
        return (bits >> 52) & 0x7FF == 0x7FF and bits & ((1 << 52) - 1) != 0
    return False


def _quiet(bits: int, ty: int) -> bool:
    return bool(bits & (1 << (22 if ty == wt.F32 else 51)))


def assert_same(info, args: tuple[int, ...], jit_out: object, ref_out: object) -> None:
    """JIT and interpreter agree: same trap, same bits, or (for NaN results of
    arithmetic) both NaN and the JIT's an arithmetic (quiet) NaN as the spec demands."""
    where = f"{info.name}{tuple(hex(a) for a in args)}: jit {jit_out} interp {ref_out}"
    if isinstance(ref_out, tuple) or isinstance(jit_out, tuple):
        assert jit_out == ref_out, where
        return
    (ty,) = info.sig[1]
    (j,), (r,) = jit_out, ref_out
    if _is_nan(r, ty) and info.name.split(".")[1] not in _BIT_EXACT:
        assert _is_nan(j, ty) and _quiet(j, ty), where
    else:
        assert j == r, where


_F32_SPECIAL = [0, 0x80000000, 0x3F800000, 0xBF800000, 0x7F800000, 0xFF800000, 0x7FC00000,
                0xFFC00000, 0x7FA00001, 0x00000001, 0x807FFFFF, 0x4F000000, 0xCF000000,
                0x4F800000, 0x5F000000, 0xDF000000, 0x3F000000, 0x3FC00000, 0x40200000,
                0x7F7FFFFF, 0x4EFFFFFF, 0xCF000001]
_F64_SPECIAL = [0, 1 << 63, 0x3FF0000000000000, 0xBFF0000000000000, 0x7FF0000000000000,
                0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000,
                0x7FF4000000000001, 1, 0x41E0000000000000, 0xC1E0000000000000,
                0xC1E0000000200000, 0x41DFFFFFFFC00000, 0x41F0000000000000,
                0x43E0000000000000, 0xC3E0000000000000, 0x43F0000000000000,
                0x3FE0000000000000, 0x3FF8000000000000, 0x4004000000000000,
                0xC1E00000001FFFFF]
_I32_SPECIAL = [0, 1, 2, 31, 32, 33, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 0x12345678]
_I64_SPECIAL = [0, 1, 63, 64, 65, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0xFFFFFFFF,
                0x123456789ABCDEF0]
_SPECIAL = {wt.I32: _I32_SPECIAL, wt.I64: _I64_SPECIAL, wt.F32: _F32_SPECIAL,
            wt.F64: _F64_SPECIAL}


def _operand(ty: int) -> st.SearchStrategy[int]:
    bits = 32 if ty in (wt.I32, wt.F32) else 64
    return st.one_of(st.sampled_from(_SPECIAL[ty]), st.integers(0, (1 << bits) - 1))


@pytest.mark.parametrize("info", NUMERIC, ids=lambda info: info.name)
def test_numeric_special_values(numeric, info) -> None:
    jit, ref = numeric
    params = info.sig[0]
    name = _export_name(info.name)
    cases = [(a,) for a in _SPECIAL[params[0]]] if len(params) == 1 else [
        (a, b) for a in _SPECIAL[params[0]] for b in _SPECIAL[params[1]]]
    for args in cases:
        assert_same(info, args, outcome(jit, name, *args), outcome(ref, name, *args))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_numeric_differential_sweep(numeric, data) -> None:
    jit, ref = numeric
    info = data.draw(st.sampled_from(NUMERIC), label="op")
    args = tuple(data.draw(_operand(p), label=f"arg{i}") for i, p in enumerate(info.sig[0]))
    name = _export_name(info.name)
    assert_same(info, args, outcome(jit, name, *args), outcome(ref, name, *args))


CONTROL_WAT = r"""
(module
  (memory 1)
  (data (i32.const 8) "\01\02\03\04\05\06\07\08\f0")
  (table 4 funcref)
  (elem (i32.const 0) $sq $neg $sq_i64)
  (global $counter (mut i32) (i32.const 5))
  (global $k f64 (f64.const 2.5))
  (type $i2i (func (param i32) (result i32)))
  (func $sq (param i32) (result i32) local.get 0 local.get 0 i32.mul)
  (func $neg (param i32) (result i32) i32.const 0 local.get 0 i32.sub)
  (func $sq_i64 (param i64) (result i64) local.get 0 local.get 0 i64.mul)
  (func (export "indirect") (param i32 i32) (result i32)
    local.get 1 local.get 0 call_indirect (type $i2i))
  (func (export "fac") (param i64) (result i64) (local i64)
    i64.const 1 local.set 1
    block
      loop
        local.get 0 i64.eqz br_if 1
        local.get 1 local.get 0 i64.mul local.set 1
        local.get 0 i64.const 1 i64.sub local.set 0
        br 0
      end
    end
    local.get 1)
  (func $fib (export "fib") (param i32) (result i32)
    local.get 0 i32.const 2 i32.lt_u
    if (result i32) local.get 0
    else
      local.get 0 i32.const 1 i32.sub call $fib
      local.get 0 i32.const 2 i32.sub call $fib i32.add
    end)
  (func (export "switch") (param i32) (result i32)
    block (result i32)
      block (result i32)
        block (result i32)
          i32.const 10 local.get 0 br_table 0 1 2 1
        end
        i32.const 100 i32.add return
      end
      i32.const 200 i32.add return
    end
    i32.const 300 i32.add)
  (func (export "multi") (param i32 i64) (result i64 i32 f64)
    local.get 1 i64.const 3 i64.mul
    local.get 0 i32.const 1 i32.add
    global.get $k)
  (func $swap (param i32 i32) (result i32 i32) local.get 1 local.get 0)
  (func (export "call_multi") (param i32 i32) (result i32)
    local.get 0 local.get 1 call $swap i32.sub)
  (func (export "globals") (param i32) (result i32)
    global.get $counter local.get 0 i32.add global.set $counter global.get $counter)
  (func (export "loads") (param i32) (result i64)
    local.get 0 i64.load8_s
    local.get 0 i64.load16_u offset=1 i64.add
    local.get 0 i64.load32_s offset=2 i64.add
    local.get 0 i64.load offset=3 i64.add)
  (func (export "store_load") (param i32 i64) (result i64)
    local.get 0 local.get 1 i64.store32 offset=4
    local.get 0 local.get 1 i64.store8
    local.get 0 i64.load)
  (func (export "f32_store_nan") (param i32) (result i32)
    local.get 0 f32.const nan:0x200001 f32.store
    local.get 0 i32.load)
  (func (export "drop_load") (param i32) (result i32)
    local.get 0 i32.load drop i32.const 1)
  (func (export "grow") (param i32) (result i32)
    local.get 0 memory.grow drop memory.size)
  (func (export "unreachable") (result i32) unreachable)
  (func $runaway (export "runaway") (param i64) (result i64)
    local.get 0 i64.const 1 i64.add call $runaway local.get 0 i64.add)
  (func (export "select") (param i32 i64 i64) (result i64)
    local.get 1 local.get 2 local.get 0 select)
  (func (export "fconst") (result f32 f64 f32)
    f32.const nan:0x200001 f64.const -nan:0x4000000000001 f32.const -0x1.fffffep127)
)
"""

CONTROL_CASES = [
    ("indirect", 0, 7), ("indirect", 1, 7), ("indirect", 2, 7), ("indirect", 3, 7),
    ("indirect", 4, 7), ("indirect", 0xFFFFFFFF, 1),
    ("fac", 0), ("fac", 20), ("fac", 25), ("fib", 15),
    ("switch", 0), ("switch", 1), ("switch", 2), ("switch", 3), ("switch", 0xFFFFFFFF),
    ("multi", 0x7FFFFFFF, 1 << 62), ("call_multi", 10, 3),
    ("globals", 3), ("globals", 0xFFFFFFF0),
    ("loads", 8), ("loads", 65536 - 16), ("loads", 65536 - 15), ("loads", 0xFFFFFFFF),
    ("store_load", 100, 0x1122334455667788), ("store_load", 65530, 1),
    ("f32_store_nan", 12), ("drop_load", 65536), ("drop_load", 0x80000000),
    ("unreachable",), ("runaway", 0),
    ("select", 0, 1, 2), ("select", 5, 1, 2), ("fconst",),
    ("grow", 1), ("loads", 65536 + 8), ("grow", 0),
]


@pytest.mark.parametrize("heap_style", ["static", "dynamic"])
def test_control_memory_calls_and_traps_match_interpreter(heap_style: str) -> None:
    wasm = wat_to_wasm(CONTROL_WAT)
    ref = InterpInstance(wasm)
    with JitInstance(wasm, heap_style) as jit:
        for name, *args in CONTROL_CASES:
            assert outcome(jit, name, *args) == outcome(ref, name, *args), (name, args)


def test_traps_have_the_right_codes() -> None:
    wasm = wat_to_wasm(CONTROL_WAT)
    with JitInstance(wasm, "static") as jit:
        assert outcome(jit, "runaway", 0) == ("trap", TrapCode.STACK_OVERFLOW)
        assert outcome(jit, "unreachable") == ("trap", TrapCode.UNREACHABLE)
        # Guard page: no explicit check on a static heap, the fault becomes the trap.
        assert outcome(jit, "drop_load", 0x80000000) == ("trap", TrapCode.MEMORY_OUT_OF_BOUNDS)
        assert outcome(jit, "indirect", 3, 1) == ("trap", TrapCode.INDIRECT_CALL_TO_NULL)
        assert outcome(jit, "indirect", 2, 1) == ("trap", TrapCode.BAD_SIGNATURE)
        assert outcome(jit, "indirect", 4, 1) == ("trap", TrapCode.UNDEFINED_ELEMENT)
        # Still usable after every kind of trap.
        assert jit.call_bits("fib", 10) == [55]


def test_float_constants_keep_their_bits() -> None:
    wasm = wat_to_wasm(CONTROL_WAT)
    with JitInstance(wasm, "static") as jit:
        assert jit.call_bits("fconst") == [0x7FA00001, 0xFFF4000000000001, 0xFF7FFFFF]


def _compile(wat: str, **options: object):
    module = decode_module(wat_to_wasm(wat))
    return compile_module(module, CompileOptions(verify=True, **options), runtime_symbols())


@pytest.mark.parametrize("opt_level", [1, 2])
def test_compiled_module_api(opt_level: int) -> None:
    wat = """(module
      (type $t (func (param i32) (result i32)))
      (func $a (export "a") (type $t) local.get 0)
      (func $b (type $t) local.get 0 call $a)
      (func $c (export "c") (param i32) (result i32) local.get 0 call $b)
      (func $s (param i64) (result i64) local.get 0)
      (start $d)
      (func $d))"""
    compiled = _compile(wat, keep_ir=True, opt_level=opt_level)
    try:
        assert escaping_functions(compiled.module) == {0, 2, 4}
        addresses = {i: compiled.function_address(i) for i in range(5)}
        assert len(set(addresses.values())) == 5
        for index, code in compiled.functions.items():
            assert code.size > 0
            assert compiled.func_index_at(code.start) == index
            assert compiled.func_index_at(code.start + code.size - 1) == index
        assert compiled.func_index_at(0) is None
        # Types 0 ([i32]->[i32]) and the implicit one of $c are equal: one shared shim.
        types = compiled.module.types
        same = [i for i, t in enumerate(types) if t.params == (wt.I32,) and t.results == (wt.I32,)]
        assert len({compiled.entry_shim(i) for i in same}) == 1
        assert compiled.entry_shim(same[0]) != compiled.entry_shim(
            next(i for i, t in enumerate(types) if t.params == (wt.I64,)))
        ranges = compiled.code_ranges
        assert all(any(r.start <= a < r.end for r in ranges) for a in addresses.values())
        assert "define internal i32 @wasm_func_1" in compiled.llvm_ir
        assert "define i32 @wasm_func_0" in compiled.llvm_ir
        assert set(compiled.ir_functions) == set(range(5))
        t = compiled.timings
        assert t.functions == 5 and t.llvm > 0 and t.translate > 0 and t.total >= t.llvm
    finally:
        compiled.release()
    assert compiled.code.released


def test_opt_levels_agree() -> None:
    wasm = wat_to_wasm(CONTROL_WAT)
    for level in (0, 2):
        ref = InterpInstance(wasm)  # fresh state (globals) per level
        with JitInstance(wasm, "static", opt_level=level) as jit:
            for name, *args in CONTROL_CASES:
                if name == "grow":
                    continue
                assert outcome(jit, name, *args) == outcome(ref, name, *args), (level, name)


def _f32(bits: int) -> float:
    return struct.unpack("<f", struct.pack("<I", bits))[0]


def test_nearest_min_max_semantics() -> None:
    wat = """(module
      (func (export "nearest") (param f32) (result f32) local.get 0 f32.nearest)
      (func (export "min") (param f64 f64) (result f64) local.get 0 local.get 1 f64.min)
      (func (export "max") (param f32 f32) (result f32) local.get 0 local.get 1 f32.max))"""
    with JitInstance(wat_to_wasm(wat)) as jit:
        assert _f32(jit.call_bits("nearest", 0x40200000)[0]) == 2.0  # 2.5 -> 2 (to even)
        assert _f32(jit.call_bits("nearest", 0x40600000)[0]) == 4.0  # 3.5 -> 4
        assert jit.call_bits("min", 0, 1 << 63) == [1 << 63]  # min(+0, -0) = -0
        assert jit.call_bits("max", 0x80000000, 0) == [0]
        (nan,) = jit.call_bits("min", 0x7FF8000000000000, 0xFFF0000000000000)
        assert math.isnan(struct.unpack("<d", struct.pack("<Q", nan))[0])


IDENTITY_WAT = """(module
  (func (export "mul1") (param f32) (result f32) local.get 0 f32.const 1 f32.mul)
  (func (export "div1") (param f64) (result f64) local.get 0 f64.const 1 f64.div)
  (func (export "sub0") (param f32) (result f32) local.get 0 f32.const 0 f32.sub)
  (func (export "addm0") (param f64) (result f64) local.get 0 f64.const -0 f64.add)
  (func (export "m1mul") (param f32) (result f32) f32.const -1 local.get 0 f32.mul)
  (func (export "m0sub") (param f64) (result f64) f64.const -0 local.get 0 f64.sub)
  (func (export "demote_promote") (param f32) (result f32)
    local.get 0 f64.promote_f32 f32.demote_f64)
  (func (export "mul2") (param f32) (result f32) local.get 0 f32.const 2 f32.mul))"""

F32_SNAN, F64_SNAN = 0x7FA00000, 0x7FF4000000000000


@pytest.mark.parametrize("opt_level", [1, 2])
def test_identity_operations_quiet_signaling_nans(opt_level: int) -> None:
    # LLVM folds x*1, x/1, x-0, x+-0, -1*x, -0-x and demote(promote(x)) into x or -x;
    # wasm arithmetic must still return a quiet NaN for a signaling NaN input.
    with JitInstance(wat_to_wasm(IDENTITY_WAT), opt_level=opt_level) as jit:
        for name in ("mul1", "sub0", "m1mul", "demote_promote", "mul2"):
            (bits,) = jit.call_bits(name, F32_SNAN)
            assert bits & 0x7FC00000 == 0x7FC00000, (name, hex(bits))
        for name in ("div1", "addm0", "m0sub"):
            (bits,) = jit.call_bits(name, F64_SNAN)
            assert bits & 0x7FF8000000000000 == 0x7FF8000000000000, (name, hex(bits))
        # Ordinary values still come out exactly.
        assert jit.call_bits("mul1", 0x3FC00000) == [0x3FC00000]
        assert jit.call_bits("m0sub", 0) == [1 << 63]


TRAP_ORDER_WAT = """(module
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (func (export "unused_load") (result i32)
    ;; the loaded value dies after the or: the out-of-bounds load must still trap
    (drop (i32.or (i32.load8_s (i32.const 70000)) (i32.const 1)))
    (i32.const 7))
  (func (export "load_then_div") (param i32) (result i32)
    ;; the load comes first in wasm order: out of bounds wins over divide by zero
    (i32.div_s (i32.load (i32.const 70000)) (local.get 0)))
  (func (export "store_then_trap") (param i32) (result i32)
    ;; the in-bounds store happens before the trap and stays visible after it
    (i32.store (i32.const 16) (i32.const 0x55))
    (global.set $g (i32.const 9))
    (i32.div_u (i32.const 1) (local.get 0)))
  (func (export "peek") (result i32) (i32.add (i32.load (i32.const 16)) (global.get $g))))"""


@pytest.mark.parametrize("heap_style", ["static", "dynamic"])
@pytest.mark.parametrize("opt_level", [1, 2])
def test_heap_accesses_keep_wasm_trap_order(heap_style: str, opt_level: int) -> None:
    wasm = wat_to_wasm(TRAP_ORDER_WAT)
    with JitInstance(wasm, heap_style, opt_level=opt_level) as jit:
        assert outcome(jit, "unused_load") == ("trap", TrapCode.MEMORY_OUT_OF_BOUNDS)
        assert outcome(jit, "load_then_div", 0) == ("trap", TrapCode.MEMORY_OUT_OF_BOUNDS)
        assert outcome(jit, "store_then_trap", 0) == ("trap", TrapCode.INTEGER_DIVISION_BY_ZERO)
        assert jit.call_bits("peek") == [0x55 + 9]


def test_asm_command_prints_ir_and_disassembly(tmp_path, capsys) -> None:
    import argparse

    from pyjitwasm.commands import asm

    path = tmp_path / "m.wasm"
    path.write_bytes(wat_to_wasm("""(module
      (func $f (param i32) (result i32) local.get 0 i32.const 3 i32.div_u)
      (func (export "g") (param i32) (result i32) local.get 0 call $f))"""))
    parser = argparse.ArgumentParser()
    asm.register(parser.add_subparsers())
    args = parser.parse_args(["asm", str(path), "--func", "1"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "function %wasm_func_1(i64 vmctx, i32) -> i32" in out
    assert "function %wasm_func_0" not in out
    assert ";; machine code:" in out
    assert "push     rbp" in out  # frame pointers are kept
    assert "call" in out and "; wasm_func_0" in out
    args = parser.parse_args(["asm", str(path), "--func", "7"])
    with pytest.raises(asm.CommandError, match="no defined function 7"):
        args.func(args)


TAIL_RESULTS_WAT = """(module
  (func $many (result f32 f32 f32 f32 f32 f64 f64 f32 f64 i32)
    f32.const 1 f32.const 2 f32.const 3 f32.const 4 f32.const 5
    f64.const 6 f64.const 7 f32.const 8 f64.const 9 i32.const 10)
  (func (export "tail_many") (result f32 f32 f32 f32 f32 f64 f64 f32 f64 i32)
    return_call $many)
  (func $count (export "count") (param i64 i64) (result i64 i64)
    (if (result i64 i64) (i64.eqz (local.get 0))
      (then (local.get 0) (local.get 1))
      (else (return_call $count (i64.sub (local.get 0) (i64.const 1))
                                (i64.add (local.get 1) (i64.const 2)))))))"""


def test_tail_calls_with_results_returned_in_memory_compile_and_run() -> None:
    # Ten results come back through a hidden pointer, where LLVM cannot honour musttail
    # (it aborted the process); two results fit in registers and stay guaranteed tail calls.
    from pyjitwasm import Config, Engine, Instance, Module, Store

    store = Store(Engine(Config(strategy="jit", max_wasm_stack=64 * 1024)))
    ex = Instance(store, Module(store.engine, wat_to_wasm(TAIL_RESULTS_WAT)), []).exports(store)
    assert ex["tail_many"](store) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10]
    assert ex["count"](store, 1_000_000, 0) == [0, 2_000_000]  # far past 64 KiB of frames
