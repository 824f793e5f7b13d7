"""Translation of wasm's SIMD memory, lane, shuffle, bitwise and integer instructions to IR.

Value convention: every v128 on the operand stack is an IR ``v128`` value, which is what
locals, block parameters, globals, calls and ``select`` carry. An instruction that works
on lanes views its operands as the lane type (``vpop(t, I32X4)`` is a ``bitcast.i32x4``,
or the original value when the operand is itself a bitcast from that type) and pushes its
result back as ``v128`` (``vpush``). The back end turns these bitcasts into nothing.

How to add a translation (for another group of SIMD opcodes, in a module of its own):
write handlers ``(t: FunctionState, instr: Instr) -> None`` (or factories returning one)
using ``vpop``/``vpush`` here for the lane views, and export a ``{wasm opcode: handler}``
table that ``dispatch.py`` merges into ``HANDLERS`` with one line, as it does with
``HANDLERS`` below. Generic IR opcodes take vector types where wasm's lane-wise meaning
is theirs (``iadd.i32x4``, ``band``, ``ineg``, ``popcnt``, shifts, ``icmp``); the SIMD
opcodes the IR adds are in the marked block of ``ir/instructions.py``.
"""

from __future__ import annotations

from pyjitwasm.ir.function import Value
from pyjitwasm.ir.immediates import WASM_HEAP
from pyjitwasm.ir.types import (
    F32X4,
    F64X2,
    I8,
    I8X16,
    I16,
    I16X8,
    I32,
    I32X4,
    I64X2,
    V128,
    Type,
)
from pyjitwasm.translate.lanes import vpop, vpush
from pyjitwasm.translate.memory import memory_address
from pyjitwasm.translate.state import FunctionState, Handler
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr

# Scalar helpers -----------------------------------------------------------------------


def _bool_to_i32(t: FunctionState, flag: Value) -> None:
    t.push(t.ins().uextend(I32, flag))


def _narrow(t: FunctionState, scalar: Value, lane: Type) -> Value:
    """A wasm i32 operand cut to an i8/i16 lane (other lane types pass unchanged)."""
    if lane in (I8, I16):
        return t.ins().ireduce(lane, scalar)
    return scalar


# Memory --------------------------------------------------------------------------------


def v128_load(t: FunctionState, instr: Instr) -> None:
    addr = memory_address(t, instr.imm, 16)
    t.push(t.ins().load(V128, WASM_HEAP, addr))


def v128_store(t: FunctionState, instr: Instr) -> None:
    value = vpop(t)
    addr = memory_address(t, instr.imm, 16)
    t.ins().store(WASM_HEAP, value, addr)


def load_extend(ir_op: str, ty: Type) -> Handler:
    """``v128.load8x8_s``...: 8 bytes, each half-width lane extended into ``ty``."""
    def handle(t: FunctionState, instr: Instr) -> None:
        addr = memory_address(t, instr.imm, 8)
        vpush(t, t.ins().load(ty, WASM_HEAP, addr, 0, ir_op))
    return handle


def load_splat(ty: Type) -> Handler:
    """``v128.loadN_splat``: one lane's worth of bytes into every lane of ``ty``."""
    def handle(t: FunctionState, instr: Instr) -> None:
        lane = ty.lane_type
        addr = memory_address(t, instr.imm, lane.bytes)
        ins = t.ins()
        vpush(t, ins.splat(ty, ins.load(lane, WASM_HEAP, addr)))
    return handle


def load_zero(ty: Type) -> Handler:
    """``v128.load32_zero``/``load64_zero``: lane 0 loaded, the others zero."""
    def handle(t: FunctionState, instr: Instr) -> None:
        lane = ty.lane_type
        addr = memory_address(t, instr.imm, lane.bytes)
        ins = t.ins()
        vpush(t, ins.scalar_to_vector(ty, ins.load(lane, WASM_HEAP, addr)))
    return handle


