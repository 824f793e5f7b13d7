"""An IR function: signature, declarations, data-flow graph and block layout.

Entities are plain ints: values print as ``vN``, blocks as ``blockN``; instructions have
ids too but are never named in text. Declarations (global values, heaps, tables,
signatures, external functions) are lists indexed by their entity number.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyjitwasm.ir.immediates import MemFlags
from pyjitwasm.ir.types import Type
from pyjitwasm.wasm.traps import TrapCode

Value = int
Block = int
Inst = int


@dataclass(frozen=True, slots=True)
class AbiParam:
    """A signature parameter. ``purpose`` is ``"normal"`` or ``"vmctx"`` (the instance
    pointer every compiled wasm function takes first)."""

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
    base: int | None = None
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
    base: int  # global value: the memory's base address
    bound: int  # static: byte count; dynamic: global value
    offset_guard: int
    index_type: Type


@dataclass(slots=True)
class TableData:
    """A table of ``element_size``-byte entries at ``base``; ``bound`` is a global value
    holding the current number of elements."""

    base: int
    bound: int
    element_size: int
    index_type: Type


@dataclass(slots=True)
class ExtFuncData:
    """A function called directly by name (other wasm functions, libcalls)."""

    name: str
    signature: int


@dataclass(slots=True)
class BlockCall:
    """A branch destination with the arguments for the block's parameters."""

    block: Block
    args: list[Value] = field(default_factory=list)


@dataclass(slots=True)
class InstData:
    """One instruction; which fields are meaningful depends on its opcode's format.

    ``imm``: constant bits (iconst: unsigned pattern of the type's width; f32/f64const:
    IEEE bits; vconst: 128-bit value), the signed immediate of ``*_imm`` ops, the signed
    offset of loads/stores, or the unsigned offset of ``heap_addr``/``table_addr``.
    ``size``: heap_addr access size. ``entity``: heap, table, global value, external
    function or signature number. ``dests``: jump/brif targets (br_table: the default).
    ``table``: br_table entries, blocks without arguments.
    For ``store`` args are (value, address); for ``call_indirect`` (callee, args...).
    """

    opcode: str
    args: list[Value] = field(default_factory=list)
    ctrl_type: Type | None = None
    imm: int | None = None
    size: int | None = None
    cond: str | None = None
    flags: MemFlags | None = None
    trap: TrapCode | None = None
    entity: int | None = None
    dests: list[BlockCall] = field(default_factory=list)
    table: list[Block] = field(default_factory=list)

    def all_args(self) -> list[Value]:
        """Operands followed by every branch argument."""
        out = list(self.args)
        for dest in self.dests:
            out.extend(dest.args)
        return out

    def successors(self) -> list[Block]:
        """Distinct destination blocks, in order of first mention."""
        seen: list[Block] = []
        for b in [d.block for d in self.dests] + self.table:
            if b not in seen:
                seen.append(b)
        return seen

    def map_values(self, fn) -> None:  # type: ignore[no-untyped-def]
        """Replace every operand and branch argument ``v`` by ``fn(v)``."""
        self.args = [fn(v) for v in self.args]
        for dest in self.dests:
            dest.args = [fn(v) for v in dest.args]


