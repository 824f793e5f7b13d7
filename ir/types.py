"""IR value types.

Scalars (``i8`` .. ``i64``, ``f32``, ``f64``), the 128-bit vector ``v128`` with its lane
views (``i8x16`` .. ``f64x2``, distinct types converted with ``bitcast``), and ``r64``, the
pointer-sized opaque reference type that funcref and externref values use on x86-64.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True, eq=False)
class Type:
    """An IR value type. The instances below are the only ones, so equality is identity
    (``eq=False``: hashing and comparing a type is the C-level identity check, not a
    generated Python ``__eq__``, which the compiler's hot paths would pay for on every
    dictionary lookup keyed by a type)."""

    name: str
    lane_bits: int
    lanes: int
    kind: str  # "int", "float", "vector" (untyped v128), "ref"
    # Derived once (read on every instruction built, checked and lowered).
    bits: int = field(init=False)
    """Total width in bits."""
    is_int: bool = field(init=False)
    """A scalar integer type."""
    is_float: bool = field(init=False)
    """A scalar float type."""
    is_vector: bool = field(init=False)
    """``v128`` or one of its lane views."""

    def __post_init__(self) -> None:
        bits = self.lane_bits * self.lanes
        object.__setattr__(self, "bits", bits)
        object.__setattr__(self, "is_int", self.kind == "int" and self.lanes == 1)
        object.__setattr__(self, "is_float", self.kind == "float" and self.lanes == 1)
        object.__setattr__(self, "is_vector", bits == 128)

    @property
    def bytes(self) -> int:
        return self.bits // 8

    @property
    def is_ref(self) -> bool:
        return self.kind == "ref"

    @property
    def lane_type(self) -> Type:
        """The scalar type of one lane (the type itself for scalars)."""
        if self.lanes == 1:
            return self
        return TYPES_BY_NAME[("i" if self.kind == "int" else "f") + str(self.lane_bits)]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name


I8 = Type("i8", 8, 1, "int")
I16 = Type("i16", 16, 1, "int")
I32 = Type("i32", 32, 1, "int")
I64 = Type("i64", 64, 1, "int")
F32 = Type("f32", 32, 1, "float")
F64 = Type("f64", 64, 1, "float")
V128 = Type("v128", 128, 1, "vector")
I8X16 = Type("i8x16", 8, 16, "int")
I16X8 = Type("i16x8", 16, 8, "int")
I32X4 = Type("i32x4", 32, 4, "int")
I64X2 = Type("i64x2", 64, 2, "int")
F32X4 = Type("f32x4", 32, 4, "float")
F64X2 = Type("f64x2", 64, 2, "float")
R64 = Type("r64", 64, 1, "ref")

POINTER = I64
"""The native pointer type (x86-64)."""
REF = R64
"""The type of funcref and externref values."""

ALL_TYPES = (I8, I16, I32, I64, F32, F64, V128, I8X16, I16X8, I32X4, I64X2, F32X4, F64X2, R64)
TYPES_BY_NAME: dict[str, Type] = {t.name: t for t in ALL_TYPES}
INT_TYPES = (I8, I16, I32, I64)
FLOAT_TYPES = (F32, F64)


def int_type(bits: int) -> Type:
    """The scalar integer type of a width in bits."""
    return TYPES_BY_NAME[f"i{bits}"]
