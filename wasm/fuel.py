"""Fuel accounting rules both engines share (``Config.consume_fuel``).

As in Wasmtime, every executed instruction costs one unit except those that generate no
code of their own. Both engines add the counted fuel to the store's total at the same
points, before the instructions of ``CHARGE_BEFORE`` (which end straight-line code or
run other code that may read the fuel), and check it at function entries and loop
headers, so a run consumes the same fuel on either engine and stops at the same check.
"""

from __future__ import annotations

from pyjitwasm.wasm import opcodes as op

FREE_INSTRUCTIONS = frozenset({
    op.NOP, op.DROP, op.BLOCK, op.LOOP, op.ELSE, op.END, op.UNREACHABLE, op.RETURN,
})
"""Instructions that cost no fuel; every other costs 1."""

CHARGE_BEFORE = frozenset({
    op.LOOP, op.IF, op.ELSE, op.END, op.BR, op.BR_IF, op.BR_TABLE, op.RETURN, op.CALL,
    op.CALL_INDIRECT, op.RETURN_CALL, op.RETURN_CALL_INDIRECT, op.UNREACHABLE,
})
"""Instructions before which the fuel counted since the last charge (theirs included)
is added to the store's consumed fuel."""


def fuel_cost(opcode: int) -> int:
    """Fuel one execution of ``opcode`` costs."""
    return 0 if opcode in FREE_INSTRUCTIONS else 1
