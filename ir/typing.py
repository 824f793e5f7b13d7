"""Typing rules: check an instruction's operands and compute its result types.

One function serves the builder and parser (to give results their types) and the
verifier (to check operands and declared results). Each opcode names its rule in the
opcode table (``OpSpec.rule``); ``RULES`` maps the rule names to the functions below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from pyjitwasm.ir.function import Function
from pyjitwasm.ir.immediates import FLOAT_CONDS, INT_CONDS
from pyjitwasm.ir.instructions import (
    FORMATS,
    BinaryImm,
    Call,
    CallIndirect,
    CondTrap,
    FloatCompare,
    FuncAddr,
    HeapAddr,
    InsertLane,
    InstructionData,
    IntAddTrap,
    IntCompare,
    IntCompareImm,
    Load,
    MemMove,
    MemSet,
    Nullary,
    OpSpec,
    Shuffle,
    Store,
    TableAddr,
    Trap,
    UnaryConst,
    UnaryGlobalValue,
    UnaryIeee32,
    UnaryIeee64,
    UnaryImm,
    spec,
)
from pyjitwasm.ir.types import (
    F32,
    F32X4,
    F64,
    F64X2,
    I8,
    I8X16,
    I32,
    I64,
    POINTER,
    TYPES_BY_NAME,
    V128,
    Type,
)


class TypingError(Exception):
    """An instruction's operands or immediates do not fit its opcode."""


F = TypeVar("F", bound=InstructionData)

Rule = Callable[[Function, InstructionData, OpSpec, list[Type]], list[Type]]
"""A typing rule: (function, instruction, its opcode's spec, operand types) -> results."""


def result_types(func: Function, data: InstructionData, args: list[Type]) -> list[Type]:
    """The result types of ``data`` given its operand types ``args`` (``data.arguments()``
    only; branch arguments are checked by the verifier). Raises TypingError."""
    format_class, s, rule = opcode_checks(data.opcode)
    if type(data) is not format_class or (data.ctrl_type is None) is s.ctrl:
        _wrong_shape(data, format_class, s)
    return rule(func, data, s, args)


def opcode_checks(opcode: str) -> tuple[type[InstructionData], OpSpec, Rule]:
    """(format class, spec, typing rule) of ``opcode``, looked up once per opcode (an
    inserting cursor applies them inline: this runs for every instruction built).
    KeyError for unknown opcodes."""
    checks = OPCODE_CHECKS.get(opcode)
    if checks is None:
        s = spec(opcode)
        checks = OPCODE_CHECKS[opcode] = FORMATS[s.format], s, RULES[s.rule]
    return checks


def _wrong_shape(data: InstructionData, format_class: type[InstructionData],
                 s: OpSpec) -> NoReturn:
    """Raise the TypingError of an instruction of the wrong format, or with a
    controlling type its opcode does not take (or without one it needs)."""
    op = data.opcode
    if type(data) is not format_class:
        raise TypingError(f"{op} must be a {format_class.__name__} instruction, "
                          f"not {type(data).__name__}")
    if s.ctrl:
        raise TypingError(f"{op} needs a controlling type")
    raise TypingError(f"{op} takes no controlling type")


OPCODE_CHECKS: dict[str, tuple[type[InstructionData], OpSpec, Rule]] = {}
"""The opcodes ``opcode_checks`` has looked up so far, with their checks (a cursor
reads it directly before calling ``opcode_checks``)."""


def _need(cond: bool, message: str) -> None:
    """Raise TypingError(message) unless ``cond``.  The message is formatted before the
    call, so rules on hot paths test inline instead (``if not cond: raise``)."""
    if not cond:
        raise TypingError(message)


def _arity(args: list[Type], n: int, opcode: str) -> None:
    if len(args) != n:
        _wrong_arity(args, n, opcode)


def _wrong_arity(args: list[Type], n: int, opcode: str) -> NoReturn:
    raise TypingError(f"{opcode} takes {n} operand(s), got {len(args)}")


