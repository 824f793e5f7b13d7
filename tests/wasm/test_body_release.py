"""Function bodies give their decoded instructions back and decode them again on demand
(``FunctionBody.release``): ``Module()`` releases them after validation, the lazy JIT
after compiling each batch, so a large module's never-run functions cost their bytes only
(CPython 3.12 for WASI held 355 MB of ``Instr`` tuples for 2.7M instructions)."""

from __future__ import annotations

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store, wat2wasm
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.errors import DecodeError, ValidationError
from pyjitwasm.wasm.validator import validate_module

WAT = """(module
  (func $sq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  (func (export "f") (param i32) (result i32)
    (block (result i32) (call $sq (i32.add (local.get 0) (i32.const 1)))))
  (func (export "unused") (result i32) (i32.const 7)))"""


def test_released_body_decodes_the_same_instructions_again() -> None:
    module = decode_module(wat2wasm(WAT))
    before = [[(i.op, repr(i.imm), i.offset) for i in body.instrs] for body in module.codes]
    counts = [body.instr_count for body in module.codes]
    module.release_bodies()
    assert all(body._instrs is None for body in module.codes)
    assert [body.instr_count for body in module.codes] == counts
    # Block immediates (their end/else positions too) are rebuilt with the list.
    again = [[(i.op, repr(i.imm), i.offset) for i in body.instrs] for body in module.codes]
    assert again == before
    assert "end_pc=5" in again[1][0][1]


def test_module_releases_bodies_and_the_jit_releases_what_it_compiled() -> None:
    engine = Engine(Config(strategy="jit", lazy_compilation=True))
    module = Module(engine, WAT)
    codes = module._wasm.codes
    assert all(body._instrs is None for body in codes)
    store = Store(engine)
    exports = Instance(store, module, []).exports(store)
    assert exports["f"](store, 4) == 25
    assert all(body._instrs is None for body in codes)
    assert exports["unused"](store) == 7


def test_interpreter_runs_released_bodies() -> None:
    engine = Engine(Config(strategy="interp"))
    store = Store(engine)
    exports = Instance(store, Module(engine, WAT), []).exports(store)
    assert exports["f"](store, 2) == 9


def test_decoding_without_keeping_bodies_still_checks_them() -> None:
    wasm = wat2wasm(WAT)
    module = decode_module(wasm, keep_bodies=False)
    assert all(body.released for body in module.codes)
    validate_module(module)  # decodes each body again, and gives it back
    assert all(body.released for body in module.codes)
    # A malformed body is still a decode error, and an invalid one a validation error.
    end = wasm.rindex(bytes([0x41, 0x07, 0x0B]))  # (i32.const 7) end, of "unused"
    with pytest.raises(DecodeError):
        decode_module(wasm[:end] + bytes([0x41, 0x07, 0xFF]) + wasm[end + 3:],
                      keep_bodies=False)
    invalid = decode_module(wasm[:end] + bytes([0x01, 0x01, 0x0B]) + wasm[end + 3:],
                            keep_bodies=False)  # nop nop end: no i32 result
    with pytest.raises(ValidationError):
        validate_module(invalid)
