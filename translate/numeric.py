"""Translation of wasm's numeric instructions (constants, arithmetic, comparisons,
conversions) to IR.

Most map to one IR instruction whose semantics are wasm's (see ``instructions``):
``fmin``/``fmax`` propagate NaN and order -0 below +0 (LLVM ``llvm.minimum`` /
``llvm.maximum``), ``nearest`` rounds half to even (``llvm.roundeven``), ``fcopysign`` is
``llvm.copysign``, the ``_sat`` conversions are ``llvm.fpto[su]i.sat``. Trapping
divisions and conversions stay implicit here and become explicit in legalization.
Comparisons produce ``i8`` in IR and are widened to wasm's i32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from pyjitwasm.ir.types import F32, F64, I32, I64, V128, Type, int_type
from pyjitwasm.wasm.module import Instr
from pyjitwasm.wasm.opcodes import OPS_BY_NAME

if TYPE_CHECKING:
    from pyjitwasm.translate.translator import FunctionTranslator

Handler = Callable[["FunctionTranslator", Instr], None]

_TYPES = {"i32": I32, "i64": I64, "f32": F32, "f64": F64}


def _binary(ir_op: str) -> Handler:
    def handle(t: FunctionTranslator, instr: Instr) -> None:
        b, a = t.pop(), t.pop()
        t.push(t.ins().binary(ir_op, a, b))
    return handle


def _unary(ir_op: str, ty: Type | None = None) -> Handler:
    def handle(t: FunctionTranslator, instr: Instr) -> None:
        t.push(t.ins().unary(ir_op, t.pop(), ty))
    return handle


def _icmp(cond: str) -> Handler:
    def handle(t: FunctionTranslator, instr: Instr) -> None:
        b, a = t.pop(), t.pop()
        ins = t.ins()
        t.push(ins.uextend(I32, ins.icmp(cond, a, b)))
    return handle


def _fcmp(cond: str) -> Handler:
    def handle(t: FunctionTranslator, instr: Instr) -> None:
        b, a = t.pop(), t.pop()
        ins = t.ins()
        t.push(ins.uextend(I32, ins.fcmp(cond, a, b)))
    return handle


def _eqz(t: FunctionTranslator, instr: Instr) -> None:
    ins = t.ins()
    t.push(ins.uextend(I32, ins.icmp_imm("eq", t.pop(), 0)))


def _extend_s(bits: int, ty: Type) -> Handler:
    """``iN.extendM_s``: keep the low M bits, sign-extend them back to N."""
    def handle(t: FunctionTranslator, instr: Instr) -> None:
        ins = t.ins()
        t.push(ins.sextend(ty, ins.ireduce(int_type(bits), t.pop())))
    return handle


def _const(ty: Type) -> Handler:
    def handle(t: FunctionTranslator, instr: Instr) -> None:
        ins = t.ins()
        if ty == F32:
            t.push(ins.f32const(instr.imm))
        elif ty == F64:
            t.push(ins.f64const(instr.imm))
        else:
            t.push(ins.iconst(ty, instr.imm))
    return handle


def _v128_const(t: FunctionTranslator, instr: Instr) -> None:
    # The one SIMD instruction translated: v128 globals, locals and select need values.
    t.push(t.ins().vconst(V128, instr.imm))


def _table() -> dict[str, Handler]:
    table: dict[str, Handler] = {"v128.const": _v128_const}
    int_bin = {"add": "iadd", "sub": "isub", "mul": "imul", "div_s": "sdiv", "div_u": "udiv",
               "rem_s": "srem", "rem_u": "urem", "and": "band", "or": "bor", "xor": "bxor",
               "shl": "ishl", "shr_s": "sshr", "shr_u": "ushr", "rotl": "rotl", "rotr": "rotr"}
    int_cmp = {"eq": "eq", "ne": "ne", "lt_s": "slt", "lt_u": "ult", "gt_s": "sgt",
               "gt_u": "ugt", "le_s": "sle", "le_u": "ule", "ge_s": "sge", "ge_u": "uge"}
    float_bin = {"add": "fadd", "sub": "fsub", "mul": "fmul", "div": "fdiv", "min": "fmin",
                 "max": "fmax", "copysign": "fcopysign"}
    float_un = {"abs": "fabs", "neg": "fneg", "ceil": "ceil", "floor": "floor",
                "trunc": "trunc", "nearest": "nearest", "sqrt": "sqrt"}
    # IR "ne" is true on unordered operands, the others false: exactly wasm's rules.
    float_cmp = {"eq": "eq", "ne": "ne", "lt": "lt", "gt": "gt", "le": "le", "ge": "ge"}
    for name, ty in _TYPES.items():
        table[f"{name}.const"] = _const(ty)
    for t in ("i32", "i64"):
        for k, v in int_bin.items():
            table[f"{t}.{k}"] = _binary(v)
        for k, v in int_cmp.items():
            table[f"{t}.{k}"] = _icmp(v)
        for k in ("clz", "ctz", "popcnt"):
            table[f"{t}.{k}"] = _unary(k)
        table[f"{t}.eqz"] = _eqz
    for t in ("f32", "f64"):
        for k, v in float_bin.items():
            table[f"{t}.{k}"] = _binary(v)
        for k, v in float_un.items():
            table[f"{t}.{k}"] = _unary(v)
        for k, v in float_cmp.items():
            table[f"{t}.{k}"] = _fcmp(v)
    for dst in ("i32", "i64"):
        for src in ("f32", "f64"):
            for s, sign in (("s", "sint"), ("u", "uint")):
                table[f"{dst}.trunc_{src}_{s}"] = _unary(f"fcvt_to_{sign}", _TYPES[dst])
                table[f"{dst}.trunc_sat_{src}_{s}"] = _unary(f"fcvt_to_{sign}_sat", _TYPES[dst])
                table[f"{src}.convert_{dst}_{s}"] = _unary(f"fcvt_from_{sign}", _TYPES[src])
    table["i32.wrap_i64"] = _unary("ireduce", I32)
    table["i64.extend_i32_s"] = _unary("sextend", I64)
    table["i64.extend_i32_u"] = _unary("uextend", I64)
    table["f32.demote_f64"] = _unary("fdemote", F32)
    table["f64.promote_f32"] = _unary("fpromote", F64)
    for a, b in (("i32", "f32"), ("i64", "f64"), ("f32", "i32"), ("f64", "i64")):
        table[f"{a}.reinterpret_{b}"] = _unary("bitcast", _TYPES[a])
    for t, widths in (("i32", (8, 16)), ("i64", (8, 16, 32))):
        for n in widths:
            table[f"{t}.extend{n}_s"] = _extend_s(n, _TYPES[t])
    return table


def handlers() -> dict[int, Handler]:
    """Handler of every numeric opcode."""
    return {OPS_BY_NAME[name].code: handler for name, handler in _table().items()}
