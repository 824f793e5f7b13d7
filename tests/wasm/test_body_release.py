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


CALLS = """(module
  (import "env" "h" (func $h))
  (func $a (result i32) (i32.const 1))
  (func $b (result i32) (call $h) (i32.add (call $a) (call $a)))
  (func $c (result i32) (call $b) (drop) (return_call $a)))"""


def test_validation_records_direct_callees_in_first_call_order() -> None:
    module = decode_module(wat2wasm(CALLS))
    assert [body.direct_callees for body in module.codes] == [None, None, None]
    validate_module(module)
    assert [body.direct_callees for body in module.codes] == [(), (0, 1), (2, 1)]
    module.release_bodies()
    assert module.codes[1].direct_callees == (0, 1)  # kept without the instructions


def test_lazy_batches_plan_callees_without_decoding_bodies() -> None:
    from pyjitwasm.libcalls import symbol_addresses
    from pyjitwasm.runtime.jit.compile_module import CompileOptions
    from pyjitwasm.runtime.jit.module_code import ModuleCode

    module = decode_module(wat2wasm(CALLS))
    validate_module(module)
    module.release_bodies()
    decoded: list[int] = []
    for body in module.codes:
        body._source = _CountingSource(body._source, decoded)
    code = ModuleCode(module, CompileOptions(lazy=True), symbol_addresses())
    first = module.num_imported_funcs
    assert code._callees_of(3 - first) == [2 - first, 1 - first]
    assert code._callees_of(2 - first) == [1 - first]  # the import is not a callee
    assert decoded == []


class _CountingSource:
    """A body source that counts the bodies it decodes."""

    def __init__(self, source, decoded: list[int]) -> None:
        self._source = source
        self._decoded = decoded

    def decode_body(self, offset: int, size: int):
        self._decoded.append(offset)
        return self._source.decode_body(offset, size)
