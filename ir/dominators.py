"""Control-flow graph and dominator tree of a function.

Dominators come from the iterative algorithm of Cooper, Harvey and Kennedy ("A Simple,
Fast Dominance Algorithm") over the reverse postorder of the blocks reachable from the
entry; dominance queries are O(1) through pre/post numbering of the tree.
"""

from __future__ import annotations

from pyjitwasm.ir.entities import Block
from pyjitwasm.ir.function import Function
from pyjitwasm.ir.instructions import spec


class ControlFlowGraph:
    """Successors and predecessors of every block in the layout."""

    def __init__(self, func: Function) -> None:
        self.succs: dict[Block, list[Block]] = {b: [] for b in func.layout.blocks}
        self.preds: dict[Block, list[Block]] = {b: [] for b in func.layout.blocks}
        for block in func.layout.blocks:
            for inst in func.layout.insts(block):
                data = func.dfg.insts[inst]
                if not spec(data.opcode).branch:
                    continue
                for succ in data.successors():
                    if succ in self.preds and succ not in self.succs[block]:
                        self.succs[block].append(succ)
                        self.preds[succ].append(block)


class DominatorTree:
    """Immediate dominators of the blocks reachable from the entry."""

    def __init__(self, func: Function, cfg: ControlFlowGraph | None = None) -> None:
        self.cfg = cfg if cfg is not None else ControlFlowGraph(func)
        entry = func.layout.entry
        self.rpo: list[Block] = self._reverse_postorder(entry) if entry is not None else []
        order = {b: i for i, b in enumerate(self.rpo)}
        idom: dict[Block, Block] = {}
        if entry is not None:
            idom[entry] = entry
        changed = True
        while changed:
            changed = False
            for block in self.rpo[1:]:
                new = None
                for pred in self.cfg.preds[block]:
                    if pred not in idom:
                        continue
                    new = pred if new is None else self._intersect(pred, new, idom, order)
                if new is not None and idom.get(block) != new:
                    idom[block] = new
                    changed = True
        self.idom = idom
        self._number(entry)

    def _reverse_postorder(self, entry: Block) -> list[Block]:
        post: list[Block] = []
        seen = {entry}
        stack = [(entry, iter(self.cfg.succs[entry]))]
        while stack:
            block, it = stack[-1]
            for succ in it:
                if succ not in seen:
                    seen.add(succ)
                    stack.append((succ, iter(self.cfg.succs[succ])))
                    break
            else:
                stack.pop()
                post.append(block)
        return post[::-1]

    @staticmethod
    def _intersect(a: Block, b: Block, idom: dict[Block, Block], order: dict[Block, int]) -> Block:
        while a != b:
            while order[a] > order[b]:
                a = idom[a]
            while order[b] > order[a]:
                b = idom[b]
        return a

    def _number(self, entry: Block | None) -> None:
        children: dict[Block, list[Block]] = {b: [] for b in self.idom}
        for block, parent in self.idom.items():
            if block != parent:
                children[parent].append(block)
        self._pre: dict[Block, int] = {}
        self._post: dict[Block, int] = {}
        if entry is None:
            return
        counter = 0
        stack: list[tuple[Block, bool]] = [(entry, False)]
        while stack:
            block, done = stack.pop()
            if done:
                self._post[block] = counter
                counter += 1
                continue
            self._pre[block] = counter
            counter += 1
            stack.append((block, True))
            for child in children[block]:
                stack.append((child, False))

    def is_reachable(self, block: Block) -> bool:
        return block in self.idom

    def dominates(self, a: Block, b: Block) -> bool:
        """``a`` dominates ``b`` (every block dominates itself); False when unreachable."""
        if a not in self._pre or b not in self._pre:
            return False
        return self._pre[a] <= self._pre[b] and self._post[b] <= self._post[a]
