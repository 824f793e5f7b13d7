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


def test_only_v128_const_of_the_simd_opcodes_translates() -> None:
    simd = [OPS[code].name for code in HANDLERS if code >= FD]
    assert simd == ["v128.const"]


def test_every_handler_key_is_a_known_opcode() -> None:
    assert set(HANDLERS) <= set(OPS)


def test_simd_instruction_names_itself_when_it_cannot_translate() -> None:
    translator = FunctionTranslator.__new__(FunctionTranslator)
    add = op.OPS_BY_NAME["i32x4.add"].code
    with pytest.raises(NotImplementedError, match="i32x4.add: SIMD"):
        translator.translate(Instr(add, None, 0))
