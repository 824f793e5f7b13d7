"""Inserting instructions at a position in a function.

``Cursor`` inherits one builder method per opcode from the generated ``InstBuilder``
(``ir/builder.py``), so callers never assemble instruction data by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyjitwasm.ir.builder import InstBuilder
from pyjitwasm.ir.entities import Block, Inst, Value
from pyjitwasm.ir.function import DEF_SHIFT, Function
from pyjitwasm.ir.instructions import BRANCH_OPCODES, InstructionData
from pyjitwasm.ir.types import F32, F64, Type
from pyjitwasm.ir.typing import OPCODE_CHECKS, opcode_checks, result_types


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
        # Called with each branch instruction inserted (the function builder records
        # the edges); only for branches, so other insertions pay nothing.
        self.on_branch: Callable[[Inst], None] | None = None

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
        self._insert(data)
        return Inst(len(self.func.dfg.insts) - 1)

    def value(self, data: InstructionData) -> Value:
        """Insert an instruction with one result and return that result."""
        results = self._insert(data)
        if len(results) != 1:
            raise ValueError(f"{data.opcode} has {len(results)} results, not one")
        return results[0]

    def results(self, data: InstructionData) -> list[Value]:
        """Insert an instruction and return (a copy of) its results."""
        return list(self._insert(data))

    def _insert(self, data: InstructionData) -> list[Value]:
        """Insert ``data`` and return its results.  Runs for every instruction
        built, so the data-flow graph's steps are written out here (``make_inst``,
        ``add_result``, ``Layout.insert_inst``) and so is ``result_types``.

        Operands are taken as they are, aliases included: an alias keeps its type until
        the aliases are resolved, which every producer of aliases does for the whole
        function at its end (``FunctionBuilder.finalize``, the legalizer), and which the
        printer and verifier do on their own."""
        block = self.block
        if block is None:
            raise ValueError("cursor has no position")
        func = self.func
        dfg = func.dfg
        value_types = dfg.value_types
        args = data.arguments()
        # Types, or None for an operand that is not defined: ``Any`` rather than a
        # ``cast`` (a call) once the Nones are ruled out below.
        arg_types: list[Any]
        try:
            # By arity: a comprehension costs more than the lookups of one or two.
            count = len(args)
            if count == 2:
                arg_types = [value_types[args[0]], value_types[args[1]]]
            elif count == 1:
                arg_types = [value_types[args[0]]]
            elif count == 0:
                arg_types = []
            else:
                arg_types = [value_types[v] for v in args]
        except IndexError:
            arg_types = [None]
        if None in arg_types:  # an operand that is not (or no longer) defined: KeyError
            arg_types = [dfg.value_type(v) for v in args]
        op = data.opcode
        format_class, spec, rule = OPCODE_CHECKS.get(op) or opcode_checks(op)
        if type(data) is not format_class or (data.ctrl_type is None) is spec.ctrl:
            result_types(func, data, [])  # raises the TypingError
        types = rule(func, data, spec, arg_types)
        inst = Inst(len(dfg.insts))
        dfg.insts.append(data)
        dfg.srclocs.append(dfg.srcloc)
        if types:
            value_defs = dfg.value_defs
            number = len(value_types)
            if len(types) == 1:
                results = [Value(number)]
                value_types.append(types[0])
                value_defs.append(inst << DEF_SHIFT)  # inst_def(inst, 0)
            else:
                results = []
                for num, ty in enumerate(types):
                    results.append(Value(number + num))
                    value_types.append(ty)
                    value_defs.append(inst << DEF_SHIFT | num)  # inst_def(inst, num)
        else:
            results = []
        dfg.results.append(results)
        layout = func.layout
        index = self.index
        if index is None:
            layout.block_insts[block].append(inst)
        else:
            layout.block_insts[block].insert(index, inst)
            self.index = index + 1
        layout.inst_block[inst] = block
        if self.on_branch is not None and op in BRANCH_OPCODES:
            self.on_branch(inst)
        return results

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