def load_lane(ty: Type) -> Handler:
    """``v128.loadN_lane``: replace one lane of the operand with bytes from memory."""
    def handle(t: FunctionState, instr: Instr) -> None:
        memarg, lane_index = instr.imm
        vector = vpop(t, ty)
        lane = ty.lane_type
        addr = memory_address(t, memarg, lane.bytes)
        ins = t.ins()
        vpush(t, ins.insertlane(vector, ins.load(lane, WASM_HEAP, addr), lane_index))
    return handle


def store_lane(ty: Type) -> Handler:
    """``v128.storeN_lane``: store one lane of the operand."""
    def handle(t: FunctionState, instr: Instr) -> None:
        memarg, lane_index = instr.imm
        vector = vpop(t, ty)
        addr = memory_address(t, memarg, ty.lane_type.bytes)
        ins = t.ins()
        ins.store(WASM_HEAP, ins.extractlane(vector, lane_index), addr)
    return handle


# Lanes and shuffles --------------------------------------------------------------------


def splat(ty: Type) -> Handler:
    def handle(t: FunctionState, instr: Instr) -> None:
        scalar = _narrow(t, t.pop(), ty.lane_type)
        vpush(t, t.ins().splat(ty, scalar))
    return handle


def extract_lane(ty: Type, extend: str | None = None) -> Handler:
    """``extract_lane`` of ``ty``; i8/i16 lanes widen to i32 by ``extend`` (``sextend``
    or ``uextend``)."""
    def handle(t: FunctionState, instr: Instr) -> None:
        ins = t.ins()
        lane = ins.extractlane(vpop(t, ty), instr.imm)
        t.push(ins.unary(extend, lane, I32) if extend else lane)
    return handle


def replace_lane(ty: Type) -> Handler:
    def handle(t: FunctionState, instr: Instr) -> None:
        scalar = _narrow(t, t.pop(), ty.lane_type)
        vector = vpop(t, ty)
        vpush(t, t.ins().insertlane(vector, scalar, instr.imm))
    return handle


def i8x16_shuffle(t: FunctionState, instr: Instr) -> None:
    b, a = vpop(t, I8X16), vpop(t, I8X16)
    vpush(t, t.ins().shuffle(a, b, tuple(instr.imm)))


def i8x16_swizzle(t: FunctionState, instr: Instr) -> None:
    s, a = vpop(t, I8X16), vpop(t, I8X16)
    vpush(t, t.ins().swizzle(a, s))


# Bitwise and tests ---------------------------------------------------------------------


# Bitwise operations work on any lane view; i64x2 is the one the back end computes v128
# as, so its bitcasts cost nothing even where LLVM would keep them.
_BITS = I64X2


def v128_not(t: FunctionState, instr: Instr) -> None:
    vpush(t, t.ins().bnot(vpop(t, _BITS)))


def bitwise(ir_op: str) -> Handler:
    """``v128.and/or/xor/andnot`` (``andnot a b`` is ``a & ~b``: IR ``band_not``)."""
    def handle(t: FunctionState, instr: Instr) -> None:
        b, a = vpop(t, _BITS), vpop(t, _BITS)
        vpush(t, t.ins().binary(ir_op, a, b))
    return handle


def v128_bitselect(t: FunctionState, instr: Instr) -> None:
    c, b, a = vpop(t), vpop(t), vpop(t)
    vpush(t, t.ins().bitselect(c, a, b))


def v128_any_true(t: FunctionState, instr: Instr) -> None:
    _bool_to_i32(t, t.ins().vany_true(vpop(t)))


def all_true(ty: Type) -> Handler:
    def handle(t: FunctionState, instr: Instr) -> None:
        _bool_to_i32(t, t.ins().vall_true(vpop(t, ty)))
    return handle


def bitmask(ty: Type) -> Handler:
    def handle(t: FunctionState, instr: Instr) -> None:
        t.push(t.ins().vhigh_bits(I32, vpop(t, ty)))
    return handle


