"""Entry and host shims written directly as x86-64 machine code (no LLVM).

The same functions ``jit/abi.py`` describes as LLVM IR (``entry_shim_ir``,
``host_shim_ir``), with the same symbol names and the same machine-level contract, as
LLVM's default C calling convention lowers those IR signatures (SysV x86-64): integer
and pointer arguments in rdi, rsi, rdx, rcx, r8, r9, float ones in xmm0-xmm7, the rest
on the stack in order, 8 bytes each; a result in rax or xmm0.  An i32 or f32 occupies
the low 4 bytes of its 16-byte value slot (``abi.SLOT_SIZE``), an i64, f64 or r64 the
low 8; a 32-bit value is read and written with 32-bit moves, so the upper half of a
register (which the ABI leaves undefined) never reaches a slot and a slot's upper bytes
never reach a register.

Both shims keep a frame-pointer frame (``push rbp; mov rbp, rsp``): the trap path walks
the rbp chain from ``pyjitwasm_host_call`` through a host shim to the wasm frames above
it.  The stack pointer is 16-byte aligned at every call.

Covered: any number of i32/i64/f32/f64/r64 parameters and at most one such result
(:func:`covers`).  v128 values and multiple results (a struct in registers, or through
memory) keep the LLVM shims: the caller decides per signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from pyjitwasm.ir.types import F32, F64, I32, I64, R64, Type
from pyjitwasm.jit.abi import HOST_CALL_SYMBOL, HOST_INDEX_OFFSET, SLOT_SIZE, signature_tag
from pyjitwasm.x64.asm import (
    R8,
    R9,
    R10,
    R11,
    RAX,
    RBP,
    RBX,
    RCX,
    RDI,
    RDX,
    RSI,
    RSP,
    call_reg,
    mem,
    mov_rr,
    movabs,
    push,
)
from pyjitwasm.x64.elf import ObjectFunction, write_object

_SCALARS = frozenset((I32, I64, F32, F64, R64))
_INT_ARG_REGS = (RDI, RSI, RDX, RCX, R8, R9)
_FLOAT_ARG_REGS = 8  # xmm0..xmm7

_PROLOGUE = push(RBP) + mov_rr(RBP, RSP)
_LEAVE_RET = b"\xc9\xc3"


def covers(params: Sequence[Type], results: Sequence[Type]) -> bool:
    """Whether this module makes the shims of ``params -> results`` (IR types)."""
    return len(results) <= 1 and all(t in _SCALARS for t in (*params, *results))


def _is_float(ty: Type) -> bool:
    return ty in (F32, F64)


def _load(ty: Type, reg: int, base: int, disp: int) -> bytes:
    """``reg`` (a general register or an xmm one, by ``ty``) = the value at
    ``[base + disp]``; a 32-bit load zero-extends."""
    if ty == F32:
        return mem(b"\x0f\x10", reg, base, disp, 0, b"\xf3")  # movss
    if ty == F64:
        return mem(b"\x0f\x10", reg, base, disp, 0, b"\xf2")  # movsd
    return mem(b"\x8b", reg, base, disp, 0 if ty == I32 else 1)


def _store(ty: Type, reg: int, base: int, disp: int) -> bytes:
    """``[base + disp]`` = ``reg``'s value of type ``ty`` (4 or 8 bytes)."""
    if ty == F32:
        return mem(b"\x0f\x11", reg, base, disp, 0, b"\xf3")  # movss
    if ty == F64:
        return mem(b"\x0f\x11", reg, base, disp, 0, b"\xf2")  # movsd
    return mem(b"\x89", reg, base, disp, 0 if ty == I32 else 1)


def _assign(params: Sequence[Type], int_regs_used: int) -> list[int | None]:
    """Where each parameter travels: its register (general or xmm number, by type), or
    None for the stack (the stacked ones in order, 8 bytes each)."""
    ints, floats = int_regs_used, 0
    places: list[int | None] = []
    for ty in params:
        if _is_float(ty):
            places.append(floats if floats < _FLOAT_ARG_REGS else None)
            floats += 1
        else:
            places.append(_INT_ARG_REGS[ints] if ints < len(_INT_ARG_REGS) else None)
            ints += 1
    return places


def _align16(n: int) -> int:
    return (n + 15) & ~15


def entry_shim_code(params: Sequence[Type], results: Sequence[Type]) -> bytes:
    """``void shim(ptr callee, ptr vmctx, ptr values)``: call
    ``callee(vmctx, vmctx, values[0], ...)`` and store its result into slot 0."""
    places = _assign(params, 2)  # after the callee's vmctx and caller vmctx
    stacked = [i for i, place in enumerate(places) if place is None]
    c = bytearray(_PROLOGUE)
    c += push(RBX)  # callee-saved: holds the values array across the call
    # rsp is 8 below a 16-byte boundary now; the stack arguments sit at [rsp] up.
    frame = _align16(8 + 8 * len(stacked))
    if frame > 8:
        c += b"\x48\x81\xec" + (frame - 8).to_bytes(4, "little")  # sub rsp, imm32
    c += mov_rr(RBX, RDX) + mov_rr(R11, RDI)
    for k, i in enumerate(stacked):
        ty = params[i]
        # Through rax (an xmm register would do for floats too; 8 bytes either way).
        c += _load(I32 if ty in (I32, F32) else I64, RAX, RBX, SLOT_SIZE * i)
        c += mem(b"\x89", RAX, RSP, 8 * k, 1)
    for i, place in enumerate(places):
        if place is not None:
            c += _load(params[i], place, RBX, SLOT_SIZE * i)
    c += mov_rr(RDI, RSI)  # the vmctx twice: as the callee's and as its caller's
    c += call_reg(R11)
    if results:
        c += _store(results[0], 0, RBX, 0)  # rax or xmm0: both register number 0
    c += mem(b"\x8b", RBX, RBP, -8, 1)  # mov rbx, [rbp - 8]
    c += _LEAVE_RET
    return bytes(c)


