;; test translate
;; call_indirect: bounds check (undefined element), lazy initialization of an element
;; that still reads 0, null check, signature check against the canonical id in vmctx,
;; then a call through the VMFuncRef's code pointer with its vmctx. Also a direct call
;; and a call to an import (through its VMFuncImport).
(module
  (type $binop (func (param i32 i32) (result i32)))
  (import "env" "host" (func $host (param i32) (result i32)))
  (table 8 funcref)
  (func $add (type $binop) local.get 0 local.get 1 i32.add)
  (func (param i32) (result i32)
    (call_indirect (type $binop)
      (call $host (local.get 0))
      (call $add (i32.const 1) (i32.const 2))
      (local.get 0))))
;; check:
;; function %wasm_func_1(i64 vmctx, i32, i32) -> i32 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: i32, v2: i32):
;;     v4 = iadd v1, v2
;;     jump block1(v4)
;;
;; block1(v3: i32):
;;     return v3
;; }
;;
;; function %wasm_func_2(i64 vmctx, i32) -> i32 {
;;     gv0 = vmctx
;;     gv1 = load.i64 notrap aligned gv0+56
;;     gv2 = load.i64 notrap aligned gv0+64
;;     sig0 = (i64 vmctx, i32) -> i32
;;     sig1 = (i64 vmctx, i32, i32) -> i32
;;     sig2 = (i64 vmctx, i64, i64) -> i64
;;     fn0 = %wasm_func_1 sig1
;;     fn1 = %libcall_table_lazy_init sig2
;;
;; block0(v0: i64, v1: i32):
;;     v3 = load.i64 notrap aligned readonly v0+40
;;     v4 = load.i64 notrap aligned readonly v0+48
;;     v5 = call_indirect sig0, v3(v4, v1)
;;     v6 = iconst.i32 1
;;     v7 = iconst.i32 2
;;     v8 = call fn0(v0, v6, v7)
;;     v9 = uextend.i64 v1
;;     v10 = global_value.i64 gv2
;;     v11 = icmp uge v9, v10
;;     trapnz v11, undefined_element
;;     v12 = global_value.i64 gv1
;;     v13 = ishl_imm v9, 3
;;     v14 = iadd v12, v13
;;     v15 = load.i64 notrap aligned v14
;;     v16 = band_imm v15, -2
;;     brif v15, block3(v16), block2
;;
;; block2:
;;     v18 = iconst.i64 0
;;     v19 = call fn1(v0, v18, v9)
;;     jump block3(v19)
;;
;; block3(v17: i64):
;;     trapz v17, indirect_call_to_null
;;     v20 = load.i32 notrap aligned readonly v17+8
;;     v21 = load.i32 notrap aligned readonly v0+32
;;     v22 = icmp ne v20, v21
;;     trapnz v22, bad_signature
;;     v23 = load.i64 notrap aligned readonly v17
;;     v24 = load.i64 notrap aligned readonly v17+16
;;     v25 = call_indirect sig1, v23(v24, v5, v8)
;;     jump block1(v25)
;;
;; block1(v2: i32):
;;     return v2
;; }
