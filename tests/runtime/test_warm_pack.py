"""A warm start's pack of recorded batches (runtime/jit/batch_pack.py, written by
cached_compile.write_pack): a hit loads every recorded batch from it without reading
their entries; without one the entries load and a pack is asked for; a damaged pack is
detected, deleted and the entries load; a pack made before the recorded set changed is
not used; a chunk that does not link falls back to the entries.  A chunk is stored
linked (one image, placed by one native call) and loads as one piece whose batches are
made only when asked for; backtraces through it still name functions and offsets."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pyjitwasm.jit import compiler
from pyjitwasm.jit.codeload import CodeLoader
from pyjitwasm.jit.compiler import ObjectCode
from pyjitwasm.jit.objload import UnsupportedObject
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime.errors import Trap
from pyjitwasm.runtime.jit import batch_pack, cached_compile, codemap, linked_chunk
from pyjitwasm.runtime.jit.batch_pack import PackFormatError, decode_pack, encode_pack
from pyjitwasm.runtime.jit.cached_compile import ModuleCacheView, write_pack, write_packs
from pyjitwasm.runtime.jit.call import invoke
from pyjitwasm.runtime.jit.code_cache import PACK_MAGIC, CodeCache, open_code_cache
from pyjitwasm.runtime.jit.compile_module import TIER0, BatchObject, CompileOptions
from pyjitwasm.runtime.jit.fingerprint import compiler_fingerprint
from pyjitwasm.runtime.jit.instance import instantiate
from pyjitwasm.runtime.jit.linked_chunk import LinkedChunk
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.jit.store import JitStoreContext
from pyjitwasm.runtime.native import lazy_stubs_supported, lib
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.validator import validate_module
from pyjitwasm.wat import wat2wasm

from support.hot_loop_run import SCRIPT as HOT_LOOP_RUN

pytestmark = pytest.mark.skipif(not lazy_stubs_supported(),
                                reason="warm starts record lazy batches")

WAT = """(module
  (memory 1)
  (func $leaf (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func $mid (param i32) (result i32) (i32.add (call $leaf (local.get 0)) (i32.const 1)))
  (func (export "f") (param i32) (result i32) (call $mid (local.get 0)))
  (func (export "g") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "h") (param i32) (result i32) (i32.sub (local.get 0) (i32.const 2))))
"""
WASM = wat2wasm(WAT)
# One function per batch: f, $mid, $leaf, g and h are batches of their own.
OPTIONS = CompileOptions(lazy=True, lazy_batch_instructions=0)
EXPECTED = {"f": ([5], [16]), "g": ([0], [0]), "h": ([5], [3])}


def _cache(directory: Path) -> CodeCache:
    cache = open_code_cache(directory, compiler_fingerprint(OPTIONS, "test"))
    assert cache is not None
    return cache


def _run(cache: CodeCache, calls: tuple[str, ...] = ("f", "g")) -> ModuleCode:
    module = decode_module(WASM)
    validate_module(module)
    code = ModuleCode(module, OPTIONS, symbol_addresses(), ModuleCacheView.of(cache, WASM))
    inst = instantiate(code, [], JitStoreContext(), invoke)
    for name in calls:
        args, results = EXPECTED[name]
        assert invoke(inst.exports[name], args) == results
    return code


def _digest(cache: CodeCache) -> str:
    return ModuleCacheView.of(cache, WASM).module_digest


def _pack_path(cache: CodeCache) -> Path:
    key = cache.pack_key(_digest(cache), OPTIONS)
    return cache.root / key[:2] / key[2:]


def _refuse_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make reading a batch's own entry, or compiling, fail the test."""
    def no_entry(self: CodeCache, key: str, count: bool = True) -> Any:
        raise AssertionError("a batch was read from its own entry")

    def no_compile(self: CodeLoader, ir: Any) -> bytes:
        raise AssertionError("a warm run compiled code")
    monkeypatch.setattr(CodeCache, "load", no_entry)
    monkeypatch.setattr(CodeLoader, "compile_object", no_compile)


