"""The translator's dispatch table covers the instruction set the decoder accepts."""

from __future__ import annotations

import re

import pytest

from pyjitwasm.translate import simd_int, simd_relaxed, translator
from pyjitwasm.translate.dispatch import HANDLERS
from pyjitwasm.translate.translator import FunctionTranslator
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr
from pyjitwasm.wasm.opcodes import FD, OPS


def test_every_non_simd_opcode_has_a_handler() -> None:
    missing = [info.name for code, info in OPS.items() if code < FD and code not in HANDLERS]
    assert missing == []


def test_every_simd_opcode_translates() -> None:
    simd = {code for code in OPS if code >= FD}
    assert sorted(OPS[code].name for code in simd - set(HANDLERS)) == []


# The SIMD opcodes simd_int translates: memory, lanes, shuffles, bitwise operations and the
# integer arithmetic, comparisons and tests of every shape (float arithmetic, conversions,
# narrowing/widening, extended and pairwise arithmetic, dot and q15mulr are elsewhere).
_INTEGER_SIMD = re.compile(
    r"v128\.(load|store|not|and|andnot|or|xor|bitselect|any_true).*"
    r"|i8x16\.(shuffle|swizzle)"
    r"|[if](8x16|16x8|32x4|64x2)\.(splat|extract_lane.*|replace_lane)"
    r"|i(8x16|16x8|32x4|64x2)\.(add|sub|mul|neg|abs|popcnt|add_sat_[su]|sub_sat_[su]"
    r"|min_[su]|max_[su]|avgr_u|shl|shr_[su]|eq|ne|[lg][te]_[su]|all_true|bitmask)")


def test_every_integer_simd_opcode_translates() -> None:
    wanted = {code for code, info in OPS.items()
              if code >= FD and _INTEGER_SIMD.fullmatch(info.name)}
    assert len(wanted) == len(simd_int.HANDLERS) == 149
    assert wanted == set(simd_int.HANDLERS)


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
    relaxed = [info.name for info in OPS.values() if "relaxed" in info.name]
    assert len(relaxed) == 20
    missing = [name for name in relaxed if op.OPS_BY_NAME[name].code not in HANDLERS]
    assert missing == []
    # Each picks its mode's translation (translate/simd_relaxed.py).
    assert all(HANDLERS[code] is handler for code, handler in simd_relaxed.HANDLERS.items())
    assert set(simd_relaxed.HANDLERS) == {op.OPS_BY_NAME[name].code for name in relaxed}


def test_every_handler_key_is_a_known_opcode() -> None:
    assert set(HANDLERS) <= set(OPS)


def test_simd_instruction_names_itself_when_it_cannot_translate(
        monkeypatch: pytest.MonkeyPatch) -> None:
    add = op.OPS_BY_NAME["i32x4.add"].code
    monkeypatch.setattr(translator, "HANDLERS", {k: v for k, v in HANDLERS.items() if k != add})
    function_translator = FunctionTranslator.__new__(FunctionTranslator)
    with pytest.raises(NotImplementedError, match="i32x4.add: SIMD"):
        function_translator.translate(Instr(add, None, 0))
