"""What an on-stack-replacement entry looks like from outside (``osr`` builds them):
its symbol, its IR signature, where it finds the locals, and the error for a loop that
cannot have one.  Separate from ``osr`` because ``state`` needs these to open an OSR
entry's function, and ``osr``'s hooks need ``state``.
"""

from __future__ import annotations

from pyjitwasm.ir.function import AbiParam, Signature
from pyjitwasm.ir.types import I64, POINTER
from pyjitwasm.translate.ir_types import from_wasm
from pyjitwasm.wasm.types import FuncType

OSR_LOCALS_PURPOSE = "osr_locals"
"""The purpose of an OSR entry's second IR parameter, the address of local 0's slot.
``jit/lower.py`` (which may not import this stage) spells the same string: such a
parameter takes the place other wasm functions give their caller's vmctx, so the C
signature is ``R entry(uint64_t vmctx, uint64_t locals)``."""

LOCAL_SLOT_SIZE = 8
"""Bytes per local in the tier-0 frame: local ``i``'s slot is ``8 * i`` bytes below
local 0's (x64's frame: local ``i`` at ``[rbp - 32 - 8i]``)."""


class OsrError(ValueError):
    """An OSR entry was asked for a loop that cannot have one."""


def osr_function_name(func_index: int, loop_offset: int) -> str:
    """The symbol of the OSR entry of function ``func_index`` at the loop whose
    ``Instr.offset`` is ``loop_offset`` (never a normal function's ``wasm_func_N``)."""
    return f"wasm_osr_{func_index}_{loop_offset}"


def osr_signature(ftype: FuncType) -> Signature:
    """The IR signature of an OSR entry of a function of type ``ftype``:
    ``(i64 vmctx, i64 locals) -> results``."""
    return Signature([AbiParam(POINTER, "vmctx"), AbiParam(I64, OSR_LOCALS_PURPOSE)],
                     [from_wasm(t) for t in ftype.results])


__all__ = ["LOCAL_SLOT_SIZE", "OSR_LOCALS_PURPOSE", "OsrError", "osr_function_name",
           "osr_signature"]
