"""Function symbols of an ELF object, local ones included.

Global symbols are what the linker exports; wasm functions with internal linkage are
local symbols, and the compiler still needs their places and sizes to map a program
counter back to a wasm function.  The reading is ``elfsyms.read_object_symbols``'s (one
pass over the object gives the code layout and the function symbols).
"""

from __future__ import annotations

from pyjitwasm.jit.elfsyms import FunctionSymbol, read_object_symbols


def function_symbols(obj: bytes) -> list[FunctionSymbol]:
    """Every function symbol (global or local) an ELF64 little-endian object defines."""
    return read_object_symbols(obj).functions


__all__ = ["FunctionSymbol", "function_symbols"]
