"""The interpreter's compact instruction form.

Each function is pre-decoded once into a list of ``(op, a, b)`` tuples with its branch
targets resolved to instruction indices and its stack adjustments precomputed, so the
dispatch loop never re-parses anything. A frame is one Python list holding the locals
(parameters first) followed by the operand stack; ``LGET a`` reads ``frame[a]``.
"""

from __future__ import annotations

from typing import Any, Final

# Internal opcodes, numbered roughly by how often programs execute them. The dispatch loop
# (``machine._run``) compares against these numbers as literals, which Python evaluates
# faster than names; tests/interp/test_dispatch_table.py checks that each literal's comment
# names the constant with that value.
LGET: Final = 0  # a: local index
CONST: Final = 1  # a: value
BIN: Final = 2  # a: fn(x, y)
LSET: Final = 3  # a: local index
LTEE: Final = 4  # a: local index
BR_IF: Final = 5  # a: target (no stack adjustment needed)
I32_ADD: Final = 6
LOAD: Final = 7  # a: Struct.unpack_from, b: static offset (memory 0)
STORE: Final = 8  # a: Struct.pack_into, b: static offset (memory 0)
UN: Final = 9  # a: fn(x)
JUMP: Final = 10  # a: target
BR_UNLESS: Final = 11  # a: target
CALL: Final = 12  # a: function index
RETURN: Final = 13  # a: result count
GGET: Final = 14  # a: global index
GSET: Final = 15  # a: global index
I32_SUB: Final = 16
DROP: Final = 17
SELECT: Final = 18
BR_ADJ: Final = 19  # a: target, b: (height, end) -- del frame[height:end] then jump
BR_IF_ADJ: Final = 20  # same, when the popped condition is non-zero
BR_TABLE: Final = 21  # a: tuple of (target, height, end); the last entry is the default
LOADX: Final = 22  # a: reader(buffer, address) -> value, b: static offset (memory 0)
STOREX: Final = 23  # a: writer(buffer, address, value), b: static offset (memory 0)
CALL_INDIRECT: Final = 24  # a: expected FuncType, b: table index
MEMGROW: Final = 25  # a: memory index
MISC: Final = 26  # a: fn(frame, instance, b) for everything rarely executed
UNREACHABLE: Final = 27
LOADN: Final = 28  # a: (reader, memory index), b: static offset
STOREN: Final = 29  # a: (writer, memory index), b: static offset
I32_EQZ_BR_IF: Final = 30  # a: target; br_if on (x == 0)
LGET_LGET: Final = 31  # a, b: two local indices
LGET_CONST_BIN: Final = 32  # a: local index, b: (constant, fn)
LGET_BIN: Final = 33  # a: local index, b: fn
CONST_BIN: Final = 34  # a: constant, b: fn
BIN_BR_IF: Final = 35  # a: fn, b: target
RETURN_CALL: Final = 36  # a: function index
RETURN_CALL_INDIRECT: Final = 37  # a: FuncType, b: table index
METER: Final = 38  # a: fuel to charge, b: checks to make (interp/metering.py)


class CompiledFunction:
    """A function body in compact form, shared by every instance of its module."""

    __slots__ = ("code", "offsets", "nparams", "nresults", "zeros", "body_offset")

    def __init__(
        self,
        code: list[tuple[int, Any, Any]],
        offsets: list[int],
        nparams: int,
        nresults: int,
        zeros: list[Any],
        body_offset: int,
    ) -> None:
        self.code = code
        # Byte offset in the module of the wasm instruction each entry came from.
        self.offsets = offsets
        self.nparams = nparams
        self.nresults = nresults
        # Initial values of the declared (non-parameter) locals.
        self.zeros = zeros
        self.body_offset = body_offset
