"""Values crossing the API: ``Val``, and the checks that turn Python numbers into the
runtime representation (unsigned integer bit patterns, Python floats). Converting
references needs the store objects, so the full conversions are in ``externs.py``."""

from __future__ import annotations

from typing import Any

from pyjitwasm.runtime.floats import (
    f32_from_bits,
    f32_round,
    f32_to_bits,
    f64_from_bits,
    f64_to_bits,
)
from pyjitwasm.runtime.instance import FuncInstance
from pyjitwasm.store import StoreObject
from pyjitwasm.valtypes import ValType
from pyjitwasm.wasm import types as wt

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF
M128 = (1 << 128) - 1


class Val:
    """A typed WebAssembly value (wasmtime-py's ``Val``).

    ``type`` is its ValType and ``value`` the Python value (ints are signed; floats are
    floats; a funcref is a Func or None; an externref is the host object or None).
    ``bits`` gives the raw IEEE bits of a float, NaN payload included.
    """

    __slots__ = ("_code", "_raw")

    def __init__(self, code: int, raw: Any) -> None:
        self._code = code
        # Numbers in the runtime representation; refs as the API object (Func or host object).
        self._raw = raw

    # Constructors take what wasmtime-py's take: ints wrap to the type's width (as
    # wasmtime-py's ctypes conversion does), floats must be floats.

    @staticmethod
    def i32(value: int) -> Val:
        return Val(wt.I32, wrapped_int(value, 32))

    @staticmethod
    def i64(value: int) -> Val:
        return Val(wt.I64, wrapped_int(value, 64))

    @staticmethod
    def f32(value: float) -> Val:
        return Val(wt.F32, f32_round(strict_float(value)))

    @staticmethod
    def f64(value: float) -> Val:
        return Val(wt.F64, strict_float(value))

    @staticmethod
    def f32_bits(bits: int) -> Val:
        return Val(wt.F32, f32_from_bits(int_bits(bits, 32)))

    @staticmethod
    def f64_bits(bits: int) -> Val:
        return Val(wt.F64, f64_from_bits(int_bits(bits, 64)))

    @staticmethod
    def v128(value: int) -> Val:
        """A v128 from its 128 bits as an int (lane 0 in the low bits)."""
        return Val(wt.V128, wrapped_int(value, 128))

    @staticmethod
    def funcref(func: StoreObject[FuncInstance] | None) -> Val:
        """A funcref to ``func`` (a Func) or null."""
        if func is not None and not is_func(func):
            raise TypeError(f"expected a Func or None, got {type(func).__name__}")
        return Val(wt.FUNCREF, func)

    @staticmethod
    def externref(obj: Any) -> Val:
        return Val(wt.EXTERNREF, obj)

    @staticmethod
    def ref_null(ty: ValType) -> Val:
        """A null reference of reference type ``ty``."""
        if ty.code not in wt.REF_TYPES:
            raise ValueError(f"{ty} is not a reference type")
        return Val(ty.code, None)

    @property
    def type(self) -> ValType:
        return ValType._of(self._code)

    @property
    def value(self) -> Any:
        code = self._code
        if code == wt.I32:
            return self._raw - (1 << 32) if self._raw & 0x80000000 else self._raw
        if code == wt.I64:
            return self._raw - (1 << 64) if self._raw & (1 << 63) else self._raw
        return self._raw

    # wasmtime-py's accessors: the value when it has that type, else None.

    def as_i32(self) -> int | None:
        return self.value if self._code == wt.I32 else None

    def as_i64(self) -> int | None:
        return self.value if self._code == wt.I64 else None

    def as_f32(self) -> float | None:
        return self._raw if self._code == wt.F32 else None

    def as_f64(self) -> float | None:
        return self._raw if self._code == wt.F64 else None

    def as_v128(self) -> int | None:
        return self._raw if self._code == wt.V128 else None

    def as_externref(self) -> Any:
        return self._raw if self._code == wt.EXTERNREF else None

    def as_funcref(self) -> Any:
        """The Func of a funcref (None when null or not a funcref)."""
        return self._raw if self._code == wt.FUNCREF else None

    @property
    def bits(self) -> int:
        """The raw bits of a numeric value (IEEE bits for floats, unsigned for ints)."""
        code = self._code
        if code == wt.F32:
            return f32_to_bits(self._raw)
        if code == wt.F64:
            return f64_to_bits(self._raw)
        if code in (wt.I32, wt.I64, wt.V128):
            return self._raw
        raise TypeError(f"a {self.type} value has no bits")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Val) or other._code != self._code:
            return False
        if self._code in wt.REF_TYPES:
            return self._raw is other._raw or self._raw == other._raw
        return self.bits == other.bits

    def __hash__(self) -> int:
        if self._code in wt.REF_TYPES:
            return hash((self._code, id(self._raw)))
        return hash((self._code, self.bits))

    def __repr__(self) -> str:
        return f"Val.{self.type}({self.value!r})"


def is_func(obj: object) -> bool:
    """Whether ``obj`` is a Func (the API object of a runtime function)."""
    return isinstance(obj, StoreObject) and isinstance(obj._rt, FuncInstance)


def int_bits(value: Any, width: int) -> int:
    """``value`` as an unsigned ``width``-bit pattern (signed or unsigned input)."""
    if not isinstance(value, int):
        raise TypeError(f"expected an int for an i{width}, got {type(value).__name__}")
    if not -(1 << (width - 1)) <= value < (1 << width):
        raise ValueError(f"{value} does not fit in {width} bits")
    return value & ((1 << width) - 1)


def wrapped_int(value: Any, width: int) -> int:
    """``value`` (an int) truncated to an unsigned ``width``-bit pattern."""
    if not isinstance(value, int):
        raise TypeError(f"expected an int for an i{width}, got {type(value).__name__}")
    return value & ((1 << width) - 1)


def strict_float(value: Any) -> float:
    """``value`` if it is a float (wasmtime-py's Val.f32/f64 take no ints)."""
    if not isinstance(value, float):
        raise TypeError(f"expected a float, got {type(value).__name__}")
    return value


def float_value(value: Any) -> float:
    """``value`` (an int or float, not a bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a float, got {type(value).__name__}")
    return float(value)
