"""The layout of a module's tier-up table, which tier-0 code and the runtime share: one
``i32`` countdown per defined function, then its on-stack-replacement slots
(``translate/tiering.py`` emits the IR that counts; ``x64/`` writes the same counts in
machine code; ``runtime/jit/module_code.py`` reads and parks them). Apart from the IR
so that the runtime and ``x64/`` do not import it."""

from __future__ import annotations

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
