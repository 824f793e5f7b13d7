"""SIMD memory instructions for the interpreter: v128 loads and stores in every form.

Whole-vector, extending, splat and zero loads and ``v128.store`` are ``reader(buffer,
address)`` / ``writer(buffer, address, value)`` functions run by the interpreter's
LOADX/STOREX (LOADN/STOREN for other memories), so ``struct`` does the bounds check on
the full access, like the scalar ones (``memops``). Lane loads and stores take a vector
and an address, so they run as MISC handlers that trap by themselves. Alignment hints
never matter: every access is unaligned-safe.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from struct import Struct
from typing import Any

from pyjitwasm.interp.simd import I16S, I16U, I32S, I32U, I64S, I64U, pack
from pyjitwasm.runtime.errors import Trap
from pyjitwasm.runtime.instance import ModuleInstance
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.traps import TrapCode

_M64 = (1 << 64) - 1
_QQ = Struct("<QQ")
_B, _H, _I, _Q = Struct("<B"), Struct("<H"), Struct("<I"), Struct("<Q")
_LANE_STRUCTS = {1: _B, 2: _H, 4: _I, 8: _Q}


def v128_load(buf: Any, addr: int) -> int:
    lo, hi = _QQ.unpack_from(buf, addr)
    return lo | (hi << 64)


def v128_store(buf: Any, addr: int, v: int) -> None:
    _QQ.pack_into(buf, addr, v & _M64, v >> 64)


def _extending(half: Struct, wide: Struct) -> Callable[[Any, int], int]:
    """An 8-byte load whose lanes widen (sign or zero by the views) to twice their size."""

    def read(buf: Any, addr: int) -> int:
        return pack(wide, half.unpack_from(buf, addr))

    return read


def _splat(view: Struct, width: int) -> Callable[[Any, int], int]:
    rep = sum(1 << (i * width) for i in range(128 // width))

    def read(buf: Any, addr: int) -> int:
        return view.unpack_from(buf, addr)[0] * rep

    return read


def _zero(view: Struct) -> Callable[[Any, int], int]:
    def read(buf: Any, addr: int) -> int:
        return view.unpack_from(buf, addr)[0]

    return read


SIMD_LOADS: dict[int, Callable[[Any, int], int]] = {
    op.V128_LOAD: v128_load,
    op.V128_LOAD8X8_S: _extending(Struct("<8b"), I16S),
    op.V128_LOAD8X8_U: _extending(Struct("<8B"), I16U),
    op.V128_LOAD16X4_S: _extending(Struct("<4h"), I32S),
    op.V128_LOAD16X4_U: _extending(Struct("<4H"), I32U),
    op.V128_LOAD32X2_S: _extending(Struct("<2i"), I64S),
    op.V128_LOAD32X2_U: _extending(Struct("<2I"), I64U),
    op.V128_LOAD8_SPLAT: _splat(_B, 8),
    op.V128_LOAD16_SPLAT: _splat(_H, 16),
    op.V128_LOAD32_SPLAT: _splat(_I, 32),
    op.V128_LOAD64_SPLAT: _splat(_Q, 64),
    op.V128_LOAD32_ZERO: _zero(_I),
    op.V128_LOAD64_ZERO: _zero(_Q),
}
"""Opcode -> ``reader(buffer, address) -> v128`` (the address includes the offset)."""

SIMD_STORES: dict[int, Callable[[Any, int, int], None]] = {
    op.V128_STORE: v128_store,
}
"""Opcode -> ``writer(buffer, address, v128)``."""

_MiscHandler = Callable[[list[Any], ModuleInstance, Any], None]


def load_lane(code: int, memory: int, offset: int, lane: int) -> _MiscHandler:
    """The MISC handler of a ``v128.loadN_lane``: [address, vector] -> vector."""
    size = op.OPS[code].access_size
    view = _LANE_STRUCTS[size]
    shift = lane * size * 8
    keep = ((1 << 128) - 1) ^ (((1 << (size * 8)) - 1) << shift)

    def run(stack: list[Any], inst: ModuleInstance, imm: Any) -> None:
        v = stack.pop()
        try:
            x = view.unpack_from(inst.memories[memory].data, stack[-1] + offset)[0]
        except (struct.error, OverflowError):
            raise Trap(TrapCode.MEMORY_OUT_OF_BOUNDS) from None
        stack[-1] = (v & keep) | (x << shift)

    return run


def store_lane(code: int, memory: int, offset: int, lane: int) -> _MiscHandler:
    """The MISC handler of a ``v128.storeN_lane``: [address, vector] -> []."""
    size = op.OPS[code].access_size
    view = _LANE_STRUCTS[size]
    shift = lane * size * 8
    lane_mask = (1 << (size * 8)) - 1

    def run(stack: list[Any], inst: ModuleInstance, imm: Any) -> None:
        v = stack.pop()
        addr = stack.pop()
        try:
            view.pack_into(inst.memories[memory].data, addr + offset, (v >> shift) & lane_mask)
        except (struct.error, OverflowError):
            raise Trap(TrapCode.MEMORY_OUT_OF_BOUNDS) from None

    return run


LANE_LOADS = frozenset({op.V128_LOAD8_LANE, op.V128_LOAD16_LANE, op.V128_LOAD32_LANE,
                        op.V128_LOAD64_LANE})
LANE_STORES = frozenset({op.V128_STORE8_LANE, op.V128_STORE16_LANE, op.V128_STORE32_LANE,
                         op.V128_STORE64_LANE})
