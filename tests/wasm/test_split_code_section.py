"""A large code section decoded and checked in two processes (a forked child takes the
second half: wasm/decoder.py ``_split_code_section``) gives what decoding it in one
does: the same bodies, instruction counts and callees, and the same first error, in
order, for malformed and invalid bodies in either half.  Each case runs in a fresh
process with the size threshold at 0 (the split needs this process to have no other
thread), once split and once not (``PYJITWASM_SPLIT_DECODE=0``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from pyjitwasm import wat2wasm

pytestmark = pytest.mark.skipif(not hasattr(os, "fork") or (os.cpu_count() or 1) < 2,
                                reason="the split needs fork and two CPUs")

SCRIPT = r"""
import json, sys
from pyjitwasm.wasm import decoder
from pyjitwasm.wasm.errors import WasmError
from pyjitwasm.wasm.validator import ChecksWhileDecoding, validate_module
decoder.SPLIT_MIN_CODE_BYTES = 0
if sys.argv[2] == "child-fails":
    decoder._ModuleDecoder._decode_part = lambda *args: __import__("os")._exit(3)
wasm = open(sys.argv[1], "rb").read()
try:
    early = ChecksWhileDecoding()
    module = decoder.decode_module(wasm, keep_bodies=False, body_checks=early)
    validate_module(module, early.checks)
except WasmError as exc:
    print(json.dumps({"error": [type(exc).__name__, str(exc)]}))
    sys.exit()
codes = module.codes
print(json.dumps({
    "deferred": sum(body._locals is None for body in codes),
    "counts": [body.instr_count for body in codes],
    "callees": [list(body.direct_callees) for body in codes],
    "instrs": [[list(i[:1]) + [i[2]] for i in body.instrs] for body in codes[::37]],
}))
"""


def _module(bodies: list[str]) -> bytes:
    funcs = "\n".join(f"(func $f{i} (param i32) (result i32) {body})"
                      for i, body in enumerate(bodies))
    return wat2wasm(f"(module (memory 1) {funcs})")


def _body(i: int) -> str:
    callee = f"(drop (call $f{(i * 7) % 300} (local.get 0)))" if i % 3 else ""
    return (f"{callee} (i32.add (i32.load offset={i} (local.get 0)) "
            f"(i32.mul (local.get 0) (i32.const {i})))")


def _decode(tmp_path, wasm: bytes, split: bool, mode: str = "") -> dict:
    path = tmp_path / "m.wasm"
    path.write_bytes(wasm)
    env = {**os.environ, "PYJITWASM_SPLIT_DECODE": "1" if split else "0"}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(path), mode], capture_output=True,
                         text=True, timeout=120, env=env, check=True)
    return json.loads(out.stdout)


def test_a_split_section_decodes_as_one(tmp_path) -> None:
    wasm = _module([_body(i) for i in range(300)])
    split = _decode(tmp_path, wasm, split=True)
    whole = _decode(tmp_path, wasm, split=False)
    assert split["deferred"] > 100 and whole["deferred"] == 0  # the child did its half
    for field in ("counts", "callees", "instrs"):
        assert split[field] == whole[field]


@pytest.mark.parametrize("where", [40, 260])
def test_an_invalid_body_is_reported_as_without_the_split(tmp_path, where: int) -> None:
    bodies = [_body(i) for i in range(300)]
    bodies[where] = "(i64.const 1)"  # an i64 where an i32 result is due
    bodies[where + 20] = "(f32.const 1)"  # a later one: not the first error
    wasm = _module(bodies)
    split = _decode(tmp_path, wasm, split=True)
    assert split == _decode(tmp_path, wasm, split=False)
    assert split["error"][0] == "ValidationError" and f"function {where}" in split["error"][1]


def _malformed(wasm: bytes, function: int) -> bytes:
    """``wasm`` with an unknown opcode at the start of function ``function``'s code (the
    byte after its locals, which these bodies have none of)."""
    from pyjitwasm.wasm.decoder import decode_module

    body = decode_module(wasm).codes[function]
    at = body.instrs[0].offset
    return wasm[:at] + b"\xff" + wasm[at + 1:]


@pytest.mark.parametrize("invalid, malformed", [(None, 250), (30, 250), (None, 20)])
def test_malformed_bodies_come_first_as_without_the_split(tmp_path, invalid, malformed) -> None:
    bodies = [_body(i) for i in range(300)]
    if invalid is not None:
        bodies[invalid] = "(i64.const 1)"
    wasm = _malformed(_module(bodies), malformed)
    split = _decode(tmp_path, wasm, split=True)
    assert split == _decode(tmp_path, wasm, split=False)
    assert split["error"][0] == "DecodeError"


def test_a_failing_child_leaves_its_half_to_the_parent(tmp_path) -> None:
    wasm = _module([_body(i) for i in range(300)])
    failed = _decode(tmp_path, wasm, split=True, mode="child-fails")
    whole = _decode(tmp_path, wasm, split=False)
    assert failed["deferred"] == 0
    assert failed["counts"] == whole["counts"] and failed["callees"] == whole["callees"]
