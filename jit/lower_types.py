"""How IR types, constants and intrinsic names are spelled in LLVM IR text.

Pointers and integers are both ``i64`` in the IR; the lowering keeps the integer form and
derives ``ptr`` forms where a value is used as an address (see ``lower``). ``r64``
(funcref/externref words) is ``ptr`` throughout, as in the ABI of ``jit/abi.py``; the
untyped ``v128`` is ``<2 x i64>``, the ABI's spelling, and its lane views are vectors of
their lane type (converted with ``bitcast``).
"""

from __future__ import annotations

import struct

from pyjitwasm.ir import types as t

_LLVM_TYPES = {
    t.I8: "i8",
    t.I16: "i16",
    t.I32: "i32",
    t.I64: "i64",
    t.F32: "float",
    t.F64: "double",
    t.V128: "<2 x i64>",
    t.I8X16: "<16 x i8>",
    t.I16X8: "<8 x i16>",
    t.I32X4: "<4 x i32>",
    t.I64X2: "<2 x i64>",
    t.F32X4: "<4 x float>",
    t.F64X2: "<2 x double>",
    t.R64: "ptr",
}

LLVM_TYPES: dict[t.Type, str] = _LLVM_TYPES
"""``llvm_type`` as a table, for the lowering's per-operand hot paths."""

# The lane layout an untyped v128 is computed with.
_V128_LANES = t.I64X2


def llvm_type(ty: t.Type) -> str:
    """The LLVM type carrying IR type ``ty``."""
    return _LLVM_TYPES[ty]


def lanes_of(ty: t.Type) -> t.Type:
    """``ty`` with the untyped v128 replaced by the lane view it is computed as."""
    return _V128_LANES if ty == t.V128 else ty


def intrinsic_suffix(ty: t.Type) -> str:
    """The overload suffix of an intrinsic on ``ty`` (``i32``, ``f64``, ``v4f32``...)."""
    ty = lanes_of(ty)
    lane = ("f" if ty.kind == "float" else "i") + str(ty.lane_bits)
    return f"v{ty.lanes}{lane}" if ty.lanes > 1 else lane


def signed(value: int, bits: int) -> int:
    """The two's complement reading of the low ``bits`` of ``value``."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def int_literal(value: int, bits: int) -> str:
    """An integer constant of ``bits`` width (LLVM reads decimal literals as signed)."""
    if bits == 1:
        return "true" if value & 1 else "false"
    return str(signed(value, bits))


def splat(ty: t.Type, scalar: str) -> str:
    """A constant operand of type ``ty`` with every lane ``scalar`` (a literal)."""
    if not ty.is_vector:
        return scalar
    lane = lanes_of(ty).lane_type
    return f"splat ({llvm_type(lane)} {scalar})"


def f32_literal(bits: int) -> str:
    """An f32 constant with exactly these IEEE bits."""
    bits &= 0xFFFFFFFF
    if bits & 0x7F800000 == 0x7F800000 and bits & 0x7FFFFF:
        # LLVM reads float literals as doubles and converts, which may quiet a NaN.
        return f"bitcast (i32 {signed(bits, 32)} to float)"
    value = struct.unpack("<f", struct.pack("<I", bits))[0]
    return f"0x{struct.unpack('<Q', struct.pack('<d', value))[0]:016X}"


def f64_literal(bits: int) -> str:
    """An f64 constant with exactly these IEEE bits."""
    return f"0x{bits & 0xFFFFFFFFFFFFFFFF:016X}"


def vector_literal(ty: t.Type, value: int) -> str:
    """A 128-bit constant of type ``ty`` (``value`` little-endian: lane 0 = low bits)."""
    view = lanes_of(ty)
    bits = view.lane_bits
    ints = [(value >> (bits * i)) & ((1 << bits) - 1) for i in range(view.lanes)]
    int_lane = f"i{bits}"
    body = ", ".join(f"{int_lane} {signed(v, bits)}" for v in ints)
    int_vector = f"<{view.lanes} x {int_lane}> <{body}>"
    if view.kind == "float":
        return f"bitcast ({int_vector} to {llvm_type(view)})"
    return f"<{body}>"
