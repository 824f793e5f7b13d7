"""A hand-written compiled "instance" that exercises the native runtime end to end.

Until the IR and its code generator exist this is how the machinery underneath them is
proven (tests, benchmarks, and a smoke test for whoever wires the real instance): a
small LLVM module written by hand against the ABI of ``jit/abi.py`` and the vmctx layout
of ``ir/vmctx.py``, loaded with ``jit.codeload``, with a real vmctx, a linear memory
reservation whose tail is guard pages, and one host-function import.
"""

from __future__ import annotations

import ctypes
import functools
import mmap
from collections.abc import Callable, Sequence

from pyjitwasm.ir.types import F64, I32, I64, Type
from pyjitwasm.jit import abi
from pyjitwasm.jit.codeload import CodeLoader
from pyjitwasm.jit.loaded import LoadedCode
from pyjitwasm.runtime.native import (
    ffi,
    invoke,
    register_code_range,
    register_heap_range,
    register_host_function,
    runtime_symbols,
    unregister_code_range,
    unregister_heap_range,
    unregister_host_function,
)
from pyjitwasm.translate.vmctx import VMContextLayout

_PROT_NONE = 0
PAGE = mmap.PAGESIZE
ACCESSIBLE_BYTES = PAGE
RESERVATION_BYTES = 16 * PAGE

SIGNATURES: dict[str, tuple[tuple[Type, ...], tuple[Type, ...]]] = {
    "add": ((I32, I32), (I32,)),
    "div_s": ((I32, I32), (I32,)),
    "load_mem": ((I64,), (I32,)),
    "runaway": ((I32,), (I32,)),
    "call_import": ((I32,), (I32,)),
    "multi": ((I32, I64, F64), (F64, I32, I64)),
    "unreachable": ((), ()),
}
HOST_IMPORT_SIGNATURE = ((I32,), (I32,))

LAYOUT = VMContextLayout(num_imported_funcs=1, num_memories=1)


def _functions_ir() -> str:
    check = abi.stack_check_ir()
    mem = LAYOUT.memory(0)
    imp = LAYOUT.imported_func(0)
    return f"""
define i32 @add(ptr %vmctx, ptr %caller, i32 %a, i32 %b) #0 {{
{check}  %r = add i32 %a, %b
  ret i32 %r
}}

define i32 @div_s(ptr %vmctx, ptr %caller, i32 %a, i32 %b) #0 {{
{check}  %zero = icmp eq i32 %b, 0
  br i1 %zero, label %by.zero, label %nonzero
by.zero:
  call void @pyjitwasm_trap(ptr %vmctx, i32 7)
  unreachable
nonzero:
  %amin = icmp eq i32 %a, -2147483648
  %bneg = icmp eq i32 %b, -1
  %ovf = and i1 %amin, %bneg
  br i1 %ovf, label %overflow, label %divide
overflow:
  call void @pyjitwasm_trap(ptr %vmctx, i32 6)
  unreachable
divide:
  %q = sdiv i32 %a, %b
  ret i32 %q
}}

define i32 @load_mem(ptr %vmctx, ptr %caller, i64 %addr) #0 {{
{check}  %basep = getelementptr inbounds i8, ptr %vmctx, i64 {mem}
  %base = load ptr, ptr %basep, align 8
  %p = getelementptr i8, ptr %base, i64 %addr
  %v = load i32, ptr %p, align 1
  ret i32 %v
}}

define i32 @runaway(ptr %vmctx, ptr %caller, i32 %n) #0 {{
{check}  %n1 = add i32 %n, 1
  %r = call i32 @runaway(ptr %vmctx, ptr %vmctx, i32 %n1)
  %s = add i32 %r, %n
  ret i32 %s
}}

define i32 @call_import(ptr %vmctx, ptr %caller, i32 %x) #0 {{
{check}  %codep = getelementptr inbounds i8, ptr %vmctx, i64 {imp}
  %code = load ptr, ptr %codep, align 8
  %calleep = getelementptr inbounds i8, ptr %vmctx, i64 {imp + 8}
  %callee = load ptr, ptr %calleep, align 8
  %r = call i32 %code(ptr %callee, ptr %vmctx, i32 %x)
  %r1 = add i32 %r, 1
  ret i32 %r1
}}

define {{ double, i32, i64 }} @multi(ptr %vmctx, ptr %caller, i32 %a, i64 %b, double %c) #0 {{
{check}  %x = fmul double %c, 2.0
  %y = add i32 %a, 1
  %z = mul i64 %b, 3
  %t0 = insertvalue {{ double, i32, i64 }} undef, double %x, 0
  %t1 = insertvalue {{ double, i32, i64 }} %t0, i32 %y, 1
  %t2 = insertvalue {{ double, i32, i64 }} %t1, i64 %z, 2
  ret {{ double, i32, i64 }} %t2
}}

define void @unreachable(ptr %vmctx, ptr %caller) #0 {{
{check}  call void @pyjitwasm_trap(ptr %vmctx, i32 9)
  unreachable
}}
"""


