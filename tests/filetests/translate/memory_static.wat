;; test translate
;; heaps: static
;; legalize
;; Loads and stores on a static 32-bit heap: no bounds check (4 GiB reservation and a
;; 2 GiB guard cover any i32 index plus offset); the base is a readonly vmctx field.
;; memory.size reads the length inline; memory.grow and memory.fill are libcalls.
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
;;     sig0 = (i64 vmctx, i64, i64, i32, i64) -> i64
;;     sig1 = (i64 vmctx, i64, i64) -> i64
;;     fn0 = %libcall_memory_fill sig0
;;     fn1 = %libcall_memory_grow sig1
;;
;; block0(v0: i64, v1: i32):
;;     v25 = uextend.i64 v1
;;     v26 = load.i64 notrap aligned readonly v0+40
;;     v27 = iadd v26, v25
;;     v3 = iadd_imm v27, 3
;;     v4 = sload8.i32 little v3
;;     v28 = uextend.i64 v1
;;     v29 = load.i64 notrap aligned readonly v0+40
;;     v30 = iadd v29, v28
;;     v5 = iadd_imm v30, 6
;;     istore16 little v4, v5
;;     v6 = iconst.i32 16
;;     v31 = uextend.i64 v1
;;     v32 = load.i64 notrap aligned readonly v0+40
;;     v7 = iadd v32, v31
;;     v8 = load.f64 little v7
;;     v33 = uextend.i64 v6
;;     v34 = load.i64 notrap aligned readonly v0+40
;;     v9 = iadd v34, v33
;;     store little v8, v9
;;     v10 = iconst.i32 0
;;     v11 = iconst.i32 8
;;     v12 = iconst.i64 0
;;     v13 = uextend.i64 v1
;;     v14 = iconst.i64 8
;;     v15 = call fn0(v0, v12, v13, v10, v14)
;;     trapnz v15, memory_out_of_bounds
;;     v16 = load.i64 notrap aligned v0+48
;;     v17 = ushr_imm v16, 16
;;     v18 = ireduce.i32 v17
;;     v19 = iconst.i32 1
;;     v20 = iconst.i64 1
;;     v21 = iconst.i64 0
;;     v22 = call fn1(v0, v21, v20)
;;     v23 = ireduce.i32 v22
;;     v24 = iadd v18, v23
;;     jump block1(v24)
;;
;; block1(v2: i32):
;;     return v2
;; }
