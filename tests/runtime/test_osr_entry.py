"""On-stack-replacement entries (``translate/osr.py``, ``runtime/jit/osr.py``,
``ModuleCode.request_osr``/``osr_entry``): tier-1 code that starts a function at a loop
header with the locals of a tier-0 frame and runs it to its return.

Each entry is called as tier-0 code calls it (``support/osr_call.py``: the locals in a
buffer laid out as x64's frame, i32/f32 slots with garbage in their high halves, the
call inside ``pyjitwasm_invoke``), and checked against a normal call of the function
(entering the loop with the locals the function has there, and the state it has after
some iterations) or against the same computation in Python.
"""

from __future__ import annotations

import math
import struct
import threading
from typing import Any

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Func,
    FuncType,
    Instance,
    Module,
    Store,
    Trap,
    ValType,
)
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.native import last_trap_pcs, lazy_stubs_supported
from pyjitwasm.translate.osr_abi import OsrError
from pyjitwasm.translate.tier_table import OSR_SLOTS_PER_FUNCTION
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.traps import TrapCode
from pyjitwasm.wasm.types import F32, F64, I32, I64
from pyjitwasm.x64 import tier0

from support.osr_call import call_osr_entry

pytestmark = pytest.mark.skipif(not lazy_stubs_supported(),
                                reason="OSR entries are called from x86-64 tier-0 code")

PROGRAM = """
(module
  (import "host" "note" (func $note (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut i64) (i64.const 0))
  (data (i32.const 28) "\\2a\\00\\00\\00")  ;; 42 at index 7
  (func $sum_to (export "sum_to") (param $n i32) (result i64) (local $acc i64)
    (local.set $acc (i64.const 7))
    (loop $l
      (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_u (local.get $n))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $acc))
  ;; acc += i * 1000 + j over i, j < n.
  (func $nest (export "nest") (param $n i32) (result i64) (local $i i32) (local $j i32)
        (local $acc i64)
    (loop $outer
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $acc (i64.add (local.get $acc)
          (i64.extend_i32_u (i32.add (i32.mul (local.get $i) (i32.const 1000))
                                     (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $j) (local.get $n))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc))
  ;; The first index below $limit whose i32 in memory is 42, else -1.
  (func $find (export "find") (param $limit i32) (result i32) (local $i i32)
    (block $found (result i32)
      (block $missing
        (loop $l
          (br_if $missing (i32.ge_u (local.get $i) (local.get $limit)))
          (if (i32.eq (i32.load (i32.shl (local.get $i) (i32.const 2))) (i32.const 42))
            (then (br $found (local.get $i))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $l)))
      (i32.const -1)))
  ;; Every local type; i32/f32 used where garbage in a slot's high half would show.
  (func $mix (export "mix") (param $a i32) (param $b i64) (param $c f32) (param $d f64)
        (result f64) (local $k i32)
    (loop $l
      (local.set $b (i64.add (local.get $b) (i64.extend_i32_u (local.get $a))))
      (local.set $c (f32.add (local.get $c) (f32.const 0.5)))
      (local.set $d (f64.add (f64.mul (local.get $d) (f64.const 1.25))
                             (f64.promote_f32 (local.get $c))))
      (local.set $a (i32.add (local.get $a) (i32.const 3)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $k) (i32.const 5))))
    (f64.add (local.get $d) (f64.convert_i64_u (local.get $b))))
  (func $f32_result (export "f32_result") (param $x f32) (param $n i32) (result f32)
    (loop $l
      (local.set $x (f32.mul (local.get $x) (f32.const 1.5)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $x))
  (func $i32_result (export "i32_result") (param $x i32) (param $n i32) (result i32)
    (loop $l
      (local.set $x (i32.add (i32.mul (local.get $x) (i32.const 3)) (i32.const 1)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $x))
  ;; No result: the sum goes to the global, the squares to memory.
  (func $fill (export "fill") (param $n i32) (local $i i32)
    (global.set $g (i64.const 0))
    (loop $l
      (i32.store offset=1024 (i32.shl (local.get $i) (i32.const 2))
                 (i32.mul (local.get $i) (local.get $i)))
      (global.set $g (i64.add (global.get $g) (i64.extend_i32_u (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
  (func $g (export "g") (result i64) (global.get $g))
  (func $square (param i32) (result i32) (i32.mul (local.get 0) (local.get 0)))
  ;; Calls in the loop: a defined function, the host, and itself.
  (func $calls (export "calls") (param $n i32) (result i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (call $square (local.get $n))))
      (local.set $acc (i32.add (local.get $acc) (call $note (local.get $n))))
      (if (i32.eq (local.get $n) (i32.const 2))
        (then (local.set $acc (i32.add (local.get $acc)
                                       (call $calls (i32.const 1))))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $acc))
  ;; Divides by $n counting down: traps once it reaches 0 (when $stop is 0).
  (func $divide (export "divide") (param $n i32) (param $stop i32) (result i32)
        (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (i32.div_u (i32.const 1000) (local.get $n))))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (i32.ge_u (local.get $n) (local.get $stop))))
    (local.get $acc))
  ;; Reads far beyond the memory once $p gets there: a guard-page fault.
  (func $walk (export "walk") (param $p i32) (param $n i32) (result i32) (local $acc i32)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (i32.load (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 0x10000000)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))
    (local.get $acc))
  (func $spin (export "spin") (param $n i32)
    (loop $l (local.set $n (i32.add (local.get $n) (i32.const 1))) (br $l)))
  ;; Not eligible, each for one reason.
  (func $two (export "two") (param $n i32) (result i32 i32)
    (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $n) (local.get $n))
  (func $vector (param $n i32) (local $v v128)
    (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func $reference (param $n i32) (local $r externref)
    (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func $with_param (param $n i32) (result i32)
    (local.get $n)
    (loop $l (param i32) (result i32)
      (br_if $l (i32.sub (i32.const 1)) (i32.eqz (i32.const 1)))))
  (func $stacked (param $n i32) (result i32)
    (i32.const 5)
    (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (i32.add (local.get $n)))
  (func $dead (param $n i32) (result i32)
    (return (i32.const 0))
    (loop $l (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $n))
)
"""


