"""Translation of linear-memory instructions to IR.

Loads and stores compute their address with ``heap_addr`` (legalization expands it for
the heap's style). ``memory.size`` reads the length inline; ``memory.grow``,
``memory.init`` and ``data.drop`` are libcalls (see ``libcalls``).

``memory.copy``/``memory.fill`` check their ranges against the memories' current
lengths with ordinary IR, trap with ``memory_out_of_bounds`` before anything is written
(as wasm requires), and then copy or fill with ``memmove``/``memset`` at the memories'
base addresses; the checks cannot overflow (64-bit ranges are compared as
``size <= length && start <= length - size``). ``HeapConfig.inline_bulk_memory=False``
keeps them calls of the ``memory_copy``/``memory_fill`` libcalls.
"""

from __future__ import annotations

from pyjitwasm.ir.function import Value
from pyjitwasm.ir.immediates import WASM_HEAP
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import I8, I32, I64, Type
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate.state import FunctionState, Handler
from pyjitwasm.wasm.module import Instr
from pyjitwasm.wasm.opcodes import OPS, MemArg


def memory_address(t: FunctionState, memarg: MemArg, size: int) -> Value:
    """Pop the index and return the address of a ``size``-byte access at ``memarg``."""
    heap = t.env.heap(memarg.memory)
    index = t.stack.pop()
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


def load(ir_op: str, ty: Type) -> Handler:
    """A load of ``ty`` through IR instruction ``ir_op`` (``load``, or a narrow
    ``sload8``/``uload16``... extending to ``ty``); the access size is the opcode's."""
    def handle(t: FunctionState, instr: Instr) -> None:
        addr = memory_address(t, instr.imm, OPS[instr.op].access_size)
        t.stack.append(t.ins().load(ty, WASM_HEAP, addr, 0, ir_op))
    return handle


def store(ir_op: str) -> Handler:
    """A store through IR instruction ``ir_op`` (``store``, or a narrow ``istore8``...
    keeping the low bits of the value); the access size is the opcode's."""
    def handle(t: FunctionState, instr: Instr) -> None:
        value = t.stack.pop()
        addr = memory_address(t, instr.imm, OPS[instr.op].access_size)
        t.ins().store(WASM_HEAP, value, addr, 0, ir_op)
    return handle


def memory_size(t: FunctionState, instr: Instr) -> None:
    memory = instr.imm
    ins = t.ins()
    length = ins.global_value(t.env.memory_length(memory))
    page_bits = t.env.memory_page_size_log2(memory)
    pages = ins.ushr_imm(length, page_bits) if page_bits else length
    t.push(pages if t.env.memory_is_64(memory) else ins.ireduce(I32, pages))


def memory_grow(t: FunctionState, instr: Instr) -> None:
    memory = instr.imm
    delta = t.to_i64(t.pop())
    (old,) = t.libcall(lc.MEMORY_GROW, [t.const64(memory), delta])
    t.push(old if t.env.memory_is_64(memory) else t.ins().ireduce(I32, old))


def out_of_bounds(t: FunctionState, length: Value, start: Value, size: Value,
                  narrow: bool) -> Value:
    """An i8 that is nonzero when the byte range ``[start, start + size)`` (i64 values)
    does not lie within ``length`` bytes. ``narrow``: both come from 32-bit values, so
    their sum cannot wrap an i64."""
    ins = t.ins()
    if narrow:
        return ins.icmp("ugt", ins.iadd(start, size), length)
    too_long = ins.icmp("ugt", size, length)
    past_end = ins.icmp("ugt", start, ins.isub(length, size))
    return ins.bor(too_long, past_end)


def memory_fill(t: FunctionState, instr: Instr) -> None:
    memory = instr.imm
    length, value, dst = t.pop(), t.pop(), t.pop()
    if not t.env.info.config.inline_bulk_memory:
        t.libcall(lc.MEMORY_FILL, [t.const64(memory), t.to_i64(dst), value, t.to_i64(length)])
        return
    start, size = t.to_i64(dst), t.to_i64(length)
    ins = t.ins()
    current = ins.global_value(t.env.memory_length(memory))
    narrow = not t.env.memory_is_64(memory)
    ins.trapnz(out_of_bounds(t, current, start, size, narrow), TrapCode.MEMORY_OUT_OF_BOUNDS)
    address = ins.iadd(ins.global_value(t.env.memory_base(memory)), start)
    ins.memset(address, ins.ireduce(I8, value), size)


def memory_copy(t: FunctionState, instr: Instr) -> None:
    dst_memory, src_memory = instr.imm
    length, src, dst = t.pop(), t.pop(), t.pop()
    if not t.env.info.config.inline_bulk_memory:
        t.libcall(lc.MEMORY_COPY, [t.const64(dst_memory), t.const64(src_memory),
                                   t.to_i64(dst), t.to_i64(src), t.to_i64(length)])
        return
    to, origin, size = t.to_i64(dst), t.to_i64(src), t.to_i64(length)
    ins = t.ins()
    env = t.env
    dst_length = ins.global_value(env.memory_length(dst_memory))
    src_length = (dst_length if src_memory == dst_memory
                  else ins.global_value(env.memory_length(src_memory)))
    # The length is i32 when either memory is 32-bit; an index is i32 in a 32-bit memory.
    dst_oob = out_of_bounds(t, dst_length, to, size, not env.memory_is_64(dst_memory))
    src_oob = out_of_bounds(t, src_length, origin, size, not env.memory_is_64(src_memory))
    ins.trapnz(ins.bor(dst_oob, src_oob), TrapCode.MEMORY_OUT_OF_BOUNDS)
    dst_base = ins.global_value(env.memory_base(dst_memory))
    src_base = (dst_base if src_memory == dst_memory
                else ins.global_value(env.memory_base(src_memory)))
    ins.memmove(ins.iadd(dst_base, to), ins.iadd(src_base, origin), size)


def memory_init(t: FunctionState, instr: Instr) -> None:
    data, memory = instr.imm
    length, src, dst = t.pop(), t.pop(), t.pop()
    t.libcall(lc.MEMORY_INIT, [t.const64(memory), t.const64(data), t.to_i64(dst),
                               t.to_i64(src), t.to_i64(length)])


def data_drop(t: FunctionState, instr: Instr) -> None:
    t.libcall(lc.DATA_DROP, [t.const64(instr.imm)])
