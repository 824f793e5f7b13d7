"""The shapes the instruction set is described in: ``OpInfo``, the immediate kinds, and the
immediate values the decoder builds.

The opcodes themselves, one named constant each, and their ``OpInfo`` table live in
``opcodes``, which ``tools/gen_wasm_opcodes.py`` generates; ``opcodes`` re-exports every
name here, so the rest of pyjitwasm imports from ``opcodes`` only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Final

FC: Final = 0xFC000
"""Prefix of the 0xFC opcodes: ``FC | subopcode`` (``FC | 0x08`` is ``memory.init``)."""
FD: Final = 0xFD000
"""Prefix of the 0xFD (SIMD) opcodes: ``FD | subopcode``."""

BLOCKTYPE_EMPTY: Final = -64
"""The block type of a block with no parameters and no results (the byte 0x40 as s33)."""


class Imm(IntEnum):
    """The shape of an instruction's immediates, and so of ``Instr.imm``."""

    NONE = 0  # imm is None
    BLOCK = 1  # imm is a BlockImm
    LABEL = 2  # int: relative label depth
    BR_TABLE = 3  # (tuple of label depths, default depth)
    FUNC = 4  # int: function index
    CALL_INDIRECT = 5  # (type index, table index)
    LOCAL = 6  # int: local index
    GLOBAL = 7  # int: global index
    TABLE = 8  # int: table index
    TABLE_COPY = 9  # (destination table, source table)
    TABLE_INIT = 10  # (element segment, table)
    ELEM = 11  # int: element segment index
    MEMARG = 12  # MemArg
    MEM = 13  # int: memory index
    MEM_COPY = 14  # (destination memory, source memory)
    MEM_INIT = 15  # (data segment, memory)
    DATA = 16  # int: data segment index
    I32 = 17  # int: the value's unsigned 32-bit pattern
    I64 = 18  # int: the value's unsigned 64-bit pattern
    F32 = 19  # int: raw IEEE bits (NaN payloads survive)
    F64 = 20  # int: raw IEEE bits
    V128 = 21  # int: the 128-bit little-endian value
    SHUFFLE = 22  # bytes: 16 lane indices
    LANE = 23  # int: lane index
    MEMARG_LANE = 24  # (MemArg, lane index)
    SELECT_T = 25  # tuple of value types
    HEAPTYPE = 26  # int: FUNCREF or EXTERNREF


Signature = tuple[tuple[int, ...], tuple[int, ...]]
"""An instruction's fixed operand types: ``(params, results)``, the last param on top."""


@dataclass(frozen=True, slots=True)
class OpInfo:
    """What the decoder, validator and back ends need to know about one opcode.

    ``sig`` is the fixed operand signature for instructions whose typing is fixed; it is
    None for the instructions with their own typing rule (control, variables, parametric,
    calls, tables, references, memory size/grow with memory64).
    """

    code: int
    name: str
    imm: Imm
    sig: Signature | None = None
    # Bytes accessed by a memory instruction (the natural alignment is its log2).
    access_size: int = 0


@dataclass(frozen=True, slots=True)
class MemArg:
    """A memory instruction's immediate: alignment hint (log2), static offset, memory."""

    align: int
    offset: int
    memory: int = 0


class BlockImm:
    """Immediate of ``block``, ``loop`` and ``if``.

    ``blocktype`` is the signed s33 the binary holds: ``BLOCKTYPE_EMPTY`` for no results, a
    negative value for a single result type (``blocktype & 0x7F`` is its type code), or a
    type index. The decoder fills ``else_pc`` (the index of the matching ``else`` or -1)
    and ``end_pc`` (the index of the matching ``end``) in the function's instruction list.
    """

    __slots__ = ("blocktype", "else_pc", "end_pc")

    def __init__(self, blocktype: int, else_pc: int = -1, end_pc: int = -1) -> None:
        self.blocktype = blocktype
        self.else_pc = else_pc
        self.end_pc = end_pc

    def __repr__(self) -> str:
        return f"BlockImm({self.blocktype}, else_pc={self.else_pc}, end_pc={self.end_pc})"
