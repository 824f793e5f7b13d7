"""Cheap store creation (docs/ARCHITECTURE.md, "Stores and instantiation"): a store's
runtime context is made on first use; an engine reuses the context of a dropped store
that nothing refers to any more; a pooling engine parks a dropped store's whole context
with its one instance and hands both to the next new store. Whatever is reused, the new
store must see nothing of the old one: its data, fuel, epoch deadline, limits, memory,
table and globals are fresh, and the old store object can never release what was handed
on."""

from __future__ import annotations

import gc
import weakref
from typing import Any

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Func,
    FuncType,
    Instance,
    Limits,
    Memory,
    MemoryType,
    Module,
    PoolingAllocationConfig,
    ResourceLimitError,
    Store,
    Trap,
    ValType,
)
from pyjitwasm.runtime.jit.pool import PooledJitAllocator

from support.stateful_module import STATEFUL, assert_fresh_stateful, scribble_stateful


def pooling_engine(**config: int) -> Engine:
    cfg = Config(strategy="jit")
    cfg.allocation_strategy = PoolingAllocationConfig(**config)
    return Engine(cfg)


def allocator_of(engine: Engine) -> PooledJitAllocator:
    allocator = engine.backend.allocator  # type: ignore[attr-defined]  # the JIT backend's
    assert isinstance(allocator, PooledJitAllocator)
    return allocator


FAR = 5000
"""Where scribbling tenants write outside the data segment."""


def scribble(store: Store, ex: Any) -> None:
    """Change everything an instance of STATEFUL can change without growing."""
    scribble_stateful(store, ex, FAR)


def assert_fresh(store: Store, module: Module) -> Any:
    """A new instance of STATEFUL in ``store``, checked to be as new (its exports)."""
    ex = Instance(store, module, []).exports(store)
    assert_fresh_stateful(store, ex, FAR)
    return ex


def test_a_store_makes_its_context_on_first_use() -> None:
    store = Store(Engine(Config(strategy="jit")), data="mine")
    assert "_ctx" not in store.__dict__
    assert store.data == "mine"
    store.set_limits(memories=1)  # needs the context
    assert "_ctx" in store.__dict__
    assert store.data == "mine"


@pytest.mark.parametrize("strategy", ["jit", "interp"])
def test_a_reused_context_starts_like_a_new_one(strategy: str) -> None:
    config = Config(strategy=strategy)
    config.consume_fuel = True
    engine = Engine(config)
    module = Module(engine, STATEFUL)
    old = Store(engine)
    old.set_fuel(5)
    old.set_limits(memory_size=1 << 20, instances=1)
    Instance(old, module, [])
    old_context = id(old._ctx)
    del old
    assert [id(c) for c in engine._spare_contexts] == [old_context]  # kept, not freed
    new = Store(engine)
    assert id(new._ctx) == old_context and not engine._spare_contexts  # reused
    assert new.get_fuel() == 0
    Instance(new, module, [])  # the old store's instance limit is gone
    Instance(new, module, [])
    new.set_fuel(1000)
    assert new.get_fuel() == 1000


def test_a_context_something_still_refers_to_is_not_reused() -> None:
    engine = Engine(Config(strategy="jit"))
    module = Module(engine, STATEFUL)
    store = Store(engine)
    memory = Instance(store, module, []).exports(store)["m"]
    store.close()  # the memory outlives the store's release
    assert engine._spare_contexts == []
    del memory, store  # now nothing refers to it: kept for the next store
    assert len(engine._spare_contexts) == 1


def test_a_context_with_host_functions_is_not_reused() -> None:
    engine = Engine(Config(strategy="jit"))
    module = Module(engine, '(module (import "" "f" (func)) (func (export "g") call 0))')
    store = Store(engine)
    f = Func(store, FuncType([], []), lambda: None)
    Instance(store, module, [f]).exports(store)["g"](store)
    del f, store
    gc.collect()
    assert engine._spare_contexts == []


def test_a_dropped_pooled_store_is_parked_whole_and_handed_on_fresh() -> None:
    engine = pooling_engine()
    module = Module(engine, STATEFUL)
    allocator = allocator_of(engine)
    first = Store(engine)
    scribble(first, Instance(first, module, []).exports(first))
    context = id(first._ctx)
    del first
    # Parked with its instance (kept alive there), not torn down and kept as a spare.
    assert allocator.parked_instances == 1 and engine._spare_contexts == []
    for _ in range(3):
        store = Store(engine)
        ex = assert_fresh(store, module)
        assert id(store._ctx) == context  # the parked store's context, adopted whole
        assert allocator.parked_instances == 0
        scribble(store, ex)
        del ex, store
        assert allocator.parked_instances == 1 and engine._spare_contexts == []
    assert allocator.pool.live_instances == 0
    assert allocator.slots.created == 1


def test_the_next_store_does_not_keep_the_old_stores_data() -> None:
    engine = pooling_engine()
    module = Module(engine, STATEFUL)

    class Data:
        pass

    data = Data()
    gone = weakref.ref(data)
    store = Store(engine, data)
    Instance(store, module, [])
    del data, store
    assert gone() is None  # freed with its store, without a collection
    assert allocator_of(engine).parked_instances == 1  # the store was parked whole
    store = Store(engine)
    Instance(store, module, [])
    assert store.data is None


