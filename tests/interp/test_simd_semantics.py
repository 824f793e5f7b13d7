"""The interpreter's SIMD semantics where they are easy to get wrong, checked bit for bit:
NaN bits, saturation, swizzle, shifts by the lane width, narrowing, q15mulr, memory
bounds, and the relaxed SIMD instructions' deterministic (Wasmtime) results."""

from __future__ import annotations

import random
import struct
from decimal import Decimal, localcontext
from fractions import Fraction

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store, Trap, TrapCode, Val
from pyjitwasm.interp import relaxed_simd as R
from pyjitwasm.interp import simd as S
from pyjitwasm.runtime.floats import f32_round
from pyjitwasm.wasm import opcodes as op

F32_CANONICAL = 0x7FC00000
F64_CANONICAL = 0x7FF8000000000000


def v(width: int, *lanes: int) -> int:
    """A v128 from lanes given low lane first (negative values wrap to the lane width)."""
    count = 128 // width
    values = list(lanes) * (count // len(lanes))
    mask = (1 << width) - 1
    return sum((x & mask) << (i * width) for i, x in enumerate(values))


def split(value: int, width: int) -> list[int]:
    """A v128's lanes as unsigned ints, low lane first."""
    mask = (1 << width) - 1
    return [(value >> (i * width)) & mask for i in range(128 // width)]


def signed(x: int, width: int) -> int:
    return x - (1 << width) if x >> (width - 1) else x


def f32_bits(x: float) -> int:
    return struct.unpack("<I", struct.pack("<f", x))[0]


def f64_bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def unary(code: int):
    return S.UNARY.get(code) or R.RELAXED_UNARY[code]


def binary(code: int):
    return S.BINARY.get(code) or R.RELAXED_BINARY[code]


def ternary(code: int):
    return S.TERNARY.get(code) or R.RELAXED_TERNARY[code]


def _exports(wat: str):
    store = Store(Engine(Config(strategy="interp")))
    return store, Instance(store, Module(store.engine, wat), []).exports(store)


# -- NaN bits -----------------------------------------------------------------------------


def test_float_arithmetic_nan_results_are_the_positive_canonical_nan() -> None:
    snan, neg_nan_payload, inf = 0x7FA00001, 0xFFC00123, f32_bits(float("inf"))
    a = v(32, snan, neg_nan_payload, inf, f32_bits(1.0))
    b = v(32, f32_bits(1.0), f32_bits(2.0), f32_bits(float("-inf")), f32_bits(2.0))
    assert split(binary(op.F32X4_ADD)(a, b), 32) == [F32_CANONICAL] * 3 + [f32_bits(3.0)]
    assert split(binary(op.F32X4_MIN)(a, b), 32) == [F32_CANONICAL] * 2 + [
        f32_bits(float("-inf")), f32_bits(1.0)]
    assert split(unary(op.F32X4_SQRT)(v(32, f32_bits(-1.0))), 32) == [F32_CANONICAL] * 4
    assert split(unary(op.F32X4_NEAREST)(v(32, snan)), 32) == [F32_CANONICAL] * 4
    d = v(64, 0xFFF0000000000001, f64_bits(0.0))
    out = binary(op.F64X2_DIV)(d, v(64, f64_bits(1.0), f64_bits(0.0)))
    assert split(out, 64) == [F64_CANONICAL, F64_CANONICAL]


def test_abs_neg_keep_nan_payloads() -> None:
    a = v(32, 0x7FA00001, 0xFFC00123, 0x80000000, 0x3F800000)
    assert split(unary(op.F32X4_NEG)(a), 32) == [0xFFA00001, 0x7FC00123, 0, 0xBF800000]
    assert split(unary(op.F32X4_ABS)(a), 32) == [0x7FA00001, 0x7FC00123, 0, 0x3F800000]
    d = v(64, 0xFFF0000000000001, 0x7FF4000000000000)
    assert split(unary(op.F64X2_ABS)(d), 64) == [0x7FF0000000000001, 0x7FF4000000000000]
    assert split(unary(op.F64X2_NEG)(d), 64) == [0x7FF0000000000001, 0xFFF4000000000000]


def test_pmin_pmax_return_an_operand_bit_for_bit() -> None:
    nan = 0x7FA00001
    a = v(32, nan, f32_bits(1.0), f32_bits(-0.0), f32_bits(0.0))
    b = v(32, f32_bits(1.0), nan, f32_bits(0.0), f32_bits(-0.0))
    # pmin(a, b) = b < a ? b : a; comparisons with NaN are false, -0 == +0.
    assert split(binary(op.F32X4_PMIN)(a, b), 32) == [nan, f32_bits(1.0), 0x80000000, 0]
    assert split(binary(op.F32X4_PMAX)(a, b), 32) == [nan, f32_bits(1.0), 0x80000000, 0]
    d = v(64, 0xFFF0000000000001, f64_bits(2.0))
    e = v(64, f64_bits(1.0), f64_bits(3.0))
    assert split(binary(op.F64X2_PMAX)(d, e), 64) == [0xFFF0000000000001, f64_bits(3.0)]


def test_min_max_order_signed_zeros() -> None:
    a = v(32, f32_bits(-0.0), f32_bits(0.0))
    b = v(32, f32_bits(0.0), f32_bits(-0.0))
    assert split(binary(op.F32X4_MIN)(a, b), 32) == [0x80000000] * 4
    assert split(binary(op.F32X4_MAX)(a, b), 32) == [0] * 4


def test_promote_demote_and_lane_moves() -> None:
    d = unary(op.F64X2_PROMOTE_LOW_F32X4)(v(32, 0x7FA00001, f32_bits(1.5), 7, 7))
    assert split(d, 64) == [F64_CANONICAL, f64_bits(1.5)]
    f = unary(op.F32X4_DEMOTE_F64X2_ZERO)(v(64, f64_bits(1e300), f64_bits(1 / 3)))
    assert split(f, 32) == [f32_bits(float("inf")), f32_bits(1 / 3), 0, 0]
    store, ex = _exports("""
    (module
      (func (export "get") (param v128) (result f32) (f32x4.extract_lane 2 (local.get 0)))
      (func (export "put") (param v128 f64) (result v128)
        (f64x2.replace_lane 1 (local.get 0) (local.get 1)))
      (func (export "splat") (param f32) (result v128) (f32x4.splat (local.get 0))))
    """)
    [lane] = ex["get"].call_vals(store, [Val.v128(v(32, 0, 0, 0x7FA00001, 0))])
    assert lane.bits == 0x7FA00001
    [put] = ex["put"].call_vals(store, [Val.v128(v(64, 5, 6)), Val.f64_bits(0xFFF0000000000001)])
    assert split(put.value, 64) == [5, 0xFFF0000000000001]
    [splat] = ex["splat"].call_vals(store, [Val.f32_bits(0xFFA00001)])
    assert split(splat.value, 32) == [0xFFA00001] * 4


# -- saturation, narrowing, conversions ------------------------------------------------------


def test_saturating_add_sub() -> None:
    a = v(8, 127, -128, 100, -100)
    b = v(8, 1, -1, 100, 100)
    assert [signed(x, 8) for x in split(binary(op.I8X16_ADD_SAT_S)(a, b), 8)[:4]] == [
        127, -128, 127, 0]
    assert split(binary(op.I8X16_ADD_SAT_U)(v(8, 255, 1), v(8, 1, 1)), 8)[:2] == [255, 2]
    assert split(binary(op.I8X16_SUB_SAT_U)(v(8, 0, 5), v(8, 1, 3)), 8)[:2] == [0, 2]
    out = binary(op.I16X8_SUB_SAT_S)(v(16, -32768, 32767), v(16, 1, -1))
    assert split(out, 16)[:2] == [0x8000, 0x7FFF]


def test_narrowing_saturates_signed_inputs() -> None:
    a = v(16, 300, -300, 127, -128, 255, -1, 0, 1)
    b = v(16, 32767, -32768, 128, -129, 256, 65535 - 65536, 2, 3)
    s = split(binary(op.I8X16_NARROW_I16X8_S)(a, b), 8)
    assert [signed(x, 8) for x in s] == [127, -128, 127, -128, 127, -1, 0, 1,
                                         127, -128, 127, -128, 127, -1, 2, 3]
    u = split(binary(op.I8X16_NARROW_I16X8_U)(a, b), 8)
    assert u == [255, 0, 127, 0, 255, 0, 0, 1, 255, 0, 128, 0, 255, 0, 2, 3]
    w = split(binary(op.I16X8_NARROW_I32X4_U)(v(32, 70000, -1, 65535, 3), v(32, 0)), 16)
    assert w == [65535, 0, 65535, 3, 0, 0, 0, 0]


def test_trunc_sat_lanes() -> None:
    a = v(32, F32_CANONICAL, f32_bits(3e9), f32_bits(-3e9), f32_bits(-1.75))
    assert split(unary(op.I32X4_TRUNC_SAT_F32X4_S)(a), 32) == [0, 0x7FFFFFFF, 0x80000000,
                                                                 0xFFFFFFFF]
    assert split(unary(op.I32X4_TRUNC_SAT_F32X4_U)(a), 32) == [0, 3000000000, 0, 0]
    d = v(64, f64_bits(5e9), f64_bits(-0.9))
    assert split(unary(op.I32X4_TRUNC_SAT_F64X2_U_ZERO)(d), 32) == [0xFFFFFFFF, 0, 0, 0]
    assert split(unary(op.I32X4_TRUNC_SAT_F64X2_S_ZERO)(d), 32) == [0x7FFFFFFF, 0, 0, 0]


def test_convert_rounds_once_to_f32() -> None:
    # 2**24 + 1 is not an f32: ties to even gives 2**24; 0xFFFFFFFF (u) rounds to 2**32.
    out = unary(op.F32X4_CONVERT_I32X4_U)(v(32, (1 << 24) + 1, 0xFFFFFFFF, 3, 0x80000001))
    assert split(out, 32) == [f32_bits(2.0**24), f32_bits(2.0**32), f32_bits(3.0),
                              f32_bits(2.0**31)]
    out = unary(op.F32X4_CONVERT_I32X4_S)(v(32, -((1 << 24) + 3)))
    assert split(out, 32)[0] == f32_bits(-(2.0**24 + 4))


# -- swizzle, shuffle, shifts --------------------------------------------------------------


def test_swizzle_out_of_range_lanes_are_zero() -> None:
    a = v(8, *range(0x10, 0x20))
    idx = v(8, 0, 15, 16, 255, 0x80, 3, 31, 1, 2, 3, 4, 5, 6, 7, 8, 9)
    expected = [0x10, 0x1F, 0, 0, 0, 0x13, 0, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
                0x19]
    assert split(binary(op.I8X16_SWIZZLE)(a, idx), 8) == expected
    assert split(binary(op.I8X16_RELAXED_SWIZZLE)(a, idx), 8) == expected


def test_shuffle_picks_from_both_operands() -> None:
    a, b = v(8, *range(16)), v(8, *range(100, 116))
    out = S.shuffle(bytes([31, 0, 16, 15, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22]))(a, b)
    assert split(out, 8) == [115, 0, 100, 15, 1, 101, 2, 102, 3, 103, 4, 104, 5, 105, 6, 106]


@pytest.mark.parametrize("width", [8, 16, 32, 64])
def test_shifts_take_the_count_modulo_the_lane_width(width: int) -> None:
    rng = random.Random(width)
    prefix = {8: "I8X16", 16: "I16X8", 32: "I32X4", 64: "I64X2"}[width]
    shl, shr_s, shr_u = (binary(getattr(op, f"{prefix}_{n}")) for n in ("SHL", "SHR_S", "SHR_U"))
    mask = (1 << width) - 1
    for count in [*range(0, 2 * width + 3), 0xFFFFFFFF, 0x80000000 + 1]:
        a = rng.getrandbits(128) | (1 << (width - 1))  # lane 0 negative
        k = count % width
        lanes = split(a, width)
        assert split(shl(a, count), width) == [(x << k) & mask for x in lanes]
        assert split(shr_u(a, count), width) == [x >> k for x in lanes]
        assert split(shr_s(a, count), width) == [(signed(x, width) >> k) & mask for x in lanes]


@pytest.mark.parametrize("width", [8, 16, 32, 64])
def test_lane_add_sub_neg_match_lane_arithmetic(width: int) -> None:
    rng = random.Random(100 + width)
    prefix = {8: "I8X16", 16: "I16X8", 32: "I32X4", 64: "I64X2"}[width]
    add, sub = binary(getattr(op, f"{prefix}_ADD")), binary(getattr(op, f"{prefix}_SUB"))
    neg = unary(getattr(op, f"{prefix}_NEG"))
    mask = (1 << width) - 1
    for _ in range(200):
        a, b = rng.getrandbits(128), rng.getrandbits(128)
        x, y = split(a, width), split(b, width)
        assert split(add(a, b), width) == [(p + q) & mask for p, q in zip(x, y, strict=True)]
        assert split(sub(a, b), width) == [(p - q) & mask for p, q in zip(x, y, strict=True)]
        assert split(neg(a), width) == [-p & mask for p in x]


def test_all_true_and_bitmask() -> None:
    assert unary(op.I8X16_ALL_TRUE)(v(8, 1, 0x80, 0xFF, 2)) == 1
    assert unary(op.I8X16_ALL_TRUE)(v(8, *([1] * 15 + [0]))) == 0
    assert unary(op.I64X2_ALL_TRUE)(v(64, 1 << 63, 0)) == 0
    assert unary(op.I16X8_BITMASK)(v(16, -1, 1, -32768, 0, 0x7FFF, -2, 0, -1)) == 0b10100101
    assert split(unary(op.I8X16_ABS)(v(8, -128, -1, 5, 0)), 8)[:4] == [0x80, 1, 5, 0]


# -- q15mulr, dot products, extending arithmetic ------------------------------------------


def test_q15mulr_rounds_and_saturates() -> None:
    a = v(16, -32768, 1, -1, 0x4000, 0x7FFF, -32768, 3, -3)
    b = v(16, -32768, 0x4000, 0x4000, 0x4000, 0x7FFF, 0x7FFF, 0x2AAB, 0x2AAB)
    expected = [0x7FFF, 1, 0, 0x2000, 0x7FFE, (-32767) & 0xFFFF, 1, (-1) & 0xFFFF]
    assert split(binary(op.I16X8_Q15MULR_SAT_S)(a, b), 16) == expected
    assert split(binary(op.I16X8_RELAXED_Q15MULR_S)(a, b), 16) == expected


def test_i32x4_dot_wraps_the_one_overflowing_sum() -> None:
    a = v(16, -32768, -32768, 1, 2, 3, 4, -1, 0)
    out = binary(op.I32X4_DOT_I16X8_S)(a, a)
    assert split(out, 32) == [0x80000000, 5, 25, 1]


def test_extmul_and_extadd_pairwise() -> None:
    a, b = v(8, -128, 127, 255, 2), v(8, -128, -128, 255, 3)
    assert split(binary(op.I16X8_EXTMUL_LOW_I8X16_S)(a, b), 16)[:4] == [
        16384, (127 * -128) & 0xFFFF, 1, 6]
    assert split(binary(op.I16X8_EXTMUL_HIGH_I8X16_U)(a, b), 16)[:4] == [
        128 * 128, 127 * 128, 255 * 255, 6]
    assert split(unary(op.I32X4_EXTADD_PAIRWISE_I16X8_S)(v(16, -32768, -32768, 1, -2)), 32) == [
        (-65536) & 0xFFFFFFFF, 0xFFFFFFFF, (-65536) & 0xFFFFFFFF, 0xFFFFFFFF]


# -- relaxed SIMD: Wasmtime's deterministic results ---------------------------------------


def test_relaxed_madd_is_fused() -> None:
    # 2796203.5 * 3 + 8388611 = 16777221.5: fused, that rounds to 16777222 (0x4B800003);
    # rounding the product first (8388610.5 -> 8388610) gives 16777220 (0x4B800002).
    a, b, c = (v(32, f32_bits(x)) for x in (2796203.5, 3.0, 8388611.0))
    assert split(ternary(op.F32X4_RELAXED_MADD)(a, b, c), 32) == [0x4B800003] * 4
    # 0.1 * 10 rounds to 1.0 in double; fused, 0.1 * 10 - 1 is 2**-54.
    d = ternary(op.F64X2_RELAXED_MADD)(v(64, f64_bits(0.1)), v(64, f64_bits(10.0)),
                                       v(64, f64_bits(-1.0)))
    assert split(d, 64) == [f64_bits(2.0**-54)] * 2
    n = ternary(op.F64X2_RELAXED_NMADD)(v(64, f64_bits(0.1)), v(64, f64_bits(10.0)),
                                        v(64, f64_bits(1.0)))
    assert split(n, 64) == [f64_bits(-(2.0**-54))] * 2


def test_relaxed_madd_special_values() -> None:
    inf, nan = float("inf"), F64_CANONICAL
    a = v(64, f64_bits(inf), f64_bits(1e308))
    b = v(64, f64_bits(0.0), f64_bits(10.0))
    c = v(64, f64_bits(1.0), f64_bits(float("-inf")))
    # inf * 0 is NaN; a finite (if huge) product leaves the infinite addend as it is.
    assert split(ternary(op.F64X2_RELAXED_MADD)(a, b, c), 64) == [nan, f64_bits(-inf)]
    z = ternary(op.F64X2_RELAXED_MADD)(v(64, f64_bits(-0.0)), v(64, f64_bits(1.0)),
                                       v(64, f64_bits(-0.0), f64_bits(0.0)))
    assert split(z, 64) == [f64_bits(-0.0), 0]
    big = ternary(op.F64X2_RELAXED_MADD)(v(64, f64_bits(1e308)), v(64, f64_bits(10.0)),
                                         v(64, f64_bits(-1e308)))
    assert split(big, 64) == [f64_bits(inf)] * 2


def _f32_nearest(exact: Fraction) -> float:
    """The f32 nearest to an exact value (ties to even), by comparing the neighbours."""
    guess = f32_round(float(exact))
    bits = f32_bits(guess)
    candidates = [guess]
    for delta in (-1, 1):
        neighbour = struct.unpack("<f", struct.pack("<I", (bits + delta) & 0xFFFFFFFF))[0]
        if neighbour == neighbour and abs(neighbour) != float("inf"):
            candidates.append(neighbour)
    return min(candidates, key=lambda c: (abs(Fraction(c) - exact), f32_bits(c) & 1))


def test_f32_fma_rounds_once() -> None:
    rng = random.Random(7)
    for _ in range(3000):
        a, b, c = (f32_round(rng.uniform(-1, 1) * 2.0 ** rng.randint(-30, 30)) for _ in range(3))
        exact = Fraction(a) * Fraction(b) + Fraction(c)
        got = R.fma_f32(a, b, c)
        if exact == 0:
            continue
        assert got == _f32_nearest(exact), (a, b, c)


def test_f64_fma_rounds_once_into_subnormals() -> None:
    assert R.fma_f64(2.0**-537, 2.0**-537, 0.0) == 2.0**-1074
    assert R.fma_f64(2.0**-538, 2.0**-537, 0.0) == 0.0  # a tie: to even (zero)
    assert R.fma_f64(3 * 2.0**-539, 2.0**-537, 0.0) == 2.0**-1074  # 0.75 ulp rounds up
    # An independent reference: exact decimal arithmetic, then Python's correctly rounded
    # decimal-to-double conversion.
    rng = random.Random(3)
    with localcontext() as ctx:
        ctx.prec = 2000
        for _ in range(1000):
            a, b, c = (rng.uniform(-1, 1) * 2.0 ** rng.randint(-60, 60) for _ in range(3))
            exact = Decimal(a) * Decimal(b) + Decimal(c)
            assert R.fma_f64(a, b, c) == float(exact), (a, b, c)


def test_relaxed_laneselect_selects_every_bit() -> None:
    a, b = v(8, 0xAA), v(8, 0x55)
    mask = v(8, 0x0F, 0xF0, 0x80, 0x01)
    expected = [0x5A, 0xA5, 0xD5, 0x54]
    for code in (op.I8X16_RELAXED_LANESELECT, op.I16X8_RELAXED_LANESELECT,
                 op.I32X4_RELAXED_LANESELECT, op.I64X2_RELAXED_LANESELECT, op.V128_BITSELECT):
        assert split(ternary(code)(a, b, mask), 8)[:4] == expected


def test_relaxed_trunc_is_trunc_sat() -> None:
    a = v(32, F32_CANONICAL, f32_bits(-5e9), f32_bits(5e9), f32_bits(-0.5))
    assert split(unary(op.I32X4_RELAXED_TRUNC_F32X4_S)(a), 32) == [0, 0x80000000, 0x7FFFFFFF, 0]
    assert split(unary(op.I32X4_RELAXED_TRUNC_F32X4_U)(a), 32) == [0, 0, 0xFFFFFFFF, 0]
    d = v(64, F64_CANONICAL, f64_bits(-1e10))
    assert split(unary(op.I32X4_RELAXED_TRUNC_F64X2_S_ZERO)(d), 32) == [0, 0x80000000, 0, 0]
    assert split(unary(op.I32X4_RELAXED_TRUNC_F64X2_U_ZERO)(d), 32) == [0, 0, 0, 0]


def test_relaxed_min_max_are_min_max() -> None:
    a = v(32, 0x7FA00001, f32_bits(-0.0), f32_bits(1.0), f32_bits(0.0))
    b = v(32, f32_bits(1.0), f32_bits(0.0), 0xFFC00000, f32_bits(-0.0))
    assert split(binary(op.F32X4_RELAXED_MIN)(a, b), 32) == [
        F32_CANONICAL, 0x80000000, F32_CANONICAL, 0x80000000]
    assert split(binary(op.F32X4_RELAXED_MAX)(a, b), 32) == [F32_CANONICAL, 0, F32_CANONICAL, 0]


def test_relaxed_dot_products_are_signed_and_wrap() -> None:
    a = v(8, -128, -128, 127, 127, -1, 2, 100, -100)
    b = v(8, -128, -128, 127, 127, 3, -4, 1, 1)
    # -128*-128 * 2 = 32768 wraps to -32768; b's lanes are taken as signed (no i7 clamp).
    dot = split(binary(op.I16X8_RELAXED_DOT_I8X16_I7X16_S)(a, b), 16)
    assert dot == [0x8000, 32258, (-11) & 0xFFFF, 0] * 2
    c = v(32, 1, -1, 0x7FFFFFFF, 0)
    out = split(ternary(op.I32X4_RELAXED_DOT_I8X16_I7X16_ADD_S)(a, b, c), 32)
    # Each 32-bit lane adds two (already wrapped) 16-bit lanes, then c, wrapping at 32 bits.
    assert out == [(-32768 + 32258 + 1) & 0xFFFFFFFF, (-11 + 0 - 1) & 0xFFFFFFFF,
                   (-32768 + 32258 + 0x7FFFFFFF) & 0xFFFFFFFF, (-11) & 0xFFFFFFFF]


def test_relaxed_instructions_run_in_the_interpreter() -> None:
    store, ex = _exports("""
    (module
      (func (export "madd") (param v128 v128 v128) (result v128)
        (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))
      (func (export "dot") (param v128 v128 v128) (result v128)
        (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 0) (local.get 1) (local.get 2))))
    """)
    args = [Val.v128(v(32, f32_bits(x))) for x in (2796203.5, 3.0, 8388611.0)]
    [out] = ex["madd"].call_vals(store, args)
    assert split(out.value, 32) == [0x4B800003] * 4
    [out] = ex["dot"].call_vals(store, [Val.v128(v(8, -128)), Val.v128(v(8, -128)),
                                        Val.v128(v(32, 5))])
    assert split(out.value, 32) == [(-65536 + 5) & 0xFFFFFFFF] * 4


# -- memory -----------------------------------------------------------------------------


MEMORY_WAT = """
(module (memory 1)
  (func (export "load") (param i32) (result v128) (v128.load align=1 (local.get 0)))
  (func (export "store") (param i32 v128) (v128.store offset=1 (local.get 0) (local.get 1)))
  (func (export "load_lane") (param i32 v128) (result v128)
    (v128.load64_lane 1 (local.get 0) (local.get 1)))
  (func (export "store_lane") (param i32 v128) (v128.store32_lane 3 (local.get 0) (local.get 1)))
  (func (export "splat") (param i32) (result v128) (v128.load16_splat (local.get 0)))
  (func (export "extend") (param i32) (result v128) (v128.load8x8_s (local.get 0)))
  (func (export "zero") (param i32) (result v128) (v128.load32_zero (local.get 0)))
  (func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0))))
"""


def test_memory_accesses_check_the_whole_access() -> None:
    store, ex = _exports(MEMORY_WAT)
    value = v(8, *range(1, 17))
    ex["store"].call_vals(store, [Val.i32(65536 - 17), Val.v128(value)])  # ends at 65536
    [out] = ex["load"].call_vals(store, [Val.i32(65536 - 16)])
    assert out.value == value
    for name, args in [("load", [Val.i32(65536 - 15)]),
                       ("store", [Val.i32(65536 - 16), Val.v128(0)]),
                       ("load_lane", [Val.i32(65536 - 7), Val.v128(0)]),
                       ("store_lane", [Val.i32(65536 - 3), Val.v128(0)]),
                       ("splat", [Val.i32(65535)]),
                       ("extend", [Val.i32(65536 - 7)]),
                       ("zero", [Val.i32(0xFFFFFFFF)])]:
        with pytest.raises(Trap) as info:
            ex[name].call_vals(store, args)
        assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS, name
    # The trapping store wrote nothing.
    [byte] = ex["byte"].call_vals(store, [Val.i32(65535)])
    assert byte.value == 16


def test_lane_loads_stores_splats_and_extends() -> None:
    store, ex = _exports(MEMORY_WAT)
    ex["store"].call_vals(store, [Val.i32(99), Val.v128(v(8, 0x81, 0x02, 0xFF, 0x7F))])
    [lane] = ex["load_lane"].call_vals(store, [Val.i32(100), Val.v128(v(64, 7, 9))])
    assert split(lane.value, 64) == [7, 0x7F_FF_02_81_7F_FF_02_81]
    [splat] = ex["splat"].call_vals(store, [Val.i32(100)])
    assert split(splat.value, 16) == [0x0281] * 8
    [ext] = ex["extend"].call_vals(store, [Val.i32(100)])
    assert split(ext.value, 16) == [0xFF81, 2, 0xFFFF, 0x7F] * 2
    [zero] = ex["zero"].call_vals(store, [Val.i32(100)])
    assert zero.value == 0x7FFF0281
    ex["store_lane"].call_vals(store, [Val.i32(0), Val.v128(v(32, 1, 2, 3, 0xDEADBEEF))])
    [out] = ex["load"].call_vals(store, [Val.i32(0)])
    assert split(out.value, 32)[0] == 0xDEADBEEF
