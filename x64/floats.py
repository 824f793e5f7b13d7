"""Single-pass tier 0: f32/f64 constants, arithmetic, comparisons and conversions.

SSE scalar instructions on xmm0/xmm1 (``ss`` forms for f32 behind prefix F3, ``sd`` for
f64 behind F2).  Where x86 and wasm differ, the code does what the spec says:
comparisons are false on NaN (``ucomiss`` sets ZF, PF and CF on unordered, so ``eq``
also needs PF clear and ``lt``/``le`` are ``gt``/``ge`` with the operands swapped);
``min``/``max`` propagate NaN and order -0 below +0 (x86's ``minss`` does neither);
neg/abs/copysign touch the sign bit only, as integer operations; trapping float-to-int
conversions trap on NaN (invalid conversion) and out of range (integer overflow),
checked against exact bounds; u64 -> float halves large values keeping a sticky bit
so the single rounding stays exact.  Rounding (ceil/floor/trunc/nearest) needs SSE4.1's
``roundss``; without it those opcodes are not covered.
"""

from __future__ import annotations

from typing import Any

from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.x64.asm import (
    CC_A,
    CC_AE,
    CC_B,
    CC_BE,
    CC_E,
    CC_NE,
    CC_NP,
    CC_P,
    CC_S,
    RAX,
    RBP,
    RCX,
    mem,
    movabs,
    setcc,
)
from pyjitwasm.x64.function import LAZY_AWARE, LAZY_LOCAL, FunctionCompiler, Handler

_PRE = {"f": b"\xf3", "d": b"\xf2"}
MOVAPS_XMM0_XMM1 = b"\x0f\x28\xc1"


def _movs_load(ty: str, xmm: int, d: int) -> bytes:
    return mem(b"\x0f\x10", xmm, RBP, d, 0, _PRE[ty])


def _movs_store(ty: str, xmm: int, d: int) -> bytes:
    return mem(b"\x0f\x11", xmm, RBP, d, 0, _PRE[ty])


def _ucomis(ty: str) -> bytes:
    """``ucomiss/ucomisd xmm0, xmm1``."""
    return (b"\x66" if ty == "d" else b"") + b"\x0f\x2e\xc1"


def _constant_xmm1(ty: str, bits: int) -> bytes:
    """xmm1 = the float with these bits (through rcx)."""
    if ty == "f":
        return b"\xb9" + bits.to_bytes(4, "little") + b"\x66\x0f\x6e\xc9"  # movd xmm1, ecx
    return movabs(RCX, bits) + b"\x66\x48\x0f\x6e\xc9"  # movq xmm1, rcx


def f32_const(e: FunctionCompiler, bits: int) -> None:
    d = e.push("f")
    e.c += mem(b"\xc7", 0, RBP, d) + (bits & 0xFFFFFFFF).to_bytes(4, "little")


def f64_const(e: FunctionCompiler, bits: int) -> None:
    d = e.push("d")
    if e.rax_dirty:
        e.spill_rax()  # rax carries the bits
    e.rax = -1
    e.c += movabs(RAX, bits) + mem(b"\x89", RAX, RBP, d, 1)


def _take_xmm0(e: FunctionCompiler, ty: str, a: int) -> None:
    """xmm0 = operand ``a`` (wherever it is), writing out first any other value only
    xmm0 holds.  The operand in xmm1 stays there."""
    if e.xmm == a:
        return
    if e.xmm >= 0:
        e.spill_xmm()
    e.xmm = -1
    e.xmm_local = 0
    if e.xmm1 == a:
        e.c += MOVAPS_XMM0_XMM1
    elif a in e.fpool:
        e.c += bytes((0x0F, 0x28, 0xC0 | e.fpool.pop(a)))  # movaps xmm0, parked
    else:
        e.c += _movs_load(ty, 0, e.place(a))


