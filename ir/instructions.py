"""The IR instruction set: each opcode's static facts, and the instruction formats.

The opcode table (``OPCODES``) says for each opcode: its ``format``, which fixes the
operands and immediates it carries (one frozen dataclass per format below, as Cranelift's
``InstructionData`` variants) and how the text writes them (see ``printer`` and
``parser``); ``rule``, the typing rule the verifier and the result type inference apply
(see ``typing``); ``ctrl``, whether the text names a controlling type after a dot
(``iconst.i32``), used when the result type does not follow from the operands.

The builder methods (``ir/builder.py``) are generated from this table by
``tools/gen_ir_builder.py``.

Instruction data is immutable: a pass that changes an instruction stores a new one in the
data-flow graph (``DataFlowGraph.replace``), keeping the instruction's number and results.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import MISSING, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Self

from pyjitwasm.ir.entities import Block, FuncRef, GlobalValue, Heap, SigRef, Table, Value
from pyjitwasm.ir.immediates import MemFlags
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import Type


@dataclass(frozen=True, slots=True)
class OpSpec:
    """Static facts about one opcode."""

    name: str
    format: str
    rule: str
    ctrl: bool = False
    terminator: bool = False
    branch: bool = False  # a terminator that transfers control to blocks of this function
    can_trap: bool = False
    side_effects: bool = False  # must not be removed even when its results are unused
    access_size: int = 0  # for sized loads and stores: bytes accessed (0: the type's size)


_SPECS: list[OpSpec] = []


def _add(names: str, format: str, rule: str, *, ctrl: bool = False, terminator: bool = False,
         branch: bool = False, can_trap: bool = False, side_effects: bool = False,
         access_size: int = 0) -> None:
    for name in names.split():
        _SPECS.append(OpSpec(name, format, rule, ctrl, terminator, branch, can_trap,
                             side_effects, access_size))


# Constants.
_add("iconst", "unary_imm", "const_int", ctrl=True)
_add("f32const", "ieee32", "const_f32")
_add("f64const", "ieee64", "const_f64")
_add("vconst", "vconst", "const_vector", ctrl=True)
_add("null", "nullary", "null", ctrl=True)
# Integer arithmetic.
_add("iadd isub imul umulhi smulhi band bor bxor band_not", "binary", "int_binary")
_add("sdiv udiv srem urem", "binary", "int_binary", can_trap=True)
_add("ishl ushr sshr rotl rotr", "binary", "int_shift")
_add("clz ctz popcnt ineg bnot", "unary", "int_unary")
_add("iadd_imm imul_imm band_imm bor_imm bxor_imm ishl_imm ushr_imm sshr_imm", "binary_imm",
     "int_binary_imm")
_add("icmp", "int_compare", "icmp")
_add("icmp_imm", "int_compare_imm", "icmp_imm")
_add("uadd_overflow_trap", "int_add_trap", "int_add_trap", can_trap=True, side_effects=True)
# Floating point, with wasm's semantics: fmin/fmax propagate NaN and order -0 below +0
# (LLVM llvm.minimum / llvm.maximum, not minnum/maxnum), nearest rounds half to even
# (llvm.roundeven), fcopysign is llvm.copysign, ceil/floor/trunc/sqrt the llvm intrinsics.
_add("fadd fsub fmul fdiv fmin fmax fcopysign", "binary", "float_binary")
_add("fabs fneg sqrt ceil floor trunc nearest", "unary", "float_unary")
_add("fcmp", "float_compare", "fcmp")
# Conversions.
_add("ireduce", "unary", "ireduce", ctrl=True)
_add("uextend sextend", "unary", "extend", ctrl=True)
_add("fpromote", "unary", "fpromote", ctrl=True)
_add("fdemote", "unary", "fdemote", ctrl=True)
_add("fcvt_to_sint fcvt_to_uint", "unary", "fcvt_to_int", ctrl=True, can_trap=True)
# Saturating: NaN gives 0, out-of-range values clamp (llvm.fptosi.sat / llvm.fptoui.sat).
_add("fcvt_to_sint_sat fcvt_to_uint_sat", "unary", "fcvt_to_int", ctrl=True)
_add("fcvt_from_sint fcvt_from_uint", "unary", "fcvt_from_int", ctrl=True)
_add("bitcast", "unary", "bitcast", ctrl=True)
# SIMD float, conversion, narrowing and widening instructions (vector operands only
# unless noted; lane 0 is the low lane). Block of the simd-float work.
_add("fma", "ternary", "float_ternary")  # a * b + c rounded once (llvm.fma); scalars too
# Pseudo-min/max (wasm pmin/pmax): fmin_pseudo a, b = b < a ? b : a; fmax_pseudo a, b =
# a < b ? b : a. A NaN or a tie between zeros returns a.
_add("fmin_pseudo fmax_pseudo", "binary", "float_binary")
# Narrowing: the lanes of a then of b, each saturated to half width. snarrow: signed to
# signed; unarrow: signed to unsigned; uunarrow: unsigned to unsigned.
_add("snarrow unarrow uunarrow", "binary", "narrow")
# Widening: the low or high half of the lanes, sign- or zero-extended to double width.
_add("swiden_low swiden_high uwiden_low uwiden_high", "unary", "widen")
# iadd_pairwise a, b: lane i is the sum of lanes 2i and 2i+1 of (a's lanes, b's lanes).
_add("iadd_pairwise", "binary", "int_vector_binary")
# Q15 rounding multiply: (a * b + 2**(w-2)) >> (w-1) per lane, saturated (i16x8 in wasm).
_add("sqmul_round_sat", "binary", "int_vector_binary")
# widening_dot_s a, b: lane i of the double-width result is a[2i]*b[2i] + a[2i+1]*b[2i+1]
# with sign-extended operands, wrapping at the result's width.
_add("widening_dot_s", "binary", "widening_dot")
# fvpromote_low: f32x4 lanes 0 and 1 to f64x2; fvdemote: f64x2 to f32x4 lanes 0 and 1,
# lanes 2 and 3 zero.
_add("fvpromote_low", "unary", "fvpromote_low")
_add("fvdemote", "unary", "fvdemote")
# End of the simd-float block.
_add("select", "ternary", "select")
_add("is_null", "unary", "is_null")
# Memory.
_add("load", "load", "load", ctrl=True, can_trap=True)
for _bits in (8, 16, 32):
    _add(f"uload{_bits} sload{_bits}", "load", "sized_load", ctrl=True, can_trap=True,
         access_size=_bits // 8)
    _add(f"istore{_bits}", "store", "sized_store", can_trap=True, side_effects=True,
         access_size=_bits // 8)
_add("store", "store", "store", can_trap=True, side_effects=True)
_add("heap_addr", "heap_addr", "heap_addr", ctrl=True, can_trap=True)
_add("table_addr", "table_addr", "table_addr", ctrl=True, can_trap=True)
_add("global_value", "global_value", "global_value", ctrl=True)
_add("func_addr", "func_addr", "func_addr", ctrl=True)
# Bulk memory: ``size`` bytes at raw addresses the code has already bounds-checked (the
# translator traps before either runs when a range is out of bounds), so they cannot
# trap; ``memmove`` copies as if through a temporary buffer (ranges may overlap),
# ``memset`` stores one byte value.
_add("memmove", "memmove", "memmove", side_effects=True)
_add("memset", "memset", "memset", side_effects=True)
# Calls.
_add("call", "call", "call", can_trap=True, side_effects=True)
_add("call_indirect", "call_indirect", "call_indirect", can_trap=True, side_effects=True)
_add("return_call", "call", "call", terminator=True, can_trap=True, side_effects=True)
_add("return_call_indirect", "call_indirect", "call_indirect", terminator=True, can_trap=True,
     side_effects=True)
# Control flow and traps.
_add("jump", "jump", "jump", terminator=True, branch=True)
_add("brif", "brif", "brif", terminator=True, branch=True)
_add("br_table", "br_table", "br_table", terminator=True, branch=True)
_add("return", "multiary", "return", terminator=True)
_add("trap", "trap", "trap", terminator=True, can_trap=True, side_effects=True)
_add("trapz trapnz", "cond_trap", "cond_trap", can_trap=True, side_effects=True)

# --- SIMD: memory, lanes, shuffles and integer vector operations (simd-int) -----------
# Generic opcodes above also take vector types where wasm's lane-wise meaning is theirs:
# iadd/isub/imul, band/bor/bxor/band_not/bnot, ineg, popcnt, ishl/ushr/sshr (a scalar
# amount, modulo the lane width after legalization), icmp (lane-wise: all-ones or zero
# lanes of the operand type), select, bitcast between the 128-bit types, load/store.
# Lane access: ``splat``/``scalar_to_vector`` take a lane-typed scalar (the other lanes of
# scalar_to_vector are zero), ``extractlane`` gives one, ``insertlane`` replaces one.
_add("splat scalar_to_vector", "unary", "splat", ctrl=True)
_add("extractlane", "binary_imm", "extractlane")
_add("insertlane", "insert_lane", "insertlane")
# ``shuffle a, b, [i0..i15]`` picks byte ``i`` of the 32 bytes a:b; ``swizzle a, s`` picks
# byte s[k] of a, or 0 when s[k] >= 16.
_add("shuffle", "shuffle", "shuffle")
_add("swizzle", "binary", "swizzle")
# ``bitselect c, a, b``: bits of a where c is 1, of b where it is 0.
_add("bitselect", "ternary", "bitselect")
# Reductions to a scalar: any lane nonzero, every lane nonzero (i8 0/1), the lanes' sign
# bits packed into an integer of the controlling type (lane 0 in bit 0).
_add("vany_true vall_true", "unary", "vector_test")
_add("vhigh_bits", "unary", "vhigh_bits", ctrl=True)
# Lane-wise integer arithmetic without a scalar counterpart in the IR.
_add("sadd_sat uadd_sat ssub_sat usub_sat smin umin smax umax avg_round", "binary",
     "vector_int_binary")
_add("iabs", "unary", "vector_int_unary")
# Extending loads: 8 bytes as 8/4/2 lanes, each sign- or zero-extended to the lane type
# of the controlling type (i16x8, i32x4, i64x2).
for _name in ("8x8", "16x4", "32x2"):
    _add(f"uload{_name} sload{_name}", "load", "extend_load", ctrl=True, can_trap=True,
         access_size=8)
# --- end of SIMD (simd-int) ---------------------------------------------------------
# --- Relaxed SIMD, native mode (Config.relaxed_simd_deterministic = False) -----------
# The host's natural operation, whose result on inputs the relaxed-SIMD proposal leaves
# open is whichever of its allowed results the machine gives (the deterministic mode
# composes the generic instructions above instead).
# relaxed_swizzle a, s: byte s[k] & 15 of a, or 0 when s[k] >= 128 (pshufb); indices
# 16-127 may give either.
_add("relaxed_swizzle", "binary", "swizzle")
# relaxed_fcvt_to_sint: truncating conversion; NaN and out-of-range lanes give INT_MIN
# (cvttps2dq).
_add("relaxed_fcvt_to_sint", "unary", "fcvt_to_int", ctrl=True)
# relaxed_laneselect m, a, b: each lane from a where m's lane has its top bit set, else
# from b (blendv); equal to bitselect when every lane of m is all ones or all zeros.
_add("relaxed_laneselect", "ternary", "bitselect")
# relaxed_q15mulr: (a * b + 2**14) >> 15 per i16 lane, MIN * MIN wrapping to MIN
# (pmulhrsw).
_add("relaxed_q15mulr", "binary", "int_vector_binary")
# relaxed_dot_i8i7 a, b (i8x16 -> i16x8): a[2i]*b[2i] + a[2i+1]*b[2i+1] with a signed and
# b unsigned, the sum saturated (pmaddubsw); exact when b's lanes are in 0..127.
_add("relaxed_dot_i8i7", "binary", "widening_dot")
# fmuladd a, b, c: a * b + c, rounded once or twice (llvm.fmuladd: vfmadd with FMA).
_add("fmuladd", "ternary", "float_ternary")
# relaxed_fmin/relaxed_fmax a, b: a < b ? a : b / a > b ? a : b, so a NaN operand or two
# zeros give b (minps/maxps).
_add("relaxed_fmin relaxed_fmax", "binary", "float_binary")
# --- end of relaxed SIMD (native) ---------------------------------------------------

OPCODES: dict[str, OpSpec] = {spec.name: spec for spec in _SPECS}
"""Every opcode's OpSpec, keyed by name."""


