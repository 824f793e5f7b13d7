"""Loading LLVM IR through jit.codeload: addresses, code ranges, release."""

from __future__ import annotations

import ctypes
import gc

import llvmlite.ir as ir
import pytest

from pyjitwasm.ir.types import F64, I32, I64
from pyjitwasm.jit import abi
from pyjitwasm.jit.codeload import CodeLoader
from pyjitwasm.jit.elfsyms import read_code_layout
from pyjitwasm.jit.loaded import LoadedCode
from pyjitwasm.jit.pipelines import LLVMPipeline

ADD_IR = """
define i32 @add(i32 %a, i32 %b) {
  %c = add i32 %a, %b
  ret i32 %c
}
define internal i32 @triple(i32 %a) noinline {
  %c = mul i32 %a, 3
  ret i32 %c
}
define i32 @add_triple(i32 %a, i32 %b) {
  %s = add i32 %a, %b
  %c = call i32 @triple(i32 %s)
  ret i32 %c
}
"""

BINOP = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int32, ctypes.c_int32)


@pytest.fixture(scope="module")
def loader() -> CodeLoader:
    return CodeLoader()


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


def test_load_text_and_call(loader):
    code = loader.load(ADD_IR)
    assert set(code.addresses) == {"add", "add_triple"}
    assert BINOP(code.address("add"))(40, 2) == 42
    assert BINOP(code.address("add_triple"))(1, 2) == 9
    code.release()


def test_code_ranges_cover_every_function(loader):
    code = loader.load(ADD_IR)
    for address in code.addresses.values():
        assert any(r.start <= address < r.end for r in code.code_ranges)
    total = sum(r.end - r.start for r in code.code_ranges)
    # Both exported functions plus the internal helper, but nothing like a page of slack.
    assert 8 < total < 512
    code.release()


def test_load_llvmlite_ir_module(loader):
    i64 = ir.IntType(64)
    module = ir.Module()
    fn = ir.Function(module, ir.FunctionType(i64, [i64]), "square")
    builder = ir.IRBuilder(fn.append_basic_block())
    builder.ret(builder.mul(fn.args[0], fn.args[0]))
    code = loader.load(module, exports=["square"])
    square = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)(code.address("square"))
    assert square(-12) == 144
    code.release()


def test_imports_resolve_to_given_addresses(loader):
    callback_type = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)
    seen = []

    @callback_type
    def host(x):
        seen.append(x)
        return x + 1000

    ir_text = """
    declare i64 @host(i64)
    define i64 @calls_host(i64 %x) {
      %y = call i64 @host(i64 %x)
      %z = mul i64 %y, 2
      ret i64 %z
    }
    """
    address = ctypes.cast(host, ctypes.c_void_p).value
    code = loader.load(ir_text, imports={"host": address})
    calls_host = callback_type(code.address("calls_host"))
    assert calls_host(5) == 2010
    assert seen == [5]
    code.release()


def test_unresolved_import_fails_to_link(loader):
    with pytest.raises(RuntimeError):
        loader.load("declare void @nowhere()\ndefine void @f() {\n call void @nowhere()\n"
                    " ret void\n}")


def test_release_runs_callbacks_first_and_is_idempotent(loader):
    events = []
    code = loader.load(ADD_IR)
    code.on_release(lambda: events.append("first"))
    code.on_release(lambda: events.append("second"))
    code.release()
    code.release()
    assert events == ["second", "first"]
    assert code.released


def test_garbage_collection_releases(loader):
    events = []
    code = loader.load(ADD_IR)
    code.on_release(lambda: events.append("released"))
    del code
    gc.collect()
    assert events == ["released"]


def test_link_release_loop_keeps_rss_flat(loader):
    obj = loader.compile_object(ADD_IR)

    def cycle(n: int) -> None:
        for i in range(n):
            code: LoadedCode = loader.load_object(obj)
            assert BINOP(code.address("add"))(i, 1) == i + 1
            code.release()

    cycle(300)  # crosses a fresh-LLJIT boundary (libraries_per_jit)
    gc.collect()
    before = _rss_kib()
    cycle(600)
    gc.collect()
    assert _rss_kib() - before < 1024


def test_compile_release_loop_growth_is_bounded(loader):
    # LLVM's pass pipeline in llvmlite 0.50 keeps ~5 KiB per compiled module
    # (docs/jit-design.md); this guards against anything worse.
    for _ in range(50):
        loader.load(ADD_IR).release()
    gc.collect()
    before = _rss_kib()
    for _ in range(300):
        loader.load(ADD_IR).release()
    gc.collect()
    assert (_rss_kib() - before) / 300 < 10


