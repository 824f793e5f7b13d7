"""Numeric instruction semantics on the runtime value representation.

Integers are unsigned bit patterns (Python ints in ``[0, 2**N)``); floats are Python
floats (see ``runtime.floats``). Every function here takes and returns that
representation, and raises ``Trap`` where the spec traps. ``UNARY`` and ``BINARY`` map
opcodes to these functions so the interpreter can dispatch any numeric instruction
through one table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

from pyjitwasm.runtime.errors import Trap
from pyjitwasm.runtime.floats import (
    f32_from_bits,
    f32_round,
    f32_to_bits,
    f64_from_bits,
    f64_to_bits,
)
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.traps import TrapCode

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
S32 = 0x80000000
S64 = 0x8000000000000000
NAN = math.nan
INF = math.inf
_copysign = math.copysign


def s32(a: int) -> int:
    """Signed value of a 32-bit pattern."""
    return a - 0x100000000 if a & S32 else a


def s64(a: int) -> int:
    """Signed value of a 64-bit pattern."""
    return a - 0x10000000000000000 if a & S64 else a


# -- integer -----------------------------------------------------------------------------


def _div_by_zero() -> Trap:
    return Trap(TrapCode.INTEGER_DIVISION_BY_ZERO)


class IntOps(NamedTuple):
    """The integer instructions of one width, on unsigned bit patterns of that width."""

    add: Callable[[int, int], int]
    sub: Callable[[int, int], int]
    mul: Callable[[int, int], int]
    div_s: Callable[[int, int], int]
    div_u: Callable[[int, int], int]
    rem_s: Callable[[int, int], int]
    rem_u: Callable[[int, int], int]
    and_: Callable[[int, int], int]
    or_: Callable[[int, int], int]
    xor: Callable[[int, int], int]
    shl: Callable[[int, int], int]
    shr_s: Callable[[int, int], int]
    shr_u: Callable[[int, int], int]
    rotl: Callable[[int, int], int]
    rotr: Callable[[int, int], int]
    clz: Callable[[int], int]
    ctz: Callable[[int], int]
    popcnt: Callable[[int], int]
    eqz: Callable[[int], int]
    eq: Callable[[int, int], int]
    ne: Callable[[int, int], int]
    lt_s: Callable[[int, int], int]
    lt_u: Callable[[int, int], int]
    gt_s: Callable[[int, int], int]
    gt_u: Callable[[int, int], int]
    le_s: Callable[[int, int], int]
    le_u: Callable[[int, int], int]
    ge_s: Callable[[int, int], int]
    ge_u: Callable[[int, int], int]


def _int_ops(bits: int) -> IntOps:
    """The integer instructions for ``bits``-wide values (closures over the width's masks)."""
    mask = (1 << bits) - 1
    sign = 1 << (bits - 1)
    full = 1 << bits
    shift_mask = bits - 1

    def signed(a: int) -> int:
        return a - full if a & sign else a

    def div_s(a: int, b: int) -> int:
        if b == 0:
            raise _div_by_zero()
        if a == sign and b == mask:
            raise Trap(TrapCode.INTEGER_OVERFLOW)
        x = signed(a)
        y = signed(b)
        q = abs(x) // abs(y)
        return (-q if (x < 0) != (y < 0) else q) & mask

    def div_u(a: int, b: int) -> int:
        if b == 0:
            raise _div_by_zero()
        return a // b

    def rem_s(a: int, b: int) -> int:
        if b == 0:
            raise _div_by_zero()
        x = signed(a)
        r = abs(x) % abs(signed(b))
        return (-r if x < 0 else r) & mask

    def rem_u(a: int, b: int) -> int:
        if b == 0:
            raise _div_by_zero()
        return a % b

    def shr_s(a: int, b: int) -> int:
        return (signed(a) >> (b & shift_mask)) & mask

    def rotl(a: int, b: int) -> int:
        k = b & shift_mask
        return ((a << k) | (a >> (bits - k))) & mask

    def rotr(a: int, b: int) -> int:
        k = b & shift_mask
        return ((a >> k) | (a << (bits - k))) & mask

    def clz(a: int) -> int:
        return bits - a.bit_length()

    def ctz(a: int) -> int:
        return bits if a == 0 else (a & -a).bit_length() - 1

    return IntOps(
        add=lambda a, b: (a + b) & mask,
        sub=lambda a, b: (a - b) & mask,
        mul=lambda a, b: (a * b) & mask,
        div_s=div_s,
        div_u=div_u,
        rem_s=rem_s,
        rem_u=rem_u,
        and_=lambda a, b: a & b,
        or_=lambda a, b: a | b,
        xor=lambda a, b: a ^ b,
        shl=lambda a, b: (a << (b & shift_mask)) & mask,
        shr_s=shr_s,
        shr_u=lambda a, b: a >> (b & shift_mask),
        rotl=rotl,
        rotr=rotr,
        clz=clz,
        ctz=ctz,
        popcnt=lambda a: a.bit_count(),
        eqz=lambda a: 1 if a == 0 else 0,
        eq=lambda a, b: 1 if a == b else 0,
        ne=lambda a, b: 1 if a != b else 0,
        lt_s=lambda a, b: 1 if (a ^ sign) < (b ^ sign) else 0,
        lt_u=lambda a, b: 1 if a < b else 0,
        gt_s=lambda a, b: 1 if (a ^ sign) > (b ^ sign) else 0,
        gt_u=lambda a, b: 1 if a > b else 0,
        le_s=lambda a, b: 1 if (a ^ sign) <= (b ^ sign) else 0,
        le_u=lambda a, b: 1 if a <= b else 0,
        ge_s=lambda a, b: 1 if (a ^ sign) >= (b ^ sign) else 0,
        ge_u=lambda a, b: 1 if a >= b else 0,
    )


I32_OPS = _int_ops(32)
I64_OPS = _int_ops(64)


def _extend(from_bits: int, to_mask: int) -> Callable[[int], int]:
    low = (1 << from_bits) - 1
    sign = 1 << (from_bits - 1)

    def extend(a: int) -> int:
        a &= low
        return ((a ^ sign) - sign) & to_mask

    return extend


# -- float -------------------------------------------------------------------------------


def fdiv(a: float, b: float) -> float:
    """IEEE division (Python raises on a zero divisor; the spec gives inf or NaN)."""
    if b == 0.0:
        if a != a or a == 0.0:
            return NAN
        return _copysign(INF, _copysign(1.0, a) * _copysign(1.0, b))
    return a / b


def fsqrt(a: float) -> float:
    if a < 0.0:
        return NAN
    if a != a:
        return NAN
    return math.sqrt(a)


def fmin(a: float, b: float) -> float:
    if a != a or b != b:
        return NAN
    if a == b:  # -0.0 is less than +0.0 here
        return a if _copysign(1.0, a) < 0 else b
    return a if a < b else b


def fmax(a: float, b: float) -> float:
    if a != a or b != b:
        return NAN
    if a == b:
        return b if _copysign(1.0, a) < 0 else a
    return a if a > b else b


def _rounding(fn: Callable[[float], int]) -> Callable[[float], float]:
    def rounded(a: float) -> float:
        if a != a:
            return NAN
        if a == 0.0 or a in (INF, -INF):
            return a
        return _copysign(float(fn(a)), a)

    return rounded


fceil = _rounding(math.ceil)
ffloor = _rounding(math.floor)
ftrunc = _rounding(math.trunc)
fnearest = _rounding(round)  # round() is half-to-even


def fpromote(a: float) -> float:
    return a if a == a else NAN


def i64_to_f32(v: int) -> float:
    """Correctly rounded int -> f32 (a direct int -> double -> float rounds twice)."""
    n = abs(v)
    if n < 1 << 53:
        return f32_round(float(v))
    shift = n.bit_length() - 53
    # Round to odd into 53 bits: a sticky low bit keeps the second rounding correct.
    m = n >> shift
    if n & ((1 << shift) - 1):
        m |= 1
    r = f32_round(math.ldexp(float(m), shift))
    return -r if v < 0 else r


def _trunc(lo: int, hi: int, mask: int) -> Callable[[float], int]:
    # Accept x when lo - 1 < x < hi + 1, i.e. its truncation lies in [lo, hi].
    def trunc(a: float) -> int:
        if a != a:
            raise Trap(TrapCode.BAD_CONVERSION_TO_INTEGER)
        if not (lo - 1 < a < hi + 1):
            raise Trap(TrapCode.INTEGER_OVERFLOW)
        return math.trunc(a) & mask

    return trunc


def _trunc_sat(lo: int, hi: int, mask: int) -> Callable[[float], int]:
    def trunc_sat(a: float) -> int:
        if a != a:
            return 0
        if a <= lo:
            return lo & mask
        if a >= hi:
            return hi & mask
        return math.trunc(a) & mask

    return trunc_sat


def _f32(fn: Callable[[float, float], float]) -> Callable[[float, float], float]:
    def rounded(a: float, b: float) -> float:
        return f32_round(fn(a, b))

    return rounded


def fadd(a: float, b: float) -> float:
    return a + b


def fsub(a: float, b: float) -> float:
    return a - b


def fmul(a: float, b: float) -> float:
    return a * b


f32_add = _f32(fadd)
f32_sub = _f32(fsub)
f32_mul = _f32(fmul)
f32_div = _f32(fdiv)


def fneg(a: float) -> float:
    return -a


def f32_sqrt(a: float) -> float:
    return f32_round(fsqrt(a))


# Float comparisons (the result is an i32 0 or 1; any comparison with NaN but ne is 0).
def feq(a: float, b: float) -> int:
    return 1 if a == b else 0


def fne(a: float, b: float) -> int:
    return 1 if a != b else 0


def flt(a: float, b: float) -> int:
    return 1 if a < b else 0


def fgt(a: float, b: float) -> int:
    return 1 if a > b else 0


def fle(a: float, b: float) -> int:
    return 1 if a <= b else 0


def fge(a: float, b: float) -> int:
    return 1 if a >= b else 0


# Truncations to each integer type: its range (for the trapping form) and its mask.
_I32_S = (-(1 << 31), (1 << 31) - 1, M32)
_I32_U = (0, M32, M32)
_I64_S = (-(1 << 63), (1 << 63) - 1, M64)
_I64_U = (0, M64, M64)
trunc_i32_s, trunc_sat_i32_s = _trunc(*_I32_S), _trunc_sat(*_I32_S)
trunc_i32_u, trunc_sat_i32_u = _trunc(*_I32_U), _trunc_sat(*_I32_U)
trunc_i64_s, trunc_sat_i64_s = _trunc(*_I64_S), _trunc_sat(*_I64_S)
trunc_i64_u, trunc_sat_i64_u = _trunc(*_I64_U), _trunc_sat(*_I64_U)


UNARY: dict[int, Callable[[Any], Any]] = {
    op.I32_EQZ: I32_OPS.eqz,
    op.I32_CLZ: I32_OPS.clz,
    op.I32_CTZ: I32_OPS.ctz,
    op.I32_POPCNT: I32_OPS.popcnt,
    op.I64_EQZ: I64_OPS.eqz,
    op.I64_CLZ: I64_OPS.clz,
    op.I64_CTZ: I64_OPS.ctz,
    op.I64_POPCNT: I64_OPS.popcnt,
    op.F32_ABS: math.fabs,
    op.F32_NEG: fneg,
    op.F32_CEIL: fceil,
    op.F32_FLOOR: ffloor,
    op.F32_TRUNC: ftrunc,
    op.F32_NEAREST: fnearest,
    op.F32_SQRT: f32_sqrt,
    op.F64_ABS: math.fabs,
    op.F64_NEG: fneg,
    op.F64_CEIL: fceil,
    op.F64_FLOOR: ffloor,
    op.F64_TRUNC: ftrunc,
    op.F64_NEAREST: fnearest,
    op.F64_SQRT: fsqrt,
    op.I32_WRAP_I64: lambda a: a & M32,
    op.I32_TRUNC_F32_S: trunc_i32_s,
    op.I32_TRUNC_F32_U: trunc_i32_u,
    op.I32_TRUNC_F64_S: trunc_i32_s,
    op.I32_TRUNC_F64_U: trunc_i32_u,
    op.I64_EXTEND_I32_S: lambda a: s32(a) & M64,
    op.I64_EXTEND_I32_U: lambda a: a,
    op.I64_TRUNC_F32_S: trunc_i64_s,
    op.I64_TRUNC_F32_U: trunc_i64_u,
    op.I64_TRUNC_F64_S: trunc_i64_s,
    op.I64_TRUNC_F64_U: trunc_i64_u,
    op.F32_CONVERT_I32_S: lambda a: f32_round(float(s32(a))),
    op.F32_CONVERT_I32_U: lambda a: f32_round(float(a)),
    op.F32_CONVERT_I64_S: lambda a: i64_to_f32(s64(a)),
    op.F32_CONVERT_I64_U: i64_to_f32,
    op.F32_DEMOTE_F64: f32_round,
    op.F64_CONVERT_I32_S: lambda a: float(s32(a)),
    op.F64_CONVERT_I32_U: float,
    op.F64_CONVERT_I64_S: lambda a: float(s64(a)),
    op.F64_CONVERT_I64_U: float,
    op.F64_PROMOTE_F32: fpromote,
    op.I32_REINTERPRET_F32: f32_to_bits,
    op.I64_REINTERPRET_F64: f64_to_bits,
    op.F32_REINTERPRET_I32: f32_from_bits,
    op.F64_REINTERPRET_I64: f64_from_bits,
    op.I32_EXTEND8_S: _extend(8, M32),
    op.I32_EXTEND16_S: _extend(16, M32),
    op.I64_EXTEND8_S: _extend(8, M64),
    op.I64_EXTEND16_S: _extend(16, M64),
    op.I64_EXTEND32_S: _extend(32, M64),
    op.I32_TRUNC_SAT_F32_S: trunc_sat_i32_s,
    op.I32_TRUNC_SAT_F32_U: trunc_sat_i32_u,
    op.I32_TRUNC_SAT_F64_S: trunc_sat_i32_s,
    op.I32_TRUNC_SAT_F64_U: trunc_sat_i32_u,
    op.I64_TRUNC_SAT_F32_S: trunc_sat_i64_s,
    op.I64_TRUNC_SAT_F32_U: trunc_sat_i64_u,
    op.I64_TRUNC_SAT_F64_S: trunc_sat_i64_s,
    op.I64_TRUNC_SAT_F64_U: trunc_sat_i64_u,
}
"""Opcode -> ``fn(x)`` for every numeric instruction with one operand."""

BINARY: dict[int, Callable[[Any, Any], Any]] = {
    op.I32_EQ: I32_OPS.eq,
    op.I32_NE: I32_OPS.ne,
    op.I32_LT_S: I32_OPS.lt_s,
    op.I32_LT_U: I32_OPS.lt_u,
    op.I32_GT_S: I32_OPS.gt_s,
    op.I32_GT_U: I32_OPS.gt_u,
    op.I32_LE_S: I32_OPS.le_s,
    op.I32_LE_U: I32_OPS.le_u,
    op.I32_GE_S: I32_OPS.ge_s,
    op.I32_GE_U: I32_OPS.ge_u,
    op.I64_EQ: I64_OPS.eq,
    op.I64_NE: I64_OPS.ne,
    op.I64_LT_S: I64_OPS.lt_s,
    op.I64_LT_U: I64_OPS.lt_u,
    op.I64_GT_S: I64_OPS.gt_s,
    op.I64_GT_U: I64_OPS.gt_u,
    op.I64_LE_S: I64_OPS.le_s,
    op.I64_LE_U: I64_OPS.le_u,
    op.I64_GE_S: I64_OPS.ge_s,
    op.I64_GE_U: I64_OPS.ge_u,
    op.F32_EQ: feq,
    op.F32_NE: fne,
    op.F32_LT: flt,
    op.F32_GT: fgt,
    op.F32_LE: fle,
    op.F32_GE: fge,
    op.F64_EQ: feq,
    op.F64_NE: fne,
    op.F64_LT: flt,
    op.F64_GT: fgt,
    op.F64_LE: fle,
    op.F64_GE: fge,
    op.I32_ADD: I32_OPS.add,
    op.I32_SUB: I32_OPS.sub,
    op.I32_MUL: I32_OPS.mul,
    op.I32_DIV_S: I32_OPS.div_s,
    op.I32_DIV_U: I32_OPS.div_u,
    op.I32_REM_S: I32_OPS.rem_s,
    op.I32_REM_U: I32_OPS.rem_u,
    op.I32_AND: I32_OPS.and_,
    op.I32_OR: I32_OPS.or_,
    op.I32_XOR: I32_OPS.xor,
    op.I32_SHL: I32_OPS.shl,
    op.I32_SHR_S: I32_OPS.shr_s,
    op.I32_SHR_U: I32_OPS.shr_u,
    op.I32_ROTL: I32_OPS.rotl,
    op.I32_ROTR: I32_OPS.rotr,
    op.I64_ADD: I64_OPS.add,
    op.I64_SUB: I64_OPS.sub,
    op.I64_MUL: I64_OPS.mul,
    op.I64_DIV_S: I64_OPS.div_s,
    op.I64_DIV_U: I64_OPS.div_u,
    op.I64_REM_S: I64_OPS.rem_s,
    op.I64_REM_U: I64_OPS.rem_u,
    op.I64_AND: I64_OPS.and_,
    op.I64_OR: I64_OPS.or_,
    op.I64_XOR: I64_OPS.xor,
    op.I64_SHL: I64_OPS.shl,
    op.I64_SHR_S: I64_OPS.shr_s,
    op.I64_SHR_U: I64_OPS.shr_u,
    op.I64_ROTL: I64_OPS.rotl,
    op.I64_ROTR: I64_OPS.rotr,
    op.F32_ADD: f32_add,
    op.F32_SUB: f32_sub,
    op.F32_MUL: f32_mul,
    op.F32_DIV: f32_div,
    op.F32_MIN: fmin,
    op.F32_MAX: fmax,
    op.F32_COPYSIGN: _copysign,
    op.F64_ADD: fadd,
    op.F64_SUB: fsub,
    op.F64_MUL: fmul,
    op.F64_DIV: fdiv,
    op.F64_MIN: fmin,
    op.F64_MAX: fmax,
    op.F64_COPYSIGN: _copysign,
}
"""Opcode -> ``fn(x, y)`` for every numeric instruction with two operands (x below y)."""