class Program:
    """The module instantiated once, with its ``ModuleCode`` and what the host saw."""

    def __init__(self, **config: Any) -> None:
        settings = Config(lazy_compilation=True)
        for name, value in config.items():
            setattr(settings, name, value)  # wasmtime-py's Config: properties
        self.store = Store(Engine(settings))
        self.module = Module(self.store.engine, PROGRAM)
        self.noted: list[int] = []

        def note(n: int) -> int:
            self.noted.append(n)
            return n * 10

        note_func = Func(self.store, FuncType([ValType.i32()], [ValType.i32()]), note)
        self.instance = Instance(self.store, self.module, [note_func])
        self.exports = self.instance.exports(self.store)
        code = self.module._prepared.compiled()  # noqa: SLF001 - the test looks inside
        assert isinstance(code, ModuleCode)
        self.code = code
        self.vmctx: int = self.instance._rt.vmctx  # noqa: SLF001

    def call(self, name: str, *args: Any) -> Any:
        return self.exports[name](self.store, *args)

    def index(self, name: str) -> int:
        """Defined function number (index minus imports) of function ``$name``."""
        module, first = self.code.module, self.code.first
        return next(k for k in range(len(module.codes)) if module.func_name(first + k) == name)

    def loops(self, k: int) -> list[int]:
        """Offsets of defined function ``k``'s loop instructions, in order."""
        return [i.offset for i in self.code.module.codes[k].instrs if i.op == op.LOOP]

    def enter(self, name: str, locals_: list[tuple[int, int | float]], results: list[int],
              loop: int = 0) -> list[Any]:
        """Compile function ``$name``'s entry at its ``loop``-th loop and call it."""
        k = self.index(name)
        entry = self.code.compile_osr(k, self.loops(k)[loop])
        return call_osr_entry(self.vmctx, entry, locals_, results)


@pytest.fixture(scope="module")
def program() -> Program:
    return Program()


def test_a_counting_loop_continues_from_the_frames_locals(program: Program) -> None:
    # At the loop's first entry the locals are (n, 7): the entry is the whole call.
    for n in (1, 5, 1000):
        assert program.enter("sum_to", [(I32, n), (I64, 7)], [I64]) == \
            [program.call("sum_to", n)]
    # After 3 iterations of sum_to(10): n = 7, acc = 7 + 10 + 9 + 8.
    assert program.enter("sum_to", [(I32, 7), (I64, 34)], [I64]) == [program.call("sum_to", 10)]
    # The code before the loop does not run: acc starts at what the frame holds.
    assert program.enter("sum_to", [(I32, 4), (I64, 0)], [I64]) == [10]


