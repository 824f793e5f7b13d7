;; test translate
;; Multi-value: a block with a parameter and two results, a call returning two values,
;; a function returning two, and an if with a parameter (its implicit else forwards it).
(module
  (func $pair (param i32) (result i32 i64)
    local.get 0
    local.get 0
    i64.extend_i32_s)
  (func (param i32) (result i64 i32) (local $wide i64)
    (local.get 0)
    (block (param i32) (result i64 i32)
      call $pair
      local.set $wide
      local.set 0
      local.get $wide
      local.get 0
      (if (param i32) (result i32) (local.get 0)
        (then i32.const 1 i32.add)))))
;; check:
;; function %wasm_func_0(i64 vmctx, i32) -> i32, i64 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: i32):
;;     v4 = sextend.i64 v1
;;     jump block1(v1, v4)
;;
;; block1(v2: i32, v3: i64):
;;     return v2, v3
;; }
;;
;; function %wasm_func_1(i64 vmctx, i32) -> i64, i32 {
;;     gv0 = vmctx
;;     sig0 = (i64 vmctx, i32) -> i32, i64
;;     fn0 = %wasm_func_0 sig0
;;
;; block0(v0: i64, v1: i32):
;;     v2 = iconst.i64 0
;;     v7, v8 = call fn0(v0, v1)
;;     brif v7, block3, block4(v7)
;;
;; block3:
;;     v11 = iconst.i32 1
;;     v12 = iadd v7, v11
;;     jump block5(v12)
;;
;; block4(v9: i32):
;;     jump block5(v9)
;;
;; block5(v10: i32):
;;     jump block2(v8, v10)
;;
;; block2(v5: i64, v6: i32):
;;     jump block1(v5, v6)
;;
;; block1(v3: i64, v4: i32):
;;     return v3, v4
;; }
