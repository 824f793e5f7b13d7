"""The IR type each wasm value type lowers to (the IR itself knows nothing of wasm)."""

from __future__ import annotations

from pyjitwasm.ir.types import F32, F64, I32, I64, R64, V128, Type
from pyjitwasm.wasm import types as wt

_IR_TYPES: dict[int, Type] = {
    wt.I32: I32,
    wt.I64: I64,
    wt.F32: F32,
    wt.F64: F64,
    wt.V128: V128,
    wt.FUNCREF: R64,
    wt.EXTERNREF: R64,
}


def from_wasm(valtype: int) -> Type:
    """The IR type a wasm value type lowers to; KeyError for other codes."""
    return _IR_TYPES[valtype]
