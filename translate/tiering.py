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
from pyjitwasm.translate.tier_table import COUNTER_PARKED, COUNTER_SIZE


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


__all__ = ["count_function_entry", "count_loop_iteration", "enable_counters"]
