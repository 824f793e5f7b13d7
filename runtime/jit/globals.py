"""Globals for compiled code: a native 16-byte slot per global.

A global defined by an instance lives inline in its vmctx; an importer's vmctx points
at the owner's slot; a host-created global has a standalone slot.
"""

from __future__ import annotations

from typing import Any

from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.jit.store import JitState, JitStoreContext
from pyjitwasm.runtime.jit.values import read_value, write_value
from pyjitwasm.runtime.native import ffi
from pyjitwasm.wasm.types import EXTERNREF, GlobalType


class JitGlobal(GlobalInstance):
    """A global whose ``value`` lives in native memory at ``slot``."""

    __slots__ = ("slot", "_state", "_keep")

    def __init__(self, gtype: GlobalType, value: Any, context: JitStoreContext,
                 slot: int | None = None, keepalive: object = None) -> None:
        self.type = gtype
        self.context = context
        self.api = None
        self._state: JitState = context.jit
        self._keep = keepalive
        if slot is None:
            self._keep = ffi.new("uint64_t[2]")
            slot = int(ffi.cast("uintptr_t", self._keep))
        self.slot = slot
        self.value = value
        if gtype.valtype == EXTERNREF:
            self._state.add_extern_slot(slot, self)

    def rebind(self, context: JitStoreContext) -> None:
        """Belong to ``context``'s store (a pooled instance's global, moved into a new
        store; its value is set again next)."""
        self.context = context
        self._state = context.jit
        self.api = None

    @property
    def value(self) -> Any:
        return read_value(self._state, self.type.valtype, self.slot)

    @value.setter
    def value(self, value: Any) -> None:
        write_value(self._state, self.type.valtype, value, self.slot)
