;; test translate
;; Table instructions: get/set inline through table_addr (funcref elements decoded and
;; encoded, externref elements as they are), size inline, the rest as libcalls with i64
;; arguments; an imported table is reached through a pointer; ref.func is the address
;; of the function's VMFuncRef record in vmctx.
(module
  (import "env" "tab" (table $imported 1 externref))
  (table $funcs 4 funcref)
  (table $big i64 2 externref)
  (elem $seg func $f)
  (func $f (param i32 externref) (result funcref)
    (table.set $funcs (local.get 0) (ref.func $f))
    (table.set $imported (local.get 0) (table.get $big (i64.const 1)))
    (drop (table.size $funcs))
    (drop (table.grow $big (local.get 1) (i64.const 3)))
    (table.fill $funcs (i32.const 0) (ref.null func) (i32.const 2))
    (table.copy $funcs $funcs (i32.const 1) (local.get 0) (i32.const 1))
    (table.init $funcs $seg (i32.const 0) (i32.const 0) (i32.const 1))
    (elem.drop $seg)
    (if (ref.is_null (local.get 1)) (then (return (ref.null func))))
    (table.get $funcs (local.get 0))))
;; check:
;; function %wasm_func_0(i64 vmctx, i32, r64) -> r64 {
;;     gv0 = vmctx
;;     gv1 = load.i64 notrap aligned gv0+48
;;     gv2 = load.i64 notrap aligned gv0+56
;;     gv3 = load.i64 notrap aligned gv0+64
;;     gv4 = load.i64 notrap aligned gv0+72
;;     gv5 = load.i64 notrap aligned readonly gv0+40
;;     gv6 = load.i64 notrap aligned gv5
;;     gv7 = load.i64 notrap aligned gv5+8
;;     table0 = dynamic base=gv1, bound=gv2, element_size=8, index_type=i32
;;     table1 = dynamic base=gv3, bound=gv4, element_size=8, index_type=i64
;;     table2 = dynamic base=gv6, bound=gv7, element_size=8, index_type=i32
;;     sig0 = (i64 vmctx, i64, r64, i64) -> i64
;;     sig1 = (i64 vmctx, i64, i64, r64, i64) -> i64
;;     sig2 = (i64 vmctx, i64, i64, i64, i64, i64) -> i64
;;     sig3 = (i64 vmctx, i64)
;;     sig4 = (i64 vmctx, i64, i64) -> i64
;;     fn0 = %libcall_table_grow sig0
;;     fn1 = %libcall_table_fill sig1
;;     fn2 = %libcall_table_copy sig2
;;     fn3 = %libcall_table_init sig2
;;     fn4 = %libcall_elem_drop sig3
;;     fn5 = %libcall_table_lazy_init sig4
;;
;; block0(v0: i64, v1: i32, v2: r64):
;;     v4 = iadd_imm v0, 80
;;     v5 = bitcast.r64 v4
;;     v6 = table_addr.i64 table0, v1, 0
;;     v7 = bitcast.i64 v5
;;     v8 = bor_imm v7, 1
;;     store notrap aligned v8, v6
;;     v9 = iconst.i64 1
;;     v10 = table_addr.i64 table1, v9, 0
;;     v11 = load.r64 notrap aligned v10
;;     v12 = table_addr.i64 table2, v1, 0
;;     store notrap aligned v11, v12
;;     v13 = global_value.i64 gv2
;;     v14 = ireduce.i32 v13
;;     v15 = iconst.i64 3
;;     v16 = iconst.i64 2
;;     v17 = call fn0(v0, v16, v2, v15)
;;     v18 = iconst.i32 0
;;     v19 = null.r64
;;     v20 = iconst.i32 2
;;     v21 = iconst.i64 1
;;     v22 = iconst.i64 0
;;     v23 = iconst.i64 2
;;     v24 = call fn1(v0, v21, v22, v19, v23)
;;     trapnz v24, table_out_of_bounds
;;     v25 = iconst.i32 1
;;     v26 = iconst.i32 1
;;     v27 = iconst.i64 1
;;     v28 = iconst.i64 1
;;     v29 = iconst.i64 1
;;     v30 = uextend.i64 v1
;;     v31 = iconst.i64 1
;;     v32 = call fn2(v0, v27, v28, v29, v30, v31)
;;     trapnz v32, table_out_of_bounds
;;     v33 = iconst.i32 0
;;     v34 = iconst.i32 0
;;     v35 = iconst.i32 1
;;     v36 = iconst.i64 1
;;     v37 = iconst.i64 0
;;     v38 = iconst.i64 0
;;     v39 = iconst.i64 0
;;     v40 = iconst.i64 1
;;     v41 = call fn3(v0, v36, v37, v38, v39, v40)
;;     trapnz v41, table_out_of_bounds
;;     v42 = iconst.i64 0
;;     call fn4(v0, v42)
;;     v43 = is_null v2
;;     v44 = uextend.i32 v43
;;     brif v44, block2, block3
;;
;; block2:
;;     v45 = null.r64
;;     return v45
;;
;; block3:
;;     jump block4
;;
;; block4:
;;     v46 = table_addr.i64 table0, v1, 0
;;     v47 = uextend.i64 v1
;;     v48 = load.i64 notrap aligned v46
;;     v49 = band_imm v48, -2
;;     brif v48, block6(v49), block5
;;
;; block5:
;;     v51 = iconst.i64 1
;;     v52 = call fn5(v0, v51, v47)
;;     jump block6(v52)
;;
;; block6(v50: i64):
;;     v53 = bitcast.r64 v50
;;     jump block1(v53)
;;
;; block1(v3: r64):
;;     return v3
;; }
