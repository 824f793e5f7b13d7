;; test translate
;; legalize
;; A memory64 offset of 2**32 or more: the high part is added explicitly with a
;; wrap-around trap, heap_addr takes the low 32 bits.
(module
  (memory i64 1)
  (func (param i64) (result i32)
    (i32.load offset=0x100000010 (local.get 0))))
;; check:
;; function %wasm_func_0(i64 vmctx, i64) -> i32 {
;;     gv0 = vmctx
;;     gv1 = load.i64 notrap aligned gv0+40
;;     gv2 = load.i64 notrap aligned gv0+48
;;     heap0 = dynamic base=gv1, bound=gv2, offset_guard=0, index_type=i64
;;
;; block0(v0: i64, v1: i64):
;;     v3 = iconst.i64 0x100000000
;;     v4 = iadd v1, v3
;;     v7 = icmp ult v4, v1
;;     trapnz v7, memory_out_of_bounds
;;     v8 = iconst.i64 20
;;     v9 = iadd v4, v8
;;     v10 = icmp ult v9, v4
;;     trapnz v10, memory_out_of_bounds
;;     v11 = load.i64 notrap aligned v0+48
;;     v12 = icmp ugt v9, v11
;;     trapnz v12, memory_out_of_bounds
;;     v13 = load.i64 notrap aligned v0+40
;;     v14 = iadd v13, v4
;;     v5 = iadd_imm v14, 16
;;     v6 = load.i32 little v5
;;     jump block1(v6)
;;
;; block1(v2: i32):
;;     return v2
;; }
