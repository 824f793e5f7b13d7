;; test translate
;; Code after an unconditional branch, return or unreachable is skipped up to the end
;; of its construct, nested constructs included; an if whose branches both leave makes
;; what follows unreachable too.
(module
  (func (param i32) (result i32)
    (block
      (br 0)
      (drop (i32.div_s (i32.const 1) (i32.const 0)))
      (block (loop (br 0))))
    (if (local.get 0)
      (then (return (i32.const 1)))
      (else unreachable (drop (i32.const 5))))
    (i32.const 7)))
;; check:
;; function %wasm_func_0(i64 vmctx, i32) -> i32 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: i32):
;;     jump block2
;;
;; block2:
;;     brif v1, block3, block4
;;
;; block3:
;;     v3 = iconst.i32 1
;;     return v3
;;
;; block4:
;;     trap unreachable
;; }
