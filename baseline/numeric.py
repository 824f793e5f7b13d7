"""Direct tier 0: numeric instructions.

Integer division and remainder trap as ``ir/legalize.py`` makes them (a zero divisor,
``MIN / -1``; ``MIN rem -1`` is 0); float-to-integer truncation traps on NaN and out of
range; float arithmetic whose constant operand LLVM could fold away goes through
``llvm.canonicalize`` (a signalling NaN must come out quiet), as ``jit/lower.py`` does."""

from __future__ import annotations

import struct
from typing import Any

from pyjitwasm.baseline.function import (
    BITS,
    PREFIX,
    SUFFIX,
    FunctionEmitter,
    Handler,
    double_literal,
    signed,
)
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.wasm import opcodes as op

# Numbers -----------------------------------------------------------------------------------

def i32_const(e: FunctionEmitter, value: int) -> None:
    e.stack.append(str(signed(value, 32)))


def i64_const(e: FunctionEmitter, value: int) -> None:
    name = e.fresh("%l")
    e.out.append(f"  {name} = add i64 0, {signed(value, 64)}")
    e.stack.append(name)


def _float_const(ty: str, fmt: str) -> Handler:
    bits_ty = "i32" if ty == "float" else "i64"
    width = BITS[ty]
    raw = "<I" if ty == "float" else "<Q"

    def handle(e: FunctionEmitter, bits: int) -> None:
        name = e.fresh(PREFIX[ty])
        e.out.append(f"  {name} = bitcast {bits_ty} {signed(bits, width)} to {ty}")
        (e.float_consts[name],) = struct.unpack(fmt, struct.pack(raw, bits))
        e.stack.append(name)
    return handle


def _binary(ty: str, instruction: str) -> Handler:
    prefix = PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        stack = e.stack
        b = stack.pop()
        a = stack.pop()
        e.n += 1
        name = f"{prefix}{e.n}"
        e.out.append(f"  {name} = {instruction} {ty} {a}, {b}")
        stack.append(name)
    return handle


def _shift(ty: str, instruction: str) -> Handler:
    prefix = PREFIX[ty]
    mask = BITS[ty] - 1

    def handle(e: FunctionEmitter, imm: Any) -> None:
        stack = e.stack
        b = stack.pop()
        a = stack.pop()
        n = e.fresh("")
        if b[0] == "%":
            e.out.append(f"  %x{n} = and {ty} {b}, {mask}")
            b = f"%x{n}"
        else:
            b = str(int(b) & mask)
        e.out.append(f"  {prefix}{n} = {instruction} {ty} {a}, {b}")
        stack.append(f"{prefix}{n}")
    return handle


def _compare(ty: str, predicate: str) -> Handler:
    def handle(e: FunctionEmitter, imm: Any) -> None:
        stack = e.stack
        b = stack.pop()
        a = stack.pop()
        e.push_bool(f"icmp {predicate} {ty} {a}, {b}")
    return handle


def _eqz(ty: str) -> Handler:
    def handle(e: FunctionEmitter, imm: Any) -> None:
        e.push_bool(f"icmp eq {ty} {e.stack.pop()}, 0")
    return handle


def _division(ty: str, instruction: str) -> Handler:
    """Divisions and remainders with wasm's traps (``ir/legalize``'s ``sdiv``/``srem``/
    ``unsigned_div``): a zero divisor, ``MIN / -1``; ``MIN rem -1`` is 0."""
    prefix = PREFIX[ty]
    bits = BITS[ty]
    minimum = -(1 << (bits - 1))

    def handle(e: FunctionEmitter, imm: Any) -> None:
        stack = e.stack
        b = stack.pop()
        a = stack.pop()
        out = e.out
        n = e.fresh("")
        constant = None if b[0] == "%" else int(b)
        if constant is None or constant == 0:
            out.append(f"  %xz{n} = icmp eq {ty} {b}, 0")
            e.trap_if(f"%xz{n}", TrapCode.INTEGER_DIVISION_BY_ZERO)
        if instruction == "sdiv" and (constant is None or constant == -1):
            out.append(f"  %xa{n} = icmp eq {ty} {a}, {minimum}")
            out.append(f"  %xb{n} = icmp eq {ty} {b}, -1")
            out.append(f"  %xo{n} = and i1 %xa{n}, %xb{n}")
            e.trap_if(f"%xo{n}", TrapCode.INTEGER_OVERFLOW)
        if instruction == "srem" and constant is None:
            out.append(f"  %xm{n} = icmp eq {ty} {b}, -1")
            out.append(f"  %xs{n} = select i1 %xm{n}, {ty} 1, {ty} {b}")
            b = f"%xs{n}"
        elif instruction == "srem" and constant == -1:
            b = "1"
        out.append(f"  {prefix}{n} = {instruction} {ty} {a}, {b}")
        stack.append(f"{prefix}{n}")
    return handle


