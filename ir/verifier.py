"""The IR verifier: structural, SSA and typing invariants of a function.

Checked: declarations refer to declared entities; the entry block's parameters match the
signature; every block ends with exactly one terminator and has none elsewhere; each
instruction's operands and results fit its typing rule (including heap_addr's u32
offset); every used value is defined in the layout and its definition dominates the use
(uses in unreachable blocks only need a definition); branch targets exist, are not the
entry block, and receive arguments matching their parameters in number and type
(br_table targets take none).
"""

from __future__ import annotations

from pyjitwasm.ir.dominators import DominatorTree
from pyjitwasm.ir.entities import Block, Inst, Value
from pyjitwasm.ir.function import BlockParam, Function
from pyjitwasm.ir.instructions import BrTable, InstructionData, spec
from pyjitwasm.ir.printer import fmt_inst_line
from pyjitwasm.ir.types import POINTER
from pyjitwasm.ir.typing import TypingError, result_types


class VerifierError(Exception):
    """The function breaks IR invariants; ``errors`` lists each problem."""

    def __init__(self, func_name: str, errors: list[str]) -> None:
        super().__init__(f"function %{func_name}: " + "; ".join(errors))
        self.errors = errors


def verify(func: Function) -> None:
    """Raise VerifierError unless ``func`` is well formed."""
    errors = verify_errors(func)
    if errors:
        raise VerifierError(func.name, errors)


def verify_errors(func: Function) -> list[str]:
    """Every problem found, as messages; empty when the function is well formed."""
    return _Verifier(func).run()


