"""The pooling instance allocator (``Config.allocation_strategy``): slots are reused after
a store is dropped, its limits raise ResourceLimitError naming them, a reused memory
slot never shows the previous instance's bytes, and views keep a slot from reuse."""

from __future__ import annotations

import threading

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Instance,
    Module,
    PoolingAllocationConfig,
    ResourceLimitError,
    Store,
    Trap,
    WasmtimeError,
)
from pyjitwasm.runtime.jit.pool import PooledJitAllocator
from pyjitwasm.wasm.types import PAGE_SIZE

ENGINES = ["interp", "jit", "jit-dynamic"]

# Scribbles over its whole memory on request; its data segments put "hello" at 16 and a
# large (copy-on-write sized) run of 0xAB bytes from 65536.
BIG = 70_000
_BIG_DATA = "\\ab" * BIG
SCRIBBLER = f"""(module
  (memory (export "m") 3)
  (table 2 funcref)
  (data (i32.const 16) "hello")
  (data (i32.const 65536) "{_BIG_DATA}")
  (func (export "scribble")
    (memory.fill (i32.const 0) (i32.const 0x5a) (i32.mul (memory.size) (i32.const 65536))))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))"""

# Data at an offset read from a global: not eligible for a memory image.
GLOBAL_OFFSET = """(module
  (memory (export "m") 1)
  (global i32 (i32.const 32))
  (data (global.get 0) "xyz")
  (func (export "scribble") (memory.fill (i32.const 0) (i32.const 0x77) (i32.const 65536))))"""


def pooling_engine(name: str, **limits: int) -> Engine:
    config = Config(strategy="interp" if name == "interp" else "jit")
    if name == "jit-dynamic":
        config.memory_style = "dynamic"
    config.allocation_strategy = PoolingAllocationConfig(**limits) if limits else "pooling"
    return Engine(config)


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_config_accepts_wasmtimes_names() -> None:
    config = Config()
    assert config.allocation_strategy == "on_demand"
    config.allocation_strategy = "pooling"
    pooling = config.allocation_strategy
    assert isinstance(pooling, PoolingAllocationConfig)
    assert pooling.total_core_instances == 1000 and pooling.max_memory_size == 10 << 20
    limits = PoolingAllocationConfig(total_memories=3)
    limits.max_memory_size = 1 << 20
    config.allocation_strategy = limits
    assert config.pooling is not None and config.pooling.total_memories == 3
    with pytest.raises(WasmtimeError):
        config.allocation_strategy = "bump"
    with pytest.raises(TypeError):
        PoolingAllocationConfig(total_things=1)
    with pytest.raises(AttributeError):
        limits.total_thing = 3  # type: ignore[attr-defined]  # misspelt on purpose
    with pytest.raises(ValueError):
        limits.total_memories = -1


def test_memory_slots_are_reused_after_the_store_is_dropped() -> None:
    engine = pooling_engine("jit")
    module = Module(engine, SCRIBBLER)
    for _ in range(20):
        store = Store(engine)
        Instance(store, module, []).exports(store)["scribble"](store)
        del store
    allocator = engine.backend.allocator  # type: ignore[attr-defined]  # the JIT backend's
    assert isinstance(allocator, PooledJitAllocator)
    assert allocator.slots.created == 1
    # The slot waits with its reset instance, parked for the next store (pool.py).
    assert allocator.slots.free_slots + allocator.parked_instances == 1
    assert allocator.pool.live_instances == allocator.pool.live_memories == 0


@pytest.mark.parametrize("pooled", [True, False], ids=["pooling", "on-demand"])
def test_reused_slots_start_from_the_module_image(engine_name: str, pooled: bool) -> None:
    # On-demand static heaps reuse slots too (runtime/jit/slots.py).
    if pooled:
        engine = pooling_engine(engine_name)
    else:
        config = Config(strategy="interp" if engine_name == "interp" else "jit")
        config.memory_style = "dynamic" if engine_name == "jit-dynamic" else "static"
        engine = Engine(config)
    module = Module(engine, SCRIBBLER)
    other = Module(engine, GLOBAL_OFFSET)
    for round_ in range(3):
        for mod in (module, other, module):
            store = Store(engine)
            ex = Instance(store, mod, []).exports(store)
            memory = ex["m"]
            data = memory.read(store, 0, memory.data_len(store))
            if mod is module:
                expected = bytearray(3 * PAGE_SIZE)
                expected[16:21] = b"hello"
                expected[65536:65536 + BIG] = b"\xab" * BIG
            else:
                expected = bytearray(PAGE_SIZE)
                expected[32:35] = b"xyz"
            assert data == expected, f"round {round_}: a slot kept another instance's bytes"
            ex["scribble"](store)
            assert memory.read(store, 16, 21) == b"\x5a" * 5 or mod is other
            memory.grow(store, 1)  # grown past the copy-on-write image, then dropped
            store.close()


def test_pool_limits_raise_and_free_with_the_store(engine_name: str) -> None:
    engine = pooling_engine(engine_name, total_core_instances=2, total_memories=2)
    module = Module(engine, SCRIBBLER)
    first, second = Store(engine), Store(engine)
    Instance(first, module, [])
    Instance(second, module, [])
    with pytest.raises(ResourceLimitError, match="total_core_instances"):
        Instance(Store(engine), module, [])
    first.close()
    Instance(Store(engine), module, [])  # the closed store's slots are free again

    engine = pooling_engine(engine_name, total_memories=1)
    module = Module(engine, SCRIBBLER)
    store = Store(engine)
    Instance(store, module, [])
    with pytest.raises(ResourceLimitError, match="total_memories"):
        Instance(store, module, [])


