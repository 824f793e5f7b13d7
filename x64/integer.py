"""Single-pass tier 0: integer constants, arithmetic, comparisons, bit counts,
division with wasm's traps, and the conversions between i32 and i64.

Each operation loads its operands from their slots, computes in rax/rcx/rdx and stores
the result into the slot of its first operand; ``w`` (1 for i64) selects the 64-bit
forms.  x86 masks shift and rotate counts as wasm does (by 31 or 63)."""

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
    CC_G,
    CC_GE,
    CC_L,
    CC_LE,
    CC_NE,
    RAX,
    RBP,
    RCX,
    RDX,
    STORE32_RAX,
    Encodings,
    mem,
    movabs,
    rbp_table,
    setcc,
)
from pyjitwasm.x64.function import (
    LAZY_AWARE,
    LAZY_I32,
    LAZY_I64,
    LAZY_LOCAL,
    FunctionCompiler,
    Handler,
)


def i32_const(e: FunctionCompiler, value: int) -> None:
    st = e.st
    j = len(st)
    st.append("i")
    if j >= e.max_depth:
        e.max_depth = j + 1
    e.lazy[j] = (LAZY_I32, value & 0xFFFFFFFF)  # deferred, as local.get


def i64_const(e: FunctionCompiler, value: int) -> None:
    j = len(e.st)
    d = e.push("l")
    value &= 0xFFFFFFFFFFFFFFFF
    signed = value - (1 << 64) if value >> 63 else value
    if -(1 << 31) <= signed < (1 << 31):
        e.lazy[j] = (LAZY_I64, signed)
    else:
        e.spill_rax()
        e.c += movabs(RAX, value) + mem(b"\x89", RAX, RBP, d, 1)
        e.rax = j
        e.rax_dirty = False
        if e.xmm >= j:
            e.xmm = -1
        if e.xmm1 >= j:
            e.xmm1 = -1


def _apply_second(e: FunctionCompiler, j: int, apply: Encodings, immediate: bytes) -> None:
    """``op rax, operand j``: its slot, the local it defers, or an imm32 (``immediate``
    is the opcode bytes of the ``op rax, imm32`` form, REX included)."""
    lazy = e.lazy.pop(j, None)
    c = e.c
    if lazy is None:
        c += apply[e.sbase - 8 * j]
    elif lazy[0] == LAZY_LOCAL:
        c += apply[lazy[1]]
    else:
        c += immediate + (lazy[1] & 0xFFFFFFFF).to_bytes(4, "little")


def _binary(opcode: bytes, w: int, immediate: bytes) -> Handler:
    """``op rax, [b]`` (add, sub, and, or, xor, imul), or with an immediate; the result
    stays in rax only."""
    apply = rbp_table(opcode, RAX, w)
    immediate = (b"\x48" if w else b"") + immediate

    def handle(e: FunctionCompiler, imm: Any) -> None:
        st = e.st
        j = len(st) - 1
        st.pop()
        e.load_rax(j - 1, w)
        _apply_second(e, j, apply, immediate)
        e.rax = j - 1
        e.rax_dirty = True  # the slot is written only if needed (``spill_rax``)
        if e.xmm >= j - 1:
            e.xmm = -1
        if e.xmm1 >= j - 1:
            e.xmm1 = -1
    return handle


def _shift(ext: int, w: int) -> Handler:
    """``shl/shr/sar/rol/ror rax, cl`` (``ext`` is the /digit of D3)."""
    tail = (b"\x48" if w else b"") + bytes((0xD3, 0xC0 | (ext << 3)))

    def handle(e: FunctionCompiler, imm: Any) -> None:
        st = e.st
        b = e.sbase - 8 * (len(st) - 1)
        a = b + 8
        st.pop()
        e.c += mem(b"\x8b", RCX, RBP, b) + mem(b"\x8b", RAX, RBP, a, w) + tail \
            + mem(b"\x89", RAX, RBP, a, w)
    return handle


def _compare(cc: int, w: int) -> Handler:
    """``cmp rax, b; setcc al; movzx eax, al``: an i32 0/1."""
    tail = setcc(cc, RAX) + b"\x0f\xb6\xc0"
    compare = rbp_table(b"\x3b", RAX, w)
    immediate = (b"\x48" if w else b"") + b"\x3d"  # cmp rax, imm32

    def handle(e: FunctionCompiler, imm: Any) -> None:
        st = e.st
        j = len(st) - 1
        st.pop()
        st[-1] = "i"
        e.load_rax(j - 1, w)
        _apply_second(e, j, compare, immediate)
        c = e.c
        start = len(c)
        c += tail
        c += STORE32_RAX[e.sbase - 8 * (j - 1)]
        e.condition = (j - 1, start, len(c), cc)
        e.rax = j - 1
        e.rax_dirty = False
        if e.xmm >= j - 1:
            e.xmm = -1
        if e.xmm1 >= j - 1:
            e.xmm1 = -1
    return handle


