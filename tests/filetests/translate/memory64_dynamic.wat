;; test translate
;; legalize
;; A dynamic memory64 heap (and an imported 32-bit one): each access checks
;; index + offset + size against the current length, with a wrap check for i64 indices.
(module
  (import "env" "mem" (memory $shared 1))
  (memory $big i64 1)
  (func (param i64 i32) (result i64)
    (i64.store $big offset=16 (local.get 0) (i64.load32_u $shared offset=4 (local.get 1)))
    (memory.copy $big $shared (local.get 0) (local.get 1) (i32.const 4))
    (i64.add (memory.size $big) (memory.grow $big (i64.const 2)))))
;; check:
;; function %wasm_func_0(i64 vmctx, i64, i32) -> i64 {
;;     gv0 = vmctx
;;     gv1 = load.i64 notrap aligned readonly gv0+40
;;     gv2 = load.i64 notrap aligned gv1
;;     gv3 = load.i64 notrap aligned gv1+8
;;     gv4 = load.i64 notrap aligned gv0+48
;;     gv5 = load.i64 notrap aligned gv0+56
;;     heap0 = dynamic base=gv2, bound=gv3, offset_guard=0, index_type=i32
;;     heap1 = dynamic base=gv4, bound=gv5, offset_guard=0, index_type=i64
;;     sig0 = (i64 vmctx, i64, i64, i64, i64, i64) -> i64
;;     sig1 = (i64 vmctx, i64, i64) -> i64
;;     fn0 = %libcall_memory_copy sig0
;;     fn1 = %libcall_memory_grow sig1
;;
;; block0(v0: i64, v1: i64, v2: i32):
;;     v19 = uextend.i64 v2
;;     v20 = iadd_imm v19, 8
;;     v21 = load.i64 notrap aligned readonly v0+40
;;     v22 = load.i64 notrap aligned v21+8
;;     v23 = icmp ugt v20, v22
;;     trapnz v23, memory_out_of_bounds
;;     v24 = load.i64 notrap aligned readonly v0+40
;;     v25 = load.i64 notrap aligned v24
;;     v26 = iadd v25, v19
;;     v4 = iadd_imm v26, 4
;;     v5 = uload32.i64 little v4
;;     v27 = iconst.i64 24
;;     v28 = iadd v1, v27
;;     v29 = icmp ult v28, v1
;;     trapnz v29, memory_out_of_bounds
;;     v30 = load.i64 notrap aligned v0+56
;;     v31 = icmp ugt v28, v30
;;     trapnz v31, memory_out_of_bounds
;;     v32 = load.i64 notrap aligned v0+48
;;     v33 = iadd v32, v1
;;     v6 = iadd_imm v33, 16
;;     store little v5, v6
;;     v7 = iconst.i32 4
;;     v8 = iconst.i64 1
;;     v9 = iconst.i64 0
;;     v10 = uextend.i64 v2
;;     v11 = iconst.i64 4
;;     v12 = call fn0(v0, v8, v9, v1, v10, v11)
;;     trapnz v12, memory_out_of_bounds
;;     v13 = load.i64 notrap aligned v0+56
;;     v14 = ushr_imm v13, 16
;;     v15 = iconst.i64 2
;;     v16 = iconst.i64 1
;;     v17 = call fn1(v0, v16, v15)
;;     v18 = iadd v14, v17
;;     jump block1(v18)
;;
;; block1(v3: i64):
;;     return v3
;; }
