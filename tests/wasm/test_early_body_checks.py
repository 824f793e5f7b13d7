"""Bodies validated while they are decoded (``validator.EarlyBodyChecks``, what
``Module()`` does): each body is decoded once, and the errors are the ones decoding and
then validating give, in the same order."""

from __future__ import annotations

import pytest

from pyjitwasm import Engine, Module
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.errors import DecodeError, ValidationError
from pyjitwasm.wasm.validator import ChecksWhileDecoding, validate_module
from pyjitwasm.wat import wat2wasm

VALID = """
(module
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (table 2 funcref)
  (elem (i32.const 0) $a $b)
  (func $a (param i32) (result i32) (i32.add (local.get 0) (global.get $g)))
  (func $b (result i32) (call_indirect (result i32) (i32.const 1)))
  (func (export "c") (result i32) (i32.load (i32.const 8)))
  (data (i32.const 0) "abc"))
"""
# The second body returns nothing where an i32 is due.
INVALID_BODY = VALID.replace("(func $b (result i32) (call_indirect (result i32) "
                             "(i32.const 1)))", "(func $b (result i32) nop)")


def _both_ways(wasm: bytes) -> tuple[BaseException | None, BaseException | None]:
    """The error of decode + validate_module, and of the early checks."""
    outcomes: list[BaseException | None] = []
    for early_checks in (False, True):
        early = ChecksWhileDecoding()
        try:
            module = decode_module(wasm, keep_bodies=False,
                                   body_checks=early if early_checks else None)
            validate_module(module, early.checks)
        except (DecodeError, ValidationError) as exc:
            outcomes.append(exc)
        else:
            outcomes.append(None)
    return outcomes[0], outcomes[1]


def _same(a: BaseException | None, b: BaseException | None) -> bool:
    if a is None or b is None:
        return a is b
    return type(a) is type(b) and str(a) == str(b)


def test_a_valid_module_validates_either_way() -> None:
    plain, early = _both_ways(wat2wasm(VALID))
    assert plain is None and early is None


def test_an_invalid_body_gives_the_same_error() -> None:
    plain, early = _both_ways(wat2wasm(INVALID_BODY))
    assert isinstance(plain, ValidationError)
    assert _same(plain, early)


def test_a_module_level_error_still_comes_before_a_body_error() -> None:
    # An invalid body, and an active data segment whose offset is not an i32: the
    # validator finds the data segment first (module level before bodies).
    wasm = wat2wasm(INVALID_BODY.replace('(data (i32.const 0) "abc")',
                                         '(data (i64.const 0) "abc")'))
    plain, early = _both_ways(wasm)
    assert isinstance(plain, ValidationError) and "body" not in str(plain).lower()
    assert _same(plain, early)


def test_malformed_bytes_after_an_invalid_body_are_malformed() -> None:
    wasm = bytearray(wat2wasm(INVALID_BODY))
    # The data section is the last one: cut its payload short.
    cut = bytes(wasm[:-2])
    plain, early = _both_ways(cut)
    assert isinstance(plain, DecodeError)
    assert _same(plain, early)


def test_module_decodes_each_body_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm.wasm import decoder

    calls: list[int] = []
    real = decoder.decode_instrs
    monkeypatch.setattr(decoder, "decode_instrs",
                        lambda *args: calls.append(1) or real(*args))
    module = Module(Engine(), wat2wasm(VALID))
    assert len(calls) == len(module._wasm.codes)  # noqa: SLF001 - the test looks inside
    with pytest.raises(ValidationError):
        Module(Engine(), wat2wasm(INVALID_BODY))
