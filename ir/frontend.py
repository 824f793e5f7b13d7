"""FunctionBuilder: build a function block by block with on-the-fly SSA construction.

Variables (wasm locals, for instance) are defined and used as if mutable; the builder
turns them into SSA values and block parameters following Braun et al., "Simple and
Efficient Construction of Static Single Assignment Form" (2013), as cranelift-frontend
does. A block is *sealed* once all its predecessors are known; reading a variable in an
unsealed block adds a block parameter whose branch arguments are filled in at sealing.
Parameters that turn out to receive a single value are removed again (aliasing them to
that value). The search works with an explicit stack, so long chains of blocks do not
exhaust Python's recursion limit.

Rules for callers: add a block's own parameters before branching to it; ``br_table``
targets take no arguments (when a variable needs one, the builder splits the edge with a
forwarding block); call ``finalize`` when done so aliases are resolved.
"""

from __future__ import annotations

from typing import NewType

from pyjitwasm.ir.cursor import Cursor
from pyjitwasm.ir.entities import Block, Inst, Value
from pyjitwasm.ir.function import Function
from pyjitwasm.ir.instructions import TERMINATOR_OPCODES, BlockCall, BrTable, Jump
from pyjitwasm.ir.types import Type

Variable = NewType("Variable", int)
"""A variable of the function being built (a wasm local, for instance)."""


# Tasks of the SSA search (``_run``), as plain tuples ``(kind, block, param, count)``
# (one is made per step of every variable lookup):
_USE = 0
"""Push the variable's value at the end of (filled) or current point of ``block``."""
_SET = 1
"""Cache the value on top of the results as the definition in each block of the chain
of single-predecessor blocks the lookup walked (the innermost pending chain)."""
_FINISH = 2
"""Look up the value of parameter ``param`` of ``block`` in every predecessor, then
``_COMPLETE`` it."""
_COMPLETE = 3
"""With the ``count`` predecessors' values on top of the results: drop ``param`` if it
is trivial (one incoming value besides itself), else pass the values as branch
arguments."""
_Task = tuple[int, Block, Value, int]



