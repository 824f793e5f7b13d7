"""LLVM lowering of the SIMD float, conversion, narrowing and widening instructions.

The instructions of the simd-float block of ``ir/instructions.py`` become LLVM vector IR
and generic intrinsics, written in the shapes LLVM's x86-64 backend recognizes, so that
with SSE4.1/AVX they come out as one or a few instructions:

* ``snarrow``/``unarrow``/``uunarrow``: the two operands concatenated, clamped with
  ``llvm.smax``/``smin``/``umin`` to the narrow range and truncated (``packsswb``,
  ``packuswb``, ``packssdw``, ``packusdw``);
* ``swiden_*``/``uwiden_*``: a half-vector ``shufflevector`` then ``sext``/``zext``
  (``pmovsx``/``pmovzx``, ``punpckh``);
* ``iadd_pairwise`` and ``widening_dot_s``: the even and the odd lanes added
  (``widening_dot_s`` on i16x8 is ``pmaddwd``);
* ``sqmul_round_sat``: the product at double width, rounded, shifted and clamped;
* ``fmin_pseudo``/``fmax_pseudo``: ``fcmp olt`` and ``select`` (``minps``/``maxps``,
  whose operand order gives exactly wasm's pmin/pmax);
* ``fvpromote_low``/``fvdemote``: ``fpext`` of the low half, ``fptrunc`` and a shuffle
  with zeros (``cvtps2pd``, ``cvtpd2ps``); when LLVM would fold
  ``fvdemote(fvpromote_low(x))`` into a copy, the result is canonicalized so a
  signaling NaN still comes out quiet, as in the scalar lowering;
* ``fma``: ``llvm.fma`` (``vfmadd`` on CPUs with FMA, a correctly rounded libm call
  elsewhere).

The functions here take the lowering of ``jit/lower.py`` through the ``LoweringContext``
protocol, which keeps this module below ``lower`` in the import order.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Protocol

from pyjitwasm.ir import types as t
from pyjitwasm.ir.entities import Inst, Value
from pyjitwasm.ir.instructions import Binary, InstructionData, Ternary, Unary
from pyjitwasm.jit.lower_types import (
    f32_literal,
    f64_literal,
    int_literal,
    intrinsic_suffix,
    llvm_type,
)


class IntrinsicDeclarations(Protocol):
    def intrinsic(self, name: str, ret: str, params: list[str]) -> str: ...


class LoweringContext(Protocol):
    """What these lowerings use of a function's lowering (``lower._FunctionLowering``)."""

    @property
    def decls(self) -> IntrinsicDeclarations: ...

    def fresh(self, hint: str = "t") -> str: ...

    def emit(self, line: str) -> None: ...

    def op(self, v: Value) -> str: ...

    def typed(self, v: Value) -> str: ...

    def type_of(self, v: Value) -> t.Type: ...

    def result(self, inst: Inst) -> Value: ...

    def simple(self, inst: Inst, expr: str) -> str: ...

    def defining_opcode(self, v: Value) -> str | None: ...

    def canonicalized(self, inst: Inst, expr: str, ty: t.Type) -> None: ...


def _vector(lanes: int, lane: str) -> str:
    return f"<{lanes} x {lane}>"


def _mask(indices: range | list[int]) -> str:
    """A ``shufflevector`` mask operand."""
    return f"<{len(indices)} x i32> <{', '.join(f'i32 {i}' for i in indices)}>"


def _splat_int(bits: int, value: int) -> str:
    return f"splat (i{bits} {value})"


def _call(ctx: LoweringContext, base: str, ty: str, suffix: str, args: list[str]) -> str:
    """Emit a call of the lane-wise intrinsic ``llvm.BASE.SUFFIX`` on operands of LLVM
    type ``ty``; return the result's name."""
    fn = ctx.decls.intrinsic(f"llvm.{base}.{suffix}", ty, [ty] * len(args))
    name = ctx.fresh("sv")
    ctx.emit(f"{name} = call {ty} {fn}({', '.join(f'{ty} {a}' for a in args)})")
    return name


