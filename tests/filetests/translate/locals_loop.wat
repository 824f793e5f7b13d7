;; test translate
;; Locals live across a loop: the loop header gets a block parameter for each local
;; that changes in the body (n and acc), none for the one that does not (step).
(module
  (func (param $n i32) (result i32) (local $acc i32) (local $step i32)
    i32.const 2
    local.set $step
    block $done
      loop $again
        local.get $n
        i32.eqz
        br_if $done
        local.get $acc
        local.get $n
        i32.add
        local.set $acc
        local.get $n
        local.get $step
        i32.sub
        local.set $n
        br $again
      end
    end
    local.get $acc))
;; check:
;; function %wasm_func_0(i64 vmctx, i32) -> i32 {
;;     gv0 = vmctx
;;
;; block0(v0: i64, v1: i32):
;;     v2 = iconst.i32 0
;;     v3 = iconst.i32 0
;;     v5 = iconst.i32 2
;;     jump block3(v1, v2)
;;
;; block3(v6: i32, v9: i32):
;;     v7 = icmp_imm eq v6, 0
;;     v8 = uextend.i32 v7
;;     brif v8, block2, block5
;;
;; block5:
;;     v10 = iadd v9, v6
;;     v12 = isub v6, v5
;;     jump block3(v12, v10)
;;
;; block2:
;;     jump block1(v9)
;;
;; block1(v4: i32):
;;     return v4
;; }