class FunctionBuilder:
    """Builds the body of ``func``; ``ins()`` inserts at the end of the current block."""

    def __init__(self, func: Function) -> None:
        self.func = func
        self.current: Block | None = None
        self._cursor = Cursor(func)
        self._cursor.on_branch = self._record_branch
        # The function's instruction table and block lists (the same objects for as long
        # as the function is built), for ``ins``, which runs for every instruction.
        self._insts = func.dfg.insts
        self._block_insts = func.layout.block_insts
        self._var_types: list[Type] = []
        self._defs: dict[Block, dict[Variable, Value]] = {}
        self._sealed: set[Block] = set()
        self._preds: dict[Block, list[tuple[Block, Inst]]] = {}
        self._incomplete: dict[Block, list[tuple[Variable, Value]]] = {}
        # Blocks some br_table branches to (``_split_table_edges`` has work there).
        self._table_targets: set[Block] = set()

    # Blocks -------------------------------------------------------------------------

    def create_block(self) -> Block:
        block = self.func.dfg.make_block()
        self._defs[block] = {}
        self._preds[block] = []
        return block

    def append_block_param(self, block: Block, ty: Type) -> Value:
        return self.func.dfg.append_block_param(block, ty)

    def append_block_params_for_function_params(self, block: Block) -> list[Value]:
        return [self.append_block_param(block, p.type) for p in self.func.signature.params]

    def switch_to_block(self, block: Block) -> None:
        """Make ``block`` current, adding it to the end of the layout if needed."""
        if not self.func.layout.is_inserted(block):
            self.func.layout.append_block(block)
        self.current = block

    def is_filled(self) -> bool:
        """The current block already ends with a terminator."""
        if self.current is None:
            return True
        insts = self.func.layout.block_insts[self.current]
        return bool(insts) and self.func.dfg.insts[insts[-1]].opcode in TERMINATOR_OPCODES

    def predecessors(self, block: Block) -> list[Block]:
        return [pred for pred, _ in self._preds[block]]

    def ins(self) -> Cursor:
        """A cursor at the end of the current block."""
        current = self.current
        if current is None:
            raise ValueError("no current block")
        insts = self._block_insts[current]
        if insts and self._insts[insts[-1]].opcode in TERMINATOR_OPCODES:
            raise ValueError(f"block{current} is already terminated")
        cursor = self._cursor
        cursor.block = current
        cursor.index = None
        return cursor

    def _record_branch(self, inst: Inst) -> None:
        data = self.func.dfg.insts[inst]
        current = self.func.layout.inst_block[inst]
        for succ in data.successors():
            if succ in self._sealed:
                raise ValueError(f"branch to sealed block{succ}")
            self._preds[succ].append((current, inst))
        if type(data) is BrTable:
            self._table_targets.update(data.successors())

    def seal_block(self, block: Block) -> None:
        """Declare that every predecessor of ``block`` has been built."""
        if block in self._sealed:
            return
        self._sealed.add(block)
        for var, param in self._incomplete.pop(block, []):
            self._run(var, [(_FINISH, block, param, 0)])

    def seal_all_blocks(self) -> None:
        for block in list(self._preds):
            self.seal_block(block)

    def is_sealed(self, block: Block) -> bool:
        return block in self._sealed

    # Variables ----------------------------------------------------------------------

    def declare_var(self, ty: Type) -> Variable:
        self._var_types.append(ty)
        return Variable(len(self._var_types) - 1)

    def var_type(self, var: Variable) -> Type:
        return self._var_types[var]

    def def_var(self, var: Variable, value: Value) -> None:
        # An alias keeps its type until the aliases are resolved (``finalize``).
        value_types = self.func.dfg.value_types
        ty = value_types[value] if value < len(value_types) else None
        if ty is None:
            ty = self.func.dfg.value_type(value)  # KeyError for an undefined value
        if ty != self._var_types[var]:
            raise TypeError(f"variable {var} is {self._var_types[var]}, value v{value} is {ty}")
        if self.current is None:
            raise ValueError("no current block")
        self._defs[self.current][var] = value

    def use_var(self, var: Variable) -> Value:
        """The variable's current value in the current block."""
        if self.current is None:
            raise ValueError("no current block")
        value = self._defs[self.current].get(var)
        if value is None:  # not defined in this block: the SSA search
            value = self._run(var, [(_USE, self.current, Value(0), 0)])
        aliases = self.func.dfg.aliases
        while value in aliases:
            value = aliases[value]
        return value

    # The SSA search ---------------------------------------------------------------------

    def _run(self, var: Variable, tasks: list[_Task]) -> Value:
        """Process lookup tasks for ``var`` (see the task kinds); returns the last value
        produced."""
        dfg = self.func.dfg
        aliases = dfg.aliases
        all_defs = self._defs
        sealed = self._sealed
        all_preds = self._preds
        results: list[Value] = []
        in_chain: set[Block] = set()
        # The blocks each pending ``_SET`` caches the value in (innermost last).
        chains: list[list[Block]] = []
        while tasks:
            kind, block, param, count = tasks.pop()
            defs = all_defs[block]
            if kind == _USE:
                value = defs.get(var)
                if value is None and block in sealed:
                    # Walk up a chain of single-predecessor blocks (the code after each
                    # br_if, the then-side of each if) in one go.
                    chain: list[Block] | None = None
                    preds = all_preds[block]
                    while len(preds) == 1 and block not in in_chain and block in sealed:
                        if chain is None:
                            chain = []
                        chain.append(block)
                        in_chain.add(block)
                        block = preds[0][0]
                        defs = all_defs[block]
                        value = defs.get(var)
                        if value is not None:
                            break
                        preds = all_preds[block]
                    if chain is not None:
                        if value is not None:
                            while value in aliases:
                                value = aliases[value]
                            for link in chain:
                                all_defs[link][var] = value
                                in_chain.discard(link)
                            results.append(value)
                            continue
                        tasks.append((_SET, block, param, 0))
                        chains.append(chain)
                if value is not None:
                    while value in aliases:
                        value = aliases[value]
                    results.append(value)
                    continue
                preds = all_preds[block]
                if block not in sealed:
                    param = dfg.append_block_param(block, self._var_types[var])
                    self._incomplete.setdefault(block, []).append((var, param))
                    defs[var] = param
                    results.append(param)
                elif not preds:
                    value = self._zero_at_start(block, self._var_types[var])
                    defs[var] = value
                    results.append(value)
                else:
                    param = dfg.append_block_param(block, self._var_types[var])
                    defs[var] = param
                    tasks.append((_FINISH, block, param, 0))
            elif kind == _SET:
                value = results[-1]
                for link in chains.pop():
                    all_defs[link][var] = value
                    in_chain.discard(link)
            elif kind == _FINISH:
                # Look the value up in every predecessor, then come back.
                if block in self._table_targets:
                    self._split_table_edges(block)
                preds = all_preds[block]
                tasks.append((_COMPLETE, block, param, len(preds)))
                for pred, _ in reversed(preds):
                    tasks.append((_USE, pred, param, 0))
            else:
                incoming = results[len(results) - count:]
                del results[len(results) - count:]
                value = self._complete_param(block, param, incoming)
                # Only if the block did not redefine the variable after this parameter
                # was made (a loop header that reads, then writes, a local).
                if defs.get(var) == param:
                    defs[var] = value
                results.append(value)
        return results[-1]

    def _complete_param(self, block: Block, param: Value, incoming: list[Value]) -> Value:
        """Parameter ``param`` of ``block`` receives ``incoming`` from the predecessors:
        a trivial parameter (one distinct value besides itself) is removed and aliased to
        that value before any branch passes it (so no branch is rewritten twice); the
        others become one more argument of each predecessor's branch.  What ``param``
        stands for is returned.  Parameters get their arguments in order, so when this
        one is completed no later parameter of ``block`` has arguments yet."""
        dfg = self.func.dfg
        aliases = dfg.aliases
        if aliases:
            distinct = set()
            for v in incoming:
                while v in aliases:
                    v = aliases[v]
                distinct.add(v)
        else:
            distinct = set(incoming)
        distinct.discard(param)
        if len(distinct) == 1:
            (replacement,) = distinct
            dfg.remove_block_param(block, dfg.block_params[block].index(param))
            dfg.make_alias(param, replacement)
            return replacement
        for (_, inst), value in zip(self._preds[block], incoming, strict=True):
            self._append_branch_arg(inst, block, value)
        return param

    def _append_branch_arg(self, inst: Inst, block: Block, value: Value) -> None:
        """Pass ``value`` as one more argument on ``inst``'s edges to ``block``."""
        dfg = self.func.dfg

        def extend(dest: BlockCall) -> BlockCall:
            return BlockCall(block, (*dest.args, value)) if dest.block == block else dest

        dfg.replace(inst, dfg.insts[inst].map_block_calls(extend))

    def _zero_at_start(self, block: Block, ty: Type) -> Value:
        """A variable read before any definition reads as zero."""
        return Cursor(self.func, block, 0).zero(ty)

    def _split_table_edges(self, block: Block) -> None:
        """Route br_table edges into ``block`` through a forwarding block that can carry
        branch arguments."""
        if block not in self._table_targets:
            return
        self._table_targets.discard(block)
        dfg = self.func.dfg
        preds = self._preds[block]
        for i, (pred, inst) in enumerate(preds):
            data = dfg.insts[inst]
            if not isinstance(data, BrTable):
                continue
            forward = self.create_block()
            self.func.layout.append_block(forward)
            # br_table edges carry no arguments, so every parameter of ``block`` is an SSA
            # parameter still waiting for its arguments: the new jump starts with none.
            jump = dfg.make_inst(Jump("jump", BlockCall(block)))
            self.func.layout.insert_inst(jump, forward)
            default = BlockCall(forward) if data.default.block == block else data.default
            table = tuple(forward if b == block else b for b in data.table)
            dfg.replace(inst, BrTable(data.opcode, data.arg, default, table))
            self._preds[forward] = [(pred, inst)]
            self._sealed.add(forward)
            preds[i] = (forward, jump)

    def finalize(self) -> None:
        """Resolve aliases left by parameter simplification, and end building: the
        builder's bookkeeping (variables per block, predecessors) is dropped, and with it
        the reference cycle between the builder and its cursor, so all of it is freed
        as soon as the caller lets go of the builder instead of at the next cyclic
        collection (for a huge function, hundreds of megabytes)."""
        self.func.dfg.resolve_all_aliases()
        self._cursor.on_branch = None
        self._defs.clear()
        self._preds.clear()
        self._incomplete.clear()
        self._sealed.clear()
        self._table_targets.clear()
        self.current = None
