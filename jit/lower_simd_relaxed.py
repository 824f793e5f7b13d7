"""LLVM lowering of the relaxed-SIMD native instructions (``ir/instructions.py``'s
relaxed block, which ``translate/simd_relaxed.py`` emits when
``Config.relaxed_simd_deterministic`` is off).

Each becomes the one x86 instruction whose behaviour on the inputs the proposal leaves
open is among the results it allows. Where LLVM has no target-independent operation with
that behaviour, the lowering calls the x86 intrinsic itself: a generic ``fptosi`` of an
out-of-range lane is poison (LLVM may fold it to anything), and a generic ``fcmp`` +
``select`` for min/max would let LLVM pick another operand order.

* ``relaxed_swizzle``: ``pshufb`` (``llvm.x86.ssse3.pshuf.b.128``);
* ``relaxed_fcvt_to_sint``: ``cvttps2dq`` (``llvm.x86.sse2.cvttps2dq``);
* ``relaxed_laneselect``: ``select`` on the mask lanes' sign, which x86 selects to
  ``pblendvb``/``blendvps``/``blendvpd`` (i16 lanes: an arithmetic shift then
  ``pblendvb``);
* ``relaxed_q15mulr``: ``pmulhrsw`` (``llvm.x86.ssse3.pmul.hr.sw.128``);
* ``relaxed_dot_i8i7``: ``pmaddubsw`` (``llvm.x86.ssse3.pmadd.ub.sw.128``, whose first
  operand is the unsigned one, so the i7 operand goes first);
* ``fmuladd``: ``llvm.fmuladd`` (``vfmadd`` on a CPU with FMA, else ``mulps`` +
  ``addps``; never the correctly rounded libm call ``llvm.fma`` needs without FMA);
* ``relaxed_fmin``/``relaxed_fmax``: ``minps``/``maxps``/``minpd``/``maxpd``.
"""

from __future__ import annotations

from pyjitwasm.ir import types as t
from pyjitwasm.ir.entities import Inst, Value
from pyjitwasm.ir.instructions import Binary, InstructionData, Ternary, Unary
from pyjitwasm.jit.lower_emitter import Emitter
from pyjitwasm.jit.lower_simd import SimdLowering, vector_type

_I8X16 = "<16 x i8>"
_I16X8 = "<8 x i16>"

# (opcode, lane type) -> the x86 intrinsic computing it on one 128-bit register.
_MIN_MAX = {("relaxed_fmin", t.F32): "llvm.x86.sse.min.ps",
            ("relaxed_fmax", t.F32): "llvm.x86.sse.max.ps",
            ("relaxed_fmin", t.F64): "llvm.x86.sse2.min.pd",
            ("relaxed_fmax", t.F64): "llvm.x86.sse2.max.pd"}


def _x86_call(lo: Emitter, inst: Inst, name: str, ret: str, args: list[Value]) -> None:
    """Define ``inst``'s result as a call of x86 intrinsic ``name`` on ``args``."""
    fn = lo.decls.intrinsic(name, ret, [vector_type(lo.type_of(a)) for a in args])
    lo.simple(inst, f"call {ret} {fn}({', '.join(lo.typed(a) for a in args)})")


def relaxed_swizzle(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Binary)
    a, s = data.args
    _x86_call(lo, inst, "llvm.x86.ssse3.pshuf.b.128", _I8X16, [a, s])


def relaxed_fcvt_to_sint(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Unary)
    _x86_call(lo, inst, "llvm.x86.sse2.cvttps2dq", "<4 x i32>", [data.arg])


def relaxed_laneselect(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Ternary)
    mask, a, b = data.args
    ty = lo.type_of(mask)
    negative = lo.fresh("ls")
    lo.emit(f"{negative} = icmp slt {lo.typed(mask)}, zeroinitializer")
    lo.simple(inst, f"select <{ty.lanes} x i1> {negative}, {lo.typed(a)}, {lo.typed(b)}")


def relaxed_q15mulr(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Binary)
    a, b = data.args
    _x86_call(lo, inst, "llvm.x86.ssse3.pmul.hr.sw.128", _I16X8, [a, b])


def relaxed_dot_i8i7(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Binary)
    a, b = data.args
    _x86_call(lo, inst, "llvm.x86.ssse3.pmadd.ub.sw.128", _I16X8, [b, a])


def fmuladd(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    lo.intrinsic_call(inst, "fmuladd", data.arguments())


def relaxed_min_max(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Binary)
    a, b = data.args
    ty = lo.type_of(a)
    name = _MIN_MAX[(data.opcode, ty.lane_type)]
    _x86_call(lo, inst, name, vector_type(ty), [a, b])


SIMD_RELAXED_LOWERINGS: dict[str, SimdLowering] = {
    "relaxed_swizzle": relaxed_swizzle,
    "relaxed_fcvt_to_sint": relaxed_fcvt_to_sint,
    "relaxed_laneselect": relaxed_laneselect,
    "relaxed_q15mulr": relaxed_q15mulr,
    "relaxed_dot_i8i7": relaxed_dot_i8i7,
    "fmuladd": fmuladd,
    "relaxed_fmin": relaxed_min_max,
    "relaxed_fmax": relaxed_min_max,
}
"""The lowering of each relaxed-native opcode (``lower.LOWERINGS`` takes them in)."""
