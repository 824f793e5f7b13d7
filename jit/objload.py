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

Linking is two steps.  :func:`plan_link` lays the objects out and resolves every
relocation as far as it can without knowing where the mapping lands or where the
imports are: the result (:class:`LinkPlan`) is the mapping's image with the constant
relocations written (a jump table's PC-relative entries), plus a packed record per
remaining one (``RELOCATION_RECORD``).  :func:`map_image` then maps, copies and patches
the records (through the installed :data:`ImageLinker`: the runtime's native one, one C
call per image, or the reference one here) and protects.  A warm start's pack stores
plans (``runtime/jit/batch_pack.py``), so loading a chunk is the second step alone.

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
from collections.abc import Callable, Iterable, Mapping, Sequence
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
PAGE_SIZE = _PAGE
"""The host's page size, which a :class:`LinkPlan`'s layout assumes."""

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
# Every page of an image is written at once: faulting them in with the mapping is
# cheaper than one fault each (CPython for WASI's warm start: 15% of placing its images).
_MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0)


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


RELOCATION_RECORD = struct.Struct("<QqII")
"""One relocation of a :class:`LinkPlan` (``runtime/native/link_image.c`` reads the
same layout): the image offset of a 64-bit value, an addend, a symbol index into the
plan's ``imports``, and flags: the value is the addend plus the symbol's address
(``RELOC_SYMBOL``), plus the mapping's address (``RELOC_BASE``), minus the place's
address (``RELOC_PCREL``)."""
RELOC_SYMBOL = 1
RELOC_BASE = 2
RELOC_PCREL = 4
_RELOC_FLAGS = RELOC_SYMBOL | RELOC_BASE | RELOC_PCREL


class LinkPlan(NamedTuple):
    """Objects linked up to their mapping's address and their imports' addresses: what
    is left is copying ``image`` to a fresh mapping of ``total`` bytes, patching the
    ``records`` (``RELOCATION_RECORD``) for the mapping's address and the addresses of
    ``imports`` (by name), and protecting it (:func:`map_image`).  Relocations whose
    value does not depend on either (a jump table's PC-relative entries, absolute
    symbols) are written into ``image`` already.  The first ``code_size`` bytes become
    read-execute, the rest read-only; ``page`` is the page size the layout assumed.
    Per object: its global symbols' offsets in the mapping (``defined``), and the
    offset ranges of its executable sections (``code_ranges``)."""

    image: bytes
    code_size: int
    total: int
    page: int
    records: bytes
    imports: list[str]
    defined: list[dict[str, int]]
    code_ranges: list[list[tuple[int, int]]]


def plan_link(objs: Sequence[bytes], parsed: Sequence[ParsedObject] | None = None
              ) -> LinkPlan:
    """The :class:`LinkPlan` of ``objs`` (``parsed``: their ``parse_object``) laid out in
    one mapping: every object's code sections, then (from a fresh page) their data.
    Raises :class:`UnsupportedObject` for what the loader cannot place."""
    if parsed is None:
        parsed = [parse_object(obj) for obj in objs]
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
    code_size = _round_up(code_end, _PAGE)
    data_end = code_size
    for obj_parsed, where in zip(parsed, places, strict=True):
        for index, section in obj_parsed.sections.items():
            if not section.flags & _SHF_EXECINSTR:
                data_end = _round_up(data_end, section.align)
                where[index] = data_end
                data_end += section.size
    image = bytearray(data_end)
    records: list[bytes] = []
    imports: dict[str, int] = {}
    defined: list[dict[str, int]] = []
    code_ranges: list[list[tuple[int, int]]] = []
    for obj, obj_parsed, where in zip(objs, parsed, places, strict=True):
        defined.append(_plan_object(obj, obj_parsed, where, image, records, imports))
        code_ranges.append([(where[index], where[index] + section.size)
                            for index, section in obj_parsed.sections.items()
                            if section.flags & _SHF_EXECINSTR and section.size])
    return LinkPlan(bytes(image), code_size, max(_round_up(data_end, _PAGE), _PAGE), _PAGE,
                    b"".join(records), list(imports), defined, code_ranges)


