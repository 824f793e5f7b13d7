"""Translation of wasm's numeric instructions (constants, arithmetic, comparisons,
conversions) to IR.

Most map to one IR instruction whose semantics are wasm's (see ``instructions``):
``fmin``/``fmax`` propagate NaN and order -0 below +0 (LLVM ``llvm.minimum`` /
``llvm.maximum``), ``nearest`` rounds half to even (``llvm.roundeven``), ``fcopysign`` is
``llvm.copysign``, the ``_sat`` conversions are ``llvm.fpto[su]i.sat``. Trapping
divisions and conversions stay implicit here and become explicit in legalization.
Comparisons produce ``i8`` in IR and are widened to wasm's i32.
"""

from __future__ import annotations

from pyjitwasm.ir.types import I32, I64, V128, Type, int_type
from pyjitwasm.translate.state import FunctionState, Handler
from pyjitwasm.wasm.module import Instr

# Each factory below makes the handler of a family of instructions, parameterized by the
# IR opcode or condition the instruction maps to (see ``dispatch``).


def binary(ir_op: str) -> Handler:
    """``a op b`` as the one IR instruction ``ir_op``."""
    def handle(t: FunctionState, instr: Instr) -> None:
        stack = t.stack
        b = stack.pop()
        stack[-1] = t.ins().binary(ir_op, stack[-1], b)
    return handle


def unary(ir_op: str, ty: Type | None = None) -> Handler:
    """``op a`` as the one IR instruction ``ir_op`` (controlled by result type ``ty`` for
    conversions)."""
    def handle(t: FunctionState, instr: Instr) -> None:
        stack = t.stack
        stack[-1] = t.ins().unary(ir_op, stack[-1], ty)
    return handle


def icmp(cond: str) -> Handler:
    """An integer comparison, widened from IR's i8 to wasm's i32."""
    def handle(t: FunctionState, instr: Instr) -> None:
        stack = t.stack
        b = stack.pop()
        ins = t.ins()
        stack[-1] = ins.uextend(I32, ins.icmp(cond, stack[-1], b))
    return handle


def fcmp(cond: str) -> Handler:
    """A float comparison, widened from IR's i8 to wasm's i32. IR ``ne`` is true on
    unordered operands, the other conditions false: exactly wasm's rules."""
    def handle(t: FunctionState, instr: Instr) -> None:
        b, a = t.pop(), t.pop()
        ins = t.ins()
        t.push(ins.uextend(I32, ins.fcmp(cond, a, b)))
    return handle


def eqz(t: FunctionState, instr: Instr) -> None:
    ins = t.ins()
    t.push(ins.uextend(I32, ins.icmp_imm("eq", t.pop(), 0)))


def extend_s(bits: int, ty: Type) -> Handler:
    """``iN.extendM_s``: keep the low M bits, sign-extend them back to N."""
    def handle(t: FunctionState, instr: Instr) -> None:
        ins = t.ins()
        t.push(ins.sextend(ty, ins.ireduce(int_type(bits), t.pop())))
    return handle


def i32_const(t: FunctionState, instr: Instr) -> None:
    t.stack.append(t.ins().iconst(I32, instr.imm))


def i64_const(t: FunctionState, instr: Instr) -> None:
    t.stack.append(t.ins().iconst(I64, instr.imm))


def f32_const(t: FunctionState, instr: Instr) -> None:
    t.push(t.ins().f32const(instr.imm))


def f64_const(t: FunctionState, instr: Instr) -> None:
    t.push(t.ins().f64const(instr.imm))


def v128_const(t: FunctionState, instr: Instr) -> None:
    # The one SIMD instruction translated: v128 globals, locals and select need values.
    t.push(t.ins().vconst(V128, instr.imm))
