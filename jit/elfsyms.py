"""Just enough of an ELF64 reader to find where a relocatable object's code lives.

The JIT links object files it emitted itself; to tell the fault handler which addresses
are compiled code it needs, for each executable section, its size and one global symbol
inside it (whose linked address then locates the whole section).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

_SHF_EXECINSTR = 0x4
_SHT_SYMTAB = 2
_STB_GLOBAL = 1
_STB_WEAK = 2
_SHN_UNDEF = 0
_SHN_LORESERVE = 0xFF00


class CodeSection(NamedTuple):
    """An executable section: its name, size, and a global symbol defined inside it
    (``anchor``, at byte ``anchor_offset`` of the section), or None when it has none."""

    name: str
    size: int
    anchor: str | None
    anchor_offset: int


class DefinedSymbol(NamedTuple):
    """A global function or object defined by the object file."""

    name: str
    section: int
    offset: int
    size: int


def _cstr(table: bytes, offset: int) -> str:
    end = table.index(b"\0", offset)
    return table[offset:end].decode()


def read_code_layout(obj: bytes) -> tuple[list[CodeSection], list[DefinedSymbol]]:
    """Executable sections (with anchors) and global defined symbols of an ELF64 LE object."""
    if obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF object")
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", obj, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize) for i in range(shnum)]
    shstr_off, shstr_size = headers[shstrndx][4], headers[shstrndx][5]
    shstrtab = obj[shstr_off:shstr_off + shstr_size]

    symbols: list[DefinedSymbol] = []
    for header in headers:
        if header[1] != _SHT_SYMTAB:
            continue
        sym_off, sym_size, strtab_index, entsize = header[4], header[5], header[6], header[9]
        str_hdr = headers[strtab_index]
        strtab = obj[str_hdr[4]:str_hdr[4] + str_hdr[5]]
        for pos in range(sym_off, sym_off + sym_size, entsize):
            name_off, info, _other, shndx, value, size = struct.unpack_from("<IBBHQQ", obj, pos)
            bind = info >> 4
            if bind not in (_STB_GLOBAL, _STB_WEAK):
                continue
            if shndx == _SHN_UNDEF or shndx >= _SHN_LORESERVE:
                continue
            symbols.append(DefinedSymbol(_cstr(strtab, name_off), shndx, value, size))

    sections: list[CodeSection] = []
    for index, header in enumerate(headers):
        flags, size = header[2], header[5]
        if not flags & _SHF_EXECINSTR or size == 0:
            continue
        inside = [s for s in symbols if s.section == index]
        anchor = min(inside, key=lambda s: s.offset) if inside else None
        sections.append(CodeSection(
            _cstr(shstrtab, header[0]), size,
            anchor.name if anchor else None, anchor.offset if anchor else 0,
        ))
    return sections, symbols
