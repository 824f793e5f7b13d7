"""Tier-up counters in tier-0 code: where hot functions are noticed.

Tier-0 code (``runtime/jit/tiering.py`` has the policy) counts, per defined function, its
entries and its loop iterations *down* in an ``i32`` of the module's counter table (the
vmctx field ``tier_counters``, see ``vmctx``).  When the count goes negative the code
makes a call, out of line, to the ``tier_up`` libcall with the function's number; the
runtime queues the function for tier 1 and parks the counter far away, and the code
parks its own copy, so the call is made about once per function.

At entry the counter is loaded, decremented and stored back, and the value is kept in an
SSA variable; each loop header decrements the variable and stores it to the counter
without loading it again.  So a loop iteration costs a register decrement, a store and a
never-taken branch: the loop-carried chain stays in a register (a load of the counter
in every iteration would chain each iteration to the last one's store, ~5 cycles of
store forwarding, which doubled tight loops).  The counts that are lost this way (a
recursive call's counts overwritten by its caller's copy, two threads racing) only
delay a tier-up.

Two hooks, each a single call in the translator: :func:`count_function_entry` after the
entry block is set up and :func:`count_loop_iteration` at the top of every loop header
(a loop's header runs once per iteration, plus once on entry).  Both do nothing unless
the function is translated with counters (``FunctionState.tier_counters`` is set by
:func:`enable_counters`): tier-1 code, and every eagerly compiled function, has none.
"""

from __future__ import annotations

from pyjitwasm.ir.function import GlobalValueData, Value
from pyjitwasm.ir.immediates import TRUSTED
from pyjitwasm.ir.types import I32, POINTER
from pyjitwasm.translate.env import READONLY
from pyjitwasm.translate.libcalls import TIER_UP
from pyjitwasm.translate.state import FunctionState, TierCounter

COUNTER_SIZE = 4
"""Bytes per counter (``i32``)."""
COUNTER_PARKED = 0x7FFFFFFF
"""A counter's value once its function is queued for tier 1 (it never runs out again)."""

# On-stack replacement (x64 tier 0 only; runtime/jit/module_code.py has the policy).
# After the counters, the same table holds ``OSR_SLOTS_PER_FUNCTION`` 16-byte OSR slots
# per defined function, one for each of its loops that may move (x64 numbers them in
# order, modulo the count): the address of the tier-1 entry at that loop's header
# (``OSR_PENDING`` while it is being compiled, ``OSR_NEVER`` when there will be none),
# then the tag of the loop it is for (the ``loop`` instruction's wasm offset + 1; 0: no
# loop asked yet).  Tier-0 code reads its slot on the slow path of a loop-header
# count, without a call.  A slot per loop, not per function: two hot loops of one
# function (quicksort's partition) would otherwise take a shared slot from each other
# on every look, each time a call into the runtime.
OSR_SLOT_SIZE = 16
OSR_SLOTS_PER_FUNCTION = 4
OSR_PENDING = 0
OSR_NEVER = 1
OSR_ELSEWHERE = 2
"""What the runtime answers (never a slot's value) when this loop's entry is pending
while the slot is another loop's: the loop looks again only after a long count."""
OSR_RECHECK = 1000
"""Loop iterations between two looks at a pending OSR slot of the loop's own."""
OSR_RECHECK_ASKED = 50_000
"""Loop iterations before the next look after ``OSR_ELSEWHERE`` (each such look is a
call into the runtime)."""


def osr_table_offset(num_defined: int) -> int:
    """Byte offset of the OSR slots in the counter table of ``num_defined`` functions."""
    return (COUNTER_SIZE * num_defined + 7) & ~7


def osr_slot_offset(num_defined: int, defined_index: int, slot: int) -> int:
    """Byte offset of OSR slot ``slot`` of defined function number ``defined_index``."""
    return osr_table_offset(num_defined) + OSR_SLOT_SIZE * (
        OSR_SLOTS_PER_FUNCTION * defined_index + slot)


def counter_table_bytes(num_defined: int) -> int:
    """Size of the whole table: counters, then OSR slots."""
    return osr_table_offset(num_defined) + OSR_SLOT_SIZE * OSR_SLOTS_PER_FUNCTION * num_defined


def enable_counters(t: FunctionState) -> None:
    """Make ``t``'s function count for tier-up (call before the body is translated)."""
    if t.tier_counters is None:
        table = t.func.create_global_value(
            GlobalValueData("load", POINTER, t.env.vmctx_gv, t.env.layout.tier_counters,
                            READONLY))
        t.tier_counters = TierCounter(table, t.fb.declare_var(I32))


def count_function_entry(t: FunctionState) -> None:
    """Hook: the function was entered (the current block is the entry block)."""
    if t.tier_counters is not None:
        ins = t.ins()
        table = ins.global_value(t.tier_counters.table)
        count = ins.load(I32, TRUSTED, table, _offset(t))
        _count_down(t, count, table)


def count_loop_iteration(t: FunctionState) -> None:
    """Hook: at the top of a loop header (the current block)."""
    if t.tier_counters is not None:
        table = t.ins().global_value(t.tier_counters.table)
        _count_down(t, t.fb.use_var(t.tier_counters.left), table)


def _offset(t: FunctionState) -> int:
    return COUNTER_SIZE * (t.func_index - t.env.info.num_imported_funcs)


def _count_down(t: FunctionState, count: Value, table: Value) -> None:
    counter = t.tier_counters
    assert counter is not None
    fb = t.fb
    ins = t.ins()
    left = ins.iadd_imm(count, -1)
    ins.store(TRUSTED, left, table, _offset(t))
    fb.def_var(counter.left, left)
    hot = ins.icmp_imm("slt", left, 0)
    tier_up, resume = fb.create_block(), fb.create_block()
    ins.brif(hot, tier_up, [], resume, [])
    fb.seal_block(tier_up)
    fb.switch_to_block(tier_up)
    t.libcall(TIER_UP, [t.const64(_offset(t) // COUNTER_SIZE)])
    fb.def_var(counter.left, t.ins().iconst(I32, COUNTER_PARKED))
    t.ins().jump(resume)
    fb.seal_block(resume)
    fb.switch_to_block(resume)


__all__ = ["COUNTER_PARKED", "COUNTER_SIZE", "OSR_ELSEWHERE", "OSR_NEVER", "OSR_PENDING",
           "OSR_RECHECK", "OSR_RECHECK_ASKED", "OSR_SLOTS_PER_FUNCTION", "OSR_SLOT_SIZE",
           "count_function_entry", "count_loop_iteration", "counter_table_bytes",
           "enable_counters", "osr_slot_offset", "osr_table_offset"]