def _unary_intrinsic(ty: str, base: str, extra: str = "") -> Handler:
    prefix = PREFIX[ty]
    params = f"{ty}, i1" if extra else ty

    def handle(e: FunctionEmitter, imm: Any) -> None:
        fn = e.intrinsic(f"llvm.{base}.{SUFFIX[ty]}", ty, params)
        a = e.stack.pop()
        name = e.fresh(prefix)
        e.out.append(f"  {name} = call {ty} {fn}({ty} {a}{extra})")
        e.stack.append(name)
    return handle


def _rotate(ty: str, base: str) -> Handler:
    prefix = PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        fn = e.intrinsic(f"llvm.{base}.{SUFFIX[ty]}", ty, f"{ty}, {ty}, {ty}")
        b = e.stack.pop()
        a = e.stack.pop()
        name = e.fresh(prefix)
        e.out.append(f"  {name} = call {ty} {fn}({ty} {a}, {ty} {a}, {ty} {b})")
        e.stack.append(name)
    return handle


def _convert(src: str, dst: str, instruction: str) -> Handler:
    prefix = PREFIX[dst]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        a = e.stack.pop()
        name = e.fresh(prefix)
        e.out.append(f"  {name} = {instruction} {src} {a} to {dst}")
        e.stack.append(name)
    return handle


def _extend_narrow(ty: str, bits: int) -> Handler:
    prefix = PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        a = e.stack.pop()
        n = e.fresh("")
        e.out.append(f"  %x{n} = trunc {ty} {a} to i{bits}")
        e.out.append(f"  {prefix}{n} = sext i{bits} %x{n} to {ty}")
        e.stack.append(f"{prefix}{n}")
    return handle


def _float_binary(ty: str, instruction: str) -> Handler:
    """fadd/fsub/fmul/fdiv; with an identity constant operand LLVM may fold the
    operation away and let a signalling NaN through, so the result is canonicalized
    then (``jit/lower.py``'s ``float_binary``)."""
    prefix = PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        stack = e.stack
        b = stack.pop()
        a = stack.pop()
        name = e.fresh(prefix)
        consts = e.float_consts
        folds = False
        if b in consts:
            value = consts[b]
            folds = (instruction in ("fmul", "fdiv") and value in (1.0, -1.0)) or \
                (instruction in ("fadd", "fsub") and value == 0.0)
        if a in consts and not folds:
            value = consts[a]
            folds = (instruction == "fmul" and value in (1.0, -1.0)) or \
                (instruction in ("fadd", "fsub") and value == 0.0)
        if folds:
            fn = e.intrinsic(f"llvm.canonicalize.{SUFFIX[ty]}", ty, ty)
            e.out.append(f"  {name}.r = {instruction} {ty} {a}, {b}")
            e.out.append(f"  {name} = call {ty} {fn}({ty} {name}.r)")
        else:
            e.out.append(f"  {name} = {instruction} {ty} {a}, {b}")
        stack.append(name)
    return handle


def _min_max(ty: str, base: str) -> Handler:
    prefix = PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        fn = e.intrinsic(f"llvm.{base}.{SUFFIX[ty]}", ty, f"{ty}, {ty}")
        b = e.stack.pop()
        a = e.stack.pop()
        name = e.fresh(prefix)
        out = e.out
        out.append(f"  {name}.m = call {ty} {fn}({ty} {a}, {ty} {b})")
        out.append(f"  {name}.u = fcmp uno {ty} {a}, {b}")
        out.append(f"  {name}.q = fadd {ty} {a}, {b}")
        out.append(f"  {name} = select i1 {name}.u, {ty} {name}.q, {ty} {name}.m")
        e.stack.append(name)
    return handle


def _fcompare(ty: str, predicate: str) -> Handler:
    def handle(e: FunctionEmitter, imm: Any) -> None:
        b = e.stack.pop()
        a = e.stack.pop()
        e.push_bool(f"fcmp {predicate} {ty} {a}, {b}")
    return handle