BRANCH_OPCODES = frozenset(s.name for s in _SPECS if s.branch)
"""Opcodes that transfer control to blocks of the function (``OpSpec.branch``)."""
TERMINATOR_OPCODES = frozenset(s.name for s in _SPECS if s.terminator)
"""Opcodes that end a block (``OpSpec.terminator``)."""


def spec(opcode: str) -> OpSpec:
    """The OpSpec of an opcode name; KeyError for unknown names."""
    return OPCODES[opcode]


# Instruction formats -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockCall:
    """A branch destination with the arguments for the block's parameters."""

    block: Block
    args: tuple[Value, ...] = ()

    def map_values(self, fn: Callable[[Value], Value]) -> BlockCall:
        return BlockCall(self.block, tuple(fn(v) for v in self.args)) if self.args else self


ValueMap = Callable[[Value], Value]
"""A function applied to every value an instruction uses (alias resolution, renaming)."""


class InstructionData:
    """One instruction: the base of the format classes below, which add its operands and
    immediates. ``opcode`` is always the first field; ``ctrl_type`` (a second field in
    the formats whose opcodes name a controlling type) is None elsewhere."""

    __slots__ = ()

    if TYPE_CHECKING:
        @property
        def opcode(self) -> str: ...

    # Formats with a controlling type declare it as ``field()``, so that this class
    # attribute is not taken for the field's default.
    ctrl_type: Type | None = None

    def arguments(self) -> tuple[Value, ...]:
        """The value operands, in text order (branch arguments excluded)."""
        return ()

    def block_calls(self) -> tuple[BlockCall, ...]:
        """The branch destinations that carry arguments (br_table: its default)."""
        return ()

    def map_values(self, fn: ValueMap) -> Self:
        """A copy with every operand and branch argument ``v`` replaced by ``fn(v)``."""
        return self

    def map_block_calls(self, fn: Callable[[BlockCall], BlockCall]) -> Self:
        """A copy with every destination of ``block_calls`` replaced by ``fn(dest)``."""
        return self

    def all_args(self) -> list[Value]:
        """Operands followed by every branch argument."""
        out = list(self.arguments())
        for dest in self.block_calls():
            out.extend(dest.args)
        return out

    def uses_any(self, values: AbstractSet[Value]) -> bool:
        """Whether an operand or a branch argument is one of ``values``."""
        if not values.isdisjoint(self.arguments()):
            return True
        for dest in self.block_calls():
            if not values.isdisjoint(dest.args):
                return True
        return False

    def successors(self) -> list[Block]:
        """Distinct destination blocks, in order of first mention."""
        return []


