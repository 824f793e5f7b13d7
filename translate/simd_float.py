"""Translation of wasm's SIMD float arithmetic, conversions, narrowing/widening, dot
products and relaxed SIMD to IR.

Wasm has one ``v128`` type; the IR distinguishes lane views (``f32x4``, ``i16x8`` ...).
Operands come off the stack as ``v128`` and are ``bitcast`` to the view the instruction
computes in; results are bitcast back to ``v128`` before they are pushed, so every value
on the stack, in a local or in a block parameter is a ``v128`` (the back end removes the
bitcasts: they are free register reinterpretations).

Most instructions map to a generic IR instruction on a vector type (``fadd`` on
``f32x4``, ``fcmp`` giving an ``i32x4`` mask, ``fcvt_to_sint_sat`` from ``f32x4`` to
``i32x4``); the rest use the simd-float block of ``ir/instructions.py`` (``snarrow``,
``swiden_low``, ``iadd_pairwise``, ``sqmul_round_sat``, ``widening_dot_s``,
``fvpromote_low``, ``fvdemote``, ``fmin_pseudo``, ``fma``), composed as Cranelift composes
them: ``extadd_pairwise`` is ``iadd_pairwise`` of the widened halves, ``extmul`` an
``imul`` of widened halves, ``trunc_sat_f64x2_s_zero`` a saturating conversion to
``i64x2`` narrowed against zero.

Relaxed SIMD is translated with Wasmtime's ``relaxed_simd_deterministic`` results on
every host (see ``RELAXED_SEMANTICS``).
"""

from __future__ import annotations

from pyjitwasm.ir.entities import Value
from pyjitwasm.ir.types import F64X2, I8X16, I16X8, I32X4, I64X2, Type
from pyjitwasm.translate.lanes import view, vpush
from pyjitwasm.translate.state import FunctionState, Handler
from pyjitwasm.wasm.module import Instr

RELAXED_SEMANTICS = {
    "i8x16.relaxed_swizzle": "i8x16.swizzle (an index of 16 or more selects 0)",
    "i32x4.relaxed_trunc_f32x4_s/_u": "i32x4.trunc_sat_f32x4_s/_u (NaN 0, saturating)",
    "i32x4.relaxed_trunc_f64x2_s/u_zero": "i32x4.trunc_sat_f64x2_s/u_zero",
    "f32x4/f64x2.relaxed_madd": "fused a * b + c (one rounding, llvm.fma)",
    "f32x4/f64x2.relaxed_nmadd": "fused -a * b + c",
    "i*.relaxed_laneselect": "v128.bitselect: every bit from a where the mask bit is 1",
    "f32x4/f64x2.relaxed_min/max": "f32x4/f64x2.min/max (NaN-propagating, -0 < +0)",
    "i16x8.relaxed_q15mulr_s": "i16x8.q15mulr_sat_s (saturating)",
    "i16x8.relaxed_dot_i8x16_i7x16_s": "both operands signed, products of adjacent lanes "
                                       "added wrapping to i16",
    "i32x4.relaxed_dot_i8x16_i7x16_add_s": "the i16x8 dot above, adjacent i16 lanes "
                                           "sign-extended and added to i32, plus c",
}
"""What each relaxed SIMD instruction computes here: the results Wasmtime gives with
``relaxed_simd_deterministic`` (Cranelift's deterministic lowering), on every host."""


# Operands ----------------------------------------------------------------------------------


def pop_as(t: FunctionState, ty: Type, n: int) -> list[Value]:
    """The top ``n`` operands (deepest first), each viewed as ``ty``."""
    return [view(t, v, ty) for v in t.popn(n)]


# Handler factories -------------------------------------------------------------------------


def unary(ir_op: str, ty: Type) -> Handler:
    """A lane-wise ``ir_op`` on the operand viewed as ``ty``."""
    def handle(t: FunctionState, instr: Instr) -> None:
        (a,) = pop_as(t, ty, 1)
        vpush(t, t.ins().unary(ir_op, a))
    return handle


def binary(ir_op: str, ty: Type) -> Handler:
    """A lane-wise (or, for narrowing, two-operand) ``ir_op`` on operands viewed as ``ty``."""
    def handle(t: FunctionState, instr: Instr) -> None:
        a, b = pop_as(t, ty, 2)
        vpush(t, t.ins().binary(ir_op, a, b))
    return handle


def compare(cond: str, ty: Type) -> Handler:
    """A lane-wise float comparison: all ones where ``cond`` holds, else zero. IR ``ne``
    is true on unordered lanes, the others false: wasm's rules."""
    def handle(t: FunctionState, instr: Instr) -> None:
        a, b = pop_as(t, ty, 2)
        vpush(t, t.ins().fcmp(cond, a, b))
    return handle


