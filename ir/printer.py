"""The IR text format, writing side (see ``parser`` for the grammar it produces)."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Sequence
from typing import Any

from pyjitwasm.ir.entities import Block, Inst, Value
from pyjitwasm.ir.function import (
    Function,
    GlobalValueData,
    HeapData,
    Signature,
    TableData,
)
from pyjitwasm.ir.immediates import MemFlags
from pyjitwasm.ir.instructions import (
    Binary,
    BinaryImm,
    BlockCall,
    Brif,
    BrTable,
    Call,
    CallIndirect,
    CondTrap,
    FloatCompare,
    FuncAddr,
    HeapAddr,
    InsertLane,
    InstructionData,
    IntAddTrap,
    IntCompare,
    IntCompareImm,
    Jump,
    Load,
    MemMove,
    MemSet,
    MultiAry,
    Nullary,
    Shuffle,
    Store,
    TableAddr,
    Ternary,
    Trap,
    Unary,
    UnaryConst,
    UnaryGlobalValue,
    UnaryIeee32,
    UnaryIeee64,
    UnaryImm,
)
from pyjitwasm.ir.trapcode import TrapCode


def fmt_uint(n: int) -> str:
    """Sizes and bounds: decimal when small, hex when large."""
    return str(n) if n < 0x10000 else f"0x{n:x}"


def fmt_iconst(bits_pattern: int, width: int) -> str:
    """An iconst immediate (stored as the unsigned pattern): small values in decimal,
    small negative ones as negative decimal, others as unsigned hex."""
    if bits_pattern < 0x10000:
        return str(bits_pattern)
    signed = bits_pattern - (1 << width) if bits_pattern >> (width - 1) else bits_pattern
    if -0x10000 < signed < 0:
        return str(signed)
    return f"0x{bits_pattern:x}"


def fmt_float(bits: int, width: int) -> str:
    """A float constant from its IEEE bits; NaNs keep their payload as ``nan:0xBITS``."""
    if width == 32:
        value = struct.unpack("<f", struct.pack("<I", bits))[0]
    else:
        value = struct.unpack("<d", struct.pack("<Q", bits))[0]
    if math.isnan(value):
        return f"nan:0x{bits:0{width // 4}x}"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def fmt_offset(offset: int) -> str:
    if offset == 0:
        return ""
    return f"+{offset}" if offset > 0 else str(offset)


def fmt_signature(sig: Signature) -> str:
    params = ", ".join(
        str(p.type) if p.purpose == "normal" else f"{p.type} {p.purpose}" for p in sig.params
    )
    text = f"({params})"
    if sig.returns:
        text += " -> " + ", ".join(map(str, sig.returns))
    return text


def fmt_global_value(gv: GlobalValueData) -> str:
    if gv.kind == "vmctx":
        return "vmctx"
    if gv.kind == "load":
        flags = " ".join(gv.flags.names())
        return f"load.{gv.type} {flags + ' ' if flags else ''}gv{gv.base}{fmt_offset(gv.offset)}"
    return f"iadd_imm.{gv.type} gv{gv.base}, {gv.offset}"


def fmt_heap(heap: HeapData) -> str:
    bound = fmt_uint(heap.bound) if heap.style == "static" else f"gv{heap.bound}"
    return (f"{heap.style} base=gv{heap.base}, bound={bound}, "
            f"offset_guard={fmt_uint(heap.offset_guard)}, index_type={heap.index_type}")


def fmt_table(table: TableData) -> str:
    return (f"dynamic base=gv{table.base}, bound=gv{table.bound}, "
            f"element_size={table.element_size}, index_type={table.index_type}")


def _values(vs: Sequence[Value]) -> str:
    return ", ".join(f"v{v}" for v in vs)


def _block_call(dest: BlockCall) -> str:
    if not dest.args:
        return f"block{dest.block}"
    return f"block{dest.block}({_values(dest.args)})"


def _flags(flags: MemFlags) -> str:
    names = flags.names()
    return " ".join(names) + " " if names else ""


def _trap(code: TrapCode) -> str:
    return code.name.lower()


def fmt_inst(func: Function, data: InstructionData) -> str:
    """An instruction's text without its results (``iadd v1, v2``)."""
    data = data.map_values(func.dfg.resolve)
    head = data.opcode if data.ctrl_type is None else f"{data.opcode}.{data.ctrl_type}"
    return f"{head}{_OPERANDS[type(data)](data)}"


# The operand text of each format, after the opcode (with a leading space when not empty).

def _unary_imm(data: UnaryImm) -> str:
    return f" {fmt_iconst(data.imm, data.ctrl_type.bits)}"


def _ieee32(data: UnaryIeee32) -> str:
    return f" {fmt_float(data.bits, 32)}"


def _ieee64(data: UnaryIeee64) -> str:
    return f" {fmt_float(data.bits, 64)}"


def _vconst(data: UnaryConst) -> str:
    return f" 0x{data.value:032x}"


def _nullary(data: InstructionData) -> str:
    return ""


def _value_list(data: InstructionData) -> str:
    args = data.arguments()
    return f" {_values(args)}" if args else ""


def _binary_imm(data: BinaryImm) -> str:
    return f" v{data.arg}, {data.imm}"


def _compare(data: IntCompare | FloatCompare) -> str:
    return f" {data.cond} {_values(data.args)}"