def test_a_warm_start_loads_every_recorded_batch_from_the_pack(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)
    assert _pack_path(cache).read_bytes().startswith(PACK_MAGIC)
    assert not write_pack(cache, _digest(cache), OPTIONS)  # up to date already
    _refuse_entries(monkeypatch)
    warm_cache = _cache(tmp_path)
    warm = _run(warm_cache)
    assert warm.preloaded_batches == 4  # f, $mid, $leaf, g: one chunk, at f's first call
    assert warm_cache.stats.hits == 4
    assert warm_cache.stats.misses == 0 and warm_cache.stats.corrupt == 0
    assert all(b.from_cache and b.timings.llvm == 0 for b in warm.batches)
    assert warm._pack is None  # noqa: SLF001 - every batch taken: its bytes are let go


def test_without_a_pack_the_entries_load_and_a_pack_is_asked_for(tmp_path: Path) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    warm = _run(cache)
    assert warm.preloaded_batches == 4 and cache.stats.hits == 4
    assert not _pack_path(cache).exists()
    due = cached_compile._packs_due  # noqa: SLF001 - what the run's end writes
    assert (str(cache.root), _digest(cache), OPTIONS) in due
    assert write_packs() >= 1
    assert _pack_path(cache).exists()
    assert not due


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty"])
def test_a_damaged_pack_is_detected_and_the_entries_load(tmp_path: Path, damage: str) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)
    path = _pack_path(cache)
    data = path.read_bytes()
    if damage == "flip":
        path.write_bytes(data[:-100] + bytes([data[-100] ^ 0x40]) + data[-99:])
    elif damage == "truncate":
        path.write_bytes(data[:len(data) // 2])
    else:
        path.write_bytes(b"")
    warm_cache = _cache(tmp_path)
    warm = _run(warm_cache)
    assert warm_cache.stats.corrupt == 1 and warm_cache.stats.misses == 0
    assert warm.preloaded_batches == 4 and warm_cache.stats.hits == 4  # from the entries
    assert not path.exists()
    assert write_pack(warm_cache, _digest(warm_cache), OPTIONS)


def test_a_pack_made_before_the_recorded_set_changed_is_not_used(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(_cache(tmp_path), calls=("f",))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)
    # A run that reaches h: one more batch recorded, so the pack is stale.
    grown = _cache(tmp_path)
    _run(grown, calls=("f", "h"))
    assert grown.stats.misses == 1 and grown.stats.stores == 1
    stale = _cache(tmp_path)
    view = ModuleCacheView.of(stale, WASM)
    recorded = view.recorded(OPTIONS)
    assert recorded.pack is None and len(recorded.batches) == 4
    assert write_pack(stale, _digest(stale), OPTIONS)
    _refuse_entries(monkeypatch)
    fresh = _cache(tmp_path)
    warm = _run(fresh, calls=("h", "f"))
    assert fresh.stats.hits == 4 and warm.preloaded_batches == 4


def test_a_chunk_that_does_not_link_falls_back_to_the_entries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)

    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("JITLink says no")
    monkeypatch.setattr(CodeLoader, "load_merged", fail)
    warm_cache = _cache(tmp_path)
    warm = _run(warm_cache)
    assert warm.preloaded_batches == 4
    assert warm_cache.stats.misses == 0 and warm_cache.stats.stores == 0


def test_a_pack_is_linked_a_chunk_at_a_time(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    _run(_cache(tmp_path))
    monkeypatch.setattr(batch_pack, "PACK_CHUNK", 2)
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)
    _refuse_entries(monkeypatch)
    warm_cache = _cache(tmp_path)
    module = decode_module(WASM)
    code = ModuleCode(module, OPTIONS, symbol_addresses(), ModuleCacheView.of(warm_cache, WASM))
    inst = instantiate(code, [], JitStoreContext(), invoke)
    assert invoke(inst.exports["g"], [0]) == [0]
    assert code.preloaded_batches == 2  # $leaf and g: the second chunk
    index = {e.name: e.index for e in module.exports}
    assert code.tier_of(index["f"]) is None
    assert invoke(inst.exports["f"], [5]) == [16]
    assert code.preloaded_batches == 4


def test_an_unwritable_cache_writes_no_pack(tmp_path: Path) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    cache.writable = False
    assert not write_pack(cache, _digest(cache), OPTIONS)
    assert not _pack_path(cache).exists()


def test_a_forked_child_leaves_the_packs_to_its_parent(tmp_path: Path) -> None:
    _run(_cache(tmp_path))
    due = cached_compile._packs_due  # noqa: SLF001
    assert due
    pid = os.fork()
    if pid == 0:  # the child: nothing due (its exit must not write the parent's packs)
        os._exit(0 if not cached_compile._packs_due else 1)  # noqa: SLF001
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert due


def _refuse_merge(objs: Any) -> bytes:
    raise batch_pack.MergeError("not here")


def _batch(index: int, obj: bytes) -> BatchObject:
    return BatchObject((index,), True, False, ObjectCode(obj, {index: f"wasm_func_{index}"}, ()),
                       {}, TIER0)


def test_a_pack_round_trips_and_refuses_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    loader = CodeLoader()
    objs = [loader.compile_object(f"define i32 @wasm_func_{i}(i32 %a) nounwind {{\n"
                                  f"  %b = add i32 %a, {i}\n  ret i32 %b\n}}\n")
            for i in range(3)]
    batches = [_batch(i, obj) for i, obj in enumerate(objs)]
    # The first two merge; a batch defining a global again (a tier-up's batch after the
    # tier-0 one) starts a chunk of its own, which merges with what follows it.
    batches.append(_batch(2, objs[2]))
    batches.append(_batch(0, objs[0]))
    pack = decode_pack(encode_pack("digest", batches, chunk=3))
    assert pack.plans_digest == "digest"
    assert pack.recorded == [([0], TIER0), ([1], TIER0), ([2], TIER0), ([2], TIER0),
                             ([0], TIER0)]
    first = pack.chunk(pack.chunk_of(0))
    assert first.merged and first.positions == [0, 1, 2]
    second = pack.chunk(pack.chunk_of(3))
    assert second.merged and second.positions == [3, 4]
    # Objects that cannot merge: one chunk per batch.
    monkeypatch.setattr(batch_pack, "merge_objects", _refuse_merge)
    pack = decode_pack(encode_pack("digest", batches[:4], chunk=3))
    assert pack.chunk_of(2) != pack.chunk_of(3)
    alone = pack.chunk(pack.chunk_of(3))
    assert not alone.merged and alone.obj == objs[2] and alone.positions == [3]
    assert alone.batches[0].batch.code.functions == {2: "wasm_func_2"}
    assert [s.name for s in alone.batches[0].symbols.functions] == ["wasm_func_2"]
    for garbage in (b"", b"\x05\x00\x00\x00{not", b"\x02\x00\x00\x00{}"):
        with pytest.raises(PackFormatError):
            decode_pack(garbage)


def test_a_pack_chunk_is_stored_linked_and_loads_as_one_piece(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)
    _refuse_entries(monkeypatch)
    warm_cache = _cache(tmp_path)
    warm = _run(warm_cache)
    chunks = [item for item in warm._batches if isinstance(item, LinkedChunk)]  # noqa: SLF001
    assert len(chunks) == 1 and warm.preloaded_batches == 4
    # One code-map entry for the chunk, which answers for each of its functions.
    chunk = chunks[0]
    assert len(chunk.code_ranges) == 1
    index = {e.name: e.index for e in warm.module.exports}
    address = warm.function_address(index["f"])
    assert chunk.func_index_at(address) == index["f"]
    assert codemap.lookup(address) == (chunk, index["f"])
    # Each batch is made when asked for, sharing the chunk's code.
    batches = warm.batches
    assert len(batches) == 4 and all(b.code is chunk.code and b.from_cache for b in batches)
    assert sorted(i for b in batches for i in b.functions) == sorted(
        i for indices, _ in chunk.recorded for i in indices)


@pytest.mark.parametrize("native", [True, False], ids=["native", "orc"])
def test_an_unlinked_merged_chunk_still_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              native: bool) -> None:
    _run(_cache(tmp_path))
    monkeypatch.setattr(cached_compile, "encode_pack",
                        functools.partial(encode_pack, linked=False))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)
    pack = decode_pack(cache.load_pack(cache.pack_key(_digest(cache), OPTIONS)))
    assert pack.chunk(0).merged and pack.chunk(0).linked is None
    _refuse_entries(monkeypatch)
    # The merged object is linked natively, or through ORC (CodeLoader.load_merged).
    monkeypatch.setattr(compiler, "NATIVE_LOADING", native)
    orc_links = []
    real_load_merged = CodeLoader.load_merged
    monkeypatch.setattr(CodeLoader, "load_merged",
                        lambda self, *a, **k: orc_links.append(1) or real_load_merged(
                            self, *a, **k))
    warm = _run(_cache(tmp_path))
    assert warm.preloaded_batches == 4 and len(orc_links) == (0 if native else 1)
    assert not any(isinstance(item, LinkedChunk) for item in warm._batches)  # noqa: SLF001


