"""The interpreter's compact instruction form.

Each function is pre-decoded once into a list of ``(op, a, b)`` tuples with its branch
targets resolved to instruction indices and its stack adjustments precomputed, so the
dispatch loop never re-parses anything. A frame is one Python list holding the locals
(parameters first) followed by the operand stack; ``LGET a`` reads ``frame[a]``.
"""

from __future__ import annotations

from typing import Any

# Internal opcodes, numbered roughly by how often programs execute them (the dispatch
# loop tests them in this order).
LGET = 0  # a: local index
CONST = 1  # a: value
BIN = 2  # a: fn(x, y)
LSET = 3  # a: local index
LTEE = 4  # a: local index
BR_IF = 5  # a: target (no stack adjustment needed)
I32_ADD = 6
LOAD = 7  # a: Struct.unpack_from, b: static offset (memory 0)
STORE = 8  # a: Struct.pack_into, b: static offset (memory 0)
UN = 9  # a: fn(x)
JUMP = 10  # a: target
BR_UNLESS = 11  # a: target
CALL = 12  # a: function index
RETURN = 13  # a: result count
GGET = 14  # a: global index
GSET = 15  # a: global index
I32_SUB = 16
DROP = 17
SELECT = 18
BR_ADJ = 19  # a: target, b: (height, end) -- del frame[height:end] then jump
BR_IF_ADJ = 20  # same, when the popped condition is non-zero
BR_TABLE = 21  # a: tuple of (target, height, end); the last entry is the default
LOADX = 22  # a: reader(buffer, address) -> value, b: static offset (memory 0)
STOREX = 23  # a: writer(buffer, address, value), b: static offset (memory 0)
CALL_INDIRECT = 24  # a: expected FuncType, b: table index
MEMGROW = 25  # a: memory index
MISC = 26  # a: fn(frame, instance, b) for everything rarely executed
UNREACHABLE = 27
LOADN = 28  # a: (reader, memory index), b: static offset
STOREN = 29  # a: (writer, memory index), b: static offset
I32_EQZ_BR_IF = 30  # a: target; br_if on (x == 0)
LGET_LGET = 31  # a, b: two local indices
LGET_CONST_BIN = 32  # a: local index, b: (constant, fn)
LGET_BIN = 33  # a: local index, b: fn
CONST_BIN = 34  # a: constant, b: fn
BIN_BR_IF = 35  # a: fn, b: target
RETURN_CALL = 36  # a: function index
RETURN_CALL_INDIRECT = 37  # a: FuncType, b: table index

NAMES = {v: k for k, v in dict(globals()).items() if isinstance(v, int) and k.isupper()}


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