def _nest_from(n: int, i: int, j: int, acc: int) -> int:
    """``$nest``'s result from its inner loop's header with these locals."""
    while True:
        while True:
            acc += i * 1000 + j
            j += 1
            if not j < n:
                break
        i += 1
        if not i < n:
            return acc
        j = 0


def test_an_entry_at_the_inner_loop_continues_the_outer_one(program: Program) -> None:
    n = 6
    assert program.enter("nest", [(I32, n), (I32, 0), (I32, 0), (I64, 0)], [I64],
                         loop=0) == [program.call("nest", n)]
    assert program.enter("nest", [(I32, n), (I32, 0), (I32, 0), (I64, 0)], [I64],
                         loop=1) == [program.call("nest", n)]
    # Mid-way: row 2, column 3, with what rows 0-1 and 2's first three added.
    acc = sum(i * 1000 + j for i in range(2) for j in range(n)) + sum(2000 + j for j in range(3))
    assert program.enter("nest", [(I32, n), (I32, 2), (I32, 3), (I64, acc)], [I64],
                         loop=1) == [program.call("nest", n)]
    assert program.enter("nest", [(I32, 9), (I32, 4), (I32, 7), (I64, 5)], [I64],
                         loop=1) == [_nest_from(9, 4, 7, 5)]


def test_a_loop_inside_blocks_branches_out_of_them(program: Program) -> None:
    # 42 is at index 7 (the data segment): found from any start up to 7.
    assert program.enter("find", [(I32, 100), (I32, 0)], [I32]) == [7]
    assert program.enter("find", [(I32, 100), (I32, 7)], [I32]) == [7]
    assert program.enter("find", [(I32, 100), (I32, 8)], [I32]) == [0xFFFFFFFF]
    assert program.enter("find", [(I32, 5), (I32, 0)], [I32]) == [0xFFFFFFFF]
    assert program.call("find", 100) == 7


def test_every_local_type_is_read_from_its_slot(program: Program) -> None:
    # Garbage in the i32/f32 slots' high halves (osr_call.GARBAGE) must not show.
    args = (0x7FFFFFF0, 1 << 40, 2.75, -3.5)
    locals_ = [(I32, args[0]), (I64, args[1]), (F32, args[2]), (F64, args[3]), (I32, 0)]
    assert program.enter("mix", locals_, [F64]) == [program.call("mix", *args)]
    # After two iterations, computed the same way in Python (f32 steps are exact).
    a, b, c, d = args
    for _ in range(2):
        b += a
        c += 0.5
        d = d * 1.25 + c
        a += 3
    locals_ = [(I32, a), (I64, b), (F32, c), (F64, d), (I32, 2)]
    assert program.enter("mix", locals_, [F64]) == [program.call("mix", *args)]


def test_each_result_type_and_none(program: Program) -> None:
    assert program.enter("i32_result", [(I32, 0xFFFFFFFF), (I32, 3)], [I32]) == \
        [program.call("i32_result", -1, 3) & 0xFFFFFFFF]
    assert program.enter("f32_result", [(F32, 1.25), (I32, 4)], [F32]) == \
        [program.call("f32_result", 1.25, 4)]
    # No result: the entry's effects are the global and the memory.
    assert program.enter("fill", [(I32, 20), (I32, 5)], []) == []
    assert program.call("g") == sum(range(5, 20))
    squares = program.exports["memory"].read(program.store, 1024 + 4 * 5, 1024 + 4 * 20)
    assert list(struct.unpack("<15I", squares)) == [i * i for i in range(5, 20)]


def test_calls_inside_the_loop_go_through_code_slots(program: Program) -> None:
    program.noted.clear()
    expected = program.call("calls", 4)
    seen = list(program.noted)
    program.noted.clear()
    assert program.enter("calls", [(I32, 4), (I32, 0)], [I32]) == [expected]
    assert program.noted == seen == [4, 3, 2, 1, 1]
    # square(4) + 40 + square(3) + 30 + square(2) + 20 + calls(1) + square(1) + 10
    assert expected == 16 + 40 + 9 + 30 + 4 + 20 + (1 + 10) + 1 + 10


