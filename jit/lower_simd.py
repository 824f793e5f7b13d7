"""Lowering of the IR's SIMD lane, shuffle, memory and integer-vector instructions to LLVM.

How to add a lowering (for another group of vector instructions, in a module of its own):
write ``def name(lo: Emitter, inst: Inst, data: InstructionData) -> None`` taking the
``Emitter`` protocol of ``jit/lower_emitter.py`` (never ``lower.py``, which imports these
modules), emit LLVM text with ``lo.emit``/``lo.simple``, spell vector types with
``vector_type`` (the untyped ``v128`` is computed as ``<2 x i64>``), and export a table
``{ir opcode: lowering}`` that ``lower.py`` merges into ``LOWERINGS`` with one line.
Generic instructions on vector types (``iadd.i32x4``, ``band``, ``bitcast``, ``select``,
``load``/``store`` of v128, shifts by a scalar amount) are lowered by ``lower.py`` itself;
``icmp`` on vectors comes here through ``vector_icmp``.

Everything here is plain LLVM vector IR or target-independent intrinsics, which the x86
back end selects to SSE4.1/AVX instructions for the host CPU (``pmaxsb``, ``paddusb``,
``pavgb``, ``pmovmskb``, ``pmovsxbw``, ``pshufb``...), except ``swizzle``, which is
``pshufb`` itself (``llvm.x86.ssse3.pshuf.b.128``): no target-independent operation picks
bytes by a run-time index.
"""

from __future__ import annotations

from collections.abc import Callable

from pyjitwasm.ir import types as t
from pyjitwasm.ir.entities import Inst
from pyjitwasm.ir.instructions import (
    Binary,
    BinaryImm,
    InsertLane,
    InstructionData,
    IntCompare,
    Load,
    Shuffle,
    Ternary,
    Unary,
    spec,
)
from pyjitwasm.jit.lower_emitter import Emitter
from pyjitwasm.jit.lower_types import intrinsic_suffix, lanes_of, llvm_type

SimdLowering = Callable[[Emitter, Inst, InstructionData], None]


def vector_type(ty: t.Type) -> str:
    """The LLVM vector type ``ty`` is computed as (``v128`` as ``<2 x i64>``)."""
    return llvm_type(lanes_of(ty))


def _mask_type(ty: t.Type) -> str:
    """``<N x i1>``: one bit per lane of ``ty``."""
    return f"<{lanes_of(ty).lanes} x i1>"


# Lanes ---------------------------------------------------------------------------------


def splat(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Unary) and data.ctrl_type is not None
    ty = data.ctrl_type
    vty = vector_type(ty)
    one = lo.fresh("sp")
    lo.emit(f"{one} = insertelement {vty} poison, {lo.typed(data.arg)}, i64 0")
    lo.simple(inst, f"shufflevector {vty} {one}, {vty} poison, "
                    f"<{ty.lanes} x i32> zeroinitializer")


def scalar_to_vector(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Unary) and data.ctrl_type is not None
    lo.simple(inst, f"insertelement {vector_type(data.ctrl_type)} zeroinitializer, "
                    f"{lo.typed(data.arg)}, i64 0")


def extractlane(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, BinaryImm)
    lo.simple(inst, f"extractelement {lo.typed(data.arg)}, i64 {data.imm}")


def insertlane(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, InsertLane)
    vector, lane_value = data.args
    lo.simple(inst, f"insertelement {lo.typed(vector)}, {lo.typed(lane_value)}, "
                    f"i64 {data.lane}")


def shuffle(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Shuffle)
    a, b = data.args
    mask = ", ".join(f"i32 {i}" for i in data.mask)
    lo.simple(inst, f"shufflevector {lo.typed(a)}, {lo.typed(b)}, <16 x i32> <{mask}>")


