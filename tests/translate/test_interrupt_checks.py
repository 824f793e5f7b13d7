"""The epoch and fuel checks the translator emits (translate/interrupts.py): none unless
asked, at function entry and loop headers when asked, an atomic epoch load, and in
innermost loops a poll of the store's poll page instead of a compare."""

from __future__ import annotations

import operator
import random
import re

from pyjitwasm.ir.parser import parse_function
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.verifier import verify
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime.jit.compile_module import CompileOptions, compile_module
from pyjitwasm.translate import loop_trips
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.module_info import InterruptChecks
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


def _polls(text: str) -> int:
    """Loads from the poll page whose value no compare uses."""
    loads = text.count("= load.i64 notrap aligned atomic")
    return loads - len(re.findall(r"trapnz v\d+, interrupt", text))


def test_a_check_at_entry_and_at_each_loop_header() -> None:
    module = _module()
    epoch = _ir(module, InterruptChecks(epoch=True))
    # A compare at the entry and the outer loop's header, a poll in the inner loop.
    assert epoch.count("call fn") - _ir(module, None).count("call fn") == 2
    assert _polls(epoch) == 1
    assert "libcall_out_of_fuel" not in epoch
    assert re.search(r"%libcall_epoch_deadline_reached sig\d+ cold\n", epoch)
    fuel = _ir(module, InterruptChecks(fuel=True))
    assert "libcall_epoch_deadline_reached" not in fuel
    both = _ir(module, InterruptChecks(epoch=True, fuel=True))
    # Each check traps when its libcall confirms: 3 fuel checks, 2 epoch compares.
    assert both.count("trapnz") == 5 and _polls(both) == 1


def test_the_epoch_is_read_with_an_atomic_load() -> None:
    # Another thread moves the epoch: LLVM must read it at every check, not once.
    options = CompileOptions(epoch_interruption=True, keep_ir=True, lazy=False)
    compiled = compile_module(_module(), options, symbol_addresses())
    try:
        assert "load atomic i64" in compiled.llvm_ir and " monotonic" in compiled.llvm_ir
        assert "@libcall_epoch_deadline_reached" in compiled.llvm_ir
    finally:
        compiled.release()


def _counted(limit: str, step: str = "1", cond: str = "i32.lt_u", start: str = "0") -> str:
    """A function whose only loop counts local 0 from ``start`` by ``step`` while
    ``cond(i, limit)`` holds."""
    return f"""
  (func (result i32) (local i32)
    (local.set 0 (i32.const {start}))
    (loop
      (local.set 0 (i32.add (local.get 0) (i32.const {step})))
      (br_if 0 ({cond} (local.get 0) {limit})))
    (local.get 0))"""


SHORT_LOOPS = f"""
(module
  {_counted("(i32.const 64)")}
  {_counted("(i32.const 5000)")}
  {_counted("(i32.const 5001)")}
  {_counted("(local.get 0)", cond="i32.ne")}
  {_counted("(i32.const 512)", step="3", cond="i32.ne")}
  {_counted("(i32.const -128)", step="-4", cond="i32.ne", start="0")}
  {_counted("(i32.const 10)", step="-1", cond="i32.gt_s", start="100")}
  ;; a runaway loop around a short counted one
  (func (result i32) (local i32 i32)
    (loop $outer
      (local.set 1 (i32.const 0))
      (loop $inner
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get 1) (i32.const 64))))
      (local.set 0 (i32.add (local.get 0) (local.get 1)))
      (br $outer))
    (local.get 0))
  ;; a counted loop with a second back-edge (from inside a block)
  (func (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (block $b
        (br_if $l (local.get 0)))
      (br_if $l (i32.lt_u (local.get 1) (i32.const 64))))
    (local.get 1)))
"""


def _epoch_checks(module: WasmModule, index: int) -> tuple[int, int]:
    """The epoch compares (the entry's included) and polls in function ``index``."""
    info = ModuleInfo(module, HeapConfig(), InterruptChecks(epoch=True))
    func = translate_function(module, index, info=info)
    verify(func)
    text = print_function(func)
    return text.count("trapnz"), _polls(text)


