"""Linking the JIT's objects without LLVM (jit.objload): relocations, sections, release,
and the objects it refuses (which ``compiler.link_objects`` sends through ORC)."""

from __future__ import annotations

import ctypes

import llvmlite.binding as llvm
import pytest

from pyjitwasm.jit import compiler
from pyjitwasm.jit.codeload import CodeLoader, ensure_llvm_initialized
from pyjitwasm.jit.elfsyms import read_code_layout
from pyjitwasm.jit.objload import NativeLoader, UnsupportedObject, parse_object
from pyjitwasm.jit.pipelines import LLVMPipeline

from support.mixed_object import IMPORTS, MIXED, MIXED_IR


@pytest.fixture(scope="module", params=[LLVMPipeline("none", 0), LLVMPipeline("standard", 2)],
                ids=str)
def mixed_object(request) -> bytes:
    return CodeLoader(request.param).compile_object(MIXED_IR)


def _call_all(address: int) -> list[int]:
    buf = ctypes.create_string_buffer(16)
    results = [MIXED(address)(k, buf) for k in range(8)]
    assert buf.raw[:7] == b"\x07" * 7  # the last call set 7 bytes through memset
    return results


def test_native_link_matches_orc(mixed_object):
    expected = [100, 1001, 42, 7, 555, -6, -1, -1]
    native = NativeLoader().load_objects([mixed_object], IMPORTS)[0]
    orc = CodeLoader().load_objects([mixed_object], IMPORTS)[0]
    try:
        assert _call_all(native.address("mixed")) == expected
        assert _call_all(orc.address("mixed")) == expected
        assert set(native.addresses) == set(orc.addresses) == {"mixed"}
        # The code ranges cover the code, and the code alone (same size as ORC's).
        assert any(r.start <= native.address("mixed") < r.end for r in native.code_ranges)
        assert sum(r.end - r.start for r in native.code_ranges) == \
            sum(r.end - r.start for r in orc.code_ranges)
    finally:
        native.release()
        orc.release()


def test_objects_of_one_load_share_a_mapping_freed_with_the_last(mixed_object):
    other = CodeLoader().compile_object(MIXED_IR.replace("@mixed", "@mixed2"))
    first, second = NativeLoader().load_objects([mixed_object, other], IMPORTS)
    assert _call_all(second.address("mixed2"))[3] == 7
    mapping = first._finalizer.peek()[2][0]  # (obj, func, args, kwargs)
    assert mapping.users == 2
    first.release()
    assert first.released and mapping.users == 1
    assert _call_all(second.address("mixed2"))[0] == 100  # still mapped
    second.release()
    assert mapping.users == 0


def test_exports_select_symbols(mixed_object):
    loaded = NativeLoader().load_objects([mixed_object], IMPORTS, exports=[[]])[0]
    assert loaded.addresses == {}
    loaded.release()


def test_unresolvable_symbol_is_refused():
    obj = CodeLoader().compile_object(
        "declare i64 @no_such_symbol_anywhere(i64)\n"
        "define i64 @f(i64 %a) {\n  %r = call i64 @no_such_symbol_anywhere(i64 %a)\n"
        "  ret i64 %r\n}\n")
    with pytest.raises(UnsupportedObject, match="no_such_symbol_anywhere"):
        NativeLoader().load_objects([obj], {})


def test_writable_data_is_refused_and_linked_through_orc():
    obj = CodeLoader().compile_object(
        "@counter = internal global i64 5\n"
        "define i64 @bump() {\n  %v = load i64, ptr @counter\n  %n = add i64 %v, 1\n"
        "  store i64 %n, ptr @counter\n  ret i64 %n\n}\n")
    with pytest.raises(UnsupportedObject, match="writable"):
        parse_object(obj)
    loaded = compiler.link_objects([obj], 1, {}, [read_code_layout(obj)])[0]
    bump = ctypes.CFUNCTYPE(ctypes.c_int64)(loaded.address("bump"))
    assert (bump(), bump()) == (6, 7)
    loaded.release()


def test_other_relocation_types_are_refused():
    ensure_llvm_initialized()
    target = llvm.Target.from_default_triple()
    small = target.create_target_machine(reloc="pic", codemodel="small")
    module = llvm.parse_assembly(
        "declare i64 @ext_add(i64, i64)\n"
        "define i64 @f(i64 %a) {\n  %r = call i64 @ext_add(i64 %a, i64 1)\n"
        "  ret i64 %r\n}\n")
    obj = small.emit_object(module)
    with pytest.raises(UnsupportedObject, match="relocation type"):
        NativeLoader().load_objects([obj], IMPORTS)


def test_not_an_x86_64_elf_is_refused():
    with pytest.raises(UnsupportedObject):
        parse_object(b"\x7fELF" + bytes(60))
    with pytest.raises(UnsupportedObject):
        parse_object(b"MZ" + bytes(100))
