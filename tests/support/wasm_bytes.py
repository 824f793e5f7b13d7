"""Writing wasm binary encodings by hand: LEB128 integers and sections (for test
modules generated without a text-format round trip)."""

from __future__ import annotations

from pyjitwasm.jit.leb128 import sleb, uleb


def section(section_id: int, payload: bytes) -> bytes:
    """A section: its id, the payload's size and the payload."""
    return bytes([section_id]) + uleb(len(payload)) + payload


__all__ = ["section", "sleb", "uleb"]  # LEB128 writers: pyjitwasm.jit.leb128
