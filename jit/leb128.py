"""LEB128 integers written out (DWARF's line programs use them, as wasm's binary format
does; ``dwarf_lines`` reads them)."""

from __future__ import annotations


def uleb(value: int) -> bytes:
    """``value`` (>= 0) as unsigned LEB128."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def sleb(value: int) -> bytes:
    """``value`` as signed LEB128."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40):
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


__all__ = ["sleb", "uleb"]
