"""Inlined memory.copy / memory.fill (translate/memory.py: bounds checks, then memmove /
memset) against the interpreter.

Every case runs the same calls on the interpreter and on the JIT (static and dynamic
heaps) through the public API and compares results, trap codes and the final contents
of every memory: out-of-bounds operations must trap with nothing written, in-bounds ones
(overlapping, zero-length at the very end) must behave like the specification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Instance,
    Memory,
    MemoryType,
    Module,
    Store,
    Trap,
    libcalls,
)
from pyjitwasm.ir.printer import print_function
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime import native
from pyjitwasm.runtime.jit.call import invoke
from pyjitwasm.runtime.jit.compile_module import CompileOptions, compile_module
from pyjitwasm.runtime.jit.instance import instantiate
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.jit.store import JitStoreContext
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wat import wat2wasm

# Settings, not Config objects: an Engine consumes its Config.
CONFIGS = {
    "interp": dict(strategy="interp"),
    "jit-static": dict(strategy="jit", memory_style="static"),
    "jit-dynamic": dict(strategy="jit", memory_style="dynamic"),
}

PAGE = 65536

MEM32 = """
(module
  (memory (export "mem") 1 3)
  (data (i32.const 0) "0123456789abcdefghijklmnopqrstuvwxyz")
  (func (export "copy") (param i32 i32 i32) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill") (param i32 i32 i32) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "store_then_copy") (param i32 i32 i32 i32)
    ;; A store that may fault (guard page) followed by a copy: the trap must come first.
    (i32.store8 (local.get 3) (i32.const 0x55))
    (memory.copy (local.get 0) (local.get 1) (local.get 2))))
