"""Translation of linear-memory instructions to IR.

Loads and stores compute their address with ``heap_addr`` (legalization expands it for
the heap's style). ``memory.size`` reads the length inline; ``memory.grow`` and the bulk
operations (``memory.fill/copy/init``, ``data.drop``) are libcalls (see ``libcalls``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyjitwasm.ir.immediates import WASM_HEAP
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import I32, I64
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate.ir_types import from_wasm
from pyjitwasm.translate.numeric import Handler
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr
from pyjitwasm.wasm.opcodes import OPS, MemArg

if TYPE_CHECKING:
    from pyjitwasm.ir.function import Value
    from pyjitwasm.translate.translator import FunctionTranslator

WASM_PAGE_BITS = 16


def memory_address(t: FunctionTranslator, memarg: MemArg, size: int) -> Value:
    """Pop the index and return the address of a ``size``-byte access at ``memarg``."""
    heap = t.env.heap(memarg.memory)
    index = t.pop()
    offset = memarg.offset
    ins = t.ins()
    if offset >= 1 << 32:
        # memory64 only: heap_addr takes a u32 offset, so add the high part first and
        # trap if the sum wraps (the access would be out of bounds for any memory).
        high = offset & ~0xFFFFFFFF
        index = ins.uadd_overflow_trap(index, ins.iconst(I64, high),
                                       TrapCode.MEMORY_OUT_OF_BOUNDS)
        offset &= 0xFFFFFFFF
    return ins.heap_addr(heap, index, offset, size)


def _load(t: FunctionTranslator, instr: Instr) -> None:
    info = OPS[instr.op]
    size = info.access_size
    ty = from_wasm(info.sig[1][0])  # type: ignore[index]
    addr = memory_address(t, instr.imm, size)
    if ty.is_int and size * 8 < ty.bits:
        opcode = ("s" if info.name.endswith("_s") else "u") + f"load{size * 8}"
    else:
        opcode = "load"
    t.push(t.ins().load(ty, WASM_HEAP, addr, 0, opcode))


def _store(t: FunctionTranslator, instr: Instr) -> None:
    info = OPS[instr.op]
    size = info.access_size
    ty = from_wasm(info.sig[0][0])  # type: ignore[index]
    value = t.pop()
    addr = memory_address(t, instr.imm, size)
    opcode = f"istore{size * 8}" if ty.is_int and size * 8 < ty.bits else "store"
    t.ins().store(WASM_HEAP, value, addr, 0, opcode)


def _memory_size(t: FunctionTranslator, instr: Instr) -> None:
    memory = instr.imm
    ins = t.ins()
    length = ins.global_value(t.env.memory_length(memory))
    pages = ins.ushr_imm(length, WASM_PAGE_BITS)
    t.push(pages if t.env.memory_is_64(memory) else ins.ireduce(I32, pages))


def _memory_grow(t: FunctionTranslator, instr: Instr) -> None:
    memory = instr.imm
    delta = t.to_i64(t.pop())
    (old,) = t.libcall(lc.MEMORY_GROW, [t.const64(memory), delta])
    t.push(old if t.env.memory_is_64(memory) else t.ins().ireduce(I32, old))


def _memory_fill(t: FunctionTranslator, instr: Instr) -> None:
    length, value, dst = t.pop(), t.pop(), t.pop()
    t.libcall(lc.MEMORY_FILL, [t.const64(instr.imm), t.to_i64(dst), value, t.to_i64(length)])


def _memory_copy(t: FunctionTranslator, instr: Instr) -> None:
    dst_memory, src_memory = instr.imm
    length, src, dst = t.pop(), t.pop(), t.pop()
    t.libcall(lc.MEMORY_COPY, [t.const64(dst_memory), t.const64(src_memory), t.to_i64(dst),
                               t.to_i64(src), t.to_i64(length)])


def _memory_init(t: FunctionTranslator, instr: Instr) -> None:
    data, memory = instr.imm
    length, src, dst = t.pop(), t.pop(), t.pop()
    t.libcall(lc.MEMORY_INIT, [t.const64(memory), t.const64(data), t.to_i64(dst),
                               t.to_i64(src), t.to_i64(length)])


def _data_drop(t: FunctionTranslator, instr: Instr) -> None:
    t.libcall(lc.DATA_DROP, [t.const64(instr.imm)])


def handlers() -> dict[int, Handler]:
    """Handler of every linear-memory opcode (SIMD ones excluded)."""
    table: dict[int, Handler] = {}
    for code, info in OPS.items():
        if info.imm == op.Imm.MEMARG and code < op.FD:
            table[code] = _load if info.sig[1] else _store  # type: ignore[index]
    table.update({
        op.MEMORY_SIZE: _memory_size,  # type: ignore[attr-defined]
        op.MEMORY_GROW: _memory_grow,  # type: ignore[attr-defined]
        op.MEMORY_FILL: _memory_fill,  # type: ignore[attr-defined]
        op.MEMORY_COPY: _memory_copy,  # type: ignore[attr-defined]
        op.MEMORY_INIT: _memory_init,  # type: ignore[attr-defined]
        op.DATA_DROP: _data_drop,  # type: ignore[attr-defined]
    })
    return table