def _fneg(ty: str) -> Handler:
    prefix = PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        name = e.fresh(prefix)
        e.out.append(f"  {name} = fneg {ty} {e.stack.pop()}")
        e.stack.append(name)
    return handle


def _copysign(ty: str) -> Handler:
    prefix = PREFIX[ty]

    def handle(e: FunctionEmitter, imm: Any) -> None:
        fn = e.intrinsic(f"llvm.copysign.{SUFFIX[ty]}", ty, f"{ty}, {ty}")
        b = e.stack.pop()
        a = e.stack.pop()
        name = e.fresh(prefix)
        e.out.append(f"  {name} = call {ty} {fn}({ty} {a}, {ty} {b})")
        e.stack.append(name)
    return handle


def promote(e: FunctionEmitter, imm: Any) -> None:
    name = e.fresh("%d")
    e.out.append(f"  {name} = fpext float {e.stack.pop()} to double")
    e.promoted.add(name)
    e.stack.append(name)


def demote(e: FunctionEmitter, imm: Any) -> None:
    a = e.stack.pop()
    name = e.fresh("%f")
    if a in e.promoted:
        # LLVM folds demote(promote(x)) to x, passing a signalling NaN through.
        fn = e.intrinsic("llvm.canonicalize.f32", "float", "float")
        e.out.append(f"  {name}.r = fptrunc double {a} to float")
        e.out.append(f"  {name} = call float {fn}(float {name}.r)")
    else:
        e.out.append(f"  {name} = fptrunc double {a} to float")
    e.stack.append(name)


def _saturating(src: str, dst: str, signed: bool) -> Handler:
    prefix = PREFIX[dst]
    base = "fptosi" if signed else "fptoui"

    def handle(e: FunctionEmitter, imm: Any) -> None:
        fn = e.intrinsic(f"llvm.{base}.sat.{SUFFIX[dst]}.{SUFFIX[src]}", dst, src)
        name = e.fresh(prefix)
        e.out.append(f"  {name} = call {dst} {fn}({src} {e.stack.pop()})")
        e.stack.append(name)
    return handle


def _trapping_truncation(src: str, dst: str, signed: bool) -> Handler:
    """A float to integer truncation that traps on NaN (bad conversion) and on a value
    whose truncation is out of range (integer overflow)."""
    prefix = PREFIX[dst]
    bits = BITS[dst]
    if signed:
        low = -float(1 << (bits - 1)) - 1.0
        fmt = "<f" if src == "float" else "<d"
        exact = struct.unpack(fmt, struct.pack(fmt, low))[0] == low and \
            low == -(1 << (bits - 1)) - 1
        low_test = f"fcmp ogt {src} %A, {double_literal(low)}" if exact else \
            f"fcmp oge {src} %A, {double_literal(-float(1 << (bits - 1)))}"
        high = float(1 << (bits - 1))
        instruction = "fptosi"
    else:
        low_test = f"fcmp ogt {src} %A, {double_literal(-1.0)}"
        high = float(1 << bits)
        instruction = "fptoui"
    high_test = f"fcmp olt {src} %A, {double_literal(high)}"

    def handle(e: FunctionEmitter, imm: Any) -> None:
        a = e.stack.pop()
        n = e.fresh("")
        out = e.out
        out.append(f"  %xu{n} = fcmp uno {src} {a}, {a}")
        e.trap_if(f"%xu{n}", TrapCode.BAD_CONVERSION_TO_INTEGER)
        out.append(f"  %xl{n} = {low_test.replace('%A', a)}")
        out.append(f"  %xh{n} = {high_test.replace('%A', a)}")
        out.append(f"  %xi{n} = and i1 %xl{n}, %xh{n}")
        out.append(f"  %xo{n} = xor i1 %xi{n}, true")
        e.trap_if(f"%xo{n}", TrapCode.INTEGER_OVERFLOW)
        out.append(f"  {prefix}{n} = {instruction} {src} {a} to {dst}")
        e.stack.append(f"{prefix}{n}")
    return handle