# Integer arithmetic --------------------------------------------------------------------


def unary(ir_op: str, ty: Type) -> Handler:
    """A lane-wise operation of one ``ty`` operand."""
    def handle(t: FunctionState, instr: Instr) -> None:
        vpush(t, t.ins().unary(ir_op, vpop(t, ty)))
    return handle


def binary(ir_op: str, ty: Type) -> Handler:
    """A lane-wise operation of two ``ty`` operands."""
    def handle(t: FunctionState, instr: Instr) -> None:
        b, a = vpop(t, ty), vpop(t, ty)
        vpush(t, t.ins().binary(ir_op, a, b))
    return handle


def shift(ir_op: str, ty: Type) -> Handler:
    """``shl``/``shr_s``/``shr_u`` by a scalar i32 (legalization takes it modulo the lane
    width)."""
    def handle(t: FunctionState, instr: Instr) -> None:
        amount = t.pop()
        vpush(t, t.ins().binary(ir_op, vpop(t, ty), amount))
    return handle


def compare(cond: str, ty: Type) -> Handler:
    """A lane-wise comparison: lanes of all ones where ``cond`` holds, else zero."""
    def handle(t: FunctionState, instr: Instr) -> None:
        b, a = vpop(t, ty), vpop(t, ty)
        vpush(t, t.ins().icmp(cond, a, b))
    return handle


