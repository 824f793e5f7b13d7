"""Relaxed SIMD's translation follows ModuleInfo.relaxed_simd_deterministic: the
relaxed-native IR instructions in native mode, compositions of ordinary SIMD
instructions (Wasmtime's deterministic results) otherwise."""

from __future__ import annotations

import pytest

from pyjitwasm import wat2wasm
from pyjitwasm.ir.instructions import OPCODES
from pyjitwasm.translate.module_info import HeapConfig, ModuleInfo
from pyjitwasm.translate.translator import translate_function
from pyjitwasm.wasm.decoder import decode_module

# wasm instruction -> (IR opcode native mode uses, IR opcode deterministic mode uses).
CASES = {
    "i8x16.relaxed_swizzle": ("relaxed_swizzle", "swizzle"),
    "i32x4.relaxed_trunc_f32x4_s": ("relaxed_fcvt_to_sint", "fcvt_to_sint_sat"),
    "f32x4.relaxed_madd": ("fmuladd", "fma"),
    "i16x8.relaxed_laneselect": ("relaxed_laneselect", "bor"),
    "f64x2.relaxed_min": ("relaxed_fmin", "fmin"),
    "i16x8.relaxed_q15mulr_s": ("relaxed_q15mulr", "sqmul_round_sat"),
    "i16x8.relaxed_dot_i8x16_i7x16_s": ("relaxed_dot_i8i7", "widening_dot_s"),
}
ARITY = {"i32x4.relaxed_trunc_f32x4_s": 1, "f32x4.relaxed_madd": 3,
         "i16x8.relaxed_laneselect": 3}
RELAXED_NATIVE = {"relaxed_swizzle", "relaxed_fcvt_to_sint", "relaxed_laneselect",
                  "relaxed_q15mulr", "relaxed_dot_i8i7", "fmuladd", "relaxed_fmin",
                  "relaxed_fmax"}


def _opcodes(instruction: str, deterministic: bool) -> set[str]:
    arity = ARITY.get(instruction, 2)
    params = " ".join(["v128"] * arity)
    operands = " ".join(f"(local.get {i})" for i in range(arity))
    wat = (f"(module (func (param {params}) (result v128) ({instruction} {operands})))")
    module = decode_module(wat2wasm(wat))
    info = ModuleInfo(module, HeapConfig(), relaxed_simd_deterministic=deterministic)
    func = translate_function(module, 0, info=info)
    return {func.dfg.insts[inst].opcode for block in func.layout.blocks
            for inst in func.layout.insts(block)}


def test_the_native_block_is_in_the_ir() -> None:
    assert RELAXED_NATIVE <= set(OPCODES)


@pytest.mark.parametrize("instruction", CASES)
def test_each_mode_translates_its_own_way(instruction: str) -> None:
    native_op, deterministic_op = CASES[instruction]
    native = _opcodes(instruction, deterministic=False)
    deterministic = _opcodes(instruction, deterministic=True)
    assert native_op in native and deterministic_op not in native
    assert deterministic_op in deterministic and not deterministic & RELAXED_NATIVE


def test_deterministic_is_the_translator_default() -> None:
    module = decode_module(wat2wasm("(module)"))
    assert ModuleInfo(module, HeapConfig()).relaxed_simd_deterministic
