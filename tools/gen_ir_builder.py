"""Generate ``ir/builder.py``: one typed builder method per IR opcode.

The opcode table in ``ir/instructions.py`` is the single source: each opcode's format
decides the method's parameters and the instruction data it builds, and its properties
decide what the method returns (the one result, the instruction, or a call's results).
The generated file is checked in, so readers, IDEs and type checkers see every method;
``tests/ir/test_ir_builder_generated.py`` regenerates it and compares.

    .venv/bin/python tools/gen_ir_builder.py          # rewrite ir/builder.py
    .venv/bin/python tools/gen_ir_builder.py --check  # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from pyjitwasm.ir.instructions import FORMATS, OPCODES, OpSpec

LINE_LIMIT = 100
ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "ir" / "builder.py"


@dataclass(frozen=True)
class Template:
    """How a format's builder method looks: its parameters (after ``self``) and the
    expression that builds the instruction data (``{op}``: the opcode's name, as a
    string literal)."""

    params: str
    data: str


# Each format's method: parameters and instruction data. Formats whose opcodes name a
# controlling type take it first, as ``ty``.
TEMPLATES: dict[str, Template] = {
    "unary_imm": Template("ty: Type, imm: int", "UnaryImm({op}, ty, imm & ((1 << ty.bits) - 1))"),
    "ieee32": Template("bits: int", "UnaryIeee32({op}, bits)"),
    "ieee64": Template("bits: int", "UnaryIeee64({op}, bits)"),
    "vconst": Template("ty: Type, value: int", "UnaryConst({op}, ty, value)"),
    "nullary": Template("ty: Type", "Nullary({op}, ty)"),
    "unary": Template("arg: Value", "Unary({op}, None, arg)"),
    "unary.ctrl": Template("ty: Type, arg: Value", "Unary({op}, ty, arg)"),
    "binary": Template("a: Value, b: Value", "Binary({op}, (a, b))"),
    "binary_imm": Template("arg: Value, imm: int", "BinaryImm({op}, arg, imm)"),
    "ternary": Template("cond: Value, a: Value, b: Value", "Ternary({op}, (cond, a, b))"),
    # Ternary opcodes other than ``select`` take three operands of one kind (``fma``).
    "ternary.operands": Template("a: Value, b: Value, c: Value", "Ternary({op}, (a, b, c))"),
    "multiary": Template("values: Sequence[Value] = ()", "MultiAry({op}, tuple(values))"),
    "int_compare": Template("cond: str, a: Value, b: Value", "IntCompare({op}, cond, (a, b))"),
    "int_compare_imm": Template("cond: str, arg: Value, imm: int",
                                "IntCompareImm({op}, cond, arg, imm)"),
    "float_compare": Template("cond: str, a: Value, b: Value",
                              "FloatCompare({op}, cond, (a, b))"),
    "int_add_trap": Template("a: Value, b: Value, code: TrapCode",
                             "IntAddTrap({op}, (a, b), code)"),
    "load": Template("ty: Type, flags: MemFlags, address: Value, offset: int = 0",
                     "Load({op}, ty, flags, address, offset)"),
    "store": Template("flags: MemFlags, value: Value, address: Value, offset: int = 0",
                      "Store({op}, flags, value, address, offset)"),
    "heap_addr": Template("heap: Heap, index: Value, offset: int, size: int",
                          "HeapAddr({op}, POINTER, heap, index, offset, size)"),
    "table_addr": Template("table: Table, index: Value, offset: int = 0",
                           "TableAddr({op}, POINTER, table, index, offset)"),
    "global_value": Template("gv: GlobalValue",
                             "UnaryGlobalValue({op}, self.func.global_values[gv].type, gv)"),
    "func_addr": Template("fn: FuncRef", "FuncAddr({op}, POINTER, fn)"),
    "memmove": Template("dst: Value, src: Value, size: Value", "MemMove({op}, dst, src, size)"),
    "memset": Template("dst: Value, byte: Value, size: Value", "MemSet({op}, dst, byte, size)"),
    "call": Template("fn: FuncRef, args: Sequence[Value]", "Call({op}, fn, tuple(args))"),
    "call_indirect": Template("sig: SigRef, callee: Value, args: Sequence[Value]",
                              "CallIndirect({op}, sig, callee, tuple(args))"),
    "jump": Template("block: Block, args: Sequence[Value] = ()",
                     "Jump({op}, BlockCall(block, tuple(args)))"),
    "brif": Template("cond: Value, then_block: Block, then_args: Sequence[Value], "
                     "else_block: Block, else_args: Sequence[Value]",
                     "Brif({op}, cond, BlockCall(then_block, tuple(then_args)), "
                     "BlockCall(else_block, tuple(else_args)))"),
    "br_table": Template("index: Value, default: Block, table: Sequence[Block]",
                         "BrTable({op}, index, BlockCall(default), tuple(table))"),
    "trap": Template("code: TrapCode", "Trap({op}, code)"),
    "cond_trap": Template("cond: Value, code: TrapCode", "CondTrap({op}, cond, code)"),
    "insert_lane": Template("vector: Value, lane_value: Value, lane: int",
                            "InsertLane({op}, (vector, lane_value), lane)"),
    "shuffle": Template("a: Value, b: Value, mask: Sequence[int]",
                        "Shuffle({op}, (a, b), tuple(mask))"),
}

# Formats that several opcodes share get a generic method taking the opcode as well
# (``cur.binary("iadd", a, b)``), for callers that map their own opcodes through a table.
GENERIC: dict[str, str] = {
    "unary": ("    def unary(self, opcode: str, arg: Value, ty: Type | None = None) -> Value:\n"
              '        """Any ``unary``-format opcode; ``ty`` for those with a controlling '
              'type."""\n'
              "        return self.value(Unary(opcode, ty, arg))\n"),
    "binary": ("    def binary(self, opcode: str, a: Value, b: Value) -> Value:\n"
               '        """Any ``binary``-format opcode."""\n'
               "        return self.value(Binary(opcode, (a, b)))\n"),
    "binary_imm": ("    def binary_imm(self, opcode: str, arg: Value, imm: int) -> Value:\n"
                   '        """Any ``binary_imm``-format opcode."""\n'
                   "        return self.value(BinaryImm(opcode, arg, imm))\n"),
}

