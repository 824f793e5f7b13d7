"""Interruption checks in compiled code: epoch deadlines and fuel.

Emitted only when the module's ``InterruptChecks`` ask for them (``ModuleInfo.checks``);
with both off nothing here runs and the IR is unchanged. The translator calls four
hooks: :func:`at_function_entry` once the body starts, :func:`at_loop_header` at the top
of every loop header block (so every back-edge passes it), when fuel is metered
:func:`charge_fuel` before each reachable instruction, and :func:`finish` once the
function is built. The checks' slow paths call
libcalls declared ``cold``, so the common path stays a straight line.

Epochs (as Wasmtime's, through a poll page): the vmctx header word ``epoch_poll``
(``layout.epoch_poll_ptr``) holds the address of the store's epoch poll page, whose word
0 is the store's copy of the engine's epoch; the store's limits record holds the
deadline. A function loads both addresses' values it needs once, at entry: the page's
address, and the deadline into a variable. A *compare* (at function entry, and at the
header of a loop with a loop inside) reads the epoch from the page and calls the
``epoch_deadline_reached`` libcall when ``epoch >= deadline``; the libcall confirms with
the engine's own counter and the code traps with ``interrupt``, or the deadline moved
and is read again. A *poll* (at the header of an innermost loop) is only the load, its
value unused. Both loads are ``atomic`` (relaxed): the copy changes while the loop runs,
and a plain load would let LLVM carry the value around the loop, or drop an unused one
(a volatile load would do too, but also keeps every heap access in order around it).
The page works because the engine protects it once the store's deadline is reached:
then any load from it faults, and the fault handler traps with ``interrupt``, or, if the
deadline has moved meanwhile, unprotects the page and runs the load again
(``runtime/jit/epoch_poll.py``, native.c). So a poll has a compare's meaning without
the compare, the branch and the deadline's register in the loop. A deadline the host
changes during a call the function makes is seen by the next poll (the page), or at the
next slow path or function entry.

An innermost loop that passes its header at most ``UNCHECKED_LOOP_TRIPS`` (5000) times
per entry has no epoch check of its own (:func:`finish`, once the function is built;
``loop_trips`` recognizes the counted loops with constant bounds, as V8 drops the stack
check of such loops): such a loop ends on its own, and the check of the loop around it,
or of the function entry, comes before and after it. Every run that does not end still
passes an epoch check at least every 5000 passes of loop-free code (calls check at the
callee's entry). In the hot loops of bench/ that is where the cost was (a load, a
compare and a branch per pass of a loop of a few instructions); ``docs/jit-design.md``
§10 has the measurements and what else was tried.

Fuel: the limits record holds ``fuel_consumed``, the negated fuel left (Wasmtime's
encoding: >= 0 means none left); a function keeps it in a variable. Each instruction's
cost (``wasm/fuel.py``: 1, except the instructions that generate no code) is counted
during translation and added to the variable before every instruction that may leave
the straight-line code (branches, ``if``/``else``/``end``, calls, returns): about once
per basic block. The variable is stored back before calls and before leaving the
function, and read again after a call, so callees and host functions see the exact
count; a trap other than running out of fuel may leave the stored count short of the
fuel the trapping function used since its last call. A check compares the variable with
0 and calls ``out_of_fuel``. The interpreter charges at the same points
(``interp/metering.py``), so both engines consume the same fuel.
"""

from __future__ import annotations

from pyjitwasm.ir.entities import Inst
from pyjitwasm.ir.function import Block, InstResult, Value
from pyjitwasm.ir.immediates import TRUSTED, MemFlags
from pyjitwasm.ir.instructions import Brif, Jump
from pyjitwasm.ir.types import I64
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate import loop_trips
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.env import READONLY
from pyjitwasm.translate.state import FunctionState, LoopEpochCheck
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.fuel import CHARGE_BEFORE, FREE_INSTRUCTIONS
from pyjitwasm.wasm.module import Instr

EPOCH_LOAD = MemFlags(notrap=True, aligned=True, atomic=True)
"""The loads from the poll page: ``atomic``, so each check reads it again. (``notrap``:
its fault is the native handler's, by address, not a wasm memory access.)"""

UNCHECKED_LOOP_TRIPS = 5000
"""Innermost loops that pass their header at most this often per entry have no epoch
check of their own (``finish``); V8's limit for dropping a loop's stack check."""

_CALLS = frozenset({op.CALL, op.CALL_INDIRECT})
_TAIL_CALLS = frozenset({op.RETURN_CALL, op.RETURN_CALL_INDIRECT})