class _Verifier:
    def __init__(self, func: Function) -> None:
        self.func = func
        self.errors: list[str] = []
        self.domtree = DominatorTree(func)
        # Where each instruction sits, for ordering within a block.
        self.position: dict[Inst, int] = {}
        for block in func.layout.blocks:
            for i, inst in enumerate(func.layout.insts(block)):
                self.position[inst] = i

    def error(self, where: str, message: str) -> None:
        self.errors.append(f"{where}: {message}")

    def run(self) -> list[str]:
        self.declarations()
        layout = self.func.layout
        if layout.entry is None:
            self.error("function", "has no blocks")
            return self.errors
        self.entry_params()
        for block in layout.blocks:
            self.block(block)
        return self.errors

    # Declarations ----------------------------------------------------------------------

    def declarations(self) -> None:
        func = self.func
        n_gv = len(func.global_values)
        for i, gv in enumerate(func.global_values):
            if gv.kind == "vmctx":
                if func.vmctx_param_index() is None:
                    self.error(f"gv{i}", "vmctx global value but no vmctx parameter")
                if gv.type != POINTER:
                    self.error(f"gv{i}", f"vmctx must be {POINTER}")
            elif gv.base is None or not 0 <= gv.base < i:
                self.error(f"gv{i}", f"base gv{gv.base} must be declared before it")
            elif func.global_values[gv.base].type != POINTER:
                self.error(f"gv{i}", f"base gv{gv.base} is not a pointer")
        for i, heap in enumerate(func.heaps):
            refs: list[int] = [heap.base] + ([heap.bound] if heap.style == "dynamic" else [])
            for ref in refs:
                if not 0 <= ref < n_gv:
                    self.error(f"heap{i}", f"gv{ref} is not declared")
            if heap.index_type.name not in ("i32", "i64"):
                self.error(f"heap{i}", "index type must be i32 or i64")
        for i, table in enumerate(func.tables):
            for ref in (table.base, table.bound):
                if not 0 <= ref < n_gv:
                    self.error(f"table{i}", f"gv{ref} is not declared")
        for i, ext in enumerate(func.ext_funcs):
            if not 0 <= ext.signature < len(func.signatures):
                self.error(f"fn{i}", f"sig{ext.signature} is not declared")

    def entry_params(self) -> None:
        entry = self.func.layout.entry_block()
        types = [self.func.dfg.value_type(v) for v in self.func.dfg.block_params[entry]]
        expected = self.func.signature.param_types()
        if types != expected:
            self.error(f"block{entry}",
                       f"entry block parameters ({', '.join(map(str, types))}) do not match "
                       f"the signature ({', '.join(map(str, expected))})")

    # Blocks and instructions -------------------------------------------------------------

    def block(self, block: Block) -> None:
        insts = self.func.layout.insts(block)
        if not insts:
            self.error(f"block{block}", "is empty (missing terminator)")
            return
        for i, inst in enumerate(insts):
            is_term = spec(self.func.dfg.insts[inst].opcode).terminator
            where = f"block{block}: {fmt_inst_line(self.func, inst)}"
            if is_term and i != len(insts) - 1:
                self.error(where, "terminator in the middle of the block")
            if not is_term and i == len(insts) - 1:
                self.error(where, "block does not end with a terminator")
            self.inst(block, inst, where)

    def inst(self, block: Block, inst: Inst, where: str) -> None:
        func = self.func
        dfg = func.dfg
        data = dfg.insts[inst]
        ok = True
        for v in data.all_args():
            ok &= self.use(block, inst, v, where)
        if not ok:
            return
        try:
            types = result_types(func, data, [dfg.value_type(v) for v in data.arguments()])
        except TypingError as e:
            self.error(where, str(e))
            return
        actual = [dfg.value_type(v) for v in dfg.inst_results(inst)]
        if actual != types:
            self.error(where, f"results ({', '.join(map(str, actual))}) should be "
                       f"({', '.join(map(str, types))})")
        if spec(data.opcode).branch:
            self.branch(data, where)

    def use(self, block: Block, inst: Inst, v: Value, where: str) -> bool:
        dfg = self.func.dfg
        if v in dfg.aliases:
            v = dfg.resolve(v)
        if not dfg.value_exists(v):
            self.error(where, f"use of undefined value v{v}")
            return False
        definition = dfg.value_def(v)
        layout = self.func.layout
        def_inst: Inst | None = None
        if isinstance(definition, BlockParam):
            def_block = definition.block
            if not layout.is_inserted(def_block):
                self.error(where, f"v{v} is a parameter of block{def_block}, not in the layout")
                return False
        else:
            def_inst = definition.inst
            if def_inst not in layout.inst_block:
                self.error(where, f"v{v} is defined by an instruction not in the layout")
                return False
            def_block = layout.inst_block[def_inst]
        if not self.domtree.is_reachable(block):
            return True
        if def_block == block:
            if def_inst is not None and self.position[def_inst] >= self.position[inst]:
                self.error(where, f"v{v} is used before its definition")
                return False
            return True
        if not self.domtree.dominates(def_block, block):
            self.error(where, f"v{v} (defined in block{def_block}) does not dominate its use")
            return False
        return True

    def branch(self, data: InstructionData, where: str) -> None:
        func = self.func
        dfg = func.dfg
        calls: list[tuple[Block, tuple[Value, ...]]] = [(d.block, d.args)
                                                        for d in data.block_calls()]
        if isinstance(data, BrTable):
            calls += [(b, ()) for b in data.table]
        for target, args in calls:
            if not func.layout.is_inserted(target):
                self.error(where, f"branch to block{target}, which is not in the layout")
                continue
            if target == func.layout.entry:
                self.error(where, "branch to the entry block")
            params = dfg.block_params[target]
            if data.opcode == "br_table" and params:
                self.error(where, f"br_table target block{target} must not have parameters")
                continue
            if len(args) != len(params):
                self.error(where, f"block{target} takes {len(params)} argument(s), "
                           f"{len(args)} given")
                continue
            for i, (arg, param) in enumerate(zip(args, params, strict=True)):
                if dfg.value_type(arg) != dfg.value_type(param):
                    self.error(where, f"argument {i} to block{target} is "
                               f"{dfg.value_type(arg)}, the parameter {dfg.value_type(param)}")