def test_without_native_loading_a_linked_chunk_leaves_it_to_the_entries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)
    monkeypatch.setattr(compiler, "NATIVE_LOADING", False)  # PYJITWASM_NATIVE_LOADER=0
    warm_cache = _cache(tmp_path)
    warm = _run(warm_cache)
    assert warm.preloaded_batches == 4 and warm_cache.stats.misses == 0
    assert not any(isinstance(item, LinkedChunk) for item in warm._batches)  # noqa: SLF001


def test_a_linked_chunk_that_cannot_be_placed_falls_back_to_the_entries(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)

    def unresolvable(names: Any, imports: Any) -> list[int]:
        raise UnsupportedObject("undefined symbol 'libcall_tier_up'")
    monkeypatch.setattr(linked_chunk, "resolve_imports", unresolvable)
    warm_cache = _cache(tmp_path)
    warm = _run(warm_cache)
    assert warm.preloaded_batches == 4  # from the entries
    assert not any(isinstance(item, LinkedChunk) for item in warm._batches)  # noqa: SLF001
    assert warm_cache.stats.misses == 0 and warm_cache.stats.stores == 0


def test_a_trap_in_a_linked_chunk_has_a_backtrace_with_wasm_offsets(
        tmp_path: Path) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)
    warm = _run(_cache(tmp_path), calls=())
    inst = instantiate(warm, [], JitStoreContext(), invoke)
    with pytest.raises(Trap) as info:
        invoke(inst.exports["g"], [1 << 31])  # out of bounds, in preloaded code
    assert any(isinstance(item, LinkedChunk) for item in warm._batches)  # noqa: SLF001
    index = {e.name: e.index for e in warm.module.exports}
    frame = info.value.frames[0]
    assert frame.func_index == index["g"]
    assert frame.module_offset is not None and frame.func_offset is not None
    body = warm.module.codes[index["g"] - warm.first]
    assert body.offset < frame.module_offset < body.offset + body.size


