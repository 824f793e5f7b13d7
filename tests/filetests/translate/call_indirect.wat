;; test translate
;; call_indirect: bounds check (undefined element), lazy initialization of an element
;; that still reads 0, null check, signature check against the canonical id in vmctx,
;; then a call through the code slot the VMFuncRef points at, with its vmctx. Also a
;; direct call and a call to an import (through the code slot its VMFuncImport points at).
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
;;     v5 = load.i64 notrap aligned v3
;;     v6 = call_indirect sig0, v5(v4, v1)
;;     v7 = iconst.i32 1
;;     v8 = iconst.i32 2
;;     v9 = call fn0(v0, v7, v8)
;;     v10 = uextend.i64 v1
;;     v11 = global_value.i64 gv2
;;     v12 = icmp uge v10, v11
;;     trapnz v12, undefined_element
;;     v13 = global_value.i64 gv1
;;     v14 = ishl_imm v10, 3
;;     v15 = iadd v13, v14
;;     v16 = load.i64 notrap aligned v15
;;     v17 = band_imm v16, -2
;;     brif v16, block3(v17), block2
;;
;; block2:
;;     v19 = iconst.i64 0
;;     v20 = call fn1(v0, v19, v10)
;;     jump block3(v20)
;;
;; block3(v18: i64):
;;     trapz v18, indirect_call_to_null
;;     v21 = load.i32 notrap aligned readonly v18+8
;;     v22 = load.i32 notrap aligned readonly v0+32
;;     v23 = icmp ne v21, v22
;;     trapnz v23, bad_signature
;;     v24 = load.i64 notrap aligned readonly v18
;;     v25 = load.i64 notrap aligned readonly v18+16
;;     v26 = load.i64 notrap aligned v24
;;     v27 = call_indirect sig1, v26(v25, v6, v9)
;;     jump block1(v27)
;;
;; block1(v2: i32):
;;     return v2
;; }
