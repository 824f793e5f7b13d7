;; test translate
;; br_table whose targets take a value: each distinct target is reached through a
;; forwarding block that passes the value (br_table itself carries no arguments). In
;; the second function the targets take none and br_table goes to them directly.
(module
  (func (param i32) (result i32)
    block $outer (result i32)
      block $inner (result i32)
        i32.const 10
        local.get 0
        br_table $inner $outer $inner
      end
      i32.const 20
      i32.add
    end)
  (func (param i32) (result i32)
    block $b
      block $a
        local.get 0
        br_table $a $b $a
      end
      i32.const 1
      return
    end
    i32.const 2))
;; check:
;; function %wasm_func_0(i64 vmctx, i32) -> i32 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: i32):
;;     v5 = iconst.i32 10
;;     br_table v1, block4, [block4, block5]
;;
;; block4:
;;     jump block3(v5)
;;
;; block5:
;;     jump block2(v5)
;;
;; block3(v4: i32):
;;     v6 = iconst.i32 20
;;     v7 = iadd v4, v6
;;     jump block2(v7)
;;
;; block2(v3: i32):
;;     jump block1(v3)
;;
;; block1(v2: i32):
;;     return v2
;; }
;;
;; function %wasm_func_1(i64 vmctx, i32) -> i32 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: i32):
;;     br_table v1, block3, [block3, block2]
;;
;; block3:
;;     v3 = iconst.i32 1
;;     return v3
;;
;; block2:
;;     v4 = iconst.i32 2
;;     jump block1(v4)
;;
;; block1(v2: i32):
;;     return v2
;; }
