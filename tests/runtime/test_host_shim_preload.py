"""Host shims of a module's imported host functions linked at once
(``shims.preload_host_shims``, called by the JIT's ``link_imports``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

import pyjitwasm
from pyjitwasm.runtime.jit import shims
from pyjitwasm.wasm.types import F32, F64, I32, I64
from pyjitwasm.wat import wat2wasm

# Signatures no other test uses, so this process has no shim for them yet.
WAT = """(module
  (import "env" "a" (func $a (param f64 f64 f64 f64 f64 i32) (result f32)))
  (import "env" "b" (func $b (param i64 i64 i64 i64 i64 i64 i64) (result f64)))
  (import "env" "c" (func $c (param f32 f32 f32 f32 f32 i64) (result i64)))
  (func (export "run") (result f64)
    (f64.add
      (f64.add
        (f64.promote_f32 (call $a (f64.const 1) (f64.const 2) (f64.const 3) (f64.const 4)
                                  (f64.const 5) (i32.const 6)))
        (call $b (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5)
                 (i64.const 6) (i64.const 7)))
      (f64.convert_i64_s (call $c (f32.const 1) (f32.const 2) (f32.const 3) (f32.const 4)
                                  (f32.const 5) (i64.const 100))))))
"""


@pytest.mark.parametrize("x64", [True, False], ids=["x64 shims", "LLVM shims"])
def test_imported_host_functions_get_their_shims_linked_together(
        monkeypatch: pytest.MonkeyPatch, x64: bool) -> None:
    signatures = [((F64,) * 5 + (I32,), (F32,)), ((I64,) * 7, (F64,)),
                  ((F32,) * 5 + (I64,), (I64,))]
    # A fresh table: this process has no shim for these signatures yet.
    monkeypatch.setattr(shims, "_host", {})
    monkeypatch.setenv("PYJITWASM_X64_SHIMS", "1" if x64 else "0")
    if x64 and not shims.x64_shims_enabled():
        pytest.skip("machine-code shims are for x86-64 Linux")
    engine = pyjitwasm.Engine()
    store = pyjitwasm.Store(engine)
    f64, f32, i32, i64 = (pyjitwasm.ValType.f64(), pyjitwasm.ValType.f32(),
                          pyjitwasm.ValType.i32(), pyjitwasm.ValType.i64())
    a = pyjitwasm.Func(store, pyjitwasm.FuncType([f64] * 5 + [i32], [f32]),
                       lambda *args: float(sum(args)))
    b = pyjitwasm.Func(store, pyjitwasm.FuncType([i64] * 7, [f64]),
                       lambda *args: float(sum(args)) * 10)
    c = pyjitwasm.Func(store, pyjitwasm.FuncType([f32] * 5 + [i64], [i64]),
                       lambda *args: int(sum(args)) * 100)
    module = pyjitwasm.Module(engine, wat2wasm(WAT))
    links: list[int] = []
    link_objects = shims.link_objects

    def counting(objs: Sequence[bytes], *args: Any, **kwargs: Any) -> Any:
        links.append(len(objs))
        return link_objects(objs, *args, **kwargs)

    monkeypatch.setattr(shims, "link_objects", counting)
    mapped: list[int] = []
    map_machine_code = shims._map_machine_code

    def counting_maps(machine: Any) -> Any:
        mapped.append(len(machine.functions))
        return map_machine_code(machine)

    monkeypatch.setattr(shims, "_map_machine_code", counting_maps)
    instance = pyjitwasm.Instance(store, module, [a, b, c])
    # All three made by one preload: mapped together as machine code (x64/shims.py),
    # or linked as one library of one LLVM object each.
    assert all(sig in shims._host for sig in signatures)
    assert (mapped, links) == (([3], []) if x64 else ([], [3]))
    assert instance.exports(store)["run"](store) == 21.0 + 280.0 + 11500.0
    # host_shim hands out the preloaded ones.
    assert shims.host_shim(*signatures[0]) == shims._host[signatures[0]]
