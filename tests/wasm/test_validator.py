"""Validator tests.

Most rules get a valid and an invalid case on hand-built WasmModule objects (no decoder in
the way); then WAT snippets assembled by wasm-tools go through the decoder, and a few spec
testsuite files are checked command by command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyjitwasm.wasm import opcodes as O
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.errors import UnsupportedFeatureError, ValidationError
from pyjitwasm.wasm.module import (
    ConstExpr,
    DataSegment,
    ElemSegment,
    Export,
    FunctionBody,
    Global,
    Import,
    Instr,
    SectionHeader,
    SegmentMode,
    WasmModule,
)
from pyjitwasm.wasm.opcodes import BlockImm, MemArg
from pyjitwasm.wasm.types import (
    EXTERNREF,
    F32,
    F64,
    FUNCREF,
    I32,
    I64,
    V128,
    ExternKind,
    FuncType,
    GlobalType,
    MemoryType,
    TableType,
)
from pyjitwasm.wasm.validator import validate_module

import wast as spec_scripts
from wast import convert, missing_testsuite_message

# --- builders of small modules -------------------------------------------------------

BASE_OFFSET = 0x100


def instrs(ops: list[tuple[int, Any] | int], base: int = BASE_OFFSET) -> list[Instr]:
    """Instructions from ``op`` or ``(op, imm)`` items, at offsets base, base+1, ...

    Block immediates may be given as a plain block-type int; the matching else/end
    positions are filled in as the decoder would.
    """
    out: list[Instr] = []
    open_blocks: list[BlockImm] = []
    for i, item in enumerate(ops):
        op, imm = (item, None) if isinstance(item, int) else item
        if op in (O.BLOCK, O.LOOP, O.IF):
            imm = (
                imm
                if isinstance(imm, BlockImm)
                else BlockImm(O.BLOCKTYPE_EMPTY if imm is None else imm)
            )
            open_blocks.append(imm)
        elif op == O.ELSE and open_blocks:
            open_blocks[-1].else_pc = i
        elif op == O.END and open_blocks:
            open_blocks.pop().end_pc = i
        out.append(Instr(op, imm, base + i))
    return out


def const(ops: list[tuple[int, Any] | int], offset: int = 0x10) -> ConstExpr:
    """A constant expression (without its final end)."""
    return ConstExpr(instrs(ops, offset), offset)


def func_module(
    body: list[tuple[int, Any] | int],
    params: tuple[int, ...] = (),
    results: tuple[int, ...] = (),
    local_types: tuple[int, ...] = (),
    extra_types: tuple[FuncType, ...] = (),
    **fields: Any,
) -> WasmModule:
    """A module whose last defined function has the given body (``end`` is appended).

    Type 0 is the function's type; ``extra_types`` follow it. Other module fields
    (memories, tables, globals, exports, imports, ...) pass through ``fields``; any
    functions already listed in ``fields["funcs"]``/``codes`` come first.
    """
    module = WasmModule(types=[FuncType(params, results), *extra_types], **fields)
    module.funcs.append(0)
    module.codes.append(
        FunctionBody(tuple(local_types), instrs([*body, O.END]), BASE_OFFSET - 2, len(body) + 2)
    )
    return module


def memarg(align: int = 0, offset: int = 0, memory: int = 0) -> MemArg:
    return MemArg(align, offset, memory)


def global_def(valtype: int, mutable: bool, init: list[tuple[int, Any] | int]) -> Global:
    return Global(GlobalType(valtype, mutable), const(init))


def import_global(valtype: int, mutable: bool = False) -> Import:
    return Import("env", f"g{valtype:x}", ExternKind.GLOBAL, GlobalType(valtype, mutable), 0x20)


def export_func(name: str, index: int) -> Export:
    return Export(name, ExternKind.FUNC, index, 0x30)


MEM32 = [MemoryType(1, None)]
MEM64 = [MemoryType(1, None, is_64=True)]


def invalid(module, message: str) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        validate_module(module)
    assert message in info.value.message
    return info.value


# --- operand stack ------------------------------------------------------------------------


def test_simple_arithmetic_is_valid():
    body = [(O.LOCAL_GET, 0), (O.LOCAL_GET, 1), O.I32_ADD]
    validate_module(func_module(body, params=(I32, I32), results=(I32,)))


def test_operand_type_mismatch_reports_instruction_offset_and_function():
    body = [(O.I64_CONST, 1), (O.I32_CONST, 2), O.I32_ADD]
    err = invalid(func_module(body, results=(I32,)), "type mismatch")
    assert err.offset == BASE_OFFSET + 2
    assert err.func_index == 0


def test_function_index_counts_imported_functions():
    imp = Import("env", "f", ExternKind.FUNC, 0, 0x20)
    err = invalid(func_module([O.I32_ADD], imports=[imp]), "type mismatch")
    assert err.func_index == 1


def test_stack_underflow_and_leftover_values_are_mismatches():
    invalid(func_module([O.DROP]), "type mismatch")
    invalid(func_module([(O.I32_CONST, 1)]), "type mismatch")
    invalid(func_module([], results=(I32,)), "type mismatch")


def test_unreachable_makes_stack_polymorphic():
    validate_module(func_module([O.UNREACHABLE, O.I32_ADD], results=(I32,)))
    validate_module(func_module([O.UNREACHABLE, O.DROP, O.DROP], results=(F64, I64)))
    # Known operands above the polymorphic base still have to match.
    invalid(func_module([O.UNREACHABLE, (O.I64_CONST, 0), O.I32_ADD, O.DROP]), "type mismatch")
    # The polymorphism ends with the block: values pushed inside do not leak out.
    body = [(O.BLOCK, None), O.UNREACHABLE, O.END, O.DROP]
    invalid(func_module(body), "type mismatch")


def test_br_and_return_make_the_rest_unreachable():
    validate_module(func_module([(O.I32_CONST, 1), O.RETURN, O.I32_ADD], results=(I32,)))
    body = [(O.BLOCK, -1), (O.I32_CONST, 1), (O.BR, 0), O.F32_ADD, O.END]
    invalid(func_module(body, results=(I32,)), "type mismatch")  # f32 result meets i32 block
    body = [(O.BLOCK, -1), (O.I32_CONST, 1), (O.BR, 0), O.I32_ADD, O.END]
    validate_module(func_module(body, results=(I32,)))


def test_select_untyped_only_on_numeric_and_vector_types():
    body = [(O.I32_CONST, 1), (O.I32_CONST, 2), (O.I32_CONST, 0), O.SELECT]
    validate_module(func_module(body, results=(I32,)))
    body = [(O.REF_NULL, FUNCREF), (O.REF_NULL, FUNCREF), (O.I32_CONST, 0), O.SELECT]
    invalid(func_module(body, results=(FUNCREF,)), "type mismatch")
    body = [(O.I32_CONST, 1), (O.I64_CONST, 2), (O.I32_CONST, 0), O.SELECT, O.DROP]
    invalid(func_module(body), "type mismatch")
    # Unknown operands take the type of the known one.
    body = [O.UNREACHABLE, (O.I64_CONST, 2), (O.I32_CONST, 0), O.SELECT]
    validate_module(func_module(body, results=(I64,)))
    invalid(func_module(body, results=(I32,)), "type mismatch")


def test_typed_select():
    body = [
        (O.REF_NULL, FUNCREF),
        (O.REF_NULL, FUNCREF),
        (O.I32_CONST, 0),
        (O.SELECT_T, (FUNCREF,)),
    ]
    validate_module(func_module(body, results=(FUNCREF,)))
    body[1] = (O.REF_NULL, EXTERNREF)
    invalid(func_module(body, results=(FUNCREF,)), "type mismatch")
    body = [(O.I32_CONST, 1), (O.I32_CONST, 1), (O.I32_CONST, 0), (O.SELECT_T, (I32, I32))]
    invalid(func_module(body, results=(I32,)), "invalid result arity")


def test_locals_and_globals():
    validate_module(
        func_module([(O.LOCAL_GET, 1)], params=(I32,), local_types=(F32,), results=(F32,))
    )
    invalid(
        func_module([(O.LOCAL_GET, 2), O.DROP], params=(I32,), local_types=(F32,)), "unknown local"
    )
    invalid(func_module([(O.F32_CONST, 0), (O.LOCAL_SET, 0)], params=(I32,)), "type mismatch")
    body = [(O.I32_CONST, 0), (O.LOCAL_TEE, 0)]
    validate_module(func_module(body, params=(I32,), results=(I32,)))
    globs = [global_def(I32, False, [(O.I32_CONST, 0)]), global_def(I64, True, [(O.I64_CONST, 0)])]
    validate_module(func_module([(O.I64_CONST, 1), (O.GLOBAL_SET, 1)], globals=globs))
    invalid(func_module([(O.I32_CONST, 1), (O.GLOBAL_SET, 0)], globals=globs), "immutable global")
    invalid(func_module([(O.GLOBAL_GET, 2), O.DROP], globals=globs), "unknown global")


# --- blocks and branches -------------------------------------------------------------------


def test_multi_value_block_with_params():
    pair = FuncType((I32, I32), (I64,))
    body = [(O.I32_CONST, 1), (O.I32_CONST, 2), (O.BLOCK, 1), O.I32_ADD, O.I64_EXTEND_I32_S, O.END]
    validate_module(func_module(body, results=(I64,), extra_types=(pair,)))
    body = [(O.I32_CONST, 1), (O.BLOCK, 1), O.I32_ADD, O.I64_EXTEND_I32_S, O.END]
    invalid(func_module(body, results=(I64,), extra_types=(pair,)), "type mismatch")
    invalid(func_module([(O.BLOCK, 5), O.END]), "unknown type")


def test_loop_label_takes_params():
    loop_type = FuncType((I32,), ())
    body = [(O.I32_CONST, 1), (O.LOOP, 1), (O.BR_IF, 0), O.END]
    # br_if 0 pops the condition, then the loop label wants one more i32: only one present.
    invalid(func_module(body, extra_types=(loop_type,)), "type mismatch")
    body = [(O.I32_CONST, 1), (O.LOOP, 1), (O.I32_CONST, 0), (O.BR, 0), O.END]
    validate_module(func_module(body, extra_types=(loop_type,)))


def test_if_without_else_must_pass_params_through():
    same = FuncType((I32,), (I32,))
    body = [(O.I32_CONST, 5), (O.I32_CONST, 1), (O.IF, 1), O.NOP, O.END]
    validate_module(func_module(body, results=(I32,), extra_types=(same,)))
    body = [(O.I32_CONST, 1), (O.IF, -1), (O.I32_CONST, 1), O.END, O.DROP]
    invalid(func_module(body), "type mismatch")
    body = [(O.I32_CONST, 1), (O.IF, -1), (O.I32_CONST, 1), O.ELSE, (O.I32_CONST, 2), O.END, O.DROP]
    validate_module(func_module(body))
    body = [(O.I32_CONST, 1), (O.IF, -1), (O.I32_CONST, 1), O.ELSE, (O.I64_CONST, 2), O.END, O.DROP]
    invalid(func_module(body), "type mismatch")


def test_br_if_and_unknown_labels():
    body = [(O.BLOCK, -1), (O.I32_CONST, 1), (O.I32_CONST, 0), (O.BR_IF, 0), O.END]
    validate_module(func_module(body, results=(I32,)))
    invalid(func_module([(O.BLOCK, None), (O.BR, 2), O.END]), "unknown label")
    invalid(func_module([(O.I32_CONST, 0), (O.BR_IF, 1)]), "unknown label")


def test_br_table_arity_and_types():
    def table_body(outer: int, inner: int, labels):
        return [
            (O.BLOCK, outer),
            (O.BLOCK, inner),
            O.UNREACHABLE,
            (O.BR_TABLE, labels),
            O.END,
            O.DROP,
            O.UNREACHABLE,
            O.END,
        ]

    # Same arity, different types, polymorphic operands: valid.
    validate_module(func_module(table_body(-1, -3, ((0,), 1)), results=(I32,)))
    # Different arities: invalid even when unreachable.
    invalid(
        func_module(table_body(-1, O.BLOCKTYPE_EMPTY, ((0,), 1)), results=(I32,)), "type mismatch"
    )
    body = [(O.BLOCK, -1), (O.F32_CONST, 0), (O.I32_CONST, 0), (O.BR_TABLE, ((0,), 0)), O.END]
    invalid(func_module(body, results=(I32,)), "type mismatch")
    invalid(func_module([(O.I32_CONST, 0), (O.BR_TABLE, ((3,), 0))]), "unknown label")


def test_return_checks_function_results():
    validate_module(func_module([(O.I32_CONST, 1), O.RETURN], results=(I32,)))
    invalid(func_module([(O.I64_CONST, 1), O.RETURN], results=(I32,)), "type mismatch")


# --- calls -------------------------------------------------------------------------------


def test_call_and_call_indirect():
    callee = FuncType((I32,), (F64,))
    imp = Import("env", "f", ExternKind.FUNC, 1, 0x20)
    body = [(O.I32_CONST, 1), (O.CALL, 0)]
    validate_module(func_module(body, results=(F64,), extra_types=(callee,), imports=[imp]))
    invalid(func_module([(O.CALL, 7)], extra_types=(callee,)), "unknown function")
    tables = [TableType(FUNCREF, 1, None)]
    body = [(O.I32_CONST, 1), (O.I32_CONST, 0), (O.CALL_INDIRECT, (1, 0))]
    validate_module(func_module(body, results=(F64,), extra_types=(callee,), tables=tables))
    invalid(func_module(body, results=(F64,), extra_types=(callee,)), "unknown table")
    ext = [TableType(EXTERNREF, 1, None)]
    invalid(func_module(body, results=(F64,), extra_types=(callee,), tables=ext), "type mismatch")
    body64 = [(O.I32_CONST, 1), (O.I64_CONST, 0), (O.CALL_INDIRECT, (1, 0))]
    tables64 = [TableType(FUNCREF, 1, None, is_64=True)]
    validate_module(func_module(body64, results=(F64,), extra_types=(callee,), tables=tables64))
    invalid(func_module(body, results=(F64,), extra_types=(callee,), tables=tables64), "mismatch")


def test_tail_calls_require_matching_results():
    same = FuncType((), (I32,))
    other = FuncType((), (I64,))
    imps = [Import("env", "a", ExternKind.FUNC, 1, 0), Import("env", "b", ExternKind.FUNC, 2, 0)]
    validate_module(
        func_module([(O.RETURN_CALL, 0)], results=(I32,), extra_types=(same, other), imports=imps)
    )
    invalid(
        func_module([(O.RETURN_CALL, 1)], results=(I32,), extra_types=(same, other), imports=imps),
        "type mismatch",
    )
    tables = [TableType(FUNCREF, 1, None)]
    body = [(O.I32_CONST, 0), (O.RETURN_CALL_INDIRECT, (2, 0))]
    invalid(func_module(body, results=(I32,), extra_types=(same, other), tables=tables), "mismatch")
    body = [(O.I32_CONST, 0), (O.RETURN_CALL_INDIRECT, (1, 0)), O.I32_ADD]
    validate_module(func_module(body, results=(I32,), extra_types=(same, other), tables=tables))


# --- memories ------------------------------------------------------------------------------


def test_memory_access_needs_a_memory_and_natural_alignment():
    load = [(O.I32_CONST, 0), (O.I32_LOAD, memarg(2)), O.DROP]
    validate_module(func_module(load, memories=MEM32))
    invalid(func_module(load), "unknown memory")
    invalid(
        func_module([(O.I32_CONST, 0), (O.I32_LOAD, memarg(3)), O.DROP], memories=MEM32),
        "alignment",
    )
    invalid(
        func_module([(O.I32_CONST, 0), (O.I32_LOAD8_U, memarg(1)), O.DROP], memories=MEM32),
        "natural",
    )
    big = [(O.I32_CONST, 0), (O.I32_LOAD, memarg(0, 1 << 32)), O.DROP]
    invalid(func_module(big, memories=MEM32), "offset out of range")
    big64 = [(O.I64_CONST, 0), (O.I32_LOAD, memarg(0, 1 << 40)), O.DROP]
    validate_module(func_module(big64, memories=MEM64))


def test_memory64_address_types():
    store = [(O.I64_CONST, 0), (O.F64_CONST, 0), (O.F64_STORE, memarg(3))]
    validate_module(func_module(store, memories=MEM64))
    invalid(func_module(store, memories=MEM32), "type mismatch")
    grow = [(O.I64_CONST, 1), (O.MEMORY_GROW, 0)]
    validate_module(func_module(grow, results=(I64,), memories=MEM64))
    invalid(func_module(grow, results=(I32,), memories=MEM64), "type mismatch")
    validate_module(func_module([(O.MEMORY_SIZE, 0)], results=(I32,), memories=MEM32))
    fill = [(O.I64_CONST, 0), (O.I32_CONST, 0), (O.I64_CONST, 0), (O.MEMORY_FILL, 0)]
    validate_module(func_module(fill, memories=MEM64))


def test_multi_memory_copy_uses_smaller_index_type_for_length():
    mems = MEM32 + MEM64
    # dst is the 64-bit memory, src the 32-bit one, the length is i32.
    body = [(O.I64_CONST, 0), (O.I32_CONST, 0), (O.I32_CONST, 0), (O.MEMORY_COPY, (1, 0))]
    validate_module(func_module(body, memories=mems))
    body = [(O.I64_CONST, 0), (O.I32_CONST, 0), (O.I64_CONST, 0), (O.MEMORY_COPY, (1, 0))]
    invalid(func_module(body, memories=mems), "type mismatch")
    load = [(O.I64_CONST, 0), (O.I32_LOAD, memarg(0, 0, 1)), O.DROP]
    validate_module(func_module(load, memories=mems))
    load = [(O.I64_CONST, 0), (O.I32_LOAD, memarg(0, 0, 2)), O.DROP]
    invalid(func_module(load, memories=mems), "unknown memory")


def test_bulk_memory_data_segments():
    datas = [DataSegment(SegmentMode.PASSIVE, b"ab")]
    init = [(O.I32_CONST, 0), (O.I32_CONST, 0), (O.I32_CONST, 0), (O.MEMORY_INIT, (0, 0))]
    validate_module(func_module(init, memories=MEM32, datas=datas, data_count=1))
    invalid(func_module(init, memories=MEM32, datas=datas), "data count section required")
    invalid(func_module([(O.DATA_DROP, 1)], datas=datas, data_count=1), "unknown data segment")
    init64 = [(O.I64_CONST, 0), (O.I32_CONST, 0), (O.I32_CONST, 0), (O.MEMORY_INIT, (0, 0))]
    validate_module(func_module(init64, memories=MEM64, datas=datas, data_count=1))


# --- SIMD --------------------------------------------------------------------------------


def test_simd_lanes():
    extract = [(O.V128_CONST, 0), (O.I16X8_EXTRACT_LANE_S, 7)]
    validate_module(func_module(extract, results=(I32,)))
    extract[1] = (O.I16X8_EXTRACT_LANE_S, 8)
    invalid(func_module(extract, results=(I32,)), "invalid lane index")
    replace = [(O.V128_CONST, 0), (O.I64_CONST, 0), (O.I64X2_REPLACE_LANE, 2)]
    invalid(func_module(replace, results=(V128,)), "invalid lane index")
    shuffle = [(O.V128_CONST, 0), (O.V128_CONST, 0), (O.I8X16_SHUFFLE, bytes(range(16)))]
    validate_module(func_module(shuffle, results=(V128,)))
    shuffle[2] = (O.I8X16_SHUFFLE, bytes([32] + [0] * 15))
    invalid(func_module(shuffle, results=(V128,)), "invalid lane index")


def test_simd_memory_lanes_and_alignment():
    body = [(O.I32_CONST, 0), (O.V128_CONST, 0), (O.V128_LOAD32_LANE, (memarg(2), 3))]
    validate_module(func_module(body, results=(V128,), memories=MEM32))
    body[2] = (O.V128_LOAD32_LANE, (memarg(2), 4))
    invalid(func_module(body, results=(V128,), memories=MEM32), "invalid lane index")
    body[2] = (O.V128_LOAD32_LANE, (memarg(3), 0))
    invalid(func_module(body, results=(V128,), memories=MEM32), "alignment")
    store = [(O.I32_CONST, 0), (O.V128_CONST, 0), (O.V128_STORE8_LANE, (memarg(0), 15))]
    validate_module(func_module(store, memories=MEM32))
    load = [(O.I32_CONST, 0), (O.V128_LOAD, memarg(4))]
    validate_module(func_module(load, results=(V128,), memories=MEM32))
    load[1] = (O.V128_LOAD, memarg(5))
    invalid(func_module(load, results=(V128,), memories=MEM32), "alignment")


# --- tables and references -------------------------------------------------------------


def test_table_instructions():
    tables = [TableType(FUNCREF, 1, None), TableType(EXTERNREF, 1, None, is_64=True)]
    body = [(O.I64_CONST, 0), (O.TABLE_GET, 1)]
    validate_module(func_module(body, results=(EXTERNREF,), tables=tables))
    invalid(func_module(body, results=(FUNCREF,), tables=tables), "type mismatch")
    grow = [(O.REF_NULL, EXTERNREF), (O.I64_CONST, 1), (O.TABLE_GROW, 1)]
    validate_module(func_module(grow, results=(I64,), tables=tables))
    fill = [(O.I32_CONST, 0), (O.REF_NULL, FUNCREF), (O.I32_CONST, 1), (O.TABLE_FILL, 0)]
    validate_module(func_module(fill, tables=tables))
    invalid(func_module([(O.TABLE_SIZE, 2), O.DROP], tables=tables), "unknown table")
    copy = [(O.I32_CONST, 0), (O.I64_CONST, 0), (O.I32_CONST, 0), (O.TABLE_COPY, (0, 1))]
    invalid(func_module(copy, tables=tables), "type mismatch")  # funcref <- externref
    tables2 = [TableType(FUNCREF, 1, None), TableType(FUNCREF, 1, None, is_64=True)]
    validate_module(func_module(copy, tables=tables2))


def test_table_init_and_elem_drop():
    tables = [TableType(FUNCREF, 1, None)]
    elems = [ElemSegment(SegmentMode.PASSIVE, EXTERNREF, [])]
    init = [(O.I32_CONST, 0), (O.I32_CONST, 0), (O.I32_CONST, 0), (O.TABLE_INIT, (0, 0))]
    invalid(func_module(init, tables=tables, elems=elems), "type mismatch")
    elems = [ElemSegment(SegmentMode.PASSIVE, FUNCREF, [])]
    validate_module(func_module(init, tables=tables, elems=elems))
    invalid(func_module([(O.ELEM_DROP, 1)], elems=elems), "unknown elem segment")


def test_ref_func_needs_a_declaration():
    body = [(O.REF_FUNC, 0)]
    invalid(func_module(body, results=(FUNCREF,)), "undeclared function reference")
    validate_module(func_module(body, results=(FUNCREF,), exports=[export_func("f", 0)]))
    decl = [ElemSegment(SegmentMode.DECLARATIVE, FUNCREF, [const([(O.REF_FUNC, 0)])])]
    validate_module(func_module(body, results=(FUNCREF,), elems=decl))
    glob = [global_def(FUNCREF, False, [(O.REF_FUNC, 0)])]
    validate_module(func_module(body, results=(FUNCREF,), globals=glob))
    invalid(func_module([(O.REF_FUNC, 3)], results=(FUNCREF,)), "unknown function")


def test_ref_is_null_needs_a_reference():
    validate_module(func_module([(O.REF_NULL, EXTERNREF), O.REF_IS_NULL], results=(I32,)))
    invalid(func_module([(O.I32_CONST, 0), O.REF_IS_NULL], results=(I32,)), "type mismatch")
    validate_module(func_module([O.UNREACHABLE, O.REF_IS_NULL], results=(I32,)))


# --- constant expressions and module-level checks --------------------------------------------


def test_global_initializers():
    ok = [global_def(I32, False, [(O.I32_CONST, 1)]), global_def(I32, False, [(O.GLOBAL_GET, 0)])]
    validate_module(func_module([], globals=ok))
    forward = [
        global_def(I32, False, [(O.GLOBAL_GET, 1)]),
        global_def(I32, False, [(O.I32_CONST, 1)]),
    ]
    invalid(func_module([], globals=forward), "unknown global")
    mutable = [import_global(I32, mutable=True)]
    bad = [global_def(I32, False, [(O.GLOBAL_GET, 0)])]
    invalid(func_module([], imports=mutable, globals=bad), "constant expression required")
    bad = [global_def(I32, False, [(O.I32_CONST, 1), O.I32_EQZ])]
    invalid(func_module([], globals=bad), "constant expression required")
    bad = [global_def(I64, False, [(O.I32_CONST, 1)])]
    invalid(func_module([], globals=bad), "type mismatch")
    bad = [global_def(I32, False, [(O.I32_CONST, 1), (O.I32_CONST, 1)])]
    invalid(func_module([], globals=bad), "type mismatch")
    bad = [global_def(I32, False, [])]
    invalid(func_module([], globals=bad), "type mismatch")


def test_extended_constant_expressions():
    ext = [(O.GLOBAL_GET, 0), (O.I64_CONST, 2), O.I64_MUL, (O.I64_CONST, 1), O.I64_SUB]
    validate_module(
        func_module([], imports=[import_global(I64)], globals=[global_def(I64, False, ext)])
    )
    mixed = [(O.I64_CONST, 2), (O.I32_CONST, 1), O.I64_ADD]
    invalid(func_module([], globals=[global_def(I64, False, mixed)]), "type mismatch")


def test_segment_offsets_and_types():
    tables = [TableType(FUNCREF, 1, None)]
    items = [const([(O.REF_FUNC, 0)])]
    seg = ElemSegment(SegmentMode.ACTIVE, FUNCREF, items, 0, const([(O.I32_CONST, 0)]), 0x40)
    validate_module(func_module([], tables=tables, elems=[seg]))
    seg64 = ElemSegment(SegmentMode.ACTIVE, FUNCREF, items, 0, const([(O.I64_CONST, 0)]), 0x40)
    invalid(func_module([], tables=tables, elems=[seg64]), "type mismatch")
    tables64 = [TableType(FUNCREF, 1, None, is_64=True)]
    validate_module(func_module([], tables=tables64, elems=[seg64]))
    ext = ElemSegment(SegmentMode.ACTIVE, EXTERNREF, [], 0, const([(O.I32_CONST, 0)]), 0x40)
    err = invalid(func_module([], tables=tables, elems=[ext]), "type mismatch")
    assert err.offset == 0x40
    invalid(func_module([], elems=[seg]), "unknown table")
    # Segments may read any immutable global, including later-defined ones.
    late = ElemSegment(SegmentMode.ACTIVE, FUNCREF, items, 0, const([(O.GLOBAL_GET, 0)]), 0x40)
    validate_module(
        func_module(
            [], tables=tables, elems=[late], globals=[global_def(I32, False, [(O.I32_CONST, 0)])]
        )
    )
    data = DataSegment(SegmentMode.ACTIVE, b"x", 0, const([(O.I32_CONST, 0)]), 0x50)
    validate_module(func_module([], memories=MEM32, datas=[data]))
    invalid(func_module([], memories=MEM64, datas=[data]), "type mismatch")
    invalid(func_module([], datas=[data]), "unknown memory")
    bad_item = ElemSegment(SegmentMode.PASSIVE, FUNCREF, [const([(O.REF_NULL, EXTERNREF)])])
    invalid(func_module([], elems=[bad_item]), "type mismatch")


def test_limits():
    invalid(
        func_module([], memories=[MemoryType(2, 1)]),
        "size minimum must not be greater than maximum",
    )
    invalid(
        func_module([], memories=[MemoryType(65537, None)]),
        "memory size must be at most 65536 pages",
    )
    validate_module(func_module([], memories=[MemoryType(65536, 65536)]))
    validate_module(func_module([], memories=[MemoryType(1 << 48, None, is_64=True)]))
    invalid(func_module([], memories=[MemoryType(0, (1 << 48) + 1, is_64=True)]), "memory size")
    invalid(func_module([], tables=[TableType(FUNCREF, 1, 0)]), "size minimum")
    invalid(func_module([], tables=[TableType(FUNCREF, 1 << 32, None)]), "table size")
    validate_module(func_module([], tables=[TableType(FUNCREF, 1 << 32, None, is_64=True)]))
    mem_import = Import("env", "m", ExternKind.MEMORY, MemoryType(3, 2), 0x24)
    err = invalid(func_module([], imports=[mem_import]), "size minimum")
    assert err.offset == 0x24


def test_start_exports_and_imports():
    validate_module(func_module([], start=0))
    invalid(func_module([], start=1), "unknown function")
    invalid(func_module([], params=(I32,), start=0), "start function")
    exports = [export_func("a", 0), export_func("a", 0)]
    invalid(func_module([], exports=exports), "duplicate export name")
    invalid(func_module([], exports=[Export("m", ExternKind.MEMORY, 0, 0)]), "unknown memory")
    invalid(func_module([], exports=[Export("g", ExternKind.GLOBAL, 0, 0)]), "unknown global")
    bad_import = Import("env", "f", ExternKind.FUNC, 9, 0x28)
    err = invalid(func_module([], imports=[bad_import]), "unknown type")
    assert err.offset == 0x28


# --- through WAT text and the decoder ----------------------------------------------------

WASM_TOOLS = Path(sys.executable).with_name("wasm-tools")
TESTSUITE = spec_scripts.testsuite_dir()


def wat(text: str) -> WasmModule:
    """Assemble WAT with wasm-tools (which does not validate) and decode it."""
    done = subprocess.run(
        [str(WASM_TOOLS), "parse", "-", "-o", "/dev/stdout"],
        input=text.encode(),
        capture_output=True,
        check=True,
    )
    return decode_module(done.stdout)


VALID_WAT = {
    "multi-value if with params": """(module (func (param i32 i32) (result i32)
        local.get 0 local.get 1
        if (param i32) (result i32) i32.const 1 i32.add else i32.const 2 i32.mul end))""",
    "br_table meets bottom": """(module (func
        (block (result f64) (block (result f32) unreachable (br_table 0 1 1 (i32.const 1)))
          drop (f64.const 0)) drop))""",
    "memory64 and multi-memory": """(module (memory $a 1) (memory $b i64 1)
        (func (param i64) (result i64)
          (memory.copy $b $a (local.get 0) (i32.const 0) (i32.const 8))
          (i64.load $b offset=0x100000000 (local.get 0))))""",
    "table64": """(module (table $t i64 2 funcref) (elem declare func $f)
        (func $f (result i64)
          (table.set $t (i64.const 0) (ref.func $f))
          (drop (table.grow $t (ref.null func) (i64.const 1)))
          (call_indirect $t (result i64) (i64.const 0))))""",
    "extended const and earlier globals": """(module
        (global $a i64 (i64.const 7))
        (global $b i64 (i64.add (global.get $a) (i64.mul (i64.const 2) (i64.const 3))))
        (memory 1) (data (i32.sub (i32.const 10) (i32.const 2)) "x"))""",
    "tail calls": """(module (type $t (func (param i32) (result i32))) (table 1 funcref)
        (func $f (param i32) (result i32) (return_call $f (local.get 0)))
        (func (param i32) (result i32)
          (return_call_indirect (type $t) (local.get 0) (i32.const 0))))""",
    "simd lanes": """(module (memory 1) (func (result i32)
        (v128.store16_lane align=2 7 (i32.const 0) (v128.const i64x2 0 0))
        (i8x16.extract_lane_u 15 (v128.load8_lane 15 (i32.const 0) (v128.const i64x2 1 2)))))""",
    "typed select of refs": """(module (func (result externref)
        (select (result externref) (ref.null extern) (ref.null extern) (i32.const 1))))""",
}

INVALID_WAT = {
    "undeclared ref.func": (
        "(module (func $f (result funcref) ref.func $f))",
        "undeclared function reference",
    ),
    "mutable global in initializer": (
        '(module (global (import "m" "g") (mut i32)) (global i32 (global.get 0)))',
        "constant expression required",
    ),
    "over-aligned load": (
        "(module (memory 1) (func (drop (i64.load align=16 (i32.const 0)))))",
        "alignment must not be larger than natural",
    ),
    "if without else changes types": (
        "(module (func (param i32) (result i64)"
        " (local.get 0) (if (result i64) (then (i64.const 1)))))",
        "type mismatch",
    ),
    "untyped select of references": (
        "(module (func (drop (select (ref.null extern) (ref.null extern) (i32.const 1)))))",
        "type mismatch",
    ),
    "br_table arity mismatch": (
        "(module (func (block (result i32) (block (br_table 0 1 (i32.const 1) (i32.const 0))))))",
        "type mismatch",
    ),
    "return_call result mismatch": (
        "(module (func $g (result i64) (i64.const 0)) (func (result i32) (return_call $g)))",
        "type mismatch",
    ),
    "table.copy between element types": (
        "(module (table $f 1 funcref) (table $e 1 externref)"
        " (func (table.copy $f $e (i32.const 0) (i32.const 0) (i32.const 0))))",
        "type mismatch",
    ),
    "i32 address into a 64-bit memory": (
        "(module (memory i64 1) (func (drop (i32.load (i32.const 0)))))",
        "type mismatch",
    ),
    "duplicate export": (
        '(module (func) (export "a" (func 0)) (export "a" (func 0)))',
        "duplicate export name",
    ),
    "elem type vs table": (
        "(module (table 1 externref) (elem (i32.const 0) funcref (ref.null func)))",
        "type mismatch",
    ),
}


@pytest.mark.parametrize("name", sorted(VALID_WAT))
def test_valid_wat(name: str):
    validate_module(wat(VALID_WAT[name]))


@pytest.mark.parametrize("name", sorted(INVALID_WAT))
def test_invalid_wat(name: str):
    text, message = INVALID_WAT[name]
    invalid(wat(text), message)


# Spec files in which every binary module must validate and every assert_invalid fail
# validation (modules needing unsupported proposals aside).
SPEC_FILES = ["unreached-invalid", "select", "memory_copy64", "table_copy_mixed", "simd_lane"]
UNSUPPORTED_OK = {"typed function references", "garbage collection", "exception handling"}


@pytest.mark.parametrize("name", SPEC_FILES)
def test_spec_file(name: str):
    if TESTSUITE is None:
        pytest.skip(missing_testsuite_message())
    commands, wasm_dir = convert(TESTSUITE / f"{name}.wast")
    checked = 0
    for cmd in commands:
        expect_invalid = cmd["type"] == "assert_invalid"
        if not (expect_invalid or cmd["type"] == "module") or cmd.get("module_type") != "binary":
            continue
        try:
            module = decode_module((wasm_dir / cmd["filename"]).read_bytes())
        except UnsupportedFeatureError as exc:
            assert exc.proposal in UNSUPPORTED_OK, (cmd["line"], str(exc))
            continue
        where = f"{name}.wast:{cmd['line']}"
        if expect_invalid:
            with pytest.raises(ValidationError) as info:
                validate_module(module)
            assert cmd["text"] in info.value.message, where
        else:
            validate_module(module)
        checked += 1
    assert checked >= 4  # the file really exercised the validator


def test_module_level_errors_point_at_their_section():
    # The decoder records section headers; defined memories have no offset of their own.
    sections = [SectionHeader(1, 0x0A, 4), SectionHeader(5, 0x1A, 3)]
    module = WasmModule(memories=[MemoryType(2, 1)], sections=sections)
    err = invalid(module, "size minimum must not be greater than maximum")
    assert err.offset == 0x1A
    assert err.func_index is None


def test_body_errors_point_at_the_instruction():
    module = wat("(module (func (result i32) nop nop (i64.const 1)))")
    err = invalid(module, "type mismatch")
    body = module.codes[0]
    assert err.offset == body.instrs[-1].offset  # the end that finds an i64 for an i32
    assert err.func_index == 0
