"""Relaxed SIMD in the wasm layer: decoding behind ``Features.relaxed_simd``, typing."""

from __future__ import annotations

import pytest

from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.errors import UnsupportedFeatureError, ValidationError
from pyjitwasm.wasm.features import DEFAULT_FEATURES, Features
from pyjitwasm.wasm.types import V128
from pyjitwasm.wasm.validator import validate_module

from support.decoder_wat import module_with_body, needs_wasm_tools, wat

# (name, number of v128 operands): every relaxed SIMD instruction returns one v128.
RELAXED = [
    ("i8x16.relaxed_swizzle", 2),
    ("i32x4.relaxed_trunc_f32x4_s", 1),
    ("i32x4.relaxed_trunc_f32x4_u", 1),
    ("i32x4.relaxed_trunc_f64x2_s_zero", 1),
    ("i32x4.relaxed_trunc_f64x2_u_zero", 1),
    ("f32x4.relaxed_madd", 3),
    ("f32x4.relaxed_nmadd", 3),
    ("f64x2.relaxed_madd", 3),
    ("f64x2.relaxed_nmadd", 3),
    ("i8x16.relaxed_laneselect", 3),
    ("i16x8.relaxed_laneselect", 3),
    ("i32x4.relaxed_laneselect", 3),
    ("i64x2.relaxed_laneselect", 3),
    ("f32x4.relaxed_min", 2),
    ("f32x4.relaxed_max", 2),
    ("f64x2.relaxed_min", 2),
    ("f64x2.relaxed_max", 2),
    ("i16x8.relaxed_q15mulr_s", 2),
    ("i16x8.relaxed_dot_i8x16_i7x16_s", 2),
    ("i32x4.relaxed_dot_i8x16_i7x16_add_s", 3),
]
SWIZZLE = b"\xfd\x80\x02"  # i8x16.relaxed_swizzle: 0xFD then u32 0x100


def test_the_table_has_every_relaxed_opcode_in_order():
    codes = [op.OPS_BY_NAME[name].code for name, _ in RELAXED]
    assert codes == list(range(op.FD | 0x100, op.FD | 0x114))
    for name, arity in RELAXED:
        assert op.OPS_BY_NAME[name].sig == ((V128,) * arity, (V128,))
        assert op.FEATURE_GATED[op.OPS_BY_NAME[name].code] == ("relaxed_simd", "relaxed SIMD")


def test_relaxed_simd_is_on_by_default():
    assert DEFAULT_FEATURES.relaxed_simd
    assert DEFAULT_FEATURES.disabled_opcodes() == {}
    body = decode_module(module_with_body(SWIZZLE + b"\x0b")).codes[0]
    assert [i.op for i in body.instrs] == [op.I8X16_RELAXED_SWIZZLE, op.END]


def test_disabled_relaxed_simd_names_the_proposal():
    data = module_with_body(b"\x00" + SWIZZLE + b"\x0b")  # nop, then the relaxed opcode
    with pytest.raises(UnsupportedFeatureError) as info:
        decode_module(data, Features(relaxed_simd=False))
    assert info.value.proposal == "relaxed SIMD"
    assert info.value.disabled
    assert "opcode 0xfd 0x100 requires the relaxed SIMD proposal, which is disabled" in str(
        info.value
    )
    assert len(Features(relaxed_simd=False).disabled_opcodes()) == len(RELAXED)


def test_other_simd_is_not_gated():
    i8x16_swizzle = b"\xfd\x0e"
    decode_module(module_with_body(i8x16_swizzle + b"\x0b"), Features(relaxed_simd=False))


def _module(name: str, arity: int, operand: str = "v128") -> bytes:
    params = " ".join([operand] * arity)
    gets = " ".join(f"(local.get {i})" for i in range(arity))
    return wat(
        f'(module (func (export "f") (param {params}) (result v128) ({name} {gets})))'
    )


@needs_wasm_tools
@pytest.mark.parametrize(("name", "arity"), RELAXED, ids=[name for name, _ in RELAXED])
def test_relaxed_instruction_validates_with_its_type(name, arity):
    module = decode_module(_module(name, arity))
    validate_module(module)
    assert module.codes[0].instrs[-2].op == op.OPS_BY_NAME[name].code
    with pytest.raises(ValidationError, match="type mismatch"):
        validate_module(decode_module(_module(name, arity, operand="i32")))
    with pytest.raises(UnsupportedFeatureError):
        decode_module(_module(name, arity), Features(relaxed_simd=False))
