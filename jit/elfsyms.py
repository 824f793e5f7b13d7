"""Just enough of an ELF64 reader to find where a relocatable object's code lives.

The JIT links object files it emitted itself.  One pass over an object's section
headers and symbol table (:func:`read_object_symbols`) gives everything loading it
needs: for each executable section its size and one global symbol inside it (whose
linked address then locates the whole section, so the fault handler knows exactly which
addresses are compiled code), the global symbols (what the linker exports), and every
function symbol, local ones included (wasm functions with internal linkage are local
symbols, and the runtime still needs their places and sizes to map a program counter
back to a wasm function).
"""

from __future__ import annotations

import struct
from typing import NamedTuple

_SHF_EXECINSTR = 0x4
_SHT_SYMTAB = 2
_STB_GLOBAL = 1
_STB_WEAK = 2
_STT_FUNC = 2
_SHN_UNDEF = 0
_SHN_LORESERVE = 0xFF00
_SECTION_HEADER = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")


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


class FunctionSymbol(NamedTuple):
    """A function defined in the object (global or local): name, section name, offset in
    it, size."""

    name: str
    section: str
    offset: int
    size: int


class ObjectSymbols(NamedTuple):
    """What :func:`read_object_symbols` finds in an object: its executable sections (with
    anchors), its global defined symbols, and every function it defines."""

    sections: list[CodeSection]
    globals: list[DefinedSymbol]
    functions: list[FunctionSymbol]

    @property
    def code_layout(self) -> tuple[list[CodeSection], list[DefinedSymbol]]:
        """(sections, global symbols): what ``CodeLoader.load_objects`` takes."""
        return self.sections, self.globals


def _cstr(table: bytes, offset: int) -> str:
    end = table.index(b"\0", offset)
    return table[offset:end].decode()


def read_object_symbols(obj: bytes) -> ObjectSymbols:
    """Executable sections, global defined symbols and function symbols of an ELF64
    little-endian relocatable object, in one pass (ValueError: not such an object)."""
    if obj[:4] != b"\x7fELF" or len(obj) < 0x40 or obj[4] != 2 or obj[5] != 1:
        raise ValueError("not a 64-bit little-endian ELF object")
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", obj, 0x3A)
    if shentsize != _SECTION_HEADER.size:
        raise ValueError(f"unexpected ELF section header size {shentsize}")
    headers = list(_SECTION_HEADER.iter_unpack(obj[shoff:shoff + shnum * shentsize]))
    shstr_off, shstr_size = headers[shstrndx][4], headers[shstrndx][5]
    shstrtab = obj[shstr_off:shstr_off + shstr_size]
    section_names: dict[int, str] = {}

    def section_name(index: int) -> str:
        name = section_names.get(index)
        if name is None:
            name = section_names[index] = _cstr(shstrtab, headers[index][0])
        return name

    symbols: list[DefinedSymbol] = []
    functions: list[FunctionSymbol] = []
    for header in headers:
        if header[1] != _SHT_SYMTAB:
            continue
        sym_off, sym_size, strtab_index, entsize = header[4], header[5], header[6], header[9]
        if entsize != _SYMBOL.size:
            raise ValueError(f"unexpected ELF symbol size {entsize}")
        str_hdr = headers[strtab_index]
        strtab = obj[str_hdr[4]:str_hdr[4] + str_hdr[5]]
        for name_off, info, _other, shndx, value, size in _SYMBOL.iter_unpack(
                obj[sym_off:sym_off + sym_size]):
            if shndx == _SHN_UNDEF or shndx >= _SHN_LORESERVE:
                continue
            is_global = info >> 4 in (_STB_GLOBAL, _STB_WEAK)
            is_function = info & 0xF == _STT_FUNC
            if not (is_global or is_function):
                continue
            name = _cstr(strtab, name_off)
            if is_global:
                symbols.append(DefinedSymbol(name, shndx, value, size))
            if is_function:
                functions.append(FunctionSymbol(name, section_name(shndx), value, size))

    sections: list[CodeSection] = []
    for index, header in enumerate(headers):
        flags, size = header[2], header[5]
        if not flags & _SHF_EXECINSTR or size == 0:
            continue
        inside = [s for s in symbols if s.section == index]
        anchor = min(inside, key=lambda s: s.offset) if inside else None
        sections.append(CodeSection(
            section_name(index), size,
            anchor.name if anchor else None, anchor.offset if anchor else 0,
        ))
    return ObjectSymbols(sections, symbols, functions)


def read_code_layout(obj: bytes) -> tuple[list[CodeSection], list[DefinedSymbol]]:
    """Executable sections (with anchors) and global defined symbols of an ELF64 LE object."""
    return read_object_symbols(obj).code_layout


__all__ = ["CodeSection", "DefinedSymbol", "FunctionSymbol", "ObjectSymbols",
           "read_code_layout", "read_object_symbols"]