def charge_fuel(t: FunctionState, instr: Instr) -> None:
    """Count ``instr``'s fuel; before an instruction of ``CHARGE_BEFORE`` add everything
    counted (``instr`` included) to the fuel variable, and store it for a callee or the
    function's caller to see."""
    state = t.interrupt_vars
    code = instr.op
    if code not in FREE_INSTRUCTIONS:
        state.fuel_pending += 1
    if code not in CHARGE_BEFORE:
        return
    _flush_fuel(t)
    if code in _CALLS:
        _store_fuel(t)
        state.fuel_stale = True  # the callee consumes fuel too
    elif code in _TAIL_CALLS or code == op.UNREACHABLE or _leaves_function(t, instr):
        _store_fuel(t)


def at_function_entry(t: FunctionState) -> None:
    """The checks of a function's entry."""
    checks = t.env.info.checks
    state = t.interrupt_vars
    if checks.fuel:
        state.fuel = t.fb.declare_var(I64)
        t.fb.def_var(state.fuel, _load_fuel(t))
    if checks.epoch:
        state.epoch_deadline = t.fb.declare_var(I64)
        t.fb.def_var(state.epoch_deadline, _load_deadline(t))
        # Once, in the entry block: the short LLVM pipeline (opt level 1) has no LICM.
        state.epoch_poll_page = t.ins().load(I64, READONLY, t.vmctx,
                                             t.env.layout.epoch_poll_ptr)
    _checks(t)


def at_loop_header(t: FunctionState) -> None:
    """The checks at the top of a loop header block (every back-edge reaches them): for
    epochs both a poll and a compare, of which ``finish`` keeps one (or none)."""
    poll = _epoch_poll(t) if t.env.info.checks.epoch else None
    check = _checks(t)
    if check is not None:
        assert poll is not None
        header = t.frames[-1].dest
        parent = next((f.dest for f in reversed(t.frames[:-1]) if f.kind == "loop"), None)
        branch, slow = check
        t.interrupt_vars.loop_checks.append(
            LoopEpochCheck(header, parent, branch, slow, poll))


def finish(t: FunctionState) -> None:
    """Once the function is built, choose each loop's epoch check. An innermost loop
    polls the store's poll page (one load: its compare goes), unless it passes its
    header at most ``UNCHECKED_LOOP_TRIPS`` times per entry (a counted loop with
    constant bounds, ``loop_trips``), which keeps no check at all: its enclosing loop,
    or the function entry, checks before and after, so every unbounded run still meets
    a check at least once per ``UNCHECKED_LOOP_TRIPS`` passes of a loop-free body. A
    loop with a loop inside keeps the compare (its poll goes): polls there cost sieve
    +26% where compares cost nothing measurable (docs/jit-design.md §10)."""
    loops = t.interrupt_vars.loop_checks
    if not loops:
        return
    func = t.func
    innermost = loop_trips.innermost((c.header, c.parent) for c in loops)
    for check in loops:
        if check.header not in innermost:
            _remove_chain(t, check.poll, 1)
            continue
        _remove_compare(t, check)
        if loop_trips.trip_bound(func, check.header, UNCHECKED_LOOP_TRIPS) is not None:
            _remove_chain(t, check.poll, 1)


def _remove_compare(t: FunctionState, check: LoopEpochCheck) -> None:
    """Remove a loop's compare: its branch, slow block, and the loads feeding it."""
    func = t.func
    dfg = func.dfg
    branch = dfg.insts[check.branch]
    assert isinstance(branch, Brif) and branch.then_dest.block == check.slow
    dfg.replace(check.branch, Jump("jump", branch.else_dest))
    func.layout.remove_block(check.slow)
    # The comparison and the loads feeding it: LLVM keeps an unused atomic load.
    _remove_chain(t, branch.arg, 2)  # icmp <- atomic load of the epoch


def _remove_chain(t: FunctionState, value: Value, count: int) -> None:
    """Remove the instruction defining ``value``, the one defining its first argument,
    and so on: ``count`` instructions, each used only by the next."""
    func = t.func
    dfg = func.dfg
    for _ in range(count):
        definition = dfg.value_def(value)
        assert isinstance(definition, InstResult)
        data = dfg.insts[definition.inst]
        func.layout.remove_inst(definition.inst)
        value = data.arguments()[0]


def _checks(t: FunctionState) -> tuple[Inst, Block] | None:
    """The checks the module asks for; the epoch check's (branch, slow block)."""
    checks = t.env.info.checks
    if checks.fuel:
        _flush_fuel(t)
        _fuel_check(t)
    if checks.epoch:
        return _epoch_check(t)
    return None


