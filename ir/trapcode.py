"""Trap codes: the reason an IR trap instruction (or a faulting heap access) stops.

The IR names its own codes (as Cranelift's ``ir::TrapCode``) so that ``ir/`` knows nothing
of the wasm layer. The numbers are the ones compiled code passes to the runtime's trap
entry point, which reads them back as ``pyjitwasm.wasm.traps.TrapCode`` by number: the two
enumerations therefore agree name for name and value for value (a test holds them to it).
"""

from __future__ import annotations

from enum import IntEnum


class TrapCode(IntEnum):
    """Why compiled code traps. The text format spells a code in lower case
    (``trapz v1, integer_division_by_zero``)."""

    STACK_OVERFLOW = 0
    MEMORY_OUT_OF_BOUNDS = 1
    HEAP_MISALIGNED = 2
    TABLE_OUT_OF_BOUNDS = 3
    INDIRECT_CALL_TO_NULL = 4
    BAD_SIGNATURE = 5
    INTEGER_OVERFLOW = 6
    INTEGER_DIVISION_BY_ZERO = 7
    BAD_CONVERSION_TO_INTEGER = 8
    UNREACHABLE = 9
    INTERRUPT = 10
    OUT_OF_FUEL = 11
    NULL_REFERENCE = 12
    UNDEFINED_ELEMENT = 13
