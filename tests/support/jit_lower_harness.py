"""A minimal JIT instance for the back-end tests (no tests of its own).

The JIT runtime proper lives in ``runtime/jit``; these tests must not depend on it, so
this harness builds just enough around ``compile_module``: a vmctx laid out per
``ir/vmctx.py``, one linear memory (a static-heap reservation with guard pages, or a
plain mapping with a dynamic-heap length), tables filled eagerly from active element
segments, globals from constant initializers, VMFuncRef records, and a few libcalls as
ctypes callbacks.  Calls go through the entry shims and ``runtime.native.invoke``.
"""

from __future__ import annotations

import ctypes
import mmap
import shutil
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

from pyjitwasm import Config, Engine, Instance, Module, Store, Trap, Val
from pyjitwasm.runtime.floats import f32_to_bits, f64_to_bits
from pyjitwasm.runtime.jit.compile_module import CompiledModule, CompileOptions, compile_module
from pyjitwasm.runtime.native import (
    invoke,
    register_code_range,
    register_heap_range,
    runtime_symbols,
    unregister_code_range,
    unregister_heap_range,
)
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm import types as wt
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.module import SegmentMode, WasmModule
from pyjitwasm.wasm.types import ExternKind
from pyjitwasm.wasm.validator import validate_module

_TOOL = Path(sys.executable).parent / "wasm-tools"
WASM_TOOLS = str(_TOOL) if _TOOL.exists() else shutil.which("wasm-tools")
PAGE = 65536

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_MAP_NORESERVE = 0x4000


def wat_to_wasm(wat: str) -> bytes:
    """Assemble WAT with wasm-tools."""
    assert WASM_TOOLS is not None
    done = subprocess.run([WASM_TOOLS, "parse", "-", "-o", "/dev/stdout"], input=wat.encode(),
                          capture_output=True, check=True)
    return done.stdout


def _const_value(expr: Any) -> tuple[int, int]:
    """(type, bits) of a constant initializer made of one ``*.const``."""
    (instr,) = expr.instrs
    name = op.OPS[instr.op].name
    if name in ("i32.const", "i64.const", "f32.const", "f64.const"):
        return name, instr.imm
    raise NotImplementedError(f"initializer {name}")


_STATUS_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64,
                                    ctypes.c_int64)