def test_short_counted_innermost_loops_have_no_check_of_their_own() -> None:
    # Every innermost loop polls unless it is short; only the entry and the loop around
    # another loop compare.
    module = decode_module(wat2wasm(SHORT_LOOPS))
    validate_module(module)
    checks = [_epoch_checks(module, i) for i in range(len(module.codes))]
    assert checks == [
        (1, 0),  # 64 passes: the entry check only
        (1, 0),  # 5000 passes, the most without a check
        (1, 1),  # 5001 passes: a poll
        (1, 1),  # a limit that is not a constant
        (1, 1),  # i != 512 by steps of 3 wraps around 2^32 first: more than 5000 passes
        (1, 0),  # i != -128 by steps of -4: 32 passes
        (1, 0),  # a signed count down from 100 while i > 10: 90 passes
        (2, 0),  # the inner loop has none, the runaway outer loop keeps its compare
        (1, 1),  # two back-edges: not a counted loop
    ]


def test_the_page_address_is_loaded_once_and_every_check_reads_the_page_atomically(
        ) -> None:
    # Loaded at entry (opt level 1 has no LICM to hoist it); each check is an atomic
    # load, so it stays in the loop and reads the page on every pass.
    options = CompileOptions(epoch_interruption=True, keep_ir=True, lazy=False)
    compiled = compile_module(_module(), options, symbol_addresses())
    try:
        text = compiled.llvm_ir
        page_loads = re.findall(
            rf"(%a\d+) = getelementptr i8, ptr %vmctx, i64 {vm.EPOCH_POLL_OFFSET}\n"
            r"\s+(%v\d+\.p) = load ptr, ptr \1, align 8, !tbaa !\d+, !invariant\.load",
            text)
        assert len(page_loads) == 2  # once per function
        polls = re.findall(r"load atomic i64, ptr (%v\d+\.p) monotonic", text)
        assert len(polls) == 4  # 3 compares (2 entries), 1 poll
        assert {page for _, page in page_loads} == set(polls)
    finally:
        compiled.release()


def test_fuel_keeps_a_check_at_every_loop_header() -> None:
    # Fuel counts exactly: a short loop still checks it at every pass.
    module = decode_module(wat2wasm(SHORT_LOOPS))
    info = ModuleInfo(module, HeapConfig(), InterruptChecks(fuel=True))
    checks = [print_function(translate_function(module, index, info=info)).count("trapnz")
              for index in range(len(module.codes))]
    assert checks == [2, 2, 2, 2, 2, 2, 2, 3, 2]


def _naive_passes(start: int, step: int, cond: str, bound: int, after_step: bool, bits: int,
                  limit: int) -> int | None:
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)

    def value(v: int) -> int:
        v &= mask
        return v - ((v & sign) << 1) if cond[0] == "s" else v

    ops = {"eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
           "gt": operator.gt, "ge": operator.ge}
    i = start & mask
    for passes in range(1, limit + 1):
        following = (i + step) & mask
        if not ops[cond.lstrip("su")](value(following if after_step else i), value(bound)):
            return passes
        i = following
    return None


def test_pass_counts_match_a_pass_by_pass_count() -> None:
    # 8-bit counters wrap within the limit: both the direct count and the fallback run.
    rng = random.Random(11)
    conds = ["eq", "ne", "slt", "sle", "sgt", "sge", "ult", "ule", "ugt", "uge"]
    for _ in range(20000):
        start, bound = rng.randrange(256), rng.randrange(256)
        step = rng.choice([0, 1, -1, 2, -3, 4, 7, -8, 64, rng.randrange(-300, 300)])
        cond, after_step = rng.choice(conds), rng.random() < 0.5
        limit = rng.choice([1, 2, 5, 100, 300, 1000])
        args = (start, step, cond, bound, after_step, 8, limit)
        assert loop_trips._passes(*args) == _naive_passes(*args), args
