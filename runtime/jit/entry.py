"""What every entry into compiled code from Python shares: turning a non-zero
``pyjitwasm_invoke`` status into the exception it stands for.  (The native stack budget
is the store's, in its limits record, read by ``pyjitwasm_invoke`` itself.)

Traps become :class:`Trap` with the backtrace the native layer recorded; an exception a
host function raised comes back as the same object, carrying the wasm frames it crossed
in ``wasm_frames`` (when the object accepts attributes).
"""

from __future__ import annotations

from pyjitwasm.runtime.errors import Frame, Trap
from pyjitwasm.runtime.jit.codemap import frames_for
from pyjitwasm.runtime.native import (
    STATUS_HOST_EXCEPTION,
    _pending,
    last_trap_pcs,
    sigint_interrupted,
)
from pyjitwasm.wasm.traps import TrapCode


def _add_wasm_frames(exc: BaseException, frames: list[Frame]) -> None:
    """Record on a host exception the wasm frames it unwound through (outer ones last)."""
    earlier: list[Frame] = getattr(exc, "wasm_frames", [])
    try:
        setattr(exc, "wasm_frames", list(earlier) + frames)  # noqa: B010 - user exception
    except AttributeError:
        pass  # an exception type with __slots__ takes no extra attribute


def raise_status(status: int) -> None:
    """Raise what a non-zero invoke status stands for, with its wasm backtrace.

    Only a trap's frames get instruction offsets: finding them may compile the code on
    the backtrace again (``codemap.frames_for``), which an ordinary host exception
    crossing wasm (a WASI exit, say) should not pay for."""
    exc = _status_exception(status)
    try:
        raise exc
    finally:
        # A local naming the exception in the frame that raises it makes a cycle
        # (exception -> traceback -> this frame -> exception) that keeps the frames'
        # locals, and so the store, alive until a cyclic collection.
        del exc


def _status_exception(status: int) -> BaseException:
    pcs = last_trap_pcs()
    if status == STATUS_HOST_EXCEPTION:
        exc = getattr(_pending, "exception", None)
        _pending.exception = None
        if exc is None:
            return RuntimeError("host function failed without an exception")
        frames = frames_for(pcs, offsets=isinstance(exc, Trap | RecursionError))
        if isinstance(exc, RecursionError):
            trap = Trap(TrapCode.STACK_OVERFLOW)
            trap.frames = frames
            trap.__cause__ = exc
            return trap
        if isinstance(exc, Trap):
            # A trap from a nested call keeps its own (inner) frames; add ours.
            exc.frames = list(exc.frames) + frames
            return exc
        _add_wasm_frames(exc, frames)
        return exc
    if status - 1 == TrapCode.INTERRUPT and sigint_interrupted():
        return KeyboardInterrupt()  # Ctrl-C stopped the code (native.c's SIGINT handler)
    trap = Trap(TrapCode(status - 1))
    trap.frames = frames_for(pcs)
    return trap
