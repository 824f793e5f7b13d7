"""A loader for the JIT's own ELF objects, without LLVM: copy, relocate, protect.

The objects the code generator makes (x86-64, ``reloc="static"``, the JIT's large code
model) are simple: executable and read-only data sections, global and local symbols,
``R_X86_64_64`` relocations (absolute addresses: external symbols, section starts,
jump tables) and ``R_X86_64_PC64`` ones (jump tables, at some levels); no writable data,
no TLS sections, no unwind tables (every function is ``nounwind``).  Linking one is
reading its section table, laying the allocated sections out in one anonymous mapping,
writing each relocation's value and making the code read-execute and the data
read-only.  ORC's LLJIT does the same
with a JITDylib, a materialization unit and a memory manager per library: ~0.3 ms per
object linked alone, 0.06 ms in groups of 32; this loader takes ~0.03 ms per object in
Python and needs no LLVM at all, so a warm start that finds all its code in the cache
never initializes LLVM's JIT.

:class:`NativeLoader` has ``CodeLoader.load_objects``'s contract (one
:class:`~pyjitwasm.jit.loaded.LoadedCode` per object, a mapping freed when the last
object in it is released); an object using anything this loader does not know (another
relocation type, a writable or TLS section, an unresolvable symbol) raises
:class:`UnsupportedObject`, and the caller links it through ORC instead.
"""

from __future__ import annotations

import ctypes
import mmap
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from pyjitwasm.jit.elfsyms import CodeSection, DefinedSymbol
from pyjitwasm.jit.loaded import (
    CodeRange,
    LoadedCode,
    SharedCodeOwner,
    anchored_sections,
    merge_ranges,
    section_ranges,
)

_SHT_SYMTAB = 2
_SHT_RELA = 4
_SHT_NOBITS = 8
_SHF_WRITE = 0x1
_SHF_ALLOC = 0x2
_SHF_EXECINSTR = 0x4
_SHF_TLS = 0x400
_SHN_UNDEF = 0
_SHN_ABS = 0xFFF1
_SHN_LORESERVE = 0xFF00
_STB_LOCAL = 0
_STT_SECTION = 3
_EM_X86_64 = 62
_R_X86_64_NONE = 0
_R_X86_64_64 = 1
_R_X86_64_PC64 = 24
_PAGE = mmap.PAGESIZE

_libc = ctypes.CDLL(None, use_errno=True)
_mmap = _libc.mmap
_mmap.restype = ctypes.c_void_p
_mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                  ctypes.c_long]
_mprotect = _libc.mprotect
_mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_munmap = _libc.munmap
_munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_MAP_FAILED = ctypes.c_void_p(-1).value


class UnsupportedObject(Exception):
    """An object this loader cannot link (the caller links it through ORC instead)."""


class _Section(NamedTuple):
    name: str
    flags: int
    offset: int
    size: int
    align: int
    nobits: bool


class ParsedObject(NamedTuple):
    """What linking needs of one object: its allocated sections (by section index),
    its symbols (name, section index, value, binding, type), and its relocations
    (target section index, offset, type, symbol index, addend)."""

    sections: dict[int, _Section]
    symbols: list[tuple[str, int, int, int, int]]
    relocations: list[tuple[int, int, int, int, int]]


