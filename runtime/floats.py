"""How the runtime represents floating-point values, and conversions to raw bits.

Both f32 and f64 values are Python floats. An f32 is a double holding exactly an f32
value; an f32 NaN is the double NaN with the same sign and its 23-bit payload shifted to
the top of the 52-bit double payload. That mapping is done by hand (not by the hardware
float<->double conversion) because hardware conversion quiets signaling NaNs, and the
spec requires moves, loads, stores and sign operations to keep every NaN bit.
"""

from __future__ import annotations

import struct
from array import array

_D = struct.Struct("<d")
_Q = struct.Struct("<Q")
_F = struct.Struct("<f")
_I = struct.Struct("<I")

# array('f') item assignment is a plain C (float) cast: round to nearest even, overflow
# to infinity, no exception (struct's 'f' format raises OverflowError instead).
_f32_buffer = array("f", [0.0])

F32_CANONICAL_NAN_BITS = 0x7FC00000
F64_CANONICAL_NAN_BITS = 0x7FF8000000000000


def f32_round(x: float) -> float:
    """Round a double to the nearest f32 value (ties to even), as a double."""
    _f32_buffer[0] = x
    return _f32_buffer[0]


def f64_from_bits(bits: int) -> float:
    """The f64 whose IEEE bits are ``bits`` (payloads kept)."""
    return _D.unpack(_Q.pack(bits))[0]


def f64_to_bits(x: float) -> int:
    """The IEEE bits of an f64 (payloads kept)."""
    return _Q.unpack(_D.pack(x))[0]


def f32_from_bits(bits: int) -> float:
    """The runtime's f32 value for the IEEE single bits ``bits`` (payloads kept)."""
    if bits & 0x7F800000 == 0x7F800000 and bits & 0x7FFFFF:
        double_bits = ((bits & 0x80000000) << 32) | 0x7FF0000000000000 | ((bits & 0x7FFFFF) << 29)
        return _D.unpack(_Q.pack(double_bits))[0]
    return _F.unpack(_I.pack(bits))[0]


def f32_to_bits(x: float) -> int:
    """The IEEE single bits of a runtime f32 value (payloads kept)."""
    if x != x:
        double_bits = _Q.unpack(_D.pack(x))[0]
        return ((double_bits >> 32) & 0x80000000) | 0x7F800000 | ((double_bits >> 29) & 0x7FFFFF)
    return _I.unpack(_F.pack(x))[0]


def f32_from_bytes(data: bytes | bytearray | memoryview, pos: int = 0) -> float:
    """Read a little-endian f32 (payloads kept); raises struct.error past the end."""
    x = _F.unpack_from(data, pos)[0]
    if x != x:
        return f32_from_bits(_I.unpack_from(data, pos)[0])
    return x


def f32_into_bytes(data: bytearray | memoryview, pos: int, x: float) -> None:
    """Write an f32 little-endian (payloads kept); raises struct.error past the end."""
    if x != x:
        _I.pack_into(data, pos, f32_to_bits(x))
    else:
        _F.pack_into(data, pos, x)
