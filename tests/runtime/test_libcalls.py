"""Libcalls: the symbol table the compiler links against, bounds and overflow checks."""

from __future__ import annotations

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store, Trap, TrapCode, libcalls
from pyjitwasm.translate.libcalls import LIBCALLS

U64_MAX = (1 << 64) - 1

BULK = """
(module
  (memory (export "mem") 1)
  (data $d "abcdef")
  (table $t 4 funcref)
  (elem $e func $f $f)
  (func $f)
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0)
    (local.get 1) (local.get 2)))
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0)
    (local.get 1) (local.get 2)))
  (func (export "init") (param i32 i32 i32) (memory.init $d (local.get 0)
    (local.get 1) (local.get 2)))
  (func (export "drop") (data.drop $d))
  (func (export "tinit") (param i32 i32 i32) (table.init $t $e (local.get 0)
    (local.get 1) (local.get 2)))
  (func (export "tgrow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "nop")))
"""

BULK64 = """
(module
  (memory (export "mem") i64 1)
  (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0)
    (local.get 1) (local.get 2)))
  (func (export "copy") (param i64 i64 i64) (memory.copy (local.get 0)
    (local.get 1) (local.get 2))))
"""


def _exports(wat: str):
    store = Store(Engine(Config(strategy="jit")))
    instance = Instance(store, Module(store.engine, wat), [])
    return store, instance, instance.exports(store)


def test_symbol_addresses_cover_every_libcall_and_runtime_entry() -> None:
    symbols = libcalls.symbol_addresses()
    for lc in LIBCALLS:
        assert symbols[lc.symbol] > 0
    assert symbols["pyjitwasm_trap"] > 0 and symbols["pyjitwasm_host_call"] > 0
    assert len(set(symbols.values())) == len(symbols)


def _traps(code: TrapCode, call) -> None:
    with pytest.raises(Trap) as info:
        call()
    assert info.value.trap_code == code


def test_memory_bulk_operations_check_index_plus_length() -> None:
    store, _, ex = _exports(BULK)
    mem = ex["mem"]
    ex["fill"](store, 10, 0x41, 3)
    assert mem.read(store, 9, 14) == b"\0AAA\0"
    ex["copy"](store, 11, 10, 3)  # overlapping
    assert mem.read(store, 9, 15) == b"\0AAAA\0"
    ex["init"](store, 100, 2, 3)
    assert mem.read(store, 100, 103) == b"cde"
    oob = TrapCode.MEMORY_OUT_OF_BOUNDS
    _traps(oob, lambda: ex["fill"](store, 65535, 0, 2))
    _traps(oob, lambda: ex["fill"](store, -1, 0, 2))  # 0xffffffff + 2 does not wrap
    _traps(oob, lambda: ex["copy"](store, 0, -1, 1))
    _traps(oob, lambda: ex["copy"](store, 65536, 0, 1))
    _traps(oob, lambda: ex["init"](store, 0, 4, 3))  # past the segment's end
    _traps(oob, lambda: ex["init"](store, 0, -1, 1))
    # Zero lengths at the very end are fine; one past it is not.
    ex["fill"](store, 65536, 0, 0)
    _traps(oob, lambda: ex["fill"](store, 65537, 0, 0))
    ex["drop"](store)
    ex["init"](store, 0, 0, 0)
    _traps(oob, lambda: ex["init"](store, 0, 0, 1))  # a dropped segment is empty
    assert mem.read(store, 65530, 65536) == bytes(6)  # no partial writes


def test_memory64_lengths_near_the_top_of_the_address_space() -> None:
    store, _, ex = _exports(BULK64)
    oob = TrapCode.MEMORY_OUT_OF_BOUNDS
    _traps(oob, lambda: ex["fill"](store, -1, 0, 2))
    _traps(oob, lambda: ex["fill"](store, 1, 0, -1))
    _traps(oob, lambda: ex["copy"](store, 0, -(1 << 32), 1 << 32))
    _traps(oob, lambda: ex["copy"](store, 0, 1, -1))
    ex["fill"](store, 65535, 7, 1)
    assert ex["mem"].read(store, 65535, 65536) == b"\x07"


def test_table_bulk_operations_check_index_plus_length() -> None:
    store, _, ex = _exports(BULK)
    oob = TrapCode.TABLE_OUT_OF_BOUNDS
    ex["tinit"](store, 2, 0, 2)
    _traps(oob, lambda: ex["tinit"](store, 3, 0, 2))
    _traps(oob, lambda: ex["tinit"](store, 0, 1, 2))
    _traps(oob, lambda: ex["tinit"](store, -1, 0, 1))
    assert ex["tgrow"](store, 2) == 4
    assert ex["tgrow"](store, -1) == -1  # 0xffffffff more elements: cannot grow


def test_python_implementations_reject_u64_overflow() -> None:
    store, instance, ex = _exports(BULK)
    vmctx = instance._rt.vmctx
    assert libcalls.memory_fill(vmctx, 0, U64_MAX, 0, 2) == libcalls.STATUS_OUT_OF_BOUNDS
    assert libcalls.memory_fill(vmctx, 0, 2, 0, U64_MAX) == libcalls.STATUS_OUT_OF_BOUNDS
    assert libcalls.memory_copy(vmctx, 0, 0, 1, U64_MAX, U64_MAX) == 1
    assert libcalls.memory_init(vmctx, 0, 0, 0, U64_MAX, 1) == 1
    assert libcalls.table_fill(vmctx, 0, U64_MAX, 0, 2) == 1
    assert libcalls.table_copy(vmctx, 0, 0, 0, U64_MAX, 1) == 1
    assert libcalls.table_init(vmctx, 0, 0, U64_MAX, 0, 1) == 1
    assert libcalls.table_grow(vmctx, 0, 0, U64_MAX) == -1
    assert libcalls.memory_grow(vmctx, 0, U64_MAX) == -1
    assert libcalls.memory_grow(vmctx, 0, 1) == 1
    assert libcalls.memory_fill(vmctx, 0, 65536, 0xAB, 65536) == libcalls.STATUS_OK
    assert ex["mem"].read(store, 131071, 131072) == b"\xab"
