"""Errors the runtime raises: traps, link failures and other instantiation failures."""

from __future__ import annotations

from typing import NamedTuple

from pyjitwasm.wasm.errors import WasmError
from pyjitwasm.wasm.traps import TrapCode

# How many frames at each end of a long backtrace ``str(trap)`` shows.
SHOWN_FRAMES = 20


class Frame(NamedTuple):
    """One WebAssembly activation in a trap's (or host exception's) backtrace.

    ``func_offset`` is the offset of the instruction relative to the start of the
    function's body (its size field); ``module_offset`` is its offset in the module binary.
    """

    func_index: int
    func_name: str | None
    module_name: str | None
    func_offset: int | None
    module_offset: int | None

    def __str__(self) -> str:
        name = self.func_name or f"<wasm function {self.func_index}>"
        module = f"{self.module_name}!" if self.module_name else ""
        where = f" @ 0x{self.module_offset:x}" if self.module_offset is not None else ""
        return f"{module}{name}{where}"


class Trap(Exception):  # noqa: N818 - the name wasmtime-py uses
    """A WebAssembly trap: execution stopped abnormally.

    ``trap_code`` says why, ``message`` is the specification's wording (the trap code's
    message unless a more specific one was given) and ``frames`` is the WebAssembly
    backtrace, innermost activation first.
    """

    def __init__(self, trap_code: TrapCode, message: str | None = None) -> None:
        self.trap_code = trap_code
        self.message = message or trap_code.message
        self.frames: list[Frame] = []
        super().__init__(self.message)

    def __str__(self) -> str:
        if not self.frames:
            return self.message
        frames = self.frames
        if len(frames) > 2 * SHOWN_FRAMES:
            # Runaway recursion leaves thousands of identical frames: show both ends.
            omitted = len(frames) - 2 * SHOWN_FRAMES
            lines = [f"  {i}: {frame}" for i, frame in enumerate(frames[:SHOWN_FRAMES])]
            lines.append(f"  ... {omitted} more frames ...")
            lines += [f"  {i}: {frame}" for i, frame in
                      enumerate(frames[-SHOWN_FRAMES:], start=len(frames) - SHOWN_FRAMES)]
        else:
            lines = [f"  {i}: {frame}" for i, frame in enumerate(frames)]
        trace = "\n".join(lines)
        return f"{self.message}\nwasm backtrace:\n{trace}"


class LinkError(WasmError):
    """An import could not be satisfied: missing, or of the wrong kind or type."""


class InstantiationError(WasmError):
    """Instantiation failed for a reason that is neither a link error nor a trap
    (for example a memory too large to allocate)."""