def _int_compare_imm(data: IntCompareImm) -> str:
    return f" {data.cond} v{data.arg}, {data.imm}"


def _int_add_trap(data: IntAddTrap) -> str:
    return f" {_values(data.args)}, {_trap(data.code)}"


def _insert_lane(data: InsertLane) -> str:
    return f" {_values(data.args)}, {data.lane}"


def _shuffle(data: Shuffle) -> str:
    return f" {_values(data.args)}, [{', '.join(map(str, data.mask))}]"


def _load(data: Load) -> str:
    return f" {_flags(data.flags)}v{data.address}{fmt_offset(data.offset)}"


def _store(data: Store) -> str:
    return f" {_flags(data.flags)}v{data.value}, v{data.address}{fmt_offset(data.offset)}"


def _heap_addr(data: HeapAddr) -> str:
    return f" heap{data.heap}, v{data.index}, {fmt_uint(data.offset)}, {data.size}"


def _table_addr(data: TableAddr) -> str:
    return f" table{data.table}, v{data.index}, {fmt_uint(data.offset)}"


def _global_value(data: UnaryGlobalValue) -> str:
    return f" gv{data.global_value}"


def _func_addr(data: FuncAddr) -> str:
    return f" fn{data.func_ref}"


def _call(data: Call) -> str:
    return f" fn{data.func_ref}({_values(data.args)})"


def _call_indirect(data: CallIndirect) -> str:
    return f" sig{data.sig_ref}, v{data.callee}({_values(data.args)})"


def _jump(data: Jump) -> str:
    return f" {_block_call(data.destination)}"


def _brif(data: Brif) -> str:
    return (f" v{data.arg}, {_block_call(data.then_dest)}, "
            f"{_block_call(data.else_dest)}")


def _br_table(data: BrTable) -> str:
    table = ", ".join(f"block{b}" for b in data.table)
    return f" v{data.arg}, {_block_call(data.default)}, [{table}]"


def _trap_inst(data: Trap) -> str:
    return f" {_trap(data.code)}"


def _cond_trap(data: CondTrap) -> str:
    return f" v{data.arg}, {_trap(data.code)}"


# Each writer takes its own format's class; ``Any`` lets one table hold them all.
_Operands = Callable[[Any], str]

_OPERANDS: dict[type[InstructionData], _Operands] = {
    UnaryImm: _unary_imm,
    UnaryIeee32: _ieee32,
    UnaryIeee64: _ieee64,
    UnaryConst: _vconst,
    Nullary: _nullary,
    Unary: _value_list,
    Binary: _value_list,
    Ternary: _value_list,
    MultiAry: _value_list,
    BinaryImm: _binary_imm,
    IntCompare: _compare,
    FloatCompare: _compare,
    IntCompareImm: _int_compare_imm,
    IntAddTrap: _int_add_trap,
    InsertLane: _insert_lane,
    Shuffle: _shuffle,
    Load: _load,
    Store: _store,
    HeapAddr: _heap_addr,
    TableAddr: _table_addr,
    UnaryGlobalValue: _global_value,
    FuncAddr: _func_addr,
    MemMove: _value_list,
    MemSet: _value_list,
    Call: _call,
    CallIndirect: _call_indirect,
    Jump: _jump,
    Brif: _brif,
    BrTable: _br_table,
    Trap: _trap_inst,
    CondTrap: _cond_trap,
}
"""The operand writer of each instruction format (keyed by its data class, each taking
an instance of that class)."""


def fmt_inst_line(func: Function, inst: Inst) -> str:
    """The instruction with its results (``v3 = iadd v1, v2``)."""
    results = func.dfg.inst_results(inst)
    text = fmt_inst(func, func.dfg.insts[inst])
    return f"{_values(results)} = {text}" if results else text


def fmt_block_header(func: Function, block: Block) -> str:
    params = func.dfg.block_params[block]
    if not params:
        return f"block{block}:"
    inner = ", ".join(f"v{v}: {func.dfg.value_type(v)}" for v in params)
    return f"block{block}({inner}):"


def print_function(func: Function) -> str:
    """The function in the text format, ending with a newline."""
    lines = [f"function %{func.name}{fmt_signature(func.signature)} {{"]
    for i, gv in enumerate(func.global_values):
        lines.append(f"    gv{i} = {fmt_global_value(gv)}")
    for i, heap in enumerate(func.heaps):
        lines.append(f"    heap{i} = {fmt_heap(heap)}")
    for i, table in enumerate(func.tables):
        lines.append(f"    table{i} = {fmt_table(table)}")
    for i, sig in enumerate(func.signatures):
        lines.append(f"    sig{i} = {fmt_signature(sig)}")
    for i, ext in enumerate(func.ext_funcs):
        cold = " cold" if ext.cold else ""
        lines.append(f"    fn{i} = %{ext.name} sig{ext.signature}{cold}")
    has_preamble = len(lines) > 1
    for n, block in enumerate(func.layout.blocks):
        if n > 0 or has_preamble:
            lines.append("")
        lines.append(fmt_block_header(func, block))
        for inst in func.layout.insts(block):
            lines.append("    " + fmt_inst_line(func, inst))
    lines.append("}")
    return "\n".join(lines) + "\n"
