"""SIMD (v128) instruction semantics for the interpreter.

A v128 value is a Python int in ``[0, 2**128)``: the vector's 16 bytes read little-endian,
so lane ``i`` of an ``N``-bit shape is bits ``[i*N, (i+1)*N)``. That is the representation
the runtime and the API already use, so vectors cross calls, locals and globals as is.

Bitwise operations, integer add/sub, shifts and lane moves work on the whole int; other
lane-wise operations view the value through one ``struct`` format per lane shape
(``int.to_bytes`` + ``Struct.unpack``, a comprehension, ``Struct.pack``). No operation
loops over bits.

NaN rules (spec, "NaN propagation"): float arithmetic (add, sub, mul, div, sqrt, min, max,
ceil, floor, trunc, nearest, demote, promote, fused multiply-add) may return any
arithmetic NaN, and must return a canonical one when every NaN input is canonical; this
module always returns the positive canonical NaN for those, so results are deterministic.
``abs``, ``neg``, ``pmin``/``pmax`` (which select one operand's lane), ``bitselect`` and
every lane move keep the exact input bits. f32 lane arithmetic is computed in double
and rounded once to f32, which is exact for + - * / and sqrt (53 >= 2*24 + 2 bits).

``UNARY``, ``BINARY`` and ``TERNARY`` map opcodes to ``fn(v...)``; the lane instructions
(``EXTRACT_LANE``, ``REPLACE_LANE``) map to factories taking the lane index, and
``shuffle`` builds the function for a shuffle's lane indices. The relaxed SIMD proposal's
instructions live in ``relaxed_simd``; memory instructions in ``simd_memops``.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Sequence
from operator import itemgetter
from struct import Struct
from typing import Any

from pyjitwasm.interp.numeric import (
    fadd,
    fceil,
    fdiv,
    ffloor,
    fmax,
    fmin,
    fmul,
    fnearest,
    fsqrt,
    fsub,
    ftrunc,
    trunc_sat_i32_s,
    trunc_sat_i32_u,
)
from pyjitwasm.runtime.floats import f32_from_bits, f32_to_bits, f64_from_bits, f64_to_bits
from pyjitwasm.wasm import opcodes as op

M128 = (1 << 128) - 1
_NAN = math.nan  # packs as the positive canonical NaN of either width

V128Fn1 = Callable[[int], int]
V128Fn2 = Callable[[int, int], int]
V128Fn3 = Callable[[int, int, int], int]

# One struct format per lane view; "s" signed, "u" unsigned.
I8S, I8U = Struct("<16b"), Struct("<16B")
I16S, I16U = Struct("<8h"), Struct("<8H")
I32S, I32U = Struct("<4i"), Struct("<4I")
I64S, I64U = Struct("<2q"), Struct("<2Q")
F32X4, F64X2 = Struct("<4f"), Struct("<2d")
_SIGNED = {8: I8S, 16: I16S, 32: I32S, 64: I64S}
_UNSIGNED = {8: I8U, 16: I16U, 32: I32U, 64: I64U}


def lanes(view: Struct, v: int) -> tuple[Any, ...]:
    """The lanes of ``v`` through a struct view."""
    return view.unpack(v.to_bytes(16, "little"))


def pack(view: Struct, values: Sequence[Any]) -> int:
    """The v128 whose lanes (through a struct view) are ``values``."""
    return int.from_bytes(view.pack(*values), "little")


def _repeat(width: int) -> int:
    """The int with a 1 at bit 0 of every ``width``-bit lane: ``x * _repeat(w)`` splats."""
    return sum(1 << (i * width) for i in range(128 // width))


# -- float packing ---------------------------------------------------------------------


def pack_f32(values: Sequence[float]) -> int:
    """Round doubles to f32 lanes (NaN -> canonical NaN; overflow -> infinity)."""
    # array('f') stores with a C cast: round to nearest even, no OverflowError.
    rounded = array("f", [x if x == x else _NAN for x in values])
    return int.from_bytes(rounded.tobytes(), "little")


def pack_f64(values: Sequence[float]) -> int:
    """Pack doubles into f64 lanes (NaN -> canonical NaN)."""
    return int.from_bytes(F64X2.pack(*[x if x == x else _NAN for x in values]), "little")


def _f32_unary(fn: Callable[[float], float]) -> V128Fn1:
    def run(a: int) -> int:
        return pack_f32([fn(x) for x in F32X4.unpack(a.to_bytes(16, "little"))])

    return run


def _f64_unary(fn: Callable[[float], float]) -> V128Fn1:
    def run(a: int) -> int:
        return pack_f64([fn(x) for x in F64X2.unpack(a.to_bytes(16, "little"))])

    return run


def _f32_binary(fn: Callable[[float, float], float]) -> V128Fn2:
    def run(a: int, b: int) -> int:
        x = F32X4.unpack(a.to_bytes(16, "little"))
        y = F32X4.unpack(b.to_bytes(16, "little"))
        return pack_f32(list(map(fn, x, y)))

    return run


def _f64_binary(fn: Callable[[float, float], float]) -> V128Fn2:
    def run(a: int, b: int) -> int:
        x = F64X2.unpack(a.to_bytes(16, "little"))
        y = F64X2.unpack(b.to_bytes(16, "little"))
        return pack_f64(list(map(fn, x, y)))

    return run


def _pmin(a: float, b: float) -> bool:
    """Whether pmin picks the second operand (``b < a``; NaN compares false)."""
    return b < a


def _pmax(a: float, b: float) -> bool:
    return a < b


def _pick(view: Struct, bits_view: Struct, take_b: Callable[[float, float], bool]) -> V128Fn2:
    """pmin/pmax: per lane, one operand's exact bits, chosen by a float comparison."""

    def run(a: int, b: int) -> int:
        ab, bb = a.to_bytes(16, "little"), b.to_bytes(16, "little")
        choose = list(map(take_b, view.unpack(ab), view.unpack(bb)))
        pairs = zip(choose, bits_view.unpack(ab), bits_view.unpack(bb), strict=True)
        picked = [y if c else x for c, x, y in pairs]
        return int.from_bytes(bits_view.pack(*picked), "little")

    return run


