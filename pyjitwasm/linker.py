"""The Linker: defines imports by name and instantiates modules against them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyjitwasm.engine import Engine
from pyjitwasm.errors import ArgumentTypeError, require_str
from pyjitwasm.externs import Extern, Func, Global, Memory, Table, unwrap_extern
from pyjitwasm.instance import Instance
from pyjitwasm.module import Module
from pyjitwasm.runtime.errors import LinkError
from pyjitwasm.runtime.instantiation import import_mismatch
from pyjitwasm.store import Store, store_of
from pyjitwasm.valtypes import FuncType
from pyjitwasm.wasm import types as wt
from pyjitwasm.wasm.types import ExternKind

# What define_unknown_imports_as_default_values' functions return, by result type.
_DEFAULT_VALUES = {wt.I32: 0, wt.I64: 0, wt.F32: 0.0, wt.F64: 0.0, wt.V128: 0,
                   wt.FUNCREF: None, wt.EXTERNREF: None}


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
            raise ArgumentTypeError("expected an Engine")
        self.engine = engine
        self._allow_shadowing = False
        self._items: dict[tuple[str, str], Extern | _HostFuncDef] = {}

    @property
    def allow_shadowing(self) -> bool:
        return self._allow_shadowing

    @allow_shadowing.setter
    def allow_shadowing(self, value: bool) -> None:
        self._allow_shadowing = bool(value)

    def _insert(self, module: str, name: str, item: Extern | _HostFuncDef) -> None:
        key = (require_str(module, "module name"), require_str(name, "name"))
        if key in self._items and not self._allow_shadowing:
            raise LinkError(f"import {module}::{name} is already defined")
        self._items[key] = item

    def define(self, store: Any, module: str, name: str, item: Extern) -> None:
        """Define ``module::name`` as a Func, Memory, Table or Global of ``store``."""
        if not isinstance(item, Func | Memory | Table | Global):
            raise ArgumentTypeError(
                f"expected a Func, Memory, Table or Global, got {type(item).__name__}")
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
        """Define every export of ``instance`` under module name ``name`` (LinkError, and
        nothing defined, if one of them is already defined and shadowing is off)."""
        if not isinstance(instance, Instance):
            raise ArgumentTypeError(f"expected an Instance, got {type(instance).__name__}")
        exports = instance.exports(store_of(store))
        require_str(name, "module name")
        if not self._allow_shadowing:
            for export_name in exports:
                if (name, export_name) in self._items:
                    raise LinkError(f"import {name}::{export_name} is already defined")
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
        # One function per store and definition, cached on the store (the linker keeps
        # no store alive; a redefinition is a new definition, so a new function).
        rt = store._host_funcs.get(item)
        if rt is None:
            func = Func(store, item.ty, item.func, item.access_caller)
            store._host_funcs[item] = func._rt
            return func
        return Func._wrap(store, rt)

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

    def get_default(self, store: Any, name: str) -> Func:
        """The "default export" of the module defined as ``name``: its export ``""``, else
        its ``_start``, else a function that does nothing (Wasmtime's rule)."""
        store = store_of(store)
        for export in ("", "_start"):
            item = self._resolve(store, name, export)
            if item is not None:
                if not isinstance(item, Func):
                    raise LinkError(f"the default export {name}::{export} is not a function")
                return item
        return Func(store, FuncType([], []), lambda: None)

    def define_unknown_imports_as_traps(self, module: Module) -> None:
        """Define every function import of ``module`` not yet defined as a function that
        raises LinkError naming the import when called (other kinds stay undefined)."""
        for imp, ftype in self._unknown_func_imports(module):
            self._items[(imp.module, imp.name)] = _HostFuncDef(
                ftype, _unknown_import_stub(imp.module, imp.name), False)

    def define_unknown_imports_as_default_values(self, store: Any, module: Module) -> None:
        """Define every function import of ``module`` not yet defined as a function of
        ``store`` that returns zeros (null for references)."""
        store = store_of(store)
        for imp, ftype in self._unknown_func_imports(module):
            defaults = [_DEFAULT_VALUES[t] for t in ftype._wasm.results]
            self._insert(imp.module, imp.name,
                         Func(store, ftype, _default_values_stub(defaults)))

    def _unknown_func_imports(self, module: Module) -> list[tuple[Any, FuncType]]:
        if not isinstance(module, Module):
            raise ArgumentTypeError(f"expected a Module, got {type(module).__name__}")
        wasm = module._wasm
        return [(imp, FuncType._from_wasm(_func_type(wasm, imp))) for imp in wasm.imports
                if imp.kind == ExternKind.FUNC and (imp.module, imp.name) not in self._items]

    def instantiate_pre(self, module: Module) -> InstancePre:
        """Resolve and type-check ``module``'s imports once; the result instantiates it
        in any store of this engine (``pre.instantiate(store)``). Later changes to the
        linker do not affect it."""
        if not isinstance(module, Module):
            raise ArgumentTypeError(f"expected a Module, got {type(module).__name__}")
        wasm = module._wasm
        items: list[Extern | _HostFuncDef] = []
        for index, imp in enumerate(wasm.imports):
            item = self._items.get((imp.module, imp.name))
            if item is None:
                raise LinkError(f"unknown import: {imp.module}::{imp.name} has not been defined")
            if isinstance(item, _HostFuncDef):
                why = None if imp.kind == ExternKind.FUNC and \
                    _func_type(wasm, imp) == item.ty._wasm else "a host function of another type"
            else:
                why = import_mismatch(wasm, index, item._rt)
            if why is not None:
                raise LinkError(f"incompatible import type for {imp.module}::{imp.name}: {why}")
            items.append(item)
        return InstancePre(module, items)

    def instantiate(self, store: Any, module: Module) -> Instance:
        """Instantiate ``module``, resolving each import by name.

        LinkError names the first import that is undefined or of the wrong type.
        """
        store = store_of(store)
        if not isinstance(module, Module):
            raise ArgumentTypeError(f"expected a Module, got {type(module).__name__}")
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


class InstancePre:
    """A module whose imports a Linker has already resolved and type-checked
    (``Linker.instantiate_pre``): ``instantiate(store)`` makes an instance in any store of
    the engine. Imports defined with a store must be used with that store."""

    def __init__(self, module: Module, items: list[Extern | _HostFuncDef]) -> None:
        self.module = module
        self._items = items

    def instantiate(self, store: Any) -> Instance:
        store = store_of(store)
        imports: list[Extern] = []
        for item in self._items:
            if isinstance(item, _HostFuncDef):
                imports.append(Func(store, item.ty, item.func, item.access_caller))
            else:
                imports.append(item)
        return Instance(store, self.module, imports)


def _func_type(wasm: Any, imp: Any) -> wt.FuncType:
    """The type of function import ``imp`` (its ``desc`` is a type index)."""
    assert isinstance(imp.desc, int)
    ftype: wt.FuncType = wasm.types[imp.desc]
    return ftype


def _unknown_import_stub(module: str, name: str) -> Callable[..., Any]:
    def unknown_import(*args: Any) -> Any:
        raise LinkError(f"unknown import: {module}::{name} has not been defined")
    return unknown_import


def _default_values_stub(defaults: list[Any]) -> Callable[..., Any]:
    result: Any = None if not defaults else defaults[0] if len(defaults) == 1 else defaults

    def default_values(*args: Any) -> Any:
        return result
    return default_values
