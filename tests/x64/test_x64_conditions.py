"""Branches on a comparison just compiled (``FunctionCompiler.fuse_condition``): the
single-pass x86-64 tier 0 jumps on the comparison's flags instead of materializing its
0/1 result.  Every integer condition, both widths and ``eqz``, feeding ``br_if`` (to a
loop, to a block, with values to move) and ``if``/``else``, against the reference
interpreter; and the cases that must not fuse (a join in between, code in between)."""

from __future__ import annotations

import pytest

from pyjitwasm.runtime.native import lazy_stubs_supported
from pyjitwasm.x64 import tier0

from support.x64_cases import CASES, x64_counts

pytestmark = pytest.mark.skipif(not (lazy_stubs_supported() and tier0.supported_host()),
                                reason="the x86-64 tier 0 is for x86-64 Linux")


KINDS = ("eq", "ne", "lt_s", "lt_u", "gt_s", "gt_u", "le_s", "le_u", "ge_s", "ge_u")


def _module() -> str:
    funcs = []
    for ty in ("i32", "i64"):
        for kind in KINDS:
            cmp = f"({ty}.{kind} (local.get 0) (local.get 1))"
            funcs.append(f"""
  (func (export "{ty}_{kind}_if") (param {ty} {ty}) (result i32)
    (if (result i32) {cmp} (then (i32.const 11)) (else (i32.const 22))))
  (func (export "{ty}_{kind}_br") (param {ty} {ty}) (result i32)
    (block $b (br_if $b {cmp}) (return (i32.const 5))) (i32.const 6))
  (func (export "{ty}_{kind}_value") (param {ty} {ty}) (result i32)
    (block $b (result i32) (i32.const 7) {cmp} (br_if $b) (drop) (i32.const 8)))""")
        funcs.append(f"""
  (func (export "{ty}_eqz") (param {ty} {ty}) (result i32)
    (block $b (br_if $b ({ty}.eqz (local.get 0))) (return (i32.const 1))) (i32.const 2))
  (func (export "{ty}_eqz_if") (param {ty} {ty}) (result i32)
    (if (result i32) ({ty}.eqz (local.get 1)) (then (i32.const 3)) (else (i32.const 4))))""")
    return "(module" + "".join(funcs) + """
  (func (export "count_down") (param i32) (result i32) (local i32)
    ;; a loop closed by br_if on a compare: the loop runs while the counter is below
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.const 3)))
      (br_if $l (i32.lt_u (local.tee 0 (i32.sub (local.get 0) (i32.const 1)))
                          (i32.const 1000))))
    (local.get 1))
  (func (export "joined") (param i32 i32) (result i32)
    ;; the compare ends a block another edge also reaches with a value: no fusion
    (if (result i32)
      (block (result i32)
        (drop (br_if 0 (i32.const 1) (local.get 1)))
        (i32.lt_s (local.get 0) (i32.const 5)))
      (then (i32.const 10)) (else (i32.const 20))))
  (func (export "dropped_between") (param i32 i32) (result i32)
    (if (result i32)
      (i32.gt_u (local.get 0) (local.get 1))
      (drop (local.get 1))
      (then (i32.const 30)) (else (i32.const 40))))
  (func (export "teed") (param i32 i32) (result i32) (local i32)
    (if (local.tee 2 (i32.ge_s (local.get 0) (local.get 1)))
      (then (local.set 2 (i32.add (local.get 2) (i32.const 100)))))
    (local.get 2))
)"""


ARGS32 = (0, 1, -1, 5, 7, -0x80000000, 0x7FFFFFFF)
ARGS64 = (0, 1, -1, 5, 1 << 40, -0x8000000000000000, 0x7FFFFFFFFFFFFFFF, 0xFFFFFFFF)


def test_branches_on_comparisons_match_the_interpreter(x64_everywhere: None) -> None:
    before = x64_counts()
    pair = CASES._Pair(_module())
    for ty, args in (("i32", ARGS32), ("i64", ARGS64)):
        for a in args:
            for b in args:
                for kind in KINDS:
                    for shape in ("if", "br", "value"):
                        pair.check(f"{ty}_{kind}_{shape}", a, b)
                pair.check(f"{ty}_eqz", a, b)
                pair.check(f"{ty}_eqz_if", a, b)
    for a in ARGS32:
        for b in ARGS32:
            for name in ("joined", "dropped_between", "teed"):
                pair.check(name, a, b)
    for n in (0, 1, 2, 999, 1000, 1001, 5000):
        pair.check("count_down", n)
    assert pair.check("i32_lt_s_if", -1, 0) == ("ok", 11)
    assert pair.check("i32_lt_u_if", -1, 0) == ("ok", 22)
    assert pair.check("joined", 9, 1) == ("ok", 10)
    assert pair.check("joined", 9, 0) == ("ok", 20)
    after = x64_counts()
    assert after[0] > before[0] and after[1] == before[1]


def test_a_branch_on_a_comparison_jumps_on_its_flags() -> None:
    from pyjitwasm.runtime.jit.compile_module import CompileOptions
    from pyjitwasm.wasm.decoder import decode_module
    from pyjitwasm.x64.function import FunctionCompiler

    wat = """(module (func (param i32) (result i32)
      (block $b (br_if $b (i32.lt_s (local.get 0) (i32.const 9))) (return (i32.const 1)))
      (i32.const 2)))"""
    module = decode_module(__import__("wasmtime").wat2wasm(wat))
    info = CompileOptions().module_info(module)
    code = bytearray()
    FunctionCompiler(info, 0, code, [], False).compile(tier0.handlers())
    assert b"\x3d\x09\x00\x00\x00\x0f\x8c" in code  # cmp eax, 9; jl rel32
    assert b"\x0f\x9c\xc0" not in code  # no setl al
