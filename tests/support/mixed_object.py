"""A small LLVM object with every kind of link the JIT's loaders handle, for their
tests (``tests/jit/test_jit_objload.py``, ``tests/runtime/test_link_image.py``): an
external call (an import), a jump table (.rodata, relocated), float constants
(.rodata.cst8), an internal function called directly, and memset from the process."""

from __future__ import annotations

import ctypes

MIXED_IR = """
declare i64 @ext_add(i64, i64)
declare void @llvm.memset.p0.i64(ptr, i8, i64, i1)
define internal i64 @twice(i64 %a) noinline {
  %c = shl i64 %a, 1
  ret i64 %c
}
define i64 @mixed(i64 %k, ptr %buf) {
entry:
  call void @llvm.memset.p0.i64(ptr %buf, i8 7, i64 %k, i1 false)
  switch i64 %k, label %other [
    i64 0, label %a
    i64 1, label %b
    i64 2, label %c
    i64 3, label %d
    i64 4, label %e
    i64 5, label %f
  ]
a:
  ret i64 100
b:
  %x = call i64 @ext_add(i64 %k, i64 1000)
  ret i64 %x
c:
  %t = call i64 @twice(i64 21)
  ret i64 %t
d:
  %fk = sitofp i64 %k to double
  %fm = fmul double %fk, 2.5
  %r = fptosi double %fm to i64
  ret i64 %r
e:
  ret i64 555
f:
  ret i64 -6
other:
  ret i64 -1
}
"""

MIXED = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)
EXT_ADD = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64, ctypes.c_int64)
_ext_add = EXT_ADD(lambda a, b: a + b)
IMPORTS = {"ext_add": ctypes.cast(_ext_add, ctypes.c_void_p).value}
