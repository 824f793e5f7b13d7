"""Relaxed SIMD instruction semantics for the interpreter: Wasmtime's deterministic choices.

The relaxed SIMD proposal lets each of its instructions return one of a few results (the
ones cheap on common hardware). Wasmtime's ``relaxed_simd_deterministic`` mode fixes one
choice per instruction, the same on every host; the interpreter always implements that
choice, so it agrees with Wasmtime in that mode (and with itself everywhere):

- ``i8x16.relaxed_swizzle``: ``i8x16.swizzle`` (an index of 16 or more gives 0).
- ``i32x4.relaxed_trunc_f32x4_s/u``, ``i32x4.relaxed_trunc_f64x2_s/u_zero``: the
  saturating ``trunc_sat`` forms (NaN gives 0, out-of-range saturates).
- ``f32x4/f64x2.relaxed_madd``: the fused multiply-add ``a * b + c`` with one rounding;
  ``relaxed_nmadd`` is the fused ``-a * b + c``. A NaN result is the canonical NaN.
- ``i8x16/i16x8/i32x4/i64x2.relaxed_laneselect``: ``v128.bitselect`` (every mask bit
  chooses, not only each lane's top bit).
- ``f32x4/f64x2.relaxed_min/max``: ``f32x4/f64x2.min/max`` (NaN-propagating, -0 < +0).
- ``i16x8.relaxed_q15mulr_s``: ``i16x8.q15mulr_sat_s`` (-32768 * -32768 saturates).
- ``i16x8.relaxed_dot_i8x16_i7x16_s``: both operands' lanes signed; each result lane is
  ``a[2i]*b[2i] + a[2i+1]*b[2i+1]`` wrapped to 16 bits.
- ``i32x4.relaxed_dot_i8x16_i7x16_add_s``: that 16-bit dot product (wrapped), its lanes
  sign-extended and added in pairs, plus ``c``'s lane, wrapped to 32 bits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from typing import Any

from pyjitwasm.interp.simd import (
    BINARY,
    F32X4,
    F64X2,
    I8S,
    I16S,
    I32S,
    I32U,
    UNARY,
    bitselect,
    lanes,
    pack,
    pack_f32,
    pack_f64,
)
from pyjitwasm.runtime.floats import f32_round, f64_to_bits
from pyjitwasm.wasm import opcodes as op

_INF = math.inf
_isfinite = math.isfinite


def fma_f64(a: float, b: float, c: float) -> float:
    """``a * b + c`` rounded once to double (IEEE fusedMultiplyAdd, round to nearest)."""
    if not (_isfinite(a) and _isfinite(b)):
        return a * b + c  # the product is infinite or NaN: no rounding to fuse
    if not _isfinite(c):
        return c  # a finite product does not change an infinite or NaN addend
    product = Fraction(a) * Fraction(b)
    exact = product + Fraction(c)
    if exact == 0:
        # The sign of an exact zero: -0 only for -0 + -0; a cancellation gives +0.
        return a * b + c if product == 0 else 0.0
    try:
        # int / int is correctly rounded (subnormals included).
        return exact.numerator / exact.denominator
    except OverflowError:
        return _INF if exact > 0 else -_INF


def fma_f32(a: float, b: float, c: float) -> float:
    """``a * b + c`` for f32 values (as doubles), rounded once to f32."""
    p = a * b  # exact: two 24-bit significands fit in 53 bits, and the range in a double's
    s = p + c
    if _isfinite(s):
        # Round the double sum to odd, so the rounding to f32 below is the only one that
        # counts (53 >= 24 + 2 bits): TwoSum gives the double addition's exact error.
        bp = s - c
        err = (p - bp) + (c - (s - bp))
        if err != 0.0 and not f64_to_bits(s) & 1:
            s = math.nextafter(s, _INF if err > 0 else -_INF)
    return f32_round(s)


def _madd(view: Any, packer: Callable[[list[float]], int],
          fma: Callable[[float, float, float], float], negate: bool) -> Callable[..., int]:
    def run(a: int, b: int, c: int) -> int:
        x, y, z = lanes(view, a), lanes(view, b), lanes(view, c)
        if negate:
            return packer([fma(-p, q, r) for p, q, r in zip(x, y, z, strict=True)])
        return packer([fma(p, q, r) for p, q, r in zip(x, y, z, strict=True)])

    return run


def _dot_i8x16_i7x16_lanes(a: int, b: int) -> list[int]:
    """The 16-bit dot product's lanes, wrapped to 16 bits and read back signed."""
    x, y = lanes(I8S, a), lanes(I8S, b)
    out = []
    for i in range(0, 16, 2):
        d = (x[i] * y[i] + x[i + 1] * y[i + 1]) & 0xFFFF
        out.append(d - 0x10000 if d & 0x8000 else d)
    return out


