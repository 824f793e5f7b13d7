"""Dropping a Store frees it at once: reference counting alone releases its instances,
memories, tables and host functions (no cyclic collection needed), on both engines."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from pyjitwasm import Config, Engine, Func, FuncType, Instance, Linker, Module, Store, ValType

MIB = 1 << 20
# A memory of 256 MiB whose first 64 MiB get written (so they count in RSS), a table
# holding a funcref into its own instance, a global, and a host import.
WAT = """(module (import "" "h" (func $h (param i32) (result i32)))
  (memory (export "m") 4096) (table (export "t") 2 funcref) (elem (i32.const 0) $f)
  (global (export "g") (mut i32) (i32.const 1))
  (func $f (export "f") (param i32) (result i32) local.get 0 call $h))"""
TOUCHED = bytes(64 * MIB)


def rss_mib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 // MIB


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _use_a_store(engine: Engine, module: Module, linker: Linker) -> weakref.ref[Store]:
    store = Store(engine, data={"hits": 0})
    h = Func(store, FuncType([ValType.i32()], [ValType.i32()]), lambda x: x + 1)
    ex = linker.instantiate(store, module).exports(store)
    assert ex["f"](store, 1) == 2
    ex["m"].write(store, TOUCHED, 0)
    Instance(store, module, [h])  # a second instance, dropped with the store
    return weakref.ref(store)


@pytest.mark.parametrize("engine_name", ["interp", "jit"])
def test_dropped_stores_are_freed_without_the_cyclic_collector(engine_name: str,
                                                               no_cyclic_gc: None) -> None:
    engine = Engine(Config(strategy=engine_name))
    module = Module(engine, WAT)
    linker = Linker(engine)  # a long-lived linker must not keep stores alive either
    linker.define_func("", "h", FuncType([ValType.i32()], [ValType.i32()]), lambda x: x + 1)
    _use_a_store(engine, module, linker)  # warm up (compilation, caches)
    before = rss_mib()
    stores = [_use_a_store(engine, module, linker) for _ in range(10)]
    grown = rss_mib() - before
    assert all(ref() is None for ref in stores), "a dropped Store is still alive"
    # Ten leaked stores would hold 640 MiB of written memory.
    assert grown < 100, f"RSS grew by {grown} MiB over 10 dropped stores"


def test_close_releases_the_store_now(no_cyclic_gc: None) -> None:
    engine = Engine(Config(strategy="interp"))
    module = Module(engine, WAT)
    before = rss_mib()
    for _ in range(5):
        store = Store(engine)
        h = Func(store, FuncType([ValType.i32()], [ValType.i32()]), lambda x: x)
        ex = Instance(store, module, [h]).exports(store)
        ex["m"].write(store, TOUCHED, 0)
        store.close()
        del ex  # the exports still referred to the memory; closing tore the instance down
    assert rss_mib() - before < 100


TRAPPING_WAT = """(module (import "" "h" (func $h))
  (memory 1)
  (func (export "trap") unreachable)
  (func (export "oob") (drop (i32.load (i32.const 70000))))
  (func (export "host") call $h))"""


def _trap_in_a_store(engine: Engine, module: Module, export: str) -> weakref.ref[Store]:
    store = Store(engine)

    def fail() -> None:
        raise ValueError("from the host")

    h = Func(store, FuncType([], []), fail)
    exports = Instance(store, module, [h]).exports(store)
    try:
        exports[export](store)
    except Exception:  # noqa: BLE001, S110 - what is raised does not matter here
        pass
    return weakref.ref(store)


@pytest.mark.parametrize("engine_name", ["interp", "jit"])
@pytest.mark.parametrize("export", ["trap", "oob", "host"])
def test_a_store_whose_call_raised_is_freed_without_the_cyclic_collector(
        engine_name: str, export: str, no_cyclic_gc: None) -> None:
    engine = Engine(Config(strategy=engine_name))
    module = Module(engine, TRAPPING_WAT)
    _trap_in_a_store(engine, module, export)  # warm up
    assert _trap_in_a_store(engine, module, export)() is None, \
        "a Store whose call raised stays alive until a cyclic collection"
