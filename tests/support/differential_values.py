"""Engine-neutral values for differential testing: how arguments are chosen, how results,
globals and table entries are written down so two engines' observations compare
directly, and the rule for which float differences the specification allows.

A neutral value is a tuple ``(type, payload)``: ``("i32", bits)``, ``("f64", bits)`` with
unsigned bit patterns; ``("v128", bits)`` with the 128 bits as one unsigned integer (lane
0 in the low bits); ``("funcref", None | ordinal)`` where the ordinal numbers distinct
functions in the order the harness first saw them (the same order in both engines when
they behave the same); ``("externref", None | token number | "foreign")``.
"""

from __future__ import annotations

import math
import random
import struct
from typing import Any

NeutralVal = tuple[str, Any]

NUM_TYPES = ("i32", "i64", "f32", "f64")
REF_TYPES = ("funcref", "externref")

F32_SIGN = 1 << 31
F32_EXP = 0x7F800000
F32_QUIET = 1 << 22
F64_SIGN = 1 << 63
F64_EXP = 0x7FF0000000000000
F64_QUIET = 1 << 51

# Edge cases per numeric type, as bit patterns. Floats include both canonical NaNs, an
# arithmetic NaN with a payload and a signalling NaN (which only a bit-preserving path may
# return unchanged), the bounds of float->int conversion, subnormals and infinities.
EDGE_BITS: dict[str, tuple[int, ...]] = {
    "i32": (0, 1, 0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x80, 0xFFFF, 0x10000, 31, 32),
    "i64": (
        0, 1, 0xFFFFFFFFFFFFFFFF, 0x8000000000000000, 0x7FFFFFFFFFFFFFFF,
        0xFFFFFFFF, 0x80000000, 0x100000000, 63, 64,
    ),
    "f32": (
        0x00000000, 0x80000000, 0x3F800000, 0xBF800000, 0x7F800000, 0xFF800000,
        0x7FC00000, 0xFFC00000, 0x7FC00001, 0x7FA00000, 0x00000001, 0x7F7FFFFF,
        0x4F000000, 0xCF000000, 0x5F000000, 0x3F000000, 0x4B800001,
    ),
    "f64": (
        0x0000000000000000, 0x8000000000000000, 0x3FF0000000000000, 0xBFF0000000000000,
        0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000,
        0x7FF8000000000001, 0x7FF4000000000000, 0x0000000000000001, 0x7FEFFFFFFFFFFFFF,
        0x41E0000000000000, 0xC1E0000000200000, 0x43E0000000000000, 0x3FE0000000000000,
        0x41DFFFFFFFC00000,
    ),
}

WIDTH = {"i32": 32, "i64": 64, "f32": 32, "f64": 64, "v128": 128}

V128_MASK = (1 << 128) - 1

# A v128 argument is built lane by lane in one of these shapes (lane type, count, edge
# cases): the float shapes take the scalar types' edge cases, NaNs included.
V128_SHAPES: tuple[tuple[str, int, tuple[int, ...]], ...] = (
    ("i8", 16, (0, 1, 0x7F, 0x80, 0xFF, 0x40, 0xC0)),
    ("i16", 8, (0, 1, 0x7FFF, 0x8000, 0xFFFF, 0x00FF, 0xFF00)),
    ("i32", 4, EDGE_BITS["i32"]),
    ("i64", 2, EDGE_BITS["i64"]),
    ("f32", 4, EDGE_BITS["f32"]),
    ("f64", 2, EDGE_BITS["f64"]),
)


class ExternToken:
    """A host object passed as an externref. The same token object goes to both engines,
    so an externref coming back is recognised by its number."""

    __slots__ = ("number",)

    def __init__(self, number: int) -> None:
        self.number = number

    def __repr__(self) -> str:
        return f"ExternToken({self.number})"


_TOKENS: dict[int, ExternToken] = {}


def extern_token(number: int) -> ExternToken:
    """The token object numbered ``number`` (one object per number, shared by engines)."""
    token = _TOKENS.get(number)
    if token is None:
        token = _TOKENS[number] = ExternToken(number)
    return token


def neutral_extern(obj: Any) -> NeutralVal:
    """The neutral form of an externref's host object."""
    if obj is None:
        return ("externref", None)
    if isinstance(obj, ExternToken):
        return ("externref", obj.number)
    return ("externref", "foreign")


def random_bits(rng: random.Random, ty: str) -> int:
    """A value of numeric type ``ty``: an edge case, a small number or random bits."""
    if ty == "v128":
        return random_v128(rng)
    roll = rng.random()
    if roll < 0.5:
        return rng.choice(EDGE_BITS[ty])
    if ty in ("f32", "f64") and roll < 0.8:
        # An ordinary float of moderate magnitude, the common case in real programs.
        x = rng.uniform(-1000.0, 1000.0)
        return float_to_bits(x, ty)
    if roll < 0.8:
        return rng.randrange(-16, 17) & ((1 << WIDTH[ty]) - 1)
    return rng.getrandbits(WIDTH[ty])


def random_v128(rng: random.Random) -> int:
    """A v128 value: all zeros or ones, random bits, or lanes of one shape each drawn like
    a scalar of the lane's type (edge cases, NaNs and moderate floats included)."""
    roll = rng.random()
    if roll < 0.1:
        return rng.choice((0, V128_MASK))
    if roll < 0.25:
        return rng.getrandbits(128)
    lane_type, count, edges = rng.choice(V128_SHAPES)
    width = 128 // count
    bits = 0
    for lane in range(count):
        if lane_type in EDGE_BITS:
            value = random_bits(rng, lane_type)
        else:
            value = rng.choice(edges) if rng.random() < 0.6 else rng.getrandbits(width)
        bits |= value << (lane * width)
    return bits


