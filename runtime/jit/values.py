"""Runtime values <-> native 16-byte slots (values arrays and global slots).

Layout (``jit/abi.py``): i32 and f32 in the low 4 bytes (f32 as its IEEE bits, so NaN
payloads survive), i64/f64 and references in the low 8, v128 in all 16.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from pyjitwasm.runtime.floats import f32_from_bits, f32_to_bits
from pyjitwasm.runtime.instance import FuncInstance
from pyjitwasm.runtime.native import ffi
from pyjitwasm.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64, V128

_M64 = (1 << 64) - 1


class References(Protocol):
    """How a store maps references to native words and back (``store.JitState``)."""

    def funcref_address(self, func: FuncInstance | None) -> int:
        """The word a funcref to ``func`` is (0 for null)."""
        ...

    def func_at(self, address: int) -> FuncInstance | None:
        """The function a funcref word stands for (None for 0)."""
        ...

    def extern_handle(self, obj: Any) -> int:
        """The handle of a host object (0 for None)."""
        ...

    def extern_object(self, handle: int) -> Any:
        """The host object behind a handle (None for 0)."""
        ...


def write_value(state: References, valtype: int, value: Any, address: int) -> None:
    """Store runtime value ``value`` of type ``valtype`` into the slot at ``address``."""
    if valtype == I32:
        ffi.cast("uint32_t *", address)[0] = value
    elif valtype == I64:
        ffi.cast("uint64_t *", address)[0] = value
    elif valtype == F64:
        ffi.cast("double *", address)[0] = value
    elif valtype == F32:
        ffi.cast("uint32_t *", address)[0] = f32_to_bits(value)
    elif valtype == FUNCREF:
        ffi.cast("uint64_t *", address)[0] = state.funcref_address(value)
    elif valtype == EXTERNREF:
        ffi.cast("uint64_t *", address)[0] = state.extern_handle(value)
    elif valtype == V128:
        words = ffi.cast("uint64_t *", address)
        words[0] = value & _M64
        words[1] = value >> 64
    else:
        raise TypeError(f"unsupported value type {valtype:#x}")


def read_value(state: References, valtype: int, address: int) -> Any:
    """The runtime value of type ``valtype`` in the slot at ``address``."""
    if valtype == I32:
        return ffi.cast("uint32_t *", address)[0]
    if valtype == I64:
        return ffi.cast("uint64_t *", address)[0]
    if valtype == F64:
        return ffi.cast("double *", address)[0]
    if valtype == F32:
        return f32_from_bits(ffi.cast("uint32_t *", address)[0])
    if valtype == FUNCREF:
        return state.func_at(ffi.cast("uint64_t *", address)[0])
    if valtype == EXTERNREF:
        return state.extern_object(ffi.cast("uint64_t *", address)[0])
    if valtype == V128:
        words = ffi.cast("uint64_t *", address)
        return words[0] | (words[1] << 64)
    raise TypeError(f"unsupported value type {valtype:#x}")


def write_values(state: References, types: Sequence[int], values: Sequence[Any],
                 address: int) -> None:
    """Store a list of runtime values into consecutive 16-byte slots."""
    if len(values) != len(types):
        raise TypeError(f"expected {len(types)} values, got {len(values)}")
    for i, (t, v) in enumerate(zip(types, values, strict=True)):
        write_value(state, t, v, address + 16 * i)


def read_values(state: References, types: Sequence[int], address: int) -> list[Any]:
    """Read consecutive 16-byte slots as runtime values."""
    return [read_value(state, t, address + 16 * i) for i, t in enumerate(types)]
