"""Stores: the owners of every instance, function, memory, table and global."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, Protocol, Self, TypeVar

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
        self._ctx = engine.backend.new_context()
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
    as_store: Callable[[], Store] | None = getattr(obj, "_as_store", None)  # a Caller
    if as_store is not None:
        return as_store()
    raise TypeError(f"expected a Store, got {type(obj).__name__}")


class RuntimeObject(Protocol):
    """What every runtime object an API object wraps has: its API wrapper slot."""

    api: Any


RuntimeT = TypeVar("RuntimeT", bound=RuntimeObject)


class StoreObject(Generic[RuntimeT]):
    """Base of the API objects a store owns (Func, Memory, Table, Global): each wraps one
    runtime object (``_rt``) and checks that it is used with the store that owns it."""

    __slots__ = ("_store", "_rt")

    _store: Store
    _rt: RuntimeT

    def _check_store(self, store: Any) -> Store:
        s = store_of(store)
        if s is not self._store:
            raise ValueError(
                f"this {type(self).__name__} belongs to a different store than the one given"
            )
        return s

    @classmethod
    def _wrap(cls, store: Store, rt: RuntimeT) -> Self:
        """The API object for a runtime object (one per runtime object, made on demand)."""
        api = rt.api
        if api is None:
            api = cls.__new__(cls)
            api._store = store
            api._rt = rt
            rt.api = api
        return api

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoreObject) and type(other) is type(self) \
            and other._rt is self._rt

    def __hash__(self) -> int:
        return hash(id(self._rt))
