"""The Linker: defines imports by name and instantiates modules against them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyjitwasm.engine import Engine
from pyjitwasm.externs import Extern, Func, Global, Memory, Table, unwrap_extern
from pyjitwasm.instance import Instance
from pyjitwasm.module import Module
from pyjitwasm.runtime.errors import LinkError
from pyjitwasm.runtime.instantiation import import_mismatch
from pyjitwasm.store import Store, store_of
from pyjitwasm.valtypes import FuncType


class _HostFuncDef:
    """A host function defined without a store; made into a Func per store on use."""

    __slots__ = ("ty", "func", "access_caller")

    def __init__(self, ty: FuncType, func: Callable[..., Any], access_caller: bool) -> None:
        self.ty = ty
        self.func = func
        self.access_caller = access_caller


class Linker:
    """Names for imports: ``(module, name) -> item``. Redefining a name raises LinkError
    unless ``allow_shadowing`` is set."""

    def __init__(self, engine: Engine) -> None:
        if not isinstance(engine, Engine):
            raise TypeError("expected an Engine")
        self.engine = engine
        self._allow_shadowing = False
        self._items: dict[tuple[str, str], Extern | _HostFuncDef] = {}
        # Funcs made from store-less definitions, per store: id(store) -> key -> Func.
        self._per_store: dict[int, tuple[Store, dict[tuple[str, str], Func]]] = {}

    @property
    def allow_shadowing(self) -> bool:
        return self._allow_shadowing

    @allow_shadowing.setter
    def allow_shadowing(self, value: bool) -> None:
        self._allow_shadowing = bool(value)

    def _insert(self, module: str, name: str, item: Extern | _HostFuncDef) -> None:
        key = (module, name)
        if key in self._items and not self._allow_shadowing:
            raise LinkError(f"import {module}::{name} is already defined")
        self._items[key] = item
        for _store, funcs in self._per_store.values():
            funcs.pop(key, None)

    def define(self, store: Any, module: str, name: str, item: Extern) -> None:
        """Define ``module::name`` as a Func, Memory, Table or Global of ``store``."""
        if not isinstance(item, Func | Memory | Table | Global):
            raise TypeError(f"expected a Func, Memory, Table or Global, got {type(item).__name__}")
        item._check_store(store_of(store))
        self._insert(module, name, item)

    def define_func(
        self,
        module: str,
        name: str,
        ty: FuncType,
        func: Callable[..., Any],
        access_caller: bool = False,
    ) -> None:
        """Define ``module::name`` as a host function usable from any store."""
        if not isinstance(ty, FuncType):
            raise TypeError("expected a FuncType")
        if not callable(func):
            raise TypeError("expected a callable")
        self._insert(module, name, _HostFuncDef(ty, func, access_caller))

    def define_instance(self, store: Any, name: str, instance: Instance) -> None:
        """Define every export of ``instance`` under module name ``name``."""
        exports = instance.exports(store_of(store))
        for export_name, item in exports.items():
            self._insert(name, export_name, item)

    def define_module(self, store: Any, name: str, module: Module) -> Instance:
        """Instantiate ``module`` with this linker and define its exports as ``name``."""
        instance = self.instantiate(store, module)
        self.define_instance(store, name, instance)
        return instance

    def _resolve(self, store: Store, module: str, name: str) -> Extern | None:
        item = self._items.get((module, name))
        if not isinstance(item, _HostFuncDef):
            return item
        entry = self._per_store.get(id(store))
        if entry is None or entry[0] is not store:
            entry = self._per_store[id(store)] = (store, {})
        funcs = entry[1]
        func = funcs.get((module, name))
        if func is None:
            func = funcs[(module, name)] = Func(store, item.ty, item.func, item.access_caller)
        return func

    def get(self, store: Any, module: str, name: str) -> Extern:
        """The item defined as ``module::name``; LinkError if there is none."""
        store = store_of(store)
        item = self._resolve(store, module, name)
        if item is None:
            raise LinkError(f"unknown import: {module}::{name} is not defined")
        item._check_store(store)
        return item

    def define_wasi(self) -> None:
        """Define every wasi_snapshot_preview1 import (wasmtime-py's ``Linker.define_wasi``);
        the store passed to ``instantiate`` needs ``store.set_wasi(WasiConfig(...))``."""
        from pyjitwasm.wasi import define_wasi

        define_wasi(self)

    def instantiate(self, store: Any, module: Module) -> Instance:
        """Instantiate ``module``, resolving each import by name.

        LinkError names the first import that is undefined or of the wrong type.
        """
        store = store_of(store)
        items: list[Extern] = []
        wasm = module._wasm
        for index, imp in enumerate(wasm.imports):
            item = self._resolve(store, imp.module, imp.name)
            if item is None:
                raise LinkError(f"unknown import: {imp.module}::{imp.name} has not been defined")
            why = import_mismatch(wasm, index, unwrap_extern(store, item))
            if why is not None:
                raise LinkError(f"incompatible import type for {imp.module}::{imp.name}: {why}")
            items.append(item)
        return Instance(store, module, items)
