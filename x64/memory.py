"""Single-pass tier 0: loads and stores on a static heap, ``memory.size``,
``memory.grow``.

Only memory 0 as a static heap (``translate/env.uses_static_heap``) is covered: its
base is loaded into r12 once per function (it never moves, ``memory.grow`` included)
and an access is ``[r12 + zext(index) + offset]`` with no check, the guard pages after
the reservation making an out-of-bounds access fault (the runtime's fault handler turns
a fault at a PC inside registered code into a heap trap).  An offset the guard pages do
not cover (``ir/legalize.py``'s explicit check), another memory, memory64 or a dynamic
heap: not covered (the batch takes the LLVM path)."""

from __future__ import annotations

from typing import Any

from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.module_info import uses_static_heap
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.x64.asm import (
    CC_A,
    CC_BE,
    LOAD32_RCX,
    LOAD64_RCX,
    MOV_RDI_RBX,
    R10,
    RAX,
    RBP,
    RBX,
    RCX,
    RDI,
    RDX,
    RSI,
    Encodings,
    heap,
    mem,
)
from pyjitwasm.x64.function import (
    LAZY_AWARE,
    LAZY_I32,
    LAZY_LOCAL,
    FunctionCompiler,
    Handler,
    Unsupported,
)


def _static_memory(e: FunctionCompiler, memory: int) -> None:
    if memory != 0:
        raise Unsupported("memory other than 0")
    mtype = e.info.memory_types[0]
    if not uses_static_heap(e.info.config.style, mtype):
        raise Unsupported("dynamic heap")


def _offset(e: FunctionCompiler, memarg: Any, size: int) -> int:
    """The access's constant offset, when the guard pages cover every index with it."""
    offset = int(memarg.offset)
    if offset + size <= e.heap_slack and memarg.memory == 0:
        return offset  # memory 0 is a static heap (checked before) and this fits
    _static_memory(e, memarg.memory)
    end = offset + size
    config = e.info.config
    if (1 << 32) - 1 + end > config.static_bound + config.guard or offset >= (1 << 31) - 16:
        raise Unsupported("offset beyond the guard pages")
    e.uses_heap = True
    # The largest access end the guard pages cover for every 32-bit index.
    e.heap_slack = min(config.static_bound + config.guard - ((1 << 32) - 1), (1 << 31) - 16)
    return offset


def _load(ty: str, opcode: bytes, w: int, size: int) -> Handler:
    """``mov eax, [index]; <opcode> rax, [r12 + rax + offset]; mov [slot], rax``; an f32
    or f64 is loaded into xmm1 instead and stays there only (``FunctionCompiler.xmm1``:
    its consumer takes the register)."""
    to_xmm1 = ty in "fd"
    if to_xmm1:
        pre = b"\xf3" if ty == "f" else b"\xf2"
        access = Encodings(lambda offset: heap(b"\x0f\x10", 1, offset, 0, pre))
    else:
        access = Encodings(lambda offset: heap(opcode, RAX, offset, w))

    def handle(e: FunctionCompiler, memarg: Any) -> None:
        offset = _offset(e, memarg, size)
        st = e.st
        j = len(st) - 1
        st[-1] = ty
        e.load_heap_index(j)
        c = e.c
        if e.xmm >= j:
            e.xmm = -1
        if to_xmm1:
            if e.xmm1 >= 0 and e.xmm1_dirty:
                # Another operand's value, still alive: into xmm0 if that is free (the
                # usual ``load; load; op``), else into its slot.
                if e.xmm < 0 or not e.xmm_dirty:
                    c += b"\x0f\x28\xc1"  # movaps xmm0, xmm1
                    e.xmm = e.xmm1
                    e.xmm_dirty = True
                    e.xmm_local = 0
                else:
                    e.spill_xmm1()
            c += access[offset]
            e.rax = -1  # it holds the index
            e.xmm1 = j
            e.xmm1_dirty = True
        else:
            c += access[offset]
            e.rax = j
            e.rax_dirty = True  # the slot is written only if needed (``spill_rax``)
            if e.xmm1 >= j:
                e.xmm1 = -1
    return handle


def _float_store(xmm: int, pre: bytes) -> Encodings:
    """offset -> ``movss/movsd [r12 + rax + offset], xmm``."""
    return Encodings(lambda offset: heap(b"\x0f\x11", xmm, offset, 0, pre))


