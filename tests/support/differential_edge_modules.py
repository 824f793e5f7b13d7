"""Hand-written modules for differential testing: the corners random modules reach only
by luck. Every function takes parameters, so the harness's edge-heavy arguments (0, -1,
INT_MIN, NaNs with payloads, conversion bounds) drive them. Floats are only moved or
produced by bit-exact operations or canonicalised, so results are deterministic."""

from __future__ import annotations

EDGE_MODULES: dict[str, str] = {
    "integer": """
(module
  (func (export "div_s") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "rem_s") (param i32 i32) (result i32) (i32.rem_s (local.get 0) (local.get 1)))
  (func (export "div_u64") (param i64 i64) (result i64) (i64.div_u (local.get 0) (local.get 1)))
  (func (export "rem_s64") (param i64 i64) (result i64) (i64.rem_s (local.get 0) (local.get 1)))
  (func (export "shifts") (param i32 i32) (result i32 i32 i32 i32 i32)
    (i32.shl (local.get 0) (local.get 1)) (i32.shr_s (local.get 0) (local.get 1))
    (i32.shr_u (local.get 0) (local.get 1)) (i32.rotl (local.get 0) (local.get 1))
    (i32.rotr (local.get 0) (local.get 1)))
  (func (export "shifts64") (param i64 i64) (result i64 i64 i64 i64)
    (i64.shl (local.get 0) (local.get 1)) (i64.shr_s (local.get 0) (local.get 1))
    (i64.rotl (local.get 0) (local.get 1)) (i64.rotr (local.get 0) (local.get 1)))
  (func (export "bits") (param i64) (result i64 i64 i64 i32 i64 i64 i64)
    (i64.clz (local.get 0)) (i64.ctz (local.get 0)) (i64.popcnt (local.get 0))
    (i64.eqz (local.get 0)) (i64.extend8_s (local.get 0)) (i64.extend16_s (local.get 0))
    (i64.extend32_s (local.get 0)))
  (func (export "mixed") (param i32 i64) (result i64 i32 i64)
    (i64.extend_i32_s (local.get 0)) (i32.wrap_i64 (local.get 1))
    (i64.mul (i64.extend_i32_u (local.get 0)) (local.get 1))))
""",
    "float_bits": """
(module
  (func (export "id32") (param f32) (result f32) (local.get 0))
  (func (export "id64") (param f64) (result f64) (local.get 0))
  (func (export "neg_abs_copysign") (param f32 f32) (result f32 f32 f32)
    (f32.neg (local.get 0)) (f32.abs (local.get 0)) (f32.copysign (local.get 0) (local.get 1)))
  (func (export "neg_abs_copysign64") (param f64 f64) (result f64 f64 f64)
    (f64.neg (local.get 0)) (f64.abs (local.get 0)) (f64.copysign (local.get 0) (local.get 1)))
  (func (export "reinterpret") (param f32 f64) (result i32 i64)
    (i32.reinterpret_f32 (local.get 0)) (i64.reinterpret_f64 (local.get 1)))
  (func (export "from_bits") (param i32 i64) (result f32 f64)
    (f32.reinterpret_i32 (local.get 0)) (f64.reinterpret_i64 (local.get 1)))
  (func (export "select") (param f32 f32 i32) (result f32)
    (select (local.get 0) (local.get 1) (local.get 2)))
  (func (export "compare") (param f64 f64) (result i32 i32 i32 i32 i32 i32)
    (f64.eq (local.get 0) (local.get 1)) (f64.ne (local.get 0) (local.get 1))
    (f64.lt (local.get 0) (local.get 1)) (f64.le (local.get 0) (local.get 1))
    (f64.gt (local.get 0) (local.get 1)) (f64.ge (local.get 0) (local.get 1))))
""",
    "float_arith": """
(module
  ;; Arithmetic results go through the canonicalising select, as smith's modules do.
  (func $c32 (param f32) (result f32)
    (select (local.get 0) (f32.const nan) (f32.eq (local.get 0) (local.get 0))))
  (func $c64 (param f64) (result f64)
    (select (local.get 0) (f64.const nan) (f64.eq (local.get 0) (local.get 0))))
  (func (export "arith32") (param f32 f32) (result f32 f32 f32 f32 f32 f32)
    (call $c32 (f32.add (local.get 0) (local.get 1)))
    (call $c32 (f32.sub (local.get 0) (local.get 1)))
    (call $c32 (f32.mul (local.get 0) (local.get 1)))
    (call $c32 (f32.div (local.get 0) (local.get 1)))
    (call $c32 (f32.min (local.get 0) (local.get 1)))
    (call $c32 (f32.max (local.get 0) (local.get 1))))
  (func (export "round64") (param f64) (result f64 f64 f64 f64 f64)
    (call $c64 (f64.ceil (local.get 0))) (call $c64 (f64.floor (local.get 0)))
    (call $c64 (f64.trunc (local.get 0))) (call $c64 (f64.nearest (local.get 0)))
    (call $c64 (f64.sqrt (local.get 0))))
  (func (export "convert") (param f64 f32) (result f32 f64)
    (call $c32 (f32.demote_f64 (local.get 0))) (call $c64 (f64.promote_f32 (local.get 1))))
  (func (export "from_int") (param i64 i32) (result f32 f64 f32 f64)
    (f32.convert_i64_u (local.get 0)) (f64.convert_i64_s (local.get 0))
    (f32.convert_i32_u (local.get 1)) (f64.convert_i32_s (local.get 1))))
""",
    "float_to_int": """
(module
  (func (export "trunc32") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
  (func (export "trunc32u") (param f32) (result i32) (i32.trunc_f32_u (local.get 0)))
  (func (export "trunc64") (param f64) (result i64) (i64.trunc_f64_s (local.get 0)))
  (func (export "trunc64u") (param f64) (result i64) (i64.trunc_f64_u (local.get 0)))
  (func (export "trunc_i32_f64") (param f64) (result i32) (i32.trunc_f64_s (local.get 0)))
  (func (export "sat") (param f32 f64) (result i32 i32 i64 i64)
    (i32.trunc_sat_f32_s (local.get 0)) (i32.trunc_sat_f32_u (local.get 0))
    (i64.trunc_sat_f64_s (local.get 1)) (i64.trunc_sat_f64_u (local.get 1))))
""",
    "memory": """
(module
  (memory (export "mem") 1 3)
  (data (i32.const 65530) "\\01\\02\\03\\04\\05\\06")
  (func (export "load") (param i32) (result i64 i32 i32)
    (i64.load offset=1 (local.get 0)) (i32.load8_s (local.get 0))
    (i32.load16_u offset=2 (local.get 0)))
  (func (export "store") (param i32 i64)
    (i64.store offset=3 (local.get 0) (local.get 1))
    (i32.store8 (i32.add (local.get 0) (i32.const 16)) (i32.wrap_i64 (local.get 1))))
  (func (export "store_f") (param i32 f64 f32)
    (f64.store (local.get 0) (local.get 1)) (f32.store offset=8 (local.get 0) (local.get 2)))
  (func (export "load_f") (param i32) (result f32 f64)
    (f32.load (local.get 0)) (f64.load offset=4 (local.get 0)))
  (func (export "grow") (param i32) (result i32 i32)
    (memory.grow (local.get 0)) (memory.size))
  (func (export "fill_copy") (param i32 i32 i32)
    (memory.fill (local.get 0) (local.get 1) (local.get 2))
    (memory.copy (local.get 1) (local.get 0) (local.get 2))))
""",
    "memory64": """
(module
  (memory (export "mem") i64 1 2)
  (func (export "load") (param i64) (result i32) (i32.load offset=4 (local.get 0)))
  (func (export "store") (param i64 i32) (i32.store16 (local.get 0) (local.get 1)))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0))))
""",
    "tables": """
(module
  (type $ii (func (param i32) (result i32)))
  (type $v (func))
  (table $t (export "tab") 4 8 funcref)
  (table $e (export "ext") 2 4 externref)
  (global $g (export "counter") (mut i32) (i32.const 0))
  (func $inc (type $ii) (i32.add (local.get 0) (i32.const 1)))
  (func $neg (type $ii) (i32.sub (i32.const 0) (local.get 0)))
  (func $bump (type $v) (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (elem (table $t) (i32.const 0) func $inc $neg $bump)
  (func (export "call") (param i32 i32) (result i32)
    (call_indirect $t (type $ii) (local.get 1) (local.get 0)))
  (func (export "set_get") (param i32 i32) (result i32)
    (table.set $t (local.get 0) (table.get $t (local.get 1)))
    (table.size $t))
  (func (export "grow") (param funcref i32) (result i32)
    (table.grow $t (local.get 0) (local.get 1)))
  (func (export "keep") (param externref i32) (result externref)
    (table.set $e (local.get 1) (local.get 0)) (table.get $e (i32.const 0)))
  (func (export "is_null") (param funcref externref) (result i32 i32)
    (ref.is_null (local.get 0)) (ref.is_null (local.get 1))))
""",
    "calls": """
(module
  (import "host" "f_ii_i" (func $host (param i32 i32) (result i32)))
  (import "host" "f_lf_il" (func $host2 (param i64 f32) (result i32 i64)))
  (func $fib (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func (export "fib") (param i32) (result i32)
    (call $fib (i32.and (local.get 0) (i32.const 15))))
  (func $count (param i32 i64) (result i64)
    (if (result i64) (i32.eqz (local.get 0))
      (then (local.get 1))
      (else (return_call $count (i32.sub (local.get 0) (i32.const 1))
                                (i64.add (local.get 1) (i64.extend_i32_u (local.get 0)))))))
  (func (export "tail") (param i32) (result i64)
    (return_call $count (i32.and (local.get 0) (i32.const 4095)) (i64.const 0)))
  (func (export "host") (param i32 i64 f32) (result i32 i32 i64)
    (call $host (local.get 0) (i32.const 7))
    (call $host2 (local.get 1) (local.get 2)))
  ;; Unbounded recursion: every engine must report stack exhaustion as a trap (where it
  ;; runs out is implementation-defined, that it traps is not).
  (func $down (export "recurse") (param i32) (result i32)
    (i32.add (call $down (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
  (func (export "swap") (param i32 i64 f64) (result f64 i64 i32)
    (local.get 2) (local.get 1) (local.get 0))
  (func (export "loop") (param i32) (result i32) (local i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get 1) (i32.and (local.get 0) (i32.const 255))))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br_table $next $done (i32.and (local.get 1) (i32.const 1)))))
    (local.get 1)))
""",
}