@dataclass(frozen=True, slots=True)
class UnaryImm(InstructionData):
    """``iconst``: ``imm`` is the constant's unsigned bit pattern at the type's width."""

    opcode: str
    ctrl_type: Type = field()
    imm: int


@dataclass(frozen=True, slots=True)
class UnaryIeee32(InstructionData):
    """``f32const``: the constant's IEEE bits."""

    opcode: str
    bits: int


@dataclass(frozen=True, slots=True)
class UnaryIeee64(InstructionData):
    """``f64const``: the constant's IEEE bits."""

    opcode: str
    bits: int


@dataclass(frozen=True, slots=True)
class UnaryConst(InstructionData):
    """``vconst``: a 128-bit constant (lane 0 in the low bits)."""

    opcode: str
    ctrl_type: Type = field()
    value: int


@dataclass(frozen=True, slots=True)
class Nullary(InstructionData):
    """No operands (``null``)."""

    opcode: str
    ctrl_type: Type = field()


@dataclass(frozen=True, slots=True)
class Unary(InstructionData):
    """One operand; conversions name their result type as ``ctrl_type``."""

    opcode: str
    ctrl_type: Type | None = field()
    arg: Value

    def arguments(self) -> tuple[Value, ...]:
        return (self.arg,)

    def map_values(self, fn: ValueMap) -> Unary:
        return Unary(self.opcode, self.ctrl_type, fn(self.arg))


