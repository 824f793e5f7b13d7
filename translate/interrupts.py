"""Interruption checks in compiled code: epoch deadlines and fuel.

Emitted only when the module's ``InterruptChecks`` ask for them (``ModuleInfo.checks``);
with both off nothing here runs and the IR is unchanged. The translator calls three
hooks: :func:`at_function_entry` once the body starts, :func:`at_loop_header` at the top
of every loop header block (so every back-edge passes it), and, when fuel is metered,
:func:`charge_fuel` before each reachable instruction.

Epochs (as Wasmtime's): the vmctx field ``epoch_ptr`` points at the engine's epoch
counter, the store's limits record holds the deadline. A check loads both and calls the
``epoch_deadline_reached`` libcall when ``epoch >= deadline``; the libcall confirms and
the code traps with ``interrupt``. The epoch load is a volatile access (a load without
``notrap``): another thread changes the counter while the loop runs, and a plain load
would let LLVM carry the value around the loop instead of reading it each time.

Fuel: the limits record holds ``fuel_consumed``, the negated fuel left (Wasmtime's
encoding: >= 0 means none left). Each instruction's cost (``wasm/fuel.py``: 1, except
the instructions that generate no code) is added to a count kept during translation, and
the count is added to ``fuel_consumed`` in the compiled code before every instruction
that may leave the straight-line code (branches, ``if``/``else``/``end``, calls,
returns): so about once per basic block, and always before a callee or the host can
look at the fuel. A check compares
``fuel_consumed`` with 0 and calls ``out_of_fuel``. The interpreter charges at the same
points (``interp/metering.py``), so both engines consume the same fuel.
"""

from __future__ import annotations

from pyjitwasm.ir.function import Block, Value
from pyjitwasm.ir.immediates import TRUSTED, MemFlags
from pyjitwasm.ir.types import I64
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.env import READONLY
from pyjitwasm.translate.state import FunctionState
from pyjitwasm.wasm.fuel import CHARGE_BEFORE, FREE_INSTRUCTIONS
from pyjitwasm.wasm.module import Instr

EPOCH_LOAD = MemFlags(aligned=True)
"""The epoch counter's load: not ``notrap``, which the back end turns into a volatile
load, read again at every check."""

def charge_fuel(t: FunctionState, instr: Instr) -> None:
    """Count ``instr``'s fuel; before an instruction of ``CHARGE_BEFORE`` emit the add of
    everything counted (``instr`` included) to the store's consumed fuel."""
    if instr.op not in FREE_INSTRUCTIONS:
        t.fuel_pending += 1
    if instr.op in CHARGE_BEFORE:
        _flush_fuel(t)


def at_function_entry(t: FunctionState) -> None:
    """The checks of a function's entry."""
    if t.env.info.checks.epoch:
        # Kept in a variable, as Wasmtime does: a check then compares two registers. A
        # deadline the host moves while this function runs is seen after a slow path.
        t.epoch_deadline = t.fb.declare_var(I64)
        t.fb.def_var(t.epoch_deadline, _load_deadline(t))
    _checks(t)


def at_loop_header(t: FunctionState) -> None:
    """The checks at the top of a loop header block (every back-edge reaches them)."""
    _checks(t)


def _checks(t: FunctionState) -> None:
    checks = t.env.info.checks
    if checks.fuel:
        _flush_fuel(t)
        _fuel_check(t)
    if checks.epoch:
        _epoch_check(t)


def _flush_fuel(t: FunctionState) -> None:
    if not t.fuel_pending:
        return
    ins = t.ins()
    limits = ins.load(I64, READONLY, t.vmctx, vm.RUNTIME_LIMITS_OFFSET)
    consumed = ins.load(I64, TRUSTED, limits, vm.LIMITS_FUEL_CONSUMED)
    ins.store(TRUSTED, ins.iadd_imm(consumed, t.fuel_pending), limits, vm.LIMITS_FUEL_CONSUMED)
    t.fuel_pending = 0


def _fuel_check(t: FunctionState) -> None:
    ins = t.ins()
    limits = ins.load(I64, READONLY, t.vmctx, vm.RUNTIME_LIMITS_OFFSET)
    consumed = ins.load(I64, TRUSTED, limits, vm.LIMITS_FUEL_CONSUMED)
    _resume(t, _call_when(t, ins.icmp_imm("sge", consumed, 0), lc.OUT_OF_FUEL))


def _load_deadline(t: FunctionState) -> Value:
    ins = t.ins()
    limits = ins.load(I64, READONLY, t.vmctx, vm.RUNTIME_LIMITS_OFFSET)
    return ins.load(I64, TRUSTED, limits, vm.LIMITS_EPOCH_DEADLINE)


def _epoch_check(t: FunctionState) -> None:
    ins = t.ins()
    epoch_ptr = ins.load(I64, READONLY, t.vmctx, t.env.layout.epoch_ptr)
    epoch = ins.load(I64, EPOCH_LOAD, epoch_ptr, 0)
    deadline_var = t.epoch_deadline
    assert deadline_var is not None  # declared at function entry
    deadline = t.fb.use_var(deadline_var)
    resume = _call_when(t, ins.icmp("uge", epoch, deadline), lc.EPOCH_DEADLINE_REACHED)
    # Not trapped: the deadline has moved on; read it again.
    t.fb.def_var(deadline_var, _load_deadline(t))
    _resume(t, resume)


def _call_when(t: FunctionState, cond: Value, libcall: lc.Libcall) -> Block:
    """When ``cond`` holds, go to a new (slow) block that calls ``libcall``, which traps
    with its code when it confirms; returns the block after the check, to which
    ``_resume`` leaves the slow block."""
    fb = t.fb
    slow = fb.create_block()
    resume = fb.create_block()
    t.ins().brif(cond, slow, [], resume, [])
    fb.seal_block(slow)
    fb.switch_to_block(slow)
    t.libcall(libcall, [])
    return resume


def _resume(t: FunctionState, resume: Block) -> None:
    """Leave the slow block for ``resume``, the block after the check."""
    fb = t.fb
    t.ins().jump(resume, [])
    fb.seal_block(resume)
    fb.switch_to_block(resume)
