;; test translate
;; SIMD float, conversion and widening instructions: operands come off the stack as v128
;; and are bitcast to the lane view the instruction computes in, results go back to
;; v128. pmin is fmin_pseudo; trunc_sat_f64x2_s_zero converts to i64x2 and narrows against
;; zero; extadd_pairwise adds the widened halves pairwise; the relaxed instructions take
;; Wasmtime's deterministic results (fused madd, nmadd negating a, laneselect as
;; bitselect, dot products with both operands signed).
(module
  (func (param v128 v128) (result v128)
    (f32x4.pmin (f32x4.add (local.get 0) (local.get 1)) (local.get 1)))
  (func (param v128 v128) (result v128)
    (f64x2.le (local.get 0) (local.get 1)))
  (func (param v128) (result v128)
    (i32x4.trunc_sat_f64x2_s_zero (local.get 0)))
  (func (param v128) (result v128)
    (f64x2.convert_low_i32x4_u (i16x8.extadd_pairwise_i8x16_s (local.get 0))))
  (func (param v128 v128) (result v128)
    (i64x2.extmul_high_i32x4_u (local.get 0) (local.get 1)))
  (func (param v128 v128 v128) (result v128)
    (f32x4.relaxed_nmadd (local.get 0) (local.get 1) (local.get 2)))
  (func (param v128 v128 v128) (result v128)
    (i16x8.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2)))
  (func (param v128 v128 v128) (result v128)
    (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 0) (local.get 1) (local.get 2))))
;; check:
;; function %wasm_func_0(i64 vmctx, v128, v128) -> v128 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: v128, v2: v128):
;;     v4 = bitcast.f32x4 v1
;;     v5 = bitcast.f32x4 v2
;;     v6 = fadd v4, v5
;;     v7 = bitcast.v128 v6
;;     v8 = bitcast.f32x4 v2
;;     v9 = fmin_pseudo v6, v8
;;     v10 = bitcast.v128 v9
;;     jump block1(v10)
;;
;; block1(v3: v128):
;;     return v3
;; }
;;
;; function %wasm_func_1(i64 vmctx, v128, v128) -> v128 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: v128, v2: v128):
;;     v4 = bitcast.f64x2 v1
;;     v5 = bitcast.f64x2 v2
;;     v6 = fcmp le v4, v5
;;     v7 = bitcast.v128 v6
;;     jump block1(v7)
;;
;; block1(v3: v128):
;;     return v3
;; }
;;
;; function %wasm_func_2(i64 vmctx, v128) -> v128 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: v128):
;;     v3 = bitcast.f64x2 v1
;;     v4 = fcvt_to_sint_sat.i64x2 v3
;;     v5 = vconst.i64x2 0x00000000000000000000000000000000
;;     v6 = snarrow v4, v5
;;     v7 = bitcast.v128 v6
;;     jump block1(v7)
;;
;; block1(v2: v128):
;;     return v2
;; }
;;
;; function %wasm_func_3(i64 vmctx, v128) -> v128 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: v128):
;;     v3 = bitcast.i8x16 v1
;;     v4 = swiden_low v3
;;     v5 = swiden_high v3
;;     v6 = iadd_pairwise v4, v5
;;     v7 = bitcast.v128 v6
;;     v8 = bitcast.i32x4 v7
;;     v9 = uwiden_low v8
;;     v10 = fcvt_from_uint.f64x2 v9
;;     v11 = bitcast.v128 v10
;;     jump block1(v11)
;;
;; block1(v2: v128):
;;     return v2
;; }
;;
;; function %wasm_func_4(i64 vmctx, v128, v128) -> v128 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: v128, v2: v128):
;;     v4 = bitcast.i32x4 v1
;;     v5 = bitcast.i32x4 v2
;;     v6 = uwiden_high v4
;;     v7 = uwiden_high v5
;;     v8 = imul v6, v7
;;     v9 = bitcast.v128 v8
;;     jump block1(v9)
;;
;; block1(v3: v128):
;;     return v3
;; }
;;
;; function %wasm_func_5(i64 vmctx, v128, v128, v128) -> v128 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: v128, v2: v128, v3: v128):
;;     v5 = bitcast.f32x4 v1
;;     v6 = bitcast.f32x4 v2
;;     v7 = bitcast.f32x4 v3
;;     v8 = fneg v5
;;     v9 = fma v8, v6, v7
;;     v10 = bitcast.v128 v9
;;     jump block1(v10)
;;
;; block1(v4: v128):
;;     return v4
;; }
;;
;; function %wasm_func_6(i64 vmctx, v128, v128, v128) -> v128 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: v128, v2: v128, v3: v128):
;;     v5 = bitcast.i64x2 v1
;;     v6 = bitcast.i64x2 v2
;;     v7 = bitcast.i64x2 v3
;;     v8 = band v5, v7
;;     v9 = band_not v6, v7
;;     v10 = bor v8, v9
;;     v11 = bitcast.v128 v10
;;     jump block1(v11)
;;
;; block1(v4: v128):
;;     return v4
;; }
;;
;; function %wasm_func_7(i64 vmctx, v128, v128, v128) -> v128 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: v128, v2: v128, v3: v128):
;;     v5 = bitcast.i32x4 v3
;;     v6 = bitcast.i8x16 v1
;;     v7 = bitcast.i8x16 v2
;;     v8 = widening_dot_s v6, v7
;;     v9 = vconst.i16x8 0x00010001000100010001000100010001
;;     v10 = widening_dot_s v8, v9
;;     v11 = iadd v10, v5
;;     v12 = bitcast.v128 v11
;;     jump block1(v12)
;;
;; block1(v4: v128):
;;     return v4
;; }
