"""Direct tier 0: linear memory.

A static heap (``translate/env.uses_static_heap``) is reached without checks through its
base, loaded once per function (it never moves); the guard pages make an out-of-bounds
access fault, and an offset too large for them gets the explicit check
``ir/legalize.py`` makes.  A dynamic heap is checked against its current length and its
base loaded at each access (``memory.grow`` may move it).  Accesses are ``volatile``
(``jit/lower.py`` says why); ``memory.fill``/``memory.copy`` are the IR path's inline
form (range checks, then ``llvm.memset``/``llvm.memmove``)."""

from __future__ import annotations

from typing import Any

from pyjitwasm.baseline.function import (
    FENCE,
    HEAP,
    INVARIANT,
    PREFIX,
    RUNTIME,
    FunctionEmitter,
    Handler,
    Unsupported,
)
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.module_info import uses_static_heap
from pyjitwasm.wasm import opcodes as op

# Memory ------------------------------------------------------------------------------------

def _memory(e: FunctionEmitter, memory: int) -> tuple[str, str, bool]:
    """(address of the base pointer, address of the length, static?) of ``memory``."""
    mtype = e.info.memory_types[memory]
    if mtype.is_64:
        raise Unsupported("memory64")
    layout = e.layout
    if memory < layout.num_imported_memories:
        owner = e.vmctx_field(layout.imported_memory(memory))
        at = 0
    else:
        owner, at = "%vmctx", layout.memory(memory - layout.num_imported_memories)
    base = e.field_address(owner, at + vm.MEMORY_DEF_BASE)
    length = e.field_address(owner, at + vm.MEMORY_DEF_LENGTH)
    return base, length, uses_static_heap(e.info.config.style, mtype)


def _address(e: FunctionEmitter, memarg: Any, size: int) -> str:
    """Pop the index; the checked address of a ``size``-byte access (``ir/legalize``'s
    ``heap_addr``)."""
    index = e.stack.pop()
    base_at, length_at, static = _memory(e, memarg.memory)
    offset = memarg.offset
    out = e.out
    n = e.fresh("")
    if index[0] == "%":
        out.append(f"  %x{n} = zext i32 {index} to i64")
        index64 = f"%x{n}"
    else:
        index64 = str(int(index) & 0xFFFFFFFF)
    end = offset + size
    config = e.info.config
    if static:
        if (1 << 32) - 1 + end > config.static_bound + config.guard:
            if end > config.static_bound:
                cond = "true"
            else:
                cond = f"%xc{n}"
                out.append(f"  {cond} = icmp ugt i64 {index64}, {config.static_bound - end}")
            e.trap_if(cond, TrapCode.MEMORY_OUT_OF_BOUNDS)
        base = e.hoist(f"mb{memarg.memory}", lambda name: [
            f"  {name} = load ptr, ptr {base_at}, align 8{INVARIANT}"])
    else:
        out.append(f"  %xe{n} = add i64 {index64}, {end}")
        out.append(f"  %xl{n} = load i64, ptr {length_at}, align 8{RUNTIME}")
        out.append(f"  %xc{n} = icmp ugt i64 %xe{n}, %xl{n}")
        e.trap_if(f"%xc{n}", TrapCode.MEMORY_OUT_OF_BOUNDS)
        base = f"%xb{n}"
        out.append(f"  {base} = load ptr, ptr {base_at}, align 8{RUNTIME}")
    out.append(f"  %p{n} = getelementptr i8, ptr {base}, i64 {index64}")
    if offset:
        out.append(f"  %q{n} = getelementptr i8, ptr %p{n}, i64 {offset}")
        return f"%q{n}"
    return f"%p{n}"


def _load(ty: str, size: int, extend: str) -> Handler:
    narrow = f"i{size * 8}"

    def handle(e: FunctionEmitter, memarg: Any) -> None:
        address = _address(e, memarg, size)
        name = e.fresh(PREFIX[ty])
        if extend:
            e.out.append(f"  {name}.n = load volatile {narrow}, ptr {address}, align 1{HEAP}"
                         f"{e.dbg}")
            e.out.append(f"  {name} = {extend} {narrow} {name}.n to {ty}")
        else:
            e.out.append(f"  {name} = load volatile {ty}, ptr {address}, align 1{HEAP}{e.dbg}")
        e.stack.append(name)
    return handle


