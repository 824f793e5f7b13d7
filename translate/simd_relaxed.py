"""Translation of relaxed SIMD in its two modes.

The relaxed-SIMD proposal lets each of its instructions give one of a few results on the
inputs where hardware differs (an out-of-range swizzle index, a NaN converted to an
integer, a NaN or a signed-zero tie in min/max, a mask lane that is neither all ones nor
all zeros, the one overflowing Q15 product, dot-product operands outside i7, fused or
unfused multiply-add). ``ModuleInfo.relaxed_simd_deterministic`` picks:

* deterministic (``Config.relaxed_simd_deterministic = True``): the results of Wasmtime's
  deterministic mode on every host, composed of the IR's ordinary SIMD instructions
  (``translate/simd_float.py``, ``RELAXED_SEMANTICS``);
* native (the default, as in Wasmtime): the relaxed-native IR instructions
  (``ir/instructions.py``'s relaxed block), which the back end lowers to the host's own
  instruction, whose result is whichever allowed one the machine gives
  (``NATIVE_SEMANTICS``).

``i32x4.relaxed_trunc_f32x4_u`` and the two ``f64x2`` truncations keep the deterministic
(saturating) results in both modes: SSE has no unsigned or f64x2-to-i32x4-with-zeros
conversion that is one instruction on every x86-64 host, so native mode would gain
nothing there.
"""

from __future__ import annotations

from pyjitwasm.ir.types import F32X4, F64X2, I8X16, I16X8, I32X4, I64X2, Type
from pyjitwasm.translate import simd_float as sf
from pyjitwasm.translate.lanes import vpush
from pyjitwasm.translate.simd_float import pop_as
from pyjitwasm.translate.simd_int import i8x16_swizzle
from pyjitwasm.translate.state import FunctionState, Handler
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr

NATIVE_SEMANTICS = {
    "i8x16.relaxed_swizzle": "pshufb: byte s & 15, or 0 when s >= 128 (16-127 wrap)",
    "i32x4.relaxed_trunc_f32x4_s": "cvttps2dq: NaN and out-of-range lanes give INT32_MIN",
    "f32x4/f64x2.relaxed_madd/nmadd": "llvm.fmuladd: vfmadd (fused) when the CPU has FMA, "
                                      "else a multiply and an add",
    "i*.relaxed_laneselect": "blendv: each lane from a where the mask lane's top bit is set",
    "f32x4/f64x2.relaxed_min/max": "minps/maxps: a < b ? a : b (a NaN or two zeros give b)",
    "i16x8.relaxed_q15mulr_s": "pmulhrsw: MIN * MIN gives MIN",
    "i16x8.relaxed_dot_i8x16_i7x16_s": "pmaddubsw: b's lanes unsigned, pair sums saturated",
    "i32x4.relaxed_dot_i8x16_i7x16_add_s": "pmaddubsw, pmaddwd with ones, plus c",
}
"""What each relaxed SIMD instruction computes in native mode (x86-64)."""


def relaxed(deterministic: Handler, native: Handler) -> Handler:
    """The handler of one relaxed instruction: ``deterministic`` or ``native`` by the
    module's mode."""
    def handle(t: FunctionState, instr: Instr) -> None:
        chosen = deterministic if t.env.info.relaxed_simd_deterministic else native
        chosen(t, instr)
    return handle


# Native handlers ---------------------------------------------------------------------------


def _native_swizzle(t: FunctionState, instr: Instr) -> None:
    a, s = pop_as(t, I8X16, 2)
    vpush(t, t.ins().relaxed_swizzle(a, s))


def _native_trunc_s(t: FunctionState, instr: Instr) -> None:
    (a,) = pop_as(t, F32X4, 1)
    vpush(t, t.ins().relaxed_fcvt_to_sint(I32X4, a))


def _native_laneselect(ty: Type) -> Handler:
    def handle(t: FunctionState, instr: Instr) -> None:
        a, b, mask = pop_as(t, ty, 3)
        vpush(t, t.ins().relaxed_laneselect(mask, a, b))
    return handle