def _eqz(w: int) -> Handler:
    # test rax, rax; sete al; movzx eax, al
    test = (b"\x48" if w else b"") + b"\x85\xc0"
    tail = setcc(CC_E, RAX) + b"\x0f\xb6\xc0"

    def handle(e: FunctionCompiler, imm: Any) -> None:
        j = len(e.st) - 1
        e.st[-1] = "i"
        e.load_rax(j, w)
        c = e.c
        c += test
        start = len(c)
        c += tail
        c += STORE32_RAX[e.sbase - 8 * j]
        e.condition = (j, start, len(c), CC_E)
        e.rax = j
        e.rax_dirty = False
        if e.xmm >= j:
            e.xmm = -1
        if e.xmm1 >= j:
            e.xmm1 = -1
    return handle


def _clz(w: int) -> Handler:
    # bsr rax, [a]; mov ecx, 2*bits-1; cmovz eax, ecx; xor eax, bits-1
    bits = 64 if w else 32
    rex = b"\x48" if w else b""

    def handle(e: FunctionCompiler, imm: Any) -> None:
        a = e.top()
        e.c += mem(b"\x0f\xbd", RAX, RBP, a, w) + b"\xb9" \
            + (2 * bits - 1).to_bytes(4, "little") + rex + b"\x0f\x44\xc1" + b"\x83\xf0" \
            + bytes((bits - 1,)) + mem(b"\x89", RAX, RBP, a, w)
    return handle


def _ctz(w: int) -> Handler:
    # bsf rax, [a]; mov ecx, bits; cmovz eax, ecx
    bits = 64 if w else 32
    rex = b"\x48" if w else b""

    def handle(e: FunctionCompiler, imm: Any) -> None:
        a = e.top()
        e.c += mem(b"\x0f\xbc", RAX, RBP, a, w) + b"\xb9" + bits.to_bytes(4, "little") \
            + rex + b"\x0f\x44\xc1" + mem(b"\x89", RAX, RBP, a, w)
    return handle


def _popcnt(w: int) -> Handler:
    def handle(e: FunctionCompiler, imm: Any) -> None:
        a = e.top()
        e.c += mem(b"\x0f\xb8", RAX, RBP, a, w, b"\xf3") + mem(b"\x89", RAX, RBP, a, w)
    return handle


def _divide(signed: bool, remainder: bool, w: int) -> Handler:
    """div/rem with wasm's traps: division by zero, and signed overflow (MIN / -1;
    MIN % -1 is 0, which x86's idiv would fault on)."""
    minimum = (1 << 63) if w else (1 << 31)
    rex = b"\x48" if w else b""

    def handle(e: FunctionCompiler, imm: Any) -> None:
        st = e.st
        b = e.sbase - 8 * (len(st) - 1)
        a = b + 8
        st.pop()
        c = e.c
        c += mem(b"\x8b", RCX, RBP, b, w) + rex + b"\x85\xc9"  # test rcx, rcx
        e.trap_if(CC_E, TrapCode.INTEGER_DIVISION_BY_ZERO)
        c += mem(b"\x8b", RAX, RBP, a, w)
        if not signed:
            c += b"\x31\xd2" + rex + b"\xf7\xf1"  # xor edx, edx; div rcx
        else:
            c += rex + b"\x83\xf9\xff"  # cmp rcx, -1
            not_minus_one = e.jump_forward(CC_NE)
            if remainder:
                c += b"\x31\xd2"  # MIN % -1 (and x % -1) is 0
            else:
                c += movabs(RDX, minimum) if w else b"\xba" + minimum.to_bytes(4, "little")
                c += rex + b"\x39\xd0"  # cmp rax, rdx
                e.trap_if(CC_E, TrapCode.INTEGER_OVERFLOW)
                c += rex + b"\xf7\xd8"  # neg rax
            done = e.jump_forward()
            e.patch(not_minus_one, len(c))
            c += rex + b"\x99" + rex + b"\xf7\xf9"  # cdq/cqo; idiv rcx
            e.patch(done, len(c))
        c += mem(b"\x89", RDX if remainder else RAX, RBP, a, w)
    return handle


