"""What ``pyjitwasm run -v`` prints about compilation: a line per compiled batch and per
tier-up as it happens, and a one-line summary at the end, all on stderr.

It listens to the runtime's compile events (``runtime/jit/compile_events.py``, the
``pyjitwasm.compile`` logger) with a ``logging.Handler``; the runtime itself prints
nothing.  Times are seconds since the command started.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from pyjitwasm.runtime.jit.compile_events import (
    BACKGROUND_KINDS,
    CompileEvent,
    TierUpRequested,
    logger,
)

PREFIX = "pyjitwasm:"
FUNCTIONS_PER_LINE = 4
"""Functions named on a batch line at ``-v`` (``-vv`` names all of them)."""


class CompileReport(logging.Handler):
    """Prints compile events to ``stream`` as they come (from any thread) and keeps the
    totals for :meth:`summary`.  ``started``: the ``time.perf_counter()`` times are
    shown relative to."""

    def __init__(self, stream: TextIO, verbosity: int = 1, started: float | None = None):
        super().__init__(logging.INFO)
        self.stream = stream
        self.verbosity = verbosity
        self.started = time.perf_counter() if started is None else started
        self.events: list[CompileEvent] = []
        self.tier_up_requests: list[TierUpRequested] = []
        self.entered_at: float | None = None  # when the program's first export was called
        self.phases: dict[str, float] = {}  # command phases (load, instantiate): seconds

    def emit(self, record: logging.LogRecord) -> None:
        # logging.Handler.handle holds the handler's lock around this: one writer.
        event = getattr(record, "compile_event", None)
        if isinstance(event, TierUpRequested):
            self.tier_up_requests.append(event)
            if self.verbosity < 2:
                return  # -v shows the tier-up when it is done
            line = f"[{event.at - self.started:8.3f}s] {event}"
        elif isinstance(event, CompileEvent):
            self.events.append(event)
            line = self.describe(event)
        else:
            return
        try:
            self.stream.write(f"{PREFIX} {line}\n")
            self.stream.flush()
        except (OSError, ValueError):
            pass  # stderr closed: the report is not worth failing the program for

    def mark_entry(self) -> None:
        """The program's code is about to be entered (``_start`` or ``--invoke``)."""
        self.entered_at = time.perf_counter()

    def describe(self, event: CompileEvent) -> str:
        """The line printed for ``event``."""
        limit = None if self.verbosity >= 2 else FUNCTIONS_PER_LINE
        line = f"[{event.finished_at - self.started:8.3f}s] {event.describe(limit)}"
        if event.requested_at is not None:
            line += (f", requested at {event.requested_at - self.started:.3f}s "
                     f"(waited {event.finished_at - event.seconds - event.requested_at:.3f}s)")
        return line

    def first_instruction_at(self) -> float | None:
        """When the first wasm instruction of the program ran (perf_counter), as near
        as the events tell: entry, or the end of the lazy compile entry started."""
        if self.entered_at is None:
            return None
        after = [e.finished_at for e in self.events
                 if e.kind == "lazy" and e.finished_at >= self.entered_at]
        return min(after, default=self.entered_at)

    def summary(self) -> str:
        """One line: functions compiled of the module's total, batches, compile seconds
        (and their split), tier-ups, cache hits and misses, start-up phases, time to
        the first wasm instruction."""
        own = [e for e in self.events if e.kind not in BACKGROUND_KINDS]
        ups = [e for e in self.events if e.kind == "tier-up"]
        ahead = [e for e in self.events if e.kind == "ahead"]
        compiled = {f.index for e in own for f in e.functions}
        parts: list[str] = []
        if own:
            total = max(e.defined_functions for e in own)
            seconds = sum(e.seconds for e in own)
            parts.append(
                f"{len(compiled)} of {total} functions compiled in {len(own)} "
                f"batch{'es' * (len(own) != 1)}, {seconds:.3f}s (front end "
                f"{sum(e.front_end_seconds for e in own):.3f}s, LLVM "
                f"{sum(e.llvm_seconds for e in own):.3f}s, link "
                f"{sum(e.link_seconds for e in own):.3f}s)")
        else:
            parts.append("nothing compiled")
        done = [e for e in ups if e.error is None]
        failed = len(ups) - len(done)
        # Requested but not finished: still queued or compiling as the program ended.
        upped = {f.index for e in ups for f in e.functions}
        unfinished = len({r.function.index for r in self.tier_up_requests} - upped)
        if ups or unfinished:
            parts.append(f"{len(done)} tier-up{'s' * (len(done) != 1)} "
                         f"({sum(e.seconds for e in done):.3f}s in the background"
                         + (f", {failed} failed" if failed else "")
                         + (f", {unfinished} unfinished at exit" if unfinished else "") + ")")
        else:
            parts.append("no tier-ups")
        if ahead:
            parts.append(f"{sum(len(e.functions) for e in ahead)} functions compiled ahead "
                         f"in {len(ahead)} batch{'es' * (len(ahead) != 1)} "
                         f"({sum(e.seconds for e in ahead):.3f}s in the background)")
        hits = sum(1 for e in self.events if e.cache == "hit")
        misses = sum(1 for e in self.events if e.cache == "miss")
        if hits or misses:
            parts.append(f"cache {hits} hit{'s' * (hits != 1)}, "
                         f"{misses} miss{'es' * (misses != 1)}")
        for kind in ("precompiled", "preloaded"):
            count = sum(1 for e in own if e.kind == kind)
            if count:
                parts.append(f"{count} {kind}")
        parts.extend(f"{name} {seconds:.3f}s" for name, seconds in self.phases.items())
        first = self.first_instruction_at()
        if first is not None:
            parts.append(f"first wasm instruction at {first - self.started:.3f}s")
        parts.append(f"total {time.perf_counter() - self.started:.3f}s")
        return f"{PREFIX} " + "; ".join(parts)


@contextmanager
def compile_report(verbosity: int, stream: TextIO,
                   started: float | None = None) -> Iterator[CompileReport | None]:
    """A :class:`CompileReport` listening while the block runs, or None (and no
    listener) when ``verbosity`` is 0.  The summary is the caller's to print."""
    if verbosity <= 0:
        yield None
        return
    report = CompileReport(stream, verbosity, started)
    previous_level = logger.level
    logger.addHandler(report)
    logger.setLevel(logging.INFO)
    try:
        yield report
    finally:
        logger.removeHandler(report)
        logger.setLevel(previous_level)


__all__ = ["CompileReport", "compile_report"]