def _as(data: InstructionData, format_class: type[F]) -> F:
    """``data`` as the format its opcode requires (``result_types`` has checked it; this
    tells the type checker)."""
    if not isinstance(data, format_class):
        raise TypingError(f"{data.opcode} must be a {format_class.__name__} instruction, "
                          f"not {type(data).__name__}")
    return data


def _ctrl(data: InstructionData) -> Type:
    """The controlling type (``result_types`` has checked that opcodes needing one have
    one)."""
    ctrl = data.ctrl_type
    if ctrl is None:
        raise TypingError(f"{data.opcode} needs a controlling type")
    return ctrl


def _int_like(t: Type) -> bool:
    return t.is_int or (t.kind == "int" and t.is_vector)


def _float_like(t: Type) -> bool:
    return t.is_float or (t.kind == "float" and t.is_vector)


def _fits_i64(imm: int) -> bool:
    return -(1 << 63) <= imm < (1 << 63)


# Constants ------------------------------------------------------------------------------


def _const_int(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    assert isinstance(data, UnaryImm)  # result_types checked the format
    ctrl = data.ctrl_type
    if len(args) != 0:
        _wrong_arity(args, 0, s.name)
    if not ctrl.is_int:
        raise TypingError(f"iconst type must be an integer type, not {ctrl}")
    if not (0 <= data.imm < (1 << ctrl.bits)):
        raise TypingError(f"iconst immediate does not fit {ctrl}")
    return [ctrl]


def _const_f32(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 0:
        _wrong_arity(args, 0, s.name)
    if not (0 <= _as(data, UnaryIeee32).bits < (1 << 32)):
        raise TypingError(f"{s.name} bits do not fit")
    return [F32]


def _const_f64(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 0:
        _wrong_arity(args, 0, s.name)
    if not (0 <= _as(data, UnaryIeee64).bits < (1 << 64)):
        raise TypingError(f"{s.name} bits do not fit")
    return [F64]


def _const_vector(func: Function, data: InstructionData, s: OpSpec,
                  args: list[Type]) -> list[Type]:
    assert isinstance(data, UnaryConst)  # result_types checked the format
    if len(args) != 0:
        _wrong_arity(args, 0, s.name)
    if not data.ctrl_type.is_vector:
        raise TypingError(f"vconst type must be a 128-bit type, not {data.ctrl_type}")
    if not (0 <= data.value < (1 << 128)):
        raise TypingError("vconst value does not fit")
    return [data.ctrl_type]


def _null(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    ctrl = _as(data, Nullary).ctrl_type
    if len(args) != 0:
        _wrong_arity(args, 0, s.name)
    if not ctrl.is_ref:
        raise TypingError(f"null type must be a reference type, not {ctrl}")
    return [ctrl]


# Integer and float arithmetic ----------------------------------------------------------


def _int_binary(func: Function, data: InstructionData, s: OpSpec,
                args: list[Type]) -> list[Type]:
    op = s.name
    if len(args) != 2:
        _wrong_arity(args, 2, op)
    if not _int_like(args[0]):
        raise TypingError(f"{op} needs integer operands, got {args[0]}")
    if args[0] != args[1]:
        raise TypingError(f"{op} operand types differ: {args[0]} and {args[1]}")
    return [args[0]]


def _int_add_trap(func: Function, data: InstructionData, s: OpSpec,
                  args: list[Type]) -> list[Type]:
    assert isinstance(data, IntAddTrap)  # result_types checked the format
    results = _int_binary(func, data, s, args)
    if not args[0].is_int:
        raise TypingError(f"{s.name} needs scalar integer operands")
    return results


def _int_shift(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    op = s.name
    if len(args) != 2:
        _wrong_arity(args, 2, op)
    if not _int_like(args[0]):
        raise TypingError(f"{op} needs an integer operand, got {args[0]}")
    if not args[1].is_int:
        raise TypingError(f"{op} shift amount must be a scalar integer, got {args[1]}")
    return [args[0]]


def _int_unary(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not _int_like(args[0]):
        raise TypingError(f"{s.name} needs an integer operand, got {args[0]}")
    return [args[0]]


def _int_binary_imm(func: Function, data: InstructionData, s: OpSpec,
                    args: list[Type]) -> list[Type]:
    op = s.name
    if len(args) != 1:
        _wrong_arity(args, 1, op)
    if not args[0].is_int:
        raise TypingError(f"{op} needs a scalar integer operand, got {args[0]}")
    assert isinstance(data, BinaryImm)  # result_types checked the format
    if not _fits_i64(data.imm):
        raise TypingError(f"{op} immediate must fit i64")
    return [args[0]]


def _icmp(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    op = s.name
    assert isinstance(data, IntCompare)  # result_types checked the format
    if len(args) != 2:
        _wrong_arity(args, 2, op)
    if not (_int_like(args[0]) or args[0].is_ref):
        raise TypingError(f"{op} needs integer operands, got {args[0]}")
    if args[0] != args[1]:
        raise TypingError(f"{op} operand types differ: {args[0]} and {args[1]}")
    if data.cond not in INT_CONDS:
        raise TypingError(f"bad integer condition code {data.cond}")
    # Lane-wise on vectors: each lane all ones when the condition holds, else zero.
    return [args[0]] if args[0].is_vector else [I8]


def _icmp_imm(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    op = s.name
    assert isinstance(data, IntCompareImm)  # result_types checked the format
    if len(args) != 1:
        _wrong_arity(args, 1, op)
    if not (args[0].is_int or args[0].is_ref):
        raise TypingError(f"{op} needs integer operands, got {args[0]}")
    if not _fits_i64(data.imm):
        raise TypingError(f"{op} immediate must fit i64")
    if data.cond not in INT_CONDS:
        raise TypingError(f"bad integer condition code {data.cond}")
    return [I8]


def _float_binary(func: Function, data: InstructionData, s: OpSpec,
                  args: list[Type]) -> list[Type]:
    op = s.name
    if len(args) != 2:
        _wrong_arity(args, 2, op)
    if not _float_like(args[0]):
        raise TypingError(f"{op} needs float operands, got {args[0]}")
    if args[0] != args[1]:
        raise TypingError(f"{op} operand types differ: {args[0]} and {args[1]}")
    return [args[0]]


def _float_unary(func: Function, data: InstructionData, s: OpSpec,
                 args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not _float_like(args[0]):
        raise TypingError(f"{s.name} needs a float operand, got {args[0]}")
    return [args[0]]


def _fcmp(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    op = s.name
    assert isinstance(data, FloatCompare)  # result_types checked the format
    if len(args) != 2:
        _wrong_arity(args, 2, op)
    if not _float_like(args[0]):
        raise TypingError(f"{op} needs float operands, got {args[0]}")
    if args[0] != args[1]:
        raise TypingError(f"{op} operand types differ: {args[0]} and {args[1]}")
    if data.cond not in FLOAT_CONDS:
        raise TypingError(f"bad float condition code {data.cond}")
    if args[0].is_vector:
        # Lane-wise: all ones where the condition holds, zero elsewhere.
        return [_int_lanes(args[0])]
    return [I8]


# Conversions ---------------------------------------------------------------------------


def _ireduce(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    ctrl = _ctrl(data)
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not (args[0].is_int and ctrl.is_int):
        raise TypingError(f"{s.name} converts between integer types")
    if not (ctrl.bits < args[0].bits):
        raise TypingError(f"ireduce to {ctrl} from {args[0]} does not narrow")
    return [ctrl]


def _extend(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    ctrl = _ctrl(data)
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not (args[0].is_int and ctrl.is_int):
        raise TypingError(f"{s.name} converts between integer types")
    if not (ctrl.bits > args[0].bits):
        raise TypingError(f"{s.name} to {ctrl} from {args[0]} does not widen")
    return [ctrl]


def _fpromote(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not (args[0] == F32 and data.ctrl_type == F64):
        raise TypingError(f"{s.name} converts {F32} to {F64}")
    return [F64]


def _fdemote(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not (args[0] == F64 and data.ctrl_type == F32):
        raise TypingError(f"{s.name} converts {F64} to {F32}")
    return [F32]


def _fcvt_to_int(func: Function, data: InstructionData, s: OpSpec,
                 args: list[Type]) -> list[Type]:
    ctrl = _ctrl(data)
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if args[0].is_vector:
        if not (_float_like(args[0]) and _int_like(ctrl) and ctrl.lanes == args[0].lanes):
            raise TypingError(
                f"{s.name} converts float lanes to as many integer lanes, not {args[0]} "
                f"to {ctrl}")
        return [ctrl]
    if not args[0].is_float:
        raise TypingError(f"{s.name} needs a float operand, got {args[0]}")
    if ctrl not in (I32, I64):
        raise TypingError(f"{s.name} produces i32 or i64, not {ctrl}")
    return [ctrl]


def _fcvt_from_int(func: Function, data: InstructionData, s: OpSpec,
                   args: list[Type]) -> list[Type]:
    ctrl = _ctrl(data)
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if args[0].is_vector:
        if not (_int_like(args[0]) and _float_like(ctrl) and ctrl.lanes == args[0].lanes):
            raise TypingError(
                f"{s.name} converts integer lanes to as many float lanes, not {args[0]} "
                f"to {ctrl}")
        return [ctrl]
    if args[0] not in (I32, I64):
        raise TypingError(f"{s.name} needs an i32 or i64 operand, got {args[0]}")
    if not ctrl.is_float:
        raise TypingError(f"{s.name} produces a float type, not {ctrl}")
    return [ctrl]


def _bitcast(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    ctrl = _ctrl(data)
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if args[0].bits != ctrl.bits:
        raise TypingError(f"bitcast from {args[0]} to {ctrl} changes size")
    return [ctrl]


def _select(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 3:
        _wrong_arity(args, 3, s.name)
    if not args[0].is_int:
        raise TypingError(f"select condition must be an integer, got {args[0]}")
    if args[1] != args[2]:
        raise TypingError(f"select operand types differ: {args[1]} and {args[2]}")
    return [args[1]]


def _is_null(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not args[0].is_ref:
        raise TypingError(f"is_null needs a reference, got {args[0]}")
    return [I8]


# SIMD float, conversion, narrowing and widening rules (the simd-float block) ----------


def _int_lanes(t: Type) -> Type:
    """The integer vector with ``t``'s lane layout (i32x4 for f32x4)."""
    return TYPES_BY_NAME[f"i{t.lane_bits}x{t.lanes}"]


def _vector_of(lane_bits: int, lanes: int, kind: str) -> Type | None:
    return TYPES_BY_NAME.get(f"{'i' if kind == 'int' else 'f'}{lane_bits}x{lanes}")


def _float_ternary(func: Function, data: InstructionData, s: OpSpec,
                   args: list[Type]) -> list[Type]:
    if len(args) != 3:
        _wrong_arity(args, 3, s.name)
    if not _float_like(args[0]):
        raise TypingError(f"{s.name} needs float operands, got {args[0]}")
    if not (args[0] == args[1] == args[2]):
        raise TypingError(f"{s.name} operand types differ: {', '.join(map(str, args))}")
    return [args[0]]


def _int_vector_binary(func: Function, data: InstructionData, s: OpSpec,
                       args: list[Type]) -> list[Type]:
    if len(args) != 2:
        _wrong_arity(args, 2, s.name)
    if not (_int_like(args[0]) and args[0].is_vector):
        raise TypingError(f"{s.name} needs integer vector operands, got {args[0]}")
    if args[0] != args[1]:
        raise TypingError(f"{s.name} operand types differ: {args[0]} and {args[1]}")
    if s.name == "iadd_pairwise":
        return [args[0]]
    if args[0].lane_bits not in (16, 32):
        raise TypingError(f"{s.name} needs 16- or 32-bit lanes, got {args[0]}")
    return [args[0]]


def _narrow(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 2:
        _wrong_arity(args, 2, s.name)
    if not (_int_like(args[0]) and args[0].is_vector and args[0].lane_bits > 8):
        raise TypingError(f"{s.name} needs integer vectors of 16- to 64-bit lanes, got {args[0]}")
    if args[0] != args[1]:
        raise TypingError(f"{s.name} operand types differ: {args[0]} and {args[1]}")
    result = _vector_of(args[0].lane_bits // 2, args[0].lanes * 2, "int")
    assert result is not None
    return [result]


def _widen(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not (_int_like(args[0]) and args[0].is_vector and args[0].lane_bits < 64):
        raise TypingError(f"{s.name} needs an integer vector of 8- to 32-bit lanes, got {args[0]}")
    result = _vector_of(args[0].lane_bits * 2, args[0].lanes // 2, "int")
    assert result is not None
    return [result]


def _widening_dot(func: Function, data: InstructionData, s: OpSpec,
                  args: list[Type]) -> list[Type]:
    if len(args) != 2:
        _wrong_arity(args, 2, s.name)
    if not (_int_like(args[0]) and args[0].is_vector and args[0].lane_bits in (8, 16)):
        raise TypingError(f"{s.name} needs i8x16 or i16x8 operands, got {args[0]}")
    if args[0] != args[1]:
        raise TypingError(f"{s.name} operand types differ: {args[0]} and {args[1]}")
    result = _vector_of(args[0].lane_bits * 2, args[0].lanes // 2, "int")
    assert result is not None
    return [result]


def _fvpromote_low(func: Function, data: InstructionData, s: OpSpec,
                   args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if args[0] != F32X4:
        raise TypingError(f"{s.name} converts {F32X4} to {F64X2}, not {args[0]}")
    return [F64X2]


def _fvdemote(func: Function, data: InstructionData, s: OpSpec,
              args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if args[0] != F64X2:
        raise TypingError(f"{s.name} converts {F64X2} to {F32X4}, not {args[0]}")
    return [F32X4]


# Memory --------------------------------------------------------------------------------


def _load(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    op = s.name
    assert isinstance(data, Load)  # result_types checked the format
    if len(args) != 1:
        _wrong_arity(args, 1, op)
    if args[0] != POINTER:
        raise TypingError(f"{op} address must be {POINTER}, got {args[0]}")
    if not (-(1 << 31) <= data.offset < (1 << 31)):
        raise TypingError(f"{op} offset must fit i32")
    if s.rule == "sized_load":
        ctrl = data.ctrl_type
        if not (ctrl.is_int and ctrl.bytes > s.access_size):
            raise TypingError(f"{op} result must be an integer wider than the access, not {ctrl}")
    return [data.ctrl_type]


def _store(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    op = s.name
    assert isinstance(data, Store)  # result_types checked the format
    if len(args) != 2:
        _wrong_arity(args, 2, op)
    if args[1] != POINTER:
        raise TypingError(f"{op} address must be {POINTER}, got {args[1]}")
    if not (-(1 << 31) <= data.offset < (1 << 31)):
        raise TypingError(f"{op} offset must fit i32")
    if s.rule == "sized_store":
        if not (args[0].is_int and args[0].bytes > s.access_size):
            raise TypingError(f"{op} value must be an integer wider than the access, not {args[0]}")
    return []


def _heap_addr(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    assert isinstance(data, HeapAddr)  # result_types checked the format
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not (0 <= data.heap < len(func.heaps)):
        raise TypingError(f"heap{data.heap} is not declared")
    heap = func.heaps[data.heap]
    if args[0] != heap.index_type:
        raise TypingError(f"heap_addr index must be {heap.index_type}, got {args[0]}")
    if not (0 <= data.offset < (1 << 32)):
        raise TypingError(f"heap_addr offset {data.offset} does not fit u32")
    if not (0 < data.size <= 256):
        raise TypingError(f"heap_addr access size {data.size} out of range")
    if data.ctrl_type != POINTER:
        raise TypingError(f"heap_addr produces {POINTER}, not {data.ctrl_type}")
    return [POINTER]


def _table_addr(func: Function, data: InstructionData, s: OpSpec,
                args: list[Type]) -> list[Type]:
    assert isinstance(data, TableAddr)  # result_types checked the format
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not (0 <= data.table < len(func.tables)):
        raise TypingError(f"table{data.table} is not declared")
    table = func.tables[data.table]
    if args[0] != table.index_type:
        raise TypingError(f"table_addr index must be {table.index_type}, got {args[0]}")
    if not (0 <= data.offset < (1 << 32)):
        raise TypingError(f"table_addr offset {data.offset} does not fit u32")
    if data.ctrl_type != POINTER:
        raise TypingError(f"table_addr produces {POINTER}, not {data.ctrl_type}")
    return [POINTER]


def _global_value(func: Function, data: InstructionData, s: OpSpec,
                  args: list[Type]) -> list[Type]:
    assert isinstance(data, UnaryGlobalValue)  # result_types checked the format
    gv = data.global_value
    if len(args) != 0:
        _wrong_arity(args, 0, s.name)
    if not (0 <= gv < len(func.global_values)):
        raise TypingError(f"gv{gv} is not declared")
    gv_type = func.global_values[gv].type
    if data.ctrl_type != gv_type:
        raise TypingError(f"global_value type {data.ctrl_type} differs from gv{gv}'s {gv_type}")
    return [gv_type]


def _func_addr(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    assert isinstance(data, FuncAddr)  # result_types checked the format
    if len(args) != 0:
        _wrong_arity(args, 0, s.name)
    if not (0 <= data.func_ref < len(func.ext_funcs)):
        raise TypingError(f"fn{data.func_ref} is not declared")
    if data.ctrl_type != POINTER:
        raise TypingError(f"func_addr produces {POINTER}, not {data.ctrl_type}")
    return [POINTER]


def _memmove(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    assert isinstance(data, MemMove)  # result_types checked the format
    if len(args) != 3:
        _wrong_arity(args, 3, s.name)
    if not (args[0] == POINTER and args[1] == POINTER):
        raise TypingError(f"memmove addresses must be {POINTER}, got {args[0]} and {args[1]}")
    if args[2] != I64:
        raise TypingError(f"memmove size must be i64, got {args[2]}")
    return []


def _memset(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    assert isinstance(data, MemSet)  # result_types checked the format
    if len(args) != 3:
        _wrong_arity(args, 3, s.name)
    if args[0] != POINTER:
        raise TypingError(f"memset address must be {POINTER}, got {args[0]}")
    if args[1] != I8:
        raise TypingError(f"memset byte must be i8, got {args[1]}")
    if args[2] != I64:
        raise TypingError(f"memset size must be i64, got {args[2]}")
    return []


# Calls ---------------------------------------------------------------------------------


def _call(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    assert isinstance(data, Call)  # result_types checked the format
    fn = data.func_ref
    if not (0 <= fn < len(func.ext_funcs)):
        raise TypingError(f"fn{fn} is not declared")
    sig_index = func.ext_funcs[fn].signature
    if not (0 <= sig_index < len(func.signatures)):
        raise TypingError(f"sig{sig_index} is not declared")
    sig = func.signatures[sig_index]
    _check_call_args(s.name, sig.param_types(), args)
    return _call_results(func, s.name, sig.returns)


def _call_indirect(func: Function, data: InstructionData, s: OpSpec,
                   args: list[Type]) -> list[Type]:
    assert isinstance(data, CallIndirect)  # result_types checked the format
    sig_ref = data.sig_ref
    if not (0 <= sig_ref < len(func.signatures)):
        raise TypingError(f"sig{sig_ref} is not declared")
    sig = func.signatures[sig_ref]
    if not (len(args) >= 1 and args[0] == POINTER):
        raise TypingError(f"{s.name} callee must be {POINTER}")
    _check_call_args(s.name, sig.param_types(), args[1:])
    return _call_results(func, s.name, sig.returns)


def _check_call_args(op: str, params: list[Type], args: list[Type]) -> None:
    if params != args:
        raise TypingError(
            f"{op} arguments ({', '.join(map(str, args))}) do not match the "
            f"signature ({', '.join(map(str, params))})")


def _call_results(func: Function, op: str, returns: list[Type]) -> list[Type]:
    if op.startswith("return_call"):
        if returns != func.signature.returns:
            raise TypingError(
                f"{op} callee returns ({', '.join(map(str, returns))}), the caller "
                f"({', '.join(map(str, func.signature.returns))})")
        return []
    return list(returns)


# Control flow and traps ----------------------------------------------------------------


def _jump(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 0:
        _wrong_arity(args, 0, s.name)
    return []


def _br_table(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if args[0] not in (I32, I64):
        raise TypingError(f"br_table index must be i32 or i64, got {args[0]}")
    return []


def _brif(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not args[0].is_int:
        raise TypingError(f"brif condition must be an integer, got {args[0]}")
    return []


def _return(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    returns = func.signature.returns
    if args != returns:
        raise TypingError(
            f"return values ({', '.join(map(str, args))}) do not match the signature's "
            f"({', '.join(map(str, returns))})")
    return []


def _trap(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    assert isinstance(data, Trap)  # result_types checked the format
    if len(args) != 0:
        _wrong_arity(args, 0, s.name)
    return []


def _cond_trap(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    assert isinstance(data, CondTrap)  # result_types checked the format
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not args[0].is_int:
        raise TypingError(f"{s.name} condition must be an integer, got {args[0]}")
    return []


# SIMD (simd-int) ------------------------------------------------------------------------


def _lane_view(t: Type) -> bool:
    """A vector type with lanes (not the untyped ``v128``)."""
    return t.is_vector and t != V128


def _splat(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    ctrl = _ctrl(data)
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not _lane_view(ctrl):
        raise TypingError(f"{s.name} produces a vector with lanes, not {ctrl}")
    if args[0] != ctrl.lane_type:
        raise TypingError(f"{s.name}.{ctrl} needs a {ctrl.lane_type} operand, got {args[0]}")
    return [ctrl]


def _extractlane(func: Function, data: InstructionData, s: OpSpec,
                 args: list[Type]) -> list[Type]:
    assert isinstance(data, BinaryImm)  # result_types checked the format
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not _lane_view(args[0]):
        raise TypingError(f"{s.name} needs a vector with lanes, got {args[0]}")
    if not (0 <= data.imm < args[0].lanes):
        raise TypingError(f"lane {data.imm} out of range for {args[0]}")
    return [args[0].lane_type]


def _insertlane(func: Function, data: InstructionData, s: OpSpec,
                args: list[Type]) -> list[Type]:
    assert isinstance(data, InsertLane)  # result_types checked the format
    if len(args) != 2:
        _wrong_arity(args, 2, s.name)
    if not _lane_view(args[0]):
        raise TypingError(f"{s.name} needs a vector with lanes, got {args[0]}")
    if args[1] != args[0].lane_type:
        raise TypingError(
            f"{s.name} into {args[0]} needs a {args[0].lane_type} lane, got {args[1]}")
    if not (0 <= data.lane < args[0].lanes):
        raise TypingError(f"lane {data.lane} out of range for {args[0]}")
    return [args[0]]


def _shuffle(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    assert isinstance(data, Shuffle)  # result_types checked the format
    if len(args) != 2:
        _wrong_arity(args, 2, s.name)
    if not (args[0] == I8X16 and args[1] == I8X16):
        raise TypingError(f"{s.name} takes {I8X16} operands")
    if not (len(data.mask) == 16 and all(0 <= i < 32 for i in data.mask)):
        raise TypingError(f"{s.name} needs 16 lane indices below 32")
    return [I8X16]


def _swizzle(func: Function, data: InstructionData, s: OpSpec, args: list[Type]) -> list[Type]:
    if len(args) != 2:
        _wrong_arity(args, 2, s.name)
    if not (args[0] == I8X16 and args[1] == I8X16):
        raise TypingError(f"{s.name} takes {I8X16} operands")
    return [I8X16]


def _bitselect(func: Function, data: InstructionData, s: OpSpec,
               args: list[Type]) -> list[Type]:
    if len(args) != 3:
        _wrong_arity(args, 3, s.name)
    if not args[0].is_vector:
        raise TypingError(f"{s.name} needs vector operands, got {args[0]}")
    if not (args[0] == args[1] == args[2]):
        raise TypingError(f"{s.name} operand types differ")
    return [args[0]]


def _vector_test(func: Function, data: InstructionData, s: OpSpec,
                 args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not args[0].is_vector:
        raise TypingError(f"{s.name} needs a vector operand, got {args[0]}")
    if not (s.name == "vany_true" or _lane_view(args[0])):
        raise TypingError(f"{s.name} needs a vector with lanes, got {args[0]}")
    return [I8]


def _vhigh_bits(func: Function, data: InstructionData, s: OpSpec,
                args: list[Type]) -> list[Type]:
    ctrl = _ctrl(data)
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not (_lane_view(args[0]) and args[0].kind == "int"):
        raise TypingError(f"{s.name} needs an integer vector, got {args[0]}")
    if not (ctrl.is_int and ctrl.bits >= args[0].lanes):
        raise TypingError(f"{s.name} result {ctrl} cannot hold {args[0].lanes} bits")
    return [ctrl]


def _vector_int_binary(func: Function, data: InstructionData, s: OpSpec,
                       args: list[Type]) -> list[Type]:
    if len(args) != 2:
        _wrong_arity(args, 2, s.name)
    if not (_lane_view(args[0]) and args[0].kind == "int"):
        raise TypingError(f"{s.name} needs integer vector operands, got {args[0]}")
    if args[0] != args[1]:
        raise TypingError(f"{s.name} operand types differ: {args[0]} and {args[1]}")
    return [args[0]]


def _vector_int_unary(func: Function, data: InstructionData, s: OpSpec,
                      args: list[Type]) -> list[Type]:
    if len(args) != 1:
        _wrong_arity(args, 1, s.name)
    if not (_lane_view(args[0]) and args[0].kind == "int"):
        raise TypingError(f"{s.name} needs an integer vector operand, got {args[0]}")
    return [args[0]]


def _extend_load(func: Function, data: InstructionData, s: OpSpec,
                 args: list[Type]) -> list[Type]:
    assert isinstance(data, Load)  # result_types checked the format
    results = _load(func, data, s, args)
    ctrl = data.ctrl_type
    want = {"8x8": "i16x8", "16x4": "i32x4", "32x2": "i64x2"}[s.name[5:]]
    if ctrl.name != want:
        raise TypingError(f"{s.name} produces {want}, not {ctrl}")
    return results


RULES: dict[str, Rule] = {
    "const_int": _const_int,
    "const_f32": _const_f32,
    "const_f64": _const_f64,
    "const_vector": _const_vector,
    "null": _null,
    "int_binary": _int_binary,
    "int_add_trap": _int_add_trap,
    "int_shift": _int_shift,
    "int_unary": _int_unary,
    "int_binary_imm": _int_binary_imm,
    "icmp": _icmp,
    "icmp_imm": _icmp_imm,
    "float_binary": _float_binary,
    "float_unary": _float_unary,
    "fcmp": _fcmp,
    "ireduce": _ireduce,
    "extend": _extend,
    "fpromote": _fpromote,
    "fdemote": _fdemote,
    "fcvt_to_int": _fcvt_to_int,
    "fcvt_from_int": _fcvt_from_int,
    "bitcast": _bitcast,
    # The simd-float block.
    "float_ternary": _float_ternary,
    "int_vector_binary": _int_vector_binary,
    "narrow": _narrow,
    "widen": _widen,
    "widening_dot": _widening_dot,
    "fvpromote_low": _fvpromote_low,
    "fvdemote": _fvdemote,
    "select": _select,
    "is_null": _is_null,
    "load": _load,
    "sized_load": _load,
    "store": _store,
    "sized_store": _store,
    "heap_addr": _heap_addr,
    "table_addr": _table_addr,
    "global_value": _global_value,
    "func_addr": _func_addr,
    "memmove": _memmove,
    "memset": _memset,
    "call": _call,
    "call_indirect": _call_indirect,
    "jump": _jump,
    "br_table": _br_table,
    "brif": _brif,
    "return": _return,
    "trap": _trap,
    "cond_trap": _cond_trap,
    # SIMD (simd-int)
    "splat": _splat,
    "extractlane": _extractlane,
    "insertlane": _insertlane,
    "shuffle": _shuffle,
    "swizzle": _swizzle,
    "bitselect": _bitselect,
    "vector_test": _vector_test,
    "vhigh_bits": _vhigh_bits,
    "vector_int_binary": _vector_int_binary,
    "vector_int_unary": _vector_int_unary,
    "extend_load": _extend_load,
}
"""The function behind each typing rule named in the opcode table."""
