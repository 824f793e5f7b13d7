"""A pooled store parked whole without being touched is neither reset when dropped nor
initialized again when reused (runtime/jit/pool.py ``_Tenancy._untouched``): the
memory keeps its image, the tables and globals their initial state. These tests write
through every path that can change an instance and check that the next store still
gets a fresh one, and that an untouched store really is parked without a reset.
"""

from __future__ import annotations

import ctypes
import gc
from collections.abc import Callable
from typing import Any

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Instance,
    Linker,
    Module,
    PoolingAllocationConfig,
    Store,
    WasiConfig,
)
from pyjitwasm.runtime.jit.call import invoke
from pyjitwasm.runtime.jit.memory import JitMemory

from support.pooled_engines import allocator_of, pooled_engine

WRITERS_MODULE = """(module
  (memory (export "m") 1 4)
  (table (export "t") 2 funcref)
  (global $g (export "g") (mut i32) (i32.const 7))
  (data (i32.const 16) "hello")
  (data $passive "PASSIVE")
  (elem $later func $seven)
  (func $seven (export "seven") (result i32) (i32.const 7))
  (func (export "call0") (result i32) (call_indirect (result i32) (i32.const 0)))
  (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "fill") (memory.fill (i32.const 50000) (i32.const 0x5a) (i32.const 8)))
  (func (export "copy") (memory.copy (i32.const 40000) (i32.const 16) (i32.const 5)))
  (func (export "init") (memory.init $passive (i32.const 30000) (i32.const 0) (i32.const 7)))
  (func (export "drop_data") (data.drop $passive))
  (func (export "grow") (drop (memory.grow (i32.const 1))))
  (func (export "table_set") (table.set (i32.const 1) (ref.func $seven)))
  (func (export "table_init") (table.init $later (i32.const 1) (i32.const 0) (i32.const 1)))
  (func (export "drop_elem") (elem.drop $later))
  (func (export "bump") (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (elem (i32.const 0) $seven))"""

PAGE = 65536
# Tenants write far past the image (its first host page), which a slot's reset clears
# even when nothing else was written.
FAR = 60000
IMAGE = bytes(16) + b"hello" + bytes(PAGE - 21)


