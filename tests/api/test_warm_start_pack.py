"""Warm starts through the API with the module's pack of recorded batches
(runtime/jit/batch_pack.py): the run that fills the cache asks for a pack, which is
written when the run ends (``write_packs``, at interpreter exit); the next start loads
every recorded batch from it, without reading their entries or compiling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store
from pyjitwasm.runtime.jit.cached_compile import write_packs
from pyjitwasm.runtime.jit.code_cache import PACK_MAGIC, CodeCache
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.native import lazy_stubs_supported
from pyjitwasm.wat import wat2wasm

from support.compile_counting import count_compiles

pytestmark = pytest.mark.skipif(not lazy_stubs_supported(),
                                reason="warm starts record lazy batches")

WAT = """(module
  (func $leaf (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func $mid (param i32) (result i32) (i32.add (call $leaf (local.get 0)) (i32.const 1)))
  (func (export "f") (param i32) (result i32) (call $mid (local.get 0)))
  (func (export "g") (param i32) (result i32) (i32.sub (local.get 0) (i32.const 1))))
"""
WASM = wat2wasm(WAT)


def _start(cache: Path) -> tuple[Store, dict[str, Any], ModuleCode]:
    config = Config(lazy_compilation=True)
    config.cache = str(cache)
    engine = Engine(config)
    module = Module(engine, WASM)
    code = module._prepared.compiled()  # noqa: SLF001 - the test looks inside
    assert isinstance(code, ModuleCode)
    store = Store(engine)
    return store, Instance(store, module, []).exports(store), code


def _packs(directory: Path) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file()
            and p.read_bytes().startswith(PACK_MAGIC)]


def test_the_run_that_fills_the_cache_leaves_a_pack_the_next_start_loads(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store, exports, _ = _start(tmp_path)
    assert exports["f"](store, 5) == 16 and exports["g"](store, 5) == 4
    assert not _packs(tmp_path)
    assert write_packs() >= 1  # what the end of the run does
    assert len(_packs(tmp_path)) == 1

    def no_entry(self: CodeCache, key: str, count: bool = True) -> Any:
        raise AssertionError("a recorded batch was read from its own entry")
    monkeypatch.setattr(CodeCache, "load", no_entry)
    compiles = count_compiles(monkeypatch)
    store, exports, code = _start(tmp_path)
    assert exports["f"](store, 6) == 19
    assert code.preloaded_batches == 2  # f's (with $mid and $leaf) and g's: one chunk
    assert exports["g"](store, 1) == 0
    assert compiles == []
