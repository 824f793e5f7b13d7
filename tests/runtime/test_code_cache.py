"""The persistent code cache (runtime/jit/code_cache.py) under ModuleCode: a warm run
loads every batch without translating or running LLVM; each part of the key misses when
it changes; corrupted, truncated and misplaced entries are detected and recompiled; an
unwritable directory runs without a cache, with one warning."""

from __future__ import annotations

import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pyjitwasm.jit.codeload import CodeLoader
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime.errors import Trap
from pyjitwasm.runtime.jit import fingerprint as fingerprint_module
from pyjitwasm.runtime.jit.cached_compile import ModuleCacheView, compile_batch_cached
from pyjitwasm.runtime.jit.call import invoke
from pyjitwasm.runtime.jit.code_cache import (
    ENTRY_MAGIC,
    PACK_MAGIC,
    CodeCache,
    CodeCacheWarning,
    open_code_cache,
)
from pyjitwasm.runtime.jit.compile_module import TIER0, TIER1, CompileOptions
from pyjitwasm.runtime.jit.fingerprint import (
    OPTIONS_NOT_AFFECTING_CODE,
    compiler_fingerprint,
    options_key,
)
from pyjitwasm.runtime.jit.instance import instantiate
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.jit.store import JitStoreContext
from pyjitwasm.runtime.native import lazy_stubs_supported
from pyjitwasm.translate.translator import ModuleInfo
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.validator import validate_module
from pyjitwasm.wat import wat2wasm

from support.fresh_callers import exports_as_a_fresh_process
from support.module_files import ROOT, load_module_file

WAT = """(module
  (memory 1)
  (func $leaf (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func $mid (param i32) (result i32) (i32.add (call $leaf (local.get 0)) (i32.const 1)))
  (func (export "f") (param i32) (result i32) (call $mid (local.get 0)))
  (func (export "g") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "boom") (param i32) (result i32)
    (i32.div_u (i32.const 1) (local.get 0))))
"""
WASM = wat2wasm(WAT)
OPTIONS = CompileOptions(lazy=True, lazy_batch_instructions=0)


def _fingerprint(**changes: str) -> dict[str, str]:
    return {**compiler_fingerprint(OPTIONS, "test"), **changes}


def _cache(directory: Path, **changes: str) -> CodeCache:
    cache = open_code_cache(directory, _fingerprint(**changes))
    assert cache is not None
    return cache


def _run(cache: CodeCache | None, wasm: bytes = WASM, options: CompileOptions = OPTIONS,
         calls: tuple[str, ...] = ("f", "g")) -> ModuleCode:
    """Make a ModuleCode through ``cache`` and call ``calls`` (compiling their batches)."""
    module = decode_module(wasm)
    validate_module(module)
    view = ModuleCacheView.of(cache, wasm) if cache is not None else None
    code = ModuleCode(module, options, symbol_addresses(), view)
    inst = instantiate(code, [], JitStoreContext(), invoke)
    for name in calls:
        func = inst.exports[name]
        result = invoke(func, [5] if name == "f" else [1])
        if name == "f":
            assert result == [16]
    return code


