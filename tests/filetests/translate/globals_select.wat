;; test translate
;; Globals of every type in their 16-byte vmctx slots (an imported one through its
;; pointer; immutable ones readonly), select on several types, sign extension, float
;; min/max/nearest/copysign, reinterpretation.
(module
  (import "env" "imm" (global $imm i64))
  (global $f (mut f32) (f32.const 0))
  (global $v (mut v128) (v128.const i64x2 1 2))
  (global $r (mut externref) (ref.null extern))
  (global $c f64 (f64.const 1))
  (func (param i32 externref) (result i64)
    (global.set $v (select (result v128) (global.get $v) (v128.const i64x2 0 0) (local.get 0)))
    (global.set $r (select (result externref) (global.get $r) (local.get 1) (local.get 0)))
    (global.set $f (f32.copysign (f32.nearest (global.get $f))
                                 (f32.max (global.get $f) (f32.const -0))))
    (drop (f64.min (global.get $c) (f64.reinterpret_i64 (global.get $imm))))
    (i64.extend32_s (select (global.get $imm) (i64.const -1) (local.get 0)))))
;; check:
;; function %wasm_func_0(i64 vmctx, i32, r64) -> i64 {
;;     gv0 = vmctx
;;     gv1 = load.i64 notrap aligned readonly gv0+40
;;
;; block0(v0: i64, v1: i32, v2: r64):
;;     v4 = load.v128 notrap aligned v0+64
;;     v5 = vconst.v128 0x00000000000000000000000000000000
;;     v6 = select v1, v4, v5
;;     store notrap aligned v6, v0+64
;;     v7 = load.r64 notrap aligned v0+80
;;     v8 = select v1, v7, v2
;;     store notrap aligned v8, v0+80
;;     v9 = load.f32 notrap aligned v0+48
;;     v10 = nearest v9
;;     v11 = load.f32 notrap aligned v0+48
;;     v12 = f32const -0.0
;;     v13 = fmax v11, v12
;;     v14 = fcopysign v10, v13
;;     store notrap aligned v14, v0+48
;;     v15 = load.f64 notrap aligned readonly v0+96
;;     v16 = global_value.i64 gv1
;;     v17 = load.i64 notrap aligned readonly v16
;;     v18 = bitcast.f64 v17
;;     v19 = fmin v15, v18
;;     v20 = global_value.i64 gv1
;;     v21 = load.i64 notrap aligned readonly v20
;;     v22 = iconst.i64 -1
;;     v23 = select v1, v21, v22
;;     v24 = ireduce.i32 v23
;;     v25 = sextend.i64 v24
;;     jump block1(v25)
;;
;; block1(v3: i64):
;;     return v3
;; }