@dataclass(frozen=True, slots=True)
class Binary(InstructionData):
    """Two operands."""

    opcode: str
    args: tuple[Value, Value]

    def arguments(self) -> tuple[Value, ...]:
        return self.args

    def map_values(self, fn: ValueMap) -> Binary:
        a, b = self.args
        return Binary(self.opcode, (fn(a), fn(b)))


@dataclass(frozen=True, slots=True)
class BinaryImm(InstructionData):
    """One operand and a signed 64-bit immediate (``iadd_imm`` ...)."""

    opcode: str
    arg: Value
    imm: int

    def arguments(self) -> tuple[Value, ...]:
        return (self.arg,)

    def map_values(self, fn: ValueMap) -> BinaryImm:
        return BinaryImm(self.opcode, fn(self.arg), self.imm)


@dataclass(frozen=True, slots=True)
class Ternary(InstructionData):
    """Three operands (``select c, a, b``)."""

    opcode: str
    args: tuple[Value, Value, Value]

    def arguments(self) -> tuple[Value, ...]:
        return self.args

    def map_values(self, fn: ValueMap) -> Ternary:
        a, b, c = self.args
        return Ternary(self.opcode, (fn(a), fn(b), fn(c)))


@dataclass(frozen=True, slots=True)
class MultiAry(InstructionData):
    """Any number of operands (``return``)."""

    opcode: str
    args: tuple[Value, ...]

    def arguments(self) -> tuple[Value, ...]:
        return self.args

    def map_values(self, fn: ValueMap) -> MultiAry:
        return MultiAry(self.opcode, tuple(fn(v) for v in self.args))


