"""Tests of the binary decoder: module structure from WAT, malformed bytes, proposals."""

from __future__ import annotations

import pytest

from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.decoder import MAX_LOCALS, decode_module
from pyjitwasm.wasm.errors import DecodeError, UnsupportedFeatureError
from pyjitwasm.wasm.module import SegmentMode
from pyjitwasm.wasm.opcodes import BlockImm, MemArg
from pyjitwasm.wasm.reader import Reader, read_s32, read_s33, read_s64, read_u32, read_u64
from pyjitwasm.wasm.types import EXTERNREF, F32, FUNCREF, I32, I64, ExternKind, MemoryType

from support.decoder_wat import HEADER, module_with_body, needs_wasm_tools, section, uleb, vec, wat


def ops_of(instrs):
    return [i.op for i in instrs]


# Reader --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "raw", "value"),
    [
        (read_u32, b"\x00", 0),
        (read_u32, b"\xe5\x8e\x26", 624485),
        (read_u32, b"\x82\x80\x80\x80\x00", 2),
        (read_u32, b"\xff\xff\xff\xff\x0f", 0xFFFFFFFF),
        (read_s32, b"\x7f", -1),
        (read_s32, b"\x80\x80\x80\x80\x78", -(1 << 31)),
        (read_s32, b"\xff\xff\xff\xff\x07", (1 << 31) - 1),
        (read_s33, b"\x40", -64),
        (read_s33, b"\xff\xff\xff\xff\x0f", 0xFFFFFFFF),
        (read_u64, b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", (1 << 64) - 1),
        (read_s64, b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x7f", -(1 << 63)),
        (read_s64, b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\x00", (1 << 63) - 1),
    ],
)
def test_leb128_values(reader, raw, value):
    assert reader(raw + b"\xaa", 0, len(raw) + 1) == (value, len(raw))


@pytest.mark.parametrize(
    ("reader", "raw", "message"),
    [
        (read_u32, b"\x80\x80\x80\x80\x80\x00", "integer representation too long"),
        (read_u32, b"\x80\x80\x80\x80\x10", "integer too large"),
        (read_s32, b"\x80\x80\x80\x80\x70", "integer too large"),
        (read_s32, b"\xff\xff\xff\xff\x0f", "integer too large"),
        (read_s33, b"\x80\x80\x80\x80\x20", "integer too large"),
        (read_u64, b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x02", "integer too large"),
        (read_s64, b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", "integer too large"),
        (read_s64, b"\x80" * 10 + b"\x00", "integer representation too long"),
        (read_u32, b"\x80\x80", "unexpected end of section or function"),
    ],
)
def test_leb128_malformed(reader, raw, message):
    with pytest.raises(DecodeError) as info:
        reader(raw, 0, len(raw))
    assert info.value.message == message


def test_reader_name_rejects_bad_utf8_with_offset():
    r = Reader(b"\x03ab\xff")
    with pytest.raises(DecodeError) as info:
        r.name()
    assert info.value.message == "malformed UTF-8 encoding"
    assert info.value.offset == 3


def test_reader_float_bits_and_bounds():
    r = Reader(b"\x00\x00\xc0\x7f" + b"\x01" * 8 + b"\x02")
    assert r.f32_bits() == 0x7FC00000
    assert r.f64_bits() == 0x0101010101010101
    with pytest.raises(DecodeError, match="unexpected end"):
        r.bytes(2)


# Structure from WAT -----------------------------------------------------------------


@needs_wasm_tools
def test_imports_exports_types_and_globals():
    m = decode_module(
        wat(
            """
            (module $demo
              (import "env" "f" (func $f (param i32 i64) (result f32)))
              (import "env" "t" (table 1 2 externref))
              (import "env" "m" (memory 1))
              (import "env" "g" (global (mut i64)))
              (import "env" "h" (global i32))
              (global $x i32 (i32.add (global.get 1) (i32.const 7)))
              (global $y i64 (i64.const -1))
              (func $main (export "main") (result i32) (i32.const 0))
              (export "x" (global $x))
              (export "mem" (memory 0))
              (start 1))
            """
        )
    )
    assert [(i.module, i.name, i.kind) for i in m.imports] == [
        ("env", "f", ExternKind.FUNC),
        ("env", "t", ExternKind.TABLE),
        ("env", "m", ExternKind.MEMORY),
        ("env", "g", ExternKind.GLOBAL),
        ("env", "h", ExternKind.GLOBAL),
    ]
    func_type = m.types[m.imports[0].desc]
    assert func_type.params == (I32, I64) and func_type.results == (F32,)
    table = m.imports[1].desc
    assert (table.elem_type, table.minimum, table.maximum) == (EXTERNREF, 1, 2)
    assert m.imports[3].desc.mutable and m.imports[3].desc.valtype == I64
    assert [(e.name, e.kind, e.index) for e in m.exports] == [
        ("main", ExternKind.FUNC, 1),
        ("x", ExternKind.GLOBAL, 2),
        ("mem", ExternKind.MEMORY, 0),
    ]
    assert m.start == 1
    # Extended constant expression: three instructions, the final end is dropped.
    init = m.globals[0].init.instrs
    assert [(i.op, i.imm) for i in init] == [
        (op.GLOBAL_GET, 1),
        (op.I32_CONST, 7),
        (op.I32_ADD, None),
    ]
    assert m.globals[1].init.instrs[0].imm == 0xFFFFFFFFFFFFFFFF
    assert m.names.module == "demo"
    assert m.names.functions == {0: "f", 1: "main"}


@needs_wasm_tools
def test_block_immediates_point_at_else_and_end():
    m = decode_module(
        wat(
            """
            (module (func (param i32) (result i32)
              (block $b (result i32)
                (if (result i32) (local.get 0)
                  (then (loop $l (br_if $l (i32.const 0))) (i32.const 1))
                  (else (br $b (i32.const 2)))))
              (if (local.get 0) (then nop))))
            """
        )
    )
    instrs = m.codes[0].instrs
    assert instrs[-1].op == op.END
    for index, instr in enumerate(instrs):
        if isinstance(instr.imm, BlockImm):
            assert instrs[instr.imm.end_pc].op == op.END
            if instr.imm.else_pc >= 0:
                assert instr.op == op.IF and instrs[instr.imm.else_pc].op == op.ELSE
            assert instr.imm.end_pc > index
    block, if_ = instrs[0], instrs[2]
    assert block.op == op.BLOCK and block.imm.blocktype == -1  # (result i32) is 0x7F
    assert if_.op == op.IF and if_.imm.else_pc > 2
    loop = instrs[3]
    assert loop.op == op.LOOP and loop.imm.blocktype == -64 and loop.imm.else_pc == -1
    last_if = [i for i in instrs if i.op == op.IF][-1]
    assert last_if.imm.else_pc == -1
    # Offsets are absolute positions of the opcode bytes in the module.
    raw = wat("(module (func (param i32) (result i32) (local.get 0)))")
    body = decode_module(raw).codes[0].instrs
    assert raw[body[0].offset] == op.LOCAL_GET and raw[body[1].offset] == op.END


@needs_wasm_tools
def test_memory64_multi_memory_and_memargs():
    m = decode_module(
        wat(
            """
            (module
              (memory $a 1 2)
              (memory $b i64 3 5)
              (table $t i64 4 funcref)
              (func (param i64)
                (i64.store $b offset=0x100000000 align=4 (local.get 0) (i64.const 5))
                (drop (i32.load8_u $a offset=3 (i32.const 0)))
                (memory.copy $a $b (i32.const 0) (i64.const 0) (i32.const 0))
                (drop (memory.size $b))
                (drop (v128.load32_lane $b 2 (local.get 0) (v128.const i64x2 1 2)))))
            """
        )
    )
    assert m.memories == [MemoryType(1, 2, False), MemoryType(3, 5, True)]
    assert m.tables[0].is_64 and m.tables[0].minimum == 4
    instrs = m.codes[0].instrs
    store = next(i for i in instrs if i.op == op.I64_STORE)
    assert store.imm == MemArg(2, 0x100000000, 1)
    load = next(i for i in instrs if i.op == op.I32_LOAD8_U)
    assert load.imm == MemArg(0, 3, 0)
    assert next(i for i in instrs if i.op == op.MEMORY_COPY).imm == (0, 1)
    assert next(i for i in instrs if i.op == op.MEMORY_SIZE).imm == 1
    lane = next(i for i in instrs if i.op == op.V128_LOAD32_LANE)
    assert lane.imm == (MemArg(2, 0, 1), 2)
    const = next(i for i in instrs if i.op == op.V128_CONST)
    assert const.imm == 1 | (2 << 64)


@needs_wasm_tools
def test_constants_keep_bit_patterns():
    m = decode_module(
        wat(
            """
            (module (func
              (drop (i32.const -2147483648)) (drop (i64.const -2))
              (drop (f32.const nan:0x200001)) (drop (f64.const -0x1p-1074))
              (drop (i8x16.shuffle 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 31
                      (v128.const i32x4 0 0 0 0) (v128.const i32x4 0 0 0 0)))
              (drop (select (result f32) (f32.const 0) (f32.const 1) (i32.const 0)))
              (drop (ref.null extern))))
            """
        )
    )
    imms = {}
    for instr in m.codes[0].instrs:
        imms.setdefault(instr.op, instr.imm)
    assert imms[op.I32_CONST] == 0x80000000
    assert imms[op.I64_CONST] == 0xFFFFFFFFFFFFFFFE
    assert imms[op.F32_CONST] == 0x7FA00001
    assert imms[op.F64_CONST] == 0x8000000000000001
    assert imms[op.I8X16_SHUFFLE] == bytes(range(15)) + b"\x1f"
    assert imms[op.SELECT_T] == (F32,)
    assert imms[op.REF_NULL] == EXTERNREF


@needs_wasm_tools
def test_locals_and_local_names():
    m = decode_module(
        wat(
            """
            (module (func $f (param $p i32) (local $a i64) (local $b i64) (local f32)
              (local.set $b (i64.const 1))))
            """
        )
    )
    assert m.codes[0].locals == (I64, I64, F32)
    assert m.names.locals == {0: {0: "p", 1: "a", 2: "b"}}
    assert m.codes[0].instrs[1] == (op.LOCAL_SET, 2, m.codes[0].instrs[1].offset)


@needs_wasm_tools
def test_data_segments_and_data_count():
    m = decode_module(
        wat(
            """
            (module (memory 1) (memory $m2 1)
              (data (i32.const 8) "ab")
              (data "passive")
              (data (memory $m2) (i32.const 0) "c")
              (func (memory.init 1 (i32.const 0) (i32.const 0) (i32.const 1)) (data.drop 1)))
            """
        )
    )
    assert m.data_count == 3
    modes = [(d.mode, d.memory, d.data) for d in m.datas]
    assert modes == [
        (SegmentMode.ACTIVE, 0, b"ab"),
        (SegmentMode.PASSIVE, 0, b"passive"),
        (SegmentMode.ACTIVE, 1, b"c"),
    ]
    assert m.datas[0].offset_expr.instrs[0].imm == 8
    instrs = m.codes[0].instrs
    assert instrs[3].op == op.MEMORY_INIT and instrs[3].imm == (1, 0)
    assert instrs[4].op == op.DATA_DROP and instrs[4].imm == 1


def _elem_module(segment: bytes) -> bytes:
    return b"".join(
        [
            HEADER,
            section(1, vec([b"\x60\x00\x00"])),
            section(3, vec([b"\x00"])),
            section(4, vec([b"\x70\x00\x01", b"\x70\x00\x01"])),
            section(9, vec([segment])),
            section(10, vec([b"\x02\x00\x0b"])),
        ]
    )


OFFSET0 = b"\x41\x00\x0b"  # i32.const 0; end
REF_FUNC0 = b"\xd2\x00\x0b"  # ref.func 0; end
REF_NULL = b"\xd0\x70\x0b"  # ref.null func; end


@pytest.mark.parametrize(
    ("segment", "mode", "table", "elem_type", "item_ops"),
    [
        (b"\x00" + OFFSET0 + b"\x01\x00", SegmentMode.ACTIVE, 0, FUNCREF, [op.REF_FUNC]),
        (b"\x01\x00\x02\x00\x00", SegmentMode.PASSIVE, 0, FUNCREF, [op.REF_FUNC] * 2),
        (b"\x02\x01" + OFFSET0 + b"\x00\x01\x00", SegmentMode.ACTIVE, 1, FUNCREF, [op.REF_FUNC]),
        (b"\x03\x00\x01\x00", SegmentMode.DECLARATIVE, 0, FUNCREF, [op.REF_FUNC]),
        (b"\x04" + OFFSET0 + b"\x02" + REF_FUNC0 + REF_NULL, SegmentMode.ACTIVE, 0, FUNCREF,
         [op.REF_FUNC, op.REF_NULL]),
        (b"\x05\x70\x01" + REF_NULL, SegmentMode.PASSIVE, 0, FUNCREF, [op.REF_NULL]),
        (b"\x06\x01" + OFFSET0 + b"\x70\x01" + REF_FUNC0, SegmentMode.ACTIVE, 1, FUNCREF,
         [op.REF_FUNC]),
        (b"\x07\x70\x01" + REF_FUNC0, SegmentMode.DECLARATIVE, 0, FUNCREF, [op.REF_FUNC]),
    ],
)
def test_all_element_segment_encodings(segment, mode, table, elem_type, item_ops):
    m = decode_module(_elem_module(segment))
    (elem,) = m.elems
    assert elem.mode == mode and elem.table == table and elem.elem_type == elem_type
    assert [item.instrs[0].op for item in elem.items] == item_ops
    assert all(len(item.instrs) == 1 for item in elem.items)
    if mode == SegmentMode.ACTIVE:
        assert elem.offset_expr.instrs[0].op == op.I32_CONST
    else:
        assert elem.offset_expr is None


def test_custom_sections_kept_and_bad_name_section_ignored():
    bad_names = b"\x04name" + b"\x01\x05\x01\x00\x09abc"  # a name longer than its section
    data = HEADER + section(0, b"\x04blob\x01\x02") + section(0, bad_names)
    m = decode_module(data)
    assert [(c.name, c.data) for c in m.customs] == [("blob", b"\x01\x02"), ("name", bad_names[5:])]
    assert m.names.functions == {} and m.names.module is None


def test_the_name_section_is_parsed_when_first_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm.wasm import decoder

    # Sub-section 0, the module name "m"; 1, function 0 named "f".
    names = b"\x04name" + b"\x00\x02\x01m" + b"\x01\x04\x01\x00\x01f"
    parsed = []
    real = decoder._parse_name_section
    monkeypatch.setattr(decoder, "_parse_name_section",
                        lambda *args: parsed.append(1) or real(*args))
    m = decode_module(HEADER + section(0, names))
    assert parsed == []
    assert m.func_name(0) == "f" and parsed == [1]
    assert m.names.module == "m" and m.names.locals == {} and parsed == [1]


def test_section_headers_in_binary_order():
    data = HEADER + section(1, b"\x00") + section(0, b"\x01x\x07") + section(3, b"\x00")
    m = decode_module(data)
    assert [(h.id, h.offset, h.size, h.name) for h in m.sections] == [
        (1, 10, 1, None),
        (0, 13, 3, "x"),
        (3, 18, 1, None),
    ]


def test_function_body_size_is_recorded():
    data = module_with_body(b"\x01\x0b")
    body = decode_module(data).codes[0]
    assert body.size == 1 + 3 and data[body.offset] == 3
    assert ops_of(body.instrs) == [op.NOP, op.END]


# Malformed modules ------------------------------------------------------------------


def _expect(data: bytes, message: str, offset: int | None = None) -> DecodeError:
    with pytest.raises(DecodeError) as info:
        decode_module(data)
    assert not isinstance(info.value, UnsupportedFeatureError), info.value
    assert info.value.message == message
    if offset is not None:
        assert info.value.offset == offset
    return info.value


@pytest.mark.parametrize(
    ("data", "message", "offset"),
    [
        (b"", "unexpected end", 0),
        (b"\x00asm\x01\x00", "unexpected end", 6),
        (b"\x00asn\x01\x00\x00\x00", "magic header not detected", 0),
        (b"\x00asm\x02\x00\x00\x00", "unknown binary version", 4),
        (HEADER + b"\x0e\x00", "malformed section id", 8),
        (HEADER + b"\x01\x05\x00", "length out of bounds", 9),
        (HEADER + b"\x01\x02\x00\x00", "section size mismatch", 12),
        (HEADER + section(1, b"\x00") + section(1, b"\x00"),
         "unexpected content after last section", 11),
        (HEADER + section(3, b"\x01\x00"), "function and code section have inconsistent lengths",
         None),
        (HEADER + section(12, b"\x01"), "data count and data section have inconsistent lengths",
         None),
        (HEADER + section(2, b"\x01\x00\x00\x05"), "malformed import kind", 13),
        (HEADER + section(5, b"\x01\x10\x00"), "malformed limits flags", 11),
        (HEADER + section(4, b"\x01\x70\x08\x00"), "malformed limits flags", 12),
        (HEADER + section(6, b"\x01\x7f\x02\x41\x00\x0b"), "malformed mutability", 12),
        (HEADER + section(1, b"\x01\x60\x01\x55\x00"), "malformed value type", 13),
        (HEADER + section(0, b"\x02\xc0\x80"), "malformed UTF-8 encoding", 11),
        (HEADER + section(0, b"\x05ab"), "length out of bounds", 11),
        (HEADER + section(1, b"\x01\x60\x00\x00") + b"\x0b",
         "unexpected end of section or function", None),
    ],
)
def test_malformed_module_structure(data, message, offset):
    _expect(data, message, offset)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\x41\x01\x1a", "unexpected end of section or function"),
        (b"\x0b\x01", "section size mismatch"),
        (b"\x02\x40\x05\x0b\x0b", "END opcode expected"),  # else inside a plain block
        (b"\x04\x40\x05\x05\x0b\x0b", "END opcode expected"),  # two elses
        (b"\x05\x0b", "END opcode expected"),
        (b"\xff\x0b", "illegal opcode ff"),
        (b"\xfc\x20\x0b", "illegal opcode fc 20"),
        (b"\xfd\x9a\x01\x0b", "illegal opcode fd 9a"),
        (b"\x41\x80\x80\x80\x80\x80\x00\x1a\x0b", "integer representation too long"),
        (b"\x41\x80\x80\x80\x80\x70\x1a\x0b", "integer too large"),
        (b"\x28\x80\x01\x00\x1a\x0b", "malformed memop flags"),
        (b"\x0e\xff\xff\xff\xff\x0f\x0b", "unexpected end of section or function"),
        (b"\xd0\x55\x0b", "malformed heap type"),
        (b"\x02\x50\x0b", "malformed block type"),
    ],
)
def test_malformed_function_bodies(body, message):
    _expect(module_with_body(body), message)


def test_illegal_opcode_offset_is_the_opcode():
    data = module_with_body(b"\x01\xff\x0b")
    error = _expect(data, "illegal opcode ff")
    assert data[error.offset] == 0xFF


def test_too_many_locals():
    too_many = uleb(1) + uleb(MAX_LOCALS + 1) + b"\x7f"
    _expect(module_with_body(b"\x0b", locals_=too_many), "too many locals")
    overflow = uleb(2) + b"\xff\xff\xff\xff\x0f\x7f\x02\x7e"
    _expect(module_with_body(b"\x0b", locals_=overflow), "too many locals")
    ok = uleb(2) + uleb(MAX_LOCALS - 1) + b"\x7f\x01\x7e"
    locals_ = decode_module(module_with_body(b"\x0b", locals_=ok)).codes[0].locals
    assert len(locals_) == MAX_LOCALS and locals_[-1] == I64 and locals_[0] == I32


def test_data_count_section_required_for_bulk_memory_data_ops():
    data_drop = b"\xfc\x09\x00\x0b"
    _expect(module_with_body(data_drop), "data count section required")
    memory_init = b"\x41\x00\x41\x00\x41\x00\xfc\x08\x00\x00\x0b"
    _expect(module_with_body(memory_init), "data count section required")
    # With the section the body decodes (the validator checks the index).
    assert decode_module(module_with_body(data_drop, data_count=True)).data_count == 0


def test_huge_declared_counts_fail_cleanly():
    for payload in (b"\xff\xff\xff\xff\x0f", b"\x01\x60\xff\xff\xff\xff\x0f"):
        with pytest.raises(DecodeError):
            decode_module(HEADER + section(1, payload))
    with pytest.raises(DecodeError):
        decode_module(HEADER + section(11, b"\x01\x01\xff\xff\xff\xff\x0f"))


# Unsupported proposals --------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "proposal"),
    [
        (HEADER + section(1, b"\x01\x4e\x01\x60\x00\x00"), "garbage collection"),  # rec
        (HEADER + section(1, b"\x01\x5f\x00"), "garbage collection"),  # struct
        (HEADER + section(1, b"\x01\x60\x01\x6e\x00"), "garbage collection"),  # anyref param
        (module_with_body(b"\xfb\x00\x0b"), "garbage collection"),
        (module_with_body(b"\xd3\x0b"), "garbage collection"),  # ref.eq
        (module_with_body(b"\xd0\x6c\x0b"), "garbage collection"),  # ref.null i31
        (HEADER + section(1, b"\x01\x60\x01\x64\x70\x00"), "typed function references"),
        (module_with_body(b"\x14\x00\x0b"), "typed function references"),  # call_ref
        (module_with_body(b"\xd4\x0b"), "typed function references"),  # ref.as_non_null
        (module_with_body(b"\xd0\x00\x0b"), "typed function references"),  # ref.null $t
        (HEADER + section(4, b"\x01\x40\x00\x70\x00\x01\xd0\x70\x0b"),
         "typed function references"),
        (HEADER + section(13, b"\x01\x00\x00"), "exception handling"),  # tag section
        (HEADER + section(2, b"\x01\x00\x00\x04\x00\x00"), "exception handling"),  # tag import
        (module_with_body(b"\x1f\x40\x00\x0b\x0b"), "exception handling"),  # try_table
        (module_with_body(b"\x08\x00\x0b"), "exception handling"),  # throw
        (HEADER + section(1, b"\x01\x60\x01\x69\x00"), "exception handling"),  # exnref
        (HEADER + section(5, b"\x01\x03\x01\x02"), "threads"),  # shared memory
        (module_with_body(b"\xfe\x03\x00\x0b"), "threads"),  # atomic.fence
        (module_with_body(b"\xfc\x13\x0b"), "wide arithmetic"),  # i64.add128
        (HEADER + section(5, b"\x01\x08\x01\x10"), "custom page sizes"),
    ],
)
def test_unsupported_proposals_are_named(data, proposal):
    with pytest.raises(UnsupportedFeatureError) as info:
        decode_module(data)
    assert info.value.proposal == proposal
    assert proposal in str(info.value)


def test_proposal_opcode_after_a_missing_end_is_malformed_not_unsupported():
    # The global's init lacks its end; reading on reaches the code section's id 0x0a
    # (throw_ref), which must not be blamed on exception handling.
    data = (
        HEADER
        + section(1, b"\x01\x60\x00\x00")
        + section(3, b"\x01\x00")
        + b"\x06\x05\x01\x7f\x00\x41\x00"
        + section(10, b"\x01\x02\x00\x0b")
    )
    _expect(data, "unexpected end of section or function")


@needs_wasm_tools
def test_supported_proposals_decode_from_wat():
    m = decode_module(
        wat(
            """
            (module
              (type $t (func (param i32) (result i32 i64)))
              (table 1 funcref)
              (func $f (type $t) (i32.const 1) (i64.const 2))
              (func (param i32) (result i32 i64)
                (return_call_indirect (type $t) (local.get 0) (i32.const 0)))
              (func (param i32) (result i32 i64) (return_call $f (local.get 0)))
              (func (result i32) (i32.extend8_s (i32.trunc_sat_f32_s (f32.const 1)))))
            """
        )
    )
    assert m.codes[1].instrs[-2].op == op.RETURN_CALL_INDIRECT
    assert m.codes[1].instrs[-2].imm == (0, 0)
    assert m.codes[2].instrs[-2] [:2] == (op.RETURN_CALL, 0)
    assert ops_of(m.codes[3].instrs)[1:3] == [op.I32_TRUNC_SAT_F32_S, op.I32_EXTEND8_S]