def test_a_trap_in_osr_code_has_the_function_in_its_backtrace(program: Program) -> None:
    with pytest.raises(Trap) as info:
        program.enter("divide", [(I32, 3), (I32, 0), (I32, 0)], [I32])
    assert info.value.trap_code == TrapCode.INTEGER_DIVISION_BY_ZERO
    frames = info.value.frames
    assert frames and frames[0].func_name == "divide"
    # The offset is the division's, inside the loop.
    k = program.index("divide")
    division = next(i.offset for i in program.code.module.codes[k].instrs
                    if i.op == op.I32_DIV_U)
    assert frames[0].module_offset == division
    # Stopping at 1: no trap, 1000 // 3 + 1000 // 2 + 1000 // 1.
    assert program.enter("divide", [(I32, 3), (I32, 1), (I32, 0)], [I32]) == \
        [program.call("divide", 3, 1)] == [1833]


def test_a_guard_page_fault_in_osr_code_is_a_trap(program: Program) -> None:
    assert program.enter("walk", [(I32, 28), (I32, 1), (I32, 0)], [I32]) == [42]
    with pytest.raises(Trap) as info:
        program.enter("walk", [(I32, 28), (I32, 3), (I32, 0)], [I32])
    assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    assert info.value.frames and info.value.frames[0].func_name == "walk"


@pytest.mark.parametrize(("name", "words"), [
    ("two", "2 results"),
    ("vector", "local 1 is not an i32"),
    ("reference", "local 1 is not an i32"),
    ("with_param", "takes parameters"),
    ("stacked", "operand stack holds 1 value"),
    ("dead", "unreachable code"),
])
def test_an_ineligible_loop_is_refused_with_a_clear_error(program: Program, name: str,
                                                         words: str) -> None:
    k = program.index(name)
    loop = program.loops(k)[0]
    with pytest.raises(OsrError, match=words):
        program.code.compile_osr(k, loop)
    assert program.code.osr_failed(k, loop) and program.code.osr_entry(k, loop) is None
    # Asked again through the queue: remembered, not compiled again.
    program.code.request_osr(k, loop)
    assert program.code.wait_for_osr(60) and program.code.osr_failed(k, loop)


def test_an_offset_that_is_no_loop_is_refused(program: Program) -> None:
    k = program.index("find")
    block = next(i.offset for i in program.code.module.codes[k].instrs if i.op == op.BLOCK)
    with pytest.raises(OsrError, match="no loop instruction at offset"):
        program.code.compile_osr(k, block)


def test_a_requested_entry_is_compiled_once_in_the_background() -> None:
    program = Program()
    code = program.code
    k = program.index("sum_to")
    loop = program.loops(k)[0]
    assert code.osr_entry(k, loop) is None and not code.osr_failed(k, loop)
    code.request_osr(k, loop)
    code.request_osr(k, loop)
    assert code.wait_for_osr(120)
    entry = code.osr_entry(k, loop)
    assert entry is not None and code.osr_compiles == 1 and not code.osr_errors
    assert call_osr_entry(program.vmctx, entry, [(I32, 100), (I64, 0)], [I64]) == [5050]
    code.request_osr(k, loop)  # published: nothing to do
    assert code.wait_for_osr(60) and code.osr_compiles == 1
    assert code.compile_osr(k, loop) == entry


def test_epoch_and_fuel_checks_run_in_osr_code() -> None:
    epochs = Program(epoch_interruption=True)
    epochs.store.set_epoch_deadline(1)
    epochs.store.engine.increment_epoch()
    with pytest.raises(Trap) as info:
        epochs.enter("spin", [(I32, 0)], [])
    assert info.value.trap_code == TrapCode.INTERRUPT
    fuel = Program(consume_fuel=True)
    fuel.store.set_fuel(10_000)
    with pytest.raises(Trap) as info:
        fuel.enter("spin", [(I32, 0)], [])
    assert info.value.trap_code == TrapCode.OUT_OF_FUEL
    fuel.store.set_fuel(10_000)
    assert fuel.enter("sum_to", [(I32, 10), (I64, 0)], [I64]) == [55]
    assert fuel.store.get_fuel() < 10_000


def test_the_entry_has_its_own_symbol_and_the_function_keeps_its_slot(program: Program
                                                                        ) -> None:
    code = program.code
    k = program.index("i32_result")
    func_index = code.first + k
    tier_before = code.tier_of(func_index)
    assert program.enter("i32_result", [(I32, 1), (I32, 1)], [I32]) == [4]
    assert code.tier_of(func_index) == tier_before  # its slot is not the entry's
    entry = code.osr_entry(k, program.loops(k)[0])
    (compiled,) = [c for c in code._osr_code  # noqa: SLF001 - the test looks inside
                   if c.func_index_at(entry if entry is not None else 0) == func_index]
    (function,) = compiled.functions.values()
    assert function.start == entry
    assert function.symbol == f"wasm_osr_{func_index}_{program.loops(k)[0]}"
    assert math.isfinite(compiled.timings.total) and compiled.timings.llvm > 0


