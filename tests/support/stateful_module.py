"""A small module with every kind of state an instance has (memory with a data
segment, a funcref table with an element segment, a mutable global) and exports that
change it, for tests of instance and store reuse: a reused instance must look new."""

from __future__ import annotations

from typing import Any

STATEFUL = """(module
  (memory (export "m") 1 4)
  (table (export "t") 2 funcref)
  (global $g (export "g") (mut i32) (i32.const 7))
  (data (i32.const 16) "hello")
  (func $seven (export "seven") (result i32) (i32.const 7))
  (func (export "call0") (result i32) (call_indirect (result i32) (i32.const 0)))
  (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "bump") (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (func (export "spin") (loop (br 0)))
  (elem (i32.const 0) $seven))"""


def scribble_stateful(store: Any, ex: Any, far: int) -> None:
    """Change everything an instance of STATEFUL (exports ``ex``) can change without
    growing: the data segment's bytes, the byte at ``far``, the global, a table slot."""
    ex["poke"](store, 16, 0x41)
    ex["poke"](store, far, 0x42)
    ex["bump"](store)
    ex["t"].set(store, 1, ex["seven"])


def assert_fresh_stateful(store: Any, ex: Any, far: int) -> None:
    """Check that an instance of STATEFUL (exports ``ex``) is as new, after a
    :func:`scribble_stateful` of an earlier tenant wrote at ``far``."""
    memory = ex["m"]
    assert memory.read(store, 16, 21) == b"hello"
    assert memory.read(store, far, far + 1) == b"\0"
    assert memory.data_len(store) == 65536
    assert ex["g"].value(store) == 7
    assert ex["t"].get(store, 1) is None
    assert ex["call0"](store) == 7  # the element segment, in this store
    assert ex["t"].get(store, 0)(store) == 7