def _store(ty: str, size: int, narrowing: bool) -> Handler:
    narrow = f"i{size * 8}"

    def handle(e: FunctionEmitter, memarg: Any) -> None:
        value = e.stack.pop()
        address = _address(e, memarg, size)
        if narrowing:
            name = e.fresh("%x")
            e.out.append(f"  {name} = trunc {ty} {value} to {narrow}")
            e.out.append(f"  store volatile {narrow} {name}, ptr {address}, align 1{HEAP}"
                         f"{e.dbg}")
        else:
            e.out.append(f"  store volatile {ty} {value}, ptr {address}, align 1{HEAP}{e.dbg}")
    return handle


def memory_size(e: FunctionEmitter, memory: int) -> None:
    _, length_at, _ = _memory(e, memory)
    n = e.fresh("")
    out = e.out
    out.append(f"  %x{n} = load i64, ptr {length_at}, align 8{RUNTIME}")
    shift = e.info.memory_types[memory].page_size_log2
    out.append(f"  %xs{n} = lshr i64 %x{n}, {shift}")
    out.append(f"  %i{n} = trunc i64 %xs{n} to i32")
    e.stack.append(f"%i{n}")


def memory_grow(e: FunctionEmitter, memory: int) -> None:
    _memory(e, memory)  # coverage check
    delta = e.stack.pop()
    grow = e.libcall(lc.MEMORY_GROW)
    n = e.fresh("")
    out = e.out
    out.append(f"  %x{n} = zext i32 {delta} to i64")
    out.append(f"  %xr{n} = call i64 {grow}(ptr %vmctx, i64 {memory}, i64 %x{n}){e.dbg}")
    out.append(f"  %i{n} = trunc i64 %xr{n} to i32")
    e.stack.append(f"%i{n}")


def _memory_base(e: FunctionEmitter, memory: int, base_at: str, static: bool) -> str:
    """Memory ``memory``'s base address: loaded once for a static heap (it never
    moves), at each use for a dynamic one (``memory.grow`` may move it)."""
    if static:
        return e.hoist(f"mb{memory}", lambda name: [
            f"  {name} = load ptr, ptr {base_at}, align 8{INVARIANT}"])
    base = e.fresh("%xb")
    e.out.append(f"  {base} = load ptr, ptr {base_at}, align 8{RUNTIME}")
    return base


def _range_check(e: FunctionEmitter, length_at: str, start: str, size: str) -> str:
    """An i1: the byte range [start, start + size) of i64 values that come from i32s
    (so the sum cannot wrap) ends past the memory's current length."""
    n = e.fresh("")
    out = e.out
    out.append(f"  %xe{n} = add i64 {start}, {size}")
    out.append(f"  %xl{n} = load i64, ptr {length_at}, align 8{RUNTIME}")
    out.append(f"  %xc{n} = icmp ugt i64 %xe{n}, %xl{n}")
    return f"%xc{n}"


def _widen(e: FunctionEmitter, value: str) -> str:
    if value[0] != "%":
        return str(int(value) & 0xFFFFFFFF)
    name = e.fresh("%x")
    e.out.append(f"  {name} = zext i32 {value} to i64")
    return name


def memory_fill(e: FunctionEmitter, memory: int) -> None:
    """Checked against the current length (nothing is written out of bounds), then
    ``llvm.memset`` (``translate/memory.py``'s inline form)."""
    if not e.info.config.inline_bulk_memory:
        raise Unsupported("memory.fill through the libcall")
    base_at, length_at, static = _memory(e, memory)
    stack = e.stack
    length, value, dst = stack.pop(), stack.pop(), stack.pop()
    start, size = _widen(e, dst), _widen(e, length)
    e.trap_if(_range_check(e, length_at, start, size), TrapCode.MEMORY_OUT_OF_BOUNDS)
    base = _memory_base(e, memory, base_at, static)
    n = e.fresh("")
    out = e.out
    out.append(f"  %xa{n} = getelementptr i8, ptr {base}, i64 {start}")
    out.append(f"  %xv{n} = trunc i32 {value} to i8")
    fn = e.intrinsic("llvm.memset.p0.i64", "void", "ptr, i8, i64, i1")
    out.append(FENCE)
    out.append(f"  call void {fn}(ptr %xa{n}, i8 %xv{n}, i64 {size}, i1 false)")