def _arith(ty: str, opcode: bytes) -> Handler:
    """``movs xmm0, [a]; op xmm0, [b]``, with the register forms where xmm0/xmm1 hold an
    operand; the result stays in xmm0 only (``FunctionCompiler.xmm_dirty``)."""
    pre = _PRE[ty]
    with_xmm1 = pre + opcode + b"\xc1"  # op xmm0, xmm1
    with_xmm0 = pre + opcode + b"\xc0"  # op xmm0, xmm0
    into_xmm1 = pre + opcode + b"\xc8"  # op xmm1, xmm0

    def handle(e: FunctionCompiler, imm: Any) -> None:
        st = e.st
        j = len(st) - 1
        st.pop()
        c = e.c
        if e.xmm == j and e.xmm1 == j - 1:
            # The first operand in xmm1, the second in xmm0: the result in xmm1.
            c += into_xmm1
            e.xmm = -1
            e.xmm_local = 0
            e.xmm1_dirty = True
            if e.rax >= j - 1:
                e.rax = -1
            return
        _take_xmm0(e, ty, j - 1)
        lazy = e.lazy.get(j)
        if e.xmm1 == j:
            c += with_xmm1
        elif lazy is not None and lazy[0] == LAZY_LOCAL and lazy[1] == e.xmm_local:
            del e.lazy[j]  # the local's value is the first operand's, in xmm0
            c += with_xmm0
        elif j in e.fpool:
            c += pre + opcode + bytes((0xC0 | e.fpool.pop(j),))  # op xmm0, parked
        else:
            c += mem(opcode, 0, RBP, e.place(j), 0, pre)
        e.xmm = j - 1
        e.xmm_dirty = True
        e.xmm_local = 0
        if e.rax >= j - 1:
            e.rax = -1
        if e.xmm1 >= j - 1:
            e.xmm1 = -1
    return handle


def _unary_sse(ty: str, opcode: bytes, pre: bytes, tail: bytes = b"") -> Handler:
    """``op xmm0, [a] (, imm8)`` (sqrt, round, demote, promote), or ``op xmm0, xmm0/xmm1``
    where a register holds the operand; the result stays in xmm0 only."""
    from_xmm0 = pre + opcode + b"\xc0" + tail
    from_xmm1 = pre + opcode + b"\xc1" + tail

    def handle(e: FunctionCompiler, imm: Any) -> None:
        j = len(e.st) - 1
        e.st[-1] = ty
        c = e.c
        lazy = e.lazy.get(j)
        if e.xmm == j:
            c += from_xmm0
        elif lazy is not None and lazy[0] == LAZY_LOCAL and lazy[1] == e.xmm_local:
            # The local's value is in xmm0, which may also hold another live operand:
            # that one moves to xmm1 if free, else to its slot.
            if e.xmm >= 0 and e.xmm_dirty:
                if e.xmm1 < 0 or not e.xmm1_dirty:
                    c += b"\x0f\x28\xc8"  # movaps xmm1, xmm0
                    e.xmm1 = e.xmm
                    e.xmm1_dirty = True
                    e.xmm_dirty = False
                else:
                    e.spill_xmm()
            del e.lazy[j]
            c += from_xmm0
        else:
            if e.xmm >= 0:
                e.spill_xmm()
            if e.xmm1 == j:
                c += from_xmm1
            elif j in e.fpool:
                c += pre + opcode + bytes((0xC0 | e.fpool.pop(j),)) + tail
            else:
                c += mem(opcode, 0, RBP, e.place(j), 0, pre) + tail
        e.xmm = j
        e.xmm_dirty = True
        e.xmm_local = 0
        if e.rax >= j:
            e.rax = -1
        if e.xmm1 >= j:
            e.xmm1 = -1
    return handle


