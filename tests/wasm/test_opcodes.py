"""Check the opcode table against wasm-tools, and the decoder against the table.

Every OpInfo is encoded once (with immediates of the shape its Imm kind says) as the
body of its own function. ``wasm-tools print`` (which does not validate) must show the
table's mnemonic for it, and the decoder must give back the same opcode and immediates.
"""

from __future__ import annotations

import re

import pytest

from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.opcodes import (
    FC,
    FD,
    OPS,
    UNSUPPORTED_FC,
    UNSUPPORTED_FD,
    UNSUPPORTED_OPCODES,
    UNSUPPORTED_PREFIXES,
    Imm,
    MemArg,
    OpInfo,
)
from pyjitwasm.wasm.types import FUNCREF, I32

from support.decoder_wat import HEADER, section, uleb, vec, wasm_tools

V128_BYTES = bytes(range(1, 17))
SHUFFLE_BYTES = bytes(range(15, -1, -1))


def _opcode_bytes(code: int) -> bytes:
    if code < 0x100:
        return bytes([code])
    return bytes([code >> 12]) + uleb(code & 0xFFF)


def _memarg_bytes(info: OpInfo) -> tuple[bytes, MemArg]:
    align = info.access_size.bit_length() - 1
    return bytes([align, 5]), MemArg(align, 5, 0)


def encode(info: OpInfo) -> tuple[bytes, object]:
    """The instruction's bytes and the immediate the decoder should produce."""
    kind = info.imm
    if kind == Imm.NONE:
        return b"", None
    if kind == Imm.BLOCK:
        return b"\x40", None  # checked separately: BlockImm is mutable
    if kind in (Imm.LABEL, Imm.FUNC, Imm.LOCAL, Imm.GLOBAL, Imm.TABLE, Imm.ELEM, Imm.MEM,
                Imm.DATA):
        return uleb(1), 1
    if kind == Imm.BR_TABLE:
        return b"\x02\x00\x01\x00", ((0, 1), 0)
    if kind == Imm.CALL_INDIRECT:
        return b"\x02\x01", (2, 1)
    if kind in (Imm.TABLE_COPY, Imm.TABLE_INIT, Imm.MEM_COPY, Imm.MEM_INIT):
        return b"\x01\x02", (1, 2)
    if kind == Imm.MEMARG:
        return _memarg_bytes(info)
    if kind == Imm.I32:
        return b"\x7f", 0xFFFFFFFF
    if kind == Imm.I64:
        return b"\x7e", 0xFFFFFFFFFFFFFFFE
    if kind == Imm.F32:
        return b"\x00\x00\x80\x3f", 0x3F800000
    if kind == Imm.F64:
        return b"\x00\x00\x00\x00\x00\x00\xf0\x3f", 0x3FF0000000000000
    if kind == Imm.V128:
        return V128_BYTES, int.from_bytes(V128_BYTES, "little")
    if kind == Imm.SHUFFLE:
        return SHUFFLE_BYTES, SHUFFLE_BYTES
    if kind == Imm.LANE:
        return b"\x01", 1
    if kind == Imm.MEMARG_LANE:
        raw, memarg = _memarg_bytes(info)
        return raw + b"\x01", (memarg, 1)
    if kind == Imm.SELECT_T:
        return b"\x01\x7f", (I32,)
    if kind == Imm.HEAPTYPE:
        return b"\x70", FUNCREF
    raise AssertionError(f"no encoding for {kind}")


def _body(info: OpInfo) -> bytes:
    raw, _ = encode(info)
    if info.name == "else":
        return b"\x04\x40\x05\x0b\x0b"
    if info.name == "end":
        return b"\x02\x40\x0b\x0b"
    if info.imm == Imm.BLOCK:
        return _opcode_bytes(info.code) + raw + b"\x0b\x0b"
    return _opcode_bytes(info.code) + raw + b"\x0b"


INFOS = sorted(OPS.values(), key=lambda i: i.code)
# The mnemonic wasm-tools prints where the table's name is not the text-format one.
PRINTED_NAME = {"select_t": "select"}


