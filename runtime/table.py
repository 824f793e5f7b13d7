"""Table instances: the interface every engine's tables have, and the list-backed table
of the interpreter."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any, Protocol, overload

from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.wasm.types import MAX_TABLE_32, TableType

# Tables are Python lists; cap their length so a huge grow fails instead of exhausting
# the host.
DEFAULT_MAX_ELEMENTS = 10_000_000


class Elements(Protocol):
    """List-like access to a table's elements: indexing and same-length slice assignment."""

    def __len__(self) -> int: ...

    @overload
    def __getitem__(self, key: int) -> Any: ...

    @overload
    def __getitem__(self, key: slice) -> list[Any]: ...

    @overload
    def __setitem__(self, key: int, value: Any) -> None: ...

    @overload
    def __setitem__(self, key: slice, value: Iterable[Any]) -> None: ...


class TableInstance(ABC):
    """A table of references.

    Elements are ``None`` for a null reference, a ``FuncInstance`` in a funcref table, or
    the host object an externref wraps (any Python object other than None).
    """

    __slots__ = ("type", "context", "max_elements", "api")

    def __init__(self, ttype: TableType, context: StoreContext, max_elements: int) -> None:
        if ttype.minimum > max_elements:
            raise MemoryError(f"table minimum of {ttype.minimum} elements is too large")
        # Store limits: counted and checked before anything is allocated.
        context.resources.add_table(ttype.minimum)
        self.type = ttype
        self.context = context
        self.max_elements = max_elements
        self.api: Any = None

    @property
    @abstractmethod
    def elements(self) -> Elements:
        """The elements, in the runtime representation."""

    @property
    @abstractmethod
    def size(self) -> int:
        """Current number of elements."""

    @abstractmethod
    def grow(self, delta: int, init: Any) -> int:
        """Grow by ``delta`` elements set to ``init``; return the old size or -1."""

    def initialize(self, start: int, items: Sequence[Any]) -> None:
        """Write an element segment's ``items`` from ``start`` (already bounds-checked)."""
        self.elements[start : start + len(items)] = items

    def grow_allowed(self, new_size: int) -> bool:
        """Whether the table may grow to ``new_size`` elements (its maximum, the
        implementation's cap and the store's ``table_elements`` limit)."""
        if new_size > self.maximum or new_size > self.max_elements:
            return False
        limits = self.context.resources.limits  # store limits (runtime/limits.py)
        return limits is None or limits.table_fits(new_size)

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


class ListTable(TableInstance):
    """The interpreter's table: ``elements`` is a plain list the interpreter indexes."""

    __slots__ = ("elements",)

    def __init__(
        self,
        ttype: TableType,
        context: StoreContext,
        init: Any = None,
        max_elements: int = DEFAULT_MAX_ELEMENTS,
    ) -> None:
        super().__init__(ttype, context, max_elements)
        self.elements: list[Any] = [init] * ttype.minimum

    @property
    def size(self) -> int:
        return len(self.elements)

    def grow(self, delta: int, init: Any) -> int:
        old = len(self.elements)
        new = old + delta
        if not self.grow_allowed(new):
            return -1
        self.elements.extend([init] * delta)
        return old
