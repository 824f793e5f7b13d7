"""Compile events: what the JIT compiled, why, when, and what it cost, for whoever
listens (``pyjitwasm run -v``, an embedder's log, a profiler).

``ModuleCode`` reports every batch of machine code it makes or loads as a
:class:`CompileEvent` on the standard-library logger ``pyjitwasm.compile``
(:data:`LOGGER_NAME`) at ``INFO`` level: the record's message is the event's one-line
description and the event object itself is the record's ``compile_event`` attribute.
The runtime never prints; a listener attaches a ``logging.Handler`` to that logger (and
sets its level to ``INFO``).  Nothing is built when nobody listens: the runtime asks
:func:`listening` (one cached ``Logger.isEnabledFor``) before making an event.

Kinds of batch (:attr:`CompileEvent.kind`):

- ``"lazy"``: compiled at tier 0 (or tier 1 without tiers) because a function was
  called for the first time (the first function of the batch; the others are its
  direct callees taken along);
- ``"eager"``: compiled when the module's code was made (lazy compilation off);
- ``"precompiled"``: loaded from a deserialized module (``.cwasm``) or from worker
  processes, not compiled here;
- ``"tier-up"``: recompiled at tier 1 in the background (in the compile worker process,
  or on the background compiler thread) because the first function got hot;
  ``requested_at`` is when it asked, ``error`` set when the compile failed (the function
  then stays at tier 0);
- ``"preloaded"``: loaded from the code cache at a warm start, before the program runs,
  because an earlier run recorded it;
- ``"ahead"``: compiled at tier 0 in the compile worker process before any call, because
  the first function is a direct callee of code compiled just before
  (``compile_worker.py``);
- ``"osr"``: an on-stack-replacement entry of the first function, compiled at tier 1
  on the background compiler thread because tier-0 code running one of its loops
  asked for it (``runtime/jit/osr.py``); ``error`` set when the compile failed.

Before a tier-up is compiled, the moment its function got hot is a
:class:`TierUpRequested` event (same logger, same attribute), sent from the thread
running the wasm code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

LOGGER_NAME = "pyjitwasm.compile"
"""The logger compile events go to."""

logger = logging.getLogger(LOGGER_NAME)

KINDS = ("lazy", "eager", "precompiled", "tier-up", "ahead", "preloaded", "osr")
BACKGROUND_KINDS = ("tier-up", "ahead", "osr")
"""Kinds compiled while the program runs on, not while it waits."""


@dataclass(frozen=True)
class CompiledFunction:
    """One function of a batch: wasm function index, name-section name (None when the
    module has none for it), and how many wasm instructions its body has."""

    index: int
    name: str | None
    instructions: int

    def __str__(self) -> str:
        return f"{self.index}" + (f" <{self.name}>" if self.name else "")


@dataclass(frozen=True)
class CompileEvent:
    """One batch of a module's functions compiled (or loaded) into this process.

    Times are ``time.perf_counter()`` values (``finished_at``, ``requested_at``) or
    seconds.  ``front_end_seconds`` is translation, legalization, verification and
    lowering to LLVM text; ``llvm_seconds`` LLVM's parsing, optimization and code
    generation; ``link_seconds`` loading the object into memory; ``seconds`` the whole
    batch as the runtime saw it (cache look-up and publishing included).  ``cache`` is
    ``"hit"``, ``"miss"`` or None (no code cache for this batch).  ``defined_functions``
    is how many functions the module defines, for "compiled k of n"."""

    kind: str
    tier: int
    functions: tuple[CompiledFunction, ...]
    seconds: float
    front_end_seconds: float
    llvm_seconds: float
    link_seconds: float
    cache: str | None
    finished_at: float
    defined_functions: int
    module_name: str | None = None
    requested_at: float | None = None
    error: str | None = None

    @property
    def instructions(self) -> int:
        """Wasm instructions in the batch."""
        return sum(f.instructions for f in self.functions)

    def describe(self, max_functions: int | None = 4) -> str:
        """One line about the batch; lists at most ``max_functions`` functions (None:
        all of them)."""
        shown = self.functions if max_functions is None else self.functions[:max_functions]
        names = ", ".join(str(f) for f in shown)
        if len(shown) < len(self.functions):
            names += f", +{len(self.functions) - len(shown)} more"
        count = len(self.functions)
        parts = [f"{self.kind} tier {self.tier}: {count} function{'s' * (count != 1)} "
                 f"[{names}], {self.instructions} instrs, {self.seconds:.3f}s "
                 f"(front end {self.front_end_seconds:.3f}s, LLVM {self.llvm_seconds:.3f}s, "
                 f"link {self.link_seconds:.3f}s)"]
        if self.cache is not None:
            parts.append(f"cache {self.cache}")
        if self.error is not None:
            parts.append(f"failed: {self.error}")
        return ", ".join(parts)

    def __str__(self) -> str:
        return self.describe()


@dataclass(frozen=True)
class TierUpRequested:
    """Defined function ``function`` got hot at ``at`` (``time.perf_counter()``) and
    was queued for tier 1 on the background compiler."""

    function: CompiledFunction
    at: float
    module_name: str | None = None

    def __str__(self) -> str:
        return f"tier-up requested: function {self.function}"


def listening() -> bool:
    """Whether anything would receive a compile event (check before building one)."""
    return logger.isEnabledFor(logging.INFO)


def emit(event: CompileEvent | TierUpRequested) -> None:
    """Send ``event`` to the ``pyjitwasm.compile`` logger."""
    # The message is formatted only if a handler emits the record.
    logger.info("%s", event, extra={"compile_event": event})


__all__ = ["BACKGROUND_KINDS", "KINDS", "LOGGER_NAME", "CompileEvent", "CompiledFunction",
           "TierUpRequested", "emit", "listening", "logger"]