def _plan_object(obj: bytes, parsed: ParsedObject, where: dict[int, int],
                 image: bytearray, records: list[bytes], imports: dict[str, int]
                 ) -> dict[str, int]:
    """Copy one object's sections into ``image`` at ``where[index]`` and plan its
    relocations (written into ``image`` when constant, else appended to ``records``);
    the offsets of the global symbols it defines."""
    # Each symbol's value: (flags, symbol index or 0, constant part), as a record's.
    values: list[tuple[int, int, int]] = []
    defined: dict[str, int] = {}
    for name, shndx, value, binding, kind in parsed.symbols:
        if shndx == _SHN_UNDEF:
            if not name:
                values.append((0, 0, 0))
                continue
            slot = imports.setdefault(name, len(imports))
            values.append((RELOC_SYMBOL, slot, 0))
        elif shndx == _SHN_ABS:
            values.append((0, 0, value))
        elif shndx in where:
            offset = where[shndx] + (0 if kind == _STT_SECTION else value)
            values.append((RELOC_BASE, 0, offset))
            if binding != _STB_LOCAL and name:
                defined[name] = offset
        elif shndx >= _SHN_LORESERVE:
            raise UnsupportedObject(f"symbol {name!r} in special section {shndx:#x}")
        else:
            values.append((0, 0, 0))  # a symbol of a section not loaded (debug info)
    for index, section in parsed.sections.items():
        if not section.nobits and section.size:
            at = where[index]
            image[at:at + section.size] = obj[section.offset:section.offset + section.size]
    pack_record, pack_value = RELOCATION_RECORD.pack, struct.pack_into
    for target, offset, kind, symbol, addend in parsed.relocations:
        if kind == _R_X86_64_NONE:
            continue
        if kind not in (_R_X86_64_64, _R_X86_64_PC64):
            raise UnsupportedObject(f"relocation type {kind}")
        section = parsed.sections[target]
        if section.nobits or not 0 <= offset <= section.size - 8:
            raise UnsupportedObject("a relocation outside its section")
        place = where[target] + offset
        flags, slot, constant = values[symbol]
        constant += addend
        if kind == _R_X86_64_PC64:  # jump tables of switches, at some levels
            if flags & RELOC_BASE:
                flags &= ~RELOC_BASE  # base + x - (base + place): no base at all
                constant -= place
            else:
                flags |= RELOC_PCREL
        if flags:
            records.append(pack_record(place, constant, slot, flags))
        else:
            pack_value("<Q", image, place, constant & 0xFFFFFFFFFFFFFFFF)
    return defined


ImageLinker = Callable[[int, int, bytes | memoryview, bytes | memoryview, Sequence[int]], int]
"""``linker(base, size, image, records, symbols)``: copy ``image`` to the writable
mapping of ``size`` bytes at ``base`` and apply the ``RELOCATION_RECORD`` entries of
``records`` with ``symbols`` (the plan's imports' addresses); 0, or the 1-based number
of the first bad record (one outside the image, or naming no symbol), or -1 for an
image larger than the mapping (then nothing need have been written)."""


def _python_link_image(base: int, size: int, image: bytes | memoryview,
                       records: bytes | memoryview, symbols: Sequence[int]) -> int:
    """The reference :data:`ImageLinker` (the runtime installs the native one:
    :func:`install_image_linker`)."""
    if len(image) > size:
        return -1
    content = bytearray(image)
    for number, (offset, addend, slot, flags) in enumerate(
            RELOCATION_RECORD.iter_unpack(records), 1):
        if offset + 8 > len(content) or flags & ~_RELOC_FLAGS or \
                flags & RELOC_SYMBOL and slot >= len(symbols):
            return number
        value = addend
        if flags & RELOC_SYMBOL:
            value += symbols[slot]
        if flags & RELOC_BASE:
            value += base
        if flags & RELOC_PCREL:
            value -= base + offset
        struct.pack_into("<Q", content, offset, value & 0xFFFFFFFFFFFFFFFF)
    ctypes.memmove(base, bytes(content), len(content))
    return 0


_image_linker: ImageLinker = _python_link_image

def link_refused(bad: int) -> UnsupportedObject:
    """The error for an image an :data:`ImageLinker` refused (its nonzero result)."""
    if bad == -1:
        return UnsupportedObject("an image that does not fit its mapping")
    return UnsupportedObject(f"relocation record {bad} lies outside the image"
                             " or names no symbol")


ImageMapper = Callable[[bytes | memoryview, int, int, bytes | memoryview, Sequence[int]], int]
"""``mapper(image, code_size, total, records, symbols)``: all of :func:`map_image` after
its layout check (map, link, protect), raising as it does; the mapping's address."""

_image_mapper: ImageMapper | None = None