def _extend(opcode: bytes, w: int, load_w: int) -> Handler:
    """Sign extension in place: ``movsx rax, byte/word/dword [a]``."""

    def handle(e: FunctionCompiler, imm: Any) -> None:
        a = e.top()
        e.c += mem(opcode, RAX, RBP, a, load_w) + mem(b"\x89", RAX, RBP, a, w)
    return handle


def i32_wrap_i64(e: FunctionCompiler, imm: Any) -> None:
    e.st[-1] = "i"  # the low 4 bytes are the i32


def i64_extend_i32_s(e: FunctionCompiler, imm: Any) -> None:
    a = e.top()
    e.st[-1] = "l"
    e.c += mem(b"\x63", RAX, RBP, a, 1) + mem(b"\x89", RAX, RBP, a, 1)


def i64_extend_i32_u(e: FunctionCompiler, imm: Any) -> None:
    a = e.top()
    e.st[-1] = "l"
    e.c += mem(b"\x8b", RAX, RBP, a) + mem(b"\x89", RAX, RBP, a, 1)


# op r, r/m; and op rax, imm32 (imul's three-operand form: imul eax, eax, imm32)
_ALU = {"add": (b"\x03", b"\x05"), "sub": (b"\x2b", b"\x2d"), "and": (b"\x23", b"\x25"),
        "or": (b"\x0b", b"\x0d"), "xor": (b"\x33", b"\x35"),
        "mul": (b"\x0f\xaf", b"\x69\xc0")}
_SHIFTS = {"shl": 4, "shr_s": 7, "shr_u": 5, "rotl": 0, "rotr": 1}
_CCS = {"eq": CC_E, "ne": CC_NE, "lt_s": CC_L, "lt_u": CC_B, "gt_s": CC_G, "gt_u": CC_A,
        "le_s": CC_LE, "le_u": CC_BE, "ge_s": CC_GE, "ge_u": CC_AE}


def _table() -> dict[int, Handler]:
    table: dict[int, Handler] = {op.I32_CONST: i32_const, op.I64_CONST: i64_const,
                                 op.I32_WRAP_I64: i32_wrap_i64,
                                 op.I64_EXTEND_I32_S: i64_extend_i32_s,
                                 op.I64_EXTEND_I32_U: i64_extend_i32_u}
    for prefix, w in (("I32", 0), ("I64", 1)):
        for name, (opcode, immediate) in _ALU.items():
            table[getattr(op, f"{prefix}_{name.upper()}")] = _binary(opcode, w, immediate)
            LAZY_AWARE.add(getattr(op, f"{prefix}_{name.upper()}"))
        for name in _CCS:
            LAZY_AWARE.add(getattr(op, f"{prefix}_{name.upper()}"))
        LAZY_AWARE.add(getattr(op, f"{prefix}_EQZ"))
        for name, ext in _SHIFTS.items():
            table[getattr(op, f"{prefix}_{name.upper()}")] = _shift(ext, w)
        for name, cc in _CCS.items():
            table[getattr(op, f"{prefix}_{name.upper()}")] = _compare(cc, w)
        table[getattr(op, f"{prefix}_EQZ")] = _eqz(w)
        table[getattr(op, f"{prefix}_CLZ")] = _clz(w)
        table[getattr(op, f"{prefix}_CTZ")] = _ctz(w)
        table[getattr(op, f"{prefix}_POPCNT")] = _popcnt(w)
        table[getattr(op, f"{prefix}_DIV_S")] = _divide(True, False, w)
        table[getattr(op, f"{prefix}_DIV_U")] = _divide(False, False, w)
        table[getattr(op, f"{prefix}_REM_S")] = _divide(True, True, w)
        table[getattr(op, f"{prefix}_REM_U")] = _divide(False, True, w)
    table[op.I32_EXTEND8_S] = _extend(b"\x0f\xbe", 0, 0)
    table[op.I32_EXTEND16_S] = _extend(b"\x0f\xbf", 0, 0)
    table[op.I64_EXTEND8_S] = _extend(b"\x0f\xbe", 1, 1)
    table[op.I64_EXTEND16_S] = _extend(b"\x0f\xbf", 1, 1)
    table[op.I64_EXTEND32_S] = _extend(b"\x63", 1, 1)
    LAZY_AWARE.update((op.I32_CONST, op.I64_CONST))
    return table


HANDLERS: dict[int, Handler] = _table()
"""This module's part of the dispatch table (``compiler.HANDLERS``)."""
