"""Tier-up counters in tier-0 code: where hot functions are noticed.

Tier-0 code (``runtime/jit/tiering.py`` has the policy) counts, per defined function, its
entries and its loop iterations *down* in an ``i32`` of the module's counter table (the
vmctx field ``tier_counters``, see ``vmctx``).  When the count goes negative the code
makes a call, out of line, to the ``tier_up`` libcall with the function's number; the
runtime queues the function for tier 1 and sets the counter far away, so the call is
made about once per function.  Counting down and testing the sign costs one load, one
subtract, one store and one never-taken branch; losing a count when two threads race on
a counter only delays tier-up.

Two hooks, each a single call in the translator: :func:`count_function_entry` after the
entry block is set up and :func:`count_loop_iteration` at the top of every loop header
(a loop's header runs once per iteration, plus once on entry).  Both do nothing unless
the function is translated with counters (``FunctionState.tier_counters`` is set by
:func:`enable_counters`): tier-1 code, and every eagerly compiled function, has none.
"""

from __future__ import annotations

from pyjitwasm.ir.function import GlobalValueData
from pyjitwasm.ir.immediates import TRUSTED
from pyjitwasm.ir.types import I32, POINTER
from pyjitwasm.translate.env import READONLY
from pyjitwasm.translate.libcalls import TIER_UP
from pyjitwasm.translate.state import FunctionState

COUNTER_SIZE = 4
"""Bytes per counter (``i32``)."""


def enable_counters(t: FunctionState) -> None:
    """Make ``t``'s function count for tier-up (call before the body is translated)."""
    if t.tier_counters is None:
        t.tier_counters = t.func.create_global_value(
            GlobalValueData("load", POINTER, t.env.vmctx_gv, t.env.layout.tier_counters,
                            READONLY))


def count_function_entry(t: FunctionState) -> None:
    """Hook: the function was entered."""
    if t.tier_counters is not None:
        _count_down(t)


def count_loop_iteration(t: FunctionState) -> None:
    """Hook: at the top of a loop header (the current block)."""
    if t.tier_counters is not None:
        _count_down(t)


def _count_down(t: FunctionState) -> None:
    assert t.tier_counters is not None
    defined = t.func_index - t.module.num_imported_funcs
    ins = t.ins()
    table = ins.global_value(t.tier_counters)
    left = ins.iadd_imm(ins.load(I32, TRUSTED, table, COUNTER_SIZE * defined), -1)
    ins.store(TRUSTED, left, table, COUNTER_SIZE * defined)
    hot = ins.icmp_imm("slt", left, 0)
    fb = t.fb
    tier_up, resume = fb.create_block(), fb.create_block()
    ins.brif(hot, tier_up, [], resume, [])
    fb.seal_block(tier_up)
    fb.switch_to_block(tier_up)
    t.libcall(TIER_UP, [t.const64(defined)])
    t.ins().jump(resume)
    fb.seal_block(resume)
    fb.switch_to_block(resume)


__all__ = ["COUNTER_SIZE", "count_function_entry", "count_loop_iteration", "enable_counters"]
