"""The custom page sizes proposal on every engine (``Config.wasm_custom_page_sizes``):
memories of 1-byte pages count memory.size/memory.grow in bytes, trap exactly at their
length (on the JIT's default static heap style too, where such a memory is bounds-checked
because its length can end inside an OS page), bound data segments, match imports only
with an equal page size, and work with store limits, pooling, memory64 and the API's
``page_size``."""

from __future__ import annotations

import mmap

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
    PoolingAllocationConfig,
    Store,
    Trap,
    UnsupportedFeatureError,
    WasmtimeError,
)
from pyjitwasm.cli import main as cli_main
from pyjitwasm.runtime.jit.memory import JitMemory

ENGINES = ["interp", "jit", "jit-dynamic"]

BYTE_PAGES = """(module
  (memory (export "m") 5 (pagesize 1))
  (data (i32.const 2) "abc")
  (func (export "size") (result i32) memory.size)
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "load32") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "store8") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "fill") (param i32 i32)
    (memory.fill (local.get 0) (i32.const 9) (local.get 1))))"""


def make_config(name: str, enable: bool = True) -> Config:
    config = Config(strategy="interp" if name == "interp" else "jit")
    if name == "jit-dynamic":
        config.memory_style = "dynamic"
    if enable:
        config.wasm_custom_page_sizes = True
    return config


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def engine(engine_name: str) -> Engine:
    return Engine(make_config(engine_name))


def instantiate(engine: Engine, wat: str = BYTE_PAGES) -> tuple[Store, dict]:
    store = Store(engine)
    return store, Instance(store, Module(engine, wat), []).exports(store)


def assert_out_of_bounds(call, *args) -> None:
    with pytest.raises(Trap) as info:
        call(*args)
    assert "out of bounds memory access" in str(info.value)


# The switch --------------------------------------------------------------------------


def test_off_by_default_and_a_module_using_it_is_refused_naming_the_proposal(
        engine_name: str) -> None:
    config = make_config(engine_name, enable=False)
    assert config.wasm_custom_page_sizes is False
    engine = Engine(config)
    with pytest.raises(UnsupportedFeatureError, match="custom page sizes"):
        Module(engine, BYTE_PAGES)
    with pytest.raises(WasmtimeError, match="custom page sizes"):
        Memory(Store(engine), MemoryType(Limits(1, None), page_size_log2=0))


def test_config_takes_only_a_bool() -> None:
    config = Config()
    config.wasm_custom_page_sizes = True
    assert config.wasm_custom_page_sizes is True
    with pytest.raises(TypeError):
        setattr(config, "wasm_custom_page_sizes", 1)  # noqa: B010 (an int, on purpose)


# Sizes and bounds --------------------------------------------------------------------


def test_size_and_grow_count_bytes(engine: Engine) -> None:
    store, ex = instantiate(engine)
    assert ex["size"](store) == 5
    assert ex["grow"](store, 3) == 5
    assert ex["size"](store) == 8
    assert ex["m"].size(store) == 8 and ex["m"].data_len(store) == 8
    assert ex["m"].grow(store, 1) == 8
    assert ex["size"](store) == 9


def test_accesses_trap_exactly_at_the_length(engine: Engine) -> None:
    store, ex = instantiate(engine)
    assert [ex["load8"](store, i) for i in range(5)] == [0, 0, 97, 98, 99]
    assert_out_of_bounds(ex["load8"], store, 5)
    assert_out_of_bounds(ex["load32"], store, 2)  # bytes 2..5: one past the end
    assert ex["load32"](store, 1) == int.from_bytes(b"\0abc", "little")
    assert_out_of_bounds(ex["store8"], store, 5, 1)
    assert_out_of_bounds(ex["fill"], store, 3, 3)
    ex["fill"](store, 3, 2)
    assert ex["m"].read(store, 0, 5) == b"\0\0a\t\t"
    ex["grow"](store, 1)
    assert ex["load8"](store, 5) == 0  # the new byte is zero and now in bounds
    assert_out_of_bounds(ex["load8"], store, 6)