def _min_max(ty: str, is_min: bool) -> Handler:
    pre = _PRE[ty]
    same = b"\x0f\x56\xc1" if is_min else b"\x0f\x54\xc1"  # orps / andps xmm0, xmm1
    pick = pre + (b"\x0f\x5d\xc1" if is_min else b"\x0f\x5f\xc1")  # mins / maxs
    nan = pre + b"\x0f\x58\xc1"  # adds xmm0, xmm1: a quiet NaN

    def handle(e: FunctionCompiler, imm: Any) -> None:
        st = e.st
        b = e.sbase - 8 * (len(st) - 1)
        a = b + 8
        st.pop()
        c = e.c
        c += _movs_load(ty, 0, a) + _movs_load(ty, 1, b) + _ucomis(ty)
        unordered = e.jump_forward(CC_P)
        different = e.jump_forward(CC_NE)
        c += same  # equal: -0 and +0 meet in the sign bit
        done1 = e.jump_forward()
        e.patch(unordered, len(c))
        c += nan
        done2 = e.jump_forward()
        e.patch(different, len(c))
        c += pick
        e.patch(done1, len(c))
        e.patch(done2, len(c))
        c += _movs_store(ty, 0, a)
    return handle


def _sign(ty: str, kind: str) -> Handler:
    """neg / abs / copysign on the bits."""

    def handle(e: FunctionCompiler, imm: Any) -> None:
        c = e.c
        if kind == "copysign":
            st = e.st
            b = e.sbase - 8 * (len(st) - 1)
            a = b + 8
            st.pop()
            if ty == "f":
                c += mem(b"\x8b", RAX, RBP, a) + b"\x25\xff\xff\xff\x7f" \
                    + mem(b"\x8b", RCX, RBP, b) + b"\x81\xe1\x00\x00\x00\x80" \
                    + b"\x09\xc8" + mem(b"\x89", RAX, RBP, a)
            else:
                c += mem(b"\x8b", RAX, RBP, a, 1) + b"\x48\x0f\xba\xf0\x3f" \
                    + mem(b"\x8b", RCX, RBP, b, 1) + b"\x48\xc1\xe9\x3f\x48\xc1\xe1\x3f" \
                    + b"\x48\x09\xc8" + mem(b"\x89", RAX, RBP, a, 1)
            return
        a = e.top()
        if ty == "f":
            ext, value = (6, 0x80000000) if kind == "neg" else (4, 0x7FFFFFFF)
            c += mem(b"\x81", ext, RBP, a) + value.to_bytes(4, "little")
        else:
            ext = 7 if kind == "neg" else 6  # btc / btr qword [a], 63
            c += mem(b"\x0f\xba", ext, RBP, a, 1) + b"\x3f"
    return handle


def _compare(ty: str, kind: str) -> Handler:
    swap = kind in ("lt", "le")
    cc = {"eq": CC_E, "ne": CC_NE, "lt": CC_A, "gt": CC_A, "le": CC_AE, "ge": CC_AE}[kind]
    if kind == "eq":
        tail = setcc(CC_E, RAX) + setcc(CC_NP, RCX) + b"\x20\xc8"  # sete al; setnp cl; and
    elif kind == "ne":
        tail = setcc(CC_NE, RAX) + setcc(CC_P, RCX) + b"\x08\xc8"  # setne; setp; or
    else:
        tail = setcc(cc, RAX)
    tail += b"\x0f\xb6\xc0"  # movzx eax, al
    ucomis = (b"\x66" if ty == "d" else b"") + b"\x0f\x2e"

    def handle(e: FunctionCompiler, imm: Any) -> None:
        st = e.st
        j = len(st) - 1
        st.pop()
        st[-1] = "i"
        first, second = (j, j - 1) if swap else (j - 1, j)
        c = e.c
        if e.xmm == second:
            e.spill_xmm()  # xmm0 is about to take the first operand
        _take_xmm0(e, ty, first)
        if e.xmm1 == second:
            c += ucomis + b"\xc1"  # ucomis xmm0, xmm1
        elif second in e.fpool:
            c += ucomis + bytes((0xC0 | e.fpool.pop(second),))
        else:
            c += mem(ucomis, 0, RBP, e.place(second))
        if e.rax_dirty:
            e.spill_rax()  # setcc takes rax
        c += tail
        c += mem(b"\x89", RAX, RBP, e.sbase - 8 * (j - 1))
        e.rax = j - 1
        if e.xmm >= j - 1:
            e.xmm = -1
        if e.xmm1 >= j - 1:
            e.xmm1 = -1
    return handle


