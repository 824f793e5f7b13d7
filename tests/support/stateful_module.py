"""A small module with every kind of state an instance has (memory with a data
segment, a funcref table with an element segment, a mutable global) and exports that
change it, for tests of instance and store reuse: a reused instance must look new."""

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