class DataFlowGraph:
    """Instructions, values and block parameters."""

    def __init__(self) -> None:
        self.insts: list[InstData] = []
        self.results: list[list[Value]] = []
        self.value_types: list[Type | None] = []
        # ("result", inst, n) or ("param", block, n); None for unused numbers.
        self.value_defs: list[tuple[str, int, int] | None] = []
        self.block_params: list[list[Value]] = []
        self.aliases: dict[Value, Value] = {}

    # Values ---------------------------------------------------------------------------

    def _new_value(self, ty: Type, definition: tuple[str, int, int],
                   number: int | None = None) -> Value:
        if number is None:
            number = len(self.value_types)
        while len(self.value_types) <= number:
            self.value_types.append(None)
            self.value_defs.append(None)
        if self.value_defs[number] is not None:
            raise ValueError(f"v{number} defined twice")
        self.value_types[number] = ty
        self.value_defs[number] = definition
        return number

    def value_type(self, v: Value) -> Type:
        ty = self.value_types[self.resolve(v)] if v < len(self.value_types) else None
        if ty is None:
            raise KeyError(f"v{v} is not defined")
        return ty

    def value_exists(self, v: Value) -> bool:
        return 0 <= v < len(self.value_defs) and self.value_defs[v] is not None

    def resolve(self, v: Value) -> Value:
        """Follow aliases to the value ``v`` stands for."""
        while v in self.aliases:
            v = self.aliases[v]
        return v

    def make_alias(self, v: Value, target: Value) -> None:
        """Make every use of ``v`` mean ``target`` (``v`` stops being defined)."""
        self.aliases[v] = target

    # Instructions ---------------------------------------------------------------------

    def make_inst(self, data: InstData) -> Inst:
        self.insts.append(data)
        self.results.append([])
        return len(self.insts) - 1

    def add_result(self, inst: Inst, ty: Type, number: int | None = None) -> Value:
        v = self._new_value(ty, ("result", inst, len(self.results[inst])), number)
        self.results[inst].append(v)
        return v

    def inst_results(self, inst: Inst) -> list[Value]:
        return self.results[inst]

    # Blocks ---------------------------------------------------------------------------

    def make_block(self) -> Block:
        self.block_params.append([])
        return len(self.block_params) - 1

    def ensure_block(self, block: Block) -> None:
        while len(self.block_params) <= block:
            self.block_params.append([])

    def append_block_param(self, block: Block, ty: Type, number: int | None = None) -> Value:
        v = self._new_value(ty, ("param", block, len(self.block_params[block])), number)
        self.block_params[block].append(v)
        return v

    def remove_block_param(self, block: Block, index: int) -> Value:
        """Drop a block parameter (callers fix the branches); later params renumber."""
        v = self.block_params[block].pop(index)
        self.value_defs[v] = None
        for i, p in enumerate(self.block_params[block]):
            self.value_defs[p] = ("param", block, i)
        return v

    def resolve_all_aliases(self) -> None:
        """Rewrite every use of an alias to its target and forget the aliases."""
        if not self.aliases:
            return
        for data in self.insts:
            data.map_values(self.resolve)
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
        insts.insert(len(insts) if index is None else index, inst)
        self.inst_block[inst] = block

    def remove_inst(self, inst: Inst) -> None:
        block = self.inst_block.pop(inst)
        self.block_insts[block].remove(inst)

    def last_inst(self, block: Block) -> Inst | None:
        insts = self.block_insts[block]
        return insts[-1] if insts else None

    @property
    def entry(self) -> Block | None:
        return self.blocks[0] if self.blocks else None


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

    def create_global_value(self, data: GlobalValueData) -> int:
        self.global_values.append(data)
        return len(self.global_values) - 1

    def create_heap(self, data: HeapData) -> int:
        self.heaps.append(data)
        return len(self.heaps) - 1

    def create_table(self, data: TableData) -> int:
        self.tables.append(data)
        return len(self.tables) - 1

    def import_signature(self, sig: Signature) -> int:
        self.signatures.append(sig)
        return len(self.signatures) - 1

    def import_function(self, data: ExtFuncData) -> int:
        self.ext_funcs.append(data)
        return len(self.ext_funcs) - 1

    def vmctx_global(self) -> int:
        """The ``vmctx`` global value, declared on first request."""
        for i, gv in enumerate(self.global_values):
            if gv.kind == "vmctx":
                return i
        return self.create_global_value(GlobalValueData("vmctx", self.pointer_type()))

    @staticmethod
    def pointer_type() -> Type:
        from pyjitwasm.ir.types import POINTER

        return POINTER

    def vmctx_param_index(self) -> int | None:
        for i, p in enumerate(self.signature.params):
            if p.purpose == "vmctx":
                return i
        return None

    # Comparison -----------------------------------------------------------------------

    def canonical(self) -> tuple:
        """Everything the text format shows, as nested tuples (instruction ids excluded):
        two functions are structurally equal when their canonical forms are."""
        dfg = self.dfg
        blocks = []
        for block in self.layout.blocks:
            params = tuple((v, dfg.value_type(v)) for v in dfg.block_params[block])
            insts = []
            for inst in self.layout.insts(block):
                data = dfg.insts[inst]
                res = tuple((v, dfg.value_type(v)) for v in dfg.inst_results(inst))
                insts.append((res, _inst_key(data, dfg)))
            blocks.append((block, params, tuple(insts)))
        return (
            self.name,
            _sig_key(self.signature),
            tuple(_gv_key(g) for g in self.global_values),
            tuple((h.style, h.base, h.bound, h.offset_guard, h.index_type) for h in self.heaps),
            tuple((t.base, t.bound, t.element_size, t.index_type) for t in self.tables),
            tuple(_sig_key(s) for s in self.signatures),
            tuple((f.name, f.signature) for f in self.ext_funcs),
            tuple(blocks),
        )

    def __str__(self) -> str:
        from pyjitwasm.ir.printer import print_function

        return print_function(self)


def _sig_key(sig: Signature) -> tuple:
    return (tuple(sig.params), tuple(sig.returns))


def _gv_key(gv: GlobalValueData) -> tuple:
    return (gv.kind, gv.type, gv.base, gv.offset, gv.flags)


def _inst_key(data: InstData, dfg: DataFlowGraph) -> tuple:
    return (
        data.opcode,
        tuple(dfg.resolve(v) for v in data.args),
        data.ctrl_type,
        data.imm,
        data.size,
        data.cond,
        data.flags,
        data.trap,
        data.entity,
        tuple((d.block, tuple(dfg.resolve(v) for v in d.args)) for d in data.dests),
        tuple(data.table),
    )
