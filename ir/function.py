"""An IR function: signature, declarations, data-flow graph and block layout.

Entities are numbers with a type each (``ir/entities.py``): values print as ``vN``,
blocks as ``blockN``; instructions have numbers too but are never named in text.
Declarations (global values, heaps, tables, signatures, external functions) are lists
indexed by their entity number. Instruction data is one frozen dataclass per format
(``ir/instructions.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyjitwasm.ir.entities import (
    Block,
    FuncRef,
    GlobalValue,
    Heap,
    Inst,
    SigRef,
    Table,
    Value,
)
from pyjitwasm.ir.immediates import MemFlags
from pyjitwasm.ir.instructions import BLOCK_CALL_FORMATS, BlockCall, InstructionData, UnaryImm
from pyjitwasm.ir.types import POINTER, Type

# The entity types and BlockCall are re-exported: builders of functions name them along
# with the function's own classes.
__all__ = [
    "AbiParam", "Block", "BlockCall", "BlockParam", "DataFlowGraph", "ExtFuncData", "FuncRef",
    "Function", "GlobalValue", "GlobalValueData", "Heap", "HeapData", "Inst", "InstResult",
    "InstructionData", "Layout", "NO_SRCLOC", "SigRef", "Signature", "Table", "TableData", "Value",
    "ValueDef",
]


@dataclass(frozen=True, slots=True)
class AbiParam:
    """A signature parameter. ``purpose`` is ``"normal"``, ``"vmctx"`` (the instance
    pointer every compiled wasm function takes first) or ``"osr_locals"`` (an
    on-stack-replacement entry's second parameter, ``translate/osr.py``)."""

    type: Type
    purpose: str = "normal"


@dataclass(slots=True)
class Signature:
    """Parameter and return types of a function or of an indirect call."""

    params: list[AbiParam] = field(default_factory=list)
    returns: list[Type] = field(default_factory=list)

    def param_types(self) -> list[Type]:
        return [p.type for p in self.params]


@dataclass(slots=True)
class GlobalValueData:
    """A value computed from vmctx, usable anywhere in the function.

    ``kind`` is ``"vmctx"`` (the vmctx parameter), ``"load"`` (``type`` loaded from
    ``base + offset`` with ``flags``) or ``"iadd_imm"`` (``base + offset``).
    """

    kind: str
    type: Type
    base: GlobalValue | None = None
    offset: int = 0
    flags: MemFlags = field(default_factory=MemFlags)


@dataclass(slots=True)
class HeapData:
    """A linear memory as the IR sees it.

    ``static``: ``bound`` is a byte count (int) reserved at ``base`` with
    ``offset_guard`` further bytes that fault on access; accesses within bound + guard need
    no explicit check as long as the runtime makes bytes beyond the current size fault.
    ``dynamic``: ``bound`` is a global value holding the current size in bytes.
    """

    style: str  # "static" | "dynamic"
    base: GlobalValue  # the memory's base address
    bound: int  # static: a byte count; dynamic: a GlobalValue number
    offset_guard: int
    index_type: Type


@dataclass(slots=True)
class TableData:
    """A table of ``element_size``-byte entries at ``base``; ``bound`` is a global value
    holding the current number of elements."""

    base: GlobalValue
    bound: GlobalValue
    element_size: int
    index_type: Type


@dataclass(slots=True)
class ExtFuncData:
    """A function called directly by name (other wasm functions, libcalls). ``cold``:
    calls to it are rare slow paths (the back end then keeps the code around them out
    of the way of the common path), printed as a trailing ``cold``."""

    name: str
    signature: SigRef
    cold: bool = False


@dataclass(frozen=True, slots=True)
class InstResult:
    """A value defined as result ``num`` of instruction ``inst``."""

    inst: Inst
    num: int


@dataclass(frozen=True, slots=True)
class BlockParam:
    """A value defined as parameter ``num`` of ``block``."""

    block: Block
    num: int


ValueDef = InstResult | BlockParam
"""Where a value is defined (Cranelift's ``ValueDef``)."""


DEF_SHIFT = 20
"""Bits of ``value_defs`` entries below the instruction or block number."""
_DEF_NUM = (1 << DEF_SHIFT) - 1


def inst_def(inst: Inst, num: int) -> int:
    """``DataFlowGraph.value_defs``'s packing of result ``num`` of ``inst``."""
    return inst << DEF_SHIFT | num


def param_def(block: Block, num: int) -> int:
    """``DataFlowGraph.value_defs``'s packing of parameter ``num`` of ``block``."""
    return ~(block << DEF_SHIFT | num)


NO_SRCLOC = -1
"""The source location of an instruction that has none."""


class DataFlowGraph:
    """Instructions, values and block parameters.

    ``srclocs`` holds each instruction's source location (for wasm, the byte offset of
    the instruction it came from in the module; ``NO_SRCLOC`` when it has none), like
    Cranelift's ``srclocs``: an instruction takes ``srcloc``, the builder's current
    location, when it is made.  The text format does not show them."""

    def __init__(self) -> None:
        self.insts: list[InstructionData] = []
        self.srclocs: list[int] = []
        self.srcloc = NO_SRCLOC
        self.results: list[list[Value]] = []
        self.value_types: list[Type | None] = []
        # Where each value is defined, packed in one int (made for every value, so no
        # object): ``inst_def(inst, num)`` for result ``num`` of ``inst``,
        # ``param_def(block, num)`` for parameter ``num`` of ``block``; None for numbers
        # not (or no longer) defined.  ``value_def`` gives the typed ``ValueDef``.
        self.value_defs: list[int | None] = []
        self.block_params: list[list[Value]] = []
        self.aliases: dict[Value, Value] = {}

    # Values ---------------------------------------------------------------------------

    def _new_value(self, ty: Type, definition: int, number: int | None = None) -> Value:
        if number is None:  # the common case: the next number
            number = len(self.value_types)
            self.value_types.append(ty)
            self.value_defs.append(definition)
            return Value(number)
        while len(self.value_types) <= number:
            self.value_types.append(None)
            self.value_defs.append(None)
        if self.value_defs[number] is not None:
            raise ValueError(f"v{number} defined twice")
        self.value_types[number] = ty
        self.value_defs[number] = definition
        return Value(number)

    def value_type(self, v: Value) -> Type:
        if self.aliases:
            v = self.resolve(v)
        ty = self.value_types[v] if v < len(self.value_types) else None
        if ty is None:
            raise KeyError(f"v{v} is not defined")
        return ty

    def value_exists(self, v: Value) -> bool:
        return 0 <= v < len(self.value_defs) and self.value_defs[v] is not None

    def value_def(self, v: Value) -> ValueDef:
        """Where ``v`` (after alias resolution) is defined; KeyError when it is not."""
        definition = self.value_defs[self.resolve(v)]
        if definition is None:
            raise KeyError(f"v{v} is not defined")
        if definition >= 0:
            return InstResult(Inst(definition >> DEF_SHIFT), definition & _DEF_NUM)
        return BlockParam(Block(~definition >> DEF_SHIFT), ~definition & _DEF_NUM)

    def defining_inst(self, v: Value) -> InstructionData | None:
        """The data of the instruction whose result ``v`` is; None for block parameters."""
        definition = self.value_defs[self.resolve(v)]
        if definition is not None and definition >= 0:
            return self.insts[definition >> DEF_SHIFT]
        return None

    def iconst_value(self, v: Value) -> int | None:
        """The constant bits of ``v`` when an ``iconst`` defines it."""
        definition = self.value_defs[self.resolve(v)]
        if definition is not None and definition >= 0:
            data = self.insts[definition >> DEF_SHIFT]
            if type(data) is UnaryImm:
                return data.imm
        return None

    def resolve(self, v: Value) -> Value:
        """Follow aliases to the value ``v`` stands for."""
        while v in self.aliases:
            v = self.aliases[v]
        return v

    def make_alias(self, v: Value, target: Value) -> None:
        """Make every use of ``v`` mean ``target`` (``v`` stops being defined)."""
        self.aliases[v] = target

    # Instructions ---------------------------------------------------------------------

    def make_inst(self, data: InstructionData) -> Inst:
        self.insts.append(data)
        self.srclocs.append(self.srcloc)
        self.results.append([])
        return Inst(len(self.insts) - 1)

    def replace(self, inst: Inst, data: InstructionData) -> None:
        """Give ``inst`` new contents; its number and results stay."""
        self.insts[inst] = data

    def add_result(self, inst: Inst, ty: Type, number: int | None = None) -> Value:
        results = self.results[inst]
        v = self._new_value(ty, inst_def(inst, len(results)), number)
        results.append(v)
        return v

    def inst_results(self, inst: Inst) -> list[Value]:
        return self.results[inst]

    # Blocks ---------------------------------------------------------------------------

    def make_block(self) -> Block:
        self.block_params.append([])
        return Block(len(self.block_params) - 1)

    def ensure_block(self, block: Block) -> None:
        while len(self.block_params) <= block:
            self.block_params.append([])

    def append_block_param(self, block: Block, ty: Type, number: int | None = None) -> Value:
        v = self._new_value(ty, param_def(block, len(self.block_params[block])), number)
        self.block_params[block].append(v)
        return v

    def remove_block_param(self, block: Block, index: int) -> Value:
        """Drop a block parameter (callers fix the branches); later params renumber."""
        v = self.block_params[block].pop(index)
        self.value_defs[v] = None
        for i, p in enumerate(self.block_params[block][index:], index):
            self.value_defs[p] = param_def(block, i)
        return v

    def resolve_all_aliases(self) -> None:
        """Rewrite every use of an alias to its target and forget the aliases."""
        if not self.aliases:
            return
        aliases = self.aliases
        insts = self.insts
        uses_none = aliases.keys().isdisjoint
        resolve = self.resolve
        for i, data in enumerate(insts):
            # Most instructions use no alias: rebuild only those that do.
            if not uses_none(data.arguments()) or (
                    type(data) in BLOCK_CALL_FORMATS and data.uses_any(aliases.keys())):
                insts[i] = data.map_values(resolve)
        for v in self.aliases:
            if v < len(self.value_defs):
                self.value_defs[v] = None
                self.value_types[v] = None
        self.aliases.clear()


class Layout:
    """The order of blocks in the function and of instructions in each block."""

    def __init__(self) -> None:
        self.blocks: list[Block] = []
        self.block_insts: dict[Block, list[Inst]] = {}
        self.inst_block: dict[Inst, Block] = {}

    def append_block(self, block: Block) -> None:
        if block in self.block_insts:
            raise ValueError(f"block{block} already in the layout")
        self.blocks.append(block)
        self.block_insts[block] = []

    def is_inserted(self, block: Block) -> bool:
        return block in self.block_insts

    def insts(self, block: Block) -> list[Inst]:
        return self.block_insts[block]

    def insert_inst(self, inst: Inst, block: Block, index: int | None = None) -> None:
        """Insert at ``index`` in ``block`` (append when None)."""
        insts = self.block_insts[block]
        if index is None:
            insts.append(inst)
        else:
            insts.insert(index, inst)
        self.inst_block[inst] = block

    def remove_inst(self, inst: Inst) -> None:
        block = self.inst_block.pop(inst)
        self.block_insts[block].remove(inst)

    def remove_block(self, block: Block) -> None:
        """Take ``block`` and its instructions out of the layout (no branch may reach it)."""
        self.blocks.remove(block)
        for inst in self.block_insts.pop(block):
            del self.inst_block[inst]

    def last_inst(self, block: Block) -> Inst | None:
        insts = self.block_insts[block]
        return insts[-1] if insts else None

    @property
    def entry(self) -> Block | None:
        return self.blocks[0] if self.blocks else None

    def entry_block(self) -> Block:
        """The entry block; ValueError for a function without blocks."""
        if not self.blocks:
            raise ValueError("the function has no blocks")
        return self.blocks[0]


class Function:
    """An IR function."""

    def __init__(self, name: str = "f", signature: Signature | None = None) -> None:
        self.name = name
        self.signature = signature if signature is not None else Signature()
        self.dfg = DataFlowGraph()
        self.layout = Layout()
        self.global_values: list[GlobalValueData] = []
        self.heaps: list[HeapData] = []
        self.tables: list[TableData] = []
        self.signatures: list[Signature] = []
        self.ext_funcs: list[ExtFuncData] = []

    # Declarations ---------------------------------------------------------------------

    def create_global_value(self, data: GlobalValueData) -> GlobalValue:
        self.global_values.append(data)
        return GlobalValue(len(self.global_values) - 1)

    def create_heap(self, data: HeapData) -> Heap:
        self.heaps.append(data)
        return Heap(len(self.heaps) - 1)

    def create_table(self, data: TableData) -> Table:
        self.tables.append(data)
        return Table(len(self.tables) - 1)

    def import_signature(self, sig: Signature) -> SigRef:
        self.signatures.append(sig)
        return SigRef(len(self.signatures) - 1)

    def import_function(self, data: ExtFuncData) -> FuncRef:
        self.ext_funcs.append(data)
        return FuncRef(len(self.ext_funcs) - 1)

    def vmctx_global(self) -> GlobalValue:
        """The ``vmctx`` global value, declared on first request."""
        for i, gv in enumerate(self.global_values):
            if gv.kind == "vmctx":
                return GlobalValue(i)
        return self.create_global_value(GlobalValueData("vmctx", POINTER))

    @staticmethod
    def pointer_type() -> Type:
        return POINTER

    def vmctx_param_index(self) -> int | None:
        for i, p in enumerate(self.signature.params):
            if p.purpose == "vmctx":
                return i
        return None

    # Comparison -----------------------------------------------------------------------

    def canonical(self) -> tuple[object, ...]:
        """Everything the text format shows, as nested tuples (instruction numbers
        excluded): two functions are structurally equal when their canonical forms are."""
        dfg = self.dfg
        blocks = []
        for block in self.layout.blocks:
            params = tuple((v, dfg.value_type(v)) for v in dfg.block_params[block])
            insts = []
            for inst in self.layout.insts(block):
                res = tuple((v, dfg.value_type(v)) for v in dfg.inst_results(inst))
                insts.append((res, dfg.insts[inst].map_values(dfg.resolve)))
            blocks.append((block, params, tuple(insts)))
        return (
            self.name,
            _sig_key(self.signature),
            tuple((g.kind, g.type, g.base, g.offset, g.flags) for g in self.global_values),
            tuple((h.style, h.base, h.bound, h.offset_guard, h.index_type) for h in self.heaps),
            tuple((t.base, t.bound, t.element_size, t.index_type) for t in self.tables),
            tuple(_sig_key(s) for s in self.signatures),
            tuple((f.name, f.signature, f.cold) for f in self.ext_funcs),
            tuple(blocks),
        )


def _sig_key(sig: Signature) -> tuple[object, ...]:
    return (tuple(sig.params), tuple(sig.returns))