def _convert(src: str, dst: str, signed: bool) -> Handler:
    """Integer (``i``/``l``) to float (``f``/``d``)."""
    pre = _PRE[dst]

    def handle(e: FunctionCompiler, imm: Any) -> None:
        a = e.top()
        e.st[-1] = dst
        c = e.c
        if signed:
            c += mem(b"\x0f\x2a", 0, RBP, a, 1 if src == "l" else 0, pre)
        elif src == "i":
            # zero-extend, then the exact 64-bit signed conversion
            c += mem(b"\x8b", RAX, RBP, a) + pre + b"\x48\x0f\x2a\xc0"
        else:
            c += mem(b"\x8b", RAX, RBP, a, 1) + b"\x48\x85\xc0"  # test rax, rax
            large = e.jump_forward(CC_S)
            c += pre + b"\x48\x0f\x2a\xc0"  # cvtsi2s xmm0, rax
            done = e.jump_forward()
            e.patch(large, len(c))
            # rcx = (rax >> 1) | (rax & 1); convert; double
            c += b"\x48\x89\xc1\x48\xd1\xe9\x83\xe0\x01\x48\x09\xc1" + pre + b"\x48\x0f\x2a\xc1"
            c += pre + b"\x0f\x58\xc0"
            e.patch(done, len(c))
        c += _movs_store(dst, 0, a)
    return handle


# Exact bounds of the trapping conversions, as float bits.
_F32 = {"-2^31": 0xCF000000, "-2^63": 0xDF000000, "-1": 0xBF800000, "2^32": 0x4F800000,
        "2^63": 0x5F000000, "2^64": 0x5F800000}
_F64 = {"-2^31-1": 0xC1E0000000200000, "-2^63": 0xC3E0000000000000,
        "-1": 0xBFF0000000000000, "2^32": 0x41F0000000000000, "2^63": 0x43E0000000000000,
        "2^64": 0x43F0000000000000}


def _truncate(src: str, dst: str, signed: bool) -> Handler:
    """Float to integer, trapping: NaN is an invalid conversion, a value whose integer
    part does not fit an overflow."""
    pre = _PRE[src]
    bounds = _F32 if src == "f" else _F64
    wide = b"\x48" if dst == "l" else b""
    cvtt = pre + wide + b"\x0f\x2c\xc0"  # cvtts2si eax/rax, xmm0
    cvtt64 = pre + b"\x48\x0f\x2c\xc0"
    ucomis = _ucomis(src)
    self_compare = (b"\x66" if src == "d" else b"") + b"\x0f\x2e\xc0"

    def handle(e: FunctionCompiler, imm: Any) -> None:
        a = e.top()
        e.st[-1] = dst
        c = e.c
        c += _movs_load(src, 0, a)
        if signed:
            c += cvtt
            if dst == "i":
                c += b"\x3d\x00\x00\x00\x80"  # cmp eax, INT32_MIN
            else:
                c += movabs(RCX, 1 << 63) + b"\x48\x39\xc8"  # cmp rax, rcx
            fine = e.jump_forward(CC_NE)
            # The "integer indefinite" result: NaN, out of range, or really the minimum.
            c += self_compare
            e.trap_if(CC_P, TrapCode.BAD_CONVERSION_TO_INTEGER)
            if dst == "i" and src == "d":
                c += _constant_xmm1(src, bounds["-2^31-1"]) + ucomis
                e.trap_if(CC_BE, TrapCode.INTEGER_OVERFLOW)  # x <= -2^31 - 1
            else:
                lower = bounds["-2^31"] if dst == "i" else bounds["-2^63"]
                c += _constant_xmm1(src, lower) + ucomis
                e.trap_if(CC_B, TrapCode.INTEGER_OVERFLOW)  # x < -2^31 (-2^63)
            c += b"\x0f\x57\xc9" + ucomis  # xorps xmm1, xmm1: positive means too large
            e.trap_if(CC_AE, TrapCode.INTEGER_OVERFLOW)
            e.patch(fine, len(c))
        else:
            c += self_compare
            e.trap_if(CC_P, TrapCode.BAD_CONVERSION_TO_INTEGER)
            c += _constant_xmm1(src, bounds["-1"]) + ucomis
            e.trap_if(CC_BE, TrapCode.INTEGER_OVERFLOW)  # x <= -1
            c += _constant_xmm1(src, bounds["2^32" if dst == "i" else "2^64"]) + ucomis
            e.trap_if(CC_AE, TrapCode.INTEGER_OVERFLOW)
            if dst == "i":
                c += cvtt64
            else:
                c += _constant_xmm1(src, bounds["2^63"]) + ucomis
                large = e.jump_forward(CC_AE)
                c += cvtt64
                done = e.jump_forward()
                e.patch(large, len(c))
                c += pre + b"\x0f\x5c\xc1" + cvtt64 + b"\x48\x0f\xba\xf8\x3f"  # sub; btc 63
                e.patch(done, len(c))
        c += mem(b"\x89", RAX, RBP, a, 1 if dst == "l" else 0)
    return handle