def swizzle(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    """``pshufb`` zeroes a byte whose index has its top bit set and otherwise uses the
    low four bits; adding 0x70 with unsigned saturation keeps 0-15 in range and pushes
    every index >= 16 to 0x80 or above, so those lanes read as 0 as wasm requires."""
    assert isinstance(data, Binary)
    a, s = data.args
    v16 = "<16 x i8>"
    add_sat = lo.decls.intrinsic("llvm.uadd.sat.v16i8", v16, [v16, v16])
    pshufb = lo.decls.intrinsic("llvm.x86.ssse3.pshuf.b.128", v16, [v16, v16])
    index = lo.fresh("sw")
    lo.emit(f"{index} = call {v16} {add_sat}({lo.typed(s)}, {v16} splat (i8 112))")
    lo.simple(inst, f"call {v16} {pshufb}({lo.typed(a)}, {v16} {index})")


# Bitwise and reductions ----------------------------------------------------------------


def bitselect(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Ternary)
    c, a, b = data.args
    view = lanes_of(lo.type_of(c))
    vty = llvm_type(view)
    picked, inverted, other = lo.fresh("bs"), lo.fresh("bs"), lo.fresh("bs")
    lo.emit(f"{picked} = and {vty} {lo.op(c)}, {lo.op(a)}")
    lo.emit(f"{inverted} = xor {vty} {lo.op(c)}, splat ({llvm_type(view.lane_type)} -1)")
    lo.emit(f"{other} = and {vty} {inverted}, {lo.op(b)}")
    lo.simple(inst, f"or {vty} {picked}, {other}")


def _bool_result(lo: Emitter, inst: Inst, i1: str) -> None:
    """Define an ``i8`` 0/1 result from ``i1``, keeping the ``i1`` for branches."""
    v = lo.result(inst)
    lo.bools[v] = i1
    lo.simple(inst, f"zext i1 {i1} to i8")


def vany_true(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Unary)
    whole, i1 = lo.fresh("vt"), lo.fresh("vt")
    lo.emit(f"{whole} = bitcast {lo.typed(data.arg)} to i128")
    lo.emit(f"{i1} = icmp ne i128 {whole}, 0")
    _bool_result(lo, inst, i1)


def vall_true(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Unary)
    ty = lo.type_of(data.arg)
    lanes = ty.lanes
    nonzero, bits, i1 = lo.fresh("vt"), lo.fresh("vt"), lo.fresh("vt")
    lo.emit(f"{nonzero} = icmp ne {lo.typed(data.arg)}, zeroinitializer")
    lo.emit(f"{bits} = bitcast {_mask_type(ty)} {nonzero} to i{lanes}")
    lo.emit(f"{i1} = icmp eq i{lanes} {bits}, -1")
    _bool_result(lo, inst, i1)


def vhigh_bits(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    assert isinstance(data, Unary) and data.ctrl_type is not None
    ty = lo.type_of(data.arg)
    lanes = ty.lanes
    negative, bits = lo.fresh("hb"), lo.fresh("hb")
    lo.emit(f"{negative} = icmp slt {lo.typed(data.arg)}, zeroinitializer")
    lo.emit(f"{bits} = bitcast {_mask_type(ty)} {negative} to i{lanes}")
    result = llvm_type(data.ctrl_type)
    if data.ctrl_type.bits == lanes:
        lo.simple(inst, f"freeze i{lanes} {bits}")
    else:
        lo.simple(inst, f"zext i{lanes} {bits} to {result}")


def vector_icmp(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    """Lane-wise ``icmp``: each lane all ones where the condition holds."""
    assert isinstance(data, IntCompare)
    a, b = data.args
    ty = lo.type_of(a)
    vty = vector_type(ty)
    holds = lo.fresh("vc")
    lo.emit(f"{holds} = icmp {data.cond} {vty} {lo.op(a)}, {lo.op(b)}")
    lo.simple(inst, f"sext {_mask_type(ty)} {holds} to {vty}")


# Integer arithmetic --------------------------------------------------------------------

# IR opcode -> the LLVM intrinsic's base name (``llvm.BASE.v16i8``...).
_INTRINSICS = {"sadd_sat": "sadd.sat", "uadd_sat": "uadd.sat", "ssub_sat": "ssub.sat",
               "usub_sat": "usub.sat", "smin": "smin", "umin": "umin", "smax": "smax",
               "umax": "umax"}


def int_intrinsic(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    """The operations of ``_INTRINSICS``: one call of the lane-wise LLVM intrinsic."""
    lo.intrinsic_call(inst, _INTRINSICS[data.opcode], data.arguments())


def iabs(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    """``llvm.abs`` with INT_MIN defined (it stays INT_MIN, as wasm wants)."""
    assert isinstance(data, Unary)
    ty = lo.type_of(data.arg)
    vty = vector_type(ty)
    fn = lo.decls.intrinsic(f"llvm.abs.{intrinsic_suffix(ty)}", vty, [vty, "i1"])
    lo.simple(inst, f"call {vty} {fn}({lo.typed(data.arg)}, i1 false)")


def avg_round(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    """``(a + b + 1) >> 1`` unsigned, computed at twice the lane width so nothing
    overflows (the x86 back end recognizes the pattern as ``pavgb``/``pavgw``)."""
    assert isinstance(data, Binary)
    a, b = data.args
    view = lanes_of(lo.type_of(a))
    vty = llvm_type(view)
    wide_lane = f"i{2 * view.lane_bits}"
    wide = f"<{view.lanes} x {wide_lane}>"
    xa, xb, total, rounded, halved = (lo.fresh("av") for _ in range(5))
    lo.emit(f"{xa} = zext {vty} {lo.op(a)} to {wide}")
    lo.emit(f"{xb} = zext {vty} {lo.op(b)} to {wide}")
    lo.emit(f"{total} = add {wide} {xa}, {xb}")
    lo.emit(f"{rounded} = add {wide} {total}, splat ({wide_lane} 1)")
    lo.emit(f"{halved} = lshr {wide} {rounded}, splat ({wide_lane} 1)")
    lo.simple(inst, f"trunc {wide} {halved} to {vty}")


# Memory --------------------------------------------------------------------------------


def extend_load(lo: Emitter, inst: Inst, data: InstructionData) -> None:
    """``uload8x8``...: 8 bytes as a half-width vector, each lane extended."""
    assert isinstance(data, Load)
    ty = data.ctrl_type
    size = spec(data.opcode).access_size
    narrow = f"<{ty.lanes} x i{ty.lane_bits // 2}>"
    align, metadata = lo.access(data.flags, size)
    volatile = "" if data.flags.notrap else " volatile"
    addr = lo.address(data.address, data.offset)
    raw = lo.fresh("xl")
    lo.emit(f"{raw} = load{volatile} {narrow}, ptr {addr}, {align}{metadata}")
    ext = "sext" if data.opcode.startswith("s") else "zext"
    lo.simple(inst, f"{ext} {narrow} {raw} to {llvm_type(ty)}")


SIMD_LOWERINGS: dict[str, SimdLowering] = {
    "splat": splat, "scalar_to_vector": scalar_to_vector,
    "extractlane": extractlane, "insertlane": insertlane,
    "shuffle": shuffle, "swizzle": swizzle, "bitselect": bitselect,
    "vany_true": vany_true, "vall_true": vall_true, "vhigh_bits": vhigh_bits,
    **{opcode: int_intrinsic for opcode in _INTRINSICS},
    "iabs": iabs, "avg_round": avg_round,
    "uload8x8": extend_load, "sload8x8": extend_load, "uload16x4": extend_load,
    "sload16x4": extend_load, "uload32x2": extend_load, "sload32x2": extend_load,
}
"""The lowering of each SIMD opcode of ``ir/instructions.py``'s simd-int block."""
