"""What every entry into compiled code from Python shares: the native stack budget, and
turning a non-zero ``pyjitwasm_invoke`` status into the exception it stands for.

Traps become :class:`Trap` with the backtrace the native layer recorded; an exception a
host function raised comes back as the same object, carrying the wasm frames it crossed
in ``wasm_frames`` (when the object accepts attributes).
"""

from __future__ import annotations

from pyjitwasm.runtime.errors import Frame, Trap
from pyjitwasm.runtime.jit.codemap import frames_for
from pyjitwasm.runtime.jit.store import JitStoreContext
from pyjitwasm.runtime.native import (
    STATUS_HOST_EXCEPTION,
    _pending,
    last_trap_pcs,
    lib,
    set_max_wasm_stack,
    sigint_interrupted,
)
from pyjitwasm.wasm.traps import TrapCode

budget_cell = [lib.pyjitwasm_get_max_wasm_stack()]
"""The native stack budget currently set (process-wide in the native layer)."""


def set_budget(ctx: JitStoreContext) -> None:
    """Make the native stack budget ``ctx``'s (called when no wasm is running)."""
    set_max_wasm_stack(ctx.max_wasm_stack)
    budget_cell[0] = ctx.max_wasm_stack


def _add_wasm_frames(exc: BaseException, frames: list[Frame]) -> None:
    """Record on a host exception the wasm frames it unwound through (outer ones last)."""
    earlier: list[Frame] = getattr(exc, "wasm_frames", [])
    try:
        setattr(exc, "wasm_frames", list(earlier) + frames)  # noqa: B010 - user exception
    except AttributeError:
        pass  # an exception type with __slots__ takes no extra attribute


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
        _add_wasm_frames(exc, frames)
        raise exc
    if status - 1 == TrapCode.INTERRUPT and sigint_interrupted():
        raise KeyboardInterrupt  # Ctrl-C stopped the code (native.c's SIGINT handler)
    trap = Trap(TrapCode(status - 1))
    trap.frames = frames
    raise trap
