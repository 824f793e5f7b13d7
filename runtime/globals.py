"""Global instances."""

from __future__ import annotations

from typing import Any

from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.wasm.types import GlobalType


class GlobalInstance:
    """A global variable cell; ``value`` uses the runtime's value representation."""

    __slots__ = ("type", "value", "context", "api")

    def __init__(self, gtype: GlobalType, value: Any, context: StoreContext) -> None:
        self.type = gtype
        self.value = value
        self.context = context
        self.api: Any = None
