"""ir/builder.py is generated from the opcode table: regenerate it and compare, and check
that the generated methods cover the table."""

from __future__ import annotations

import inspect
from types import ModuleType

from pyjitwasm.ir.builder import InstBuilder
from pyjitwasm.ir.instructions import FORMATS, OPCODES
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.wasm.traps import TrapCode as WasmTrapCode

from support.module_files import ROOT, load_module_file


def _generator() -> ModuleType:
    return load_module_file(ROOT / "tools" / "gen_ir_builder.py", "gen_ir_builder")


def test_checked_in_builder_matches_the_generator() -> None:
    generator = _generator()
    expected = generator.render()
    actual = (ROOT / "ir" / "builder.py").read_text()
    assert actual == expected, "ir/builder.py is stale: run python tools/gen_ir_builder.py"
    assert generator.main(["--check"]) == 0


def test_every_opcode_has_a_builder_method() -> None:
    generator = _generator()
    for name, info in OPCODES.items():
        method = getattr(InstBuilder, generator.method_name(name))
        assert method.__qualname__.startswith("InstBuilder."), name
        assert f"``{name}``" in (method.__doc__ or "")
        # Methods are plain functions with real signatures (nothing made up at run time).
        assert "self" in inspect.signature(method).parameters
        assert info.format in FORMATS


def test_ir_trap_codes_match_the_runtime_numbering() -> None:
    # Compiled code passes the IR code's number to the runtime, which reads it back as
    # the wasm layer's TrapCode: both enumerations must agree name for name.
    assert {c.name: c.value for c in TrapCode} == {c.name: c.value for c in WasmTrapCode}