# The load and store methods also build their sized variants, named by ``opcode``.
SIZED_OPTION = {"load", "store"}

HEADER = '''"""Builder methods, one per IR opcode: GENERATED by tools/gen_ir_builder.py from the
opcode table in ir/instructions.py. Do not edit; change the table or the generator and
run ``python tools/gen_ir_builder.py``.

``InstBuilder`` builds each instruction's data and hands it to ``ins``/``value``/
``results``, which ``Cursor`` (``ir/cursor.py``) implements: insert at the cursor, give
the results their types.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyjitwasm.ir.entities import (
    Block,
    FuncRef,
    GlobalValue,
    Heap,
    Inst,
    SigRef,
    Table,
    Value,
)
from pyjitwasm.ir.function import Function
from pyjitwasm.ir.immediates import MemFlags
from pyjitwasm.ir.instructions import (
{imports}
)
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import POINTER, Type


class InstBuilder:
    """Inserts instructions by opcode: ``b.iadd(x, y)``, ``b.uextend(I64, x)``,
    ``b.iconst(I32, 5)``. Methods of opcodes with one result return it, calls return
    their results, and the others (stores, branches, traps, tail calls) the
    instruction."""

    func: Function

    def ins(self, data: InstructionData) -> Inst:
        """Insert ``data``; the subclass decides where."""
        raise NotImplementedError

    def value(self, data: InstructionData) -> Value:
        """Insert an instruction with one result and return that result."""
        raise NotImplementedError

    def results(self, data: InstructionData) -> list[Value]:
        """Insert an instruction and return its results."""
        raise NotImplementedError
'''


def method_name(opcode: str) -> str:
    """The Python name of an opcode's method (``return`` is a keyword)."""
    return opcode + "_" if opcode == "return" else opcode


def returns(info: OpSpec) -> tuple[str, str]:
    """(annotation, inserting method) of an opcode's builder method."""
    if info.terminator or info.format in ("store", "memmove", "memset", "trap", "cond_trap"):
        return "Inst", "ins"
    if info.format in ("call", "call_indirect"):
        return "list[Value]", "results"
    return "Value", "value"


def template(info: OpSpec) -> Template:
    if info.format == "unary" and info.ctrl:
        return TEMPLATES["unary.ctrl"]
    if info.format == "ternary" and info.rule == "float_ternary":
        return TEMPLATES["ternary.operands"]
    return TEMPLATES[info.format]


def method(info: OpSpec) -> str:
    tpl = template(info)
    annotation, insert = returns(info)
    params = tpl.params
    op = repr(info.name).replace("'", '"')
    if info.format in SIZED_OPTION and info.name == info.format:
        params += f", opcode: str = {op}"
        op = "opcode"
    data = tpl.data.format(op=op)
    doc = f"``{info.name}`` ({info.format} format, {info.rule} typing rule)."
    if info.format in SIZED_OPTION and info.name == info.format:
        doc = (f"``{info.name}``, or the sized variant ``opcode`` ({info.format} format).")
    return (wrap(f"    def {method_name(info.name)}(self, {params}) -> {annotation}:")
            + f'        """{doc}"""\n'
            + wrap(f"        return self.{insert}({data})"))


def wrap(line: str) -> str:
    """``line`` and a newline, broken after a comma inside its first parenthesis (and
    continued under the character after it) when longer than the line limit."""
    if len(line) <= LINE_LIMIT:
        return line + "\n"
    indent = " " * (line.index("(") + 1)
    cut = line.rindex(", ", 0, LINE_LIMIT - 1) + 1
    return line[:cut] + "\n" + wrap(indent + line[cut + 1:])


def render() -> str:
    """The text of ``ir/builder.py``."""
    classes = sorted({FORMATS[info.format].__name__ for info in OPCODES.values()}
                     | {"BlockCall", "InstructionData"}, key=str.lower)
    parts = [HEADER.replace("{imports}", "\n".join(f"    {name}," for name in classes))]
    for text in GENERIC.values():
        parts.append("\n" + text)
    for info in OPCODES.values():
        parts.append("\n" + method(info))
    return "".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare; exit status 1 when ir/builder.py is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if TARGET.read_text() != text:
            print(f"{TARGET} is out of date: run python tools/gen_ir_builder.py",
                  file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
