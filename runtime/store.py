"""The per-store execution context shared by every runtime object a store owns."""

from __future__ import annotations

from typing import Any


class StoreContext:
    """State a store's runtime objects share.

    Runtime objects keep a reference to their context; two objects belong to the same
    store exactly when their contexts are the same object. ``depth`` counts the wasm
    activations currently live across nested (host -> wasm) entries, so the call-depth
    limit holds however the host and wasm interleave.
    """

    __slots__ = ("data", "max_call_depth", "max_host_nesting", "depth", "nesting", "owner")

    def __init__(self, max_call_depth: int = 10_000, max_host_nesting: int = 100) -> None:
        self.data: Any = None
        self.max_call_depth = max_call_depth
        self.max_host_nesting = max_host_nesting
        self.depth = 0
        self.nesting = 0
        # The API object owning this context (a pyjitwasm.Store), for wrapping values.
        self.owner: Any = None

    def release(self) -> None:
        """The store was dropped: break the reference cycles only the engine's own
        state forms, so its objects are freed at once (nothing to do here)."""

    def collect_references(self) -> None:
        """``Store.gc``: release references the engine holds for wasm that nothing can
        reach any more (nothing to do here: the interpreter's are Python objects)."""
