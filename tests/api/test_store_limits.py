"""Store.set_limits on both engines: grows past a limit fail (-1 in wasm, an error from
the API), creation past a limit raises ResourceLimitError, instantiation whose initial
sizes or counts pass a limit fails before any of it exists, and WASI cannot get around
them."""

from __future__ import annotations

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Instance,
    Limits,
    Linker,
    Memory,
    MemoryType,
    Module,
    ResourceLimitError,
    Store,
    Table,
    TableType,
    ValType,
    WasiConfig,
    WasmtimeError,
)
from pyjitwasm.wasm.types import PAGE_SIZE

ENGINES = ["interp", "jit", "jit-dynamic"]

GROWER = """(module
  (memory (export "m") 1)
  (table (export "t") 1 funcref)
  (func (export "grow_mem") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "grow_table") (param i32) (result i32)
    (table.grow (ref.null func) (local.get 0))))"""


def make_engine(name: str) -> Engine:
    config = Config(strategy="interp" if name == "interp" else "jit")
    if name == "jit-dynamic":
        config.memory_style = "dynamic"
    return Engine(config)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Engine:
    return make_engine(request.param)


def test_memory_grow_in_wasm_returns_minus_one_past_the_limit(engine: Engine) -> None:
    store = Store(engine)
    store.set_limits(memory_size=3 * PAGE_SIZE)
    ex = Instance(store, Module(engine, GROWER), []).exports(store)
    assert ex["grow_mem"](store, 2) == 1
    assert ex["grow_mem"](store, 1) == -1  # would be 4 pages
    assert ex["m"].size(store) == 3
    with pytest.raises(WasmtimeError):
        ex["m"].grow(store, 1)
    assert ex["grow_mem"](store, 0) == 3
    # Raising the limit later lets the same memory grow (the limit is read on each grow).
    store.set_limits(memory_size=4 * PAGE_SIZE)
    assert ex["grow_mem"](store, 1) == 3


def test_table_grow_in_wasm_returns_minus_one_past_the_limit(engine: Engine) -> None:
    store = Store(engine)
    store.set_limits(table_elements=5)
    ex = Instance(store, Module(engine, GROWER), []).exports(store)
    assert ex["grow_table"](store, 4) == 1
    assert ex["grow_table"](store, 1) == -1
    assert ex["t"].size(store) == 5
    with pytest.raises(WasmtimeError):
        ex["t"].grow(store, 1, None)


def test_host_created_memory_and_table_respect_size_limits(engine: Engine) -> None:
    store = Store(engine)
    store.set_limits(memory_size=PAGE_SIZE, table_elements=2)
    Memory(store, MemoryType(Limits(1, None)))
    with pytest.raises(ResourceLimitError, match="memory_size"):
        Memory(store, MemoryType(Limits(2, None)))
    Table(store, TableType(ValType.funcref(), Limits(2, None)), None)
    with pytest.raises(ResourceLimitError, match="table_elements"):
        Table(store, TableType(ValType.funcref(), Limits(3, None)), None)


def test_instantiation_with_initial_sizes_past_the_limits_fails(engine: Engine) -> None:
    module = Module(engine, GROWER)
    store = Store(engine)
    store.set_limits(memory_size=0)
    with pytest.raises(ResourceLimitError, match="memory minimum"):
        Instance(store, module, [])
    store = Store(engine)
    store.set_limits(table_elements=0)
    with pytest.raises(ResourceLimitError, match="table minimum"):
        Instance(store, module, [])


def test_count_limits(engine: Engine) -> None:
    module = Module(engine, GROWER)
    store = Store(engine)
    store.set_limits(instances=2)
    Instance(store, module, [])
    Instance(store, module, [])
    with pytest.raises(ResourceLimitError, match="instance count"):
        Instance(store, module, [])

    store = Store(engine)
    store.set_limits(memories=2, tables=5)
    Memory(store, MemoryType(Limits(0, None)))  # host-created memories count too
    Instance(store, module, [])
    with pytest.raises(ResourceLimitError, match="memory count"):
        Instance(store, module, [])
    with pytest.raises(ResourceLimitError, match="memory count"):
        Memory(store, MemoryType(Limits(0, None)))

    # A count limit fails the instantiation before any of the instance is made: the
    # failed attempt did not use up the table budget.
    store = Store(engine)
    store.set_limits(tables=1, memories=0)
    with pytest.raises(ResourceLimitError):
        Instance(store, module, [])
    Table(store, TableType(ValType.funcref(), Limits(0, None)), None)


def test_negative_values_leave_limits_as_they_were(engine: Engine) -> None:
    store = Store(engine)
    store.set_limits(memory_size=PAGE_SIZE)
    store.set_limits(table_elements=10)  # memory_size stays
    with pytest.raises(ResourceLimitError):
        Memory(store, MemoryType(Limits(2, None)))
    with pytest.raises(TypeError):
        store.set_limits(memory_size="big")  # type: ignore[arg-type]  # the wrong type on purpose


WASI_GROWER = """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    ;; an iovec at 0 pointing past the limit, then a grow attempt
    (i32.store (i32.const 0) (i32.const 70000))
    (i32.store (i32.const 4) (i32.const 16))
    (i32.store (i32.const 104)
      (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (i32.store (i32.const 100) (memory.grow (i32.const 1)))))"""


def test_wasi_cannot_exceed_the_limits(engine: Engine) -> None:
    store = Store(engine)
    store.set_limits(memory_size=PAGE_SIZE)
    store.set_wasi(WasiConfig())
    linker = Linker(engine)
    linker.define_wasi()
    ex = linker.instantiate(store, Module(engine, WASI_GROWER)).exports(store)
    ex["_start"](store)
    memory = ex["memory"]
    assert memory.size(store) == 1
    # fd_write given a buffer past the end of memory reports EFAULT (21) and the grow
    # failed: the guest stays inside its one page.
    assert int.from_bytes(memory.read(store, 100, 104), "little", signed=True) == -1
    assert int.from_bytes(memory.read(store, 104, 108), "little") == 21
