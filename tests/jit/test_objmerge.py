"""Merging relocatable objects into one (jit/objmerge.py) and linking the result (ORC's
CodeLoader.load_merged and the native loader's): every part keeps its symbols, code
ranges and calls; one object's internal function may share its name with another's
global; what cannot be merged is refused.  And elfsyms' one-pass reading of an
object."""

from __future__ import annotations

import ctypes

import pytest

from pyjitwasm.jit.codeload import CodeLoader
from pyjitwasm.jit.elfsyms import read_code_layout, read_object_symbols
from pyjitwasm.jit.objload import NativeLoader
from pyjitwasm.jit.objmerge import MergeError, merge_objects

BINOP = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int32, ctypes.c_int32)
UNARY = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int32)

# Calls an imported function and an internal one named like SHARED_IR's global.
FIRST_IR = """
declare i32 @host_twice(i32)
define internal i32 @shared(i32 %a) noinline nounwind {
  %c = mul i32 %a, 3
  ret i32 %c
}
define i32 @first(i32 %a, i32 %b) nounwind {
  %s = add i32 %a, %b
  %t = call i32 @shared(i32 %s)
  %u = call i32 @host_twice(i32 %t)
  ret i32 %u
}
"""
SHARED_IR = """
declare i32 @host_twice(i32)
@table = internal constant [4 x i32] [i32 7, i32 11, i32 13, i32 17]
define i32 @shared(i32 %a) nounwind {
  %p = getelementptr [4 x i32], ptr @table, i32 0, i32 %a
  %v = load i32, ptr %p
  %w = call i32 @host_twice(i32 %v)
  ret i32 %w
}
"""
THIRD_IR = """
define i32 @third(i32 %a, i32 %b) nounwind {
  %c = sub i32 %a, %b
  ret i32 %c
}
"""


@pytest.fixture(scope="module")
def loader() -> CodeLoader:
    return CodeLoader()


@pytest.fixture(scope="module", params=["orc", "native"])
def linker(request: pytest.FixtureRequest, loader: CodeLoader) -> CodeLoader | NativeLoader:
    """What links merged objects: ORC (``CodeLoader``) or the JIT's own loader."""
    return loader if request.param == "orc" else NativeLoader()


@UNARY
def _host_twice(value: int) -> int:
    return value * 2


HOST = {"host_twice": ctypes.cast(_host_twice, ctypes.c_void_p).value or 0}


def test_merged_objects_link_as_one_and_keep_their_parts(
        loader: CodeLoader, linker: CodeLoader | NativeLoader) -> None:
    objs = [loader.compile_object(ir) for ir in (FIRST_IR, SHARED_IR, THIRD_IR)]
    merged = merge_objects(objs)
    parts = linker.load_merged(merged, [read_code_layout(obj) for obj in objs], HOST)
    first, shared, third = parts
    assert set(first.addresses) == {"first"}
    assert set(shared.addresses) == {"shared"}
    assert BINOP(first.address("first"))(1, 2) == 18  # (1 + 2) * 3 * 2: its own @shared
    assert UNARY(shared.address("shared"))(2) == 26  # the global one: table[2] * 2
    assert BINOP(third.address("third"))(50, 8) == 42
    for code in parts:
        for address in code.addresses.values():
            assert any(r.start <= address < r.end for r in code.code_ranges)
    first.release()
    shared.release()
    assert BINOP(third.address("third"))(5, 8) == -3  # the library lives on
    third.release()


def test_function_symbols_keep_their_place_in_each_part(
        loader: CodeLoader, linker: CodeLoader | NativeLoader) -> None:
    objs = [loader.compile_object(FIRST_IR), loader.compile_object(THIRD_IR)]
    reads = [read_object_symbols(obj) for obj in objs]
    parts = linker.load_merged(merge_objects(objs), [r.code_layout for r in reads], HOST)
    for read, code in zip(reads, parts, strict=True):
        [section] = read.sections
        assert section.anchor is not None
        start = code.address(section.anchor) - section.anchor_offset
        for sym in read.functions:
            code_bytes = ctypes.string_at(start + sym.offset, sym.size)
            assert len(code_bytes) == sym.size and sym.size > 0
    # The internal @shared of the first part is a local function symbol there.
    assert {s.name for s in reads[0].functions} == {"first", "shared"}
    assert {s.name for s in reads[0].globals} == {"first"}


def test_a_global_defined_twice_is_refused(loader: CodeLoader) -> None:
    obj = loader.compile_object(THIRD_IR)
    with pytest.raises(MergeError):
        merge_objects([obj, obj])


def test_unwind_tables_are_refused(loader: CodeLoader) -> None:
    # The JIT's code is nounwind (no .eh_frame); code with unwind tables is not merged.
    with_unwind = loader.compile_object(THIRD_IR.replace(" nounwind", ""))
    with pytest.raises(MergeError):
        merge_objects([with_unwind, loader.compile_object(FIRST_IR)])


def test_what_is_not_a_relocatable_elf_object_is_refused(loader: CodeLoader) -> None:
    with pytest.raises(MergeError):
        merge_objects([b"not an object"])
    with pytest.raises(MergeError):
        merge_objects([])
    obj = loader.compile_object(THIRD_IR)
    with pytest.raises(MergeError):
        merge_objects([obj[:16] + b"\x03\x00" + obj[18:]])  # ET_DYN, not ET_REL


def test_one_read_gives_the_layout_and_every_function(loader: CodeLoader) -> None:
    obj = loader.compile_object(FIRST_IR)
    read = read_object_symbols(obj)
    assert read.code_layout == read_code_layout(obj)
    by_name = {s.name: s for s in read.functions}
    assert set(by_name) == {"first", "shared"}
    assert all(s.size > 0 and s.section == read.sections[0].name for s in by_name.values())
    with pytest.raises(ValueError):
        read_object_symbols(b"\x7fELF" + b"\0" * 8)