@dataclass(frozen=True, slots=True)
class IntCompare(InstructionData):
    """``icmp cond, a, b`` (condition codes in ``immediates.INT_CONDS``)."""

    opcode: str
    cond: str
    args: tuple[Value, Value]

    def arguments(self) -> tuple[Value, ...]:
        return self.args

    def map_values(self, fn: ValueMap) -> IntCompare:
        a, b = self.args
        return IntCompare(self.opcode, self.cond, (fn(a), fn(b)))


@dataclass(frozen=True, slots=True)
class IntCompareImm(InstructionData):
    """``icmp_imm cond, a, imm`` with a signed 64-bit immediate."""

    opcode: str
    cond: str
    arg: Value
    imm: int

    def arguments(self) -> tuple[Value, ...]:
        return (self.arg,)

    def map_values(self, fn: ValueMap) -> IntCompareImm:
        return IntCompareImm(self.opcode, self.cond, fn(self.arg), self.imm)


@dataclass(frozen=True, slots=True)
class FloatCompare(InstructionData):
    """``fcmp cond, a, b`` (condition codes in ``immediates.FLOAT_CONDS``)."""

    opcode: str
    cond: str
    args: tuple[Value, Value]

    def arguments(self) -> tuple[Value, ...]:
        return self.args

    def map_values(self, fn: ValueMap) -> FloatCompare:
        a, b = self.args
        return FloatCompare(self.opcode, self.cond, (fn(a), fn(b)))