def _saturate(src: str, dst: str, signed: bool) -> Handler:
    """Float to integer, saturating: NaN is 0, out of range the nearest bound."""
    pre = _PRE[src]
    bounds = _F32 if src == "f" else _F64
    wide = b"\x48" if dst == "l" else b""
    cvtt = pre + wide + b"\x0f\x2c\xc0"
    cvtt64 = pre + b"\x48\x0f\x2c\xc0"
    ucomis = _ucomis(src)
    self_compare = (b"\x66" if src == "d" else b"") + b"\x0f\x2e\xc0"
    maximum = (1 << 31) - 1 if dst == "i" else (1 << 63) - 1

    def handle(e: FunctionCompiler, imm: Any) -> None:
        a = e.top()
        e.st[-1] = dst
        c = e.c
        c += _movs_load(src, 0, a)
        ends: list[int] = []
        if signed:
            c += cvtt
            if dst == "i":
                c += b"\x3d\x00\x00\x00\x80"  # cmp eax, INT32_MIN
            else:
                c += movabs(RCX, 1 << 63) + b"\x48\x39\xc8"  # cmp rax, rcx
            ends.append(e.jump_forward(CC_NE))
            c += b"\x31\xc0" + self_compare  # NaN: 0
            ends.append(e.jump_forward(CC_P))
            c += b"\x0f\x57\xc9" + ucomis  # negative: the minimum cvtt gave
            c += movabs(RAX, 1 << 63) if dst == "l" else b"\xb8\x00\x00\x00\x80"
            ends.append(e.jump_forward(CC_B))
            c += movabs(RAX, maximum)
        else:
            c += b"\x31\xc0" + b"\x0f\x57\xc9" + ucomis  # NaN or <= 0: 0
            ends.append(e.jump_forward(CC_BE))
            c += _constant_xmm1(src, bounds["2^32" if dst == "i" else "2^64"]) + ucomis
            large = e.jump_forward(CC_AE)
            if dst == "i":
                c += cvtt64
            else:
                c += _constant_xmm1(src, bounds["2^63"]) + ucomis
                high = e.jump_forward(CC_AE)
                c += cvtt64
                ends.append(e.jump_forward())
                e.patch(high, len(c))
                c += pre + b"\x0f\x5c\xc1" + cvtt64 + b"\x48\x0f\xba\xf8\x3f"
            ends.append(e.jump_forward())
            e.patch(large, len(c))
            c += b"\x48\xc7\xc0\xff\xff\xff\xff"  # mov rax, -1 (all ones)
        for fixup in ends:
            e.patch(fixup, len(c))
        c += mem(b"\x89", RAX, RBP, a, 1 if dst == "l" else 0)
    return handle


