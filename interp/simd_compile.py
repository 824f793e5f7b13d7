"""How the interpreter's compiler turns each SIMD instruction into compact-form entries.

``SIMD_HANDLERS`` maps every 0xFD opcode (relaxed SIMD included) to a handler called like
the ``_FunctionCompiler`` methods in ``compile``: ``handler(compiler, opcode, imm)``. Each
emits entries the dispatch loop already knows (CONST, UN, BIN, LOADX/STOREX, LOADN/STOREN,
MISC) and keeps ``compiler.height`` in step, so SIMD needs no new interpreter opcode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from pyjitwasm.interp import code as C
from pyjitwasm.interp.relaxed_simd import RELAXED_BINARY, RELAXED_TERNARY, RELAXED_UNARY
from pyjitwasm.interp.simd import BINARY, EXTRACT_LANE, REPLACE_LANE, TERNARY, UNARY, shuffle
from pyjitwasm.interp.simd_memops import (
    LANE_LOADS,
    LANE_STORES,
    SIMD_LOADS,
    SIMD_STORES,
    load_lane,
    store_lane,
)
from pyjitwasm.runtime.instance import ModuleInstance
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.opcodes import MemArg


class Compiler(Protocol):
    """What a handler uses of the function compiler."""

    height: int

    def emit(self, code: int, a: Any = None, b: Any = None) -> list[Any]: ...


_UNARY = {**UNARY, **RELAXED_UNARY}
_BINARY = {**BINARY, **RELAXED_BINARY}
_TERNARY = {**TERNARY, **RELAXED_TERNARY}


def _ternary_runner(fn: Callable[[int, int, int], int]) -> Callable[..., None]:
    def run(stack: list[Any], inst: ModuleInstance, imm: Any) -> None:
        z = stack.pop()
        y = stack.pop()
        stack[-1] = fn(stack[-1], y, z)

    return run


_TERNARY_RUNNERS = {code: _ternary_runner(fn) for code, fn in _TERNARY.items()}


def v128_const(c: Compiler, code: int, value: int) -> None:
    c.emit(C.CONST, value)
    c.height += 1


def unary(c: Compiler, code: int, imm: None) -> None:
    c.emit(C.UN, _UNARY[code])


def binary(c: Compiler, code: int, imm: None) -> None:
    c.emit(C.BIN, _BINARY[code])
    c.height -= 1


def ternary(c: Compiler, code: int, imm: None) -> None:
    c.emit(C.MISC, _TERNARY_RUNNERS[code])
    c.height -= 2


def i8x16_shuffle(c: Compiler, code: int, indices: bytes) -> None:
    c.emit(C.BIN, shuffle(indices))
    c.height -= 1


def extract_lane(c: Compiler, code: int, lane: int) -> None:
    c.emit(C.UN, EXTRACT_LANE[code](lane))


def replace_lane(c: Compiler, code: int, lane: int) -> None:
    c.emit(C.BIN, REPLACE_LANE[code](lane))
    c.height -= 1


def load(c: Compiler, code: int, memarg: MemArg) -> None:
    read = SIMD_LOADS[code]
    if memarg.memory == 0:
        c.emit(C.LOADX, read, memarg.offset)
    else:
        c.emit(C.LOADN, (read, memarg.memory), memarg.offset)


def store(c: Compiler, code: int, memarg: MemArg) -> None:
    write = SIMD_STORES[code]
    if memarg.memory == 0:
        c.emit(C.STOREX, write, memarg.offset)
    else:
        c.emit(C.STOREN, (write, memarg.memory), memarg.offset)
    c.height -= 2


def lane_load(c: Compiler, code: int, imm: tuple[MemArg, int]) -> None:
    memarg, lane = imm
    c.emit(C.MISC, load_lane(code, memarg.memory, memarg.offset, lane))
    c.height -= 1


def lane_store(c: Compiler, code: int, imm: tuple[MemArg, int]) -> None:
    memarg, lane = imm
    c.emit(C.MISC, store_lane(code, memarg.memory, memarg.offset, lane))
    c.height -= 2


Handler = Callable[[Any, int, Any], None]


def _handlers() -> dict[int, Handler]:
    table: dict[int, Handler] = {op.V128_CONST: v128_const, op.I8X16_SHUFFLE: i8x16_shuffle}
    families: list[tuple[Any, Handler]] = [
        (_UNARY, unary),
        (_BINARY, binary),
        (_TERNARY, ternary),
        (EXTRACT_LANE, extract_lane),
        (REPLACE_LANE, replace_lane),
        (SIMD_LOADS, load),
        (SIMD_STORES, store),
        (LANE_LOADS, lane_load),
        (LANE_STORES, lane_store),
    ]
    for codes, handler in families:
        for code in codes:
            assert code not in table, f"{op.OPS[code].name} has two handlers"
            table[code] = handler
    return table


SIMD_HANDLERS: dict[int, Handler] = _handlers()
"""Opcode -> ``handler(compiler, opcode, imm)`` for every SIMD instruction."""