def host_shim_code(params: Sequence[Type], results: Sequence[Type]
                   ) -> tuple[bytes, list[tuple[int, str]]]:
    """A wasm-ABI function ``R shim(ptr hostctx, ptr caller, P0, ...)`` that spills its
    arguments into a values array on its stack, calls
    ``pyjitwasm_host_call(caller, hostctx->index, values)`` and returns slot 0.  Also
    the relocations (offset, symbol) of its code."""
    places = _assign(params, 2)
    slots = max(len(params), len(results), 1)
    c = bytearray(_PROLOGUE)
    # rsp is 16-byte aligned after the push; the values array is [rsp, rsp + size).
    c += b"\x48\x81\xec" + _align16(SLOT_SIZE * slots).to_bytes(4, "little")
    c += mem(b"\x8b", RAX, RDI, HOST_INDEX_OFFSET)  # mov eax, [hostctx + index]
    stacked = 0
    for i, ty in enumerate(params):
        place = places[i]
        if place is None:
            wide = I32 if ty in (I32, F32) else I64
            c += _load(wide, R10, RBP, 16 + 8 * stacked)  # above the return address
            c += _store(wide, R10, RSP, SLOT_SIZE * i)
            stacked += 1
        else:
            c += _store(ty, place, RSP, SLOT_SIZE * i)
    c += mov_rr(RDI, RSI)  # the caller's vmctx
    c += mov_rr(RSI, RAX, 0)  # mov esi, eax: the host index
    c += mov_rr(RDX, RSP)  # the values array
    relocations = [(len(c) + 2, HOST_CALL_SYMBOL)]
    c += movabs(R11, 0) + call_reg(R11)
    if results:
        c += _load(results[0], 0, RSP, 0)  # rax or xmm0
    c += _LEAVE_RET
    return bytes(c), relocations


def entry_shim_name(params: Sequence[Type], results: Sequence[Type]) -> str:
    """The entry shim's symbol (the LLVM shims' name)."""
    return "entry_" + signature_tag(params, results)


def host_shim_name(params: Sequence[Type], results: Sequence[Type]) -> str:
    """The host shim's symbol (the LLVM shims' name)."""
    return "host_" + signature_tag(params, results)


class ShimsCode(NamedTuple):
    """Shims laid out as one piece of machine code: each function 16-byte aligned, and
    the relocations (offset, symbol) that take a symbol's absolute address (a
    ``movabs``'s 8-byte immediate)."""

    code: bytes
    functions: list[ObjectFunction]
    relocations: list[tuple[int, str]]


def shims_code(entry: Sequence[tuple[Sequence[Type], Sequence[Type]]],
               host: Sequence[tuple[Sequence[Type], Sequence[Type]]]) -> ShimsCode:
    """The entry shims of signatures ``entry`` and the host shims of ``host`` (every one
    :func:`covers`), in that order, as one piece of code."""
    code = bytearray()
    functions: list[ObjectFunction] = []
    relocations: list[tuple[int, str]] = []

    def add(name: str, body: bytes, relocs: Sequence[tuple[int, str]] = ()) -> None:
        code.extend(bytes((-len(code)) % 16))  # 16-byte aligned entries
        start = len(code)
        code.extend(body)
        relocations.extend((start + at, symbol) for at, symbol in relocs)
        functions.append(ObjectFunction(name, start, len(body), True))

    for params, results in entry:
        if not covers(params, results):
            raise ValueError(f"no x64 entry shim for {params} -> {results}")
        add(entry_shim_name(params, results), entry_shim_code(params, results))
    for params, results in host:
        if not covers(params, results):
            raise ValueError(f"no x64 host shim for {params} -> {results}")
        body, relocs = host_shim_code(params, results)
        add(host_shim_name(params, results), body, relocs)
    return ShimsCode(bytes(code), functions, relocations)


def shims_object(entry: Sequence[tuple[Sequence[Type], Sequence[Type]]],
                 host: Sequence[tuple[Sequence[Type], Sequence[Type]]]) -> tuple[bytes, list[str]]:
    """:func:`shims_code` as one relocatable object, each shim a global symbol; also
    their names, in that order."""
    code, functions, relocations = shims_code(entry, host)
    return write_object(code, functions, relocations), [f.name for f in functions]


__all__ = ["ShimsCode", "covers", "entry_shim_code", "entry_shim_name", "host_shim_code",
           "host_shim_name", "shims_code", "shims_object"]