def install_image_linker(linker: ImageLinker, mapper: ImageMapper | None = None) -> None:
    """Use ``linker`` to place images (the runtime's native one: one C call per image
    instead of a Python loop per relocation), and ``mapper``, when given, for the whole
    of :func:`map_image` (the runtime's: one C call instead of a ctypes call each for
    mmap and mprotect and one for the link, ~0.02 ms less per image, ~0.1 ms on a
    process's first)."""
    global _image_linker, _image_mapper  # noqa: PLW0603 - the one process-wide setting
    _image_linker = linker
    _image_mapper = mapper


def resolve_imports(names: Sequence[str], imports: Mapping[str, int]) -> list[int]:
    """The addresses of ``names``: from ``imports``, else the process's own symbols
    (:class:`UnsupportedObject` for one found in neither)."""
    addresses = []
    for name in names:
        address = imports.get(name)
        addresses.append(_process_symbols.address(name) if address is None else address)
    return addresses


def map_image(image: bytes | memoryview, code_size: int, total: int,
              records: bytes | memoryview, symbols: Sequence[int]) -> int:
    """Map ``total`` bytes, place ``image`` with its ``records`` applied (see
    :class:`LinkPlan`), make the first ``code_size`` bytes read-execute and the rest
    read-only; the mapping's address (the caller unmaps it: ``total`` bytes).
    :class:`UnsupportedObject` (nothing left mapped) for a bad record or layout."""
    if not 0 <= code_size <= total or total % _PAGE or code_size % _PAGE or \
            len(image) > total or len(records) % RELOCATION_RECORD.size:
        raise UnsupportedObject("an image that does not fit its mapping")
    if _image_mapper is not None:
        return _image_mapper(image, code_size, total, records, symbols)
    base = _mmap(None, total, mmap.PROT_READ | mmap.PROT_WRITE,
                 mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_POPULATE, -1, 0)
    if base is None or base == _MAP_FAILED:
        raise MemoryError(f"cannot map {total} bytes for compiled code")
    try:
        bad = _image_linker(base, total, image, records, symbols)
        if bad:
            raise link_refused(bad)
        if code_size and _mprotect(base, code_size, mmap.PROT_READ | mmap.PROT_EXEC):
            raise OSError(ctypes.get_errno(), "mprotect of compiled code failed")
        if total > code_size and _mprotect(base + code_size, total - code_size,
                                           mmap.PROT_READ):
            raise OSError(ctypes.get_errno(), "mprotect of compiled data failed")
    except BaseException:
        _munmap(base, total)
        raise
    return int(base)


class MappedImage(SharedCodeOwner):
    """A :func:`map_image` mapping as the owner of the code loaded in it (unmapped when
    the last of its ``users`` is released)."""

    def __init__(self, address: int, size: int, users: int) -> None:
        super().__init__(users)
        self.address = address
        self.size = size

    def free(self) -> None:
        _munmap(self.address, self.size)


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
        plan = plan_link(objs)
        base = self._map(plan, imports or {})
        shared = MappedImage(base, plan.total, len(objs))
        loaded = []
        for i, obj in enumerate(objs):
            symbol_addresses = {name: base + offset for name, offset in plan.defined[i].items()}
            if exports is None:
                wanted = symbol_addresses
            else:
                wanted = {name: symbol_addresses[name] for name in exports[i]}
            ranges = [CodeRange(base + start, base + end) for start, end in plan.code_ranges[i]]
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
        plan = plan_link([obj])
        base = self._map(plan, imports or {})
        defined = {name: base + offset for name, offset in plan.defined[0].items()}
        shared = MappedImage(base, plan.total, len(layouts))
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
            _munmap(base, plan.total)
            raise UnsupportedObject(f"merged object does not match its parts: {exc}") \
                from None
        return loaded

    @staticmethod
    def _map(plan: LinkPlan, imports: Mapping[str, int]) -> int:
        """Map ``plan`` with ``imports`` resolved: the mapping's address."""
        return map_image(plan.image, plan.code_size, plan.total, plan.records,
                         resolve_imports(plan.imports, imports))


__all__ = ["PAGE_SIZE", "RELOCATION_RECORD", "RELOC_BASE", "RELOC_PCREL", "RELOC_SYMBOL",
           "ImageLinker", "LinkPlan", "MappedImage", "NativeLoader", "ParsedObject",
           "UnsupportedObject", "install_image_linker", "link_refused", "map_image",
           "parse_object", "plan_link", "resolve_imports"]
