"""Tables for compiled code: native arrays of one-word elements.

Element encoding (``ir/vmctx.py``).  Funcref tables: ``0`` = not yet initialized, ``1``
(FUNCREF_NULL) = null, ``VMFuncRef address | 1`` = a function.  Only a table defined by
an instance starts with zero words: its active element segments are recorded in
``lazy`` (index -> function or None) instead of being written, and a zero word is
materialized from there on first use -- by compiled code through the
``table_lazy_init`` libcall, by the runtime whenever it reads an element.  Everything
that *writes* a funcref element writes a non-zero word, null included, so a written
null can never be mistaken for "not yet initialized".  Externref tables hold the handle
(0 = null) and are never lazy.

``definition`` is the VMTableDefinition ``{elements, length}`` compiled code reads;
growing may move the elements (capacity doubles) and updates it.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator, Sequence
from typing import Any

from pyjitwasm.runtime.jit.store import JitState, JitStoreContext
from pyjitwasm.runtime.native import ffi
from pyjitwasm.runtime.table import DEFAULT_MAX_ELEMENTS, TableInstance
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.wasm.types import FUNCREF, TableType

_NULL = vm.FUNCREF_NULL
_ZEROS = ffi.new("char[]", 4096)  # (a cdata source copies faster than bytes)
_ZEROS_SIZE = 4096
_TAG = vm.FUNCREF_INIT_BIT


class JitTable(TableInstance):
    """A table of references backed by a native element array."""

    __slots__ = ("definition", "lazy", "_state", "_buf", "_words", "_capacity", "_length",
                 "_address", "_def_words",
                 "_def_keep", "_funcref")

    def __init__(
        self,
        ttype: TableType,
        context: JitStoreContext,
        init: Any = None,
        max_elements: int = DEFAULT_MAX_ELEMENTS,
        definition: int | None = None,
        keepalive: object = None,
        lazy: bool = False,
        definition_words: Any = None,
        elements: tuple[int, Any] | None = None,
    ) -> None:
        """``definition_words``: the definition as a u64 pointer already (cheaper than a
        cast). ``elements``: ``(address, u64 pointer)`` of zeroed room for the initial
        elements inside ``keepalive`` (the vmctx buffer), instead of an array of their
        own (which the table gets when it grows)."""
        super().__init__(ttype, context, max_elements)
        self._state: JitState = context.jit
        self._funcref = ttype.elem_type == FUNCREF
        self._def_keep = keepalive
        if definition is None:
            self._def_keep = ffi.new("uint64_t[2]")
            definition = int(ffi.cast("uintptr_t", self._def_keep))
        self.definition = definition
        self._def_words = ffi.cast("uint64_t *", definition) if definition_words is None \
            else definition_words
        # Lazily initialized elements: index -> FuncInstance or None (funcref tables only).
        self.lazy: dict[int, Any] | None = {} if (lazy and self._funcref) else None
        self._length = 0
        if elements is not None:
            self._address, self._words = elements
            self._buf = keepalive
            self._capacity = ttype.minimum
        else:
            self._capacity = 0
            self._buf = None
            self._words = None
            self._reallocate(max(ttype.minimum, 1))
        self._length = ttype.minimum
        if self.lazy is None:
            self._fill_words(0, ttype.minimum, self.encode(init))
        self._publish()
        if not self._funcref:
            self._state.add_extern_table(self)

    # Native storage -----------------------------------------------------------------

    def _reallocate(self, capacity: int) -> None:
        buf = ffi.new("uint64_t[]", capacity)  # zeroed: "uninitialized" for lazy tables
        if self._length:
            ffi.memmove(buf, self._words, self._length * 8)
        self._buf = buf
        self._words = buf
        # Converting a cdata pointer to int costs about half a microsecond: once here.
        self._address = int(ffi.cast("uintptr_t", buf))
        self._capacity = capacity

    def _publish(self) -> None:
        u64 = self._def_words
        u64[vm.TABLE_DEF_ELEMENTS // 8] = self._address
        u64[vm.TABLE_DEF_LENGTH // 8] = self._length

    def _fill_words(self, start: int, count: int, word: int) -> None:
        if count <= 0:
            return
        if word == 0:
            ctypes.memset(self.elements_address + 8 * start, 0, 8 * count)
            return
        words = self._words
        for i in range(start, start + count):
            words[i] = word

    @property
    def elements_address(self) -> int:
        """Address of element 0 (moves when the table grows)."""
        return self._address

    # Encoding -----------------------------------------------------------------------

    def encode(self, value: Any) -> int:
        """The element word for runtime reference ``value``."""
        state = self._state
        if self._funcref:
            return _NULL if value is None else state.funcref_address(value) | _TAG
        return state.extern_handle(value)

    def decode(self, word: int) -> Any:
        """The runtime reference an (initialized) element word stands for."""
        state = self._state
        if self._funcref:
            return state.func_at(word & ~_TAG)
        return state.extern_object(word)

    def word(self, index: int) -> int:
        """Element ``index``'s word, materializing a lazily initialized one."""
        w = self._words[index]
        if w == 0 and self._funcref:
            w = self.materialize(index)
        return w

    def materialize(self, index: int) -> int:
        """Initialize element ``index`` from the element segments (it reads as 0)."""
        lazy = self.lazy
        value = lazy.pop(index, None) if lazy else None
        w = self.encode(value)
        self._words[index] = w
        return w

    def materialize_range(self, start: int, count: int) -> None:
        """Make sure no element in ``[start, start + count)`` is still 0."""
        if self.lazy is None or not self._funcref:
            return
        words = self._words
        for i in range(start, start + count):
            if words[i] == 0:
                self.materialize(i)

    def resettable(self) -> bool:
        """Whether :meth:`reset_to` can return the table to a fresh instance's state
        (it is lazy and has not grown)."""
        return self.lazy is not None and self._length == self.type.minimum

    def reset_to(self, elements: dict[int, Any]) -> None:
        """A pooling allocator parks this table's instance for the next store (it is
        :meth:`resettable`): every element uninitialized again, to be materialized from
        ``elements`` (index -> function or None: what the active segments give; empty
        when they are to be recorded anew)."""
        lazy = self.lazy
        assert lazy is not None
        lazy.clear()
        lazy.update(elements)
        nbytes = 8 * self._length
        if nbytes <= _ZEROS_SIZE:
            ffi.memmove(self._words, _ZEROS, nbytes)  # a third of a ctypes call's cost
        else:
            ctypes.memset(self._address, 0, nbytes)

    def rebind(self, context: JitStoreContext) -> None:
        """Belong to ``context``'s store (a parked instance's table, reset already),
        counted against its limits, and publish the definition again."""
        context.resources.add_table(self.type.minimum)
        self.context = context
        self._state = context.jit
        self.api = None
        self._publish()

    def set_word(self, index: int, word: int) -> None:
        self._words[index] = word

    # TableInstance interface --------------------------------------------------------

    def initialize_lazily(self, start: int, items: Sequence[Any]) -> None:
        """Record an element segment's ``items`` from ``start`` to be materialized on
        first use (a table made with ``lazy=True``, bounds already checked)."""
        assert self.lazy is not None
        # Every element of a lazy table reads 0 until it is first used or written, and
        # this happens only while the instance is being made (or remade): no word to
        # clear.
        self.lazy.update(zip(range(start, start + len(items)), items, strict=True))

    @property
    def size(self) -> int:
        return self._length

    @property
    def elements(self) -> _Elements:
        """List-like access to the elements in the runtime representation."""
        return _Elements(self)

    def get(self, index: int) -> Any:
        """Element ``index`` (FuncInstance, host object or None); IndexError if out of range."""
        if not 0 <= index < self._length:
            raise IndexError("table index out of bounds")
        return self.decode(self.word(index))

    def set(self, index: int, value: Any) -> None:
        if not 0 <= index < self._length:
            raise IndexError("table index out of bounds")
        self._words[index] = self.encode(value)

    def grow(self, delta: int, init: Any) -> int:
        """Grow by ``delta`` elements set to ``init``; the old size or -1."""
        return self.grow_word(delta, self.encode(init))

    def grow_word(self, delta: int, word: int) -> int:
        old = self._length
        new = old + delta
        if delta < 0 or not self.grow_allowed(new):
            return -1
        if delta == 0:
            return old
        if new > self._capacity:
            try:
                self._reallocate(max(new, 2 * self._capacity))
            except MemoryError:
                return -1
        self._fill_words(old, delta, word)
        self._length = new
        self._publish()
        return old


class _Elements:
    """``table.elements`` of a JitTable: indexing and slice assignment like a list."""

    __slots__ = ("_t",)

    def __init__(self, table: JitTable) -> None:
        self._t = table

    def __len__(self) -> int:
        return self._t.size

    def __getitem__(self, key: int | slice) -> Any:
        t = self._t
        if isinstance(key, slice):
            return [t.get(i) for i in range(*key.indices(t.size))]
        if key < 0:
            key += t.size
        return t.get(key)

    def __setitem__(self, key: int | slice, value: Any) -> None:
        t = self._t
        if isinstance(key, slice):
            indices = range(*key.indices(t.size))
            items = list(value)
            if len(items) != len(indices):
                raise ValueError("a table's size cannot change through slice assignment")
            words = [t.encode(v) for v in items]
            for i, w in zip(indices, words, strict=True):
                t.set_word(i, w)
            return
        if key < 0:
            key += t.size
        t.set(key, value)

    def __iter__(self) -> Iterator[Any]:
        return (self._t.get(i) for i in range(self._t.size))
