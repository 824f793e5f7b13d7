;; test translate
;; legalize
;; Division after legalization: explicit zero-divisor and INT_MIN / -1 traps; srem
;; divides by 1 instead of -1; a constant non-zero divisor needs no check.
(module
  (func (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (param i64 i64) (result i64)
    (i64.add (i64.rem_s (local.get 0) (local.get 1))
             (i64.div_u (local.get 0) (i64.const 7)))))
;; check:
;; function %wasm_func_0(i64 vmctx, i32, i32) -> i32 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: i32, v2: i32):
;;     trapz v2, integer_division_by_zero
;;     v5 = icmp_imm eq v1, -2147483648
;;     v6 = icmp_imm eq v2, -1
;;     v7 = band v5, v6
;;     trapnz v7, integer_overflow
;;     v4 = sdiv v1, v2
;;     jump block1(v4)
;;
;; block1(v3: i32):
;;     return v3
;; }
;;
;; function %wasm_func_1(i64 vmctx, i64, i64) -> i64 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: i64, v2: i64):
;;     trapz v2, integer_division_by_zero
;;     v8 = icmp_imm eq v2, -1
;;     v9 = iconst.i64 1
;;     v10 = select v8, v9, v2
;;     v4 = srem v1, v10
;;     v5 = iconst.i64 7
;;     v6 = udiv v1, v5
;;     v7 = iadd v4, v6
;;     jump block1(v7)
;;
;; block1(v3: i64):
;;     return v3
;; }