@pytest.fixture(params=["static", "dynamic"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return pooled_engine(request.param, 4)


def parked_fresh(engine: Engine) -> list[bool]:
    """Per parked whole store, whether it was parked untouched."""
    return [tenancy.fresh for template in allocator_of(engine)._parked_templates
            for tenancy in template.parked_stores]


def untouched_tenant(engine: Engine, module: Module) -> None:
    store = Store(engine)
    Instance(store, module, [])
    del store


def assert_fresh_tenant(engine: Engine, module: Module) -> None:
    """The next store's instance is as a new instantiation leaves it."""
    store = Store(engine)
    instance = Instance(store, module, [])
    ex = instance.exports(store)
    memory = ex["m"]
    assert memory.data_len(store) == PAGE
    assert memory.read(store, 0, PAGE) == IMAGE
    assert ex["g"].value(store) == 7
    table = ex["t"]
    assert table.size(store) == 2
    assert table.get(store, 1) is None
    assert ex["call0"](store) == 7
    ex["init"](store)  # the passive segments are still there
    assert memory.read(store, 30000, 30007) == b"PASSIVE"
    ex["table_init"](store)
    assert table.get(store, 1)(store) == 7


def runtime_exports(store: Store, module: Module) -> dict[str, Any]:
    """The runtime instance's exports: no API object of any entity is made."""
    return Instance(store, module, [])._rt.exports  # noqa: SLF001


def call_wasm_only(name: str, *args: int) -> Callable[[Store, Module], None]:
    # Enters compiled code without an API object, and forgets the caller made for it
    # (which refers to the store's context, so the store would not be parked whole):
    # only the store's count of entries sees it.
    def write(store: Store, module: Module) -> None:
        func = runtime_exports(store, module)[name]
        invoke(func, list(args))
        func.compiled.caller = None
    return write


def through_api(action: Callable[[Store, Any], None]) -> Callable[[Store, Module], None]:
    def write(store: Store, module: Module) -> None:
        action(store, Instance(store, module, []).exports(store))
    return write


def runtime_memory_write(store: Store, module: Module) -> None:
    memory = runtime_exports(store, module)["m"]
    assert isinstance(memory, JitMemory)
    memory.write(FAR, b"XY")


def runtime_memory_view(store: Store, module: Module) -> None:
    memory = runtime_exports(store, module)["m"]
    with memory.view() as view:
        view[FAR] = 0x58


def buffer_write(store: Store, ex: Any) -> None:
    with ex["m"].buffer(store) as view:
        view[FAR] = 0x58


def buffer_ptr_write(store: Store, ex: Any) -> None:
    ex["m"].get_buffer_ptr(store)[FAR + 1] = 0x58


def data_ptr_write(store: Store, ex: Any) -> None:
    pointer = ex["m"].data_ptr(store)
    ctypes.memset(ctypes.addressof(pointer.contents) + FAR + 2, 0x58, 2)


def table_set(store: Store, ex: Any) -> None:
    ex["t"].set(store, 1, ex["seven"])


WRITE_PATHS: dict[str, Callable[[Store, Module], None]] = {
    "wasm store": call_wasm_only("poke", FAR, 0x41),
    "wasm memory.fill": call_wasm_only("fill"),
    "wasm memory.copy": call_wasm_only("copy"),
    "wasm memory.init": call_wasm_only("init"),
    "wasm data.drop": call_wasm_only("drop_data"),
    "wasm memory.grow": call_wasm_only("grow"),
    "wasm table.set": call_wasm_only("table_set"),
    "wasm table.init": call_wasm_only("table_init"),
    "wasm elem.drop": call_wasm_only("drop_elem"),
    "wasm global.set": call_wasm_only("bump"),
    "wasm call_indirect (materializes an element)": call_wasm_only("call0"),
    "runtime JitMemory.write": runtime_memory_write,
    "runtime JitMemory.view": runtime_memory_view,
    "API Memory.write": through_api(lambda s, ex: ex["m"].write(s, b"XY", FAR)),
    "API Memory.buffer": through_api(buffer_write),
    "API Memory.get_buffer_ptr": through_api(buffer_ptr_write),
    "API Memory.data_ptr": through_api(data_ptr_write),
    "API Memory.grow": through_api(lambda s, ex: ex["m"].grow(s, 1)),
    "API Func call": through_api(lambda s, ex: ex["poke"](s, FAR, 0x41)),
    "API Table.set": through_api(table_set),
    "API Table.grow": through_api(lambda s, ex: ex["t"].grow(s, 1, None)),
    "API Global.set_value": through_api(lambda s, ex: ex["g"].set_value(s, 9)),
}


@pytest.mark.parametrize("path", list(WRITE_PATHS))
def test_a_write_through_any_path_is_reset_before_the_next_store(engine: Engine,
                                                                   path: str) -> None:
    module = Module(engine, WRITERS_MODULE)
    untouched_tenant(engine, module)
    untouched_tenant(engine, module)
    assert parked_fresh(engine) == [True]  # parked whole and untouched
    store = Store(engine)
    WRITE_PATHS[path](store, module)
    del store
    assert parked_fresh(engine) in ([], [False])  # reset, or not parked at all
    assert_fresh_tenant(engine, module)


def test_an_untouched_store_is_parked_without_a_reset(engine: Engine) -> None:
    module = Module(engine, WRITERS_MODULE)
    allocator = allocator_of(engine)
    untouched_tenant(engine, module)
    # The first tenant was a new instantiation, untouched too.
    assert parked_fresh(engine) == [True]
    # Prove the reset is skipped: a byte written behind the allocator's back (as no
    # path of the API can) is still there for the next store.
    tenancy = next(iter(allocator._parked_templates)).parked_stores[0]
    memory = tenancy.memories[0]
    ctypes.memset(memory.base + FAR, 0x77, 1)
    store = Store(engine)
    memory_api = Instance(store, module, []).exports(store)["m"]
    assert memory_api.read(store, FAR, FAR + 1) == b"\x77"
    memory_api.write(store, b"\0", FAR)
    del memory_api, store
    assert parked_fresh(engine) == [False]
    assert_fresh_tenant(engine, module)
    assert allocator.slots.created == 1


def test_store_settings_do_not_reach_the_next_store(engine: Engine) -> None:
    module = Module(engine, WRITERS_MODULE)
    untouched_tenant(engine, module)
    store = Store(engine)
    store.set_limits(memory_size=PAGE)
    Instance(store, module, [])
    del store
    assert parked_fresh(engine) == [True]
    store = Store(engine)
    memory = Instance(store, module, []).exports(store)["m"]
    assert memory.grow(store, 1) == 1  # the old store's limit is gone


def test_a_wasi_module_is_not_parked_and_the_next_one_sees_its_image() -> None:
    config = Config(strategy="jit")
    config.allocation_strategy = "pooling"
    engine = Engine(config)
    module = Module(engine, """(module
      (import "wasi_snapshot_preview1" "random_get"
        (func $random (param i32 i32) (result i32)))
      (memory (export "memory") 1)
      (data (i32.const 16) "hello")
      (func (export "scribble") (result i32) (call $random (i32.const 16) (i32.const 5))))""")
    linker = Linker(engine)
    linker.define_wasi()
    for _ in range(3):
        store = Store(engine)
        store.set_wasi(WasiConfig())
        ex = linker.instantiate(store, module).exports(store)
        assert ex["memory"].read(store, 16, 21) == b"hello"
        ex["scribble"](store)
        del ex, store
        assert allocator_of(engine).parked_instances == 0


def test_segments_no_image_holds_are_written_again_for_a_reused_store(engine: Engine
                                                                        ) -> None:
    # An offset computed by an extended constant expression: the module gets no image,
    # and a reused store's instance must still get its data segment.
    module = Module(engine, """(module (memory (export "m") 1)
      (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
      (data (offset (i32.add (i32.const 8) (i32.const 8))) "hello"))""")
    for _ in range(3):
        store = Store(engine)
        ex = Instance(store, module, []).exports(store)
        assert ex["m"].read(store, 16, 21) == b"hello"
        ex["poke"](store, 16, 0x58)
        del ex, store
    assert allocator_of(engine).parked_instances == 1


# On-demand allocation reuses static-heap slots too (runtime/jit/slots.py): a slot whose
# memory nothing but its image wrote is cleared only as far as the image reaches.


@pytest.fixture
def on_demand() -> Engine:
    config = Config(strategy="jit")
    config.memory_style = "static"
    return Engine(config)


def memory_base(store: Store, instance: Instance) -> int:
    memory = instance._rt.exports["m"]  # noqa: SLF001  (no API object)
    assert isinstance(memory, JitMemory)
    return memory.base


@pytest.mark.parametrize("path", list(WRITE_PATHS))
def test_a_write_through_any_path_is_cleared_from_an_on_demand_slot(on_demand: Engine,
                                                                      path: str) -> None:
    module = Module(on_demand, WRITERS_MODULE)
    untouched_tenant(on_demand, module)
    store = Store(on_demand)
    WRITE_PATHS[path](store, module)
    base = store._instances[0].memories[0].base  # noqa: SLF001
    del store
    gc.collect()  # ctypes pointers (data_ptr) sit in cycles that hold the slot
    store = Store(on_demand)
    instance = Instance(store, module, [])
    assert memory_base(store, instance) == base  # the same slot, reset
    del instance, store
    assert_fresh_tenant(on_demand, module)


def test_an_untouched_on_demand_slot_is_cleared_only_as_far_as_the_image(
        on_demand: Engine) -> None:
    module = Module(on_demand, WRITERS_MODULE)
    store = Store(on_demand)
    instance = Instance(store, module, [])
    base = memory_base(store, instance)
    # Behind the allocator's back (no path of the API can): stays for the next store.
    ctypes.memset(base + FAR, 0x77, 1)
    del instance, store
    store = Store(on_demand)
    instance = Instance(store, module, [])
    assert memory_base(store, instance) == base
    memory = instance.exports(store)["m"]
    assert memory.read(store, 0, 21) == IMAGE[:21]
    assert memory.read(store, FAR, FAR + 1) == b"\x77"
    memory.write(store, b"\0", FAR)
    del memory, instance, store
    assert_fresh_tenant(on_demand, module)


def test_a_keep_resident_size_inside_a_page_clears_whole_pages() -> None:
    config = Config(strategy="jit")
    config.allocation_strategy = PoolingAllocationConfig(linear_memory_keep_resident=1000)
    engine = Engine(config)
    module = Module(engine, """(module (memory (export "m") 2)
      (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))""")
    for _ in range(3):
        store = Store(engine)
        ex = Instance(store, module, []).exports(store)
        assert ex["m"].read(store, 0, 2 * PAGE) == bytes(2 * PAGE)
        for address in (0, 999, 1000, 4095, 4096, PAGE + 1):
            ex["poke"](store, address, 0x5A)
        del ex, store


def test_fuel_and_epoch_deadline_do_not_reach_the_next_store() -> None:
    config = Config(strategy="jit")
    config.consume_fuel = True
    config.epoch_interruption = True
    config.allocation_strategy = "pooling"
    engine = Engine(config)
    module = Module(engine, WRITERS_MODULE)
    untouched_tenant(engine, module)
    store = Store(engine)
    Instance(store, module, [])
    store.set_fuel(1000)
    store.set_epoch_deadline(5)
    del store
    assert parked_fresh(engine) == [True]  # untouched: no wasm ran
    store = Store(engine)
    seven = Instance(store, module, []).exports(store)["seven"]
    assert store.get_fuel() == 0
    store.set_fuel(1000)
    store.set_epoch_deadline(1)
    assert seven(store) == 7
