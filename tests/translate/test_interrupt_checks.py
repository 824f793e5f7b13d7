"""The epoch and fuel checks the translator emits (translate/interrupts.py): none unless
asked, at function entry and loop headers when asked, and an atomic epoch load."""

from __future__ import annotations

import re

from pyjitwasm.ir.parser import parse_function
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.verifier import verify
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime.jit.compile_module import CompileOptions, compile_module
from pyjitwasm.translate.env import InterruptChecks
from pyjitwasm.translate.translator import HeapConfig, ModuleInfo, translate_function
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.validator import validate_module
from pyjitwasm.wat import wat2wasm

LOOPS = """
(module
  (func $leaf (result i32) i32.const 7)
  (func (export "f") (param i32) (result i32) (local i32)
    (loop $outer
      (loop $inner
        (local.set 1 (i32.add (local.get 1) (call $leaf)))
        (br_if $inner (i32.lt_u (local.get 1) (local.get 0))))
      (br_if $outer (i32.eqz (local.get 1))))
    (local.get 1)))
"""


def _module() -> WasmModule:
    module = decode_module(wat2wasm(LOOPS))
    validate_module(module)
    return module


def _ir(module: WasmModule, checks: InterruptChecks | None) -> str:
    info = ModuleInfo(module, HeapConfig(), checks)
    func = translate_function(module, 1, info=info)
    verify(func)
    text = print_function(func)
    assert print_function(parse_function(text)) == text  # ``cold`` callees included
    return text


def test_no_checks_unless_asked() -> None:
    module = _module()
    plain = _ir(module, None)
    assert _ir(module, InterruptChecks()) == plain
    assert "libcall_" not in plain


def test_a_check_at_entry_and_at_each_loop_header() -> None:
    module = _module()
    epoch = _ir(module, InterruptChecks(epoch=True))
    assert epoch.count("call fn") - _ir(module, None).count("call fn") == 3  # entry + 2 loops
    assert "libcall_out_of_fuel" not in epoch
    assert re.search(r"%libcall_epoch_deadline_reached sig\d+ cold\n", epoch)
    fuel = _ir(module, InterruptChecks(fuel=True))
    assert "libcall_epoch_deadline_reached" not in fuel
    both = _ir(module, InterruptChecks(epoch=True, fuel=True))
    assert both.count("trapnz") == 6  # each check traps when its libcall confirms


def test_the_epoch_is_read_with_an_atomic_load() -> None:
    # Another thread moves the epoch: LLVM must read it at every check, not once.
    options = CompileOptions(epoch_interruption=True, keep_ir=True, lazy=False)
    compiled = compile_module(_module(), options, symbol_addresses())
    try:
        assert "load atomic i64" in compiled.llvm_ir and " monotonic" in compiled.llvm_ir
        assert "@libcall_epoch_deadline_reached" in compiled.llvm_ir
    finally:
        compiled.release()