def _store(opcode: bytes, w: int, size: int, pre: bytes) -> Handler:
    """``mov eax, [index]; mov rcx, [value]; mov [r12 + rax + offset], cl/cx/ecx/rcx``; an
    f32/f64 value that xmm0 or xmm1 holds is stored from there (``movss``/``movsd``)."""

    access = Encodings(lambda offset: heap(opcode, RCX, offset, w, pre))
    # A value of at most 4 bytes is read as 4: an i32 slot written by a 4-byte store
    # and read by an 8-byte load would miss store-to-load forwarding.
    load_value = LOAD64_RCX if size == 8 else LOAD32_RCX
    float_pre = {4: b"\xf3", 8: b"\xf2"}.get(size, b"")
    from_xmm = [_float_store(xmm, float_pre) for xmm in (0, 1)]

    def handle(e: FunctionCompiler, memarg: Any) -> None:
        offset = _offset(e, memarg, size)
        st = e.st
        j = len(st) - 1
        floating = st[j] in "fd"
        del st[-2:]
        c = e.c
        lazy = e.lazy.pop(j, None)
        xmm = -1
        if lazy is None:
            if floating and e.xmm == j:
                xmm = 0
            elif floating and e.xmm1 == j:
                xmm = 1
            elif floating and j in e.fpool:
                xmm = e.fpool.pop(j)
            elif e.rax == j:
                c += b"\x48\x89\xc1"  # mov rcx, rax
                e.rax = -1  # the value dies here: no spill for the index load
            else:
                c += load_value[e.sbase - 8 * j]
        elif lazy[0] == LAZY_LOCAL:
            c += load_value[lazy[1]]
        else:
            # mov ecx, imm32 (zero-extends) or mov rcx, simm32 (sign-extends)
            c += (b"\xb9" if lazy[0] == LAZY_I32 else b"\x48\xc7\xc1") \
                + (lazy[1] & 0xFFFFFFFF).to_bytes(4, "little")
        e.load_heap_index(j - 1)
        if xmm < 0:
            c += access[offset]
        elif xmm < 2:
            c += from_xmm[xmm][offset]
        else:
            c += heap(b"\x0f\x11", xmm, offset, 0, float_pre)
        e.rax = -1
        if e.xmm >= j - 1:
            e.xmm = -1
        if e.xmm1 >= j - 1:
            e.xmm1 = -1
    return handle


def _memory_owner(e: FunctionCompiler, memory: int) -> tuple[int, int]:
    """(register, displacement) of memory ``memory``'s definition (rdx for an import)."""
    layout = e.layout
    if memory < layout.num_imported_memories:
        e.load_vmctx_field(RDX, layout.imported_memory(memory))
        return RDX, 0
    return RBX, layout.memory(memory - layout.num_imported_memories)


def memory_size(e: FunctionCompiler, memory: int) -> None:
    _static_memory(e, memory)
    base, at = _memory_owner(e, memory)
    shift = e.info.memory_types[memory].page_size_log2
    d = e.push("i")
    # mov rax, [length]; shr rax, shift; mov [slot], eax
    e.c += mem(b"\x8b", RAX, base, at + vm.MEMORY_DEF_LENGTH, 1) \
        + b"\x48\xc1\xe8" + bytes((shift,)) + mem(b"\x89", RAX, RBP, d)


def memory_grow(e: FunctionCompiler, memory: int) -> None:
    _static_memory(e, memory)
    a = e.top()
    c = e.c
    # libcall_memory_grow(vmctx, memory, zext(delta)) -> old pages or -1
    c += mem(b"\x8b", RDX, RBP, a) + MOV_RDI_RBX + b"\x31\xf6"  # xor esi, esi
    e.call_symbol(lc.MEMORY_GROW.symbol)
    c += mem(b"\x89", RAX, RBP, a)


_LOADS: dict[int, tuple[str, bytes, int, int]] = {
    op.I32_LOAD: ("i", b"\x8b", 0, 4), op.I64_LOAD: ("l", b"\x8b", 1, 8),
    op.F32_LOAD: ("f", b"\x8b", 0, 4), op.F64_LOAD: ("d", b"\x8b", 1, 8),
    op.I32_LOAD8_S: ("i", b"\x0f\xbe", 0, 1), op.I32_LOAD8_U: ("i", b"\x0f\xb6", 0, 1),
    op.I32_LOAD16_S: ("i", b"\x0f\xbf", 0, 2), op.I32_LOAD16_U: ("i", b"\x0f\xb7", 0, 2),
    op.I64_LOAD8_S: ("l", b"\x0f\xbe", 1, 1), op.I64_LOAD8_U: ("l", b"\x0f\xb6", 0, 1),
    op.I64_LOAD16_S: ("l", b"\x0f\xbf", 1, 2), op.I64_LOAD16_U: ("l", b"\x0f\xb7", 0, 2),
    op.I64_LOAD32_S: ("l", b"\x63", 1, 4), op.I64_LOAD32_U: ("l", b"\x8b", 0, 4),
}
_STORES: dict[int, tuple[bytes, int, int, bytes]] = {
    op.I32_STORE: (b"\x89", 0, 4, b""), op.I64_STORE: (b"\x89", 1, 8, b""),
    op.F32_STORE: (b"\x89", 0, 4, b""), op.F64_STORE: (b"\x89", 1, 8, b""),
    op.I32_STORE8: (b"\x88", 0, 1, b""), op.I32_STORE16: (b"\x89", 0, 2, b"\x66"),
    op.I64_STORE8: (b"\x88", 0, 1, b""), op.I64_STORE16: (b"\x89", 0, 2, b"\x66"),
    op.I64_STORE32: (b"\x89", 0, 4, b""),
}