def _native_dot(t: FunctionState, instr: Instr) -> None:
    a, b = pop_as(t, I8X16, 2)
    vpush(t, t.ins().relaxed_dot_i8i7(a, b))


def _native_dot_add(t: FunctionState, instr: Instr) -> None:
    """``pmaddubsw``, then adjacent i16 sums widened and added by ``pmaddwd`` with ones
    (``widening_dot_s`` against a splat of 1), plus ``c``."""
    (c,) = pop_as(t, I32X4, 1)
    a, b = pop_as(t, I8X16, 2)
    ins = t.ins()
    dot = ins.relaxed_dot_i8i7(a, b)
    vpush(t, ins.iadd(ins.widening_dot_s(dot, ins.vconst(I16X8, sf.I16X8_ONES)), c))


HANDLERS: dict[int, Handler] = {
    op.I8X16_RELAXED_SWIZZLE: relaxed(i8x16_swizzle, _native_swizzle),
    op.I32X4_RELAXED_TRUNC_F32X4_S: relaxed(sf.convert("fcvt_to_sint_sat", F32X4, I32X4),
                                           _native_trunc_s),
    op.I32X4_RELAXED_TRUNC_F32X4_U: sf.convert("fcvt_to_uint_sat", F32X4, I32X4),
    op.I32X4_RELAXED_TRUNC_F64X2_S_ZERO: sf.trunc_sat_zero("fcvt_to_sint_sat", "snarrow"),
    op.I32X4_RELAXED_TRUNC_F64X2_U_ZERO: sf.trunc_sat_zero("fcvt_to_uint_sat", "uunarrow"),
    op.F32X4_RELAXED_MADD: relaxed(sf.madd(F32X4, negate=False),
                                   sf.madd(F32X4, negate=False, fused=False)),
    op.F32X4_RELAXED_NMADD: relaxed(sf.madd(F32X4, negate=True),
                                   sf.madd(F32X4, negate=True, fused=False)),
    op.F64X2_RELAXED_MADD: relaxed(sf.madd(F64X2, negate=False),
                                   sf.madd(F64X2, negate=False, fused=False)),
    op.F64X2_RELAXED_NMADD: relaxed(sf.madd(F64X2, negate=True),
                                   sf.madd(F64X2, negate=True, fused=False)),
    op.I8X16_RELAXED_LANESELECT: relaxed(sf.laneselect, _native_laneselect(I8X16)),
    op.I16X8_RELAXED_LANESELECT: relaxed(sf.laneselect, _native_laneselect(I16X8)),
    op.I32X4_RELAXED_LANESELECT: relaxed(sf.laneselect, _native_laneselect(I32X4)),
    op.I64X2_RELAXED_LANESELECT: relaxed(sf.laneselect, _native_laneselect(I64X2)),
    op.F32X4_RELAXED_MIN: relaxed(sf.binary("fmin", F32X4), sf.binary("relaxed_fmin", F32X4)),
    op.F32X4_RELAXED_MAX: relaxed(sf.binary("fmax", F32X4), sf.binary("relaxed_fmax", F32X4)),
    op.F64X2_RELAXED_MIN: relaxed(sf.binary("fmin", F64X2), sf.binary("relaxed_fmin", F64X2)),
    op.F64X2_RELAXED_MAX: relaxed(sf.binary("fmax", F64X2), sf.binary("relaxed_fmax", F64X2)),
    op.I16X8_RELAXED_Q15MULR_S: relaxed(sf.binary("sqmul_round_sat", I16X8),
                                       sf.binary("relaxed_q15mulr", I16X8)),
    op.I16X8_RELAXED_DOT_I8X16_I7X16_S: relaxed(sf.relaxed_dot_i8x16_i7x16_s, _native_dot),
    op.I32X4_RELAXED_DOT_I8X16_I7X16_ADD_S: relaxed(sf.relaxed_dot_i8x16_i7x16_add_s,
                                                   _native_dot_add),
}
"""Each relaxed SIMD instruction's handler, by opcode (``dispatch.py`` takes them in)."""
