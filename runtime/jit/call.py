"""Calling functions of a JIT store from Python.

A wasm function runs through its signature's entry shim and ``pyjitwasm_invoke``; a
host function is called directly.  Traps become :class:`Trap` with the backtrace the
native layer recorded; an exception a host function raised comes back as the same
object, carrying the wasm frames it crossed in ``wasm_frames``.
"""

from __future__ import annotations

from typing import Any

from pyjitwasm.runtime.errors import Trap
from pyjitwasm.runtime.functions import FuncInstance
from pyjitwasm.runtime.jit.codemap import frames_for
from pyjitwasm.runtime.jit.store import JitStoreContext
from pyjitwasm.runtime.native import (
    STATUS_HOST_EXCEPTION,
    _pending,
    last_trap_pcs,
    lib,
    set_max_wasm_stack,
)
from pyjitwasm.wasm.traps import TrapCode

budget_cell = [lib.pyjitwasm_get_max_wasm_stack()]
"""The native stack budget currently set (process-wide in the native layer)."""


def set_budget(ctx: JitStoreContext) -> None:
    """Make the native stack budget ``ctx``'s (called when no wasm is running)."""
    set_max_wasm_stack(ctx.max_wasm_stack)
    budget_cell[0] = ctx.max_wasm_stack


def invoke(func: FuncInstance, args: list[Any]) -> list[Any]:
    """Call ``func`` with runtime-representation arguments; return its results."""
    if func.host is not None:
        return func.host(None, list(args))
    jf = func.compiled
    caller = jf.caller
    if caller is None:
        caller = jf.caller = caller_for(func)
    return caller(args)  # type: ignore[no-any-return]


def raise_status(status: int) -> None:
    """Raise what a non-zero invoke status stands for, with its wasm backtrace."""
    frames = frames_for(last_trap_pcs())
    if status == STATUS_HOST_EXCEPTION:
        exc = getattr(_pending, "exception", None)
        _pending.exception = None
        if exc is None:
            raise RuntimeError("host function failed without an exception")
        if isinstance(exc, RecursionError):
            trap = Trap(TrapCode.STACK_OVERFLOW)
            trap.frames = frames
            raise trap from exc
        if isinstance(exc, Trap):
            # A trap from a nested call keeps its own (inner) frames; add ours.
            exc.frames = list(exc.frames) + frames
            raise exc
        if not hasattr(exc, "wasm_frames"):
            try:
                exc.wasm_frames = frames  # type: ignore[attr-defined]
            except AttributeError:
                pass
        else:
            exc.wasm_frames = list(exc.wasm_frames) + frames  # type: ignore[attr-defined]
        raise exc
    trap = Trap(TrapCode(status - 1))
    trap.frames = frames
    raise trap


from pyjitwasm.runtime.jit.callers import caller_for  # noqa: E402 - callers uses this module's helpers
