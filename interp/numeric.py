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
from typing import Any

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


def _make_int_ops(bits: int) -> dict[str, Callable[..., int]]:
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

    return {
        "add": lambda a, b: (a + b) & mask,
        "sub": lambda a, b: (a - b) & mask,
        "mul": lambda a, b: (a * b) & mask,
        "div_s": div_s,
        "div_u": div_u,
        "rem_s": rem_s,
        "rem_u": rem_u,
        "and": lambda a, b: a & b,
        "or": lambda a, b: a | b,
        "xor": lambda a, b: a ^ b,
        "shl": lambda a, b: (a << (b & shift_mask)) & mask,
        "shr_s": shr_s,
        "shr_u": lambda a, b: a >> (b & shift_mask),
        "rotl": rotl,
        "rotr": rotr,
        "clz": clz,
        "ctz": ctz,
        "popcnt": lambda a: a.bit_count(),
        "eqz": lambda a: 1 if a == 0 else 0,
        "eq": lambda a, b: 1 if a == b else 0,
        "ne": lambda a, b: 1 if a != b else 0,
        "lt_u": lambda a, b: 1 if a < b else 0,
        "gt_u": lambda a, b: 1 if a > b else 0,
        "le_u": lambda a, b: 1 if a <= b else 0,
        "ge_u": lambda a, b: 1 if a >= b else 0,
        "lt_s": lambda a, b: 1 if (a ^ sign) < (b ^ sign) else 0,
        "gt_s": lambda a, b: 1 if (a ^ sign) > (b ^ sign) else 0,
        "le_s": lambda a, b: 1 if (a ^ sign) <= (b ^ sign) else 0,
        "ge_s": lambda a, b: 1 if (a ^ sign) >= (b ^ sign) else 0,
    }


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


def _trunc(lo: int, hi: int, mask: int, signed_range: bool) -> Callable[[float], int]:
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


def _cmp_table() -> dict[str, Callable[[Any, Any], int]]:
    return {
        "eq": lambda a, b: 1 if a == b else 0,
        "ne": lambda a, b: 1 if a != b else 0,
        "lt": lambda a, b: 1 if a < b else 0,
        "gt": lambda a, b: 1 if a > b else 0,
        "le": lambda a, b: 1 if a <= b else 0,
        "ge": lambda a, b: 1 if a >= b else 0,
    }


def _build() -> tuple[dict[int, Callable[..., Any]], dict[int, Callable[..., Any]]]:
    unary: dict[int, Callable[..., Any]] = {}
    binary: dict[int, Callable[..., Any]] = {}
    for width in (32, 64):
        ops = _make_int_ops(width)
        for name, fn in ops.items():
            code = op.OPS_BY_NAME[f"i{width}.{name}"].code
            if name in ("clz", "ctz", "popcnt", "eqz"):
                unary[code] = fn
            else:
                binary[code] = fn
    cmp = _cmp_table()
    for width in (32, 64):
        for name, fn in cmp.items():
            binary[op.OPS_BY_NAME[f"f{width}.{name}"].code] = fn
    fadd = lambda a, b: a + b  # noqa: E731
    fsub = lambda a, b: a - b  # noqa: E731
    fmul = lambda a, b: a * b  # noqa: E731
    arith = {"add": fadd, "sub": fsub, "mul": fmul, "div": fdiv}
    for name, fn in arith.items():
        binary[op.OPS_BY_NAME[f"f32.{name}"].code] = _f32(fn)
        binary[op.OPS_BY_NAME[f"f64.{name}"].code] = fn
    for width in (32, 64):
        p = f"f{width}."
        binary[op.OPS_BY_NAME[p + "min"].code] = fmin
        binary[op.OPS_BY_NAME[p + "max"].code] = fmax
        binary[op.OPS_BY_NAME[p + "copysign"].code] = _copysign
        unary[op.OPS_BY_NAME[p + "abs"].code] = math.fabs
        unary[op.OPS_BY_NAME[p + "neg"].code] = lambda a: -a
        unary[op.OPS_BY_NAME[p + "ceil"].code] = fceil
        unary[op.OPS_BY_NAME[p + "floor"].code] = ffloor
        unary[op.OPS_BY_NAME[p + "trunc"].code] = ftrunc
        unary[op.OPS_BY_NAME[p + "nearest"].code] = fnearest
    unary[op.F32_SQRT] = lambda a: f32_round(fsqrt(a))
    unary[op.F64_SQRT] = fsqrt

    unary[op.I32_WRAP_I64] = lambda a: a & M32
    unary[op.I64_EXTEND_I32_S] = lambda a: s32(a) & M64
    unary[op.I64_EXTEND_I32_U] = lambda a: a
    unary[op.I32_EXTEND8_S] = _extend(8, M32)
    unary[op.I32_EXTEND16_S] = _extend(16, M32)
    unary[op.I64_EXTEND8_S] = _extend(8, M64)
    unary[op.I64_EXTEND16_S] = _extend(16, M64)
    unary[op.I64_EXTEND32_S] = _extend(32, M64)

    ranges = {"i32_s": (-(1 << 31), (1 << 31) - 1, M32), "i32_u": (0, M32, M32),
              "i64_s": (-(1 << 63), (1 << 63) - 1, M64), "i64_u": (0, M64, M64)}
    for key, (lo, hi, mask) in ranges.items():
        dst, sign = key.split("_")
        for src in ("f32", "f64"):
            unary[op.OPS_BY_NAME[f"{dst}.trunc_{src}_{sign}"].code] = _trunc(lo, hi, mask, True)
            unary[op.OPS_BY_NAME[f"{dst}.trunc_sat_{src}_{sign}"].code] = _trunc_sat(lo, hi, mask)

    unary[op.F32_CONVERT_I32_S] = lambda a: f32_round(float(s32(a)))
    unary[op.F32_CONVERT_I32_U] = lambda a: f32_round(float(a))
    unary[op.F32_CONVERT_I64_S] = lambda a: i64_to_f32(s64(a))
    unary[op.F32_CONVERT_I64_U] = i64_to_f32
    unary[op.F64_CONVERT_I32_S] = lambda a: float(s32(a))
    unary[op.F64_CONVERT_I32_U] = float
    unary[op.F64_CONVERT_I64_S] = lambda a: float(s64(a))
    unary[op.F64_CONVERT_I64_U] = float
    unary[op.F32_DEMOTE_F64] = f32_round
    unary[op.F64_PROMOTE_F32] = fpromote
    unary[op.I32_REINTERPRET_F32] = f32_to_bits
    unary[op.I64_REINTERPRET_F64] = f64_to_bits
    unary[op.F32_REINTERPRET_I32] = f32_from_bits
    unary[op.F64_REINTERPRET_I64] = f64_from_bits
    return unary, binary


UNARY, BINARY = _build()
