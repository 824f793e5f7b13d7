"""Calling an on-stack-replacement entry from Python the way tier-0 code would.

An OSR entry is ``R entry(uint64_t vmctx, uint64_t locals)`` (``translate/osr.py``);
the runtime's entry shims call ``callee(vmctx, vmctx, args...)``.  So the call goes
through a three-instruction adapter, ``mov rsi, rdx; movabs rax, entry; jmp rax``,
entered through the entry shim of ``(i64) -> R`` with the locals' address as the
argument: the entry runs inside ``pyjitwasm_invoke`` (a trap is a ``Trap`` with its
backtrace, never a crash) and returns straight to the shim.

The locals buffer is laid out as x64's frame: local ``i``'s 8-byte slot ``8 * i``
bytes below local 0's, an i32/f32 in the low half of its slot with garbage
(``GARBAGE``) in the high half.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

from pyjitwasm.jit.compiler import link_objects
from pyjitwasm.jit.loaded import LoadedCode
from pyjitwasm.runtime.jit.entry import raise_status
from pyjitwasm.runtime.jit.shims import entry_shim
from pyjitwasm.runtime.native import ffi, lib
from pyjitwasm.wasm.types import F32, F64, I32, I64
from pyjitwasm.x64.elf import ObjectFunction, write_object

GARBAGE = 0xDEADBEEF
"""What the high half of an i32/f32 local's slot holds (x64 leaves whatever was there)."""

_adapters: dict[int, LoadedCode] = {}  # entry address -> its adapter (kept loaded)
_buffers: list[Any] = []  # locals buffers of the calls (kept, a trap may leave late)


def _adapter(entry: int) -> int:
    code = _adapters.get(entry)
    if code is None:
        body = (b"\x48\x89\xd6"  # mov rsi, rdx: the locals, where the entry wants them
                + b"\x48\xb8" + entry.to_bytes(8, "little")  # movabs rax, entry
                + b"\xff\xe0")  # jmp rax: the entry returns to the shim
        obj = write_object(body, [ObjectFunction("osr_adapter", 0, len(body), True)], [])
        code = _adapters[entry] = link_objects([obj], 1, {})[0]
    return code.address("osr_adapter")


def slot_bytes(valtype: int, value: int | float) -> bytes:
    """The 8 bytes of a local's slot holding ``value`` of wasm type ``valtype``."""
    if valtype == I32:
        return struct.pack("<II", value & 0xFFFFFFFF, GARBAGE)
    if valtype == F32:
        return struct.pack("<fI", value, GARBAGE)
    if valtype == I64:
        return struct.pack("<Q", value & 0xFFFFFFFFFFFFFFFF)
    if valtype == F64:
        return struct.pack("<d", value)
    raise ValueError(f"no slot for value type {valtype:#x}")


def call_osr_entry(vmctx: int, entry: int, locals_: Sequence[tuple[int, int | float]],
                   results: Sequence[int]) -> list[Any]:
    """Call OSR ``entry`` with instance ``vmctx`` and the locals ``(wasm type, value)``
    in index order; the function's results (an i32/i64 unsigned, as raw bits)."""
    n = max(len(locals_), 1)
    buffer = ffi.new("char[]", 8 * n)
    _buffers.append(buffer)
    base = int(ffi.cast("uintptr_t", buffer))
    local0 = base + 8 * (n - 1)  # local i at local0 - 8i
    for i, (valtype, value) in enumerate(locals_):
        ffi.memmove(ffi.cast("char *", local0 - 8 * i), slot_bytes(valtype, value), 8)
    values = ffi.new("uint64_t[]", 4)
    values[0] = local0
    shim = entry_shim([I64], list(results))
    status = lib.pyjitwasm_invoke(shim, _adapter(entry), vmctx,
                                  int(ffi.cast("uintptr_t", values)))
    if status:
        raise_status(status)
    raw = bytes(ffi.buffer(values, 16))
    out: list[Any] = []
    for valtype in results[:1]:
        if valtype == I32:
            out.append(struct.unpack_from("<I", raw)[0])
        elif valtype == I64:
            out.append(struct.unpack_from("<Q", raw)[0])
        elif valtype == F32:
            out.append(struct.unpack_from("<f", raw)[0])
        else:
            out.append(struct.unpack_from("<d", raw)[0])
    return out


__all__ = ["GARBAGE", "call_osr_entry", "slot_bytes"]