HANDLERS: dict[int, Handler] = {
    # Memory
    op.V128_LOAD: v128_load,
    op.V128_STORE: v128_store,
    op.V128_LOAD8X8_S: load_extend("sload8x8", I16X8),
    op.V128_LOAD8X8_U: load_extend("uload8x8", I16X8),
    op.V128_LOAD16X4_S: load_extend("sload16x4", I32X4),
    op.V128_LOAD16X4_U: load_extend("uload16x4", I32X4),
    op.V128_LOAD32X2_S: load_extend("sload32x2", I64X2),
    op.V128_LOAD32X2_U: load_extend("uload32x2", I64X2),
    op.V128_LOAD8_SPLAT: load_splat(I8X16),
    op.V128_LOAD16_SPLAT: load_splat(I16X8),
    op.V128_LOAD32_SPLAT: load_splat(I32X4),
    op.V128_LOAD64_SPLAT: load_splat(I64X2),
    op.V128_LOAD32_ZERO: load_zero(I32X4),
    op.V128_LOAD64_ZERO: load_zero(I64X2),
    op.V128_LOAD8_LANE: load_lane(I8X16),
    op.V128_LOAD16_LANE: load_lane(I16X8),
    op.V128_LOAD32_LANE: load_lane(I32X4),
    op.V128_LOAD64_LANE: load_lane(I64X2),
    op.V128_STORE8_LANE: store_lane(I8X16),
    op.V128_STORE16_LANE: store_lane(I16X8),
    op.V128_STORE32_LANE: store_lane(I32X4),
    op.V128_STORE64_LANE: store_lane(I64X2),
    # Lanes and shuffles
    op.I8X16_SHUFFLE: i8x16_shuffle,
    op.I8X16_SWIZZLE: i8x16_swizzle,
    op.I8X16_SPLAT: splat(I8X16),
    op.I16X8_SPLAT: splat(I16X8),
    op.I32X4_SPLAT: splat(I32X4),
    op.I64X2_SPLAT: splat(I64X2),
    op.F32X4_SPLAT: splat(F32X4),
    op.F64X2_SPLAT: splat(F64X2),
    op.I8X16_EXTRACT_LANE_S: extract_lane(I8X16, "sextend"),
    op.I8X16_EXTRACT_LANE_U: extract_lane(I8X16, "uextend"),
    op.I16X8_EXTRACT_LANE_S: extract_lane(I16X8, "sextend"),
    op.I16X8_EXTRACT_LANE_U: extract_lane(I16X8, "uextend"),
    op.I32X4_EXTRACT_LANE: extract_lane(I32X4),
    op.I64X2_EXTRACT_LANE: extract_lane(I64X2),
    op.F32X4_EXTRACT_LANE: extract_lane(F32X4),
    op.F64X2_EXTRACT_LANE: extract_lane(F64X2),
    op.I8X16_REPLACE_LANE: replace_lane(I8X16),
    op.I16X8_REPLACE_LANE: replace_lane(I16X8),
    op.I32X4_REPLACE_LANE: replace_lane(I32X4),
    op.I64X2_REPLACE_LANE: replace_lane(I64X2),
    op.F32X4_REPLACE_LANE: replace_lane(F32X4),
    op.F64X2_REPLACE_LANE: replace_lane(F64X2),
    # Bitwise and tests
    op.V128_NOT: v128_not,
    op.V128_AND: bitwise("band"),
    op.V128_ANDNOT: bitwise("band_not"),
    op.V128_OR: bitwise("bor"),
    op.V128_XOR: bitwise("bxor"),
    op.V128_BITSELECT: v128_bitselect,
    op.V128_ANY_TRUE: v128_any_true,
    # i8x16 integer arithmetic, comparisons and tests
    op.I8X16_ADD: binary("iadd", I8X16),
    op.I8X16_SUB: binary("isub", I8X16),
    op.I8X16_NEG: unary("ineg", I8X16),
    op.I8X16_ABS: unary("iabs", I8X16),
    op.I8X16_POPCNT: unary("popcnt", I8X16),
    op.I8X16_ADD_SAT_S: binary("sadd_sat", I8X16),
    op.I8X16_ADD_SAT_U: binary("uadd_sat", I8X16),
    op.I8X16_SUB_SAT_S: binary("ssub_sat", I8X16),
    op.I8X16_SUB_SAT_U: binary("usub_sat", I8X16),
    op.I8X16_MIN_S: binary("smin", I8X16),
    op.I8X16_MIN_U: binary("umin", I8X16),
    op.I8X16_MAX_S: binary("smax", I8X16),
    op.I8X16_MAX_U: binary("umax", I8X16),
    op.I8X16_AVGR_U: binary("avg_round", I8X16),
    op.I8X16_SHL: shift("ishl", I8X16),
    op.I8X16_SHR_S: shift("sshr", I8X16),
    op.I8X16_SHR_U: shift("ushr", I8X16),
    op.I8X16_EQ: compare("eq", I8X16),
    op.I8X16_NE: compare("ne", I8X16),
    op.I8X16_LT_S: compare("slt", I8X16),
    op.I8X16_LT_U: compare("ult", I8X16),
    op.I8X16_GT_S: compare("sgt", I8X16),
    op.I8X16_GT_U: compare("ugt", I8X16),
    op.I8X16_LE_S: compare("sle", I8X16),
    op.I8X16_LE_U: compare("ule", I8X16),
    op.I8X16_GE_S: compare("sge", I8X16),
    op.I8X16_GE_U: compare("uge", I8X16),
    op.I8X16_ALL_TRUE: all_true(I8X16),
    op.I8X16_BITMASK: bitmask(I8X16),
    # i16x8 integer arithmetic, comparisons and tests
    op.I16X8_ADD: binary("iadd", I16X8),
    op.I16X8_SUB: binary("isub", I16X8),
    op.I16X8_MUL: binary("imul", I16X8),
    op.I16X8_NEG: unary("ineg", I16X8),
    op.I16X8_ABS: unary("iabs", I16X8),
    op.I16X8_ADD_SAT_S: binary("sadd_sat", I16X8),
    op.I16X8_ADD_SAT_U: binary("uadd_sat", I16X8),
    op.I16X8_SUB_SAT_S: binary("ssub_sat", I16X8),
    op.I16X8_SUB_SAT_U: binary("usub_sat", I16X8),
    op.I16X8_MIN_S: binary("smin", I16X8),
    op.I16X8_MIN_U: binary("umin", I16X8),
    op.I16X8_MAX_S: binary("smax", I16X8),
    op.I16X8_MAX_U: binary("umax", I16X8),
    op.I16X8_AVGR_U: binary("avg_round", I16X8),
    op.I16X8_SHL: shift("ishl", I16X8),
    op.I16X8_SHR_S: shift("sshr", I16X8),
    op.I16X8_SHR_U: shift("ushr", I16X8),
    op.I16X8_EQ: compare("eq", I16X8),
    op.I16X8_NE: compare("ne", I16X8),
    op.I16X8_LT_S: compare("slt", I16X8),
    op.I16X8_LT_U: compare("ult", I16X8),
    op.I16X8_GT_S: compare("sgt", I16X8),
    op.I16X8_GT_U: compare("ugt", I16X8),
    op.I16X8_LE_S: compare("sle", I16X8),
    op.I16X8_LE_U: compare("ule", I16X8),
    op.I16X8_GE_S: compare("sge", I16X8),
    op.I16X8_GE_U: compare("uge", I16X8),
    op.I16X8_ALL_TRUE: all_true(I16X8),
    op.I16X8_BITMASK: bitmask(I16X8),
    # i32x4 integer arithmetic, comparisons and tests
    op.I32X4_ADD: binary("iadd", I32X4),
    op.I32X4_SUB: binary("isub", I32X4),
    op.I32X4_MUL: binary("imul", I32X4),
    op.I32X4_NEG: unary("ineg", I32X4),
    op.I32X4_ABS: unary("iabs", I32X4),
    op.I32X4_MIN_S: binary("smin", I32X4),
    op.I32X4_MIN_U: binary("umin", I32X4),
    op.I32X4_MAX_S: binary("smax", I32X4),
    op.I32X4_MAX_U: binary("umax", I32X4),
    op.I32X4_SHL: shift("ishl", I32X4),
    op.I32X4_SHR_S: shift("sshr", I32X4),
    op.I32X4_SHR_U: shift("ushr", I32X4),
    op.I32X4_EQ: compare("eq", I32X4),
    op.I32X4_NE: compare("ne", I32X4),
    op.I32X4_LT_S: compare("slt", I32X4),
    op.I32X4_LT_U: compare("ult", I32X4),
    op.I32X4_GT_S: compare("sgt", I32X4),
    op.I32X4_GT_U: compare("ugt", I32X4),
    op.I32X4_LE_S: compare("sle", I32X4),
    op.I32X4_LE_U: compare("ule", I32X4),
    op.I32X4_GE_S: compare("sge", I32X4),
    op.I32X4_GE_U: compare("uge", I32X4),
    op.I32X4_ALL_TRUE: all_true(I32X4),
    op.I32X4_BITMASK: bitmask(I32X4),
    # i64x2 integer arithmetic, comparisons and tests
    op.I64X2_ADD: binary("iadd", I64X2),
    op.I64X2_SUB: binary("isub", I64X2),
    op.I64X2_MUL: binary("imul", I64X2),
    op.I64X2_NEG: unary("ineg", I64X2),
    op.I64X2_ABS: unary("iabs", I64X2),
    op.I64X2_SHL: shift("ishl", I64X2),
    op.I64X2_SHR_S: shift("sshr", I64X2),
    op.I64X2_SHR_U: shift("ushr", I64X2),
    op.I64X2_EQ: compare("eq", I64X2),
    op.I64X2_NE: compare("ne", I64X2),
    op.I64X2_LT_S: compare("slt", I64X2),
    op.I64X2_GT_S: compare("sgt", I64X2),
    op.I64X2_LE_S: compare("sle", I64X2),
    op.I64X2_GE_S: compare("sge", I64X2),
    op.I64X2_ALL_TRUE: all_true(I64X2),
    op.I64X2_BITMASK: bitmask(I64X2),
}
"""The SIMD opcodes this module translates (``dispatch.HANDLERS`` includes them)."""