def _retype(ty: str) -> Handler:
    """A reinterpretation (or wrap): the slot's bits stay, its type changes."""

    def handle(e: FunctionCompiler, imm: Any) -> None:
        e.st[-1] = ty
    return handle


def handlers(sse41: bool) -> dict[int, Handler]:
    """This module's part of the dispatch table; rounding only with SSE4.1."""
    table: dict[int, Handler] = {
        op.F32_CONST: f32_const, op.F64_CONST: f64_const,
        op.F32_DEMOTE_F64: _unary_sse("f", b"\x0f\x5a", b"\xf2"),
        op.F64_PROMOTE_F32: _unary_sse("d", b"\x0f\x5a", b"\xf3"),
        op.I32_REINTERPRET_F32: _retype("i"), op.I64_REINTERPRET_F64: _retype("l"),
        op.F32_REINTERPRET_I32: _retype("f"), op.F64_REINTERPRET_I64: _retype("d"),
    }
    # Constants write their slot and keep the registers' values (f64 through rax).
    LAZY_AWARE.update((op.F32_DEMOTE_F64, op.F64_PROMOTE_F32, op.F32_CONST, op.F64_CONST))
    for ty, prefix in (("f", "F32"), ("d", "F64")):
        for name, opcode in (("ADD", b"\x0f\x58"), ("SUB", b"\x0f\x5c"), ("MUL", b"\x0f\x59"),
                             ("DIV", b"\x0f\x5e")):
            table[getattr(op, f"{prefix}_{name}")] = _arith(ty, opcode)
            LAZY_AWARE.add(getattr(op, f"{prefix}_{name}"))
        for kind in ("EQ", "NE", "LT", "GT", "LE", "GE"):
            LAZY_AWARE.add(getattr(op, f"{prefix}_{kind}"))
        table[getattr(op, f"{prefix}_SQRT")] = _unary_sse(ty, b"\x0f\x51", _PRE[ty])
        LAZY_AWARE.add(getattr(op, f"{prefix}_SQRT"))
        table[getattr(op, f"{prefix}_MIN")] = _min_max(ty, True)
        table[getattr(op, f"{prefix}_MAX")] = _min_max(ty, False)
        for kind in ("neg", "abs", "copysign"):
            table[getattr(op, f"{prefix}_{kind.upper()}")] = _sign(ty, kind)
        for kind in ("eq", "ne", "lt", "gt", "le", "ge"):
            table[getattr(op, f"{prefix}_{kind.upper()}")] = _compare(ty, kind)
        if sse41:
            rounding = b"\x0f\x3a\x0a" if ty == "f" else b"\x0f\x3a\x0b"
            for name, mode in (("NEAREST", 8), ("FLOOR", 9), ("CEIL", 10), ("TRUNC", 11)):
                table[getattr(op, f"{prefix}_{name}")] = _unary_sse(
                    ty, rounding, b"\x66", bytes((mode,)))
                LAZY_AWARE.add(getattr(op, f"{prefix}_{name}"))
        for src, src_name in (("i", "I32"), ("l", "I64")):
            table[getattr(op, f"{prefix}_CONVERT_{src_name}_S")] = _convert(src, ty, True)
            table[getattr(op, f"{prefix}_CONVERT_{src_name}_U")] = _convert(src, ty, False)
            table[getattr(op, f"{src_name}_TRUNC_{prefix}_S")] = _truncate(ty, src, True)
            table[getattr(op, f"{src_name}_TRUNC_{prefix}_U")] = _truncate(ty, src, False)
            table[getattr(op, f"{src_name}_TRUNC_SAT_{prefix}_S")] = _saturate(ty, src, True)
            table[getattr(op, f"{src_name}_TRUNC_SAT_{prefix}_U")] = _saturate(ty, src, False)
    return table


__all__ = ["f32_const", "f64_const", "handlers"]