@pytest.fixture(scope="module")
def all_ops_module() -> bytes:
    bodies = [uleb(len(b) + 1) + b"\x00" + b for b in (_body(info) for info in INFOS)]
    return b"".join(
        [
            HEADER,
            section(1, vec([b"\x60\x00\x00"])),
            section(3, vec([b"\x00"] * len(INFOS))),
            section(12, uleb(0)),
            section(10, vec(bodies)),
        ]
    )


@pytest.fixture(scope="module")
def printed_bodies(all_ops_module) -> list[list[str]]:
    text = wasm_tools("print", "-", stdin=all_ops_module).decode()
    bodies: list[list[str]] = []
    for chunk in re.split(r"\n  \(func ", text)[1:]:
        lines = [line.strip() for line in chunk.splitlines()[1:]]
        bodies.append([line for line in lines if line and line != ")"])
    assert len(bodies) == len(INFOS)
    return bodies


@pytest.mark.parametrize("index", range(len(INFOS)), ids=[i.name for i in INFOS])
def test_wasm_tools_prints_the_table_mnemonic(printed_bodies, index):
    info = INFOS[index]
    lines = printed_bodies[index]
    expected = PRINTED_NAME.get(info.name, info.name)
    if info.name == "else":
        assert lines[1] == "else", lines
    elif info.name == "end":
        assert lines[1] == "end", lines
    else:
        assert lines[0].split()[0] == expected, lines


def test_decoder_round_trips_every_opcode(all_ops_module):
    module = decode_module(all_ops_module)
    mismatches = []
    for info, body in zip(INFOS, module.codes, strict=True):
        first = body.instrs[0]
        _, imm = encode(info)
        if info.name == "else":
            if [i.op for i in body.instrs] != [0x04, 0x05, 0x0B, 0x0B]:
                mismatches.append(info.name)
            continue
        if info.name == "end":
            if [i.op for i in body.instrs] != [0x02, 0x0B, 0x0B]:
                mismatches.append(info.name)
            continue
        if first.op != info.code:
            mismatches.append(f"{info.name}: op {first.op:#x}")
        elif info.imm == Imm.BLOCK:
            if (first.imm.blocktype, first.imm.end_pc) != (-64, 1):
                mismatches.append(f"{info.name}: {first.imm!r}")
        elif first.imm != imm:
            mismatches.append(f"{info.name}: {first.imm!r} != {imm!r}")
        if body.instrs[-1].op != 0x0B:
            mismatches.append(f"{info.name}: body does not end with end")
    assert not mismatches


def test_unsupported_opcodes_are_not_also_supported():
    for code in UNSUPPORTED_OPCODES:
        assert code not in OPS
    for prefix in UNSUPPORTED_PREFIXES:
        assert prefix not in OPS and prefix not in (0xFC, 0xFD)
    for sub in UNSUPPORTED_FC:
        assert FC | sub not in OPS
    for sub in UNSUPPORTED_FD:
        assert FD | sub not in OPS


def test_unsupported_opcode_names_match_wasm_tools():
    # wasm-tools knows the proposals' opcodes; it should print a real mnemonic (not an
    # error) for each single-byte and prefixed opcode the table says is unsupported.
    samples = {
        0x14: b"\x14\x00",  # call_ref
        0xD3: b"\xd3",  # ref.eq
        0xD4: b"\xd4",  # ref.as_non_null
        0x08: b"\x08\x00",  # throw
    }
    expected = {0x14: "call_ref", 0xD3: "ref.eq", 0xD4: "ref.as_non_null", 0x08: "throw"}
    for code, raw in samples.items():
        body = b"\x00" + raw + b"\x0b"
        data = b"".join(
            [
                HEADER,
                section(1, vec([b"\x60\x00\x00"])),
                section(3, vec([b"\x00"])),
                section(10, vec([uleb(len(body)) + body])),
            ]
        )
        text = wasm_tools("print", "-", stdin=data).decode()
        assert expected[code] in text
