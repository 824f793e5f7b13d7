"""Reading the DWARF line table of a relocatable ELF object the JIT emitted.

The code generator gives each instruction the line of its source location
(``jit/lower_debug.py``); LLVM writes them as the ``.debug_line`` program (DWARF 4, as
``lower_debug`` asks).  In a relocatable object the program's addresses
(``DW_LNE_set_address``) are zero plus a relocation naming a symbol and an addend, so
:func:`read_line_rows` resolves them through ``.rela.debug_line`` and the symbol table
to a section and an offset in it.  Only what LLVM emits for x86-64 and AArch64 ELF is
handled (64-bit little-endian, ``R_*_64``/``R_*_ABS64`` relocations).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

_SHT_RELA = 4
_SHT_SYMTAB = 2

# Standard opcodes.
_DW_LNS_COPY = 1
_DW_LNS_ADVANCE_PC = 2
_DW_LNS_ADVANCE_LINE = 3
_DW_LNS_CONST_ADD_PC = 8
_DW_LNS_FIXED_ADVANCE_PC = 9
# Extended opcodes.
_DW_LNE_END_SEQUENCE = 1
_DW_LNE_SET_ADDRESS = 2


class LineRow(NamedTuple):
    """A row of the line table: from byte ``offset`` of code section ``section`` (its
    index in the object) on, the code has source location ``line`` (0: none), up to the
    next row of the same sequence.  ``end`` marks the first byte after a sequence."""

    section: int
    offset: int
    line: int
    end: bool


def _leb(data: bytes, pos: int, signed: bool = False) -> tuple[int, int]:
    """The LEB128 number at ``pos`` (signed or not) and the position after it."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            if signed and byte & 0x40:
                result -= 1 << shift
            return result, pos


def _uleb(data: bytes, pos: int) -> tuple[int, int]:
    return _leb(data, pos)


def _sleb(data: bytes, pos: int) -> tuple[int, int]:
    return _leb(data, pos, signed=True)


class _Sections:
    def __init__(self, obj: bytes) -> None:
        if obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
            raise ValueError("not a 64-bit little-endian ELF object")
        shoff, = struct.unpack_from("<Q", obj, 0x28)
        shentsize, shnum, shstrndx = struct.unpack_from("<HHH", obj, 0x3A)
        self.headers = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize)
                        for i in range(shnum)]
        names = self.headers[shstrndx]
        table = obj[names[4]:names[4] + names[5]]
        self.names = [table[h[0]:table.index(b"\0", h[0])].decode() for h in self.headers]
        self.obj = obj

    def data(self, index: int) -> bytes:
        header = self.headers[index]
        return self.obj[header[4]:header[4] + header[5]]

    def find(self, name: str) -> int | None:
        return self.names.index(name) if name in self.names else None


def _relocations(sections: _Sections, target: int) -> dict[int, tuple[int, int]]:
    """Offset in section ``target`` -> (section index, offset) its relocations point at."""
    symtab = next((i for i, h in enumerate(sections.headers) if h[1] == _SHT_SYMTAB), None)
    if symtab is None:
        return {}
    symbols = sections.data(symtab)
    entsize = sections.headers[symtab][9]
    out: dict[int, tuple[int, int]] = {}
    for index, header in enumerate(sections.headers):
        if header[1] != _SHT_RELA or header[7] != target:
            continue
        rela = sections.data(index)
        for pos in range(0, len(rela), 24):
            offset, info, addend = struct.unpack_from("<QQq", rela, pos)
            _name, _info, _other, shndx, value, _size = struct.unpack_from(
                "<IBBHQQ", symbols, (info >> 32) * entsize)
            out[offset] = (shndx, value + addend)
    return out


def read_line_rows(obj: bytes) -> list[LineRow]:
    """Every row of the object's line table, sequences in order (empty without one)."""
    sections = _Sections(obj)
    index = sections.find(".debug_line")
    if index is None:
        return []
    return list(_rows(sections.data(index), _relocations(sections, index)))