class JitInstance:
    """One instantiated module (no imports) on the JIT back end alone."""

    def __init__(self, wasm: bytes, heap_style: str = "static", opt_level: int = 1) -> None:
        module = decode_module(wasm)
        validate_module(module)
        if module.imports:
            raise NotImplementedError("the harness does not link imports")
        self.module: WasmModule = module
        self._grow_cb = _STATUS_CALLBACK(self._memory_grow)
        self._lazy_cb = _STATUS_CALLBACK(lambda vmctx, table, index: 0)
        symbols = dict(runtime_symbols())
        symbols["libcall_memory_grow"] = ctypes.cast(self._grow_cb, ctypes.c_void_p).value
        symbols["libcall_table_lazy_init"] = ctypes.cast(self._lazy_cb, ctypes.c_void_p).value
        options = CompileOptions(heap_style=heap_style, opt_level=opt_level, verify=True)
        self.compiled: CompiledModule = compile_module(module, options, symbols)
        for r in self.compiled.code_ranges:
            register_code_range(r.start, r.end)
            self.compiled.on_release(lambda r=r: unregister_code_range(r.start, r.end))
        layout = self.layout = self.compiled.layout
        self._vmctx_buf = ctypes.create_string_buffer(layout.size + 16)
        self.vmctx = (ctypes.addressof(self._vmctx_buf) + 15) & ~15
        # vmctx word 0 points at the limits record (zero: the default stack budget).
        self._limits = ctypes.create_string_buffer(16)
        ctypes.c_uint64.from_address(self.vmctx).value = ctypes.addressof(self._limits)
        self._values_buf = ctypes.create_string_buffer(16 * 64 + 16)
        self.values = (ctypes.addressof(self._values_buf) + 15) & ~15
        self._keep: list[Any] = []
        self._unmap: list[tuple[int, int]] = []
        self.heap_style = heap_style
        self._signature_ids()
        self._memory()
        self._globals()
        self._func_refs()
        self._tables()

    # vmctx regions -------------------------------------------------------------------

    def _put(self, offset: int, fmt: str, *values: Any) -> None:
        ctypes.memmove(self.vmctx + offset, struct.pack(fmt, *values), struct.calcsize(fmt))

    def _signature_ids(self) -> None:
        ids: dict[Any, int] = {}
        self.sig_ids = []
        for i, ftype in enumerate(self.module.types):
            sid = ids.setdefault(ftype, len(ids))
            self.sig_ids.append(sid)
            self._put(self.layout.signature_id(i), "<I", sid)

    def _memory(self) -> None:
        self.memory_base = 0
        self.memory_length = 0
        if not self.module.memories:
            return
        mtype = self.module.memories[0]
        pages = mtype.minimum
        self.max_pages = 1024
        if self.heap_style == "static":
            self.reservation = (1 << 32) + (1 << 31)
        else:
            self.reservation = self.max_pages * PAGE
        base = _libc.mmap(None, self.reservation, 0,
                          mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE, -1, 0)
        assert base not in (None, ctypes.c_void_p(-1).value)
        self._unmap.append((base, self.reservation))
        register_heap_range(base, base + self.reservation)
        self.memory_base = base
        self._set_pages(pages)
        for segment in self.module.datas:
            if segment.mode != SegmentMode.ACTIVE:
                continue
            _, offset = _const_value(segment.offset_expr)
            ctypes.memmove(base + offset, bytes(segment.data), len(segment.data))

    def _set_pages(self, pages: int) -> None:
        length = pages * PAGE
        if length:
            _libc.mprotect(self.memory_base, length, mmap.PROT_READ | mmap.PROT_WRITE)
        self.memory_length = length
        self._put(self.layout.memory(0), "<QQ", self.memory_base, length)

    def _memory_grow(self, vmctx: int, memory: int, delta: int) -> int:
        old = self.memory_length // PAGE
        if old + delta > self.max_pages:
            return -1
        self._set_pages(old + delta)
        return old

    def _globals(self) -> None:
        for i, g in enumerate(self.module.globals):
            name, value = _const_value(g.init)
            fmt = {"i32.const": "<I", "i64.const": "<Q", "f32.const": "<I",
                   "f64.const": "<Q"}[name]
            mask = (1 << (struct.calcsize(fmt) * 8)) - 1
            self._put(self.layout.global_(i), fmt, value & mask)

    def _func_refs(self) -> None:
        # The code slot table (one word per defined function) that direct calls out of
        # a batch and VMFuncRef records reach functions through.
        first = self.module.num_imported_funcs
        count = max(len(self.module.codes), 1)
        self._slots = (ctypes.c_uint64 * count)(
            *[self.compiled.function_address(first + k) for k in range(len(self.module.codes))])
        slots = ctypes.addressof(self._slots)
        self._put(self.layout.code_slots, "<Q", slots)
        self.func_ref_address: dict[int, int] = {}
        for func, record in vm.func_ref_indices(self.module).items():
            at = self.layout.func_ref(record)
            type_index = self.module.func_type_indices()[func]
            self._put(at, "<QIIQ", slots + 8 * (func - first),
                      self.sig_ids[type_index], 0, self.vmctx)
            self.func_ref_address[func] = self.vmctx + at

    def _tables(self) -> None:
        for i, ttype in enumerate(self.module.tables):
            size = ttype.minimum
            buf = (ctypes.c_uint64 * max(size, 1))(*([vm.FUNCREF_NULL] * max(size, 1)))
            self._keep.append(buf)
            self._put(self.layout.table(i), "<QQ", ctypes.addressof(buf), size)
            for segment in self.module.elems:
                if segment.table != i or segment.mode != SegmentMode.ACTIVE:
                    continue
                _, offset = _const_value(segment.offset_expr)
                for j, item in enumerate(segment.items):
                    if item.instrs[0].op == op.REF_FUNC:
                        buf[offset + j] = self.func_ref_address[item.instrs[0].imm] | 1

    # Calls ---------------------------------------------------------------------------

    def export_index(self, name: str) -> int:
        for export in self.module.exports:
            if export.name == name and export.kind == ExternKind.FUNC:
                return export.index
        raise KeyError(name)

    def call_bits(self, name: str, *args: int) -> list[int]:
        """Call export ``name`` with arguments given as raw bits; results as raw bits
        (unsigned).  Raises Trap."""
        index = self.export_index(name)
        type_index = self.module.func_type_indices()[index]
        ftype = self.module.types[type_index]
        for slot, (ty, bits) in enumerate(zip(ftype.params, args, strict=True)):
            width = 4 if ty in (wt.I32, wt.F32) else 8
            ctypes.memmove(self.values + 16 * slot,
                           (bits & ((1 << (8 * width)) - 1)).to_bytes(width, "little"), width)
        invoke(self.compiled.entry_shim(type_index), self.compiled.function_address(index),
               self.vmctx, self.values)
        out = []
        for slot, ty in enumerate(ftype.results):
            width = 4 if ty in (wt.I32, wt.F32) else 8
            out.append(int.from_bytes(ctypes.string_at(self.values + 16 * slot, width),
                                      "little"))
        return out

    def close(self) -> None:
        self.compiled.release()
        for base, size in self._unmap:
            unregister_heap_range(base, base + size)
            _libc.munmap(base, size)
        self._unmap.clear()

    def __enter__(self) -> JitInstance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InterpInstance:
    """The same module on the reference interpreter, called with raw bits."""

    def __init__(self, wasm: bytes) -> None:
        self.store = Store(Engine(Config(strategy="interp")))
        self.module = decode_module(wasm)
        self.exports = Instance(self.store, Module(self.store.engine, wasm), []).exports(
            self.store)

    def call_bits(self, name: str, *args: int) -> list[int]:
        func = self.exports[name]
        ftype = func.type(self.store)
        vals = []
        for ty, bits in zip(ftype.params, args, strict=True):
            kind = str(ty)
            maker = {"i32": Val.i32, "i64": Val.i64, "f32": Val.f32_bits,
                     "f64": Val.f64_bits}[kind]
            width = 32 if kind in ("i32", "f32") else 64
            vals.append(maker(bits & ((1 << width) - 1)))
        return [v.bits for v in func.call_vals(self.store, vals)]


def outcome(instance: JitInstance | InterpInstance, name: str, *args: int) -> Any:
    """Results as bits, or ("trap", code)."""
    try:
        return instance.call_bits(name, *args)
    except Trap as trap:
        return ("trap", trap.trap_code)


__all__ = ["JitInstance", "InterpInstance", "outcome", "wat_to_wasm", "WASM_TOOLS",
           "f32_to_bits", "f64_to_bits"]