TAIL_CALLS = """
(module
  (func $count (param $n i64) (param $acc i64) (result i64)
    (if (result i64) (i64.eqz (local.get $n))
      (then (local.get $acc))
      (else (return_call $count (i64.sub (local.get $n) (i64.const 1))
                                (i64.add (local.get $acc) (local.get $n))))))
  ;; A tail call out of the loop to a function of the entry's own IR signature
  ;; (vmctx, i64): the entry's LLVM one differs, so no musttail.
  (func $twice (param $n i64) (result i64) (i64.mul (local.get $n) (i64.const 2)))
  (func $run (export "run") (param $n i64) (result i64) (local $acc i64)
    (loop $l
      (local.set $acc (i64.add (local.get $acc) (local.get $n)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br_if $l (i64.gt_u (local.get $n) (i64.const 10))))
    (if (i64.eqz (i64.and (local.get $acc) (i64.const 1)))
      (then (return_call $twice (local.get $acc))))
    (return_call $count (local.get $n) (local.get $acc))))
"""


def test_tail_calls_after_the_loop_return_the_result() -> None:
    store = Store(Engine(Config(lazy_compilation=True)))
    module = Module(store.engine, TAIL_CALLS)
    instance = Instance(store, module, [])
    code = module._prepared.compiled()  # noqa: SLF001
    assert isinstance(code, ModuleCode)
    k = 2
    loop = next(i.offset for i in code.module.codes[k].instrs if i.op == op.LOOP)
    entry = code.compile_osr(k, loop)
    run = instance.exports(store)["run"]
    vmctx = instance._rt.vmctx  # noqa: SLF001
    for n in (20, 21, 1000):
        assert call_osr_entry(vmctx, entry, [(I64, n), (I64, 0)], [I64]) == [run(store, n)]