def parse_object(obj: bytes) -> ParsedObject:
    """Sections, symbols and relocations of an ELF64 little-endian x86-64 relocatable
    object; raises :class:`UnsupportedObject` for anything the loader cannot place."""
    if obj[:4] != b"\x7fELF" or obj[4] != 2 or obj[5] != 1:
        raise UnsupportedObject("not a 64-bit little-endian ELF object")
    machine, = struct.unpack_from("<H", obj, 0x12)
    if machine != _EM_X86_64:
        raise UnsupportedObject(f"ELF machine {machine}, not x86-64")
    shoff, = struct.unpack_from("<Q", obj, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", obj, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", obj, shoff + i * shentsize)
               for i in range(shnum)]
    shstr = headers[shstrndx]
    shstrtab = obj[shstr[4]:shstr[4] + shstr[5]]
    sections: dict[int, _Section] = {}
    symbols: list[tuple[str, int, int, int, int]] = []
    relocations: list[tuple[int, int, int, int, int]] = []
    for index, (name_at, kind, flags, _addr, offset, size, link, info, align, _ent) \
            in enumerate(headers):
        if flags & _SHF_ALLOC:
            name = shstrtab[name_at:shstrtab.index(b"\0", name_at)].decode()
            if flags & (_SHF_WRITE | _SHF_TLS):
                raise UnsupportedObject(f"section {name!r} is writable or thread-local")
            sections[index] = _Section(name, flags, offset, size, max(align, 1),
                                       kind == _SHT_NOBITS)
        elif kind == _SHT_SYMTAB:
            strtab_header = headers[link]
            strtab = obj[strtab_header[4]:strtab_header[4] + strtab_header[5]]
            view = memoryview(obj)[offset:offset + size]
            # Local symbols come first (``info``: the first global's index); their names
            # are never looked up, so only the others' are read (a merged object of 64
            # batches has thousands of locals).
            for number, (st_name, st_info, _other, st_shndx, st_value, _size) in \
                    enumerate(struct.iter_unpack("<IBBHQQ", view)):
                name = strtab[st_name:strtab.index(b"\0", st_name)].decode() \
                    if st_name and number >= info else ""
                symbols.append((name, st_shndx, st_value, st_info >> 4, st_info & 0xF))
        elif kind == _SHT_RELA:
            target_flags = headers[info][2]
            if not target_flags & _SHF_ALLOC:
                continue  # relocations of debug sections
            relocations.extend(
                (info, r_offset, r_info & 0xFFFFFFFF, r_info >> 32, r_addend)
                for r_offset, r_info, r_addend in struct.iter_unpack(
                    "<QQq", memoryview(obj)[offset:offset + size]))
    return ParsedObject(sections, symbols, relocations)


class _Mapping(SharedCodeOwner):
    """One anonymous mapping holding the sections of the objects of one load; unmapped
    when the last of them is released (the ``library`` of their ``LoadedCode``)."""

    def __init__(self, address: int, size: int, users: int) -> None:
        super().__init__(users)
        self.address = address
        self.size = size

    def free(self) -> None:
        _munmap(self.address, self.size)


class _ProcessSymbols:
    """Addresses of symbols the process defines (``memset``, ``memmove``...: what LLVM
    calls for intrinsics it does not expand), looked up once each."""

    def __init__(self) -> None:
        self._found: dict[str, int] = {}

    def address(self, name: str) -> int:
        found = self._found.get(name)
        if found is None:
            try:
                found = ctypes.cast(getattr(_libc, name), ctypes.c_void_p).value or 0
            except AttributeError:
                found = 0
            if not found:
                raise UnsupportedObject(f"undefined symbol {name!r}")
            self._found[name] = found
        return found


_process_symbols = _ProcessSymbols()


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) & -align