def module_ir() -> str:
    """The whole hand-written module: functions, entry shims, the host shim."""
    parts = [abi.RUNTIME_DECLARATIONS, _functions_ir()]
    seen = set()
    for params, results in [*SIGNATURES.values(), HOST_IMPORT_SIGNATURE]:
        tag = abi.signature_tag(params, results)
        if tag not in seen:
            seen.add(tag)
            parts.append(abi.entry_shim_ir(f"entry_{tag}", params, results))
    parts.append(abi.host_shim_ir("host_shim_i32__i32", *HOST_IMPORT_SIGNATURE))
    parts.append(abi.attributes_ir())
    return "\n".join(parts)


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                          ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc


class HandWrittenInstance:
    """Loads :func:`module_ir` and wires a vmctx, a guarded memory and a host import.

    ``host`` implements the imported ``(i32) -> i32`` function.  Call :meth:`close` (or
    use as a context manager) to release everything.
    """

    def __init__(self, host: Callable[[int], int], loader: CodeLoader | None = None) -> None:
        self.loader = loader or CodeLoader()
        self.code: LoadedCode = self.loader.load(module_ir(), imports=runtime_symbols())
        for r in self.code.code_ranges:
            register_code_range(r.start, r.end)
            self.code.on_release(functools.partial(unregister_code_range, r.start, r.end))

        libc = self._libc = _libc()
        base = libc.mmap(None, RESERVATION_BYTES, _PROT_NONE,
                         mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        if base in (None, ctypes.c_void_p(-1).value):
            raise MemoryError("mmap failed")
        libc.mprotect(base, ACCESSIBLE_BYTES, mmap.PROT_READ | mmap.PROT_WRITE)
        self.memory_base = base
        register_heap_range(base, base + RESERVATION_BYTES)

        self._host = host
        self.host_index = register_host_function(self._host_entry)
        # The limits record word 0 of the vmctx and of the host context point at.
        self._limits = ffi.new("uint64_t[2]")
        limits = int(ffi.cast("uintptr_t", self._limits))
        self._host_ctx = ffi.new("uint64_t[2]")
        self._host_ctx[0] = limits
        ffi.cast("uint32_t *", self._host_ctx)[abi.HOST_INDEX_OFFSET // 4] = self.host_index

        self._vmctx_buf = ffi.new("char[]", LAYOUT.size + 16)
        self.vmctx = _align16(int(ffi.cast("uintptr_t", self._vmctx_buf)))
        words = ffi.cast("uint64_t *", self.vmctx)
        words[0] = limits
        words[LAYOUT.memory(0) // 8] = base
        words[LAYOUT.memory(0) // 8 + 1] = ACCESSIBLE_BYTES
        words[LAYOUT.imported_func(0) // 8] = self.code.address("host_shim_i32__i32")
        words[LAYOUT.imported_func(0) // 8 + 1] = int(ffi.cast("uintptr_t", self._host_ctx))

        self._values_buf = ffi.new("char[]", 16 * 8 + 16)
        self.values = _align16(int(ffi.cast("uintptr_t", self._values_buf)))
        self.i32 = ffi.cast("int32_t *", self.values)
        self.i64 = ffi.cast("int64_t *", self.values)
        self.f64 = ffi.cast("double *", self.values)

    def _host_entry(self, caller_vmctx: int, values: int) -> None:
        slots = ffi.cast("int32_t *", values)
        slots[0] = self._host(slots[0])

    def shim(self, name: str) -> int:
        """Entry shim address for function ``name``'s signature."""
        return self.code.address("entry_" + abi.signature_tag(*SIGNATURES[name]))

    def call(self, name: str, *args: int | float) -> tuple[int | float, ...]:
        """Call function ``name`` through the generic path (values array + invoke)."""
        params, results = SIGNATURES[name]
        self._store(params, args)
        invoke(self.shim(name), self.code.address(name), self.vmctx, self.values)
        return self._load(results)

    def _store(self, types: Sequence[Type], args: Sequence[int | float]) -> None:
        for slot, (t, v) in enumerate(zip(types, args, strict=True)):
            if t == F64:
                self.f64[2 * slot] = v
            else:
                self.i64[2 * slot] = v

    def _load(self, types: Sequence[Type]) -> tuple[int | float, ...]:
        out: list[int | float] = []
        for slot, t in enumerate(types):
            if t == I32:
                out.append(self.i32[4 * slot])
            elif t == F64:
                out.append(self.f64[2 * slot])
            else:
                out.append(self.i64[2 * slot])
        return tuple(out)

    def write_memory(self, offset: int, data: bytes) -> None:
        """Copy bytes into the accessible part of the linear memory."""
        if offset + len(data) > ACCESSIBLE_BYTES:
            raise IndexError("write past the accessible memory")
        ctypes.memmove(self.memory_base + offset, data, len(data))

    def close(self) -> None:
        """Release the code, the memory reservation and the host-function slot."""
        if self.memory_base:
            self.code.release()
            unregister_heap_range(self.memory_base, self.memory_base + RESERVATION_BYTES)
            self._libc.munmap(self.memory_base, RESERVATION_BYTES)
            unregister_host_function(self.host_index)
            self.memory_base = 0

    def __enter__(self) -> HandWrittenInstance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _align16(address: int) -> int:
    return (address + 15) & ~15