def _concat(ctx: LoweringContext, a: Value, b: Value) -> tuple[str, int, int]:
    """The lanes of ``a`` followed by those of ``b`` as one double-length vector: (name,
    lanes, lane bits)."""
    ty = ctx.type_of(a)
    name = ctx.fresh("sv")
    ctx.emit(f"{name} = shufflevector {ctx.typed(a)}, {ctx.typed(b)}, "
             f"{_mask(range(2 * ty.lanes))}")
    return name, 2 * ty.lanes, ty.lane_bits


def _even_odd_sum(ctx: LoweringContext, inst: Inst, vec: str, lanes: int, bits: int) -> None:
    """Define ``inst``'s result: lane i is lanes 2i and 2i+1 of ``vec`` added (wrapping)."""
    vty = _vector(lanes, f"i{bits}")
    even, odd = ctx.fresh("sv"), ctx.fresh("sv")
    ctx.emit(f"{even} = shufflevector {vty} {vec}, {vty} poison, "
             f"{_mask(list(range(0, lanes, 2)))}")
    ctx.emit(f"{odd} = shufflevector {vty} {vec}, {vty} poison, "
             f"{_mask(list(range(1, lanes, 2)))}")
    half = _vector(lanes // 2, f"i{bits}")
    ctx.simple(inst, f"add {half} {even}, {odd}")


# Float arithmetic -----------------------------------------------------------------------


def fma(ctx: LoweringContext, inst: Inst, data: InstructionData) -> None:
    """``fma a, b, c``: ``llvm.fma`` (one rounding)."""
    assert isinstance(data, Ternary)
    a, b, c = data.args
    ty = ctx.type_of(a)
    lty = llvm_type(ty)
    fn = ctx.decls.intrinsic(f"llvm.fma.{intrinsic_suffix(ty)}", lty, [lty] * 3)
    ctx.simple(inst, f"call {lty} {fn}({ctx.typed(a)}, {ctx.typed(b)}, {ctx.typed(c)})")


def pseudo_min_max(ctx: LoweringContext, inst: Inst, data: InstructionData) -> None:
    """``fmin_pseudo a, b = b < a ? b : a``; ``fmax_pseudo a, b = a < b ? b : a``. A
    NaN operand or equal operands (``-0`` and ``+0``) give ``a``, bit for bit."""
    assert isinstance(data, Binary)
    a, b = data.args
    ty = ctx.type_of(a)
    lty = llvm_type(ty)
    first, second = (b, a) if data.opcode == "fmin_pseudo" else (a, b)
    less = ctx.fresh("pm")
    ctx.emit(f"{less} = fcmp olt {lty} {ctx.op(first)}, {ctx.op(second)}")
    cond_ty = _vector(ty.lanes, "i1") if ty.is_vector else "i1"
    ctx.simple(inst, f"select {cond_ty} {less}, {lty} {ctx.op(b)}, {lty} {ctx.op(a)}")


def fvpromote_low(ctx: LoweringContext, inst: Inst, data: InstructionData) -> None:
    """Lanes 0 and 1 of an f32x4, extended to f64x2 (exact; NaNs come out quiet)."""
    assert isinstance(data, Unary)
    low = ctx.fresh("sv")
    ctx.emit(f"{low} = shufflevector {ctx.typed(data.arg)}, <4 x float> poison, "
             f"{_mask([0, 1])}")
    ctx.simple(inst, f"fpext <2 x float> {low} to <2 x double>")


def fvdemote(ctx: LoweringContext, inst: Inst, data: InstructionData) -> None:
    """f64x2 rounded to f32 in lanes 0 and 1, lanes 2 and 3 zero."""
    assert isinstance(data, Unary)
    narrow = ctx.fresh("sv")
    ctx.emit(f"{narrow} = fptrunc {ctx.typed(data.arg)} to <2 x float>")
    expr = (f"shufflevector <2 x float> {narrow}, <2 x float> zeroinitializer, "
            f"{_mask(range(4))}")
    if ctx.defining_opcode(data.arg) == "fvpromote_low":
        # LLVM folds the round trip into a copy of the low lanes: a signaling NaN would
        # come out unquieted.
        ctx.canonicalized(inst, expr, t.F32X4)
    else:
        ctx.simple(inst, expr)


def _below(limit: int, lane: t.Type) -> str:
    """The largest ``lane`` float below the integer ``limit`` (a power of two), as an
    LLVM literal."""
    if lane == t.F32:
        (bits,) = struct.unpack("<I", struct.pack("<f", float(limit)))
        return f32_literal(bits - 1)
    (bits,) = struct.unpack("<Q", struct.pack("<d", float(limit)))
    return f64_literal(bits - 1)


def _exact(value: int, lane: t.Type) -> str:
    """The float literal of an integer ``value`` that ``lane`` represents exactly."""
    if lane == t.F32:
        (bits,) = struct.unpack("<I", struct.pack("<f", float(value)))
        return f32_literal(bits)
    (bits,) = struct.unpack("<Q", struct.pack("<d", float(value)))
    return f64_literal(bits)


def saturating_vector(ctx: LoweringContext, inst: Inst, data: InstructionData) -> None:
    """``fcvt_to_sint_sat``/``fcvt_to_uint_sat`` on vectors. x86 has no saturating vector
    conversion and LLVM scalarizes ``llvm.fpto[su]i.sat`` on vectors (one ``cvttss2si``
    and two ``cmov`` per lane); here NaN lanes become 0, the operand is clamped into the
    range the plain conversion is defined on (``maxps``/``minps``), converted
    (``cvttps2dq``...), and lanes at or above the top of the range get the maximum."""
    assert isinstance(data, Unary)
    x = data.arg
    src = ctx.type_of(x)
    dst = ctx.type_of(ctx.result(inst))
    lane = src.lane_type
    signed = data.opcode == "fcvt_to_sint_sat"
    bits = dst.lane_bits
    low, limit = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
    fty, ity = llvm_type(src), llvm_type(dst)
    cond = _vector(src.lanes, "i1")
    lit = f"splat ({llvm_type(lane)} {{}})"
    ordered, no_nan, too_low, raised, too_high, clamped, converted, big = (
        ctx.fresh("fs") for _ in range(8))
    ctx.emit(f"{ordered} = fcmp ord {fty} {ctx.op(x)}, {ctx.op(x)}")
    ctx.emit(f"{no_nan} = select {cond} {ordered}, {fty} {ctx.op(x)}, {fty} zeroinitializer")
    low_lit = lit.format(_exact(low, lane))
    ctx.emit(f"{too_low} = fcmp olt {fty} {no_nan}, {low_lit}")
    ctx.emit(f"{raised} = select {cond} {too_low}, {fty} {low_lit}, {fty} {no_nan}")
    high_lit = lit.format(_below(limit, lane))
    ctx.emit(f"{too_high} = fcmp ogt {fty} {raised}, {high_lit}")
    ctx.emit(f"{clamped} = select {cond} {too_high}, {fty} {high_lit}, {fty} {raised}")
    ctx.emit(f"{converted} = {'fptosi' if signed else 'fptoui'} {fty} {clamped} to {ity}")
    ctx.emit(f"{big} = fcmp oge {fty} {ctx.op(x)}, {lit.format(_exact(limit, lane))}")
    top = f"splat (i{bits} {int_literal(limit - 1, bits)})"
    ctx.simple(inst, f"select {cond} {big}, {ity} {top}, {ity} {converted}")


# Narrowing and widening -----------------------------------------------------------------


def narrow(ctx: LoweringContext, inst: Inst, data: InstructionData) -> None:
    """``snarrow``/``unarrow``/``uunarrow``: both operands' lanes, saturated to half
    width."""
    assert isinstance(data, Binary)
    a, b = data.args
    whole, lanes, bits = _concat(ctx, a, b)
    half = bits // 2
    wide = _vector(lanes, f"i{bits}")
    suffix = f"v{lanes}i{bits}"
    if data.opcode == "snarrow":
        low, high = -(1 << (half - 1)), (1 << (half - 1)) - 1
    else:
        low, high = 0, (1 << half) - 1
    clamped = whole
    if data.opcode != "uunarrow":  # unsigned input needs no lower bound
        clamped = _call(ctx, "smax", wide, suffix, [clamped, _splat_int(bits, low)])
    clamped = _call(ctx, "umin" if data.opcode == "uunarrow" else "smin", wide, suffix,
                    [clamped, _splat_int(bits, high)])
    ctx.simple(inst, f"trunc {wide} {clamped} to {_vector(lanes, f'i{half}')}")


def widen(ctx: LoweringContext, inst: Inst, data: InstructionData) -> None:
    """``swiden_low``/``swiden_high``/``uwiden_low``/``uwiden_high``."""
    assert isinstance(data, Unary)
    ty = ctx.type_of(data.arg)
    lanes = ty.lanes // 2
    start = lanes if data.opcode.endswith("high") else 0
    part = ctx.fresh("sv")
    ctx.emit(f"{part} = shufflevector {ctx.typed(data.arg)}, {llvm_type(ty)} poison, "
             f"{_mask(range(start, start + lanes))}")
    ext = "sext" if data.opcode.startswith("s") else "zext"
    result = llvm_type(ctx.type_of(ctx.result(inst)))
    ctx.simple(inst, f"{ext} {_vector(lanes, f'i{ty.lane_bits}')} {part} to {result}")


def iadd_pairwise(ctx: LoweringContext, inst: Inst, data: InstructionData) -> None:
    """Lane i: lanes 2i and 2i+1 of (a's lanes, b's lanes) added."""
    assert isinstance(data, Binary)
    a, b = data.args
    whole, lanes, bits = _concat(ctx, a, b)
    _even_odd_sum(ctx, inst, whole, lanes, bits)


def widening_dot_s(ctx: LoweringContext, inst: Inst, data: InstructionData) -> None:
    """Signed products at double width, adjacent pairs added (``pmaddwd`` on i16x8)."""
    assert isinstance(data, Binary)
    a, b = data.args
    ty = ctx.type_of(a)
    lanes, bits = ty.lanes, 2 * ty.lane_bits
    wide = _vector(lanes, f"i{bits}")
    xa, xb, product = ctx.fresh("sv"), ctx.fresh("sv"), ctx.fresh("sv")
    ctx.emit(f"{xa} = sext {ctx.typed(a)} to {wide}")
    ctx.emit(f"{xb} = sext {ctx.typed(b)} to {wide}")
    ctx.emit(f"{product} = mul {wide} {xa}, {xb}")
    _even_odd_sum(ctx, inst, product, lanes, bits)


def sqmul_round_sat(ctx: LoweringContext, inst: Inst, data: InstructionData) -> None:
    """``(a * b + 2**(w-2)) >> (w-1)``, saturated: only ``MIN * MIN`` overflows."""
    assert isinstance(data, Binary)
    a, b = data.args
    ty = ctx.type_of(a)
    lanes, bits = ty.lanes, ty.lane_bits
    wide = _vector(lanes, f"i{2 * bits}")
    xa, xb, product, rounded, shifted = (ctx.fresh("sv") for _ in range(5))
    ctx.emit(f"{xa} = sext {ctx.typed(a)} to {wide}")
    ctx.emit(f"{xb} = sext {ctx.typed(b)} to {wide}")
    ctx.emit(f"{product} = mul {wide} {xa}, {xb}")
    ctx.emit(f"{rounded} = add {wide} {product}, {_splat_int(2 * bits, 1 << (bits - 2))}")
    ctx.emit(f"{shifted} = ashr {wide} {rounded}, {_splat_int(2 * bits, bits - 1)}")
    clamped = _call(ctx, "smin", wide, f"v{lanes}i{2 * bits}",
                    [shifted, _splat_int(2 * bits, (1 << (bits - 1)) - 1)])
    ctx.simple(inst, f"trunc {wide} {clamped} to {llvm_type(ty)}")


SimdLowering = Callable[[LoweringContext, Inst, InstructionData], None]

SIMD_FLOAT_LOWERINGS: dict[str, SimdLowering] = {
    "fma": fma,
    "fmin_pseudo": pseudo_min_max,
    "fmax_pseudo": pseudo_min_max,
    "snarrow": narrow,
    "unarrow": narrow,
    "uunarrow": narrow,
    "swiden_low": widen,
    "swiden_high": widen,
    "uwiden_low": widen,
    "uwiden_high": widen,
    "iadd_pairwise": iadd_pairwise,
    "widening_dot_s": widening_dot_s,
    "sqmul_round_sat": sqmul_round_sat,
    "fvpromote_low": fvpromote_low,
    "fvdemote": fvdemote,
}
"""The lowering of each instruction of the simd-float block (``lower.LOWERINGS`` takes
them in)."""
