"""Function symbols of an ELF object, local ones included.

``elfsyms`` reads only global symbols (what the linker exports); wasm functions with
internal linkage are local symbols, and the compiler still needs their places and sizes
to map a program counter back to a wasm function.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

_SHT_SYMTAB = 2
_STT_FUNC = 2
_SHN_UNDEF = 0
_SHN_LORESERVE = 0xFF00


class FunctionSymbol(NamedTuple):
    """A function defined in the object: name, section name, offset in it, size."""

    name: str
    section: str
    offset: int
    size: int


def _cstr(table: bytes, offset: int) -> str:
    return table[offset:table.index(b"\0", offset)].decode()


def function_symbols(obj: bytes) -> list[FunctionSymbol]:
    """Every function symbol (global or local) an ELF64 little-endian object defines."""
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", obj, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize)
               for i in range(shnum)]
    shstr = headers[shstrndx]
    shstrtab = obj[shstr[4]:shstr[4] + shstr[5]]
    out: list[FunctionSymbol] = []
    for header in headers:
        if header[1] != _SHT_SYMTAB:
            continue
        offset, size, link, entsize = header[4], header[5], header[6], header[9]
        strhdr = headers[link]
        strtab = obj[strhdr[4]:strhdr[4] + strhdr[5]]
        for pos in range(offset, offset + size, entsize):
            name, info, _other, shndx, value, sym_size = struct.unpack_from("<IBBHQQ", obj, pos)
            if info & 0xF != _STT_FUNC or shndx == _SHN_UNDEF or shndx >= _SHN_LORESERVE:
                continue
            section = _cstr(shstrtab, headers[shndx][0])
            out.append(FunctionSymbol(_cstr(strtab, name), section, value, sym_size))
    return out
