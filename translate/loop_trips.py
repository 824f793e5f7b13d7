"""A loop's iteration bound from its IR, when it is a counted loop with constants.

The epoch checks (``translate/interrupts.py``) skip innermost loops that can only run a
few iterations, as V8 drops the stack checks of such loops: their enclosing loop or
the function entry checks instead, at most ``bound`` passes of straight-line code later.

The shape recognized is the one compilers emit for ``for (i = S; i < K; i += C)`` once
in SSA form: the loop header has exactly two predecessors, the entry edge passing the
constant ``S`` as header parameter ``i`` and the only back-edge, a ``brif`` that goes
back to the header when a comparison of ``i`` or of ``i + C`` with the constant ``K``
holds (either polarity; a bare ``i + C`` is compared with 0), passing ``i + C`` as the
new ``i``. Anything else (several back-edges, a step or a limit that is not a
constant, a comparison of something else) gets no bound. The count is exact at the
value's width with wrapping arithmetic: solved modulo 2^width for ``==``/``!=``,
computed directly for an ordering while ``i`` does not wrap around within the passes
that matter (the comparison then changes its result at most once), else pass by pass
for up to ``_MAX_SIMULATED`` passes. So a ``!=`` limit the step never meets, or a
comparison that only fails after a long wrap-around, gives no bound.
It is an upper bound on the passes through the header per entry to the loop (the body
may leave earlier, never later).
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

from pyjitwasm.ir.entities import Block, Inst, Value
from pyjitwasm.ir.function import BlockParam, Function
from pyjitwasm.ir.instructions import (
    Binary,
    BinaryImm,
    Brif,
    BrTable,
    InstructionData,
    IntCompare,
    IntCompareImm,
    Unary,
)


def predecessors(func: Function, block: Block) -> list[Inst]:
    """The branch instructions that can reach ``block`` (one per edge)."""
    out: list[Inst] = []
    dfg, layout = func.dfg, func.layout
    for b in layout.blocks:
        last = layout.last_inst(b)
        if last is None:
            continue
        data = dfg.insts[last]
        targets = [call.block for call in data.block_calls()]
        if isinstance(data, BrTable):
            targets.extend(data.table)
        out.extend(last for target in targets if target == block)
    return out


def trip_bound(func: Function, header: Block, limit: int) -> int | None:
    """At most how many times control enters ``header`` per entry to the loop, when
    that is at most ``limit`` and the loop has the recognized shape; else None."""
    dfg = func.dfg
    preds = predecessors(func, header)
    if len(preds) != 2:
        return None
    for back, entry in (preds, preds[::-1]):
        back_data = dfg.insts[back]
        if not isinstance(back_data, Brif):
            continue
        if back_data.then_dest.block == back_data.else_dest.block:
            continue
        entry_data = dfg.insts[entry]
        entry_args = _edge_args(entry_data, header)
        if entry_args is None:
            continue
        bound = _counted_loop_bound(func, header, back_data, entry_args, limit)
        if bound is not None:
            return bound
    return None


def _edge_args(data: InstructionData, header: Block) -> tuple[Value, ...] | None:
    calls = [call for call in data.block_calls() if call.block == header]
    return calls[0].args if len(calls) == 1 else None


def _counted_loop_bound(func: Function, header: Block, back: Brif,
                        entry_args: tuple[Value, ...], limit: int) -> int | None:
    dfg = func.dfg
    stays = back.then_dest.block == header  # the loop continues when the condition holds
    back_args = (back.then_dest if stays else back.else_dest).args
    condition = _comparison(func, back.arg)
    if condition is None:
        return None
    cond, compared, bound_value = condition
    params = dfg.block_params[header]
    for index, param in enumerate(params):
        if index >= len(back_args) or index >= len(entry_args):
            break
        step = _step(func, dfg.resolve(back_args[index]), param)
        start = dfg.iconst_value(entry_args[index])
        if step is None or start is None:
            continue
        compared_value = dfg.resolve(compared)
        if compared_value == dfg.resolve(back_args[index]):
            after_step = True
        elif compared_value == param:
            after_step = False
        else:
            continue
        bits = dfg.value_type(param).bits
        if not stays:  # the loop goes round while the comparison fails
            cond = _NEGATED[cond]
        return _passes(start, step, cond, bound_value, after_step, bits, limit)
    return None


def _comparison(func: Function, value: Value) -> tuple[str, Value, int] | None:
    """(condition, compared value, constant) of an ``icmp`` of a value with a constant
    that ``value`` is (through zero extensions)."""
    dfg = func.dfg
    data = dfg.defining_inst(value)
    while isinstance(data, Unary) and data.opcode == "uextend":
        data = dfg.defining_inst(data.arg)
    if data is None or not isinstance(data, IntCompare | IntCompareImm):
        return "ne", value, 0  # brif takes any nonzero value as true
    if isinstance(data, IntCompareImm):
        return data.cond, data.arg, data.imm
    if isinstance(data, IntCompare):
        a, b = data.args
        b_const = dfg.iconst_value(b)
        if b_const is not None:
            return data.cond, a, b_const
        a_const = dfg.iconst_value(a)
        if a_const is not None:
            return _SWAPPED[data.cond], b, a_const
    return None


_SWAPPED = {"eq": "eq", "ne": "ne", "slt": "sgt", "sgt": "slt", "sle": "sge", "sge": "sle",
            "ult": "ugt", "ugt": "ult", "ule": "uge", "uge": "ule"}


def _step(func: Function, value: Value, param: Value) -> int | None:
    """``C`` when ``value`` is ``param + C`` (or ``param - C``) with a constant ``C``."""
    dfg = func.dfg
    definition = dfg.value_def(param)
    if not isinstance(definition, BlockParam):
        return None
    data = dfg.defining_inst(value)
    if isinstance(data, BinaryImm) and data.opcode == "iadd_imm":
        return data.imm if dfg.resolve(data.arg) == param else None
    if isinstance(data, Binary) and data.opcode in ("iadd", "isub"):
        a, b = (dfg.resolve(v) for v in data.args)
        if a == param and (c := dfg.iconst_value(b)) is not None:
            return c if data.opcode == "iadd" else -c
        if data.opcode == "iadd" and b == param and (c := dfg.iconst_value(a)) is not None:
            return c
    return None


_NEGATED = {"eq": "ne", "ne": "eq", "slt": "sge", "sge": "slt", "sgt": "sle", "sle": "sgt",
            "ult": "uge", "uge": "ult", "ugt": "ule", "ule": "ugt"}

_ORDERED = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}


def _passes(start: int, step: int, cond: str, limit_value: int, after_step: bool, bits: int,
            limit: int) -> int | None:
    """Passes through the header of a loop over ``i`` (from ``start``, ``step`` per pass)
    that goes round again while ``cond(x, limit_value)`` holds, ``x`` being the
    value before the step or, ``after_step``, after it; None when more than ``limit``."""
    mask = (1 << bits) - 1
    signed = cond[0] == "s"
    sign = 1 << (bits - 1)

    def value(v: int) -> int:  # the bits as the comparison reads them
        v &= mask
        return v - ((v & sign) << 1) if signed else v

    op = cond.lstrip("su")
    if op in ("eq", "ne"):
        # Modulo 2^bits: x_k = first + (k - 1) * step.
        first = (start + (step if after_step else 0)) & mask
        bound = limit_value & mask
        if op == "eq":
            if first != bound:
                return 1
            return 2 if step & mask and limit >= 2 else None
        # The first k with (k - 1) * step = bound - first (mod 2^bits).
        distance, step_bits = (bound - first) & mask, step & mask
        if step_bits == 0:
            return 1 if distance == 0 else None
        common = step_bits & -step_bits  # gcd(step, 2^bits): a power of two
        if distance % common:
            return None
        modulus = (mask + 1) // common
        k = (distance // common) * pow(step_bits // common, -1, modulus) % modulus + 1
        return k if k <= limit else None
    lowest, highest = (-sign, sign - 1) if signed else (0, mask)
    first = value(start) + (step if after_step else 0)  # x at pass 1, not wrapped
    last = first + limit * step  # x at pass limit + 1
    if not (lowest <= first <= highest and lowest <= last <= highest):
        return _simulate(start, step, cond, limit_value, after_step, bits, limit)
    # No wrap-around within the passes that matter: x_k = first + (k - 1) * step, and
    # as x moves one way the comparison holds up to some pass and then never again.
    bound = value(limit_value)
    holds = _ORDERED[op]
    if not holds(first, bound):
        return 1
    if holds(first + (limit - 1) * step, bound):
        return None
    low, high = 1, limit  # holds at low, fails at high
    while high - low > 1:
        middle = (low + high) // 2
        if holds(first + (middle - 1) * step, bound):
            low = middle
        else:
            high = middle
    return high


def _simulate(start: int, step: int, cond: str, limit_value: int, after_step: bool,
              bits: int, limit: int) -> int | None:
    """``_passes`` one pass at a time, for the rare loops whose ``x`` wraps around."""
    mask = (1 << bits) - 1
    signed = cond[0] == "s"
    sign = 1 << (bits - 1)
    op = cond.lstrip("su")
    compare = {"eq": operator.eq, "ne": operator.ne, **_ORDERED}[op]

    def value(v: int) -> int:
        v &= mask
        return v - ((v & sign) << 1) if signed else v

    bound = value(limit_value)
    i = start & mask
    for passes in range(1, min(limit, _MAX_SIMULATED) + 1):
        following = (i + step) & mask
        if not compare(value(following if after_step else i), bound):
            return passes
        i = following
    return None


_MAX_SIMULATED = 1024
"""Passes ``_simulate`` runs at most (compile time): a wrapping loop longer than that
keeps its check."""


def innermost(loops: Iterable[tuple[Block, Block | None]]) -> set[Block]:
    """Of (header, enclosing loop's header) pairs, the headers no loop is nested in."""
    pairs = list(loops)
    outer = {parent for _, parent in pairs if parent is not None}
    return {header for header, _ in pairs if header not in outer}