def test_a_pack_of_another_format_is_refused() -> None:
    head = b'{"plans":"digest","batches":[],"chunks":[]}'
    with pytest.raises(PackFormatError, match="format 1"):
        decode_pack(len(head).to_bytes(4, "little") + head)
    packed = encode_pack("digest", [])
    assert decode_pack(packed).recorded == []


def test_a_warm_start_refuses_a_pack_of_an_older_format_and_replaces_it(
        tmp_path: Path) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)
    key = cache.pack_key(_digest(cache), OPTIONS)
    body = bytes(cache.load_pack(key))
    size = int.from_bytes(body[:4], "little")
    head = json.loads(body[4:4 + size])
    del head["format"]  # as format 1 wrote it (its chunks would differ too)
    old_head = json.dumps(head).encode()
    assert cache.store_pack(key, len(old_head).to_bytes(4, "little") + old_head
                            + body[4 + size:])
    warm_cache = _cache(tmp_path)
    warm = _run(warm_cache)
    assert warm.preloaded_batches == 4 and warm_cache.stats.misses == 0  # the entries
    assert warm_cache.stats.corrupt == 1
    assert write_packs() >= 1  # the run asked for a new pack
    assert decode_pack(warm_cache.load_pack(key)).recorded


def test_releasing_a_linked_chunk_unregisters_and_unmaps_it(tmp_path: Path) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    assert write_pack(cache, _digest(cache), OPTIONS)
    warm = _run(_cache(tmp_path))
    chunk = next(item for item in warm._batches  # noqa: SLF001
                 if isinstance(item, LinkedChunk))
    address = chunk.code_ranges[0].start
    assert codemap.lookup(warm.function_address(warm.module.exports[0].index)) is not None
    assert lib.pyjitwasm_is_code_address(address)
    mapping = chunk.code._finalizer.peek()[2][0]  # noqa: SLF001 - (obj, func, args, kwargs)
    chunk.release()
    assert chunk.code.released and mapping.users == 0
    assert not lib.pyjitwasm_is_code_address(address)
    assert codemap.lookup(address) is None