@dataclass(frozen=True, slots=True)
class IntAddTrap(InstructionData):
    """``uadd_overflow_trap a, b, code``: the sum, trapping with ``code`` on overflow."""

    opcode: str
    args: tuple[Value, Value]
    code: TrapCode

    def arguments(self) -> tuple[Value, ...]:
        return self.args

    def map_values(self, fn: ValueMap) -> IntAddTrap:
        a, b = self.args
        return IntAddTrap(self.opcode, (fn(a), fn(b)), self.code)


@dataclass(frozen=True, slots=True)
class InsertLane(InstructionData):
    """``insertlane vec, scalar, lane``: ``vec`` with lane ``lane`` replaced."""

    opcode: str
    args: tuple[Value, Value]
    lane: int

    def arguments(self) -> tuple[Value, ...]:
        return self.args

    def map_values(self, fn: ValueMap) -> InsertLane:
        a, b = self.args
        return InsertLane(self.opcode, (fn(a), fn(b)), self.lane)


@dataclass(frozen=True, slots=True)
class Shuffle(InstructionData):
    """``shuffle a, b, [i0, ..., i15]``: byte ``k`` of the result is byte ``mask[k]`` of
    the 32 bytes ``a`` (0-15) then ``b`` (16-31)."""

    opcode: str
    args: tuple[Value, Value]
    mask: tuple[int, ...]

    def arguments(self) -> tuple[Value, ...]:
        return self.args

    def map_values(self, fn: ValueMap) -> Shuffle:
        a, b = self.args
        return Shuffle(self.opcode, (fn(a), fn(b)), self.mask)


@dataclass(frozen=True, slots=True)
class Load(InstructionData):
    """A load of ``ctrl_type`` from ``address + offset`` (signed 32-bit offset)."""

    opcode: str
    ctrl_type: Type = field()
    flags: MemFlags
    address: Value
    offset: int

    def arguments(self) -> tuple[Value, ...]:
        return (self.address,)

    def map_values(self, fn: ValueMap) -> Load:
        return Load(self.opcode, self.ctrl_type, self.flags, fn(self.address), self.offset)


@dataclass(frozen=True, slots=True)
class Store(InstructionData):
    """A store of ``value`` to ``address + offset`` (signed 32-bit offset)."""

    opcode: str
    flags: MemFlags
    value: Value
    address: Value
    offset: int

    def arguments(self) -> tuple[Value, ...]:
        return (self.value, self.address)

    def map_values(self, fn: ValueMap) -> Store:
        return Store(self.opcode, self.flags, fn(self.value), fn(self.address), self.offset)


@dataclass(frozen=True, slots=True)
class HeapAddr(InstructionData):
    """The address of ``size`` bytes at ``index + offset`` in ``heap`` (u32 offset)."""

    opcode: str
    ctrl_type: Type = field()
    heap: Heap
    index: Value
    offset: int
    size: int

    def arguments(self) -> tuple[Value, ...]:
        return (self.index,)

    def map_values(self, fn: ValueMap) -> HeapAddr:
        return HeapAddr(self.opcode, self.ctrl_type, self.heap, fn(self.index), self.offset,
                        self.size)


@dataclass(frozen=True, slots=True)
class TableAddr(InstructionData):
    """The address of element ``index`` of ``table``, plus ``offset`` bytes (u32)."""

    opcode: str
    ctrl_type: Type = field()
    table: Table
    index: Value
    offset: int

    def arguments(self) -> tuple[Value, ...]:
        return (self.index,)

    def map_values(self, fn: ValueMap) -> TableAddr:
        return TableAddr(self.opcode, self.ctrl_type, self.table, fn(self.index), self.offset)


@dataclass(frozen=True, slots=True)
class UnaryGlobalValue(InstructionData):
    """``global_value gvN``: the value of a global value declaration."""

    opcode: str
    ctrl_type: Type = field()
    global_value: GlobalValue


@dataclass(frozen=True, slots=True)
class FuncAddr(InstructionData):
    """``func_addr fnN``: the address of an external function."""

    opcode: str
    ctrl_type: Type = field()
    func_ref: FuncRef