@pytest.mark.parametrize("interruption", ["fuel", "epoch"])
def test_interruption_state_does_not_carry_over(interruption: str) -> None:
    config = Config(strategy="jit")
    config.allocation_strategy = "pooling"
    if interruption == "fuel":
        config.consume_fuel = True
    else:
        config.epoch_interruption = True
    engine = Engine(config)
    module = Module(engine, STATEFUL)
    store = Store(engine)
    if interruption == "fuel":
        store.set_fuel(100)
    else:
        store.set_epoch_deadline(100)
    ex = Instance(store, module, []).exports(store)
    assert ex["seven"](store) == 7
    del ex, store
    assert allocator_of(engine).parked_instances == 1 and engine._spare_contexts == []
    store = Store(engine)
    ex = Instance(store, module, []).exports(store)
    if interruption == "fuel":
        assert store.get_fuel() == 0
    with pytest.raises(Trap):
        ex["seven"](store)  # no fuel, deadline 0: traps at once, as in a new store


def test_a_closed_store_never_releases_what_it_handed_on() -> None:
    engine = pooling_engine()
    module = Module(engine, STATEFUL)
    old = Store(engine)
    Instance(old, module, [])
    old.close()
    assert allocator_of(engine).parked_instances == 1  # parked whole
    new = Store(engine)
    ex = Instance(new, module, []).exports(new)
    del old  # its __del__ must not touch the adopted context
    gc.collect()
    assert ex["seven"](new) == 7
    assert ex["m"].read(new, 16, 21) == b"hello"


def test_stores_that_made_more_than_one_instance_are_not_parked_whole() -> None:
    engine = pooling_engine(total_core_instances=4)
    module = Module(engine, STATEFUL)
    allocator = allocator_of(engine)
    store = Store(engine)
    Instance(store, module, [])
    Instance(store, module, [])
    Memory(store, MemoryType(Limits(1, None)))
    del store
    # Each instance parked alone, after the store was torn down.
    assert allocator.parked_instances == 2
    store = Store(engine)
    assert_fresh(store, module)
    assert allocator.parked_instances == 1
    assert allocator.pool.live_instances == 1


def test_limits_hold_for_an_adopted_store() -> None:
    engine = pooling_engine(total_core_instances=1)
    module = Module(engine, STATEFUL)
    store = Store(engine)
    Instance(store, module, [])
    del store  # parked whole
    first = Store(engine)
    Instance(first, module, [])  # adopts it: the pool counts it again
    with pytest.raises(ResourceLimitError, match="total_core_instances"):
        Instance(Store(engine), module, [])
    del first


def test_dropping_the_module_frees_a_parked_store() -> None:
    engine = pooling_engine()
    module = Module(engine, STATEFUL)
    allocator = allocator_of(engine)
    store = Store(engine)
    Instance(store, module, [])
    del store
    assert allocator.parked_instances == 1 and allocator.slots.free_slots == 0
    del module
    gc.collect()  # the module's own structures may form cycles; the parked do not hold it
    assert allocator.parked_instances == 0
    assert allocator.slots.free_slots == 1  # its memory slot went back


def test_a_store_that_made_a_host_function_first_instantiates_as_usual() -> None:
    engine = pooling_engine()
    module = Module(engine, STATEFUL)
    store = Store(engine)
    Func(store, FuncType([ValType.i32()], []), lambda x: None)
    assert_fresh(store, module)


def test_a_full_pool_keeps_the_parked_store_for_later() -> None:
    engine = pooling_engine(total_core_instances=1)
    module = Module(engine, STATEFUL)
    other = Module(engine, "(module (memory 1))")
    allocator = allocator_of(engine)
    store = Store(engine)
    Instance(store, module, [])
    del store
    assert allocator.parked_instances == 1
    busy = Store(engine)
    Instance(busy, other, [])  # the pool's one live instance
    with pytest.raises(ResourceLimitError, match="total_core_instances"):
        Instance(Store(engine), module, [])
    assert allocator.parked_instances == 1  # still parked
    del busy
    store = Store(engine)
    assert_fresh(store, module)
    assert allocator.pool.live_instances == 1


def test_exports_of_a_closed_store_never_reach_the_next_tenant() -> None:
    engine = pooling_engine()
    module = Module(engine, STATEFUL)
    old = Store(engine)
    exports = Instance(old, module, []).exports(old)  # nothing looked up yet
    old.close()  # parked whole: the instance may serve the next store
    assert allocator_of(engine).parked_instances == 1
    new = Store(engine)
    memory = Instance(new, module, []).exports(new)["m"]
    with pytest.raises(ValueError, match="closed"):
        exports["m"]
    assert memory.read(new, 16, 21) == b"hello"


def test_exports_are_wrapped_when_looked_up() -> None:
    engine = Engine(Config(strategy="jit"))
    module = Module(engine, STATEFUL)
    store = Store(engine)
    exports = Instance(store, module, []).exports(store)
    assert exports._items == {}
    assert list(exports) == ["m", "t", "g", "seven", "call0", "poke", "bump", "spin"]
    assert exports["seven"] is exports.get("seven") is exports[3] is exports.by_index[3]
    assert [name for name, _ in exports.items()] == list(exports)
    assert "nope" not in exports and exports.get("nope", 5) == 5