def test_per_module_limits(engine_name: str) -> None:
    engine = pooling_engine(engine_name, max_memory_size=2 * PAGE_SIZE)
    with pytest.raises(ResourceLimitError, match="max_memory_size"):
        Instance(Store(engine), Module(engine, SCRIBBLER), [])  # 3 pages
    engine = pooling_engine(engine_name, max_memory_size=4 * PAGE_SIZE, table_elements=1)
    with pytest.raises(ResourceLimitError, match="table_elements"):
        Instance(Store(engine), Module(engine, SCRIBBLER), [])
    engine = pooling_engine(engine_name)
    two_memories = Module(engine, "(module (memory 1) (memory 1))")
    with pytest.raises(ResourceLimitError, match="max_memories_per_module"):
        Instance(Store(engine), two_memories, [])
    two_tables = Module(engine, "(module (table 1 funcref) (table 1 funcref))")
    with pytest.raises(ResourceLimitError, match="max_tables_per_module"):
        Instance(Store(engine), two_tables, [])


def test_memory_cannot_grow_past_max_memory_size(engine_name: str) -> None:
    engine = pooling_engine(engine_name, max_memory_size=4 * PAGE_SIZE)
    module = Module(engine, """(module (memory (export "m") 1)
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))""")
    store = Store(engine)
    ex = Instance(store, module, []).exports(store)
    assert ex["grow"](store, 3) == 1
    assert ex["grow"](store, 1) == -1
    with pytest.raises(WasmtimeError):
        ex["m"].grow(store, 1)


def test_a_view_keeps_its_slot_from_reuse() -> None:
    engine = pooling_engine("jit")
    module = Module(engine, SCRIBBLER)
    store = Store(engine)
    ex = Instance(store, module, []).exports(store)
    ex["scribble"](store)
    buffer = ex["m"].get_buffer_ptr(store)
    store.close()
    del ex, store
    # A new instance gets another slot: the old view still shows the old bytes.
    store = Store(engine)
    Instance(store, module, []).exports(store)["load"](store, 0)
    assert bytes(buffer[:4]) == b"\x5a" * 4
    allocator = engine.backend.allocator  # type: ignore[attr-defined]  # the JIT backend's
    assert allocator.slots.created == 2
    store.close()
    del buffer  # the first slot is reset and freed now
    # The second waits with its reset instance, parked for the next store (pool.py).
    assert allocator.slots.free_slots == 1 and allocator.parked_instances == 1


def test_guard_pages_hold_for_a_smaller_tenant() -> None:
    engine = pooling_engine("jit")
    big = Module(engine, SCRIBBLER)  # 3 pages, all written
    small = Module(engine, """(module (memory 1)
      (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))""")
    store = Store(engine)
    Instance(store, big, []).exports(store)["scribble"](store)
    store.close()
    store = Store(engine)
    load = Instance(store, small, []).exports(store)["load"]
    assert load(store, PAGE_SIZE - 1) == 0
    with pytest.raises(Trap):
        load(store, PAGE_SIZE)  # the previous tenant's second page is inaccessible again


@pytest.mark.parametrize("name", ENGINES)
def test_an_element_trap_leaves_the_memory_image_unapplied(name: str) -> None:
    # The specification applies data segments after element segments: a trap in one of
    # these keeps earlier effects (a funcref into an imported table) and applies no data,
    # which a memory image must not change.
    for pooled in (False, True):
        config = Config(strategy="interp" if name == "interp" else "jit")
        if name == "jit-dynamic":
            config.memory_style = "dynamic"
        if pooled:
            config.allocation_strategy = "pooling"
        engine = Engine(config)
        store = Store(engine)
        table_owner = Instance(store, Module(engine, '(module (table (export "t") 2 funcref))'),
                               [])
        table = table_owner.exports(store)["t"]
        failing = Module(engine, """(module
          (import "" "t" (table 2 funcref))
          (memory 1)
          (data (i32.const 0) "hi")
          (func $load0 (result i32) (i32.load8_u (i32.const 0)))
          (elem (i32.const 0) $load0)
          (elem (i32.const 5) $load0))""")
        with pytest.raises(Trap):
            Instance(store, failing, [table])
        load0 = table.get(store, 0)
        assert load0 is not None
        assert load0(store) == 0


def test_threads_share_one_pool() -> None:
    engine = pooling_engine("jit", total_core_instances=4, total_memories=4)
    module = Module(engine, SCRIBBLER)
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            for _ in range(30):
                with Store(engine) as store:
                    ex = Instance(store, module, []).exports(store)
                    assert ex["load"](store, 16) == ord("h")
                    ex["scribble"](store)
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    allocator = engine.backend.allocator  # type: ignore[attr-defined]  # the JIT backend's
    assert allocator.pool.live_instances == allocator.pool.live_memories == 0
    assert allocator.slots.created <= 4


def test_counts_given_back_by_a_finalizer_inside_the_pools_lock_do_not_wait_forever() -> None:
    """A collection may start inside the pool's lock, and the finalizers it runs give
    counts back on the same thread (a dropped store's slots, a dropped module's parked
    instances): the lock lets the same thread in again."""
    from pyjitwasm.runtime.pooling import InstancePool
    from pyjitwasm.runtime.pooling import PoolingAllocationConfig as RuntimeConfig

    pool = InstancePool(RuntimeConfig())
    pool.take_counts(1, 1)

    def finalizer_inside_the_lock() -> None:
        with pool.lock:
            pool.give_back(1, 1, 1)  # what the finalizer does

    thread = threading.Thread(target=finalizer_inside_the_lock, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "the pool's lock is not reentrant: self-deadlock"
    assert (pool.live_instances, pool.live_memories, pool.live_tables) == (0, 0, 0)