def test_entry_shims_for_several_signatures(loader):
    shim_type = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
    signatures = [((I32, I64, F64), (F64,)), ((), (I32, I64)), ((I64,), ())]
    functions = """
    define double @f0(ptr %v, ptr %c, i32 %a, i64 %b, double %d) {
      %x = sitofp i32 %a to double
      %y = sitofp i64 %b to double
      %s = fadd double %x, %y
      %r = fmul double %s, %d
      ret double %r
    }
    define { i32, i64 } @f1(ptr %v, ptr %c) {
      ret { i32, i64 } { i32 -7, i64 1099511627776 }
    }
    define void @f2(ptr %v, ptr %c, i64 %a) {
      store i64 %a, ptr %v, align 8
      ret void
    }
    """
    shims = "".join(abi.entry_shim_ir(f"shim{i}", *sig) for i, sig in enumerate(signatures))
    code = loader.load(functions + shims + abi.attributes_ir())
    values = (ctypes.c_uint64 * 8)()
    as_i64 = ctypes.cast(values, ctypes.POINTER(ctypes.c_int64))
    as_f64 = ctypes.cast(values, ctypes.POINTER(ctypes.c_double))
    as_i32 = ctypes.cast(values, ctypes.POINTER(ctypes.c_int32))

    as_i64[0], as_i64[2], as_f64[4] = 3, 4, 0.5
    shim_type(code.address("shim0"))(code.address("f0"), None, ctypes.addressof(values))
    assert as_f64[0] == 3.5

    shim_type(code.address("shim1"))(code.address("f1"), None, ctypes.addressof(values))
    assert (as_i32[0], as_i64[2]) == (-7, 2**40)

    vmctx = (ctypes.c_int64 * 2)()
    as_i64[0] = -99
    shim_type(code.address("shim2"))(code.address("f2"), ctypes.addressof(vmctx),
                                      ctypes.addressof(values))
    assert vmctx[0] == -99
    code.release()


def test_elf_reader_finds_code_sections(loader):
    obj = loader.compile_object(ADD_IR)
    sections, symbols = read_code_layout(obj)
    assert {s.name for s in symbols} == {"add", "add_triple"}
    assert all(s.anchor is not None and s.size > 0 for s in sections)
    with pytest.raises(ValueError):
        read_code_layout(b"not an object")


# A loop with more live values than registers: the two register allocators give
# different code for it.
PRESSURE_IR = """
define i64 @mix(ptr %p, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [ 0, %entry ], [ %i.next, %loop ]
  %a = phi i64 [ 1, %entry ], [ %a.next, %loop ]
  %b = phi i64 [ 2, %entry ], [ %b.next, %loop ]
  %c = phi i64 [ 3, %entry ], [ %c.next, %loop ]
  %at = getelementptr i64, ptr %p, i64 %i
  %x = load i64, ptr %at
  %a.next = add i64 %a, %x
  %b.next = mul i64 %b, %a.next
  %c.next = xor i64 %c, %b.next
  %i.next = add i64 %i, 1
  %done = icmp eq i64 %i.next, %n
  br i1 %done, label %exit, label %loop
exit:
  %r1 = add i64 %a.next, %b.next
  %r = add i64 %r1, %c.next
  ret i64 %r
}
"""


def test_each_code_generation_gets_the_register_allocator_it_asks_for() -> None:
    # -optimize-regalloc is process-wide: compiling with the fast allocator in between
    # must not change what the greedy one (level 0 with regalloc, or level 2) makes.
    greedy0 = CodeLoader(LLVMPipeline("none", 0, optimize_regalloc=True))
    fast0 = CodeLoader(LLVMPipeline("none", 0))
    level2 = CodeLoader(LLVMPipeline("none", 2))
    first = [greedy0.compile_object(PRESSURE_IR), level2.compile_object(PRESSURE_IR)]
    fast = fast0.compile_object(PRESSURE_IR)
    again = [greedy0.compile_object(PRESSURE_IR), level2.compile_object(PRESSURE_IR)]
    assert again == first
    assert fast != first[0]  # the fast allocator did run
    assert fast0.compile_object(PRESSURE_IR) == fast


SUB_IR = """
define i32 @sub(i32 %a, i32 %b) {
  %c = sub i32 %a, %b
  ret i32 %c
}
"""


def test_objects_linked_as_one_library_keep_their_own_symbols_and_ranges(loader):
    add_obj, sub_obj = loader.compile_object(ADD_IR), loader.compile_object(SUB_IR)
    add_code, sub_code = loader.load_objects([add_obj, sub_obj])
    assert set(add_code.addresses) == {"add", "add_triple"}
    assert set(sub_code.addresses) == {"sub"}
    assert add_code.object_size == len(add_obj) and sub_code.object_size == len(sub_obj)
    for code in (add_code, sub_code):
        for address in code.addresses.values():
            assert any(r.start <= address < r.end for r in code.code_ranges)
    sub_range = sub_code.code_ranges[0]
    assert all(r.end <= sub_range.start or r.start >= sub_range.end
               for r in add_code.code_ranges)
    # One released: the library stays, so the other's code still runs.
    add_code.release()
    assert BINOP(sub_code.address("sub"))(50, 8) == 42
    sub_code.release()


def test_objects_sharing_a_library_must_not_define_a_symbol_twice(loader):
    obj = loader.compile_object(ADD_IR)
    with pytest.raises(RuntimeError):
        loader.load_objects([obj, obj])


def test_shared_libraries_are_freed_once_every_object_is_released(loader):
    objs = [loader.compile_object(ADD_IR), loader.compile_object(SUB_IR)]

    def cycle(n: int) -> None:
        for i in range(n):
            add_code, sub_code = loader.load_objects(objs)
            assert BINOP(add_code.address("add"))(i, 1) == i + 1
            sub_code.release()
            add_code.release()

    cycle(300)
    gc.collect()
    before = _rss_kib()
    cycle(600)
    gc.collect()
    assert _rss_kib() - before < 1024
