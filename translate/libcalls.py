"""The runtime entry points compiled code calls (libcalls): names, signatures, contracts.

The translator declares each one it uses as an external function ``%libcall_<name>``
whose signature is ``(i64 vmctx, params...) -> returns``; the JIT implements them and
resolves the names (``index`` is the libcall's slot in the table vmctx points at, see
``vmctx.LIBCALLS_OFFSET``). Conventions:

* The first argument is always the calling instance's vmctx. Entity numbers (memory,
  table, data segment, element segment) are in that module's index spaces (imports
  first) and passed as i64 constants.
* Addresses, indices, lengths and deltas are i64 whatever the guest's index type (32-bit
  guests zero-extend), so one implementation serves memory32/64 and table32/64.
* Reference arguments and results are ``r64`` in the SSA representation (see ``vmctx``:
  a funcref is its VMFuncRef address, an externref the host handle, null is 0), never
  the tagged table-element encoding; the libcall encodes and decodes table elements.
* Libcalls never unwind or trap by themselves: a libcall that can fail returns an i64
  status, 0 for success, and the compiled code traps with ``trap`` when it is not 0. So
  they may be written in C or as Python callbacks without crossing compiled frames.
* ``memory_grow``/``table_grow`` return the old size (pages / elements) or -1 (all ones)
  when the size cannot grow; 32-bit guests truncate the result to i32 (-1 stays -1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import I32, I64, POINTER, R64, Type
from pyjitwasm.translate.vmctx import (
    LIBCALL_HOST_CALL,
    LIBCALL_MEMORY_GROW,
    LIBCALL_TABLE_LAZY_INIT,
    LIBCALL_TRAP,
)

if TYPE_CHECKING:
    from pyjitwasm.ir.function import Signature


@dataclass(frozen=True, slots=True)
class Libcall:
    """One runtime entry point."""

    name: str
    index: int
    params: tuple[Type, ...]  # after the leading vmctx
    returns: tuple[Type, ...]
    trap: TrapCode | None  # a nonzero status result means this trap
    doc: str
    cold: bool = False  # called only on a rarely taken slow path
    in_ir: bool = True  # False: only x64's machine code calls it, never translated IR

    @property
    def symbol(self) -> str:
        """The IR external function name (without the ``%``)."""
        return "libcall_" + self.name

    def signature(self) -> Signature:
        """The IR signature: vmctx, then ``params``."""
        # Imported here: the runtime and x64/ read this table but never build IR.
        from pyjitwasm.ir.function import AbiParam, Signature

        return Signature([AbiParam(POINTER, "vmctx")] + [AbiParam(t) for t in self.params],
                         list(self.returns))


_STATUS = (I64,)

MEMORY_GROW = Libcall(
    "memory_grow", LIBCALL_MEMORY_GROW, (I64, I64), (I64,), None,
    "(memory, delta_pages) -> old size in pages, or -1. May move the memory's base.")
TABLE_LAZY_INIT = Libcall(
    "table_lazy_init", LIBCALL_TABLE_LAZY_INIT, (I64, I64), (POINTER,), None,
    "(table, index) -> VMFuncRef address or 0 (null) of an element that reads as 0 "
    "(uninitialized); also stores the element's encoding in the table. The index is in "
    "bounds (the caller checked).")
MEMORY_FILL = Libcall(
    "memory_fill", 4, (I64, I64, I32, I64), _STATUS, TrapCode.MEMORY_OUT_OF_BOUNDS,
    "(memory, dst, byte value, length) -> status; nothing is written when out of bounds.")
MEMORY_COPY = Libcall(
    "memory_copy", 5, (I64, I64, I64, I64, I64), _STATUS, TrapCode.MEMORY_OUT_OF_BOUNDS,
    "(dst memory, src memory, dst, src, length) -> status; overlapping ranges copy as if "
    "through a temporary buffer.")
MEMORY_INIT = Libcall(
    "memory_init", 6, (I64, I64, I64, I64, I64), _STATUS, TrapCode.MEMORY_OUT_OF_BOUNDS,
    "(memory, data segment, dst, src offset in the segment, length) -> status; a dropped "
    "segment has length 0.")
DATA_DROP = Libcall("data_drop", 7, (I64,), (), None, "(data segment) -> nothing.")
TABLE_GROW = Libcall(
    "table_grow", 8, (I64, R64, I64), (I64,), None,
    "(table, init value, delta) -> old size in elements, or -1. May move the elements.")
TABLE_FILL = Libcall(
    "table_fill", 9, (I64, I64, R64, I64), _STATUS, TrapCode.TABLE_OUT_OF_BOUNDS,
    "(table, dst, value, length) -> status.")
TABLE_COPY = Libcall(
    "table_copy", 10, (I64, I64, I64, I64, I64), _STATUS, TrapCode.TABLE_OUT_OF_BOUNDS,
    "(dst table, src table, dst, src, length) -> status; overlap-safe.")
TABLE_INIT = Libcall(
    "table_init", 11, (I64, I64, I64, I64, I64), _STATUS, TrapCode.TABLE_OUT_OF_BOUNDS,
    "(table, element segment, dst, src offset in the segment, length) -> status; a "
    "dropped segment has length 0.")
ELEM_DROP = Libcall("elem_drop", 12, (I64,), (), None, "(element segment) -> nothing.")
TIER_UP = Libcall(
    "tier_up", 15, (I64,), (), None,
    "(defined function number) -> nothing. Tier-0 code calls it when the function's "
    "tier-up counter goes negative; the runtime queues the function for tier 1.")
TIER_UP_LOOP = Libcall(
    "tier_up_loop", 16, (I64, I64, I64), (I64,), None,
    "(defined function number, wasm offset of a loop instruction, its OSR slot number) -> "
    "OSR entry. x64 tier-0 "
    "code calls it when the count runs out at that loop's header: the runtime queues the "
    "function for tier 1 and the loop for on-stack replacement (translate/tiering.py's "
    "OSR slots); the result is the entry's address, OSR_PENDING or OSR_NEVER.", cold=True,
    in_ir=False)

# Interruption (translate/interrupts.py): called on the cold path of a check.
EPOCH_DEADLINE_REACHED = Libcall(
    "epoch_deadline_reached", 13, (), _STATUS, TrapCode.INTERRUPT,
    "() -> status; an epoch check saw the engine's epoch at or past the store's deadline: "
    "nonzero when it still is (the store's deadline may have moved meanwhile).", cold=True)
OUT_OF_FUEL = Libcall(
    "out_of_fuel", 14, (), _STATUS, TrapCode.OUT_OF_FUEL,
    "() -> status; a fuel check saw the store's consumed fuel at or past what it was "
    "given: nonzero when it still is (the host may have added fuel meanwhile).", cold=True)

LIBCALLS: tuple[Libcall, ...] = (
    MEMORY_GROW, TABLE_LAZY_INIT, MEMORY_FILL, MEMORY_COPY, MEMORY_INIT, DATA_DROP,
    TABLE_GROW, TABLE_FILL, TABLE_COPY, TABLE_INIT, ELEM_DROP,
    EPOCH_DEADLINE_REACHED, OUT_OF_FUEL, TIER_UP, TIER_UP_LOOP,
)
"""Every libcall the translator may emit."""

LIBCALLS_BY_SYMBOL: dict[str, Libcall] = {lc.symbol: lc for lc in LIBCALLS}

RESERVED_INDICES = {LIBCALL_TRAP: "trap", LIBCALL_HOST_CALL: "host_call"}
"""Libcall-table slots the back end and host shims use (never named in IR)."""

NUM_LIBCALL_SLOTS = 1 + max(lc.index for lc in LIBCALLS)
"""Entries the runtime's libcall table needs."""