@dataclass(frozen=True, slots=True)
class MemMove(InstructionData):
    """``memmove dst, src, size``: copy ``size`` bytes (i64) from address ``src`` to
    address ``dst``; the ranges may overlap."""

    opcode: str
    dst: Value
    src: Value
    size: Value

    def arguments(self) -> tuple[Value, ...]:
        return (self.dst, self.src, self.size)

    def map_values(self, fn: ValueMap) -> MemMove:
        return MemMove(self.opcode, fn(self.dst), fn(self.src), fn(self.size))


@dataclass(frozen=True, slots=True)
class MemSet(InstructionData):
    """``memset dst, byte, size``: store the i8 ``byte`` into ``size`` bytes (i64) from
    address ``dst``."""

    opcode: str
    dst: Value
    byte: Value
    size: Value

    def arguments(self) -> tuple[Value, ...]:
        return (self.dst, self.byte, self.size)

    def map_values(self, fn: ValueMap) -> MemSet:
        return MemSet(self.opcode, fn(self.dst), fn(self.byte), fn(self.size))


@dataclass(frozen=True, slots=True)
class Call(InstructionData):
    """A direct call of ``func_ref`` (``call``, ``return_call``)."""

    opcode: str
    func_ref: FuncRef
    args: tuple[Value, ...]

    def arguments(self) -> tuple[Value, ...]:
        return self.args

    def map_values(self, fn: ValueMap) -> Call:
        return Call(self.opcode, self.func_ref, tuple(fn(v) for v in self.args))


@dataclass(frozen=True, slots=True)
class CallIndirect(InstructionData):
    """A call through the code pointer ``callee`` with signature ``sig_ref``."""

    opcode: str
    sig_ref: SigRef
    callee: Value
    args: tuple[Value, ...]

    def arguments(self) -> tuple[Value, ...]:
        return (self.callee, *self.args)

    def map_values(self, fn: ValueMap) -> CallIndirect:
        return CallIndirect(self.opcode, self.sig_ref, fn(self.callee),
                            tuple(fn(v) for v in self.args))


@dataclass(frozen=True, slots=True)
class Jump(InstructionData):
    """An unconditional branch."""

    opcode: str
    destination: BlockCall

    def block_calls(self) -> tuple[BlockCall, ...]:
        return (self.destination,)

    def map_values(self, fn: ValueMap) -> Jump:
        return Jump(self.opcode, self.destination.map_values(fn))

    def map_block_calls(self, fn: Callable[[BlockCall], BlockCall]) -> Jump:
        return Jump(self.opcode, fn(self.destination))

    def successors(self) -> list[Block]:
        return [self.destination.block]


@dataclass(frozen=True, slots=True)
class Brif(InstructionData):
    """To ``then_dest`` when ``arg`` is nonzero, else to ``else_dest``."""

    opcode: str
    arg: Value
    then_dest: BlockCall
    else_dest: BlockCall

    def arguments(self) -> tuple[Value, ...]:
        return (self.arg,)

    def block_calls(self) -> tuple[BlockCall, ...]:
        return (self.then_dest, self.else_dest)

    def map_values(self, fn: ValueMap) -> Brif:
        return Brif(self.opcode, fn(self.arg), self.then_dest.map_values(fn),
                    self.else_dest.map_values(fn))

    def map_block_calls(self, fn: Callable[[BlockCall], BlockCall]) -> Brif:
        return Brif(self.opcode, self.arg, fn(self.then_dest), fn(self.else_dest))

    def successors(self) -> list[Block]:
        first, second = self.then_dest.block, self.else_dest.block
        return [first] if first == second else [first, second]