def _rows(data: bytes, relocations: dict[int, tuple[int, int]]) -> Iterator[LineRow]:
    unit = 0
    while unit < len(data):
        length, = struct.unpack_from("<I", data, unit)
        pos = unit + 4
        offset_size = 4
        if length == 0xFFFFFFFF:
            length, = struct.unpack_from("<Q", data, pos)
            pos += 8
            offset_size = 8
        end = pos + length
        version, = struct.unpack_from("<H", data, pos)
        if version not in (2, 3, 4):
            raise ValueError(f"DWARF line table version {version} is not supported")
        pos += 2
        header_length = int.from_bytes(data[pos:pos + offset_size], "little")
        pos += offset_size
        program = pos + header_length
        min_inst_length = data[pos]
        pos += 1
        if version >= 4:
            pos += 1  # maximum_operations_per_instruction (1 on these targets)
        pos += 1  # default_is_stmt
        line_base = struct.unpack_from("<b", data, pos)[0]
        line_range = data[pos + 1]
        opcode_base = data[pos + 2]
        lengths = data[pos + 3:pos + 3 + opcode_base - 1]
        yield from _run_program(data, program, end, relocations, min_inst_length,
                                line_base, line_range, opcode_base, lengths)
        unit = end


def _run_program(data: bytes, pos: int, end: int, relocations: dict[int, tuple[int, int]],
                 min_inst_length: int, line_base: int, line_range: int, opcode_base: int,
                 lengths: bytes) -> Iterator[LineRow]:
    section, address, line = 0, 0, 1
    while pos < end:
        opcode = data[pos]
        pos += 1
        if opcode >= opcode_base:
            adjusted = opcode - opcode_base
            address += (adjusted // line_range) * min_inst_length
            line += line_base + adjusted % line_range
            yield LineRow(section, address, line, False)
        elif opcode == 0:
            size, pos = _uleb(data, pos)
            sub = data[pos]
            if sub == _DW_LNE_END_SEQUENCE:
                yield LineRow(section, address, line, True)
                section, address, line = 0, 0, 1
            elif sub == _DW_LNE_SET_ADDRESS:
                section, address = relocations.get(pos + 1, (0, 0))
            pos += size
        elif opcode == _DW_LNS_COPY:
            yield LineRow(section, address, line, False)
        elif opcode == _DW_LNS_ADVANCE_PC:
            delta, pos = _uleb(data, pos)
            address += delta * min_inst_length
        elif opcode == _DW_LNS_ADVANCE_LINE:
            delta, pos = _sleb(data, pos)
            line += delta
        elif opcode == _DW_LNS_CONST_ADD_PC:
            address += ((255 - opcode_base) // line_range) * min_inst_length
        elif opcode == _DW_LNS_FIXED_ADVANCE_PC:
            address += struct.unpack_from("<H", data, pos)[0]
            pos += 2
        else:
            # Other standard opcodes (set_file, set_column, negate_stmt, ...): skip their
            # ULEB operands.
            for _ in range(lengths[opcode - 1]):
                _, pos = _uleb(data, pos)


def section_names(obj: bytes) -> list[str]:
    """The object's section names by index (to match ``LineRow.section``)."""
    return _Sections(obj).names


_RELOCATION_WIDTHS = {1: 8, 2: 4, 4: 4, 9: 4, 10: 4, 11: 4, 24: 8, 26: 8, 41: 4, 42: 4}
"""Bytes each x86-64 relocation type patches (R_X86_64_64, PC32, PLT32, GOTPCREL, 32,
32S, PC64, GOTOFF64, GOTPCRELX, REX_GOTPCRELX); others are taken as 8 (AArch64's
instruction relocations patch within 4-byte instructions, so 8 only masks more)."""


def code_matches(obj: bytes, section: str, offset: int, size: int, live: bytes) -> bool:
    """Whether ``size`` bytes of code section ``section`` from ``offset`` are ``live``
    (the same code, linked), every relocated field aside."""
    sections = _Sections(obj)
    index = sections.find(section)
    if index is None or len(live) != size:
        return False
    ours = bytearray(sections.data(index)[offset:offset + size])
    theirs = bytearray(live)
    for header_index, header in enumerate(sections.headers):
        if header[1] != _SHT_RELA or header[7] != index:
            continue
        rela = sections.data(header_index)
        for pos in range(0, len(rela), 24):
            at, info, _addend = struct.unpack_from("<QQq", rela, pos)
            width = _RELOCATION_WIDTHS.get(info & 0xFFFFFFFF, 8)
            start, end = max(at - offset, 0), min(at - offset + width, size)
            if start < end:
                ours[start:end] = bytes(end - start)
                theirs[start:end] = bytes(end - start)
    return ours == theirs
