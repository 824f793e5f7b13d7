"""Which compiled module a program counter belongs to, for backtraces.

Each batch of compiled code (``compile_module.py``'s ``CompiledModule``, registered by
``module_code.py`` before any code slot points into it) is known with its code ranges
while it is alive; :func:`frames_for` turns the PCs the native trap path recorded
into :class:`~pyjitwasm.runtime.errors.Frame` entries through the module's
``func_index_at``.
"""

from __future__ import annotations

import bisect
import functools
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Protocol

from pyjitwasm.runtime.errors import Frame
from pyjitwasm.runtime.native import lib, register_code_range, unregister_code_range
from pyjitwasm.wasm.module import WasmModule


class CodeRange(Protocol):
    """Half-open address range ``[start, end)`` of machine code."""

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


class MappedCode(Protocol):
    """What the code map needs of a compiled module."""

    @property
    def module(self) -> WasmModule: ...

    @property
    def code_ranges(self) -> Sequence[CodeRange]: ...

    @property
    def osr_entry(self) -> bool:
        """Whether this is an on-stack-replacement entry's code (called by a tier-0
        frame of the same function, which a backtrace does not show twice)."""
        ...

    def func_index_at(self, pc: int) -> int | None:
        """The function whose code contains ``pc``, if any."""
        ...

    def wasm_offset_at(self, func_index: int, pc: int) -> int | None:
        """The module offset of the wasm instruction ``pc`` belongs to, if known."""
        ...

    def on_release(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` before the code is released."""
        ...


# Reentrant: a collection while a thread holds it (any allocation may start one) can run
# a finalizer that unregisters collected code on that thread (``_forget``), which with a
# plain lock waited for itself forever.
_lock = threading.RLock()
_starts: list[int] = []
_entries: list[tuple[int, int, weakref.ref[MappedCode]]] = []
_known: dict[int, weakref.ref[MappedCode]] = {}


def register(compiled: MappedCode) -> None:
    """Track ``compiled``'s code ranges (and make sure the fault handler knows them)
    until it is released or collected.  Registering again is a no-op."""
    register_all([compiled])


def register_all(batches: Sequence[MappedCode]) -> None:
    """:func:`register` each of ``batches``, under one lock (a warm start registers
    its recorded batches a group at a time)."""
    fresh: list[tuple[MappedCode, list[tuple[int, int]],
                      list[tuple[int, int, weakref.ref[MappedCode]]],
                      list[tuple[int, int]]]] = []
    for compiled in batches:
        known = _known.get(id(compiled))
        if known is not None and known() is compiled:
            continue
        ref = weakref.ref(compiled)
        _known[id(compiled)] = ref
        ranges = [(r.start, r.end) for r in compiled.code_ranges]
        fresh.append((compiled, ranges, [(start, end, ref) for start, end in ranges], []))
    if not fresh:
        return
    with _lock:
        for _, _, entries, ours in fresh:
            for entry in entries:
                # No allocation between the search and the two inserts (the entry is
                # made above): a collection there may run a finalizer that unregisters
                # other code on this thread (``_lock`` is reentrant for it), which must
                # find ``_starts`` and ``_entries`` in step.
                start, end, _ = entry
                at = bisect.bisect_left(_starts, start)
                _starts.insert(at, start)
                _entries.insert(at, entry)
                if not lib.pyjitwasm_is_code_address(start):
                    register_code_range(start, end)
                    ours.append((start, end))
    for compiled, ranges, _, ours in fresh:
        # One finalizer: the ranges go when the code is released (``on_release``) or
        # collected, whichever comes first (``_unregister`` is idempotent per range).
        weakref.finalize(compiled, _forget, id(compiled), ranges, ours)
        compiled.on_release(functools.partial(_unregister, ranges, ours))


def _forget(key: int, ranges: list[tuple[int, int]], ours: list[tuple[int, int]]) -> None:
    _unregister(ranges, ours)
    _known.pop(key, None)


def _unregister(ranges: list[tuple[int, int]], ours: list[tuple[int, int]]) -> None:
    with _lock:
        for start, end in ranges:
            at = bisect.bisect_left(_starts, start)
            while at < len(_starts) and _starts[at] == start:
                if _entries[at][1] == end:
                    del _starts[at]
                    del _entries[at]
                    break
                at += 1
        for start, end in ours:
            unregister_code_range(start, end)
        # Idempotent: a later call (release, then collection) must not remove the
        # entry of other code loaded at the same addresses meanwhile.
        ranges.clear()
        ours.clear()


def lookup(pc: int) -> tuple[MappedCode, int] | None:
    """(compiled module, wasm function index) of ``pc``, or None."""
    # Under the lock: another thread registering or releasing code between the search
    # and the read would shift the index (a wrong entry, or an IndexError raised from a
    # trap's backtrace instead of the Trap).
    with _lock:
        at = bisect.bisect_right(_starts, pc) - 1
        if at < 0:
            return None
        start, end, ref = _entries[at]
    if not start <= pc < end:
        return None
    compiled = ref()
    if compiled is None:
        return None
    index = compiled.func_index_at(pc)
    if index is None:
        return None
    return compiled, index


def frames_for(pcs: list[int], offsets: bool = True) -> list[Frame]:
    """Backtrace frames, innermost first, for recorded PCs (unknown ones skipped).

    With ``offsets``, each frame carries the offset of its wasm instruction when the
    code knows it (the trapping instruction for the innermost frame, the call for the
    others): the module offset, and the offset from the start of the function's body
    (its size field), as Wasmtime reports them.  The first lookup in a batch of code
    may compile it again to learn them (``CompiledModule.wasm_offset_at``)."""
    frames = []
    entered: int | None = None  # the function of an OSR entry's frame just seen
    for pc in pcs:
        found = lookup(pc)
        if found is None:
            continue
        compiled, index = found
        if index == entered:
            # The tier-0 frame that moved into the OSR entry above: one wasm frame.
            entered = None
            continue
        entered = index if compiled.osr_entry else None
        module = compiled.module
        module_offset = compiled.wasm_offset_at(index, pc) if offsets else None
        func_offset = None
        if module_offset is not None:
            body = module.codes[index - module.num_imported_funcs]
            func_offset = module_offset - body.offset
        frames.append(Frame(index, module.func_name(index), module.names.module,
                            func_offset, module_offset))
    return frames