def v128_lanes(bits: int, lane_width: int) -> list[int]:
    """The lanes of a v128 value, lane 0 first, as unsigned ``lane_width``-bit integers."""
    mask = (1 << lane_width) - 1
    return [(bits >> shift) & mask for shift in range(0, 128, lane_width)]


def float_to_bits(x: float, ty: str) -> int:
    if ty == "f32":
        return int(struct.unpack("<I", struct.pack("<f", x))[0])
    return int(struct.unpack("<Q", struct.pack("<d", x))[0])


def argument_tuples(
    rng: random.Random, params: tuple[str, ...], funcref_exports: list[str], count: int
) -> list[tuple[NeutralVal, ...]]:
    """``count`` argument tuples for a function with ``params``: all zeros/nulls first,
    then edge-heavy random ones. A funcref argument is null or one of the module's own
    exported functions (named, resolved per engine); an externref is null or a token."""
    tuples: list[tuple[NeutralVal, ...]] = [tuple(_zero(ty) for ty in params)]
    while len(tuples) < count:
        args: list[NeutralVal] = []
        for ty in params:
            if ty == "funcref":
                use_export = funcref_exports and rng.random() < 0.6
                args.append(("funcref", ("export", rng.choice(funcref_exports))
                             if use_export else None))
            elif ty == "externref":
                args.append(("externref", rng.randrange(1, 4) if rng.random() < 0.6 else None))
            else:
                args.append((ty, random_bits(rng, ty)))
        tuples.append(tuple(args))
    return tuples


def _zero(ty: str) -> NeutralVal:
    return (ty, None) if ty in REF_TYPES else (ty, 0)


def is_nan(bits: int, ty: str) -> bool:
    if ty == "f32":
        return (bits & F32_EXP) == F32_EXP and (bits & 0x007FFFFF) != 0
    return (bits & F64_EXP) == F64_EXP and (bits & 0x000FFFFFFFFFFFFF) != 0


def is_arithmetic_nan(bits: int, ty: str) -> bool:
    """A NaN with the quiet bit set (the spec's "arithmetic NaN"; canonical ones included)."""
    return is_nan(bits, ty) and bool(bits & (F32_QUIET if ty == "f32" else F64_QUIET))


def values_match(a: NeutralVal, b: NeutralVal, nan_rule: str = "exact") -> bool:
    """Whether two neutral values count as the same observation.

    ``nan_rule="exact"``: bit-for-bit. Right for modules generated with wasm-smith's
    ``--canonicalize-nans`` (plus this harness's canonicalisation of the operations smith
    leaves out, see ``differential_modules`` and ``differential_simd``), which rewrites
    every float operation's NaN result to the canonical NaN, so a correct engine has no
    freedom left. v128 values included.

    ``nan_rule="arithmetic"``: for code whose float results are not canonicalised. The
    spec (Numerics, "NaN propagation", and the ``nans_N`` definition) lets an arithmetic
    operation return any arithmetic NaN (quiet bit set, any payload, either sign) when
    some input NaN is not canonical, and a canonical NaN of either sign when all are. Only
    the operation's inputs tell which case applies, which the harness cannot see, so two
    arithmetic NaNs are accepted as equal. A signalling NaN is never an arithmetic result
    (only bit-preserving instructions such as loads, ``reinterpret``, ``select``,
    ``copysign``/``neg``/``abs`` produce one), so it must match exactly.

    v128 values under ``"arithmetic"``: see ``v128_match``.
    """
    if a == b:
        return True
    if nan_rule == "exact" or a[0] != b[0]:
        return False
    if a[0] == "v128":
        return v128_match(a[1], b[1])
    if a[0] not in ("f32", "f64"):
        return False
    return is_arithmetic_nan(a[1], a[0]) and is_arithmetic_nan(b[1], b[0])


def v128_match(a: int, b: int) -> bool:
    """Two v128 results under the arithmetic NaN rule, applied lane by lane.

    A raw v128 does not say whether it holds f32x4 or f64x2 lanes (or integers), so the
    rule is tried in both float shapes: the values match when, in one shape, every lane is
    bit-for-bit equal or an arithmetic NaN on both sides. Integer-shaped results have no
    NaN freedom; they still pass only when equal, or when the differing lanes happen to be
    quiet-NaN patterns on both sides in one float shape, which a wrong integer result
    reaches only by a rare coincidence (both sides with exponent bits all ones and the
    quiet bit set in exactly the lanes that differ).
    """
    for lane_type, width in (("f32", 32), ("f64", 64)):
        if all(x == y or (is_arithmetic_nan(x, lane_type) and is_arithmetic_nan(y, lane_type))
               for x, y in zip(v128_lanes(a, width), v128_lanes(b, width), strict=True)):
            return True
    return False


def describe(value: NeutralVal) -> str:
    """A readable form of a neutral value (bits and the number they mean)."""
    ty, payload = value
    if ty in REF_TYPES:
        return f"{ty}:{'null' if payload is None else payload}"
    if ty == "v128":
        lanes = " ".join(f"{lane:08x}" for lane in v128_lanes(payload, 32))
        return f"v128:i32x4 {lanes} (0x{payload:032x})"
    if ty in ("i32", "i64"):
        width = WIDTH[ty]
        signed = payload - (1 << width) if payload >> (width - 1) else payload
        return f"{ty}:{signed} (0x{payload:0{width // 4}x})"
    fmt = "<I" if ty == "f32" else "<Q"
    as_float = struct.unpack("<f" if ty == "f32" else "<d", struct.pack(fmt, payload))[0]
    shown = "nan" if math.isnan(as_float) else repr(as_float)
    return f"{ty}:{shown} (0x{payload:0{WIDTH[ty] // 4}x})"
