"""Stores: the owners of every instance, function, memory, table and global."""

from __future__ import annotations

from typing import Any

from pyjitwasm.engine import Engine


class Store:
    """A collection of WebAssembly objects plus the host's ``data``.

    Objects created in (or instantiated into) one store must only be used with it.
    """

    def __init__(self, engine: Engine | None = None, data: Any = None) -> None:
        if engine is None:
            engine = Engine()
        if not isinstance(engine, Engine):
            raise TypeError("expected an Engine")
        self._engine = engine
        self._ctx = engine._new_context()
        self._ctx.owner = self
        self._ctx.data = data

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def data(self) -> Any:
        """The host's object associated with this store (also ``caller.data``)."""
        return self._ctx.data

    @data.setter
    def data(self, value: Any) -> None:
        self._ctx.data = value

    def set_wasi(self, config: Any) -> None:
        """Give this store a WASI environment (wasmtime-py's ``Store.set_wasi``)."""
        from pyjitwasm.wasi import set_wasi

        set_wasi(self, config)

    def gc(self) -> None:
        """Present for wasmtime-py compatibility; references are Python objects."""


def store_of(obj: Any) -> Store:
    """The Store behind a Store or a Caller (host code may pass either)."""
    if isinstance(obj, Store):
        return obj
    as_store = getattr(obj, "_as_store", None)  # a Caller
    if as_store is not None:
        return as_store()  # type: ignore[no-any-return]
    raise TypeError(f"expected a Store, got {type(obj).__name__}")
