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


# How Wasmtime describes each trap in a trap's text (``message`` keeps the spec's words).
WASMTIME_DESCRIPTIONS = {
    TrapCode.STACK_OVERFLOW: "call stack exhausted",
    TrapCode.MEMORY_OUT_OF_BOUNDS: "out of bounds memory access",
    TrapCode.HEAP_MISALIGNED: "unaligned atomic",
    TrapCode.TABLE_OUT_OF_BOUNDS: "undefined element: out of bounds table access",
    TrapCode.INDIRECT_CALL_TO_NULL: "uninitialized element",
    TrapCode.BAD_SIGNATURE: "indirect call type mismatch",
    TrapCode.INTEGER_OVERFLOW: "integer overflow",
    TrapCode.INTEGER_DIVISION_BY_ZERO: "integer divide by zero",
    TrapCode.BAD_CONVERSION_TO_INTEGER: "invalid conversion to integer",
    TrapCode.UNREACHABLE: "wasm `unreachable` instruction executed",
    TrapCode.INTERRUPT: "interrupt",
    TrapCode.OUT_OF_FUEL: "all fuel consumed by WebAssembly",
    TrapCode.NULL_REFERENCE: "null reference",
    TrapCode.UNDEFINED_ELEMENT: "undefined element: out of bounds table access",
}


class Trap(Exception):  # noqa: N818 - the name wasmtime-py uses
    """A WebAssembly trap: execution stopped abnormally.

    ``trap_code`` says why (None for a trap the host made with ``Trap("message")``, as
    in wasmtime-py), ``message`` is the specification's wording (the trap code's message
    unless a more specific one was given) and ``frames`` is the WebAssembly backtrace,
    innermost activation first. ``str(trap)`` is laid out as Wasmtime's.
    """

    def __init__(self, trap_code: TrapCode | str, message: str | None = None) -> None:
        if isinstance(trap_code, str):
            code, text = None, trap_code
        else:
            code, text = trap_code, message or trap_code.message
        self.trap_code: TrapCode | None = code
        self.message: str = text
        self.frames: list[Frame] = []
        super().__init__(self.message)

    def _cause(self) -> str:
        if self.trap_code is None:
            return self.message
        if self.message != self.trap_code.message:  # a more specific message was given
            return f"wasm trap: {self.message}"
        return f"wasm trap: {WASMTIME_DESCRIPTIONS[self.trap_code]}"

    def __str__(self) -> str:
        if not self.frames:
            return self._cause()
        frames = list(enumerate(self.frames))
        if len(frames) > 2 * SHOWN_FRAMES:
            # Runaway recursion leaves thousands of identical frames: show both ends.
            omitted = len(frames) - 2 * SHOWN_FRAMES
            lines = [_frame_line(i, f) for i, f in frames[:SHOWN_FRAMES]]
            lines.append(f"    ... {omitted} more frames ...")
            lines += [_frame_line(i, f) for i, f in frames[-SHOWN_FRAMES:]]
        else:
            lines = [_frame_line(i, f) for i, f in frames]
        trace = "\n".join(lines)
        return (f"error while executing at wasm backtrace:\n{trace}\n\n"
                f"Caused by:\n    {self._cause()}\n")


def _frame_line(index: int, frame: Frame) -> str:
    """One backtrace line as Wasmtime prints it: ``    0:     0x2d - module!func``."""
    name = frame.func_name or f"<wasm function {frame.func_index}>"
    module = frame.module_name or "<unknown>"
    where = f"{frame.module_offset:#8x} - " if frame.module_offset is not None else ""
    return f"  {index:>3}: {where}{module}!{name}"


class LinkError(WasmError):
    """An import could not be satisfied: missing, or of the wrong kind or type."""


class InstantiationError(WasmError):
    """Instantiation failed for a reason that is neither a link error nor a trap
    (for example a memory too large to allocate)."""
