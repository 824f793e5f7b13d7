"""Readers and writers for memory instructions, and the rarely executed instructions
(bulk memory, tables, references) as ``fn(frame, instance, imm)`` handlers.

Loads and stores let ``struct`` do the bounds check: ``unpack_from``/``pack_into`` raise
``struct.error`` (or OverflowError for huge addresses) before touching the buffer, and the
interpreter turns that into an out-of-bounds trap.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from pyjitwasm.runtime.errors import Trap
from pyjitwasm.runtime.floats import f32_from_bytes, f32_into_bytes
from pyjitwasm.runtime.instance import ModuleInstance
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.traps import TrapCode

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF

_B, _b = struct.Struct("B"), struct.Struct("b")
_H, _h = struct.Struct("<H"), struct.Struct("<h")
_I, _i = struct.Struct("<I"), struct.Struct("<i")
_Q = struct.Struct("<Q")
_D = struct.Struct("<d")

# Loads whose value is the first item of Struct.unpack_from (opcode -> unpack_from).
PLAIN_LOADS: dict[int, Callable[..., tuple[Any, ...]]] = {
    op.I32_LOAD: _I.unpack_from,
    op.I64_LOAD: _Q.unpack_from,
    op.F64_LOAD: _D.unpack_from,
    op.I32_LOAD8_U: _B.unpack_from,
    op.I32_LOAD16_U: _H.unpack_from,
    op.I64_LOAD8_U: _B.unpack_from,
    op.I64_LOAD16_U: _H.unpack_from,
    op.I64_LOAD32_U: _I.unpack_from,
}


def _signed_reader(unpack: Callable[..., tuple[int, ...]], mask: int) -> Callable[..., int]:
    def read(buf: Any, addr: int) -> int:
        return unpack(buf, addr)[0] & mask

    return read


# Loads that need work after unpacking (opcode -> reader(buffer, address) -> value).
OTHER_LOADS: dict[int, Callable[..., Any]] = {
    op.F32_LOAD: f32_from_bytes,
    op.I32_LOAD8_S: _signed_reader(_b.unpack_from, M32),
    op.I32_LOAD16_S: _signed_reader(_h.unpack_from, M32),
    op.I64_LOAD8_S: _signed_reader(_b.unpack_from, M64),
    op.I64_LOAD16_S: _signed_reader(_h.unpack_from, M64),
    op.I64_LOAD32_S: _signed_reader(_i.unpack_from, M64),
}


def _plain_reader(unpack: Callable[..., tuple[Any, ...]]) -> Callable[..., Any]:
    def read(buf: Any, addr: int) -> Any:
        return unpack(buf, addr)[0]

    return read


def reader(code: int) -> Callable[..., Any]:
    """A ``reader(buffer, address) -> value`` for any load opcode."""
    if code in PLAIN_LOADS:
        return _plain_reader(PLAIN_LOADS[code])
    return OTHER_LOADS[code]


# Stores whose value packs as is (opcode -> Struct.pack_into).
PLAIN_STORES: dict[int, Callable[..., None]] = {
    op.I32_STORE: _I.pack_into,
    op.I64_STORE: _Q.pack_into,
    op.F64_STORE: _D.pack_into,
}


def _narrow_writer(pack: Callable[..., None], mask: int) -> Callable[..., None]:
    def write(buf: Any, addr: int, value: int) -> None:
        pack(buf, addr, value & mask)

    return write


OTHER_STORES: dict[int, Callable[..., None]] = {
    op.F32_STORE: f32_into_bytes,
    op.I32_STORE8: _narrow_writer(_B.pack_into, 0xFF),
    op.I32_STORE16: _narrow_writer(_H.pack_into, 0xFFFF),
    op.I64_STORE8: _narrow_writer(_B.pack_into, 0xFF),
    op.I64_STORE16: _narrow_writer(_H.pack_into, 0xFFFF),
    op.I64_STORE32: _narrow_writer(_I.pack_into, M32),
}


def writer(code: int) -> Callable[..., None]:
    """A ``writer(buffer, address, value)`` for any store opcode."""
    return PLAIN_STORES.get(code) or OTHER_STORES[code]


# -- handlers for rarely executed instructions -------------------------------------------


def _mem_oob() -> Trap:
    return Trap(TrapCode.MEMORY_OUT_OF_BOUNDS)


def _table_oob() -> Trap:
    return Trap(TrapCode.TABLE_OUT_OF_BOUNDS)


def memory_size(stack: list[Any], inst: ModuleInstance, mem: int) -> None:
    stack.append(inst.memories[mem].pages)


def memory_grow(stack: list[Any], inst: ModuleInstance, mem: int) -> None:
    memory = inst.memories[mem]
    result = memory.grow(stack[-1])
    stack[-1] = result & (M64 if memory.type.is_64 else M32)


def _copy_range(dst_seq: Any, dst: int, src_seq: Any, src: int, n: int,
                oob: Callable[[], Exception]) -> None:
    """Copy ``n`` items after checking both ranges (the spec checks before any write).

    The right-hand slice is a copy, so overlapping ranges behave like memmove.
    """
    if src + n > len(src_seq) or dst + n > len(dst_seq):
        raise oob()
    if n:
        dst_seq[dst : dst + n] = src_seq[src : src + n]


def memory_fill(stack: list[Any], inst: ModuleInstance, mem: int) -> None:
    n = stack.pop()
    value = stack.pop()
    dst = stack.pop()
    data = inst.memories[mem].data
    if dst + n > len(data):
        raise _mem_oob()
    if n:
        data[dst : dst + n] = bytes((value & 0xFF,)) * n


def memory_copy(stack: list[Any], inst: ModuleInstance, mems: tuple[int, int]) -> None:
    n = stack.pop()
    src = stack.pop()
    dst = stack.pop()
    _copy_range(inst.memories[mems[0]].data, dst, inst.memories[mems[1]].data, src, n, _mem_oob)


def memory_init(stack: list[Any], inst: ModuleInstance, imm: tuple[int, int]) -> None:
    seg, mem = imm
    n = stack.pop()
    src = stack.pop()
    dst = stack.pop()
    _copy_range(inst.memories[mem].data, dst, inst.datas[seg], src, n, _mem_oob)


def data_drop(stack: list[Any], inst: ModuleInstance, seg: int) -> None:
    inst.datas[seg] = b""


def table_get(stack: list[Any], inst: ModuleInstance, table: int) -> None:
    elements = inst.tables[table].elements
    i = stack[-1]
    if i >= len(elements):
        raise _table_oob()
    stack[-1] = elements[i]


def table_set(stack: list[Any], inst: ModuleInstance, table: int) -> None:
    value = stack.pop()
    i = stack.pop()
    elements = inst.tables[table].elements
    if i >= len(elements):
        raise _table_oob()
    elements[i] = value


def table_size(stack: list[Any], inst: ModuleInstance, table: int) -> None:
    stack.append(inst.tables[table].size)


def table_grow(stack: list[Any], inst: ModuleInstance, table: int) -> None:
    n = stack.pop()
    init = stack.pop()
    tab = inst.tables[table]
    stack.append(tab.grow(n, init) & (M64 if tab.type.is_64 else M32))


def table_fill(stack: list[Any], inst: ModuleInstance, table: int) -> None:
    n = stack.pop()
    value = stack.pop()
    i = stack.pop()
    elements = inst.tables[table].elements
    if i + n > len(elements):
        raise _table_oob()
    elements[i : i + n] = [value] * n


def table_copy(stack: list[Any], inst: ModuleInstance, tables: tuple[int, int]) -> None:
    n = stack.pop()
    src = stack.pop()
    dst = stack.pop()
    _copy_range(inst.tables[tables[0]].elements, dst, inst.tables[tables[1]].elements, src, n,
                _table_oob)


def table_init(stack: list[Any], inst: ModuleInstance, imm: tuple[int, int]) -> None:
    seg, table = imm
    n = stack.pop()
    src = stack.pop()
    dst = stack.pop()
    _copy_range(inst.tables[table].elements, dst, inst.elems[seg], src, n, _table_oob)


def elem_drop(stack: list[Any], inst: ModuleInstance, seg: int) -> None:
    inst.elems[seg] = []


def ref_func(stack: list[Any], inst: ModuleInstance, index: int) -> None:
    stack.append(inst.funcs[index])


MISC_HANDLERS: dict[int, Callable[[list[Any], ModuleInstance, Any], None]] = {
    op.MEMORY_SIZE: memory_size,
    op.MEMORY_FILL: memory_fill,
    op.MEMORY_COPY: memory_copy,
    op.MEMORY_INIT: memory_init,
    op.DATA_DROP: data_drop,
    op.TABLE_GET: table_get,
    op.TABLE_SET: table_set,
    op.TABLE_SIZE: table_size,
    op.TABLE_GROW: table_grow,
    op.TABLE_FILL: table_fill,
    op.TABLE_COPY: table_copy,
    op.TABLE_INIT: table_init,
    op.ELEM_DROP: elem_drop,
    op.REF_FUNC: ref_func,
}
"""Opcode -> handler for the instructions the interpreter runs through ``MISC``."""
