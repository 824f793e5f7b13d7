"""The one instantiation path (runtime/instantiation.py) and its allocator seam."""

from __future__ import annotations

from typing import Any

import pytest

from pyjitwasm import Config, Engine, Func, FuncType, Instance, LinkError, Module, Store, ValType
from pyjitwasm.interp import ModuleCode
from pyjitwasm.interp import invoke as interp_invoke
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.instance import FuncInstance, ModuleInstance
from pyjitwasm.runtime.instantiation import PlainAllocator, instantiate
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.types import GlobalType, MemoryType, TableType
from pyjitwasm.wat import wat2wasm

MODULE = """
(module
  (import "env" "f" (func $f (param i32)))
  (table 2 funcref)
  (memory 1)
  (global $g (mut i32) (i32.const 7))
  (func $start (call $f (global.get $g)))
  (elem (i32.const 1) func $start)
  (data (i32.const 3) "abc")
  (start $start))
"""


class RecordingAllocator(PlainAllocator):
    """The interpreter's allocator, logging each call the instantiation makes."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def new_instance(self, module: Any, code: object, context: StoreContext) -> ModuleInstance:
        self.calls.append("instance")
        return super().new_instance(module, code, context)

    def link_imports(self, inst: ModuleInstance) -> None:
        self.calls.append(f"link {len(inst.funcs)} funcs")

    def new_function(self, inst: ModuleInstance, index: int, code_slot: int) -> FuncInstance:
        self.calls.append(f"func {index}")
        return super().new_function(inst, index, code_slot)

    def new_table(self, inst: ModuleInstance, index: int, ttype: TableType) -> TableInstance:
        self.calls.append(f"table {index}")
        return super().new_table(inst, index, ttype)

    def new_memory(self, inst: ModuleInstance, index: int,
                   mtype: MemoryType) -> MemoryInstance:
        self.calls.append(f"memory {index}")
        return super().new_memory(inst, index, mtype)

    def new_global(self, inst: ModuleInstance, index: int, gtype: GlobalType,
                   value: Any) -> GlobalInstance:
        self.calls.append(f"global {index} = {value}")
        return super().new_global(inst, index, gtype, value)

    def init_table(self, inst: ModuleInstance, table: int, start: int,
                   items: list[Any]) -> None:
        self.calls.append(f"segment table {table} at {start}")
        super().init_table(inst, table, start, items)

    def activate(self, inst: ModuleInstance) -> None:
        self.calls.append("activate")


def test_instantiation_calls_the_allocator_in_the_specification_order() -> None:
    module = decode_module(wat2wasm(MODULE))
    context = StoreContext()
    seen: list[list[Any]] = []
    host = FuncInstance(module.types[0], context,
                        host=lambda inst, args: seen.append(args) or [])
    allocator = RecordingAllocator()
    inst = instantiate(module, ModuleCode(module), [host], context, allocator, interp_invoke)
    assert allocator.calls == [
        "instance", "link 1 funcs", "func 1", "table 0", "memory 0", "global 0 = 7",
        "activate", "segment table 0 at 1",
    ]
    assert seen == [[7]]  # the start function ran, after the segments
    assert inst.tables[0].elements[1] is inst.funcs[1]
    assert bytes(inst.memories[0].read(3, 6)) == b"abc"


@pytest.mark.parametrize("strategy", ["interp", "jit"])
def test_both_engines_reject_a_mismatched_import_alike(strategy: str) -> None:
    store = Store(Engine(Config(strategy=strategy)))
    module = Module(store.engine, MODULE)
    wrong = Func(store, FuncType([ValType.i64()], []), lambda x: None)
    with pytest.raises(LinkError, match=r"incompatible import type for env::f: "
                                        r"expected func \[i32\] -> \[\], got func \[i64\] -> \[\]"):
        Instance(store, module, [wrong])
