"""Trap codes: why a WebAssembly computation stopped abnormally.

They live in the lowest layer because the IR (trap instructions), the interpreter and the
runtime all name them. Member names follow wasmtime-py's ``TrapCode`` so host code ports
unchanged; ``message`` is the text the specification's test scripts use.
"""

from __future__ import annotations

from enum import IntEnum


class TrapCode(IntEnum):
    """The reason for a trap."""

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
    # call_indirect with an index past the end of the table (spec: "undefined element").
    UNDEFINED_ELEMENT = 13

    @property
    def message(self) -> str:
        """The specification's wording for this trap."""
        return _MESSAGES[self]


_MESSAGES = {
    TrapCode.STACK_OVERFLOW: "call stack exhausted",
    TrapCode.MEMORY_OUT_OF_BOUNDS: "out of bounds memory access",
    TrapCode.HEAP_MISALIGNED: "unaligned atomic",
    TrapCode.TABLE_OUT_OF_BOUNDS: "out of bounds table access",
    TrapCode.INDIRECT_CALL_TO_NULL: "uninitialized element",
    TrapCode.BAD_SIGNATURE: "indirect call type mismatch",
    TrapCode.INTEGER_OVERFLOW: "integer overflow",
    TrapCode.INTEGER_DIVISION_BY_ZERO: "integer divide by zero",
    TrapCode.BAD_CONVERSION_TO_INTEGER: "invalid conversion to integer",
    TrapCode.UNREACHABLE: "unreachable",
    TrapCode.INTERRUPT: "interrupt",
    TrapCode.OUT_OF_FUEL: "all fuel consumed",
    TrapCode.NULL_REFERENCE: "null reference",
    TrapCode.UNDEFINED_ELEMENT: "undefined element",
}
