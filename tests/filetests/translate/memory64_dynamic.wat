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
;;     sig0 = (i64 vmctx, i64, i64) -> i64
;;     fn0 = %libcall_memory_grow sig0
;;
;; block0(v0: i64, v1: i64, v2: i32):
;;     v31 = load.i64 notrap aligned readonly v0+40
;;     v29 = uextend.i64 v2
;;     v30 = iadd_imm v29, 8
;;     v32 = load.i64 notrap aligned v31+8
;;     v33 = icmp ugt v30, v32
;;     trapnz v33, memory_out_of_bounds
;;     v34 = load.i64 notrap aligned v31
;;     v35 = iadd v34, v29
;;     v4 = iadd_imm v35, 4
;;     v5 = uload32.i64 little v4
;;     v36 = iconst.i64 24
;;     v37 = iadd v1, v36
;;     v38 = icmp ult v37, v1
;;     trapnz v38, memory_out_of_bounds
;;     v39 = load.i64 notrap aligned v0+56
;;     v40 = icmp ugt v37, v39
;;     trapnz v40, memory_out_of_bounds
;;     v41 = load.i64 notrap aligned v0+48
;;     v42 = iadd v41, v1
;;     v6 = iadd_imm v42, 16
;;     store little v5, v6
;;     v7 = iconst.i32 4
;;     v8 = uextend.i64 v2
;;     v9 = iconst.i64 4
;;     v10 = load.i64 notrap aligned v0+56
;;     v11 = load.i64 notrap aligned v31+8
;;     v12 = icmp ugt v9, v10
;;     v13 = isub v10, v9
;;     v14 = icmp ugt v1, v13
;;     v15 = bor v12, v14
;;     v16 = iadd v8, v9
;;     v17 = icmp ugt v16, v11
;;     v18 = bor v15, v17
;;     trapnz v18, memory_out_of_bounds
;;     v19 = load.i64 notrap aligned v0+48
;;     v20 = load.i64 notrap aligned v31
;;     v21 = iadd v19, v1
;;     v22 = iadd v20, v8
;;     memmove v21, v22, v9
;;     v23 = load.i64 notrap aligned v0+56
;;     v24 = ushr_imm v23, 16
;;     v25 = iconst.i64 2
;;     v26 = iconst.i64 1
;;     v27 = call fn0(v0, v26, v25)
;;     v28 = iadd v24, v27
;;     jump block1(v28)
;;
;; block1(v3: i64):
;;     return v3
;; }
