"""Several relocatable ELF objects made into one, so that the JIT links them in one go.

Linking costs ORC/JITLink about 60 us per object whatever its size (a link graph, a
memory allocation and its protection changes, a symbol lookup: CPython for WASI's 1,300
cached batches took 80 ms in groups of 32); one object holding them all costs a
fraction of that.  A warm start's pack (``runtime/jit/batch_pack.py``) keeps its
batches merged this way.

The merge is ``ld -r`` without any layout work: every section of every input (but the
symbol and string tables, empty sections and ``.note.GNU-stack``) becomes a section of
its own in the output, under its own name (an ELF object may have several sections of
one name; the linker treats each as a block of its own), so symbol values, relocation
offsets and addends stay as they are; only section and symbol indices are renumbered.
Local symbols of every input stay local, renamed with the input's number (JITLink
refuses a global whose name a local of the same object has, and a lazy batch's internal
callee may be another batch's global first function); undefined symbols are shared by
name.  A global defined twice, or anything else this does not understand, makes
:func:`merge_objects` refuse (:class:`MergeError`), and the caller links the objects one
by one.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

_HEADER = struct.Struct("<16sHHIQQQIHHHHHH")
_SECTION = struct.Struct("<IIQQQQIIQQ")
_SYMBOL = struct.Struct("<IBBHQQ")
_RELA = struct.Struct("<QQq")
_SHT_NULL, _SHT_PROGBITS, _SHT_SYMTAB, _SHT_STRTAB, _SHT_RELA = 0, 1, 2, 3, 4
_SHT_NOBITS, _SHT_REL = 8, 9
_SHN_UNDEF, _SHN_LORESERVE = 0, 0xFF00
_STB_LOCAL = 0
_STT_FILE = 4
_SHF_INFO_LINK = 0x40
_KEPT_TYPES = {_SHT_PROGBITS, _SHT_NOBITS, _SHT_RELA}


class MergeError(ValueError):
    """Objects that :func:`merge_objects` cannot merge."""


class _Input:
    """One input object, parsed."""

    def __init__(self, obj: bytes) -> None:
        if obj[:4] != b"\x7fELF" or len(obj) < _HEADER.size or obj[4] != 2 or obj[5] != 1:
            raise MergeError("not a 64-bit little-endian ELF object")
        header = _HEADER.unpack_from(obj, 0)
        if header[1] != 1:  # ET_REL
            raise MergeError("not a relocatable object")
        self.header = header
        shoff, shentsize, shnum, shstrndx = header[6], header[11], header[12], header[13]
        if shentsize != _SECTION.size:
            raise MergeError(f"unexpected section header size {shentsize}")
        self.obj = obj
        self.sections = list(_SECTION.iter_unpack(obj[shoff:shoff + shnum * shentsize]))
        names = self.sections[shstrndx]
        self.shstrtab = obj[names[4]:names[4] + names[5]]
        symtabs = [i for i, s in enumerate(self.sections) if s[1] == _SHT_SYMTAB]
        if len(symtabs) != 1:
            raise MergeError("not one symbol table")
        self.symtab_index = symtabs[0]
        symtab = self.sections[self.symtab_index]
        if symtab[9] != _SYMBOL.size:
            raise MergeError(f"unexpected symbol size {symtab[9]}")
        strtab = self.sections[symtab[6]]
        self.strtab = obj[strtab[4]:strtab[4] + strtab[5]]
        self.symbols = list(_SYMBOL.iter_unpack(obj[symtab[4]:symtab[4] + symtab[5]]))

    def section_name(self, index: int) -> bytes:
        offset = self.sections[index][0]
        return self.shstrtab[offset:self.shstrtab.index(b"\0", offset)]

    def symbol_name(self, offset: int) -> bytes:
        return self.strtab[offset:self.strtab.index(b"\0", offset)]

    def data(self, index: int) -> bytes:
        section = self.sections[index]
        if section[1] == _SHT_NOBITS:
            return b""
        return self.obj[section[4]:section[4] + section[5]]


class _Strings:
    """A string table being built (names shared)."""

    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self._at: dict[bytes, int] = {b"": 0}

    def add(self, name: bytes) -> int:
        at = self._at.get(name)
        if at is None:
            at = self._at[name] = len(self.data)
            self.data += name + b"\0"
        return at


def merge_objects(objs: Sequence[bytes]) -> bytes:
    """One relocatable object with the sections and symbols of all ``objs`` (see the
    module docstring); MergeError when they cannot be merged."""
    inputs = [_Input(obj) for obj in objs]
    if not inputs:
        raise MergeError("nothing to merge")
    shstrtab, strtab = _Strings(), _Strings()
    # Output sections after the null one: (input, input index) of each kept section.
    kept: list[tuple[int, int]] = []
    section_maps: list[dict[int, int]] = []
    for n, inp in enumerate(inputs):
        mapping: dict[int, int] = {}
        for index, section in enumerate(inp.sections):
            kind, size = section[1], section[5]
            if kind in (_SHT_NULL, _SHT_SYMTAB, _SHT_STRTAB):
                continue
            if kind == _SHT_REL or kind not in _KEPT_TYPES and size:
                raise MergeError(f"section type {kind:#x} is not handled")
            if size == 0 or inp.section_name(index) == b".note.GNU-stack":
                continue  # nothing in it; a symbol or relocation there refuses below
            kept.append((n, index))
            mapping[index] = len(kept)  # 0 is the null section
        section_maps.append(mapping)

    # Symbols: every input's locals, then the globals (defined ones once, undefined ones
    # shared by name).  symbol_maps[n][k]: output index of input n's symbol k.
    locals_: list[tuple[int, int, int, int, int, int]] = [(0, 0, 0, 0, 0, 0)]
    globals_: list[tuple[int, int, int, int, int, int]] = []
    global_at: dict[bytes, int] = {}
    defined: set[bytes] = set()
    pending: list[list[tuple[bool, int]]] = []  # (is_global, position) per symbol
    for n, inp in enumerate(inputs):
        mapping = section_maps[n]
        places: list[tuple[bool, int]] = [(False, 0)]
        for name_off, info, other, shndx, value, size in inp.symbols[1:]:
            name = inp.symbol_name(name_off)
            if shndx == _SHN_UNDEF or shndx >= _SHN_LORESERVE:
                new_shndx = shndx
            elif shndx in mapping:
                new_shndx = mapping[shndx]
            elif inp.sections[shndx][5] == 0 or inp.section_name(shndx) == b".note.GNU-stack":
                places.append((False, -1))  # in a dropped section: must stay unused
                continue
            else:
                raise MergeError(f"symbol {name!r} in an unhandled section")
            if info >> 4 == _STB_LOCAL:
                if name and info & 0xF != _STT_FILE:
                    # JITLink refuses a global whose name a local of the same object
                    # has (one batch's internal callee is another's global first
                    # function): locals get their input's number.
                    name += b".merged" + str(n).encode()
                places.append((False, len(locals_)))
                locals_.append((strtab.add(name), info, other, new_shndx, value, size))
                continue
            entry = (strtab.add(name), info, other, new_shndx, value, size)
            at = global_at.get(name)
            if shndx != _SHN_UNDEF:
                if name in defined:
                    raise MergeError(f"global {name!r} is defined twice")
                defined.add(name)
                if at is None:
                    at = global_at[name] = len(globals_)
                    globals_.append(entry)
                else:
                    globals_[at] = entry  # an earlier input's undefined reference
            elif at is None:
                at = global_at[name] = len(globals_)
                globals_.append(entry)
            places.append((True, at))
        pending.append(places)
    first_global = len(locals_)
    symbol_maps = [[first_global + at if is_global else at for is_global, at in places]
                   for places in pending]

    # Section contents; relocation sections rewritten for the new symbol indices.
    symtab_index = len(kept) + 1
    strtab_index, shstrtab_index = symtab_index + 1, symtab_index + 2
    out = bytearray(_HEADER.size)
    headers: list[tuple[int, int, int, int, int, int, int, int, int, int]] = [
        (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]

    def place(data: bytes | bytearray, align: int) -> int:
        pad = -len(out) % max(align, 1)
        out.extend(b"\0" * pad)
        offset = len(out)
        out.extend(data)
        return offset

    for n, index in kept:
        inp = inputs[n]
        name, kind, flags, addr, _, size, link, info, align, entsize = inp.sections[index]
        data = inp.data(index)
        if kind == _SHT_RELA:
            if link != inp.symtab_index or info not in section_maps[n]:
                raise MergeError("a relocation section of another symbol table or section")
            symbols = symbol_maps[n]
            rewritten = bytearray()
            for offset, r_info, addend in _RELA.iter_unpack(data):
                target = symbols[r_info >> 32]
                if target < 0:
                    raise MergeError("a relocation against a dropped section")
                rewritten += _RELA.pack(offset, (target << 32) | (r_info & 0xFFFFFFFF), addend)
            data = bytes(rewritten)
            link, info = symtab_index, section_maps[n][info]
        elif flags & _SHF_INFO_LINK or link:
            raise MergeError("a section linked to another one")
        new_name = shstrtab.add(inp.section_name(index))
        offset = place(data, align) if kind != _SHT_NOBITS else len(out)
        headers.append((new_name, kind, flags, addr, offset, size, link, info, align,
                        entsize))
    symbols_data = b"".join(_SYMBOL.pack(*entry) for entry in locals_ + globals_)
    offset = place(symbols_data, 8)
    headers.append((shstrtab.add(b".symtab"), _SHT_SYMTAB, 0, 0, offset, len(symbols_data),
                    strtab_index, first_global, 8, _SYMBOL.size))
    offset = place(bytes(strtab.data), 1)
    headers.append((shstrtab.add(b".strtab"), _SHT_STRTAB, 0, 0, offset, len(strtab.data),
                    0, 0, 1, 0))
    shstrtab_name = shstrtab.add(b".shstrtab")
    offset = place(bytes(shstrtab.data), 1)
    headers.append((shstrtab_name, _SHT_STRTAB, 0, 0, offset, len(shstrtab.data), 0, 0, 1, 0))
    shoff = place(b"".join(_SECTION.pack(*h) for h in headers), 8)
    first = inputs[0].header
    _HEADER.pack_into(out, 0, first[0], first[1], first[2], first[3], 0, 0, shoff, first[7],
                      _HEADER.size, 0, 0, _SECTION.size, len(headers), shstrtab_index)
    return bytes(out)


__all__ = ["MergeError", "merge_objects"]
