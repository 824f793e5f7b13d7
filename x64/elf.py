"""An ELF64 x86-64 relocatable object for the single-pass tier 0's code.

The same shape as LLVM's tier-0 objects, which the loader (``jit/codeload.py``, ORC's
JITLink) already links: one ``.ltext`` section (large code model), the first function a
global symbol (the loader places the section by it), the others local ``STT_FUNC``
symbols with their sizes, and ``R_X86_64_64`` relocations against undefined global
symbols (the runtime's entry points, resolved when the object is linked).

With ``lines`` the object also carries a DWARF 4 ``.debug_line`` program whose "line"
is the wasm module offset of the code from each address on (``jit/dwarf_lines.py`` reads
it; ``0`` is no location), as LLVM's objects do with debug locations, so trap
backtraces find wasm offsets in this code the same way.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import NamedTuple

from pyjitwasm.jit.leb128 import sleb, uleb

R_X86_64_64 = 1
_SHF_ALLOC = 0x2
_SHF_EXECINSTR = 0x4
_SHF_INFO_LINK = 0x40
_SHF_X86_64_LARGE = 0x10000000
_SHT_PROGBITS, _SHT_SYMTAB, _SHT_STRTAB, _SHT_RELA = 1, 2, 3, 4
_STT_FUNC, _STT_SECTION = 2, 3
_STB_LOCAL, _STB_GLOBAL = 0, 1


class ObjectFunction(NamedTuple):
    """A function in the code: its symbol, where it starts, its size, whether global."""

    name: str
    offset: int
    size: int
    is_global: bool


class LineSequence(NamedTuple):
    """One function's line rows: (code offset in the section, line) pairs in address
    order, and the offset just past the function."""

    rows: list[tuple[int, int]]
    end: int


def _debug_line(sequences: Sequence[LineSequence]) -> tuple[bytes, list[int]]:
    """A .debug_line unit (DWARF 4, one file) and the offsets of its set_address
    operands (each relocated against the code section's symbol plus the address)."""
    opcode_base = 13
    lengths = bytes((0, 1, 1, 1, 1, 0, 0, 0, 1, 0, 0, 1))
    header = (struct.pack("<BBBbBB", 1, 1, 1, -5, 14, opcode_base) + lengths
              + b"\0" + b"wasm\0\0\0\0" + b"\0")
    program = bytearray()
    address_at: list[int] = []
    for seq in sequences:
        if not seq.rows:
            continue
        program += b"\x00\x09\x02"
        address_at.append(len(program))
        program += struct.pack("<Q", seq.rows[0][0])
        address, line = seq.rows[0][0], 1
        for at, row_line in seq.rows:
            if at != address:
                program += b"\x02" + uleb(at - address)
                address = at
            if row_line != line:
                program += b"\x03" + sleb(row_line - line)
                line = row_line
            program += b"\x01"
        if seq.end != address:
            program += b"\x02" + uleb(seq.end - address)
        program += b"\x00\x01\x01"
    # unit_length, version, header_length, header, program
    before_header = 2 + 4
    body = struct.pack("<H", 4) + struct.pack("<I", len(header)) + header + program
    unit = struct.pack("<I", len(body)) + body
    start = 4 + before_header + len(header)
    return unit, [start + a for a in address_at]


def write_object(code: bytes, functions: Sequence[ObjectFunction],
                 relocations: Sequence[tuple[int, str]],
                 lines: Sequence[LineSequence] | None = None) -> bytes:
    """The relocatable object of ``code`` (the ``.ltext`` section): ``functions`` its
    symbols, ``relocations`` (offset, undefined symbol) its absolute 64-bit fixups,
    ``lines`` the optional line table."""
    # Symbols: null, the section, local functions, then globals (functions, externs).
    strtab = bytearray(b"\0")

    def name_at(name: str) -> int:
        at = len(strtab)
        strtab.extend(name.encode() + b"\0")
        return at

    text_index = 2
    symbols = [struct.pack("<IBBHQQ", 0, 0, 0, 0, 0, 0),
               struct.pack("<IBBHQQ", 0, _STT_SECTION, 0, text_index, 0, 0)]
    for fn in functions:
        if not fn.is_global:
            symbols.append(struct.pack("<IBBHQQ", name_at(fn.name), _STT_FUNC, 0,
                                       text_index, fn.offset, fn.size))
    first_global = len(symbols)
    for fn in functions:
        if fn.is_global:
            symbols.append(struct.pack("<IBBHQQ", name_at(fn.name),
                                       (_STB_GLOBAL << 4) | _STT_FUNC, 0, text_index,
                                       fn.offset, fn.size))
    extern_index: dict[str, int] = {}
    for _, name in relocations:
        if name not in extern_index:
            extern_index[name] = len(symbols)
            symbols.append(struct.pack("<IBBHQQ", name_at(name), _STB_GLOBAL << 4, 0, 0, 0, 0))
    rela = b"".join(struct.pack("<QQq", offset, (extern_index[name] << 32) | R_X86_64_64, 0)
                    for offset, name in relocations)
    # Sections: null, .strtab (also the section names), .ltext, .rela.ltext,
    # .note.GNU-stack, .symtab[, .debug_line, .rela.debug_line].
    section_names = [".ltext", ".rela.ltext", ".note.GNU-stack", ".symtab", ".strtab"]
    if lines is not None:
        section_names += [".debug_line", ".rela.debug_line"]
    name_offsets = {name: name_at(name) for name in section_names}
    symtab = b"".join(symbols)
    parts: list[tuple[str, int, int, bytes, int, int, int, int]] = []
    # (name, type, flags, data, link, info, align, entsize)
    parts.append((".strtab", _SHT_STRTAB, 0, b"", 0, 0, 1, 0))  # data filled below
    parts.append((".ltext", _SHT_PROGBITS, _SHF_ALLOC | _SHF_EXECINSTR | _SHF_X86_64_LARGE,
                  bytes(code), 0, 0, 16, 0))
    parts.append((".rela.ltext", _SHT_RELA, _SHF_INFO_LINK, rela, 5, text_index, 8, 24))
    parts.append((".note.GNU-stack", _SHT_PROGBITS, 0, b"", 0, 0, 1, 0))
    parts.append((".symtab", _SHT_SYMTAB, 0, symtab, 1, first_global, 8, 24))
    if lines is not None:
        debug_line, address_at = _debug_line(lines)
        debug_rela = b"".join(
            struct.pack("<QQq", at, (1 << 32) | R_X86_64_64,
                        struct.unpack_from("<Q", debug_line, at)[0]) for at in address_at)
        # The addend carries the address; the field itself is zero, as LLVM writes it.
        patched = bytearray(debug_line)
        for at in address_at:
            patched[at:at + 8] = bytes(8)
        parts.append((".debug_line", _SHT_PROGBITS, 0, bytes(patched), 0, 0, 1, 0))
        parts.append((".rela.debug_line", _SHT_RELA, _SHF_INFO_LINK, debug_rela, 5, 6, 8, 24))
    strtab_bytes = bytes(strtab)
    out = bytearray(64)
    headers = [bytes(64)]
    for name, sh_type, flags, data, link, info, align, entsize in parts:
        if name == ".strtab":
            data = strtab_bytes
        pad = (-len(out)) % max(align, 1)
        out.extend(bytes(pad))
        offset = len(out)
        out.extend(data)
        headers.append(struct.pack("<IIQQQQIIQQ", name_offsets[name], sh_type, flags, 0,
                                   offset, len(data), link, info, align, entsize))
    out.extend(bytes((-len(out)) % 8))
    shoff = len(out)
    for header in headers:
        out.extend(header)
    elf_header = (b"\x7fELF" + bytes((2, 1, 1, 0)) + bytes(8)
                  + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, shoff, 0, 64, 0, 0, 64,
                                len(headers), 1))
    out[:64] = elf_header
    return bytes(out)


__all__ = ["LineSequence", "ObjectFunction", "write_object"]
