"""Inserting instructions at a position in a function.

``Cursor`` inherits one builder method per opcode from the generated ``InstBuilder``
(``ir/builder.py``), so callers never assemble instruction data by hand.
"""

from __future__ import annotations

from collections.abc import Callable

from pyjitwasm.ir.builder import InstBuilder
from pyjitwasm.ir.entities import Block, Inst, Value
from pyjitwasm.ir.function import Function
from pyjitwasm.ir.instructions import InstructionData
from pyjitwasm.ir.types import F32, F64, Type
from pyjitwasm.ir.typing import result_types


class Cursor(InstBuilder):
    """A position in a function: before ``index`` in ``block`` (at its end when None).

    Each insertion computes the result types from the operands (TypingError when they do
    not fit) and advances the position past the new instruction.
    """

    def __init__(self, func: Function, block: Block | None = None,
                 index: int | None = None) -> None:
        self.func = func
        self.block = block
        self.index = index
        self.on_insert: Callable[[Inst], None] | None = None

    def goto_end(self, block: Block) -> Cursor:
        self.block, self.index = block, None
        return self

    def goto_before(self, inst: Inst) -> Cursor:
        block = self.func.layout.inst_block[inst]
        self.block = block
        self.index = self.func.layout.insts(block).index(inst)
        return self

    def goto_after(self, inst: Inst) -> Cursor:
        block = self.func.layout.inst_block[inst]
        self.block = block
        self.index = self.func.layout.insts(block).index(inst) + 1
        return self

    # Insertion (the generated builder methods call these) ------------------------------

    def ins(self, data: InstructionData) -> Inst:
        """Insert ``data`` and give it typed results."""
        block = self.block
        if block is None:
            raise ValueError("cursor has no position")
        func = self.func
        dfg = func.dfg
        if dfg.aliases:
            data = data.map_values(dfg.resolve)
        types = result_types(func, data, [dfg.value_type(v) for v in data.arguments()])
        inst = dfg.make_inst(data)
        for ty in types:
            dfg.add_result(inst, ty)
        func.layout.insert_inst(inst, block, self.index)
        if self.index is not None:
            self.index += 1
        if self.on_insert is not None:
            self.on_insert(inst)
        return inst

    def value(self, data: InstructionData) -> Value:
        """Insert an instruction with one result and return that result."""
        results = self.func.dfg.inst_results(self.ins(data))
        if len(results) != 1:
            raise ValueError(f"{data.opcode} has {len(results)} results, not one")
        return results[0]

    def results(self, data: InstructionData) -> list[Value]:
        """Insert an instruction and return (a copy of) its results."""
        return list(self.func.dfg.inst_results(self.ins(data)))

    # Composite helpers -----------------------------------------------------------------

    def zero(self, ty: Type) -> Value:
        """The zero (or null) value of any type."""
        if ty.is_int:
            return self.iconst(ty, 0)
        if ty == F32:
            return self.f32const(0)
        if ty == F64:
            return self.f64const(0)
        if ty.is_ref:
            return self.null(ty)
        return self.vconst(ty, 0)
