"""Instances and their exports."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from pyjitwasm.errors import ArgumentTypeError
from pyjitwasm.externs import Extern, unwrap_extern, wrap_extern
from pyjitwasm.module import Module
from pyjitwasm.runtime.instance import ModuleInstance
from pyjitwasm.store import Store, store_of


class Instance:
    """A module instantiated in a store with ``imports`` given in import order.

    Raises LinkError when an import is missing or does not match, Trap when
    instantiation traps (segment out of bounds, start function trap).
    """

    def __init__(self, store: Store, module: Module, imports: Sequence[Extern]) -> None:
        if not isinstance(store, Store) or store._closed:
            store = store_of(store)  # a Caller's store, or an error
        if not isinstance(module, Module):
            raise ArgumentTypeError("expected a Module")
        engine = store._engine
        if module._engine is not engine:
            raise ValueError("the module was compiled for a different engine than the store's")
        self._store = store
        self._module = module
        self._exports: InstanceExports | None = None
        context = store.__dict__.get("_ctx")
        if not imports:
            if context is None:
                # A new store's first instance: a pooling engine may have a dropped
                # store's context with an instance of the module parked whole
                # (runtime/jit/pool.py).
                adopt = engine._adopt_store
                adopted = None if adopt is None else adopt(module._prepared)
                if adopted is not None:
                    store._ctx, rt = adopted
                    self._rt: ModuleInstance = rt
                    store._instances.append(rt)
                    return
                context = store._new_context()
            raw: list[Any] = []
        else:
            raw = [unwrap_extern(store, item) for item in imports]
            if context is None:
                context = store._new_context()
        self._rt = module._prepared.instantiate(raw, context)
        store._instances.append(self._rt)

    def exports(self, store: Any) -> InstanceExports:
        """The instance's exports: ``[name]``, ``.get(name)``, ``.by_index[i]``, iteration."""
        if store_of(store) is not self._store:
            raise ValueError("this Instance belongs to a different store than the one given")
        if self._exports is None:
            self._exports = InstanceExports(self._store, self._rt)
        return self._exports

    def __repr__(self) -> str:
        return f"<Instance of {self._module!r}>"


class InstanceExports:
    """Mapping-like view of an instance's exports, in declaration order. Each export's
    API object is made when it is first looked up (a module may export thousands of
    functions and a caller use a few)."""

    def __init__(self, store: Store, rt: ModuleInstance) -> None:
        self._store = store
        self._rt_items = rt.exports
        self._names = list(rt.exports)
        self._items: dict[str, Extern] = {}

    def _wrapped(self, name: str) -> Extern:
        item = self._items.get(name)
        if item is None:
            # A closed store refuses (its runtime instance may serve another store by now:
            # a pooling engine parks it).
            item = self._items[name] = wrap_extern(self._store._live(),
                                                   self._rt_items[name])
        return item

    @property
    def by_index(self) -> list[Extern]:
        """The exports in declaration order."""
        return [self._wrapped(name) for name in self._names]

    def __getitem__(self, key: str | int) -> Extern:
        if isinstance(key, int):
            return self._wrapped(self._names[key])
        return self._wrapped(key)

    def get(self, name: str, default: Any = None) -> Any:
        return self._wrapped(name) if name in self._rt_items else default

    def __contains__(self, name: object) -> bool:
        return name in self._rt_items

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def keys(self) -> list[str]:
        return list(self._names)

    def values(self) -> list[Extern]:
        return self.by_index

    def items(self) -> list[tuple[str, Extern]]:
        return [(name, self._wrapped(name)) for name in self._names]