def _float_compare(view: Struct, mask_view: Struct, all_ones: int,
                   cmp: Callable[[float, float], bool]) -> V128Fn2:
    def run(a: int, b: int) -> int:
        x = view.unpack(a.to_bytes(16, "little"))
        y = view.unpack(b.to_bytes(16, "little"))
        return pack(mask_view, [all_ones if c else 0 for c in map(cmp, x, y)])

    return run


def _sign_bits(width: int) -> int:
    return (1 << (width - 1)) * _repeat(width)


# -- integer lanes ---------------------------------------------------------------------


class _Shape:
    """Masks of one integer lane width, for the whole-int (SWAR) operations."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.lane_mask = (1 << width) - 1
        self.rep = _repeat(width)
        self.high = _sign_bits(width)  # each lane's top bit
        self.low = M128 ^ self.high  # each lane's other bits
        self.signed = _SIGNED[width]
        self.unsigned = _UNSIGNED[width]
        lm = self.lane_mask
        self.shl_keep = [((lm << s) & lm) * self.rep for s in range(width)]
        self.shr_keep = [(lm >> s) * self.rep for s in range(width)]
        # Per lane, the top ``s`` bits: the sign fill of an arithmetic shift by ``s``.
        self.sign_fill = [((lm << (width - s)) & lm) for s in range(width)]


_SHAPES = {w: _Shape(w) for w in (8, 16, 32, 64)}


def _int_ops(width: int) -> dict[str, Any]:
    """The lane-wise integer operations of one width, by wasm name suffix."""
    sh = _SHAPES[width]
    lm, high, low = sh.lane_mask, sh.high, sh.low
    sv, uv = sh.signed, sh.unsigned
    smin, smax = -(1 << (width - 1)), (1 << (width - 1)) - 1

    def add(a: int, b: int) -> int:
        return ((a & low) + (b & low)) ^ ((a ^ b) & high)

    def sub(a: int, b: int) -> int:
        return (((a | high) - (b & low)) ^ ((a ^ ~b) & high)) & M128

    def neg(a: int) -> int:
        return sub(0, a)

    def mul(a: int, b: int) -> int:
        return pack(uv, [(x * y) & lm for x, y in zip(lanes(uv, a), lanes(uv, b), strict=True)])

    def shl(a: int, s: int) -> int:
        s &= width - 1
        return (a << s) & sh.shl_keep[s]

    def shr_u(a: int, s: int) -> int:
        s &= width - 1
        return (a >> s) & sh.shr_keep[s]

    def shr_s(a: int, s: int) -> int:
        s &= width - 1
        # Lanes with the sign bit set get their top ``s`` bits filled: one 1 per negative
        # lane (at its bit 0) times the fill pattern cannot carry into the next lane.
        return ((a >> s) & sh.shr_keep[s]) | (((a & high) >> (width - 1)) * sh.sign_fill[s])

    def compare(view: Struct, cmp: Callable[[int, int], bool]) -> V128Fn2:
        def run(a: int, b: int) -> int:
            return pack(uv, [lm if c else 0 for c in map(cmp, lanes(view, a), lanes(view, b))])

        return run

    def lanewise(view: Struct, fn: Callable[[int, int], int]) -> V128Fn2:
        def run(a: int, b: int) -> int:
            return pack(view, list(map(fn, lanes(view, a), lanes(view, b))))

        return run

    def abs_(a: int) -> int:
        return pack(uv, [abs(x) & lm for x in lanes(sv, a)])

    def all_true(a: int) -> int:
        # A lane's top bit after this is set iff the lane is non-zero.
        nonzero = (((a & low) + low) | a) & high
        return 1 if nonzero == high else 0

    def bitmask(a: int) -> int:
        return sum(1 << i for i, x in enumerate(lanes(sv, a)) if x < 0)

    def splat(x: int) -> int:
        return (x & lm) * sh.rep

    return {
        "add": add,
        "sub": sub,
        "neg": neg,
        "mul": mul,
        "shl": shl,
        "shr_s": shr_s,
        "shr_u": shr_u,
        "abs": abs_,
        "all_true": all_true,
        "bitmask": bitmask,
        "splat": splat,
        "eq": compare(uv, lambda x, y: x == y),
        "ne": compare(uv, lambda x, y: x != y),
        "lt_s": compare(sv, lambda x, y: x < y),
        "lt_u": compare(uv, lambda x, y: x < y),
        "gt_s": compare(sv, lambda x, y: x > y),
        "gt_u": compare(uv, lambda x, y: x > y),
        "le_s": compare(sv, lambda x, y: x <= y),
        "le_u": compare(uv, lambda x, y: x <= y),
        "ge_s": compare(sv, lambda x, y: x >= y),
        "ge_u": compare(uv, lambda x, y: x >= y),
        "min_s": lanewise(sv, min),
        "min_u": lanewise(uv, min),
        "max_s": lanewise(sv, max),
        "max_u": lanewise(uv, max),
        "avgr_u": lanewise(uv, lambda x, y: (x + y + 1) >> 1),
        "add_sat_s": lanewise(sv, lambda x, y: min(max(x + y, smin), smax)),
        "add_sat_u": lanewise(uv, lambda x, y: min(x + y, lm)),
        "sub_sat_s": lanewise(sv, lambda x, y: min(max(x - y, smin), smax)),
        "sub_sat_u": lanewise(uv, lambda x, y: max(x - y, 0)),
    }


I8 = _int_ops(8)
I16 = _int_ops(16)
I32 = _int_ops(32)
I64 = _int_ops(64)


def _popcnt(a: int) -> int:
    return pack(I8U, [x.bit_count() for x in lanes(I8U, a)])


def _narrow(src: Struct, dst: Struct, lo: int, hi: int) -> V128Fn2:
    """Saturating narrow: a's lanes then b's, each clamped to ``[lo, hi]``."""

    def run(a: int, b: int) -> int:
        both = lanes(src, a) + lanes(src, b)
        return pack(dst, [lo if x < lo else hi if x > hi else x for x in both])

    return run


def _extend(src: Struct, dst: Struct, high: bool) -> V128Fn1:
    """Widen the low or high half of the lanes (sign or zero extension by the views)."""

    def run(a: int) -> int:
        values = lanes(src, a)
        n = len(values) // 2
        return pack(dst, values[n:] if high else values[:n])

    return run


def _extmul(src: Struct, dst: Struct, high: bool) -> V128Fn2:
    def run(a: int, b: int) -> int:
        x, y = lanes(src, a), lanes(src, b)
        n = len(x) // 2
        if high:
            x, y = x[n:], y[n:]
        else:
            x, y = x[:n], y[:n]
        return pack(dst, [p * q for p, q in zip(x, y, strict=True)])

    return run


def _extadd_pairwise(src: Struct, dst: Struct) -> V128Fn1:
    def run(a: int) -> int:
        x = lanes(src, a)
        return pack(dst, [x[i] + x[i + 1] for i in range(0, len(x), 2)])

    return run


def _i32x4_dot_i16x8_s(a: int, b: int) -> int:
    x, y = lanes(I16S, a), lanes(I16S, b)
    return pack(
        I32U, [(x[i] * y[i] + x[i + 1] * y[i + 1]) & 0xFFFFFFFF for i in range(0, 8, 2)]
    )


def i16x8_q15mulr_sat_s(a: int, b: int) -> int:
    """Rounding Q15 multiply; only -32768 * -32768 saturates (to 32767)."""
    pairs = zip(lanes(I16S, a), lanes(I16S, b), strict=True)
    return pack(I16S, [min((x * y + 0x4000) >> 15, 0x7FFF) for x, y in pairs])


# -- bitwise, lanes, shuffles ------------------------------------------------------------


def v128_not(a: int) -> int:
    return a ^ M128


def v128_andnot(a: int, b: int) -> int:
    return a & ~b & M128


def bitselect(a: int, b: int, mask: int) -> int:
    """Bits of ``a`` where ``mask`` is 1, of ``b`` where it is 0."""
    return (a & mask) | (b & ~mask & M128)


def any_true(a: int) -> int:
    return 1 if a else 0


_ZERO_240 = bytes(240)


def swizzle(a: int, s: int) -> int:
    """Lane ``i`` is byte ``s[i]`` of ``a``, or 0 when that index is 16 or more."""
    # bytes.translate maps every index byte through a 256-entry table: a's bytes, then 0s.
    table = a.to_bytes(16, "little") + _ZERO_240
    return int.from_bytes(s.to_bytes(16, "little").translate(table), "little")


def shuffle(indices: bytes) -> V128Fn2:
    """The function of ``i8x16.shuffle`` with these 16 lane indices (each < 32)."""
    get = itemgetter(*indices)

    def run(a: int, b: int) -> int:
        return int.from_bytes(bytes(get(a.to_bytes(16, "little") + b.to_bytes(16, "little"))),
                              "little")

    return run


def _extract_int(width: int, signed: bool, result_mask: int) -> Callable[[int], V128Fn1]:
    lm = (1 << width) - 1
    sign = 1 << (width - 1)

    def factory(lane: int) -> V128Fn1:
        shift = lane * width
        if signed:
            def run(a: int) -> int:
                x = (a >> shift) & lm
                return ((x ^ sign) - sign) & result_mask
        else:
            def run(a: int) -> int:
                return (a >> shift) & lm

        return run

    return factory


def _extract_float(width: int, from_bits: Callable[[int], float]) -> Callable[[int], Any]:
    lm = (1 << width) - 1

    def factory(lane: int) -> Callable[[int], float]:
        shift = lane * width

        def run(a: int) -> float:
            return from_bits((a >> shift) & lm)

        return run

    return factory


def _replace(width: int, to_bits: Callable[[Any], int] | None) -> Callable[[int], Any]:
    lm = (1 << width) - 1

    def factory(lane: int) -> Callable[[int, Any], int]:
        shift = lane * width
        keep = M128 ^ (lm << shift)

        def run(a: int, x: Any) -> int:
            bits = to_bits(x) if to_bits is not None else x & lm
            return (a & keep) | (bits << shift)

        return run

    return factory


_REP32, _REP64 = _repeat(32), _repeat(64)


def _f32_splat(x: float) -> int:
    return f32_to_bits(x) * _REP32


def _f64_splat(x: float) -> int:
    return f64_to_bits(x) * _REP64


# -- conversions -----------------------------------------------------------------------


def _trunc_sat_f32x4(fn: Callable[[float], int]) -> V128Fn1:
    def run(a: int) -> int:
        return pack(I32U, [fn(x) for x in lanes(F32X4, a)])

    return run


def _trunc_sat_f64x2_zero(fn: Callable[[float], int]) -> V128Fn1:
    def run(a: int) -> int:
        x, y = lanes(F64X2, a)
        return fn(x) | (fn(y) << 32)

    return run


i32x4_trunc_sat_f32x4_s = _trunc_sat_f32x4(trunc_sat_i32_s)
i32x4_trunc_sat_f32x4_u = _trunc_sat_f32x4(trunc_sat_i32_u)
i32x4_trunc_sat_f64x2_s_zero = _trunc_sat_f64x2_zero(trunc_sat_i32_s)
i32x4_trunc_sat_f64x2_u_zero = _trunc_sat_f64x2_zero(trunc_sat_i32_u)


def _f32x4_convert(view: Struct) -> V128Fn1:
    def run(a: int) -> int:
        # float(int32) is exact; the f32 store rounds once.
        return pack_f32([float(x) for x in lanes(view, a)])

    return run


def _f64x2_convert_low(view: Struct) -> V128Fn1:
    def run(a: int) -> int:
        values = lanes(view, a)
        return pack_f64([float(values[0]), float(values[1])])

    return run


def _f32x4_demote_f64x2_zero(a: int) -> int:
    x, y = lanes(F64X2, a)
    return pack_f32([x, y, 0.0, 0.0])


def _f64x2_promote_low_f32x4(a: int) -> int:
    values = lanes(F32X4, a)
    return pack_f64([values[0], values[1]])


# -- tables ----------------------------------------------------------------------------

_F32_SIGNS = _sign_bits(32)
_F64_SIGNS = _sign_bits(64)


def _f32_abs(a: int) -> int:
    return a & ~_F32_SIGNS & M128


def _f32_neg(a: int) -> int:
    return a ^ _F32_SIGNS


def _f64_abs(a: int) -> int:
    return a & ~_F64_SIGNS & M128


def _f64_neg(a: int) -> int:
    return a ^ _F64_SIGNS


def _int_family(prefix: str, ops: dict[str, Any], names: str) -> dict[int, Any]:
    return {op.OPS_BY_NAME[f"{prefix}.{name}"].code: ops[name] for name in names.split()}


UNARY: dict[int, Callable[[Any], Any]] = {
    op.V128_NOT: v128_not,
    op.V128_ANY_TRUE: any_true,
    **_int_family("i8x16", I8, "abs neg all_true bitmask splat"),
    **_int_family("i16x8", I16, "abs neg all_true bitmask splat"),
    **_int_family("i32x4", I32, "abs neg all_true bitmask splat"),
    **_int_family("i64x2", I64, "abs neg all_true bitmask splat"),
    op.I8X16_POPCNT: _popcnt,
    op.F32X4_SPLAT: _f32_splat,
    op.F64X2_SPLAT: _f64_splat,
    op.F32X4_ABS: _f32_abs,
    op.F32X4_NEG: _f32_neg,
    op.F32X4_SQRT: _f32_unary(fsqrt),
    op.F32X4_CEIL: _f32_unary(fceil),
    op.F32X4_FLOOR: _f32_unary(ffloor),
    op.F32X4_TRUNC: _f32_unary(ftrunc),
    op.F32X4_NEAREST: _f32_unary(fnearest),
    op.F64X2_ABS: _f64_abs,
    op.F64X2_NEG: _f64_neg,
    op.F64X2_SQRT: _f64_unary(fsqrt),
    op.F64X2_CEIL: _f64_unary(fceil),
    op.F64X2_FLOOR: _f64_unary(ffloor),
    op.F64X2_TRUNC: _f64_unary(ftrunc),
    op.F64X2_NEAREST: _f64_unary(fnearest),
    op.I16X8_EXTEND_LOW_I8X16_S: _extend(I8S, I16S, high=False),
    op.I16X8_EXTEND_HIGH_I8X16_S: _extend(I8S, I16S, high=True),
    op.I16X8_EXTEND_LOW_I8X16_U: _extend(I8U, I16U, high=False),
    op.I16X8_EXTEND_HIGH_I8X16_U: _extend(I8U, I16U, high=True),
    op.I32X4_EXTEND_LOW_I16X8_S: _extend(I16S, I32S, high=False),
    op.I32X4_EXTEND_HIGH_I16X8_S: _extend(I16S, I32S, high=True),
    op.I32X4_EXTEND_LOW_I16X8_U: _extend(I16U, I32U, high=False),
    op.I32X4_EXTEND_HIGH_I16X8_U: _extend(I16U, I32U, high=True),
    op.I64X2_EXTEND_LOW_I32X4_S: _extend(I32S, I64S, high=False),
    op.I64X2_EXTEND_HIGH_I32X4_S: _extend(I32S, I64S, high=True),
    op.I64X2_EXTEND_LOW_I32X4_U: _extend(I32U, I64U, high=False),
    op.I64X2_EXTEND_HIGH_I32X4_U: _extend(I32U, I64U, high=True),
    op.I16X8_EXTADD_PAIRWISE_I8X16_S: _extadd_pairwise(I8S, I16S),
    op.I16X8_EXTADD_PAIRWISE_I8X16_U: _extadd_pairwise(I8U, I16U),
    op.I32X4_EXTADD_PAIRWISE_I16X8_S: _extadd_pairwise(I16S, I32S),
    op.I32X4_EXTADD_PAIRWISE_I16X8_U: _extadd_pairwise(I16U, I32U),
    op.I32X4_TRUNC_SAT_F32X4_S: i32x4_trunc_sat_f32x4_s,
    op.I32X4_TRUNC_SAT_F32X4_U: i32x4_trunc_sat_f32x4_u,
    op.I32X4_TRUNC_SAT_F64X2_S_ZERO: i32x4_trunc_sat_f64x2_s_zero,
    op.I32X4_TRUNC_SAT_F64X2_U_ZERO: i32x4_trunc_sat_f64x2_u_zero,
    op.F32X4_CONVERT_I32X4_S: _f32x4_convert(I32S),
    op.F32X4_CONVERT_I32X4_U: _f32x4_convert(I32U),
    op.F64X2_CONVERT_LOW_I32X4_S: _f64x2_convert_low(I32S),
    op.F64X2_CONVERT_LOW_I32X4_U: _f64x2_convert_low(I32U),
    op.F32X4_DEMOTE_F64X2_ZERO: _f32x4_demote_f64x2_zero,
    op.F64X2_PROMOTE_LOW_F32X4: _f64x2_promote_low_f32x4,
}
"""Opcode -> ``fn(x)`` for the SIMD instructions with one operand (splats take a scalar)."""

_INT_BINARY_8_16 = "add sub min_s min_u max_s max_u avgr_u add_sat_s add_sat_u sub_sat_s sub_sat_u"
_INT_COMPARE = "eq ne lt_s lt_u gt_s gt_u le_s le_u ge_s ge_u"

BINARY: dict[int, Callable[[Any, Any], Any]] = {
    op.V128_AND: lambda a, b: a & b,
    op.V128_OR: lambda a, b: a | b,
    op.V128_XOR: lambda a, b: a ^ b,
    op.V128_ANDNOT: v128_andnot,
    op.I8X16_SWIZZLE: swizzle,
    **_int_family("i8x16", I8, f"{_INT_BINARY_8_16} {_INT_COMPARE} shl shr_s shr_u"),
    **_int_family("i16x8", I16, f"{_INT_BINARY_8_16} {_INT_COMPARE} shl shr_s shr_u mul"),
    **_int_family("i32x4", I32, f"add sub mul min_s min_u max_s max_u {_INT_COMPARE} shl shr_s"
                                " shr_u"),
    **_int_family("i64x2", I64, "add sub mul eq ne lt_s gt_s le_s ge_s shl shr_s shr_u"),
    op.I8X16_NARROW_I16X8_S: _narrow(I16S, I8S, -128, 127),
    op.I8X16_NARROW_I16X8_U: _narrow(I16S, I8U, 0, 255),
    op.I16X8_NARROW_I32X4_S: _narrow(I32S, I16S, -32768, 32767),
    op.I16X8_NARROW_I32X4_U: _narrow(I32S, I16U, 0, 65535),
    op.I16X8_Q15MULR_SAT_S: i16x8_q15mulr_sat_s,
    op.I32X4_DOT_I16X8_S: _i32x4_dot_i16x8_s,
    op.I16X8_EXTMUL_LOW_I8X16_S: _extmul(I8S, I16S, high=False),
    op.I16X8_EXTMUL_HIGH_I8X16_S: _extmul(I8S, I16S, high=True),
    op.I16X8_EXTMUL_LOW_I8X16_U: _extmul(I8U, I16U, high=False),
    op.I16X8_EXTMUL_HIGH_I8X16_U: _extmul(I8U, I16U, high=True),
    op.I32X4_EXTMUL_LOW_I16X8_S: _extmul(I16S, I32S, high=False),
    op.I32X4_EXTMUL_HIGH_I16X8_S: _extmul(I16S, I32S, high=True),
    op.I32X4_EXTMUL_LOW_I16X8_U: _extmul(I16U, I32U, high=False),
    op.I32X4_EXTMUL_HIGH_I16X8_U: _extmul(I16U, I32U, high=True),
    op.I64X2_EXTMUL_LOW_I32X4_S: _extmul(I32S, I64S, high=False),
    op.I64X2_EXTMUL_HIGH_I32X4_S: _extmul(I32S, I64S, high=True),
    op.I64X2_EXTMUL_LOW_I32X4_U: _extmul(I32U, I64U, high=False),
    op.I64X2_EXTMUL_HIGH_I32X4_U: _extmul(I32U, I64U, high=True),
    op.F32X4_ADD: _f32_binary(fadd),
    op.F32X4_SUB: _f32_binary(fsub),
    op.F32X4_MUL: _f32_binary(fmul),
    op.F32X4_DIV: _f32_binary(fdiv),
    op.F32X4_MIN: _f32_binary(fmin),
    op.F32X4_MAX: _f32_binary(fmax),
    op.F32X4_PMIN: _pick(F32X4, I32U, _pmin),
    op.F32X4_PMAX: _pick(F32X4, I32U, _pmax),
    op.F64X2_ADD: _f64_binary(fadd),
    op.F64X2_SUB: _f64_binary(fsub),
    op.F64X2_MUL: _f64_binary(fmul),
    op.F64X2_DIV: _f64_binary(fdiv),
    op.F64X2_MIN: _f64_binary(fmin),
    op.F64X2_MAX: _f64_binary(fmax),
    op.F64X2_PMIN: _pick(F64X2, I64U, _pmin),
    op.F64X2_PMAX: _pick(F64X2, I64U, _pmax),
    op.F32X4_EQ: _float_compare(F32X4, I32U, 0xFFFFFFFF, lambda x, y: x == y),
    op.F32X4_NE: _float_compare(F32X4, I32U, 0xFFFFFFFF, lambda x, y: x != y),
    op.F32X4_LT: _float_compare(F32X4, I32U, 0xFFFFFFFF, lambda x, y: x < y),
    op.F32X4_GT: _float_compare(F32X4, I32U, 0xFFFFFFFF, lambda x, y: x > y),
    op.F32X4_LE: _float_compare(F32X4, I32U, 0xFFFFFFFF, lambda x, y: x <= y),
    op.F32X4_GE: _float_compare(F32X4, I32U, 0xFFFFFFFF, lambda x, y: x >= y),
    op.F64X2_EQ: _float_compare(F64X2, I64U, M128 >> 64, lambda x, y: x == y),
    op.F64X2_NE: _float_compare(F64X2, I64U, M128 >> 64, lambda x, y: x != y),
    op.F64X2_LT: _float_compare(F64X2, I64U, M128 >> 64, lambda x, y: x < y),
    op.F64X2_GT: _float_compare(F64X2, I64U, M128 >> 64, lambda x, y: x > y),
    op.F64X2_LE: _float_compare(F64X2, I64U, M128 >> 64, lambda x, y: x <= y),
    op.F64X2_GE: _float_compare(F64X2, I64U, M128 >> 64, lambda x, y: x >= y),
}
"""Opcode -> ``fn(x, y)`` for the SIMD instructions with two operands (x below y)."""

TERNARY: dict[int, V128Fn3] = {
    op.V128_BITSELECT: bitselect,
}
"""Opcode -> ``fn(x, y, z)`` for the SIMD instructions with three operands."""

_M32 = 0xFFFFFFFF
_M64 = (1 << 64) - 1
EXTRACT_LANE: dict[int, Callable[[int], Callable[[int], Any]]] = {
    op.I8X16_EXTRACT_LANE_S: _extract_int(8, True, _M32),
    op.I8X16_EXTRACT_LANE_U: _extract_int(8, False, _M32),
    op.I16X8_EXTRACT_LANE_S: _extract_int(16, True, _M32),
    op.I16X8_EXTRACT_LANE_U: _extract_int(16, False, _M32),
    op.I32X4_EXTRACT_LANE: _extract_int(32, False, _M32),
    op.I64X2_EXTRACT_LANE: _extract_int(64, False, _M64),
    op.F32X4_EXTRACT_LANE: _extract_float(32, f32_from_bits),
    op.F64X2_EXTRACT_LANE: _extract_float(64, f64_from_bits),
}
"""Opcode -> factory: lane index -> ``fn(v)`` giving the lane as a scalar."""

REPLACE_LANE: dict[int, Callable[[int], Callable[[int, Any], int]]] = {
    op.I8X16_REPLACE_LANE: _replace(8, None),
    op.I16X8_REPLACE_LANE: _replace(16, None),
    op.I32X4_REPLACE_LANE: _replace(32, None),
    op.I64X2_REPLACE_LANE: _replace(64, None),
    op.F32X4_REPLACE_LANE: _replace(32, f32_to_bits),
    op.F64X2_REPLACE_LANE: _replace(64, f64_to_bits),
}
"""Opcode -> factory: lane index -> ``fn(v, x)`` giving ``v`` with that lane set to ``x``."""
