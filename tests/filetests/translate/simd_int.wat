;; test translate
;; heaps: static
;; SIMD memory, lane, shuffle, bitwise and integer instructions. v128 values live as IR
;; v128 (locals, block results, calls); lane-wise operations bitcast their operands to
;; the lane view and their result back, reusing the operand's own value when it is a
;; bitcast from that view. Each memory access takes heap_addr on its full size: 16 for
;; v128.load/store, 8 for the extending loads, the lane's size for splat, zero and lane
;; accesses. i8/i16 lane scalars are cut from i32 with ireduce and widen back with
;; sextend/uextend.
(module
  (memory 1)
  (func (param i32 v128 v128) (result v128)
    (v128.store offset=32 (local.get 0)
      (i32x4.add (v128.load (local.get 0)) (local.get 1)))
    (v128.store8_lane offset=3 15 (local.get 0) (local.get 2))
    (i16x8.sub_sat_u
      (v128.load8x8_u (local.get 0))
      (v128.load16_lane 2 (local.get 0) (v128.load32_zero (local.get 0)))))
  (func (param v128 v128 i32) (result i32 v128)
    (i8x16.extract_lane_s 5
      (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23
        (i8x16.swizzle (local.get 0) (local.get 1))
        (i8x16.replace_lane 2 (i8x16.splat (local.get 2)) (local.get 2))))
    (v128.bitselect (v128.andnot (local.get 0) (local.get 1)) (v128.not (local.get 1))
      (i64x2.gt_s (local.get 0) (local.get 1))))
  (func (param v128 i32) (result i32)
    (i32.add (v128.any_true (i8x16.shr_u (local.get 0) (local.get 1)))
             (i32.add (i16x8.all_true (i16x8.avgr_u (local.get 0) (local.get 0)))
                      (i32x4.bitmask (i32x4.min_s (local.get 0) (i32x4.abs (local.get 0))))))))
;; check:
;; function %wasm_func_0(i64 vmctx, i32, v128, v128) -> v128 {
;;     gv0 = vmctx
;;     gv1 = load.i64 notrap aligned readonly gv0+48
;;     gv2 = load.i64 notrap aligned gv0+56
;;     heap0 = static base=gv1, bound=0x100000000, offset_guard=0x80000000, index_type=i32
;;
;; block0(v0: i64, v1: i32, v2: v128, v3: v128):
;;     v5 = heap_addr.i64 heap0, v1, 0, 16
;;     v6 = load.v128 little v5
;;     v7 = bitcast.i32x4 v2
;;     v8 = bitcast.i32x4 v6
;;     v9 = iadd v8, v7
;;     v10 = bitcast.v128 v9
;;     v11 = heap_addr.i64 heap0, v1, 32, 16
;;     store little v10, v11
;;     v12 = bitcast.i8x16 v3
;;     v13 = heap_addr.i64 heap0, v1, 3, 1
;;     v14 = extractlane v12, 15
;;     store little v14, v13
;;     v15 = heap_addr.i64 heap0, v1, 0, 8
;;     v16 = uload8x8.i16x8 little v15
;;     v17 = bitcast.v128 v16
;;     v18 = heap_addr.i64 heap0, v1, 0, 4
;;     v19 = load.i32 little v18
;;     v20 = scalar_to_vector.i32x4 v19
;;     v21 = bitcast.v128 v20
;;     v22 = bitcast.i16x8 v21
;;     v23 = heap_addr.i64 heap0, v1, 0, 2
;;     v24 = load.i16 little v23
;;     v25 = insertlane v22, v24, 2
;;     v26 = bitcast.v128 v25
;;     v27 = usub_sat v16, v25
;;     v28 = bitcast.v128 v27
;;     jump block1(v28)
;;
;; block1(v4: v128):
;;     return v4
;; }
;;
;; function %wasm_func_1(i64 vmctx, v128, v128, i32) -> i32, v128 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: v128, v2: v128, v3: i32):
;;     v6 = bitcast.i8x16 v2
;;     v7 = bitcast.i8x16 v1
;;     v8 = swizzle v7, v6
;;     v9 = bitcast.v128 v8
;;     v10 = ireduce.i8 v3
;;     v11 = splat.i8x16 v10
;;     v12 = bitcast.v128 v11
;;     v13 = ireduce.i8 v3
;;     v14 = insertlane v11, v13, 2
;;     v15 = bitcast.v128 v14
;;     v16 = shuffle v8, v14, [0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23]
;;     v17 = bitcast.v128 v16
;;     v18 = extractlane v16, 5
;;     v19 = sextend.i32 v18
;;     v20 = bitcast.i64x2 v2
;;     v21 = bitcast.i64x2 v1
;;     v22 = band_not v21, v20
;;     v23 = bitcast.v128 v22
;;     v24 = bitcast.i64x2 v2
;;     v25 = bnot v24
;;     v26 = bitcast.v128 v25
;;     v27 = bitcast.i64x2 v2
;;     v28 = bitcast.i64x2 v1
;;     v29 = icmp sgt v28, v27
;;     v30 = bitcast.v128 v29
;;     v31 = bitselect v30, v23, v26
;;     jump block1(v19, v31)
;;
;; block1(v4: i32, v5: v128):
;;     return v4, v5
;; }
;;
;; function %wasm_func_2(i64 vmctx, v128, i32) -> i32 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: v128, v2: i32):
;;     v4 = bitcast.i8x16 v1
;;     v5 = ushr v4, v2
;;     v6 = bitcast.v128 v5
;;     v7 = vany_true v6
;;     v8 = uextend.i32 v7
;;     v9 = bitcast.i16x8 v1
;;     v10 = bitcast.i16x8 v1
;;     v11 = avg_round v10, v9
;;     v12 = bitcast.v128 v11
;;     v13 = vall_true v11
;;     v14 = uextend.i32 v13
;;     v15 = bitcast.i32x4 v1
;;     v16 = iabs v15
;;     v17 = bitcast.v128 v16
;;     v18 = bitcast.i32x4 v1
;;     v19 = smin v18, v16
;;     v20 = bitcast.v128 v19
;;     v21 = vhigh_bits.i32 v19
;;     v22 = iadd v14, v21
;;     v23 = iadd v8, v22
;;     jump block1(v23)
;;
;; block1(v3: i32):
;;     return v3
;; }