def memory_copy(e: FunctionEmitter, imm: tuple[int, int]) -> None:
    """Both ranges checked (nothing is written out of bounds), then ``llvm.memmove``."""
    if not e.info.config.inline_bulk_memory:
        raise Unsupported("memory.copy through the libcall")
    dst_memory, src_memory = imm
    dst_base_at, dst_length_at, dst_static = _memory(e, dst_memory)
    src_base_at, src_length_at, src_static = _memory(e, src_memory)
    stack = e.stack
    length, src, dst = stack.pop(), stack.pop(), stack.pop()
    to, origin, size = _widen(e, dst), _widen(e, src), _widen(e, length)
    dst_oob = _range_check(e, dst_length_at, to, size)
    src_oob = _range_check(e, src_length_at, origin, size)
    either = e.fresh("%xo")
    e.out.append(f"  {either} = or i1 {dst_oob}, {src_oob}")
    e.trap_if(either, TrapCode.MEMORY_OUT_OF_BOUNDS)
    dst_base = _memory_base(e, dst_memory, dst_base_at, dst_static)
    src_base = dst_base if src_memory == dst_memory else \
        _memory_base(e, src_memory, src_base_at, src_static)
    n = e.fresh("")
    out = e.out
    out.append(f"  %xd{n} = getelementptr i8, ptr {dst_base}, i64 {to}")
    out.append(f"  %xs{n} = getelementptr i8, ptr {src_base}, i64 {origin}")
    fn = e.intrinsic("llvm.memmove.p0.p0.i64", "void", "ptr, ptr, i64, i1")
    out.append(FENCE)
    out.append(f"  call void {fn}(ptr %xd{n}, ptr %xs{n}, i64 {size}, i1 false)")


_LOADS = {
    op.I32_LOAD: ("i32", 4, ""), op.I64_LOAD: ("i64", 8, ""),
    op.F32_LOAD: ("float", 4, ""), op.F64_LOAD: ("double", 8, ""),
    op.I32_LOAD8_S: ("i32", 1, "sext"), op.I32_LOAD8_U: ("i32", 1, "zext"),
    op.I32_LOAD16_S: ("i32", 2, "sext"), op.I32_LOAD16_U: ("i32", 2, "zext"),
    op.I64_LOAD8_S: ("i64", 1, "sext"), op.I64_LOAD8_U: ("i64", 1, "zext"),
    op.I64_LOAD16_S: ("i64", 2, "sext"), op.I64_LOAD16_U: ("i64", 2, "zext"),
    op.I64_LOAD32_S: ("i64", 4, "sext"), op.I64_LOAD32_U: ("i64", 4, "zext"),
}
_STORES = {
    op.I32_STORE: ("i32", 4, False), op.I64_STORE: ("i64", 8, False),
    op.F32_STORE: ("float", 4, False), op.F64_STORE: ("double", 8, False),
    op.I32_STORE8: ("i32", 1, True), op.I32_STORE16: ("i32", 2, True),
    op.I64_STORE8: ("i64", 1, True), op.I64_STORE16: ("i64", 2, True),
    op.I64_STORE32: ("i64", 4, True),
}

HANDLERS: dict[int, Handler] = {
    op.MEMORY_SIZE: memory_size, op.MEMORY_GROW: memory_grow,
    op.MEMORY_FILL: memory_fill, op.MEMORY_COPY: memory_copy,
    **{code: _load(*shape) for code, shape in _LOADS.items()},
    **{code: _store(*shape) for code, shape in _STORES.items()},
}
"""This module's part of the dispatch table (``emitter.HANDLERS``)."""