def test_warm_run_loads_every_batch_without_compiling(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    cold_cache = _cache(tmp_path)
    cold = _run(cold_cache)
    assert cold_cache.stats.hits == 0 and cold_cache.stats.stores == cold_cache.stats.misses > 0
    assert sum(b.timings.translate for b in cold.batches) > 0

    def refuse(self: CodeLoader, ir: Any) -> bytes:
        raise AssertionError("a warm run compiled code")
    monkeypatch.setattr(CodeLoader, "compile_object", refuse)
    warm_cache = _cache(tmp_path)
    warm = _run(warm_cache)
    assert warm_cache.stats.hits == cold_cache.stats.stores
    assert warm_cache.stats.misses == 0 and warm_cache.stats.stores == 0
    assert all(b.timings.translate == 0 and b.timings.llvm == 0 for b in warm.batches)
    assert warm.compiled_functions == cold.compiled_functions


def test_cached_code_traps_with_a_backtrace(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _run(_cache(tmp_path), calls=("f", "g", "boom"))
    monkeypatch.setattr(CodeLoader, "compile_object",
                        lambda self, ir: (_ for _ in ()).throw(AssertionError("compiled")))
    code = _run(_cache(tmp_path), calls=())
    inst = instantiate(code, [], JitStoreContext(), invoke)
    with pytest.raises(Trap) as info:
        invoke(inst.exports["boom"], [0])
    assert info.value.trap_code is not None
    assert info.value.trap_code.name == "INTEGER_DIVISION_BY_ZERO"
    assert [frame.func_index for frame in info.value.frames] == [4]
    with pytest.raises(Trap):  # a guard-page fault in loaded code is still a trap
        invoke(inst.exports["g"], [1 << 31])


@pytest.mark.parametrize("part", ["format", "pyjitwasm", "build", "llvm", "triple", "cpu",
                                  "cpu_features", "setting.features"])
def test_each_fingerprint_part_is_in_the_key(tmp_path: Path, part: str) -> None:
    first = _cache(tmp_path)
    _run(first)
    same = _cache(tmp_path)
    _run(same)
    assert same.stats.misses == 0 and same.stats.hits > 0
    changed = _cache(tmp_path, **{part: "something else"})
    _run(changed)
    assert changed.stats.hits == 0 and changed.stats.misses == first.stats.misses


@pytest.mark.parametrize("change", [{"heap_style": "dynamic"}, {"opt_level": 0},
                                    {"guard": 1 << 30}, {"static_bound": 1 << 33},
                                    {"inline_bulk_memory": False},
                                    {"internal_linkage": False}])
def test_each_code_option_is_in_the_key(tmp_path: Path, change: dict[str, Any]) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    _run(cache, options=replace(OPTIONS, **change))
    assert cache.stats.hits == 0 and cache.stats.misses > 0


def test_options_that_do_not_change_code_share_entries(tmp_path: Path) -> None:
    assert set(options_key(OPTIONS)) | OPTIONS_NOT_AFFECTING_CODE == {
        f for f in OPTIONS.__dataclass_fields__}
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    _run(cache, options=replace(OPTIONS, verify=True))
    assert cache.stats.misses == 0 and cache.stats.hits > 0


def test_another_module_misses(tmp_path: Path) -> None:
    _run(_cache(tmp_path))
    cache = _cache(tmp_path)
    _run(cache, wasm=wat2wasm(WAT.replace("i32.const 3", "i32.const 3) (i32.const 0) (drop")))
    assert cache.stats.hits == 0


def test_tier_is_part_of_the_key(tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    view = ModuleCacheView.of(cache, WASM)
    key = cache.batch_key(view.module_digest, [2], True, False, OPTIONS)
    assert key != cache.batch_key(view.module_digest, [2], True, False, OPTIONS, tier="tier1")
    module = decode_module(WASM)
    info = ModuleInfo(module, OPTIONS.heap_config())
    symbols = symbol_addresses()
    compile_batch_cached(module, [2], OPTIONS, symbols, info, True, False, view, tier=TIER0)
    compile_batch_cached(module, [2], OPTIONS, symbols, info, True, False, view, tier=TIER1)
    compile_batch_cached(module, [2], OPTIONS, symbols, info, True, False, view, tier=TIER1)
    assert (cache.stats.misses, cache.stats.hits, cache.stats.stores) == (2, 1, 2)


def _entries(directory: Path) -> list[Path]:
    """The cache's checksummed entries (not its plan logs)."""
    return [p for p in directory.rglob("*")
            if p.is_file() and p.read_bytes().startswith(ENTRY_MAGIC)]


def _plan_logs(directory: Path) -> list[Path]:
    # (Names starting with "." are not entries: the cleanup's marker, temporary files.)
    return [p for p in directory.rglob("*") if p.is_file() and not p.name.startswith(".")
            and not p.read_bytes().startswith((ENTRY_MAGIC, PACK_MAGIC))]


@pytest.mark.skipif(not lazy_stubs_supported(), reason="lazy compilation needs the stubs")
def test_a_damaged_plan_log_line_is_skipped(tmp_path: Path) -> None:
    _run(_cache(tmp_path))
    [log] = _plan_logs(tmp_path)
    lines = log.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 2
    # A flipped index in the first line, and a torn last line.
    log.write_bytes(lines[0].replace(b":", b":9", 1) + b"".join(lines[1:])[:-5])
    cache = _cache(tmp_path)
    plans = cache.load_plans(cache.plans_key(ModuleCacheView.of(cache, WASM).module_digest,
                                             OPTIONS))
    assert len(plans) == len(lines) - 2
    again = _cache(tmp_path)
    _run(again)  # the skipped plans are worked out again; every batch is still found
    assert again.stats.misses == 0 and again.stats.corrupt == 0


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "swap"])
def test_damaged_entries_are_detected_and_recompiled(tmp_path: Path, damage: str) -> None:
    _run(_cache(tmp_path))
    entries = _entries(tmp_path)
    assert len(entries) >= 2
    victim = entries[0]
    data = victim.read_bytes()
    if damage == "flip":
        victim.write_bytes(data[:-100] + bytes([data[-100] ^ 0x40]) + data[-99:])
    elif damage == "truncate":
        victim.write_bytes(data[:len(data) // 2])
    elif damage == "empty":
        victim.write_bytes(b"")
    else:  # an intact entry under another entry's name
        victim.write_bytes(entries[1].read_bytes())
    cache = _cache(tmp_path)
    _run(cache)
    assert cache.stats.corrupt == 1 and cache.stats.stores == 1
    # Recompiled and stored again: the next run finds everything.
    again = _cache(tmp_path)
    _run(again)
    assert again.stats.misses == 0 and again.stats.corrupt == 0


def test_unwritable_directory_runs_without_cache_with_one_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = tmp_path / "locked"
    directory.mkdir()
    if os.geteuid() != 0:
        directory.chmod(0o500)
    else:  # root writes anywhere: refuse the probe file the way a read-only mount would
        def read_only(*args: Any, **kwargs: Any) -> Any:
            raise PermissionError(13, "Permission denied")
        monkeypatch.setattr("tempfile.mkstemp", read_only)
    try:
        _check_unwritable(directory)
    finally:
        directory.chmod(0o700)


def test_uncreatable_directory_runs_without_cache_with_one_warning(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"not a directory")
    _check_unwritable(blocker / "cache")


def _check_unwritable(directory: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert open_code_cache(directory, _fingerprint()) is None
        assert open_code_cache(directory, _fingerprint()) is None
    assert [w.category for w in caught] == [CodeCacheWarning]
    assert str(directory) in str(caught[0].message)
    _run(None)  # and the module still runs


def test_failing_write_disables_storing_with_a_warning(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    cache = _cache(tmp_path / "full")

    def full(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr("tempfile.mkstemp", full)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _run(cache)
    assert [w.category for w in caught] == [CodeCacheWarning]
    assert not cache.writable and cache.stats.stores == 0


@pytest.mark.skipif(not lazy_stubs_supported(), reason="lazy compilation needs the stubs")
def test_a_warm_run_in_another_order_still_runs(tmp_path: Path) -> None:
    _run(_cache(tmp_path), calls=("g", "f"))
    cache = _cache(tmp_path)
    _run(cache, calls=("f", "g"))
    assert cache.stats.hits >= 1


def test_fingerprint_names_the_host(tmp_path: Path) -> None:
    fp = compiler_fingerprint(OPTIONS, "9.9")
    assert fp["pyjitwasm"] == "9.9" and fp["cpu"] and fp["llvm"] and len(fp["build"]) == 32
    assert fp["option.heap_style"] == "'static'"
    assert fingerprint_module.host_target()["cpu_features"] == fp["cpu_features"]


def test_a_tier0_batch_stays_recorded_unless_its_tier1_batch_holds_all_of_it() -> None:
    from pyjitwasm.runtime.jit.cached_compile import _recorded_from

    plans = {("tier0", 62): (62, 83, 85), ("tier0", 5): (5, 6), ("tier1", 62): (62,),
             ("tier1", 5): (5, 6, 7)}
    # 83 and 85 ran only at tier 0 (the tier-up of 62 did not take them): a warm start
    # loads that batch too, or it would compile them.
    assert _recorded_from(plans) == [([62, 83, 85], 0), ([62], 1), ([5, 6, 7], 1)]


def test_the_build_id_covers_every_stage_that_runtime_compiles_with() -> None:
    # A stage whose source is not hashed could change the machine code without changing
    # the cache key (x64/ was missing at first): every stage the compile driver
    # (runtime/) may import, and runtime/ itself, is in.
    check_imports = load_module_file(ROOT / "tools" / "check_imports.py", "check_imports")
    wanted = check_imports.ALLOWED["runtime"] | {"runtime", "libcalls"}
    assert wanted <= set(fingerprint_module._SOURCE_PACKAGES)


def test_the_build_id_memo_is_trusted_while_the_sources_stat_the_same(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "src" / "a.py"
    source.parent.mkdir()
    source.write_text("x = 1\n")
    memo_dir = tmp_path / "cache"
    memo_dir.mkdir()
    monkeypatch.setattr(fingerprint_module, "_source_files",
                        lambda: [("/a.py", str(source))])

    def fresh_build_id(memo: Path | None) -> str:
        monkeypatch.setattr(fingerprint_module, "_build_id", None)
        return fingerprint_module.build_id(memo)

    hashed = fresh_build_id(None)
    assert fresh_build_id(memo_dir) == hashed
    (memo,) = memo_dir.glob("build-*.id")
    assert memo.read_text() == hashed
    # Read back, not recomputed, while size and mtime are unchanged.
    memo.write_text("0" * 32)
    assert fresh_build_id(memo_dir) == "0" * 32
    # An edit changes them: the source is hashed again.
    source.write_text("x = 22\n")
    edited = fresh_build_id(memo_dir)
    assert edited != hashed and edited == fresh_build_id(None)
    # A damaged memo is not believed.
    for memo in memo_dir.glob("build-*.id"):
        memo.write_text("not an id")
    assert fresh_build_id(memo_dir) == edited


def test_a_callers_code_object_round_trips_and_a_damaged_one_is_dropped(
        tmp_path: Path) -> None:
    cache = _cache(tmp_path)
    source = "def make(x):\n    return x + 41\n"
    key = cache.code_object_key(source)
    assert key != cache.code_object_key(source + "\n") and cache.load_code_object(key) is None
    cache.store_code_object(key, compile(source, "<test>", "exec"))
    namespace: dict[str, Any] = {}
    loaded = cache.load_code_object(key)
    assert loaded is not None
    exec(loaded, namespace)  # noqa: S102 - the test's own source
    assert namespace["make"](1) == 42
    # A checksummed entry whose payload is not a code object: dropped, then a miss.
    cache._write(key, b"not marshal")  # noqa: SLF001
    assert cache.load_code_object(key) is None
    assert cache.load_code_object(key) is None


def test_a_warm_start_takes_its_callers_from_the_cache(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm.runtime.jit import object_cache

    compiled: list[str] = []
    real = compile

    def counting(source: str, filename: str, mode: str) -> Any:
        compiled.append(filename)
        return real(source, filename, mode)

    monkeypatch.setattr(object_cache, "compile", counting, raising=False)
    # A signature no other test uses, so no caller of it exists in this process yet.
    wat = ('(module (func (export "f") (param i64 f64 i32 i64) (result f64)'
           ' (f64.add (local.get 1) (f64.convert_i64_s (local.get 0)))))')
    for run in range(2):
        store, exports = exports_as_a_fresh_process(monkeypatch, str(tmp_path), wat)
        assert exports["f"](store, 2, 0.5, 0, 0) == 2.5
        # The first run compiles the caller's source; the second finds it in the cache.
        assert compiled == ["<pyjitwasm caller>"], run
