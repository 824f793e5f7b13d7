"""Typing rules: check an instruction's operands and compute its result types.

One function serves the builder and parser (to give results their types) and the
verifier (to check operands and declared results).
"""

from __future__ import annotations

from pyjitwasm.ir.function import Function, InstData
from pyjitwasm.ir.immediates import FLOAT_CONDS, INT_CONDS
from pyjitwasm.ir.instructions import spec
from pyjitwasm.ir.types import F32, F64, I8, I32, I64, INT_TYPES, POINTER, Type


class TypingError(Exception):
    """An instruction's operands or immediates do not fit its opcode."""


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise TypingError(message)


def _arity(args: list[Type], n: int, opcode: str) -> None:
    _need(len(args) == n, f"{opcode} takes {n} operand(s), got {len(args)}")


def _int_like(t: Type) -> bool:
    return t.is_int or (t.kind == "int" and t.is_vector)


def _float_like(t: Type) -> bool:
    return t.is_float or (t.kind == "float" and t.is_vector)


def result_types(func: Function, data: InstData, args: list[Type]) -> list[Type]:
    """The result types of ``data`` given its operand types ``args`` (``data.args`` only;
    branch arguments are checked by the verifier). Raises TypingError."""
    op = data.opcode
    s = spec(op)
    rule = s.rule
    ctrl = data.ctrl_type
    if s.ctrl:
        _need(ctrl is not None, f"{op} needs a controlling type")
    else:
        _need(ctrl is None, f"{op} takes no controlling type")
    assert ctrl is not None or not s.ctrl

    if rule == "const_int":
        _arity(args, 0, op)
        _need(ctrl.is_int, f"iconst type must be an integer type, not {ctrl}")  # type: ignore
        _need(data.imm is not None and 0 <= data.imm < (1 << ctrl.bits),  # type: ignore
              f"iconst immediate does not fit {ctrl}")
        return [ctrl]  # type: ignore[list-item]
    if rule in ("const_f32", "const_f64"):
        _arity(args, 0, op)
        ty = F32 if rule == "const_f32" else F64
        _need(data.imm is not None and 0 <= data.imm < (1 << ty.bits), f"{op} bits do not fit")
        return [ty]
    if rule == "const_vector":
        _arity(args, 0, op)
        _need(ctrl.is_vector, f"vconst type must be a 128-bit type, not {ctrl}")  # type: ignore
        _need(data.imm is not None and 0 <= data.imm < (1 << 128), "vconst value does not fit")
        return [ctrl]  # type: ignore[list-item]
    if rule == "null":
        _arity(args, 0, op)
        _need(ctrl.is_ref, f"null type must be a reference type, not {ctrl}")  # type: ignore
        return [ctrl]  # type: ignore[list-item]
    if rule in ("int_binary", "int_add_trap"):
        _arity(args, 2, op)
        _need(_int_like(args[0]), f"{op} needs integer operands, got {args[0]}")
        _need(args[0] == args[1], f"{op} operand types differ: {args[0]} and {args[1]}")
        if rule == "int_add_trap":
            _need(args[0].is_int, f"{op} needs scalar integer operands")
            _need(data.trap is not None, f"{op} needs a trap code")
        return [args[0]]
    if rule == "int_shift":
        _arity(args, 2, op)
        _need(_int_like(args[0]), f"{op} needs an integer operand, got {args[0]}")
        _need(args[1].is_int, f"{op} shift amount must be a scalar integer, got {args[1]}")
        return [args[0]]
    if rule == "int_unary":
        _arity(args, 1, op)
        _need(_int_like(args[0]), f"{op} needs an integer operand, got {args[0]}")
        return [args[0]]
    if rule == "int_binary_imm":
        _arity(args, 1, op)
        _need(args[0].is_int, f"{op} needs a scalar integer operand, got {args[0]}")
        _need(data.imm is not None and -(1 << 63) <= data.imm < (1 << 63),
              f"{op} immediate must fit i64")
        return [args[0]]
    if rule in ("icmp", "icmp_imm"):
        _arity(args, 2 if rule == "icmp" else 1, op)
        _need(args[0].is_int or args[0].is_ref, f"{op} needs integer operands, got {args[0]}")
        if rule == "icmp":
            _need(args[0] == args[1], f"{op} operand types differ: {args[0]} and {args[1]}")
        else:
            _need(data.imm is not None and -(1 << 63) <= data.imm < (1 << 63),
                  f"{op} immediate must fit i64")
        _need(data.cond in INT_CONDS, f"bad integer condition code {data.cond}")
        return [I8]
    if rule == "float_binary":
        _arity(args, 2, op)
        _need(_float_like(args[0]), f"{op} needs float operands, got {args[0]}")
        _need(args[0] == args[1], f"{op} operand types differ: {args[0]} and {args[1]}")
        return [args[0]]
    if rule == "float_unary":
        _arity(args, 1, op)
        _need(_float_like(args[0]), f"{op} needs a float operand, got {args[0]}")
        return [args[0]]
    if rule == "fcmp":
        _arity(args, 2, op)
        _need(args[0].is_float, f"{op} needs float operands, got {args[0]}")
        _need(args[0] == args[1], f"{op} operand types differ: {args[0]} and {args[1]}")
        _need(data.cond in FLOAT_CONDS, f"bad float condition code {data.cond}")
        return [I8]
    if rule in ("ireduce", "extend"):
        _arity(args, 1, op)
        _need(args[0].is_int and ctrl.is_int, f"{op} converts between integer types")  # type: ignore
        if rule == "ireduce":
            _need(ctrl.bits < args[0].bits, f"ireduce to {ctrl} from {args[0]} does not narrow")  # type: ignore
        else:
            _need(ctrl.bits > args[0].bits, f"{op} to {ctrl} from {args[0]} does not widen")  # type: ignore
        return [ctrl]  # type: ignore[list-item]
    if rule in ("fpromote", "fdemote"):
        _arity(args, 1, op)
        src, dst = (F32, F64) if rule == "fpromote" else (F64, F32)
        _need(args[0] == src and ctrl == dst, f"{op} converts {src} to {dst}")
        return [dst]
    if rule == "fcvt_to_int":
        _arity(args, 1, op)
        _need(args[0].is_float, f"{op} needs a float operand, got {args[0]}")
        _need(ctrl in (I32, I64), f"{op} produces i32 or i64, not {ctrl}")
        return [ctrl]  # type: ignore[list-item]
    if rule == "fcvt_from_int":
        _arity(args, 1, op)
        _need(args[0] in (I32, I64), f"{op} needs an i32 or i64 operand, got {args[0]}")
        _need(ctrl is not None and ctrl.is_float, f"{op} produces a float type, not {ctrl}")
        return [ctrl]  # type: ignore[list-item]
    if rule == "bitcast":
        _arity(args, 1, op)
        _need(args[0].bits == ctrl.bits, f"bitcast from {args[0]} to {ctrl} changes size")  # type: ignore
        return [ctrl]  # type: ignore[list-item]
    if rule == "select":
        _arity(args, 3, op)
        _need(args[0].is_int, f"select condition must be an integer, got {args[0]}")
        _need(args[1] == args[2], f"select operand types differ: {args[1]} and {args[2]}")
        return [args[1]]
    if rule == "is_null":
        _arity(args, 1, op)
        _need(args[0].is_ref, f"is_null needs a reference, got {args[0]}")
        return [I8]
    if rule in ("load", "sized_load"):
        _arity(args, 1, op)
        _need(args[0] == POINTER, f"{op} address must be {POINTER}, got {args[0]}")
        _need(data.flags is not None, f"{op} needs memory flags")
        _need(data.imm is not None and -(1 << 31) <= data.imm < (1 << 31),
              f"{op} offset must fit i32")
        if rule == "sized_load":
            _need(ctrl.is_int and ctrl.bytes > s.access_size,  # type: ignore
                  f"{op} result must be an integer wider than the access, not {ctrl}")
        return [ctrl]  # type: ignore[list-item]
    if rule in ("store", "sized_store"):
        _arity(args, 2, op)
        _need(args[1] == POINTER, f"{op} address must be {POINTER}, got {args[1]}")
        _need(data.flags is not None, f"{op} needs memory flags")
        _need(data.imm is not None and -(1 << 31) <= data.imm < (1 << 31),
              f"{op} offset must fit i32")
        if rule == "sized_store":
            _need(args[0].is_int and args[0].bytes > s.access_size,
                  f"{op} value must be an integer wider than the access, not {args[0]}")
        return []
    if rule == "heap_addr":
        _arity(args, 1, op)
        _need(data.entity is not None and 0 <= data.entity < len(func.heaps),
              f"heap{data.entity} is not declared")
        heap = func.heaps[data.entity]  # type: ignore[index]
        _need(args[0] == heap.index_type,
              f"heap_addr index must be {heap.index_type}, got {args[0]}")
        _need(data.imm is not None and 0 <= data.imm < (1 << 32),
              f"heap_addr offset {data.imm} does not fit u32")
        _need(data.size is not None and 0 < data.size <= 256,
              f"heap_addr access size {data.size} out of range")
        _need(ctrl == POINTER, f"heap_addr produces {POINTER}, not {ctrl}")
        return [POINTER]
    if rule == "table_addr":
        _arity(args, 1, op)
        _need(data.entity is not None and 0 <= data.entity < len(func.tables),
              f"table{data.entity} is not declared")
        table = func.tables[data.entity]  # type: ignore[index]
        _need(args[0] == table.index_type,
              f"table_addr index must be {table.index_type}, got {args[0]}")
        _need(data.imm is not None and 0 <= data.imm < (1 << 32),
              f"table_addr offset {data.imm} does not fit u32")
        _need(ctrl == POINTER, f"table_addr produces {POINTER}, not {ctrl}")
        return [POINTER]
    if rule == "global_value":
        _arity(args, 0, op)
        _need(data.entity is not None and 0 <= data.entity < len(func.global_values),
              f"gv{data.entity} is not declared")
        gv_type = func.global_values[data.entity].type  # type: ignore[index]
        _need(ctrl == gv_type, f"global_value type {ctrl} differs from gv{data.entity}'s "
              f"{gv_type}")
        return [gv_type]
    if rule == "func_addr":
        _arity(args, 0, op)
        _need(data.entity is not None and 0 <= data.entity < len(func.ext_funcs),
              f"fn{data.entity} is not declared")
        _need(ctrl == POINTER, f"func_addr produces {POINTER}, not {ctrl}")
        return [POINTER]
    if rule == "call":
        _need(data.entity is not None and 0 <= data.entity < len(func.ext_funcs),
              f"fn{data.entity} is not declared")
        sig_index = func.ext_funcs[data.entity].signature  # type: ignore[index]
        _need(0 <= sig_index < len(func.signatures), f"sig{sig_index} is not declared")
        sig = func.signatures[sig_index]
        _check_call_args(op, sig.param_types(), args)
        return _call_results(func, op, sig.returns)
    if rule == "call_indirect":
        _need(data.entity is not None and 0 <= data.entity < len(func.signatures),
              f"sig{data.entity} is not declared")
        sig = func.signatures[data.entity]  # type: ignore[index]
        _need(len(args) >= 1 and args[0] == POINTER,
              f"{op} callee must be {POINTER}")
        _check_call_args(op, sig.param_types(), args[1:])
        return _call_results(func, op, sig.returns)
    if rule in ("jump", "br_table"):
        _arity(args, 1 if rule == "br_table" else 0, op)
        if rule == "br_table":
            _need(args[0] in (I32, I64), f"br_table index must be i32 or i64, got {args[0]}")
        return []
    if rule == "brif":
        _arity(args, 1, op)
        _need(args[0].is_int, f"brif condition must be an integer, got {args[0]}")
        return []
    if rule == "return":
        returns = func.signature.returns
        _need([str(t) for t in args] == [str(t) for t in returns],
              f"return values ({', '.join(map(str, args))}) do not match the signature's "
              f"({', '.join(map(str, returns))})")
        return []
    if rule == "trap":
        _arity(args, 0, op)
        _need(data.trap is not None, "trap needs a trap code")
        return []
    if rule == "cond_trap":
        _arity(args, 1, op)
        _need(args[0].is_int, f"{op} condition must be an integer, got {args[0]}")
        _need(data.trap is not None, f"{op} needs a trap code")
        return []
    raise TypingError(f"no typing rule for {op}")  # pragma: no cover


def _check_call_args(op: str, params: list[Type], args: list[Type]) -> None:
    _need(params == args, f"{op} arguments ({', '.join(map(str, args))}) do not match the "
          f"signature ({', '.join(map(str, params))})")


def _call_results(func: Function, op: str, returns: list[Type]) -> list[Type]:
    if op.startswith("return_call"):
        _need(returns == func.signature.returns,
              f"{op} callee returns ({', '.join(map(str, returns))}), the caller "
              f"({', '.join(map(str, func.signature.returns))})")
        return []
    return list(returns)


__all__ = ["TypingError", "result_types", "INT_TYPES", "I64"]
