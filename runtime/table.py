"""Table instances."""

from __future__ import annotations

from typing import Any

from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.wasm.types import MAX_TABLE_32, TableType

# Tables are Python lists; cap their length so a huge grow fails instead of exhausting
# the host.
DEFAULT_MAX_ELEMENTS = 10_000_000


class TableInstance:
    """A table of references.

    Elements are ``None`` for a null reference, a ``FuncInstance`` in a funcref table, or
    the host object an externref wraps (any Python object other than None).
    """

    __slots__ = ("type", "elements", "context", "max_elements", "api")

    def __init__(
        self,
        ttype: TableType,
        context: StoreContext,
        init: Any = None,
        max_elements: int = DEFAULT_MAX_ELEMENTS,
    ) -> None:
        if ttype.minimum > max_elements:
            raise MemoryError(f"table minimum of {ttype.minimum} elements is too large")
        self.type = ttype
        self.context = context
        self.max_elements = max_elements
        self.elements: list[Any] = [init] * ttype.minimum
        self.api = None

    @property
    def size(self) -> int:
        return len(self.elements)

    @property
    def maximum(self) -> int:
        limit = (1 << 64) - 1 if self.type.is_64 else MAX_TABLE_32
        if self.type.maximum is not None:
            limit = min(limit, self.type.maximum)
        return limit

    def current_type(self) -> TableType:
        """The table's type with its current size as the minimum (used for import matching)."""
        t = self.type
        return TableType(t.elem_type, self.size, t.maximum, t.is_64)

    def grow(self, delta: int, init: Any) -> int:
        """Grow by ``delta`` elements set to ``init``; return the old size or -1."""
        old = len(self.elements)
        new = old + delta
        if new > self.maximum or new > self.max_elements:
            return -1
        self.elements.extend([init] * delta)
        return old