def test_two_threads_compiling_one_entry_publish_one_address() -> None:
    program = Program()
    k = program.index("nest")
    loop = program.loops(k)[1]
    addresses: list[int] = []
    barrier = threading.Barrier(2)

    def compile_it() -> None:
        barrier.wait()
        addresses.append(program.code.compile_osr(k, loop))

    threads = [threading.Thread(target=compile_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(addresses) == 2 and addresses[0] == addresses[1] == program.code.osr_entry(k, loop)
    assert program.code.module.codes[k].released  # translated, then let go
    assert call_osr_entry(program.vmctx, addresses[0], [(I32, 4), (I32, 0), (I32, 0), (I64, 0)],
                          [I64]) == [program.call("nest", 4)]


# End to end: x64 tier-0 code asks at a hot loop header (x64/function.py's OSR stub,
# ModuleCode.request_loop_tier_up), the entry is compiled in the background, and the
# running frame moves into it.  The host call at iteration 5000 waits until the entry is
# published, so the move happens within the next OSR_RECHECK iterations of that call.
HOT_LOOPS = """
(module
  (import "host" "sync" (func $sync (param i32)))
  (func (export "run") (param $n i32) (param $trap i32) (result i64)
        (local $i i32) (local $j i32) (local $acc i64)
    (loop $outer
      (if (i32.eq (local.get $i) (i32.const 50)) (then (call $sync (local.get $i))))
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $acc (i64.add (local.get $acc)
          (i64.extend_i32_u (i32.xor (local.get $i) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $j) (i32.const 100))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
    (if (local.get $trap) (then unreachable))
    (local.get $acc)))
"""


def _hot_loops_expected(n: int) -> int:
    return sum(i ^ j for i in range(n) for j in range(100))


def _x64_run(monkeypatch: pytest.MonkeyPatch, wat: str) -> tuple[Store, ModuleCode, Any,
                                                                   list[bool]]:
    """``wat``'s export ``run`` on x64 tier-0 code with OSR (threshold 50), its module's
    code, and what its import ``host.sync`` saw: each call waits for the queued OSR
    compiles (True: they ended in time)."""
    if not tier0.supported_host():
        pytest.skip("the x86-64 tier 0 is for x86-64 Linux")
    monkeypatch.setenv("PYJITWASM_TIER0_X64", "1")
    monkeypatch.setenv("PYJITWASM_TIER0_X64_NESTED_LOOPS", "1")
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "50")
    monkeypatch.delenv("PYJITWASM_TIERS", raising=False)
    monkeypatch.delenv("PYJITWASM_OSR", raising=False)
    store = Store(Engine(Config(lazy_compilation=True)))
    module = Module(store.engine, wat)
    code = module._prepared.compiled()  # noqa: SLF001 - the test looks inside
    assert isinstance(code, ModuleCode)
    synced: list[bool] = []
    sync = Func(store, FuncType([ValType.i32()], []),
                lambda i: synced.append(code.wait_for_osr(120)))
    return store, code, Instance(store, module, [sync]).exports(store)["run"], synced


def test_a_hot_x64_loop_moves_into_its_osr_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    store, code, run, synced = _x64_run(monkeypatch, HOT_LOOPS)
    batches_before = tier0.STATS.batches
    assert run(store, 200, 0) == _hot_loops_expected(200)
    assert tier0.STATS.batches == batches_before + 1  # the first call ran x64 code
    # One entry per loop that asked (the inner one, the outer one too if its header
    # was where a count ran out first).
    assert synced == [True] and code.osr_compiles >= 1 and not code.osr_errors
    entries = code._osr_entries  # noqa: SLF001 - the test looks inside
    assert {k for k, _ in entries} == {0} and len(entries) == code.osr_compiles
    # Each loop that asked has its own slot of the function's, holding its entry.
    slots = [code.osr_slot(0, slot)[0] for slot in range(OSR_SLOTS_PER_FUNCTION)]
    assert set(entries.values()) <= set(slots)
    # The next call enters tier 1 (the tier-up); the x64 frame's move is seen through a
    # trap after the loop, on a fresh module: it traps in the OSR entry's code.
    store, fresh, run, synced = _x64_run(monkeypatch, HOT_LOOPS)
    with pytest.raises(Trap) as info:
        run(store, 200, 1)
    assert synced == [True] and info.value.trap_code == TrapCode.UNREACHABLE
    # run (after the import), once: the x64 frame that entered the OSR code is not
    # shown again below it.
    assert [frame.func_index for frame in info.value.frames] == [1]
    pc = last_trap_pcs()[0]
    # The innermost frame ran an OSR entry.
    assert any(c.func_index_at(pc) == 1 for c in fresh._osr_code)  # noqa: SLF001


# A loop that runs once takes the OSR slot first (its count runs out there); the nest
# after it must still get its own entry (``request_loop_tier_up``'s policy).
INIT_THEN_NEST = """
(module
  (import "host" "sync" (func $sync (param i32)))
  (memory 1)
  (func (export "run") (param $n i32) (result i64) (local $i i32) (local $j i32) (local $acc i64)
    (loop $init
      (i32.store (i32.shl (local.get $i) (i32.const 2)) (i32.mul (local.get $i) (i32.const 7)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $init (i32.lt_u (local.get $i) (i32.const 3000))))
    (local.set $i (i32.const 0))
    (loop $outer
      (if (i32.eq (local.get $i) (i32.const 100)) (then (call $sync (local.get $i))))
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $acc (i64.add (local.get $acc) (i64.load32_u
          (i32.shl (i32.and (i32.add (local.get $i) (local.get $j)) (i32.const 2047))
                   (i32.const 2)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $j) (i32.const 64))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
    (if (i64.eqz (local.get $acc)) (then (return (i64.const 0))))
    unreachable))
"""


def test_a_loop_that_ran_once_does_not_keep_the_nest_from_its_entry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    store, code, run, synced = _x64_run(monkeypatch, INIT_THEN_NEST)
    with pytest.raises(Trap):
        run(store, 400)  # traps after the nest: where it traps tells where it ran
    assert synced == [True]
    init, outer, inner = (i.offset for i in code.module.codes[0].instrs if i.op == op.LOOP)
    assert (0, init) in code._osr_entries  # noqa: SLF001 - it asked first
    pc = last_trap_pcs()[0]
    (running,) = [c for c in code._osr_code if c.func_index_at(pc) == 1]  # noqa: SLF001
    (function,) = running.functions.values()
    assert function.symbol in (f"wasm_osr_1_{outer}", f"wasm_osr_1_{inner}")