HANDLERS: dict[int, Handler] = {
    op.MEMORY_SIZE: memory_size, op.MEMORY_GROW: memory_grow,
    **{code: _load(*shape) for code, shape in _LOADS.items()},
    **{code: _store(*shape) for code, shape in _STORES.items()},
}
"""This module's part of the dispatch table (``compiler.HANDLERS``)."""


def _length_field(e: FunctionCompiler) -> tuple[int, int]:
    """(register, displacement) of memory 0's current length (r10 for an import)."""
    layout = e.layout
    if layout.num_imported_memories:
        e.load_vmctx_field(R10, layout.imported_memory(0))
        return R10, vm.MEMORY_DEF_LENGTH
    return RBX, layout.memory(0) + vm.MEMORY_DEF_LENGTH


def _check_range(e: FunctionCompiler, start: int, count: int, length: tuple[int, int]) -> None:
    """Trap unless [start, start + count) (64-bit registers holding zero-extended i32s,
    so the sum cannot wrap) lies within the memory's current length."""
    # lea rax, [start + count]; cmp rax, [length]; ja trap
    e.c += bytes((0x48 | ((start >> 3)) | ((count >> 3) << 1), 0x8D,
                  0x04 | 0, ((count & 7) << 3) | (start & 7)))
    e.c += mem(b"\x3b", RAX, length[0], length[1], 1)
    e.trap_if(CC_A, TrapCode.MEMORY_OUT_OF_BOUNDS)


def memory_fill(e: FunctionCompiler, memory: int) -> None:
    """Checked against the current length (nothing is written out of bounds), then
    ``rep stosb``."""
    _static_memory(e, memory)
    e.uses_heap = True
    size, value, dst = e.top(), e.top(1), e.top(2)
    del e.st[-3:]
    c = e.c
    length = _length_field(e)
    c += mem(b"\x8b", RDX, RBP, size) + mem(b"\x8b", RDI, RBP, dst)
    _check_range(e, RDI, RDX, length)
    c += b"\x4c\x01\xe7"  # add rdi, r12
    c += mem(b"\x8b", RAX, RBP, value) + b"\x48\x89\xd1" + b"\xf3\xaa"  # mov rcx, rdx; rep stosb


def memory_copy(e: FunctionCompiler, imm: tuple[int, int]) -> None:
    """Both ranges checked (nothing is written out of bounds), then ``rep movsb``:
    forwards, or backwards when the destination starts inside the source (memmove)."""
    dst_memory, src_memory = imm
    _static_memory(e, dst_memory)
    _static_memory(e, src_memory)
    e.uses_heap = True
    size, src, dst = e.top(), e.top(1), e.top(2)
    del e.st[-3:]
    c = e.c
    length = _length_field(e)
    c += mem(b"\x8b", RDX, RBP, size) + mem(b"\x8b", RSI, RBP, src) \
        + mem(b"\x8b", RDI, RBP, dst)
    _check_range(e, RSI, RDX, length)
    _check_range(e, RDI, RDX, length)
    c += b"\x4c\x01\xe6" b"\x4c\x01\xe7" b"\x48\x89\xd1"  # add rsi, r12; add rdi, r12; rcx
    c += b"\x48\x39\xf7"  # cmp rdi, rsi
    forward = e.jump_forward(CC_BE)
    # lea rsi, [rsi + rcx - 1]; lea rdi, [rdi + rcx - 1]; std; rep movsb; cld
    c += b"\x48\x8d\x74\x0e\xff" b"\x48\x8d\x7c\x0f\xff" b"\xfd\xf3\xa4\xfc"
    done = e.jump_forward()
    e.patch(forward, len(c))
    c += b"\xf3\xa4"
    e.patch(done, len(c))


HANDLERS[op.MEMORY_FILL] = memory_fill
HANDLERS[op.MEMORY_COPY] = memory_copy
LAZY_AWARE.update(_LOADS)
LAZY_AWARE.update(_STORES)
