"""Externref collection on the JIT: a host object passed to wasm as an externref is
released once no root the store's compiled code can reach holds it (the store's
externref tables and globals; a running entry pins everything), by ``Store.gc`` or
automatically at the end of an entry once enough handles have piled up.  Each root
kind keeps its object alive; dropping it from the root frees it."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any

from pyjitwasm import (
    Config,
    Engine,
    Func,
    FuncType,
    Global,
    GlobalType,
    Instance,
    Module,
    Store,
    Table,
    TableType,
    Val,
    ValType,
)


class Payload:
    """A host object whose collection a weak reference observes."""


def jit_store() -> Store:
    return Store(Engine(Config(strategy="jit")))


def live_handles(store: Store) -> int:
    return store._ctx.jit.live_extern_count()


def dropped(ref: weakref.ref[Any]) -> bool:
    gc.collect()
    return ref() is None


MODULE = """
(module
  (table $t (export "table") 4 externref)
  (global $g (export "global") (mut externref) (ref.null extern))
  (func (export "drop") (param externref))
  (func (export "identity") (param externref) (result externref) (local.get 0))
  (func (export "table_set") (param i32 externref) (table.set $t (local.get 0) (local.get 1)))
  (func (export "table_get") (param i32) (result externref) (table.get $t (local.get 0)))
  (func (export "global_set") (param externref) (global.set $g (local.get 0)))
  (func (export "global_get") (result externref) (global.get $g))
  (func (export "grow") (param externref) (result i32)
    (table.grow $t (local.get 0) (i32.const 2))))
"""


def instance(store: Store) -> Any:
    return Instance(store, Module(store.engine, MODULE), []).exports(store)


def test_an_argument_wasm_does_not_keep_is_freed_by_gc() -> None:
    store = jit_store()
    ex = instance(store)
    obj = Payload()
    ref = weakref.ref(obj)
    ex["drop"](store, obj)
    del obj
    store.gc()
    assert dropped(ref)
    assert live_handles(store) == 0


def test_a_result_returned_to_the_host_stays_the_same_object() -> None:
    store = jit_store()
    ex = instance(store)
    obj = Payload()
    assert ex["identity"](store, obj) is obj
    store.gc()
    assert ex["identity"](store, obj) is obj


def test_a_defined_table_is_a_root() -> None:
    store = jit_store()
    ex = instance(store)
    obj = Payload()
    ref = weakref.ref(obj)
    ex["table_set"](store, 2, obj)
    del obj
    store.gc()
    assert not dropped(ref)
    assert ex["table_get"](store, 2) is ref()
    ex["table_set"](store, 2, None)
    store.gc()
    assert dropped(ref)


def test_grown_table_elements_are_roots() -> None:
    store = jit_store()
    ex = instance(store)
    obj = Payload()
    ref = weakref.ref(obj)
    assert ex["grow"](store, obj) == 4
    del obj
    store.gc()
    assert not dropped(ref)
    assert ex["table"].get(store, 5) is ref()


def test_a_defined_global_is_a_root() -> None:
    store = jit_store()
    ex = instance(store)
    obj = Payload()
    ref = weakref.ref(obj)
    ex["global_set"](store, obj)
    del obj
    store.gc()
    assert not dropped(ref)
    assert ex["global_get"](store) is ref()
    ex["global"].set_value(store, None)
    store.gc()
    assert dropped(ref)


def test_host_created_table_and_global_are_roots() -> None:
    store = jit_store()
    a, b = Payload(), Payload()
    refs = weakref.ref(a), weakref.ref(b)
    table = Table(store, TableType(ValType.externref(), 3, None), Val.externref(None))
    table.set(store, 1, Val.externref(a))
    glob = Global(store, GlobalType(ValType.externref(), True), Val.externref(b))
    del a, b
    store.gc()
    assert not dropped(refs[0]) and not dropped(refs[1])
    table.set(store, 1, Val.externref(None))
    glob.set_value(store, None)
    store.gc()
    assert dropped(refs[0]) and dropped(refs[1])


def test_nothing_is_freed_while_wasm_runs_in_the_store() -> None:
    """A host function called from wasm runs inside an entry: the caller's frame still
    holds its externref argument, so gc() there must not free it."""
    store = jit_store()
    module = Module(store.engine, """
    (module (import "" "h" (func $h))
      (func (export "keep") (param externref) (result externref)
        (call $h) (local.get 0)))
    """)
    freed = []

    def host() -> None:
        store.gc()
        freed.append(live_handles(store))

    ex = Instance(store, module, [Func(store, FuncType([], []), host)]).exports(store)
    obj = Payload()
    assert ex["keep"](store, obj) is obj
    assert freed == [1]


def test_a_wasm_frame_on_another_thread_pins_its_references() -> None:
    store = jit_store()
    inside, release = threading.Event(), threading.Event()

    def host() -> None:
        inside.set()
        release.wait(10)

    module = Module(store.engine, """
    (module (import "" "h" (func $h))
      (func (export "keep") (param externref) (result externref)
        (call $h) (local.get 0)))
    """)
    ex = Instance(store, module, [Func(store, FuncType([], []), host)]).exports(store)
    obj = Payload()
    result: list[Any] = []
    worker = threading.Thread(target=lambda: result.append(ex["keep"](store, obj)))
    worker.start()
    inside.wait(10)
    store.gc()  # only the other thread's wasm frame holds the handle
    assert live_handles(store) == 1
    release.set()
    worker.join()
    assert result == [obj]


def test_entries_collect_automatically_when_handles_pile_up() -> None:
    store = jit_store()
    ex = instance(store)
    kept = Payload()
    ex["table_set"](store, 0, kept)
    for _ in range(5000):
        ex["drop"](store, Payload())
    # The first collection runs at 1,024 handles, later ones at twice the survivors.
    assert live_handles(store) <= 2048
    assert ex["table_get"](store, 0) is kept