def _leaves_function(t: FunctionState, instr: Instr) -> bool:
    """Whether ``instr`` (a return, the body's ``end``, or a branch to the body's label)
    may return from the function."""
    outermost = len(t.frames) - 1
    if instr.op == op.RETURN:
        return True
    if instr.op == op.END:
        return outermost == 0
    if instr.op in (op.BR, op.BR_IF):
        return bool(instr.imm == outermost)
    if instr.op == op.BR_TABLE:
        depths, default = instr.imm
        return default == outermost or outermost in depths
    return False


# Fuel ---------------------------------------------------------------------------------


def _limits(t: FunctionState) -> Value:
    return t.ins().load(I64, READONLY, t.vmctx, vm.RUNTIME_LIMITS_OFFSET)


def _load_fuel(t: FunctionState) -> Value:
    return t.ins().load(I64, TRUSTED, _limits(t), vm.LIMITS_FUEL_CONSUMED)


def _fuel_var(t: FunctionState) -> Value:
    state = t.interrupt_vars
    assert state.fuel is not None  # declared at function entry
    if state.fuel_stale:
        t.fb.def_var(state.fuel, _load_fuel(t))
        state.fuel_stale = False
    return t.fb.use_var(state.fuel)


def _flush_fuel(t: FunctionState) -> None:
    """Make the fuel variable current: the stored count after a call, plus the fuel
    counted since the last flush."""
    state = t.interrupt_vars
    if not state.fuel_pending and not state.fuel_stale:
        return
    fuel = _fuel_var(t)
    if state.fuel_pending:
        assert state.fuel is not None
        t.fb.def_var(state.fuel, t.ins().iadd_imm(fuel, state.fuel_pending))
        state.fuel_pending = 0


def _store_fuel(t: FunctionState) -> None:
    t.ins().store(TRUSTED, _fuel_var(t), _limits(t), vm.LIMITS_FUEL_CONSUMED)


def _fuel_check(t: FunctionState) -> None:
    fuel = _fuel_var(t)
    _, _, resume = _call_when(t, t.ins().icmp_imm("sge", fuel, 0), lc.OUT_OF_FUEL, fuel)
    # Not trapped: the host added fuel meanwhile.
    t.interrupt_vars.fuel_stale = True
    _fuel_var(t)
    _resume(t, resume)


# Epochs -------------------------------------------------------------------------------


def _load_deadline(t: FunctionState) -> Value:
    return t.ins().load(I64, TRUSTED, _limits(t), vm.LIMITS_EPOCH_DEADLINE)


def _epoch_check(t: FunctionState) -> tuple[Inst, Block]:
    ins = t.ins()
    epoch = ins.load(I64, EPOCH_LOAD, _poll_page(t), 0)
    deadline_var = t.interrupt_vars.epoch_deadline
    assert deadline_var is not None  # declared at function entry
    deadline = t.fb.use_var(deadline_var)
    branch, slow, resume = _call_when(t, ins.icmp("uge", epoch, deadline),
                                      lc.EPOCH_DEADLINE_REACHED)
    # Not trapped: the deadline has moved on; read it again.
    t.fb.def_var(deadline_var, _load_deadline(t))
    _resume(t, resume)
    return branch, slow


def _poll_page(t: FunctionState) -> Value:
    page = t.interrupt_vars.epoch_poll_page
    assert page is not None  # loaded at function entry
    return page


def _epoch_poll(t: FunctionState) -> Value:
    """A load from the store's epoch poll page, which faults once the deadline is
    reached. Its result is unused: the load is ``atomic`` so LLVM keeps it, and reads
    the page on every pass."""
    return t.ins().load(I64, EPOCH_LOAD, _poll_page(t), 0)


# Slow paths ---------------------------------------------------------------------------


def _call_when(t: FunctionState, cond: Value, libcall: lc.Libcall,
               fuel: Value | None = None) -> tuple[Inst, Block, Block]:
    """When ``cond`` holds, go to a new (slow) block that calls ``libcall``, which traps
    with its code when it confirms (storing ``fuel`` first, for it to read); returns the
    branch, the slow block and the block after the check, to which ``_resume`` leaves
    the slow block."""
    fb = t.fb
    slow = fb.create_block()
    resume = fb.create_block()
    branch = t.ins().brif(cond, slow, [], resume, [])
    fb.seal_block(slow)
    fb.switch_to_block(slow)
    if fuel is not None:
        t.ins().store(TRUSTED, fuel, _limits(t), vm.LIMITS_FUEL_CONSUMED)
    t.libcall(libcall, [])
    return branch, slow, resume


def _resume(t: FunctionState, resume: Block) -> None:
    """Leave the slow block for ``resume``, the block after the check."""
    fb = t.fb
    t.ins().jump(resume, [])
    fb.seal_block(resume)
    fb.switch_to_block(resume)
