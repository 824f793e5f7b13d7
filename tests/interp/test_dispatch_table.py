"""The interpreter's dispatch is spelled out: the compiler's handler table covers every
instruction the interpreter runs, and the run loop's literal opcodes match their names."""

from __future__ import annotations

import ast
import inspect
import re

from pyjitwasm.interp import code as C
from pyjitwasm.interp import compile as interp_compile
from pyjitwasm.interp import machine
from pyjitwasm.interp.memops import MISC_HANDLERS
from pyjitwasm.interp.numeric import BINARY, UNARY
from pyjitwasm.interp.simd_compile import SIMD_HANDLERS
from pyjitwasm.wasm import opcodes as op


def test_every_opcode_has_a_compile_handler():
    # The interpreter runs every instruction, the vector ones (0xFD prefix) included.
    assert set(interp_compile._HANDLERS) == set(op.OPS)
    vector = {code for code in op.OPS if code & ~0xFFF == op.FD}
    assert all(interp_compile._HANDLERS[code] is SIMD_HANDLERS[code] for code in vector)


def test_families_reach_their_handlers():
    handlers = interp_compile._HANDLERS
    compiler = interp_compile._FunctionCompiler
    assert all(handlers[code] is compiler.unary for code in UNARY)
    assert all(handlers[code] is compiler.binary for code in BINARY)
    assert all(handlers[code] is compiler.misc for code in MISC_HANDLERS)
    assert handlers[op.I32_LOAD8_S] is compiler.load
    assert handlers[op.F64_STORE] is compiler.store
    assert handlers[op.BR_TABLE] is compiler.br_table


def _internal_opcodes() -> dict[str, int]:
    return {name: value for name, value in vars(C).items()
            if name.isupper() and isinstance(value, int)}


def test_internal_opcodes_are_distinct():
    values = list(_internal_opcodes().values())
    assert len(values) == len(set(values))


def test_run_loop_literals_match_their_comments():
    """Every ``op == N`` test in the run loop carries the internal opcodes' names in its
    line's comment (or the comment line just above it)."""
    source, first_line = inspect.getsourcelines(machine._run)
    tree = ast.parse(inspect.getsource(machine._run))
    names = _internal_opcodes()
    tested: dict[int, set[int]] = {}
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Name)
            and node.left.id == "op"
            and isinstance(node.ops[0], ast.Eq)
            and isinstance(node.comparators[0], ast.Constant)
        ):
            tested.setdefault(node.lineno - 1, set()).add(node.comparators[0].value)
    assert tested
    seen: set[int] = set()
    for index, literals in tested.items():
        line = source[index]
        comment = line.partition("#")[2] if "#" in line else source[index - 1].strip()[1:]
        words = re.findall(r"[A-Z][A-Z0-9_]+", comment)
        assert words, f"no opcode names in the comment of: {line.strip()}"
        assert {names[word] for word in words} == literals, line.strip()
        seen |= literals
    # Every internal opcode the compiler can emit is handled by the loop.
    assert seen == set(names.values())
