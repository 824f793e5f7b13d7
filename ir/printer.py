"""The IR text format, writing side (see ``parser`` for the grammar it produces)."""

from __future__ import annotations

import math
import struct

from pyjitwasm.ir.function import (
    BlockCall,
    Function,
    GlobalValueData,
    HeapData,
    InstData,
    Signature,
    TableData,
)
from pyjitwasm.ir.instructions import spec


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


def _values(vs: list[int]) -> str:
    return ", ".join(f"v{v}" for v in vs)


def _block_call(dest: BlockCall, resolve) -> str:  # type: ignore[no-untyped-def]
    if not dest.args:
        return f"block{dest.block}"
    return f"block{dest.block}({_values([resolve(v) for v in dest.args])})"


def fmt_inst(func: Function, data: InstData) -> str:
    """An instruction's text without its results (``iadd v1, v2``)."""
    dfg = func.dfg
    args = [dfg.resolve(v) for v in data.args]
    fmt = spec(data.opcode).format
    head = data.opcode if data.ctrl_type is None else f"{data.opcode}.{data.ctrl_type}"
    flags = " ".join(data.flags.names()) + " " if data.flags and data.flags.names() else ""
    trap = data.trap.name.lower() if data.trap is not None else ""
    if fmt == "unary_imm":
        return f"{head} {fmt_iconst(data.imm, data.ctrl_type.bits)}"  # type: ignore[union-attr,arg-type]
    if fmt == "ieee32":
        return f"{head} {fmt_float(data.imm, 32)}"  # type: ignore[arg-type]
    if fmt == "ieee64":
        return f"{head} {fmt_float(data.imm, 64)}"  # type: ignore[arg-type]
    if fmt == "vconst":
        return f"{head} 0x{data.imm:032x}"
    if fmt == "nullary":
        return head
    if fmt in ("unary", "binary", "ternary", "multiary"):
        return f"{head} {_values(args)}" if args else head
    if fmt == "binary_imm":
        return f"{head} v{args[0]}, {data.imm}"
    if fmt in ("int_compare", "float_compare"):
        return f"{head} {data.cond} {_values(args)}"
    if fmt == "int_compare_imm":
        return f"{head} {data.cond} v{args[0]}, {data.imm}"
    if fmt == "load":
        return f"{head} {flags}v{args[0]}{fmt_offset(data.imm)}"  # type: ignore[arg-type]
    if fmt == "store":
        return f"{head} {flags}v{args[0]}, v{args[1]}{fmt_offset(data.imm)}"  # type: ignore[arg-type]
    if fmt == "heap_addr":
        return f"{head} heap{data.entity}, v{args[0]}, {fmt_uint(data.imm)}, {data.size}"  # type: ignore[arg-type]
    if fmt == "table_addr":
        return f"{head} table{data.entity}, v{args[0]}, {fmt_uint(data.imm)}"  # type: ignore[arg-type]
    if fmt == "global_value":
        return f"{head} gv{data.entity}"
    if fmt == "func_addr":
        return f"{head} fn{data.entity}"
    if fmt == "call":
        return f"{head} fn{data.entity}({_values(args)})"
    if fmt == "call_indirect":
        return f"{head} sig{data.entity}, v{args[0]}({_values(args[1:])})"
    if fmt == "jump":
        return f"{head} {_block_call(data.dests[0], dfg.resolve)}"
    if fmt == "brif":
        return (f"{head} v{args[0]}, {_block_call(data.dests[0], dfg.resolve)}, "
                f"{_block_call(data.dests[1], dfg.resolve)}")
    if fmt == "br_table":
        table = ", ".join(f"block{b}" for b in data.table)
        return f"{head} v{args[0]}, {_block_call(data.dests[0], dfg.resolve)}, [{table}]"
    if fmt == "trap":
        return f"{head} {trap}"
    if fmt == "cond_trap":
        return f"{head} v{args[0]}, {trap}"
    if fmt == "int_add_trap":
        return f"{head} {_values(args)}, {trap}"
    raise AssertionError(f"no printer for format {fmt}")


def fmt_inst_line(func: Function, inst: int) -> str:
    """The instruction with its results (``v3 = iadd v1, v2``)."""
    results = func.dfg.inst_results(inst)
    text = fmt_inst(func, func.dfg.insts[inst])
    return f"{_values(results)} = {text}" if results else text


def fmt_block_header(func: Function, block: int) -> str:
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
        lines.append(f"    fn{i} = %{ext.name} sig{ext.signature}")
    has_preamble = len(lines) > 1
    for n, block in enumerate(func.layout.blocks):
        if n > 0 or has_preamble:
            lines.append("")
        lines.append(fmt_block_header(func, block))
        for inst in func.layout.insts(block):
            lines.append("    " + fmt_inst_line(func, inst))
    lines.append("}")
    return "\n".join(lines) + "\n"
