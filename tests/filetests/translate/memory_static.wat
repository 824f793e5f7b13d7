;; test translate
;; heaps: static
;; legalize
;; Loads and stores on a static 32-bit heap: no bounds check (4 GiB reservation and a
;; 2 GiB guard cover any i32 index plus offset); the base is a readonly vmctx field.
;; memory.size reads the length inline; memory.grow is a libcall; memory.fill checks its
;; range against the current length and becomes a memset.
(module
  (memory 1)
  (func (param i32) (result i32)
    (i32.store16 offset=6 (local.get 0) (i32.load8_s offset=3 (local.get 0)))
    (f64.store (i32.const 16) (f64.load (local.get 0)))
    (memory.fill (local.get 0) (i32.const 0) (i32.const 8))
    (i32.add (memory.size) (memory.grow (i32.const 1)))))
;; check:
;; function %wasm_func_0(i64 vmctx, i32) -> i32 {
;;     gv0 = vmctx
;;     gv1 = load.i64 notrap aligned readonly gv0+40
;;     gv2 = load.i64 notrap aligned gv0+48
;;     heap0 = static base=gv1, bound=0x100000000, offset_guard=0x80000000, index_type=i32
;;     sig0 = (i64 vmctx, i64, i64) -> i64
;;     fn0 = %libcall_memory_grow sig0
;;
;; block0(v0: i64, v1: i32):
;;     v30 = load.i64 notrap aligned readonly v0+40
;;     v29 = uextend.i64 v1
;;     v31 = iadd v30, v29
;;     v3 = iadd_imm v31, 3
;;     v4 = sload8.i32 little v3
;;     v32 = uextend.i64 v1
;;     v33 = iadd v30, v32
;;     v5 = iadd_imm v33, 6
;;     istore16 little v4, v5
;;     v6 = iconst.i32 16
;;     v34 = uextend.i64 v1
;;     v7 = iadd v30, v34
;;     v8 = load.f64 little v7
;;     v35 = uextend.i64 v6
;;     v9 = iadd v30, v35
;;     store little v8, v9
;;     v10 = iconst.i32 0
;;     v11 = iconst.i32 8
;;     v12 = uextend.i64 v1
;;     v13 = iconst.i64 8
;;     v14 = load.i64 notrap aligned v0+48
;;     v15 = iadd v12, v13
;;     v16 = icmp ugt v15, v14
;;     trapnz v16, memory_out_of_bounds
;;     v17 = load.i64 notrap aligned readonly v0+40
;;     v18 = iadd v17, v12
;;     v19 = ireduce.i8 v10
;;     memset v18, v19, v13
;;     v20 = load.i64 notrap aligned v0+48
;;     v21 = ushr_imm v20, 16
;;     v22 = ireduce.i32 v21
;;     v23 = iconst.i32 1
;;     v24 = iconst.i64 1
;;     v25 = iconst.i64 0
;;     v26 = call fn0(v0, v25, v24)
;;     v27 = ireduce.i32 v26
;;     v28 = iadd v22, v27
;;     jump block1(v28)
;;
;; block1(v2: i32):
;;     return v2
;; }