def i16x8_relaxed_dot_i8x16_i7x16_s(a: int, b: int) -> int:
    return pack(I16S, _dot_i8x16_i7x16_lanes(a, b))


def i32x4_relaxed_dot_i8x16_i7x16_add_s(a: int, b: int, c: int) -> int:
    d = _dot_i8x16_i7x16_lanes(a, b)
    acc = lanes(I32S, c)
    return pack(I32U, [(d[2 * i] + d[2 * i + 1] + acc[i]) & 0xFFFFFFFF for i in range(4)])


RELAXED_UNARY: dict[int, Callable[[Any], Any]] = {
    op.I32X4_RELAXED_TRUNC_F32X4_S: UNARY[op.I32X4_TRUNC_SAT_F32X4_S],
    op.I32X4_RELAXED_TRUNC_F32X4_U: UNARY[op.I32X4_TRUNC_SAT_F32X4_U],
    op.I32X4_RELAXED_TRUNC_F64X2_S_ZERO: UNARY[op.I32X4_TRUNC_SAT_F64X2_S_ZERO],
    op.I32X4_RELAXED_TRUNC_F64X2_U_ZERO: UNARY[op.I32X4_TRUNC_SAT_F64X2_U_ZERO],
}
"""Opcode -> ``fn(x)`` for the relaxed SIMD instructions with one operand."""

RELAXED_BINARY: dict[int, Callable[[Any, Any], Any]] = {
    op.I8X16_RELAXED_SWIZZLE: BINARY[op.I8X16_SWIZZLE],
    op.F32X4_RELAXED_MIN: BINARY[op.F32X4_MIN],
    op.F32X4_RELAXED_MAX: BINARY[op.F32X4_MAX],
    op.F64X2_RELAXED_MIN: BINARY[op.F64X2_MIN],
    op.F64X2_RELAXED_MAX: BINARY[op.F64X2_MAX],
    op.I16X8_RELAXED_Q15MULR_S: BINARY[op.I16X8_Q15MULR_SAT_S],
    op.I16X8_RELAXED_DOT_I8X16_I7X16_S: i16x8_relaxed_dot_i8x16_i7x16_s,
}
"""Opcode -> ``fn(x, y)`` for the relaxed SIMD instructions with two operands."""

RELAXED_TERNARY: dict[int, Callable[[int, int, int], int]] = {
    op.F32X4_RELAXED_MADD: _madd(F32X4, pack_f32, fma_f32, negate=False),
    op.F32X4_RELAXED_NMADD: _madd(F32X4, pack_f32, fma_f32, negate=True),
    op.F64X2_RELAXED_MADD: _madd(F64X2, pack_f64, fma_f64, negate=False),
    op.F64X2_RELAXED_NMADD: _madd(F64X2, pack_f64, fma_f64, negate=True),
    op.I8X16_RELAXED_LANESELECT: bitselect,
    op.I16X8_RELAXED_LANESELECT: bitselect,
    op.I32X4_RELAXED_LANESELECT: bitselect,
    op.I64X2_RELAXED_LANESELECT: bitselect,
    op.I32X4_RELAXED_DOT_I8X16_I7X16_ADD_S: i32x4_relaxed_dot_i8x16_i7x16_add_s,
}
"""Opcode -> ``fn(x, y, z)`` for the relaxed SIMD instructions with three operands."""
