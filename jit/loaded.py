"""Machine code loaded into this process, whoever linked it (ORC, ``codeload``, or the
JIT's own loader, ``objload``): its addresses, code ranges and release."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from pyjitwasm.jit.elfsyms import CodeSection


@dataclass(frozen=True)
class CodeRange:
    """Half-open address range [start, end) of loaded machine code."""

    start: int
    end: int


class CodeOwner(Protocol):
    """What holds the memory of loaded code for the objects loaded with it: an ORC
    library (``_SharedLibrary``) or a mapping of ``objload.NativeLoader``."""

    def drop_user(self) -> None:
        """One object loaded with it was released; the last frees the memory."""


class LoadedCode:
    """Machine code of one loaded module.  Addresses stay valid until :meth:`release` (or
    until this object is garbage collected); release callbacks run first, so the runtime
    can unregister code ranges before the memory is returned."""

    def __init__(
        self,
        library: CodeOwner,
        addresses: dict[str, int],
        code_ranges: list[CodeRange],
        object_size: int,
    ) -> None:
        self.addresses = addresses
        self.code_ranges = code_ranges
        self.object_size = object_size
        self._callbacks: list[Callable[[], None]] = []
        self._finalizer = weakref.finalize(self, _release, library, self._callbacks)

    def address(self, name: str) -> int:
        """The address of an exported symbol."""
        return self.addresses[name]

    def on_release(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` just before the code is freed (it must not reference ``self``)."""
        self._callbacks.append(callback)

    @property
    def released(self) -> bool:
        """Whether the code has been freed."""
        return not self._finalizer.alive

    def release(self) -> None:
        """Free the machine code now.  Idempotent."""
        self._finalizer()


def _release(library: CodeOwner, callbacks: list[Callable[[], None]]) -> None:
    for callback in reversed(callbacks):
        callback()
    callbacks.clear()
    library.drop_user()


def merge_ranges(ranges: list[CodeRange]) -> list[CodeRange]:
    """``ranges`` sorted, overlapping or touching ones merged."""
    merged: list[CodeRange] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if merged and r.start <= merged[-1].end:
            merged[-1] = CodeRange(merged[-1].start, max(merged[-1].end, r.end))
        else:
            merged.append(r)
    return merged


class SharedCodeOwner:
    """A :class:`CodeOwner` of ``users`` loaded objects: :meth:`free` runs once, when
    the last of them is released."""

    def __init__(self, users: int) -> None:
        self.users = users
        self._lock = threading.Lock()

    def drop_user(self) -> None:
        with self._lock:
            self.users -= 1
            if self.users:
                return
        self.free()

    def free(self) -> None:
        """Give the memory back (the subclass's)."""
        raise NotImplementedError


def anchored_sections(sections: Sequence[CodeSection]) -> list[tuple[str, CodeSection]]:
    """Each code section with the global symbol that locates it once linked (ValueError
    for a section without one: its place could not be found)."""
    anchored = [(s.anchor, s) for s in sections if s.anchor is not None]
    if len(anchored) != len(sections):
        missing_anchor = [s.name for s in sections if s.anchor is None]
        raise ValueError(f"code sections without a global symbol: {missing_anchor}")
    return anchored


def section_ranges(anchored: Sequence[tuple[str, CodeSection]],
                   addresses: Mapping[str, int]) -> list[CodeRange]:
    """Where the ``anchored`` sections landed, from their anchors' ``addresses``."""
    ranges = []
    for anchor, section in anchored:
        start = addresses[anchor] - section.anchor_offset
        ranges.append(CodeRange(start, start + section.size))
    return merge_ranges(ranges)


__all__ = ["CodeOwner", "CodeRange", "LoadedCode", "SharedCodeOwner", "anchored_sections",
           "merge_ranges", "section_ranges"]
