"""Warm start set-up, session 10: what a warm start no longer makes or computes, and
that what it now makes on first use is one object on every access.

- ``ModuleCode.info`` (the translator's ``ModuleInfo``) is made when something is
  compiled, never on a warm start whose code all comes from the pack.
- A per-signature caller's code object is kept in the code cache under its signature:
  a warm start neither generates nor hashes its source.
- Small packs and records are read, not mapped, and every entry read is marked used
  through its open descriptor.
- A single entry shim (a program's first call from Python) is written and mapped
  without the general shim path.
- The pack places the entry shims of the signatures a run entered from Python after a
  linked chunk's code: a warm start's first calls make no shim.
- A module with little data has its data plan in its packs: a warm start neither
  decodes its data segments nor reads a record.
- The cyclic collector is paused only around work that makes many objects: instances
  of modules of many functions, large plan logs and packs, ELF pack chunks."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from pyjitwasm.jit.codeload import CodeLoader
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime.jit.batch_pack import LinkedImage
from pyjitwasm.runtime.jit.cached_compile import ModuleCacheView, write_pack
from pyjitwasm.runtime.jit.call import invoke
from pyjitwasm.runtime.jit.code_cache import CodeCache, open_code_cache
from pyjitwasm.runtime.jit.compile_module import CompileOptions
from pyjitwasm.runtime.jit.fingerprint import compiler_fingerprint
from pyjitwasm.runtime.jit.instance import instantiate
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.jit.store import JitStoreContext
from pyjitwasm.runtime.native import lazy_stubs_supported
from pyjitwasm.translate.module_info import ModuleInfo
from pyjitwasm.translate.vmctx import layout_for_module
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.types import FuncType
from pyjitwasm.wasm.validator import validate_module
from pyjitwasm.wat import wat2wasm

from support.fresh_callers import exports_as_a_fresh_process

pytestmark = pytest.mark.skipif(not lazy_stubs_supported(),
                                reason="warm starts record lazy batches")

WAT = """(module
  (memory 1)
  (func $leaf (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func (export "f") (param i32) (result i32) (call $leaf (local.get 0)))
  (func (export "g") (param i64 f64) (result f64)
    (f64.add (f64.convert_i64_s (local.get 0)) (local.get 1))))
"""
WASM = wat2wasm(WAT)
OPTIONS = CompileOptions(lazy=True, lazy_batch_instructions=0)


def _cache(directory: Path) -> CodeCache:
    cache = open_code_cache(directory, compiler_fingerprint(OPTIONS, "test"))
    assert cache is not None
    return cache


def _run(cache: CodeCache | None) -> ModuleCode:
    module = decode_module(WASM)
    validate_module(module)
    view = None if cache is None else ModuleCacheView.of(cache, WASM)
    code = ModuleCode(module, OPTIONS, symbol_addresses(), view)
    inst = instantiate(code, [], JitStoreContext(), invoke)
    assert invoke(inst.exports["f"], [5]) == [15]
    assert invoke(inst.exports["g"], [2, 0.5]) == [2.5]
    return code


def _warm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleCode:
    """A warm start from a pack, which must neither compile nor read a batch's entry."""
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    assert write_pack(cache, ModuleCacheView.of(cache, WASM).module_digest, OPTIONS)

    def no_compile(self: CodeLoader, ir: Any) -> bytes:
        raise AssertionError("a warm run compiled code")

    def no_entry(self: CodeCache, key: str, count: bool = True) -> Any:
        raise AssertionError("a batch was read from its own entry")
    monkeypatch.setattr(CodeLoader, "compile_object", no_compile)
    monkeypatch.setattr(CodeCache, "load", no_entry)
    return _run(_cache(tmp_path))


def test_a_warm_start_from_the_pack_makes_no_module_info(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    warm = _warm(tmp_path, monkeypatch)
    assert warm.preloaded_batches >= 2
    assert warm._info is None  # noqa: SLF001 - nothing compiled: never needed


def test_module_info_is_made_once_with_the_code_s_layout() -> None:
    code = _run(None)  # compiled: the info was made for it
    info = code.info
    assert isinstance(info, ModuleInfo)
    assert info is code.info and info.layout is code.layout
    assert code.layout == layout_for_module(code.module)
    assert info.num_imported_funcs == code.layout.num_imported_funcs


def test_module_info_made_on_two_threads_at_once_is_one_object() -> None:
    module = decode_module(WASM)
    validate_module(module)
    code = ModuleCode(module, OPTIONS, symbol_addresses())
    seen: list[ModuleInfo] = []
    start = threading.Barrier(4)

    def read() -> None:
        start.wait()
        seen.append(code.info)
    threads = [threading.Thread(target=read) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 4 and all(info is seen[0] for info in seen)


def test_a_warm_start_takes_its_caller_by_signature_without_making_its_source(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm.runtime.jit import callers

    made: list[FuncType] = []
    real = callers._api_template_source  # noqa: SLF001

    def counting(ftype: FuncType) -> str:
        made.append(ftype)
        return real(ftype)
    monkeypatch.setattr(callers, "_api_template_source", counting)
    # Signatures no other test uses, so no caller of them exists in this process yet.
    wat = ('(module (func (export "f") (param f64 i32 i64 i32) (result i64)'
           ' (i64.add (local.get 2) (i64.extend_i32_s (local.get 1))))'
           ' (func (export "g") (param f64 i32 i64 i32) (result i32) (local.get 3)))')
    for run in range(2):
        store, exports = exports_as_a_fresh_process(monkeypatch, str(tmp_path), wat)
        assert exports["f"](store, 0.5, -3, 10, 7) == 7
        assert exports["g"](store, 0.5, -3, 10, 7) == 7  # same params, another result
        # The first run makes both callers' sources; the second finds them by name.
        assert len(made) == 2 and made[0] != made[1], run


def test_callers_of_different_signatures_have_different_names() -> None:
    from pyjitwasm.runtime.jit.callers import _signature_name
    from pyjitwasm.wasm.types import F64, I32, I64

    names = {_signature_name(FuncType(params, results)) for params, results in [
        ((I32,), ()), ((), (I32,)), ((I32, I64), ()), ((I32,), (I64,)), ((I64, I32), ()),
        ((F64,), (F64,)), ((), ())]}
    assert len(names) == 7


@pytest.mark.parametrize("map_min", [0, 1 << 30], ids=["mapped", "read"])
def test_packs_and_records_load_mapped_or_read_and_are_marked_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, map_min: int) -> None:
    import mmap
    import os

    from pyjitwasm.runtime.jit import code_cache

    monkeypatch.setattr(code_cache, "MAP_MIN_BYTES", map_min)
    cache = _cache(tmp_path)
    pack_key, record_key, entry_key = "a" * 64, "b" * 64, "c" * 64
    assert cache.store_pack(pack_key, b"pack body")
    cache.store_record(record_key, b"record body")
    cache.store_code_object(entry_key, compile("x = 1", "<test>", "exec"))
    old = 1_000_000_000  # 2001: the cleanup would delete these first
    for key in (pack_key, record_key, entry_key):
        os.utime(cache._path(key), (old, old))  # noqa: SLF001
    pack = cache.load_pack(pack_key)
    assert pack is not None and bytes(pack) == b"pack body"
    assert isinstance(pack.obj, mmap.mmap) == (map_min == 0)
    record = cache.load_record(record_key)
    assert record is not None and bytes(record.payload) == b"record body"
    assert record.mapped == (map_min == 0)
    record.close()
    assert cache.load_code_object(entry_key) is not None
    for key in (pack_key, record_key, entry_key):
        assert cache._path(key).stat().st_mtime > old  # noqa: SLF001 - marked used
    # A damaged pack is still refused (and deleted) either way.
    path = cache._path(pack_key)  # noqa: SLF001
    path.write_bytes(path.read_bytes()[:-1] + b"!")
    assert cache.load_pack(pack_key) is None and not path.exists()


def test_an_entry_shim_is_mapped_on_its_own_and_made_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm import Engine, Instance, Module, Store
    from pyjitwasm.runtime.jit import shims

    if not shims.x64_shims_enabled():
        pytest.skip("machine-code shims are for x86-64 Linux")
    monkeypatch.setattr(shims, "_entry", {})  # as a fresh process has

    def general(machine: Any) -> Any:
        raise AssertionError("one entry shim took the general path")
    monkeypatch.setattr(shims, "_map_machine_code", general)
    # Nine parameters of both kinds: some on the stack.
    params = "i64 f64 i32 f32 i64 f64 i32 f32 i64"
    wat = (f'(module (func (export "f") (param {params}) (result f64)'
           ' (f64.add (f64.convert_i64_s (local.get 8))'
           ' (f64.add (local.get 5) (f64.promote_f32 (local.get 7))))))')
    engine = Engine()
    store = Store(engine)
    f = Instance(store, Module(engine, wat), []).exports(store)["f"]
    assert f(store, 1, 2.0, 3, 4.0, 5, 6.5, 7, 8.25, -9) == 6.5 + 8.25 - 9
    assert len(shims._entry) == 1  # noqa: SLF001
    (address,) = shims._entry.values()  # noqa: SLF001
    assert shims.entry_shim(*next(iter(shims._entry))) == address  # noqa: SLF001


def _warm_with_pack(tmp_path: Path) -> tuple[CodeCache, str]:
    """A cold run that enters f and g from Python, and its pack (written as at exit)."""
    from pyjitwasm.runtime.jit import cached_compile

    cached_compile._entry_signatures.clear()  # noqa: SLF001 - this process's earlier runs
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    digest = ModuleCacheView.of(cache, WASM).module_digest
    assert write_pack(cache, digest, OPTIONS)
    return cache, digest


def test_a_warm_start_enters_through_the_shims_its_pack_placed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm.runtime.jit import shims
    from pyjitwasm.runtime.jit.batch_pack import ENTRY_SHIM_ROW, decode_pack
    from pyjitwasm.runtime.jit.linked_chunk import LinkedChunk

    if shims.entry_shim_machine_code((), ()) is None:
        pytest.skip("entry shims are machine code on x86-64 Linux")
    cache, digest = _warm_with_pack(tmp_path)
    payload = cache.load_pack(cache.pack_key(digest, OPTIONS))
    assert payload is not None
    linked = decode_pack(payload).chunk(0).linked
    assert linked is not None
    placed = {type_index for number, type_index, _ in linked.shims if number == ENTRY_SHIM_ROW}
    module = decode_module(WASM)
    exported = {module.funcs[e.index - module.num_imported_funcs] for e in module.exports}
    assert placed == exported  # f's and g's signatures

    def no_shim(*args: Any) -> Any:
        raise AssertionError("a warm start made an entry shim")
    monkeypatch.setattr(shims, "_make", no_shim)
    monkeypatch.setattr(shims, "_entry", {})  # as a fresh process has
    warm = _run(_cache(tmp_path))  # f and g called, results checked
    chunk = next(item for item in warm._batches if isinstance(item, LinkedChunk))  # noqa: SLF001
    for type_index in exported:
        shim = warm._entry_shims[type_index]  # noqa: SLF001
        assert chunk.base <= shim < chunk.base + linked.code_size
        # Outside the chunk's code range (the code map's), as shims mapped alone are.
        assert not any(r.start <= shim < r.end for r in chunk.code_ranges)


def test_without_x64_shims_a_warm_start_makes_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm.runtime.jit import shims

    if shims.entry_shim_machine_code((), ()) is None:
        pytest.skip("entry shims are machine code on x86-64 Linux")
    _warm_with_pack(tmp_path)
    monkeypatch.setenv("PYJITWASM_X64_SHIMS", "0")
    made: list[Any] = []
    real = shims.entry_shim

    def counting(params: Any, results: Any) -> int:
        made.append((params, results))
        return real(params, results)
    monkeypatch.setattr(shims, "entry_shim", counting)
    _run(_cache(tmp_path))
    assert len(made) == 2  # the pack's machine-code shims were left alone


def test_a_placed_shim_outside_the_code_pages_is_refused() -> None:
    from pyjitwasm.jit.objload import UnsupportedObject
    from pyjitwasm.runtime.jit.batch_pack import ENTRY_SHIM_ROW, _place_entry_shims

    # Placed after the code, 16-byte aligned, while they fit in the code pages.
    image, rows = _place_entry_shims(b"\xc3" * 20, 20, 64, [(0, b"\x90" * 16),
                                                            (1, b"\x90" * 16),
                                                            (2, b"\x90" * 16)])
    assert rows == [[ENTRY_SHIM_ROW, 0, 32], [ENTRY_SHIM_ROW, 1, 48]]
    assert image[20:32] == bytes(12) and image[32:64] == b"\x90" * 32
    # A loaded chunk whose shim row points outside its code is refused.
    import dataclasses

    from pyjitwasm.runtime.jit.linked_chunk import LinkedChunk
    module = decode_module(WASM)
    validate_module(module)
    code = ModuleCode(module, OPTIONS, symbol_addresses())
    empty = memoryview(b"").cast("q")
    linked = LinkedImage(memoryview(b""), memoryview(b""), [], 4096, 4096, 0, 4096,
                         [(ENTRY_SHIM_ROW, 0, 4096)], (empty,) * 5)
    with pytest.raises(UnsupportedObject):
        LinkedChunk(module, code.layout, OPTIONS, linked, [], [], {})
    with pytest.raises(UnsupportedObject):
        LinkedChunk(module, code.layout, OPTIONS,
                    dataclasses.replace(linked, shims=[(7, 0, 16)]), [], [], {})


DATA_WAT = """(module
  (memory (export "mem") 2)
  (data (i32.const 16) "hello")
  (data (i32.const 7000) "far")
  (data $p "passive!")
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "init") (param i32)
    (memory.init $p (local.get 0) (i32.const 0) (i32.const 8)))
  (func (export "drop") (data.drop $p)))
"""


def _data_run(directory: Path) -> Any:
    """Module() + Instance() + calls through the API with a code cache; the module."""
    from pyjitwasm import Config, Engine, Instance, Memory, Module, Store, Trap

    config = Config()
    config.cache = str(directory)
    engine = Engine(config)
    module = Module(engine, wat2wasm(DATA_WAT))
    store = Store(engine)
    exports = Instance(store, module, []).exports(store)
    memory = exports["mem"]
    assert isinstance(memory, Memory)
    assert bytes(memory.read(store, 16, 21)) == b"hello"
    assert bytes(memory.read(store, 7000, 7003)) == b"far"
    assert exports["load"](store, 17) == ord("e")
    exports["init"](store, 100)
    assert bytes(memory.read(store, 100, 108)) == b"passive!"
    exports["drop"](store)
    with pytest.raises(Trap):
        exports["init"](store, 200)
    return module


def test_a_small_data_plan_travels_in_the_pack(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm.runtime import images
    from pyjitwasm.runtime.jit import cached_compile, module_record

    cached_compile._data_plans.clear()  # noqa: SLF001 - this process's earlier runs
    cold = _data_run(tmp_path)
    assert cold._wasm.datas_decoded  # planned from its segments, and no record kept
    assert cached_compile.write_packs() >= 1
    planned: list[Any] = []
    real = images.plan_data

    def counting(module: Any) -> Any:
        planned.append(module)
        return real(module)
    monkeypatch.setattr(module_record, "plan_data", counting)

    def no_record(*args: Any) -> Any:
        raise AssertionError("a record was read")
    monkeypatch.setattr(module_record, "load_data_plan", no_record)
    warm = _data_run(tmp_path)  # the same memory, passive segment and traps
    assert not planned and not warm._wasm.datas_decoded  # no segment decoded


def test_a_damaged_packed_data_plan_is_planned_again(tmp_path: Path) -> None:
    from pyjitwasm.runtime.jit import module_record

    module = decode_module(wat2wasm(DATA_WAT))
    plan = module_record.module_data_plan(module, None)
    body = module_record.encode_data_plan(plan)
    view = ModuleCacheView.of(_cache(tmp_path), wat2wasm(DATA_WAT))
    for packed in (body, body[:-3], b"not a plan"):
        again = module_record.module_data_plan(module, view, packed)
        assert [bytes(i.data) for i in again.images] == [bytes(i.data) for i in plan.images]
        assert [bytes(d) for d in again.datas_after] == [bytes(d) for d in plan.datas_after]


def test_a_pack_refuses_a_data_plan_outside_it() -> None:
    from pyjitwasm.runtime.jit.batch_pack import PackFormatError, decode_pack, encode_pack

    pack = decode_pack(encode_pack("digest", [], data_plan=b"plan body"))
    assert pack.data_plan == b"plan body"
    assert decode_pack(encode_pack("digest", [])).data_plan is None
    blob = encode_pack("digest", [], data_plan=b"plan body")
    with pytest.raises(PackFormatError):
        decode_pack(blob[:-1])  # the plan's extent runs past the end


def _counting_pauses(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[bool]:
    """Replace ``module.cyclic_gc_paused`` by one that records each pause."""
    import contextlib
    import gc

    from pyjitwasm.wasm.gc_pause import cyclic_gc_paused

    pauses: list[bool] = []

    @contextlib.contextmanager
    def counting() -> Any:
        with cyclic_gc_paused():
            pauses.append(not gc.isenabled())
            yield
    monkeypatch.setattr(module, "cyclic_gc_paused", counting)
    return pauses


@pytest.mark.parametrize("threshold", [64, 1])
def test_instantiation_pauses_the_collector_for_many_functions(
        monkeypatch: pytest.MonkeyPatch, threshold: int) -> None:
    from pyjitwasm.runtime import instantiation

    monkeypatch.setattr(instantiation, "GC_PAUSE_ENTITIES", threshold)
    pauses = _counting_pauses(monkeypatch, instantiation)
    _run(None)  # three functions
    assert pauses == ([] if threshold > 3 else [True])


@pytest.mark.parametrize("threshold", [4096, 0])
def test_a_large_plan_log_is_read_with_the_collector_paused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, threshold: int) -> None:
    from pyjitwasm.runtime.jit import cached_compile

    _run(_cache(tmp_path))
    monkeypatch.setattr(cached_compile, "GC_PAUSE_BYTES", threshold)
    pauses = _counting_pauses(monkeypatch, cached_compile)
    _run(_cache(tmp_path))  # a warm start: reads the (small) plan log
    assert pauses == ([] if threshold else [True])


def test_a_few_bytes_of_data_far_apart_keep_their_record(tmp_path: Path) -> None:
    # Two bytes 512 KiB apart make one image spanning them: too large to travel in packs
    # (read into the process), so it is recorded and mapped from the record's file.
    from pyjitwasm import Config, Engine, Instance, Memory, Module, Store
    from pyjitwasm.runtime.jit import cached_compile, module_record

    wasm = wat2wasm("""(module (memory (export "mem") 40)
      (data (i32.const 16) "a") (data (i32.const 0x80000) "b"))""")
    cached_compile._data_plans.clear()  # noqa: SLF001 - this process's earlier runs
    for run in range(2):  # cold, then warm
        config = Config()
        config.cache = str(tmp_path)
        engine = Engine(config)
        module = Module(engine, wasm)
        store = Store(engine)
        memory = Instance(store, module, []).exports(store)["mem"]
        assert isinstance(memory, Memory)
        assert bytes(memory.read(store, 16, 17)) == b"a"
        assert bytes(memory.read(store, 0x80000, 0x80001)) == b"b"
        view = module._prepared.cache
        key = view.cache.record_key(view.module_digest, module_record.RECORD_KIND)
        assert view.cache._path(key).exists(), run  # noqa: SLF001
        assert (str(view.cache.root), view.module_digest) not in cached_compile._data_plans
    assert not module._wasm.datas_decoded  # the warm start read the record