def _table() -> dict[int, Handler]:
    h: dict[int, Handler] = {
        op.I32_CONST: i32_const, op.I64_CONST: i64_const,
        op.F32_CONST: _float_const("float", "<f"), op.F64_CONST: _float_const("double", "<d"),
        op.F64_PROMOTE_F32: promote, op.F32_DEMOTE_F64: demote,
    }
    for ty, p in (("i32", "I32_"), ("i64", "I64_")):
        def o(name: str, p: str = p) -> int:
            return int(getattr(op, p + name))
        for name, instruction in (("ADD", "add"), ("SUB", "sub"), ("MUL", "mul"),
                                  ("AND", "and"), ("OR", "or"), ("XOR", "xor")):
            h[o(name)] = _binary(ty, instruction)
        for name, instruction in (("SHL", "shl"), ("SHR_S", "ashr"), ("SHR_U", "lshr")):
            h[o(name)] = _shift(ty, instruction)
        for name, instruction in (("DIV_S", "sdiv"), ("DIV_U", "udiv"), ("REM_S", "srem"),
                                  ("REM_U", "urem")):
            h[o(name)] = _division(ty, instruction)
        for name, predicate in (("EQ", "eq"), ("NE", "ne"), ("LT_S", "slt"), ("LT_U", "ult"),
                                ("GT_S", "sgt"), ("GT_U", "ugt"), ("LE_S", "sle"),
                                ("LE_U", "ule"), ("GE_S", "sge"), ("GE_U", "uge")):
            h[o(name)] = _compare(ty, predicate)
        h[o("EQZ")] = _eqz(ty)
        h[o("CLZ")] = _unary_intrinsic(ty, "ctlz", ", i1 false")
        h[o("CTZ")] = _unary_intrinsic(ty, "cttz", ", i1 false")
        h[o("POPCNT")] = _unary_intrinsic(ty, "ctpop")
        h[o("ROTL")] = _rotate(ty, "fshl")
        h[o("ROTR")] = _rotate(ty, "fshr")
        h[o("EXTEND8_S")] = _extend_narrow(ty, 8)
        h[o("EXTEND16_S")] = _extend_narrow(ty, 16)
    h[op.I64_EXTEND32_S] = _extend_narrow("i64", 32)
    h[op.I32_WRAP_I64] = _convert("i64", "i32", "trunc")
    h[op.I64_EXTEND_I32_S] = _convert("i32", "i64", "sext")
    h[op.I64_EXTEND_I32_U] = _convert("i32", "i64", "zext")
    h[op.I32_REINTERPRET_F32] = _convert("float", "i32", "bitcast")
    h[op.I64_REINTERPRET_F64] = _convert("double", "i64", "bitcast")
    h[op.F32_REINTERPRET_I32] = _convert("i32", "float", "bitcast")
    h[op.F64_REINTERPRET_I64] = _convert("i64", "double", "bitcast")
    for ty, p in (("float", "F32_"), ("double", "F64_")):
        def f(name: str, p: str = p) -> int:
            return int(getattr(op, p + name))
        for name, instruction in (("ADD", "fadd"), ("SUB", "fsub"), ("MUL", "fmul"),
                                  ("DIV", "fdiv")):
            h[f(name)] = _float_binary(ty, instruction)
        h[f("MIN")] = _min_max(ty, "minimum")
        h[f("MAX")] = _min_max(ty, "maximum")
        for name, predicate in (("EQ", "oeq"), ("NE", "une"), ("LT", "olt"), ("GT", "ogt"),
                                ("LE", "ole"), ("GE", "oge")):
            h[f(name)] = _fcompare(ty, predicate)
        for name, base in (("ABS", "fabs"), ("SQRT", "sqrt"), ("CEIL", "ceil"),
                           ("FLOOR", "floor"), ("TRUNC", "trunc"), ("NEAREST", "roundeven")):
            h[f(name)] = _unary_intrinsic(ty, base)
        h[f("NEG")] = _fneg(ty)
        h[f("COPYSIGN")] = _copysign(ty)
        for src_name, src in (("I32", "i32"), ("I64", "i64")):
            h[f(f"CONVERT_{src_name}_S")] = _convert(src, ty, "sitofp")
            h[f(f"CONVERT_{src_name}_U")] = _convert(src, ty, "uitofp")
    for dst_name, dst in (("I32", "i32"), ("I64", "i64")):
        for src_name, src in (("F32", "float"), ("F64", "double")):
            for sign, is_signed in (("S", True), ("U", False)):
                h[getattr(op, f"{dst_name}_TRUNC_{src_name}_{sign}")] = \
                    _trapping_truncation(src, dst, is_signed)
                h[getattr(op, f"{dst_name}_TRUNC_SAT_{src_name}_{sign}")] = \
                    _saturating(src, dst, is_signed)
    return h


HANDLERS: dict[int, Handler] = _table()
"""This module's part of the dispatch table (``emitter.HANDLERS``)."""
