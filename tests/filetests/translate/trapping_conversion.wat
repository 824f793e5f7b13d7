;; test translate
;; legalize
;; Float-to-int conversion after legalization: NaN traps as an invalid conversion,
;; out-of-range values as an integer overflow; the saturating form needs no check.
(module
  (func (param f64) (result i32)
    (i32.add (i32.trunc_f64_s (local.get 0)) (i32.trunc_sat_f64_u (local.get 0))))
  (func (param f32) (result i64)
    (i64.trunc_f32_u (local.get 0))))
;; check:
;; function %wasm_func_0(i64 vmctx, f64) -> i32 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: f64):
;;     v6 = fcmp uno v1, v1
;;     trapnz v6, bad_conversion_to_integer
;;     v7 = f64const -2147483649.0
;;     v8 = fcmp le v1, v7
;;     v9 = f64const 2147483648.0
;;     v10 = fcmp ge v1, v9
;;     v11 = bor v8, v10
;;     trapnz v11, integer_overflow
;;     v3 = fcvt_to_sint.i32 v1
;;     v4 = fcvt_to_uint_sat.i32 v1
;;     v5 = iadd v3, v4
;;     jump block1(v5)
;;
;; block1(v2: i32):
;;     return v2
;; }
;;
;; function %wasm_func_1(i64 vmctx, f32) -> i64 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: f32):
;;     v4 = fcmp uno v1, v1
;;     trapnz v4, bad_conversion_to_integer
;;     v5 = f32const -1.0
;;     v6 = fcmp le v1, v5
;;     v7 = f32const 1.8446744073709552e+19
;;     v8 = fcmp ge v1, v7
;;     v9 = bor v6, v8
;;     trapnz v9, integer_overflow
;;     v3 = fcvt_to_uint.i64 v1
;;     jump block1(v3)
;;
;; block1(v2: i64):
;;     return v2
;; }