def test_trap_at_the_length_inside_an_os_page_on_the_static_heap_style() -> None:
    # The default JIT heap style is static; a 1-byte-page memory cannot rely on guard
    # pages there (the rest of the OS page after its length is mapped), so it must be
    # bounds-checked: the accesses right after the length, still inside that OS page,
    # trap and leave the bytes alone.
    engine = Engine(make_config("jit"))
    assert engine.config.memory_style == "static"
    store, ex = instantiate(engine)
    memory = ex["m"]._rt
    assert isinstance(memory, JitMemory) and not memory.static
    page = mmap.PAGESIZE
    for length in (5, page - 1, page + 1):
        ex["grow"](store, length - ex["size"](store))
        assert ex["size"](store) == length
        ex["store8"](store, length - 1, 7)
        assert ex["load8"](store, length - 1) == 7
        for address in (length, length + 1, (length + page - 1) // page * page - 1):
            if address >= length:
                assert_out_of_bounds(ex["load8"], store, address)
                assert_out_of_bounds(ex["store8"], store, address, 1)
        assert_out_of_bounds(ex["load32"], store, length - 3)
    # The bytes after the length were never written: growing shows zeros there.
    ex["grow"](store, 2)
    assert ex["load8"](store, page + 1) == 0 and ex["load8"](store, page + 2) == 0


def test_64k_pages_stay_a_static_heap_next_to_a_byte_page_memory() -> None:
    engine = Engine(make_config("jit"))
    wat = """(module (memory (export "small") 1 (pagesize 1))
                     (memory (export "big") 1 (pagesize 65536)))"""
    store, ex = instantiate(engine, wat)
    assert not ex["small"]._rt.static and ex["big"]._rt.static
    assert ex["big"].page_size(store) == 65536 and ex["small"].page_size(store) == 1


def test_grow_past_the_declared_maximum_fails(engine: Engine) -> None:
    wat = """(module (memory 2 10 (pagesize 1))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"""
    store, ex = instantiate(engine, wat)
    assert ex["grow"](store, 9) == -1
    assert ex["grow"](store, 8) == 2
    assert ex["grow"](store, 1) == -1


def test_data_segment_past_the_length_fails_instantiation(engine: Engine) -> None:
    wat = """(module (memory 4 (pagesize 1)) (data (i32.const 2) "abc"))"""
    with pytest.raises(Trap, match="out of bounds memory access"):
        instantiate(engine, wat)
    store, ex = instantiate(engine, """(module (memory (export "m") 5 (pagesize 1))
      (data (i32.const 2) "abc"))""")
    assert ex["m"].read(store, 0, 5) == b"\0\0abc"


def test_memory_init_is_bounded_by_bytes(engine: Engine) -> None:
    wat = """(module (memory 4 (pagesize 1)) (data $d "xyz")
      (func (export "init") (param i32)
        (memory.init $d (local.get 0) (i32.const 0) (i32.const 3)))
      (func (export "load8") (param i32) (result i32) (i32.load8_u (local.get 0))))"""
    store, ex = instantiate(engine, wat)
    ex["init"](store, 1)
    assert ex["load8"](store, 3) == ord("z")
    assert_out_of_bounds(ex["init"], store, 2)


def test_inline_data_sizes_the_memory_in_bytes(engine: Engine) -> None:
    store, ex = instantiate(engine, """(module (memory (export "m") (pagesize 1) (data "xyz"))
      (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))""")
    assert ex["m"].size(store) == 3 and ex["m"].read(store, 0, 3) == b"xyz"
    assert ex["grow"](store, 1) == -1  # the abbreviation sets the maximum too


def test_memory64_with_byte_pages(engine: Engine) -> None:
    wat = """(module (memory i64 3 (pagesize 1))
      (func (export "size") (result i64) memory.size)
      (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
      (func (export "load8") (param i64) (result i32) (i32.load8_u (local.get 0))))"""
    store, ex = instantiate(engine, wat)
    assert ex["size"](store) == 3
    assert ex["grow"](store, 4) == 3
    assert ex["load8"](store, 6) == 0
    assert_out_of_bounds(ex["load8"], store, 7)
    assert ex["grow"](store, (1 << 64) - 1) == -1


# Linking -----------------------------------------------------------------------------


def test_imports_need_an_equal_page_size(engine: Engine) -> None:
    store = Store(engine)
    small = Memory(store, MemoryType(Limits(8, None), page_size_log2=0))
    large = Memory(store, MemoryType(Limits(1, None)))
    importer = """(module (import "env" "m" (memory 1 (pagesize {})))
      (func (export "size") (result i32) memory.size))"""
    for memory, page_size in ((small, 1), (large, 65536)):
        linker = Linker(engine)
        linker.define(store, "env", "m", memory)
        ex = linker.instantiate(store, Module(engine, importer.format(page_size))).exports(store)
        assert ex["size"](store) == memory.size(store)
    for memory, page_size in ((small, 65536), (large, 1)):
        linker = Linker(engine)
        linker.define(store, "env", "m", memory)
        with pytest.raises(WasmtimeError, match="incompatible import type"):
            linker.instantiate(store, Module(engine, importer.format(page_size)))


# The API ------------------------------------------------------------------------------


def test_memory_type_and_memory_report_the_page_size(engine: Engine) -> None:
    ty = MemoryType(Limits(1, None), page_size_log2=0)
    assert (ty.page_size, ty.page_size_log2) == (1, 0)
    store = Store(engine)
    memory = Memory(store, ty)
    assert (memory.page_size(store), memory.page_size_log2(store)) == (1, 0)
    assert memory.type(store).page_size_log2 == 0
    assert memory.grow(store, 10) == 1 and memory.data_len(store) == 11
    default = MemoryType(Limits(1, None))
    assert (default.page_size, default.page_size_log2) == (65536, 16)


@pytest.mark.parametrize("log2", [1, 8, 12, 15, 17, -1])
def test_memory_type_refuses_other_page_sizes(log2: int) -> None:
    with pytest.raises(WasmtimeError, match="invalid custom page size"):
        MemoryType(Limits(1, None), page_size_log2=log2)


def test_memory_type_bounds_follow_the_page_size() -> None:
    MemoryType(Limits(0, (1 << 32) - 1), page_size_log2=0)
    with pytest.raises(WasmtimeError):
        MemoryType(Limits(0, 1 << 32), page_size_log2=0)
    with pytest.raises(WasmtimeError):
        MemoryType(Limits(0, 65537))


# Limits and pooling ---------------------------------------------------------------------


def test_store_limits_count_bytes(engine: Engine) -> None:
    store = Store(engine)
    store.set_limits(memory_size=100)
    ex = Instance(store, Module(engine, BYTE_PAGES), []).exports(store)
    assert ex["grow"](store, 95) == 5
    assert ex["grow"](store, 1) == -1
    with pytest.raises(WasmtimeError):
        ex["m"].grow(store, 1)
    assert ex["size"](store) == 100


@pytest.mark.parametrize("name", ENGINES)
def test_pooling_allocator_with_byte_pages(name: str) -> None:
    config = make_config(name)
    config.allocation_strategy = PoolingAllocationConfig(max_memory_size=4096)
    engine = Engine(config)
    module = Module(engine, BYTE_PAGES)
    for _ in range(3):  # slots are reused; each tenant sees a fresh memory
        store = Store(engine)
        ex = Instance(store, module, []).exports(store)
        assert [ex["load8"](store, i) for i in range(5)] == [0, 0, 97, 98, 99]
        assert_out_of_bounds(ex["load8"], store, 5)
        ex["fill"](store, 0, 5)
        assert ex["grow"](store, 4091) == 5
        assert ex["grow"](store, 1) == -1  # max_memory_size is in bytes
        assert_out_of_bounds(ex["load8"], store, 4096)
        del ex, store


# The command line ---------------------------------------------------------------------


def test_run_takes_wasmtimes_custom_page_sizes_option(tmp_path, capsys) -> None:
    path = tmp_path / "bytes.wat"
    path.write_text("""(module (memory 7 (pagesize 1))
      (func (export "size") (result i32) memory.size))""")
    assert cli_main(["run", "--invoke", "size", str(path)]) == 1
    assert "custom page sizes" in capsys.readouterr().err
    for option in ("custom-page-sizes", "custom-page-sizes=y"):
        assert cli_main(["run", "-W", option, "--invoke", "size", str(path)]) == 0
        assert capsys.readouterr().out.split() == ["7"]
    assert cli_main(["run", "-W", "custom-page-sizes=n", "--invoke", "size", str(path)]) == 1
    assert cli_main(["run", "-W", "custom-page-sizes=maybe", str(path)]) == 1
    assert "unsupported option" in capsys.readouterr().err