def test_at_exit_the_packs_wait_for_queued_tier_ups(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm.runtime.jit.tiering import background_compiler

    order: list[str] = []
    monkeypatch.setattr(cached_compile, "write_packs", lambda: order.append("packs") or 0)

    def tier_up() -> None:
        time.sleep(0.05)
        order.append("tier-up")

    assert background_compiler().submit(tier_up)
    cached_compile._write_packs_at_exit()  # noqa: SLF001 - the exit hook under test
    assert order == ["tier-up", "packs"]


def test_a_tier_up_of_the_first_run_is_found_by_the_second(tmp_path: Path) -> None:
    # The first run's loop asks for tier 1 and exits at once: the exit waits for it
    # before writing the pack, so the second run loads tier-1 code from the pack and
    # never tiers up (nor loads LLVM).
    env = {**os.environ, "PYJITWASM_EXIT_TIER_UP_WAIT": "60", "PYJITWASM_TIERS": "1",
           "PYJITWASM_LAZY": "1"}
    runs = [subprocess.run([sys.executable, str(HOT_LOOP_RUN), "100000", str(tmp_path)],
                           capture_output=True, text=True, timeout=120, env=env, check=False)
            for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], runs[1].stderr
    # Read from the pack: the first run's pack was written after its tier-up.
    assert [run.stdout.split()[1:] for run in runs] == [
        ["compiled-or-entries", "llvm", "tier0"], ["from-pack", "no-llvm", "tier1"]]


def test_a_tier_up_of_a_warm_start_is_found_by_the_next(tmp_path: Path) -> None:
    # The first run's loop is short (no tier-up): its pack holds tier-0 code.  The
    # second starts warm from that pack, current at its start, and its loop asks for
    # tier 1: its exit must still wait for the tier-up and write a new pack, so the
    # third run loads tier-1 code and never loads LLVM.
    env = {**os.environ, "PYJITWASM_EXIT_TIER_UP_WAIT": "60", "PYJITWASM_TIERS": "1",
           "PYJITWASM_LAZY": "1"}
    runs = [subprocess.run([sys.executable, str(HOT_LOOP_RUN), str(n), str(tmp_path)],
                           capture_output=True, text=True, timeout=120, env=env, check=False)
            for n in (10, 100000, 100000)]
    assert [run.returncode for run in runs] == [0, 0, 0], runs[-1].stderr
    # (The first run loads LLVM for the cache's host probe; the second's tier-up loads
    # it at some point, maybe after the call.)
    assert [run.stdout.split()[1:] for run in runs][0::2] == [
        ["compiled-or-entries", "llvm", "tier0"], ["from-pack", "no-llvm", "tier1"]]
    assert runs[1].stdout.split()[1] == "from-pack" and runs[1].stdout.split()[3] == "tier0"
