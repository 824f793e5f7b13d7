"""The JIT's pooling allocator parks a dropped store's instance and hands it to the next
store (runtime/jit/pool.py): the new tenant must see a fresh instance (memory, tables,
globals, funcrefs), limits hold, and an instance anything can still reach is not reused.
"""

from __future__ import annotations

import gc

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Instance,
    Module,
    ResourceLimitError,
    Store,
)

from support.pooled_engines import allocator_of, pooled_engine
from support.stateful_module import STATEFUL, assert_fresh_stateful, scribble_stateful


@pytest.fixture(params=["static", "dynamic"])
def engine(request: pytest.FixtureRequest) -> Engine:
    return pooled_engine(request.param, 2)


FAR = 1000
"""Where scribbling tenants write outside the data segment."""


def scribble(engine: Engine, module: Module) -> None:
    """One tenant that changes everything it can without growing, then drops its store."""
    store = Store(engine)
    ex = Instance(store, module, []).exports(store)
    scribble_stateful(store, ex, FAR)
    assert ex["g"].value(store) == 8
    del ex, store


def test_the_next_store_gets_the_parked_instance_fresh(engine: Engine) -> None:
    module = Module(engine, STATEFUL)
    allocator = allocator_of(engine)
    scribble(engine, module)
    assert allocator.parked_instances == 1
    for _ in range(3):
        store = Store(engine)
        ex = Instance(store, module, []).exports(store)
        assert allocator.parked_instances == 0  # this is the parked one
        assert_fresh_stateful(store, ex, FAR)
        del ex, store
        scribble(engine, module)
    assert allocator.slots.created == 1
    assert allocator.pool.live_instances == 0


def test_an_instance_something_still_reaches_is_not_reused(engine: Engine) -> None:
    module = Module(engine, STATEFUL)
    allocator = allocator_of(engine)
    store = Store(engine)
    memory = Instance(store, module, []).exports(store)["m"]
    store.close()  # the API object outlives its store
    assert allocator.parked_instances == 0
    with pytest.raises(ValueError):
        memory.read(store, 16, 21)
    del memory, store
    store = Store(engine)
    view = Instance(store, module, []).exports(store)["m"].get_buffer_ptr(store)
    store.close()
    assert allocator.parked_instances == 0  # a host view holds the memory
    del view


def test_a_grown_memory_goes_back_to_the_pool_instead(engine: Engine) -> None:
    module = Module(engine, STATEFUL)
    allocator = allocator_of(engine)
    store = Store(engine)
    Instance(store, module, []).exports(store)["m"].grow(store, 1)
    del store
    assert allocator.parked_instances == 0
    assert allocator.slots.free_slots == 1
    store = Store(engine)
    memory = Instance(store, module, []).exports(store)["m"]
    assert memory.data_len(store) == 65536


def test_limits_hold_for_a_reused_instance(engine: Engine) -> None:
    module = Module(engine, STATEFUL)
    allocator = allocator_of(engine)
    scribble(engine, module)
    limited = Store(engine)
    limited.set_limits(memory_size=1024)  # below the module's minimum
    with pytest.raises(ResourceLimitError):
        Instance(limited, module, [])
    assert allocator.parked_instances == 0  # not parked again: its slot went back
    del limited
    scribble(engine, module)
    first, second = Store(engine), Store(engine)
    Instance(first, module, [])
    Instance(second, module, [])
    with pytest.raises(ResourceLimitError, match="total_core_instances"):
        Instance(Store(engine), module, [])
    del first, second
    assert allocator.pool.live_instances == 0


def test_dropping_the_module_frees_its_parked_instances(engine: Engine) -> None:
    module = Module(engine, STATEFUL)
    allocator = allocator_of(engine)
    scribble(engine, module)
    assert allocator.parked_instances == 1
    del module
    gc.collect()  # the module's own structures may form cycles; the parked do not hold it
    assert allocator.parked_instances == 0


def test_modules_with_imports_are_not_parked() -> None:
    config = Config(strategy="jit")
    config.allocation_strategy = "pooling"
    engine = Engine(config)
    provider = Module(engine, '(module (func (export "f")))')
    user = Module(engine, '(module (import "" "f" (func)) (memory 1))')
    store = Store(engine)
    f = Instance(store, provider, []).exports(store)["f"]
    Instance(store, user, [f])
    del f, store
    assert allocator_of(engine).parked_instances == 1  # the provider only
