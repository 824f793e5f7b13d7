"""Static branch weights for branches that test a SIMD reduction (``bitmask``,
``any_true``, ``all_true``).

Vector code tests a whole block of lanes at once and branches to scalar code only when
some lane needs it: a search loop computes ``i8x16.bitmask(i8x16.eq(block, needle))``
and walks the set bits with ``while (mask)``; a validator computes ``all_true`` of a
range check and leaves the fast loop when it fails. The vector test is a filter, and
the filter passing nothing ("no lane matched", "every lane is fine") is the common case
it is written for.

LLVM does not know this. Without weights, its static prediction sees ``mask == 0`` as
a comparison with zero (predicted false) and the scalar ``while (mask)`` loop as a loop
(assumed to iterate many times), so the rarely run scalar loops come out more frequent
than the vector loop around them, and the register allocator spills the vector loop's
counters to make room for them. A branch on a reduction here gets the weights clang
gives ``__builtin_expect`` (2000 : 1, LLVM's ``LowerExpectIntrinsic``), as if the
program had written ``if (__builtin_expect(mask != 0, 0))``; every other branch keeps
LLVM's own prediction, and so does a loop's back edge on a reduction (``do { ... } while
(any_true(active))`` iterates while lanes are active: there the reduction is the loop's
condition, not a filter).
"""

from __future__ import annotations

from pyjitwasm.ir.entities import Inst, Value
from pyjitwasm.ir.function import DataFlowGraph, Function
from pyjitwasm.ir.instructions import Brif, IntCompareImm, Unary

LIKELY_WEIGHT = 2000
"""The taken weight of an expected edge (and 1 for the other): ``__builtin_expect``'s."""

# Reduction opcode -> whether its result is expected to be nonzero.
_REDUCTION_EXPECTED_NONZERO = {"vhigh_bits": False, "vany_true": False, "vall_true": True}

# Opcodes that keep "nonzero" meaning "nonzero" between a reduction and the branch.
_TRANSPARENT = {"uextend", "sextend", "ireduce"}

# How far the condition is followed back (eqz of eqz of a widened reduction is 4 steps).
_MAX_STEPS = 8


def expected_condition(dfg: DataFlowGraph, cond: Value) -> bool | None:
    """Whether the integer branch condition ``cond`` is expected to be nonzero, when it
    is a SIMD reduction seen through widenings and comparisons with zero; ``None`` for
    every other condition (no opinion)."""
    negated = False
    v = cond
    for _ in range(_MAX_STEPS):
        data = dfg.defining_inst(v)
        if data is None:
            return None
        if data.opcode in _REDUCTION_EXPECTED_NONZERO:
            return _REDUCTION_EXPECTED_NONZERO[data.opcode] != negated
        if isinstance(data, Unary) and data.opcode in _TRANSPARENT:
            v = data.arg
        elif (isinstance(data, IntCompareImm) and data.imm == 0
              and data.cond in ("eq", "ne")):
            negated ^= data.cond == "eq"
            v = data.arg
        else:
            return None
    return None


def _is_back_edge(func: Function, inst: Inst, data: Brif) -> bool:
    """Whether a target of the ``brif`` ``inst`` is a loop header it closes a loop of:
    the translator lays blocks out in wasm's order, where the only branches to an
    earlier block (or to its own) are a ``loop``'s back edges."""
    blocks = func.layout.blocks
    here = blocks.index(func.layout.inst_block[inst])
    return any(blocks.index(call.block) <= here for call in data.block_calls())


def reduction_branch_weights(func: Function, inst: Inst, data: Brif) -> str:
    """The ``, !prof ...`` suffix of the ``br i1`` that lowers ``brif`` ``inst`` (then
    edge first) when its condition tests a SIMD reduction and it is no loop's back edge
    (a loop that runs while ``any_true`` holds, say, is left to LLVM's loop heuristics),
    else ``""``."""
    expected = expected_condition(func.dfg, data.arg)
    if expected is None or _is_back_edge(func, inst, data):
        return ""
    then_weight, else_weight = (LIKELY_WEIGHT, 1) if expected else (1, LIKELY_WEIGHT)
    return f', !prof !{{!"branch_weights", i32 {then_weight}, i32 {else_weight}}}'