@dataclass(frozen=True, slots=True)
class BrTable(InstructionData):
    """To ``table[arg]``, or ``default`` when ``arg`` is past the end. Only the default
    destination may carry arguments (in built IR it carries none either)."""

    opcode: str
    arg: Value
    default: BlockCall
    table: tuple[Block, ...]

    def arguments(self) -> tuple[Value, ...]:
        return (self.arg,)

    def block_calls(self) -> tuple[BlockCall, ...]:
        return (self.default,)

    def map_values(self, fn: ValueMap) -> BrTable:
        return BrTable(self.opcode, fn(self.arg), self.default.map_values(fn), self.table)

    def map_block_calls(self, fn: Callable[[BlockCall], BlockCall]) -> BrTable:
        return BrTable(self.opcode, self.arg, fn(self.default), self.table)

    def successors(self) -> list[Block]:
        seen = [self.default.block]
        for block in self.table:
            if block not in seen:
                seen.append(block)
        return seen


@dataclass(frozen=True, slots=True)
class Trap(InstructionData):
    """An unconditional trap."""

    opcode: str
    code: TrapCode


@dataclass(frozen=True, slots=True)
class CondTrap(InstructionData):
    """``trapz``/``trapnz``: trap with ``code`` when ``arg`` is zero / nonzero."""

    opcode: str
    arg: Value
    code: TrapCode

    def arguments(self) -> tuple[Value, ...]:
        return (self.arg,)

    def map_values(self, fn: ValueMap) -> CondTrap:
        return CondTrap(self.opcode, fn(self.arg), self.code)


FORMATS: dict[str, type[InstructionData]] = {
    "unary_imm": UnaryImm,
    "ieee32": UnaryIeee32,
    "ieee64": UnaryIeee64,
    "vconst": UnaryConst,
    "nullary": Nullary,
    "unary": Unary,
    "binary": Binary,
    "binary_imm": BinaryImm,
    "ternary": Ternary,
    "multiary": MultiAry,
    "int_compare": IntCompare,
    "int_compare_imm": IntCompareImm,
    "float_compare": FloatCompare,
    "int_add_trap": IntAddTrap,
    "insert_lane": InsertLane,
    "shuffle": Shuffle,
    "load": Load,
    "store": Store,
    "heap_addr": HeapAddr,
    "table_addr": TableAddr,
    "global_value": UnaryGlobalValue,
    "func_addr": FuncAddr,
    "memmove": MemMove,
    "memset": MemSet,
    "call": Call,
    "call_indirect": CallIndirect,
    "jump": Jump,
    "brif": Brif,
    "br_table": BrTable,
    "trap": Trap,
    "cond_trap": CondTrap,
}
"""The data class of each format named in the opcode table."""

BLOCK_CALL_FORMATS: frozenset[type[InstructionData]] = frozenset(
    cls for cls in FORMATS.values() if cls.block_calls is not InstructionData.block_calls)
"""The formats whose instructions may pass branch arguments (``block_calls``)."""


def _install_fast_init(cls: type) -> None:
    """Give frozen dataclass ``cls`` an ``__init__`` that stores the fields through their
    slot descriptors: the same signature and effect as the generated one, which goes
    through ``object.__setattr__`` field by field and costs about twice as much (an
    instruction is made for every one built, and again for every one rewritten)."""
    params = []
    setters: dict[str, object] = {}
    for f in fields(cls):
        if f.default_factory is not MISSING or not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: only plain fields and defaults")
        if f.default is MISSING:
            params.append(f.name)
        else:
            setters[f"_default_{f.name}"] = f.default
            params.append(f"{f.name}=_default_{f.name}")
        setters[f"_set_{f.name}"] = getattr(cls, f.name).__set__
    body = "".join(f"        _set_{f.name}(self, {f.name})\n" for f in fields(cls))
    source = (f"def make({', '.join(setters)}):\n"
              f"    def __init__(self, {', '.join(params)}):\n{body}"
              f"    return __init__\n")
    namespace: dict[str, Any] = {}
    exec(source, namespace)  # noqa: S102 - the source is built from field names only
    init = namespace["make"](**setters)
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[misc]  # replaces the dataclass's own, same signature


_FAST_INIT_CLASSES: list[type] = [BlockCall, *FORMATS.values()]
for _format_class in _FAST_INIT_CLASSES:
    _install_fast_init(_format_class)
