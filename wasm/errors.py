"""Errors raised while reading and checking a WebAssembly module."""

from __future__ import annotations


class WasmError(Exception):
    """Base class of every error pyjitwasm raises about a module or its execution."""


class DecodeError(WasmError):
    """The bytes are not a well-formed WebAssembly binary (the spec's "malformed").

    ``offset`` is the byte offset in the module where the problem was found.
    """

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} (at offset 0x{offset:x})")
        self.message = message
        self.offset = offset


class UnsupportedFeatureError(DecodeError):
    """The module uses a WebAssembly proposal that pyjitwasm does not implement.

    ``proposal`` names it, e.g. ``"garbage collection"`` or ``"exception handling"``;
    ``disabled`` is true when pyjitwasm implements it but ``Features`` switched it off.
    """

    def __init__(self, proposal: str, what: str, offset: int, *, disabled: bool = False) -> None:
        # ``disabled``: pyjitwasm implements the proposal but the configuration turned it off.
        status = "which is disabled" if disabled else "which is not supported"
        super().__init__(f"{what} requires the {proposal} proposal, {status}", offset)
        self.proposal = proposal
        self.disabled = disabled


class ValidationError(WasmError):
    """The module is well-formed but not valid (the spec's "invalid").

    ``func_index`` is the function (in the module's function index space) whose body is
    invalid, or None when the problem is outside function bodies; ``offset`` is the byte
    offset of the offending instruction or entry, when known.
    """

    def __init__(self, message: str, func_index: int | None = None, offset: int | None = None):
        where = []
        if func_index is not None:
            where.append(f"function {func_index}")
        if offset is not None:
            where.append(f"offset 0x{offset:x}")
        text = f"{message} (in {', '.join(where)})" if where else message
        super().__init__(text)
        self.message = message
        self.func_index = func_index
        self.offset = offset
