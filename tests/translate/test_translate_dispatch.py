"""The translator's dispatch table covers the instruction set the decoder accepts."""

from __future__ import annotations

import pytest

from pyjitwasm.translate.dispatch import HANDLERS
from pyjitwasm.translate.translator import FunctionTranslator
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr
from pyjitwasm.wasm.opcodes import FD, OPS


def test_every_non_simd_opcode_has_a_handler() -> None:
    missing = [info.name for code, info in OPS.items() if code < FD and code not in HANDLERS]
    assert missing == []


# The SIMD opcodes translate/simd_float.py handles: float arithmetic and comparisons,
# conversions, narrowing and widening, dot products and q15mulr.
_SIMD_FLOAT_MARKS = ("f32x4.", "f64x2.", "narrow", "extend_", "extadd", "extmul", "trunc_sat",
                     "dot_", "q15mulr")
_LANE_ACCESS = ("splat", "extract_lane", "replace_lane")


def test_simd_float_opcodes_translate() -> None:
    float_ops = [info.name for code, info in OPS.items() if code >= FD
                 and any(mark in info.name for mark in _SIMD_FLOAT_MARKS)
                 and not any(lane in info.name for lane in _LANE_ACCESS)
                 and "relaxed" not in info.name]
    assert len(float_ops) == 86
    assert [name for name in float_ops if op.OPS_BY_NAME[name].code not in HANDLERS] == []


def test_relaxed_simd_opcodes_translate() -> None:
    # i8x16.relaxed_swizzle is i8x16.swizzle, which comes with the integer SIMD work.
    relaxed = [info.name for info in OPS.values() if "relaxed" in info.name]
    assert len(relaxed) == 20
    missing = [name for name in relaxed if op.OPS_BY_NAME[name].code not in HANDLERS]
    assert missing == ["i8x16.relaxed_swizzle"]


def test_every_handler_key_is_a_known_opcode() -> None:
    assert set(HANDLERS) <= set(OPS)


def test_simd_instruction_names_itself_when_it_cannot_translate() -> None:
    translator = FunctionTranslator.__new__(FunctionTranslator)
    add = op.OPS_BY_NAME["i32x4.add"].code
    with pytest.raises(NotImplementedError, match="i32x4.add: SIMD"):
        translator.translate(Instr(add, None, 0))
