"""Lane views of v128 values in translation: the operand stack holds wasm's untyped
``v128``; a SIMD handler views its operands as the lane type it computes in (a ``bitcast``,
or the value a bitcast came from) and pushes its result back as ``v128``."""

from __future__ import annotations

from pyjitwasm.ir.entities import Value
from pyjitwasm.ir.instructions import Unary
from pyjitwasm.ir.types import V128, Type
from pyjitwasm.translate.state import FunctionState


def view(t: FunctionState, v: Value, ty: Type) -> Value:
    """``v`` (a 128-bit value) as type ``ty``: itself, the value a bitcast came from when
    that has type ``ty``, or a new ``bitcast``."""
    dfg = t.func.dfg
    if dfg.value_type(v) == ty:
        return v
    source = dfg.defining_inst(v)
    if (isinstance(source, Unary) and source.opcode == "bitcast"
            and dfg.value_type(source.arg) == ty):
        return source.arg
    return t.ins().bitcast(ty, v)


def vpop(t: FunctionState, ty: Type = V128) -> Value:
    """Pop a v128 operand, viewed as ``ty``."""
    return view(t, t.pop(), ty)


def vpush(t: FunctionState, v: Value) -> None:
    """Push a 128-bit result as ``v128``."""
    t.push(view(t, v, V128))