def convert(ir_op: str, src: Type, dst: Type) -> Handler:
    """A lane-wise conversion ``ir_op`` from ``src`` lanes to as many ``dst`` lanes."""
    def handle(t: FunctionState, instr: Instr) -> None:
        (a,) = pop_as(t, src, 1)
        vpush(t, t.ins().unary(ir_op, a, dst))
    return handle


def convert_low(ir_op: str, widen: str) -> Handler:
    """``f64x2.convert_low_i32x4_s/u``: lanes 0 and 1 widened to i64 (exactly), then
    converted (exact too: every i32 is an f64)."""
    def handle(t: FunctionState, instr: Instr) -> None:
        (a,) = pop_as(t, I32X4, 1)
        ins = t.ins()
        vpush(t, ins.unary(ir_op, ins.unary(widen, a), F64X2))
    return handle


def trunc_sat_zero(ir_op: str, narrow: str) -> Handler:
    """``i32x4.trunc_sat_f64x2_s/u_zero``: saturating conversion to i64 lanes (every f64
    in range of i32 converts exactly), narrowed with saturation into lanes 0 and 1,
    lanes 2 and 3 zero."""
    def handle(t: FunctionState, instr: Instr) -> None:
        (a,) = pop_as(t, F64X2, 1)
        ins = t.ins()
        wide = ins.unary(ir_op, a, I64X2)
        vpush(t, ins.binary(narrow, wide, ins.vconst(I64X2, 0)))
    return handle


def extadd_pairwise(widen_low: str, widen_high: str, ty: Type) -> Handler:
    """Adjacent lanes of ``ty`` extended and added: the widened halves added pairwise."""
    def handle(t: FunctionState, instr: Instr) -> None:
        (a,) = pop_as(t, ty, 1)
        ins = t.ins()
        vpush(t, ins.iadd_pairwise(ins.unary(widen_low, a), ins.unary(widen_high, a)))
    return handle


def extmul(widen: str, ty: Type) -> Handler:
    """Half of the lanes of each operand extended, then multiplied (exact: the product
    of two N-bit values fits 2N bits)."""
    def handle(t: FunctionState, instr: Instr) -> None:
        a, b = pop_as(t, ty, 2)
        ins = t.ins()
        vpush(t, ins.imul(ins.unary(widen, a), ins.unary(widen, b)))
    return handle


# Relaxed SIMD (deterministic) -------------------------------------------------------------


def madd(ty: Type, negate: bool, fused: bool = True) -> Handler:
    """``relaxed_madd``: ``a * b + c``; ``relaxed_nmadd``: ``-a * b + c``.  ``fused``:
    always one rounding (``fma``, the deterministic result); otherwise ``fmuladd``, fused
    where the CPU has FMA (relaxed SIMD's native mode)."""
    def handle(t: FunctionState, instr: Instr) -> None:
        a, b, c = pop_as(t, ty, 3)
        ins = t.ins()
        if negate:
            a = ins.fneg(a)
        vpush(t, ins.fma(a, b, c) if fused else ins.fmuladd(a, b, c))
    return handle


def laneselect(t: FunctionState, instr: Instr) -> None:
    """``relaxed_laneselect a, b, m`` as ``v128.bitselect``: ``(a & m) | (b & ~m)``.
    Bitwise, so every lane shape is the same operation."""
    a, b, mask = pop_as(t, I64X2, 3)
    ins = t.ins()
    vpush(t, ins.bor(ins.band(a, mask), ins.band_not(b, mask)))


def relaxed_dot_i8x16_i7x16_s(t: FunctionState, instr: Instr) -> None:
    """Signed products of the byte lanes, adjacent pairs added (wrapping) into i16x8."""
    a, b = pop_as(t, I8X16, 2)
    vpush(t, t.ins().widening_dot_s(a, b))


def relaxed_dot_i8x16_i7x16_add_s(t: FunctionState, instr: Instr) -> None:
    """The i16x8 dot product, adjacent i16 lanes sign-extended and added into i32x4,
    plus ``c``. The pairwise sum is ``widening_dot_s`` against ones (one ``pmaddwd``
    instead of two widenings and a pairwise add)."""
    (c,) = pop_as(t, I32X4, 1)
    a, b = pop_as(t, I8X16, 2)
    ins = t.ins()
    dot = ins.widening_dot_s(a, b)
    sums = ins.widening_dot_s(dot, ins.vconst(I16X8, I16X8_ONES))
    vpush(t, ins.iadd(sums, c))


I16X8_ONES = int.from_bytes(b"\x01\x00" * 8, "little")
"""A vconst of eight i16 lanes of 1."""