class NativeLoader:
    """Links the JIT's objects into anonymous mappings (see the module docstring)."""

    def load_objects(
        self,
        objs: Sequence[bytes],
        imports: Mapping[str, int] | None = None,
        exports: Sequence[Iterable[str]] | None = None,
    ) -> list[LoadedCode]:
        """As ``CodeLoader.load_objects``: one :class:`LoadedCode` per object, all in one
        mapping.  Raises :class:`UnsupportedObject` (nothing mapped) for an object it
        cannot link."""
        parsed = [parse_object(obj) for obj in objs]
        base, total, places, addresses = self._map(objs, parsed, imports or {})
        shared = _Mapping(base, total, len(objs))
        loaded = []
        for i, (obj, obj_parsed, where) in enumerate(zip(objs, parsed, places, strict=True)):
            symbol_addresses = addresses[i]
            if exports is None:
                wanted = symbol_addresses
            else:
                wanted = {name: symbol_addresses[name] for name in exports[i]}
            ranges = [
                CodeRange(base + where[index], base + where[index] + section.size)
                for index, section in obj_parsed.sections.items()
                if section.flags & _SHF_EXECINSTR and section.size]
            loaded.append(LoadedCode(shared, wanted, merge_ranges(ranges), len(obj)))
        return loaded

    def load_merged(
        self,
        obj: bytes,
        layouts: Sequence[tuple[list[CodeSection], list[DefinedSymbol]]],
        imports: Mapping[str, int] | None = None,
    ) -> list[LoadedCode]:
        """As ``CodeLoader.load_merged``: ``obj`` merged (``objmerge.merge_objects``)
        from objects whose layouts are ``layouts``, one :class:`LoadedCode` per part
        (its symbols, and its code sections found through their anchors)."""
        base, total, _, addresses = self._map([obj], [parse_object(obj)], imports or {})
        defined = addresses[0]
        shared = _Mapping(base, total, len(layouts))
        share = len(obj) // max(len(layouts), 1)
        loaded = []
        try:
            for sections, symbols in layouts:
                anchored = anchored_sections(sections)
                wanted = {name: defined[name] for name in
                          (*(symbol.name for symbol in symbols), *(a for a, _ in anchored))}
                loaded.append(LoadedCode(shared, wanted, section_ranges(anchored, wanted),
                                         share))
        except (KeyError, ValueError) as exc:
            _munmap(base, total)
            raise UnsupportedObject(f"merged object does not match its parts: {exc}") \
                from None
        return loaded

    def _map(self, objs: Sequence[bytes], parsed: Sequence[ParsedObject],
             imports: Mapping[str, int]
             ) -> tuple[int, int, list[dict[int, int]], list[dict[str, int]]]:
        """Map, copy, relocate and protect ``objs``: the mapping's address and size,
        each object's section placements (offsets in the mapping, by section index)
        and the addresses of the global symbols each defines."""
        # Layout: every object's code sections, then (from a fresh page) their data.
        places: list[dict[int, int]] = []
        code_end = 0
        for obj_parsed in parsed:
            where: dict[int, int] = {}
            for index, section in obj_parsed.sections.items():
                if section.flags & _SHF_EXECINSTR:
                    code_end = _round_up(code_end, section.align)
                    where[index] = code_end
                    code_end += section.size
            places.append(where)
        data_end = _round_up(code_end, _PAGE)
        for obj_parsed, where in zip(parsed, places, strict=True):
            for index, section in obj_parsed.sections.items():
                if not section.flags & _SHF_EXECINSTR:
                    data_end = _round_up(data_end, section.align)
                    where[index] = data_end
                    data_end += section.size
        total = max(_round_up(data_end, _PAGE), _PAGE)
        base = _mmap(None, total, mmap.PROT_READ | mmap.PROT_WRITE,
                     mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        if base is None or base == _MAP_FAILED:
            raise MemoryError(f"cannot map {total} bytes for compiled code")
        try:
            addresses = [self._place(obj, obj_parsed, where, base, imports)
                         for obj, obj_parsed, where in zip(objs, parsed, places, strict=True)]
            code_pages = _round_up(code_end, _PAGE)
            if code_pages and _mprotect(base, code_pages, mmap.PROT_READ | mmap.PROT_EXEC):
                raise OSError(ctypes.get_errno(), "mprotect of compiled code failed")
            if total > code_pages and _mprotect(base + code_pages, total - code_pages,
                                                mmap.PROT_READ):
                raise OSError(ctypes.get_errno(), "mprotect of compiled data failed")
        except BaseException:
            _munmap(base, total)
            raise
        # Section offsets become addresses for the callers' code ranges.
        return base, total, places, addresses

    @staticmethod
    def _place(obj: bytes, parsed: ParsedObject, where: dict[int, int], base: int,
               imports: Mapping[str, int]) -> dict[str, int]:
        """Copy one object's sections to ``base + where[index]``, apply its relocations;
        the addresses of the global symbols it defines."""
        values: list[int] = []
        defined: dict[str, int] = {}
        for name, shndx, value, binding, kind in parsed.symbols:
            if shndx == _SHN_UNDEF:
                if not name:
                    values.append(0)
                    continue
                address = imports.get(name)
                values.append(_process_symbols.address(name) if address is None else address)
            elif shndx == _SHN_ABS:
                values.append(value)
            elif shndx in where:
                address = base + where[shndx] + (0 if kind == _STT_SECTION else value)
                values.append(address)
                if binding != _STB_LOCAL and name:
                    defined[name] = address
            elif shndx >= _SHN_LORESERVE:
                raise UnsupportedObject(f"symbol {name!r} in special section {shndx:#x}")
            else:
                values.append(0)  # a symbol of a section not loaded (debug info)
        contents = {index: bytearray(obj[section.offset:section.offset + section.size])
                    for index, section in parsed.sections.items()
                    if not section.nobits and section.size}
        pack = struct.pack_into
        for target, offset, kind, symbol, addend in parsed.relocations:
            if kind == _R_X86_64_64:
                pack("<Q", contents[target], offset,
                     (values[symbol] + addend) & 0xFFFFFFFFFFFFFFFF)
            elif kind == _R_X86_64_PC64:  # jump tables of switches, at some levels
                place = base + where[target] + offset
                pack("<Q", contents[target], offset,
                     (values[symbol] + addend - place) & 0xFFFFFFFFFFFFFFFF)
            elif kind != _R_X86_64_NONE:
                raise UnsupportedObject(f"relocation type {kind}")
        for index, content in contents.items():
            ctypes.memmove(base + where[index], bytes(content), len(content))
        return defined


__all__ = ["NativeLoader", "ParsedObject", "UnsupportedObject", "parse_object"]
