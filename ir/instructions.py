"""The IR instruction set: each opcode's text format, typing rule and properties.

``format`` fixes how an instruction's operands and immediates are written (see
``printer`` and ``parser``); ``rule`` names the typing rule the verifier and the result
type inference apply (see ``typing``); ``ctrl`` says the text names a controlling type
after a dot (``iconst.i32``), used when the result type does not follow from the operands.
"""

from __future__ import annotations

from dataclasses import dataclass


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


def _add(names: str, format: str, rule: str, **kw: object) -> None:
    for name in names.split():
        _SPECS.append(OpSpec(name, format, rule, **kw))  # type: ignore[arg-type]


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

OPCODES: dict[str, OpSpec] = {spec.name: spec for spec in _SPECS}
"""Every opcode's OpSpec, keyed by name."""


def spec(opcode: str) -> OpSpec:
    """The OpSpec of an opcode name; KeyError for unknown names."""
    return OPCODES[opcode]