"""

MEM64 = """
(module
  (memory (export "mem") i64 1)
  (data (i64.const 0) "0123456789abcdefghijklmnopqrstuvwxyz")
  (func (export "copy") (param i64 i64 i64) (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill") (param i64 i32 i64)
    (memory.fill (local.get 0) (local.get 1) (local.get 2))))
"""

# Two memories of different index types; lengths take the narrower type (i32).
MIXED = """
(module
  (memory $a (export "a") i64 1)
  (memory $b (export "b") 1)
  (data (memory $b) (i32.const 0) "ABCDEFGHIJKLMNOP")
  (data (memory $a) (i64.const 100) "zyxwvutsrq")
  (func (export "b_to_a") (param i64 i32 i32)
    (memory.copy $a $b (local.get 0) (local.get 1) (local.get 2)))
  (func (export "a_to_b") (param i32 i64 i32)
    (memory.copy $b $a (local.get 0) (local.get 1) (local.get 2)))
  (func (export "fill_b") (param i32 i32 i32)
    (memory.fill $b (local.get 0) (local.get 1) (local.get 2))))
"""

IMPORTED = """
(module
  (import "host" "mem" (memory 1))
  (memory $own 1)
  (func (export "copy_in") (param i32 i32 i32)
    (memory.copy (local.get 0) (local.get 1) (local.get 2)))
  (func (export "to_own") (param i32 i32 i32)
    (memory.copy $own 0 (local.get 0) (local.get 1) (local.get 2)))
  (func (export "own_byte") (param i32) (result i32) (i32.load8_u $own (local.get 0)))
  (func (export "fill") (param i32 i32 i32)
    (memory.fill (local.get 0) (local.get 1) (local.get 2))))
"""

M64 = (1 << 64) - 1


def _outcome(call: Any, args: Sequence[int]) -> Any:
    try:
        return ("ok", call(*args))
    except Trap as trap:
        return ("trap", trap.trap_code)


def _run(config: dict[str, str], wat: str, calls: Sequence[tuple[str, tuple[int, ...]]],
         memories: Sequence[str], imports: str | None = None) -> list[Any]:
    store = Store(Engine(Config(**config)))
    module = Module(store.engine, wat)
    imported: list[Any] = []
    if imports is not None:
        host_mem = Memory(store, MemoryType(1, 2))
        host_mem.write(store, bytes(range(256)) * 4, 0)
        imported = [host_mem]
    ex = Instance(store, module, imported).exports(store)
    record = []
    for name, args in calls:
        record.append((name, args, _outcome(lambda *a, n=name: ex[n](store, *a), args)))
        for mem_name in memories:
            mem = ex[mem_name] if mem_name != "host" else imported[0]
            record.append(hashlib.sha256(bytes(mem.buffer(store))).hexdigest())
    return record


def _assert_engines_agree(wat: str, calls: Sequence[tuple[str, tuple[int, ...]]],
                          memories: Sequence[str], imports: str | None = None) -> list[Any]:
    expected = _run(CONFIGS["interp"], wat, calls, memories, imports)
    for name in ("jit-static", "jit-dynamic"):
        got = _run(CONFIGS[name], wat, calls, memories, imports)
        assert got == expected, name
    return expected


def _traps(record: list[Any]) -> list[bool]:
    return [entry[2][0] == "trap" for entry in record if isinstance(entry, tuple)]


def test_memory32_bounds_edges_match_the_interpreter() -> None:
    calls = [
        ("copy", (PAGE, 0, 0)),          # n = 0 exactly at the end: fine
        ("copy", (0, PAGE, 0)),
        ("fill", (PAGE, 7, 0)),
        ("copy", (PAGE + 1, 0, 0)),      # one past the end traps even with n = 0
        ("copy", (0, PAGE + 1, 0)),
        ("fill", (PAGE + 1, 7, 0)),
        ("copy", (PAGE - 10, 0, 10)),    # ends exactly at the end
        ("fill", (PAGE - 5, 0x41, 5)),
        ("copy", (PAGE - 10, 0, 11)),    # one byte too far: trap, nothing written
        ("copy", (0, PAGE - 10, 11)),
        ("fill", (PAGE - 5, 0x42, 6)),
        ("copy", (-1, 0, 1)),            # 0xFFFFFFFF
        ("copy", (0, 0, -1)),
        ("fill", (1, 0x43, -1)),
        ("fill", (10, 0x1FF, 3)),        # the value is truncated to a byte
        ("copy", (2, 0, 20)),            # overlapping, forwards
        ("copy", (30, 33, 20)),          # overlapping, backwards
        ("copy", (5, 5, 30)),            # onto itself
    ]
    record = _assert_engines_agree(MEM32, calls, ["mem"])
    assert _traps(record) == [False] * 3 + [True] * 3 + [False] * 2 + [True] * 6 + [False] * 4


def test_grown_memory_length_is_used() -> None:
    calls = [
        ("copy", (PAGE, 0, 16)),         # traps before the grow
        ("grow", (1,)),
        ("copy", (PAGE, 0, 16)),         # fine after it
        ("fill", (2 * PAGE - 1, 9, 1)),
        ("fill", (2 * PAGE - 1, 9, 2)),
    ]
    record = _assert_engines_agree(MEM32, calls, ["mem"])
    assert _traps(record) == [True, False, False, False, True]


def test_faulting_store_before_a_copy_traps_first() -> None:
    calls = [
        ("store_then_copy", (100, 0, 10, PAGE + 5)),  # store faults: no copy happens
        ("store_then_copy", (100, 0, 10, 50)),
    ]
    record = _assert_engines_agree(MEM32, calls, ["mem"])
    assert _traps(record) == [True, False]


def test_memory64_u64_overflow_traps() -> None:
    calls = [
        ("copy", (M64, 0, 2)),           # dst + n wraps
        ("copy", (0, M64, 2)),
        ("copy", (1 << 63, 0, 1 << 63)),
        ("copy", (0, 0, M64)),
        ("fill", (M64, 1, 1)),
        ("fill", (2, 1, M64)),
        ("fill", (1 << 63, 1, 1 << 63)),
        ("copy", (PAGE, 0, 0)),
        ("copy", (PAGE - 36, 0, 36)),
        ("fill", (PAGE - 1, 0x77, 1)),
        ("copy", (3, 1, 33)),
    ]
    record = _assert_engines_agree(MEM64, calls, ["mem"])
    assert _traps(record) == [True] * 7 + [False] * 4


def test_copy_between_memories_of_different_index_types() -> None:
    calls = [
        ("b_to_a", (10, 0, 16)),
        ("a_to_b", (20, 100, 10)),
        ("b_to_a", (PAGE - 16, 0, 16)),
        ("b_to_a", (PAGE - 15, 0, 16)),
        ("a_to_b", (0, PAGE - 4, 5)),
        ("a_to_b", (PAGE - 1, 0, 1)),
        ("b_to_a", (M64, 0, 1)),
        ("fill_b", (0, 0x61, 3)),
    ]
    record = _assert_engines_agree(MIXED, calls, ["a", "b"])
    assert _traps(record) == [False, False, False, True, True, False, True, False]


def test_imported_memory_is_reached_through_the_vmctx() -> None:
    calls = [
        ("copy_in", (1000, 0, 256)),
        ("to_own", (5, 0, 300)),         # memory.copy $own 0: from the import
        ("own_byte", (6,)),
        ("copy_in", (PAGE - 1, 0, 2)),
        ("fill", (PAGE - 3, 0xEE, 3)),
        ("to_own", (PAGE - 2, 0, 3)),
    ]
    record = _assert_engines_agree(IMPORTED, calls, ["host"], imports="host")
    assert _traps(record) == [False, False, False, True, False, True]
    assert record[4][2] == ("ok", 1)


def test_bulk_memory_is_inlined_unless_disabled() -> None:
    module = decode_module(wat2wasm(MIXED))
    compiled = compile_module(module, CompileOptions(keep_ir=True), symbol_addresses())
    assert "@libcall_memory_copy(" not in compiled.llvm_ir
    assert "@libcall_memory_fill(" not in compiled.llvm_ir
    assert "@llvm.memmove.p0.p0.i64(" in compiled.llvm_ir
    assert "@llvm.memset.p0.i64(" in compiled.llvm_ir
    ir_text = "".join(print_function(func) for func in compiled.ir_functions.values())
    assert " memmove v" in ir_text and " memset v" in ir_text
    # Translated with inline_bulk_memory=False, the functions keep the libcalls.
    options = CompileOptions(keep_ir=True, inline_bulk_memory=False)
    plain = compile_module(module, options, symbol_addresses())
    assert "@libcall_memory_copy(" in plain.llvm_ir and "@libcall_memory_fill(" in plain.llvm_ir
    assert "@llvm.memmove" not in plain.llvm_ir and "@llvm.memset" not in plain.llvm_ir


@pytest.fixture()
def libcall_spy() -> Any:
    """Records which of memory_copy/memory_fill reach the Python libcall handlers."""
    calls: list[str] = []
    saved = {}
    for name in ("memory_copy", "memory_fill"):
        which = libcalls._C_INDEX[name]
        original = saved[which] = native._libcall_handlers[which]
        assert original is not None

        def spy(*args: int, _name: str = name, _original: Any = original) -> int:
            calls.append(_name)
            return _original(*args)

        native.set_libcall_handler(which, spy)
    try:
        yield calls
    finally:
        for which, original in saved.items():
            native.set_libcall_handler(which, original)


@pytest.mark.parametrize("config", ["jit-static", "jit-dynamic"])
def test_the_jit_engine_runs_bulk_memory_without_libcalls(config: str,
                                                          libcall_spy: list[str]) -> None:
    store = Store(Engine(Config(**CONFIGS[config])))
    ex = Instance(store, Module(store.engine, MEM32), []).exports(store)
    ex["copy"](store, 100, 0, 10)
    ex["fill"](store, 200, 0x31, 10)
    with pytest.raises(Trap):
        ex["copy"](store, PAGE, 0, 1)
    assert bytes(ex["mem"].buffer(store)[100:110]) == b"0123456789"
    assert bytes(ex["mem"].buffer(store)[200:210]) == b"1" * 10
    assert libcall_spy == []
    # The spy works: a module compiled without inlining goes through it.
    module = decode_module(wat2wasm(MEM32))
    options = CompileOptions(heap_style="dynamic", inline_bulk_memory=False)
    plain = ModuleCode(module, options, symbol_addresses())
    inst = instantiate(plain, [], JitStoreContext(heap_style="dynamic"), invoke)
    invoke(inst.exports["copy"], [300, 0, 4])
    invoke(inst.exports["fill"], [400, 0x32, 4])
    assert libcall_spy == ["memory_copy", "memory_fill"]
    assert bytes(inst.memories[0].read(300, 304)) == b"0123"
    assert bytes(inst.memories[0].read(400, 404)) == b"2222"
