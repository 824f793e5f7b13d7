"""The IR of on-stack-replacement entries (translate/osr.py): the entry block loads the
locals and jumps to the loop's header; the code before the loop is unreachable and is
never lowered; the lowered function takes (vmctx, locals) with no caller vmctx."""

from __future__ import annotations

import re

import pytest

from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.parser import parse_function
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.verifier import verify
from pyjitwasm.jit.lower import lower_function
from pyjitwasm.translate.module_info import InterruptChecks
from pyjitwasm.translate.osr_abi import OSR_LOCALS_PURPOSE, OsrError
from pyjitwasm.translate.translator import HeapConfig, ModuleInfo, translate_osr_entry
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.validator import validate_module
from pyjitwasm.wat import wat2wasm

NESTED = """
(module
  (func (export "f") (param i32) (result f64) (local i64 f32 f64)
    (local.set 1 (i64.const 123456789))
    (loop $outer
      (local.set 2 (f32.const 0.5))
      (loop $inner
        (local.set 3 (f64.add (local.get 3) (f64.promote_f32 (local.get 2))))
        (local.set 1 (i64.sub (local.get 1) (i64.const 1)))
        (br_if $inner (i64.ne (i64.and (local.get 1) (i64.const 15)) (i64.const 0))))
      (br_if $outer (i32.lt_u (i32.wrap_i64 (local.get 1)) (local.get 0))))
    (local.get 3)))
"""


def _module() -> WasmModule:
    module = decode_module(wat2wasm(NESTED))
    validate_module(module)
    return module


def _loops(module: WasmModule) -> list[int]:
    return [i.offset for i in module.codes[0].instrs if i.op == op.LOOP]


@pytest.mark.parametrize("checks", [None, InterruptChecks(epoch=True, fuel=True)])
@pytest.mark.parametrize("loop", [0, 1])
def test_the_entry_jumps_from_the_loaded_locals_to_the_header(
        loop: int, checks: InterruptChecks | None) -> None:
    module = _module()
    offset = _loops(module)[loop]
    func = translate_osr_entry(module, 0, offset, info=ModuleInfo(module, HeapConfig(), checks))
    verify(func)
    text = print_function(func)
    assert print_function(parse_function(text)) == text
    assert func.name == f"wasm_osr_0_{offset}"
    assert [p.purpose for p in func.signature.params] == ["vmctx", OSR_LOCALS_PURPOSE]
    # One load per local at -8i from the locals parameter, each at its own width.
    loads = re.findall(r"= load\.(\w+) notrap aligned v1(-\d+)?\n", text)
    assert loads == [("i32", ""), ("i64", "-8"), ("f32", "-16"), ("f64", "-24")]
    # The pre-loop constant exists only in unreachable code: not in the LLVM text.
    assert "iconst.i64 0x75bcd15" in text  # 123456789
    legalize(func)
    llvm = lower_function(func)
    assert "123456789" not in llvm
    header = llvm.splitlines()[0]
    assert re.search(r"\(ptr %vmctx, i64 %v1\)", header) and "caller_vmctx" not in llvm


def test_ineligible_requests_name_the_reason() -> None:
    module = _module()
    with pytest.raises(OsrError, match="no loop instruction at offset 0"):
        translate_osr_entry(module, 0, 0)
    with pytest.raises(OsrError, match="not defined"):
        translate_osr_entry(module, 5, _loops(module)[0])
