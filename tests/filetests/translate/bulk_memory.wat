;; test translate
;; memory.copy and memory.fill check their ranges against the current lengths (global
;; values, reloaded since memory.grow may change them) and trap with nothing written,
;; then copy or fill with memmove/memset. Ranges of 32-bit memories are i32 values
;; widened to i64, so start + size cannot wrap; a 64-bit range is checked as
;; size <= length && start <= length - size. A copy between two memories checks both.
(module
  (import "env" "mem" (memory $imported 1))
  (memory $wide i64 1)
  (func (param i32 i32 i32)
    (memory.copy $imported $imported (local.get 0) (local.get 1) (local.get 2))
    (memory.fill $imported (local.get 0) (local.get 1) (local.get 2)))
  (func (param i64 i32 i64)
    (memory.copy $wide $wide (local.get 0) (local.get 2) (local.get 2))
    (memory.fill $wide (local.get 0) (local.get 1) (local.get 2)))
  (func (param i64 i32 i32)
    (memory.copy $wide $imported (local.get 0) (local.get 1) (local.get 2))))
;; check:
;; function %wasm_func_0(i64 vmctx, i32, i32, i32) {
;;     gv0 = vmctx
;;     gv1 = load.i64 notrap aligned readonly gv0+48
;;     gv2 = load.i64 notrap aligned gv1
;;     gv3 = load.i64 notrap aligned gv1+8
;;     heap0 = dynamic base=gv2, bound=gv3, offset_guard=0, index_type=i32
;;
;; block0(v0: i64, v1: i32, v2: i32, v3: i32):
;;     v4 = uextend.i64 v1
;;     v5 = uextend.i64 v2
;;     v6 = uextend.i64 v3
;;     v7 = global_value.i64 gv3
;;     v8 = iadd v4, v6
;;     v9 = icmp ugt v8, v7
;;     v10 = iadd v5, v6
;;     v11 = icmp ugt v10, v7
;;     v12 = bor v9, v11
;;     trapnz v12, memory_out_of_bounds
;;     v13 = global_value.i64 gv2
;;     v14 = iadd v13, v4
;;     v15 = iadd v13, v5
;;     memmove v14, v15, v6
;;     v16 = uextend.i64 v1
;;     v17 = uextend.i64 v3
;;     v18 = global_value.i64 gv3
;;     v19 = iadd v16, v17
;;     v20 = icmp ugt v19, v18
;;     trapnz v20, memory_out_of_bounds
;;     v21 = global_value.i64 gv2
;;     v22 = iadd v21, v16
;;     v23 = ireduce.i8 v2
;;     memset v22, v23, v17
;;     jump block1
;;
;; block1:
;;     return
;; }
;;
;; function %wasm_func_1(i64 vmctx, i64, i32, i64) {
;;     gv0 = vmctx
;;     gv1 = load.i64 notrap aligned gv0+56
;;     gv2 = load.i64 notrap aligned gv0+64
;;     heap0 = dynamic base=gv1, bound=gv2, offset_guard=0, index_type=i64
;;
;; block0(v0: i64, v1: i64, v2: i32, v3: i64):
;;     v4 = global_value.i64 gv2
;;     v5 = icmp ugt v3, v4
;;     v6 = isub v4, v3
;;     v7 = icmp ugt v1, v6
;;     v8 = bor v5, v7
;;     v9 = icmp ugt v3, v4
;;     v10 = isub v4, v3
;;     v11 = icmp ugt v3, v10
;;     v12 = bor v9, v11
;;     v13 = bor v8, v12
;;     trapnz v13, memory_out_of_bounds
;;     v14 = global_value.i64 gv1
;;     v15 = iadd v14, v1
;;     v16 = iadd v14, v3
;;     memmove v15, v16, v3
;;     v17 = global_value.i64 gv2
;;     v18 = icmp ugt v3, v17
;;     v19 = isub v17, v3
;;     v20 = icmp ugt v1, v19
;;     v21 = bor v18, v20
;;     trapnz v21, memory_out_of_bounds
;;     v22 = global_value.i64 gv1
;;     v23 = iadd v22, v1
;;     v24 = ireduce.i8 v2
;;     memset v23, v24, v3
;;     jump block1
;;
;; block1:
;;     return
;; }
;;
;; function %wasm_func_2(i64 vmctx, i64, i32, i32) {
;;     gv0 = vmctx
;;     gv1 = load.i64 notrap aligned gv0+56
;;     gv2 = load.i64 notrap aligned gv0+64
;;     gv3 = load.i64 notrap aligned readonly gv0+48
;;     gv4 = load.i64 notrap aligned gv3
;;     gv5 = load.i64 notrap aligned gv3+8
;;     heap0 = dynamic base=gv1, bound=gv2, offset_guard=0, index_type=i64
;;     heap1 = dynamic base=gv4, bound=gv5, offset_guard=0, index_type=i32
;;
;; block0(v0: i64, v1: i64, v2: i32, v3: i32):
;;     v4 = uextend.i64 v2
;;     v5 = uextend.i64 v3
;;     v6 = global_value.i64 gv2
;;     v7 = global_value.i64 gv5
;;     v8 = icmp ugt v5, v6
;;     v9 = isub v6, v5
;;     v10 = icmp ugt v1, v9
;;     v11 = bor v8, v10
;;     v12 = iadd v4, v5
;;     v13 = icmp ugt v12, v7
;;     v14 = bor v11, v13
;;     trapnz v14, memory_out_of_bounds
;;     v15 = global_value.i64 gv1
;;     v16 = global_value.i64 gv4
;;     v17 = iadd v15, v1
;;     v18 = iadd v16, v4
;;     memmove v17, v18, v5
;;     jump block1
;;
;; block1:
;;     return
;; }
