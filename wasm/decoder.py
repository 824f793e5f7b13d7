"""Decode a WebAssembly binary into a ``WasmModule``.

Covers WebAssembly 2.0 plus memory64, multi-memory, extended constant expressions, tail
calls and (while ``Features.relaxed_simd`` is on, the default) relaxed SIMD. Constructs
from other proposals, or from a proposal the ``Features`` switch off, raise
``UnsupportedFeatureError`` naming the proposal; anything else the spec calls malformed
raises ``DecodeError``. No other exception escapes ``decode_module``.

Function bodies are decoded eagerly. The instruction loop is the hot path: it works on
the raw ``bytes`` with a local position, dispatches on a precomputed immediate-kind table
and reads single-byte LEB128s inline, falling back to ``reader`` only for longer ones.
"""

from __future__ import annotations

import gc
import os
import pickle
import threading
from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from pyjitwasm.wasm.errors import DecodeError, UnsupportedFeatureError
from pyjitwasm.wasm.features import DEFAULT_FEATURES, Features
from pyjitwasm.wasm.module import (
    ConstExpr,
    CustomSection,
    DataSegment,
    ElemSegment,
    Export,
    FuncIndexItems,
    FunctionBody,
    Global,
    Import,
    Instr,
    NameSection,
    SectionHeader,
    SegmentMode,
    WasmModule,
)
from pyjitwasm.wasm.opcodes import (
    DATA_DROP,
    ELSE,
    END,
    FC,
    FD,
    I32_CONST,
    IF,
    MEMORY_INIT,
    OPS,
    UNSUPPORTED_FC,
    UNSUPPORTED_FD,
    UNSUPPORTED_OPCODES,
    UNSUPPORTED_PREFIXES,
    BlockImm,
    Imm,
    MemArg,
)
from pyjitwasm.wasm.reader import (
    UNEXPECTED_END_OF_SECTION,
    Reader,
    eof_error,
    read_s32,
    read_s33,
    read_s64,
    read_u32,
    read_u64,
)
from pyjitwasm.wasm.types import (
    EXTERNREF,
    FUNCREF,
    PAGE_SIZE_LOG2,
    VALUE_TYPES,
    ExternKind,
    FuncType,
    GlobalType,
    MemoryType,
    TableType,
)

MAGIC = b"\x00asm"
VERSION = b"\x01\x00\x00\x00"
# Wasmtime's cap on a function's declared locals; it also keeps a hostile count from
# making us allocate a huge tuple.
MAX_LOCALS = 50_000

GC = "garbage collection"
TYPED_REFS = "typed function references"
EXCEPTIONS = "exception handling"
THREADS = "threads"
CUSTOM_PAGE_SIZES = "custom page sizes"

# Section ids, and the position each non-custom section must keep in the module.
CUSTOM_ID, DATA_COUNT_ID, TAG_ID = 0, 12, 13
_SECTION_RANK = {1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

# Heap/value type bytes of proposals we do not implement.
_GC_ABSTRACT = frozenset({0x6E, 0x6D, 0x6C, 0x6B, 0x6A, 0x71, 0x72, 0x73})
_EXN_TYPES = frozenset({0x69, 0x74})
_REF_TYPE_PREFIXES = frozenset({0x63, 0x64})
_GC_TYPE_FORMS = frozenset({0x4E, 0x50, 0x4F, 0x5F, 0x5E})

# Internal dispatch kinds for the instruction loop. Kinds that carry one u32 immediate
# share a branch; end, else and the prefixes get their own.
K_NONE, K_U32, K_I32, K_MEMARG, K_END, K_BLOCK, K_I64, K_ELSE = range(8)
K_BR_TABLE, K_FC, K_FD, K_F32, K_F64, K_PAIR, K_CALL_INDIRECT = range(8, 15)
K_SELECT_T, K_HEAPTYPE, K_V128, K_SHUFFLE, K_LANE, K_MEMARG_LANE = range(15, 21)
K_ILLEGAL, K_UNSUPPORTED = 21, 22

_IMM_TO_KIND = {
    Imm.NONE: K_NONE,
    Imm.BLOCK: K_BLOCK,
    Imm.LABEL: K_U32,
    Imm.BR_TABLE: K_BR_TABLE,
    Imm.FUNC: K_U32,
    Imm.CALL_INDIRECT: K_CALL_INDIRECT,
    Imm.LOCAL: K_U32,
    Imm.GLOBAL: K_U32,
    Imm.TABLE: K_U32,
    Imm.TABLE_COPY: K_PAIR,
    Imm.TABLE_INIT: K_PAIR,
    Imm.ELEM: K_U32,
    Imm.MEMARG: K_MEMARG,
    Imm.MEM: K_U32,
    Imm.MEM_COPY: K_PAIR,
    Imm.MEM_INIT: K_PAIR,
    Imm.DATA: K_U32,
    Imm.I32: K_I32,
    Imm.I64: K_I64,
    Imm.F32: K_F32,
    Imm.F64: K_F64,
    Imm.V128: K_V128,
    Imm.SHUFFLE: K_SHUFFLE,
    Imm.LANE: K_LANE,
    Imm.MEMARG_LANE: K_MEMARG_LANE,
    Imm.SELECT_T: K_SELECT_T,
    Imm.HEAPTYPE: K_HEAPTYPE,
}


def _build_kind_tables() -> tuple[list[int], dict[int, int], dict[int, int]]:
    single = [K_ILLEGAL] * 256
    fc: dict[int, int] = {}
    fd: dict[int, int] = {}
    for code, info in OPS.items():
        kind = _IMM_TO_KIND[info.imm]
        if code < 0x100:
            single[code] = kind
        elif code & ~0xFFF == FC:
            fc[code & 0xFFF] = kind
        elif code & ~0xFFF == FD:
            fd[code & 0xFFF] = kind
    single[END] = K_END
    single[ELSE] = K_ELSE
    single[0xFC] = K_FC
    single[0xFD] = K_FD
    for code in UNSUPPORTED_OPCODES:
        single[code] = K_UNSUPPORTED
    for code in UNSUPPORTED_PREFIXES:
        single[code] = K_UNSUPPORTED
    return single, fc, fd


_KINDS, _FC_KINDS, _FD_KINDS = _build_kind_tables()


# Types ----------------------------------------------------------------------------


def _reject_proposal_type(b: int, next_byte: int | None, offset: int) -> None:
    """Raise UnsupportedFeatureError if type byte ``b`` belongs to a known proposal."""
    if b in _GC_ABSTRACT:
        raise UnsupportedFeatureError(GC, f"reference type 0x{b:02x}", offset)
    if b in _EXN_TYPES:
        raise UnsupportedFeatureError(EXCEPTIONS, f"reference type 0x{b:02x}", offset)
    if b in _REF_TYPE_PREFIXES:
        if next_byte in _GC_ABSTRACT:
            raise UnsupportedFeatureError(GC, "a (ref ...) type", offset)
        if next_byte in _EXN_TYPES:
            raise UnsupportedFeatureError(EXCEPTIONS, "a (ref ...) type", offset)
        raise UnsupportedFeatureError(TYPED_REFS, "a (ref ...) type", offset)


def _valtype(r: Reader) -> int:
    off = r.pos
    b = r.byte()
    if b in VALUE_TYPES:
        return b
    _reject_proposal_type(b, r.peek(), off)
    raise DecodeError("malformed value type", off)


def _reftype(r: Reader) -> int:
    off = r.pos
    b = r.byte()
    if b == FUNCREF or b == EXTERNREF:
        return b
    _reject_proposal_type(b, r.peek(), off)
    raise DecodeError("malformed reference type", off)


def _heaptype(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode ``ref.null``'s heap type (an s33); only func and extern are supported."""
    off = pos
    if pos >= end:
        raise eof_error(data, end)
    b = data[pos]
    if b == FUNCREF or b == EXTERNREF:
        return b, pos + 1
    if b in _GC_ABSTRACT:
        raise UnsupportedFeatureError(GC, f"heap type 0x{b:02x}", off)
    if b in _EXN_TYPES:
        raise UnsupportedFeatureError(EXCEPTIONS, f"heap type 0x{b:02x}", off)
    value, pos = read_s33(data, pos, end)
    if value >= 0:
        raise UnsupportedFeatureError(TYPED_REFS, "a concrete heap type", off)
    raise DecodeError("malformed heap type", off)


def _blocktype(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """The slow path of a block type: type indices and proposal types."""
    off = pos
    if pos >= end:
        raise eof_error(data, end)
    b = data[pos]
    nxt = data[pos + 1] if pos + 1 < end else None
    _reject_proposal_type(b, nxt, off)
    value, pos = read_s33(data, pos, end)
    if value < 0:
        raise DecodeError("malformed block type", off)
    return value, pos


# Limits flag bits: a maximum follows, the memory is shared (threads), the index type is
# i64 (memory64), a page size exponent follows the limits (custom page sizes).
_HAS_MAX, _SHARED, _IS_64, _HAS_PAGE_SIZE = 0x01, 0x02, 0x04, 0x08
# Exponents this large cannot describe a page size at all (the shift would overflow a
# u64): malformed. The validator narrows the rest to the sizes the proposal allows.
_MAX_PAGE_SIZE_LOG2 = 64


def _limits(r: Reader, is_memory: bool) -> tuple[int, int | None, int]:
    """Limits flags, minimum and maximum: ``(min, max, flags)``."""
    off = r.pos
    flags = r.byte()
    if flags > 0x0F or (not is_memory and flags & (_SHARED | _HAS_PAGE_SIZE)):
        raise DecodeError("malformed limits flags", off)
    minimum = r.u64()
    maximum = r.u64() if flags & _HAS_MAX else None
    return minimum, maximum, flags


def _table_type(r: Reader) -> TableType:
    elem_type = _reftype(r)
    minimum, maximum, flags = _limits(r, False)
    return TableType(elem_type, minimum, maximum, bool(flags & _IS_64))


def _memory_type(r: Reader, custom_page_sizes: bool) -> MemoryType:
    off = r.pos
    try:
        minimum, maximum, flags = _limits(r, True)
    except DecodeError as e:
        # A page-size flag on limits that are not all there is malformed, never a use
        # of the proposal.
        if off < len(r.data) and r.data[off] & _HAS_PAGE_SIZE and r.data[off] <= 0x0F:
            raise DecodeError("malformed limits flags", off) from e
        raise
    page_size_log2 = PAGE_SIZE_LOG2
    if flags & _HAS_PAGE_SIZE:
        try:
            page_size_log2 = r.u32()
        except DecodeError:
            raise DecodeError("malformed limits flags", off) from None
        if not custom_page_sizes:
            raise UnsupportedFeatureError(CUSTOM_PAGE_SIZES, "a memory page size", off,
                                          disabled=True)
        if page_size_log2 > _MAX_PAGE_SIZE_LOG2:
            raise DecodeError("invalid custom page size", off)
    if flags & _SHARED:
        raise UnsupportedFeatureError(THREADS, "a shared memory", off)
    return MemoryType(minimum, maximum, bool(flags & _IS_64), page_size_log2)


def _global_type(r: Reader) -> GlobalType:
    valtype = _valtype(r)
    off = r.pos
    mut = r.byte()
    if mut > 1:
        raise DecodeError("malformed mutability", off)
    return GlobalType(valtype, mut == 1)


# Instructions -----------------------------------------------------------------------


def _illegal(data: bytes, off: int, prefix: int, sub: int | None) -> DecodeError:
    if sub is None:
        return DecodeError(f"illegal opcode {prefix:02x}", off)
    return DecodeError(f"illegal opcode {prefix:02x} {sub:02x}", off)


def _unsupported_opcode(op: int, off: int, sub: int | None = None) -> UnsupportedFeatureError:
    if sub is None:
        proposal = UNSUPPORTED_OPCODES.get(op) or UNSUPPORTED_PREFIXES[op]
        return UnsupportedFeatureError(proposal, f"opcode 0x{op:02x}", off)
    table = UNSUPPORTED_FC if op == 0xFC else UNSUPPORTED_FD
    return UnsupportedFeatureError(table[sub], f"opcode 0x{op:02x} 0x{sub:02x}", off)


def _select_types(data: bytes, pos: int, end: int) -> tuple[tuple[int, ...], int]:
    r = Reader(data, pos, end)
    n = r.u32()
    if n > r.remaining():
        raise eof_error(data, end)
    types = tuple(_valtype(r) for _ in range(n))
    return types, r.pos


def decode_instrs(
    data: bytes,
    pos: int,
    stop: int,
    has_data_count: bool = True,
    disabled: dict[int, str] | None = None,
) -> tuple[list[Instr], int]:
    """Decode instructions from ``data[pos:]`` up to and including the ``end`` that closes
    the outermost level; return them and the position after that ``end``.

    Like the spec's reference decoder this reads on past ``stop`` (the end of the
    enclosing body or section) if the bytes say so; the caller compares the returned
    position with ``stop`` ("section size mismatch"). A proposal's opcode found past
    ``stop`` is not the module using that proposal, so it is reported as malformed.

    With ``has_data_count`` false, ``memory.init`` and ``data.drop`` are malformed (the
    spec requires a data count section for them). ``disabled`` maps the opcodes the
    module's ``Features`` switch off to their proposal (``Features.disabled_opcodes``).
    """
    instrs: list[Instr] = []
    append = instrs.append
    new = tuple.__new__
    instr = Instr
    kinds = _KINDS
    fc_kinds = _FC_KINDS
    valtypes = VALUE_TYPES
    blocks: list[int] = []
    push = blocks.append
    pop = blocks.pop
    off = pos
    end = len(data)
    try:
        while True:
            if pos >= end:
                raise DecodeError(UNEXPECTED_END_OF_SECTION, end)
            off = pos
            op = data[pos]
            pos += 1
            kind = kinds[op]
            if kind == K_U32:
                b = data[pos]
                if b < 0x80:
                    pos += 1
                    append(new(instr, (op, b, off)))
                else:
                    imm, pos = read_u32(data, pos, end)
                    append(new(instr, (op, imm, off)))
            elif kind == K_NONE:
                append(new(instr, (op, None, off)))
            elif kind == K_I32:
                b = data[pos]
                if b < 0x40:
                    pos += 1
                    append(new(instr, (op, b, off)))
                elif b < 0x80:
                    pos += 1
                    append(new(instr, (op, b | 0xFFFFFF80, off)))
                else:
                    imm, pos = read_s32(data, pos, end)
                    append(new(instr, (op, imm & 0xFFFFFFFF, off)))
            elif kind == K_MEMARG:
                memarg, pos = _memarg(data, pos, end)
                append(new(instr, (op, memarg, off)))
            elif kind == K_END:
                if blocks:
                    opener = instrs[pop()]
                    opener[1].end_pc = len(instrs)
                    append(new(instr, (op, None, off)))
                else:
                    append(new(instr, (op, None, off)))
                    return instrs, pos
            elif kind == K_BLOCK:
                b = data[pos]
                if b == 0x40:
                    pos += 1
                    blocktype = -64
                elif b in valtypes:
                    pos += 1
                    blocktype = b - 0x80
                else:
                    blocktype, pos = _blocktype(data, pos, end)
                push(len(instrs))
                append(new(instr, (op, BlockImm(blocktype), off)))
            elif kind == K_I64:
                imm, pos = read_s64(data, pos, end)
                append(new(instr, (op, imm & 0xFFFFFFFFFFFFFFFF, off)))
            elif kind == K_ELSE:
                if not blocks:
                    raise DecodeError("END opcode expected", off)
                opener = instrs[blocks[-1]]
                if opener[0] != IF or opener[1].else_pc != -1:
                    raise DecodeError("END opcode expected", off)
                opener[1].else_pc = len(instrs)
                append(new(instr, (op, None, off)))
            elif kind == K_BR_TABLE:
                count, pos = read_u32(data, pos, end)
                if count >= end - pos:
                    raise DecodeError(UNEXPECTED_END_OF_SECTION, end)
                labels: list[int] = []
                add_label = labels.append
                for _ in range(count):
                    b = data[pos]
                    if b < 0x80:
                        pos += 1
                        add_label(b)
                    else:
                        label, pos = read_u32(data, pos, end)
                        add_label(label)
                default, pos = read_u32(data, pos, end)
                append(new(instr, (op, (tuple(labels), default), off)))
            elif kind == K_FC:
                sub, pos = read_u32(data, pos, end)
                kind = fc_kinds.get(sub, K_ILLEGAL)
                op = FC | sub
                if kind == K_NONE:
                    append(new(instr, (op, None, off)))
                elif kind == K_U32:
                    if op == DATA_DROP and not has_data_count:
                        raise DecodeError("data count section required", off)
                    imm, pos = read_u32(data, pos, end)
                    append(new(instr, (op, imm, off)))
                elif kind == K_PAIR:
                    if op == MEMORY_INIT and not has_data_count:
                        raise DecodeError("data count section required", off)
                    first, pos = read_u32(data, pos, end)
                    second, pos = read_u32(data, pos, end)
                    append(new(instr, (op, (first, second), off)))
                elif sub in UNSUPPORTED_FC:
                    raise _unsupported_opcode(0xFC, off, sub)
                else:
                    raise _illegal(data, off, 0xFC, sub)
            elif kind == K_FD:
                pos = _decode_simd(data, pos, end, off, append, disabled)
            elif kind == K_CALL_INDIRECT:
                type_index, pos = read_u32(data, pos, end)
                table, pos = read_u32(data, pos, end)
                append(new(instr, (op, (type_index, table), off)))
            elif kind == K_F32:
                append(new(instr, (op, int.from_bytes(data[pos : pos + 4], "little"), off)))
                pos += 4
            elif kind == K_F64:
                append(new(instr, (op, int.from_bytes(data[pos : pos + 8], "little"), off)))
                pos += 8
            elif kind == K_HEAPTYPE:
                imm, pos = _heaptype(data, pos, end)
                append(new(instr, (op, imm, off)))
            elif kind == K_SELECT_T:
                types, pos = _select_types(data, pos, end)
                append(new(instr, (op, types, off)))
            elif kind == K_UNSUPPORTED:
                raise _unsupported_opcode(op, off)
            else:
                raise _illegal(data, off, op, None)
    except UnsupportedFeatureError as exc:
        if exc.offset >= stop:
            raise DecodeError(UNEXPECTED_END_OF_SECTION, stop) from None
        raise
    except IndexError:
        # An inline read ran off the end of the module.
        raise DecodeError(UNEXPECTED_END_OF_SECTION, end) from None
    except RecursionError:  # pragma: no cover - defensive
        raise DecodeError("instruction sequence too complex", off) from None


_new_tuple = tuple.__new__


class _BodyDecoder:
    """Decodes one module's function bodies again, or for the first time when they were
    deferred (the module's :class:`~pyjitwasm.wasm.module.BodySource`)."""

    __slots__ = ("data", "has_data_count", "disabled")

    def __init__(self, data: bytes, has_data_count: bool,
                 disabled: dict[int, str] | None) -> None:
        self.data = data
        self.has_data_count = has_data_count
        self.disabled = disabled

    def decode_body(self, offset: int, size: int) -> tuple[tuple[int, ...], list[Instr]]:
        gc_was_enabled = gc.isenabled()
        gc.disable()  # as in decode_module: one tuple per instruction, no cycles
        try:
            return self.decode_unpaused(offset, size)
        finally:
            if gc_was_enabled:
                gc.enable()

    def decode_unpaused(self, offset: int, size: int) -> tuple[tuple[int, ...], list[Instr]]:
        """``decode_body`` with the cyclic collector as it is (the module decoder has
        paused it already)."""
        data = self.data
        r = Reader(data, offset, offset + size, offset + size)
        body = r.sized(offset)
        local_types = _locals(body)
        instrs, pos = decode_instrs(data, body.pos, body.end, self.has_data_count,
                                    self.disabled)
        if pos != body.end:
            raise DecodeError("section size mismatch", body.end)
        return local_types, instrs


_MEMARGS: dict[int, MemArg] = {}


def _memarg(data: bytes, pos: int, end: int) -> tuple[MemArg, int]:
    """Decode a memarg: alignment flags (bit 6: a memory index follows), offset (u64).

    MemArgs are immutable and programs reuse a few of them, so they are interned.
    """
    b = data[pos]
    if b < 0x40:
        align = b
        pos += 1
        memory = 0
    else:
        flags_off = pos
        flags, pos = read_u32(data, pos, end)
        if flags >= 0x80:
            raise DecodeError("malformed memop flags", flags_off)
        if flags >= 0x40:
            align = flags - 0x40
            memory, pos = read_u32(data, pos, end)
        else:
            align = flags
            memory = 0
    b = data[pos]
    if b < 0x80:
        offset = b
        pos += 1
    else:
        offset, pos = read_u64(data, pos, end)
    key = (offset << 40) | (memory << 8) | align
    memarg = _MEMARGS.get(key)
    if memarg is None:
        memarg = MemArg(align, offset, memory)
        if len(_MEMARGS) < 65536:
            _MEMARGS[key] = memarg
    return memarg, pos


def _decode_simd(
    data: bytes,
    pos: int,
    end: int,
    off: int,
    append: Callable[[Instr], None],
    disabled: dict[int, str] | None,
) -> int:
    """Decode the rest of a 0xFD-prefixed instruction; return the new position."""
    imm: object
    sub, pos = read_u32(data, pos, end)
    kind = _FD_KINDS.get(sub, K_ILLEGAL)
    op = FD | sub
    if disabled and op in disabled:
        what = f"opcode 0xfd 0x{sub:02x}"
        raise UnsupportedFeatureError(disabled[op], what, off, disabled=True)
    if kind == K_NONE:
        imm = None
    elif kind == K_MEMARG:
        imm, pos = _memarg(data, pos, end)
    elif kind == K_LANE:
        if pos >= end:
            raise eof_error(data, end)
        imm = data[pos]
        pos += 1
    elif kind == K_MEMARG_LANE:
        memarg, pos = _memarg(data, pos, end)
        if pos >= end:
            raise eof_error(data, end)
        imm = (memarg, data[pos])
        pos += 1
    elif kind == K_V128:
        if end - pos < 16:
            raise eof_error(data, end)
        imm = int.from_bytes(data[pos : pos + 16], "little")
        pos += 16
    elif kind == K_SHUFFLE:
        if end - pos < 16:
            raise eof_error(data, end)
        imm = data[pos : pos + 16]
        pos += 16
    elif sub in UNSUPPORTED_FD:
        raise _unsupported_opcode(0xFD, off, sub)
    else:
        raise _illegal(data, off, 0xFD, sub)
    append(tuple.__new__(Instr, (op, imm, off)))
    return pos


# Module -----------------------------------------------------------------------------


BodyCheck = Callable[[int, FunctionBody], None]
"""Called with each function body as it is decoded (its number among the defined
functions, in order), before the body is released."""


@runtime_checkable
class ResumableBodyCheck(Protocol):
    """A :data:`BodyCheck` that counts the bodies it passed (``checked``, in order) and
    keeps the first failure (``error``): such checks let a large code section be
    decoded and checked in two processes (:func:`_split_code_section`)."""

    checked: int
    error: Exception | None

    def __call__(self, number: int, body: FunctionBody) -> None: ...


SPLIT_MIN_CODE_BYTES = 512 << 10
"""A code section this large (and with a resumable check) is decoded and checked in
two processes: CPython for WASI's (20 MB, 11,448 bodies) takes ~1.8 s of CPU alone,
Graphviz's (0.9 MB) ~0.25 s, of which the split saves 0.12 s (medians of 4 alternating
cold runs, 0.74 -> 0.62 s to the first SVG); the fork costs a few ms."""


def _split_allowed(code_bytes: int) -> bool:
    """Whether a code section of ``code_bytes`` may be split across a forked child:
    large enough, a second CPU, no other Python thread (a lock one holds at the fork
    would stay held in the child: the child only decodes, but stays safe), and not
    switched off (``PYJITWASM_SPLIT_DECODE=0``)."""
    if code_bytes < SPLIT_MIN_CODE_BYTES or not hasattr(os, "fork"):
        return False
    if os.environ.get("PYJITWASM_SPLIT_DECODE", "1").strip().lower() in (
            "0", "false", "no", "off"):
        return False
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else \
        (os.cpu_count() or 1)
    return cpus >= 2 and threading.active_count() == 1


class _ModuleDecoder:
    """Section-by-section decoding state of one module."""

    def __init__(self, data: bytes, features: Features, keep_bodies: bool = True,
                 decode_bodies: bool = True,
                 body_checks: Callable[[WasmModule], BodyCheck | None] | None = None) -> None:
        self.data = data
        self.body_checks = body_checks
        self.keep_bodies = keep_bodies
        self.decode_bodies = decode_bodies
        self.disabled = features.disabled_opcodes() or None
        self.custom_page_sizes = features.custom_page_sizes
        self.module = WasmModule(size=len(data))
        self.has_data_count = False
        self.seen_func_section = False
        self.seen_code_section = False
        self.seen_data_section = False

    def decode(self) -> WasmModule:
        data = self.data
        r = Reader(data)
        if len(data) < 4:
            raise DecodeError("unexpected end", len(data))
        if data[:4] != MAGIC:
            raise DecodeError("magic header not detected", 0)
        if len(data) < 8:
            raise DecodeError("unexpected end", len(data))
        if data[4:8] != VERSION:
            raise DecodeError("unknown binary version", 4)
        r.pos = 8
        last_rank = 0
        while not r.at_end():
            id_off = r.pos
            section_id = r.byte()
            if section_id > TAG_ID:
                raise DecodeError("malformed section id", id_off)
            body = r.sized(r.pos)
            header = SectionHeader(section_id, body.pos, body.end - body.pos)
            self.module.sections.append(header)
            if section_id == CUSTOM_ID:
                self._custom(body, id_off)
                header.name = self.module.customs[-1].name
            else:
                if section_id == TAG_ID:
                    raise UnsupportedFeatureError(EXCEPTIONS, "the tag section", id_off)
                rank = _SECTION_RANK[section_id]
                if rank <= last_rank:
                    raise DecodeError("unexpected content after last section", id_off)
                last_rank = rank
                try:
                    self._SECTIONS[section_id](self, body)
                except UnsupportedFeatureError as exc:
                    if exc.offset >= body.end:
                        raise DecodeError(UNEXPECTED_END_OF_SECTION, body.end) from None
                    raise
            if body.pos != body.end:
                raise DecodeError("section size mismatch", body.end)
            r.pos = body.end
        self._finish(len(data))
        return self.module

    def _finish(self, end: int) -> None:
        m = self.module
        if len(m.funcs) != len(m.codes):
            raise DecodeError("function and code section have inconsistent lengths", end)
        if m.datas_decoded and m.data_count is not None and m.data_count != len(m.datas):
            raise DecodeError("data count and data section have inconsistent lengths", end)

    # Sections ----------------------------------------------------------------------

    def _custom(self, r: Reader, offset: int) -> None:
        name = r.name()
        if r.pos > r.end:
            raise DecodeError(UNEXPECTED_END_OF_SECTION, r.end)
        start = r.pos
        r.pos = r.end
        # A view, not a copy: debug sections can be most of a module (CPython for WASI:
        # 13 of its 26 MB), and nothing but objdump and tests reads them.
        self.module.customs.append(CustomSection(name, memoryview(self.data)[start:r.end],
                                                 offset))
        if name == "name":
            data, end = self.data, r.end
            self.module.names = NameSection.deferred(
                lambda: _parse_name_section(data, start, end))

    def _type(self, r: Reader) -> None:
        types = self.module.types
        for _ in range(r.u32()):
            off = r.pos
            form = r.byte()
            if form != 0x60:
                if form in _GC_TYPE_FORMS:
                    raise UnsupportedFeatureError(GC, f"type form 0x{form:02x}", off)
                if form & 0x80:
                    # The form is a one-byte s7; a continuation bit makes it too long.
                    raise DecodeError("integer representation too long", off)
                raise DecodeError("malformed function type", off)
            params = tuple(_valtype(r) for _ in range(_count(r)))
            results = tuple(_valtype(r) for _ in range(_count(r)))
            types.append(FuncType(params, results))

    def _import(self, r: Reader) -> None:
        imports = self.module.imports
        for _ in range(r.u32()):
            off = r.pos
            module = r.name()
            name = r.name()
            kind_off = r.pos
            kind = r.byte()
            desc: int | TableType | MemoryType | GlobalType
            if kind == 0:
                desc = r.u32()
            elif kind == 1:
                desc = _table_type(r)
            elif kind == 2:
                desc = _memory_type(r, self.custom_page_sizes)
            elif kind == 3:
                desc = _global_type(r)
            elif kind == 4:
                raise UnsupportedFeatureError(EXCEPTIONS, "a tag import", kind_off)
            else:
                raise DecodeError("malformed import kind", kind_off)
            imports.append(Import(module, name, ExternKind(kind), desc, off))

    def _function(self, r: Reader) -> None:
        funcs = self.module.funcs
        data, pos, limit = r.data, r.pos, r.limit
        count, pos = read_u32(data, pos, limit)
        for _ in range(count):
            # Type indices are mostly one byte (CPython for WASI: 11,000 of them).
            if pos < limit and data[pos] < 0x80:
                funcs.append(data[pos])
                pos += 1
            else:
                index, pos = read_u32(data, pos, limit)
                funcs.append(index)
        r.pos = pos

    def _table(self, r: Reader) -> None:
        tables = self.module.tables
        for _ in range(r.u32()):
            off = r.pos
            if r.peek() == 0x40:
                # The function-references form with an explicit initializer.
                raise UnsupportedFeatureError(TYPED_REFS, "a table initializer", off)
            tables.append(_table_type(r))

    def _memory(self, r: Reader) -> None:
        memories = self.module.memories
        for _ in range(r.u32()):
            memories.append(_memory_type(r, self.custom_page_sizes))

    def _global(self, r: Reader) -> None:
        globals_ = self.module.globals
        for _ in range(r.u32()):
            gtype = _global_type(r)
            globals_.append(Global(gtype, self._const_expr(r)))

    def _export(self, r: Reader) -> None:
        exports = self.module.exports
        for _ in range(r.u32()):
            off = r.pos
            name = r.name()
            kind_off = r.pos
            kind = r.byte()
            if kind > 3:
                if kind == 4:
                    raise UnsupportedFeatureError(EXCEPTIONS, "a tag export", kind_off)
                raise DecodeError("malformed export kind", kind_off)
            exports.append(Export(name, ExternKind(kind), r.u32(), off))

    def _start(self, r: Reader) -> None:
        self.module.start = r.u32()

    def _element(self, r: Reader) -> None:
        elems = self.module.elems
        for _ in range(r.u32()):
            off = r.pos
            flags = r.u32()
            if flags > 7:
                raise DecodeError("malformed elements segment kind", off)
            table = 0
            offset_expr = None
            if flags & 0x01:
                mode = SegmentMode.DECLARATIVE if flags & 0x02 else SegmentMode.PASSIVE
            else:
                mode = SegmentMode.ACTIVE
                if flags & 0x02:
                    table = r.u32()
                offset_expr = self._const_expr(r)
            uses_exprs = bool(flags & 0x04)
            if flags & 0x03:
                if uses_exprs:
                    elem_type = _reftype(r)
                else:
                    kind_off = r.pos
                    if r.byte() != 0x00:
                        raise DecodeError("malformed element kind", kind_off)
                    elem_type = FUNCREF
            else:
                elem_type = FUNCREF
            items: Sequence[ConstExpr]
            count = _count(r)
            if uses_exprs:
                items = [self._const_expr(r) for _ in range(count)]
            else:
                indices: list[int] = []
                offsets: list[int] = []
                add_index, add_offset = indices.append, offsets.append
                data, pos, limit = r.data, r.pos, r.limit
                for _ in range(count):
                    add_offset(pos)
                    # Function indices of one or two bytes inline (CPython for WASI's
                    # table has 5,900), longer ones read.
                    if pos + 1 < limit and data[pos] >= 0x80 and data[pos + 1] < 0x80:
                        add_index((data[pos] & 0x7F) | (data[pos + 1] << 7))
                        pos += 2
                    elif pos < limit and data[pos] < 0x80:
                        add_index(data[pos])
                        pos += 1
                    else:
                        index, pos = read_u32(data, pos, limit)
                        add_index(index)
                r.pos = pos
                items = FuncIndexItems(tuple(indices), tuple(offsets))
            elems.append(ElemSegment(mode, elem_type, items, table, offset_expr, off))

    def _data_count(self, r: Reader) -> None:
        self.module.data_count = r.u32()
        self.has_data_count = True

    def _code(self, r: Reader) -> None:
        codes = self.module.codes
        source = _BodyDecoder(self.data, self.has_data_count, self.disabled)
        deferred = FunctionBody.deferred
        keep = self.keep_bodies
        data = self.data
        count = _count(r)
        if not self.decode_bodies:
            # Only each body's extent (a known-valid module: see decode_module).
            bounds = _body_bounds(data, r.pos, r.limit, count)
            for number in range(count):
                at = bounds[number]
                codes.append(deferred(at, bounds[number + 1] - at, source))
            r.pos = bounds[count]
            return
        check = self.body_checks(self.module) if self.body_checks is not None else None
        if isinstance(check, ResumableBodyCheck) and not keep and \
                _split_allowed(r.limit - r.pos):
            first = self._split_code_section(r, count, check, source)
        else:
            first = 0
        for number in range(first, count):
            self._decode_body(r, number, check, source)

    def _split_code_section(self, r: Reader, count: int, check: ResumableBodyCheck,
                            source: _BodyDecoder) -> int:
        """Decode and check the code section's bodies with a forked child doing the
        second half (by bytes); the number of the first body left to the caller's
        sequential loop: ``count`` when both halves went through, else where the
        child's half begins (a malformed or invalid body there, a child that failed,
        or a section this could not split: all redone in order, so errors come out as
        without the split).  Bodies of the child's half are left deferred, with their
        instruction counts and callees from the child."""
        limit = r.limit
        try:
            starts = _body_bounds(self.data, r.pos, limit, count)
        except DecodeError:
            return 0  # malformed: the sequential loop reports it in order
        half = (r.pos + starts[count]) // 2
        middle = next((i for i, at in enumerate(starts) if at >= half), count)
        if middle in (0, count):
            return 0
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: decode and check the second half, report, exit
            try:
                os.close(read_fd)
                report = pickle.dumps(self._decode_part(starts, middle, count, check, limit))
                with os.fdopen(write_fd, "wb") as out:
                    out.write(report)
            finally:
                os._exit(0)
        os.close(write_fd)
        try:
            codes = self.module.codes
            for number in range(middle):
                self._decode_body(r, number, check, source)
        except BaseException:
            os.close(read_fd)
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            raise
        with os.fdopen(read_fd, "rb") as report_in:
            report = report_in.read()
        os.waitpid(pid, 0)
        r.pos = starts[middle]
        try:
            part = pickle.loads(report) if report else None
        except Exception:  # noqa: BLE001 - a torn report: redo the half
            part = None
        if part is None:
            return middle
        deferred = FunctionBody.deferred
        for number, (instr_count, callees) in enumerate(part, middle):
            at = starts[number]
            body = deferred(at, starts[number + 1] - at, source, instr_count)
            body.direct_callees = callees
            codes.append(body)
        if check.error is None:
            check.checked = count
        r.pos = starts[count]
        return count

    def _decode_part(self, starts: list[int], first: int, count: int,
                     check: ResumableBodyCheck, limit: int
                     ) -> list[tuple[int, tuple[int, ...] | None]] | None:
        """In the child: bodies ``first``.. of the section (which ends at ``limit``)
        decoded and checked; each one's instruction count and callees, or None if any
        is malformed or invalid."""
        check.checked, check.error = first, None
        r = Reader(self.data, starts[first], limit, limit)
        found = []
        try:
            for number in range(first, count):
                r.pos = starts[number]
                body = self._decode_body(r, number, check, None)
                if check.error is not None:
                    return None
                found.append((body.instr_count, body.direct_callees))
        except Exception:  # noqa: BLE001 - the parent redoes this half and reports it
            return None
        return found

    def _decode_body(self, r: Reader, number: int, check: BodyCheck | None,
                     source: _BodyDecoder | None) -> FunctionBody:
        """Decode the body at ``r.pos`` (body ``number``), check it, release it unless
        bodies are kept; appended to the module's codes when ``source`` is given."""
        size_off = r.pos
        body = r.sized(size_off)
        end = body.end
        local_types = _locals(body)
        instrs, pos = decode_instrs(self.data, body.pos, end, self.has_data_count,
                                    self.disabled)
        if pos != end:
            raise DecodeError("section size mismatch", end)
        code = FunctionBody(local_types, instrs, size_off, end - size_off, source)
        if check is not None:
            check(number, code)
        if not self.keep_bodies:
            code.release()
        r.pos = end
        if source is not None:
            self.module.codes.append(code)
        return code

    def _data(self, r: Reader) -> None:
        if not self.decode_bodies:
            # A module known valid: its segments are decoded when first read (most
            # warm starts never do: the code cache has the memory images).
            self.module.datas_source = _DeferredDataSection(self.data, r.pos, r.end,
                                                            self.disabled)
            r.pos = r.end
            return
        self._data_segments(r)

    def _data_segments(self, r: Reader) -> None:
        m = self.module
        datas = m.datas
        data, limit = self.data, r.limit
        for _ in range(_count(r)):
            off = r.pos
            # The common shape first, read inline (CPython for WASI has 24,000 segments):
            # flags 0, offset `i32.const N end`, then the bytes.  Anything else, or
            # anything malformed, goes through the general reading below.
            if off + 2 < limit and data[off] == 0 and data[off + 1] == I32_CONST:
                size = 0
                try:
                    value, pos = read_s32(data, off + 2, limit)
                    if pos < limit and data[pos] == END:
                        size, pos = read_u32(data, pos + 1, limit)
                    else:
                        pos = -1
                except DecodeError:
                    pos = -1
                if 0 < pos and size <= limit - pos:
                    expr = ConstExpr(
                        [_new_tuple(Instr, (I32_CONST, value & 0xFFFFFFFF, off + 1))], off + 1)
                    r.pos = pos + size
                    datas.append(DataSegment(SegmentMode.ACTIVE, data[pos:pos + size], 0,
                                             expr, off))
                    continue
            flags = r.u32()
            if flags > 2:
                raise DecodeError("malformed data segment kind", off)
            memory = 0
            offset_expr = None
            if flags == 1:
                mode = SegmentMode.PASSIVE
            else:
                mode = SegmentMode.ACTIVE
                if flags == 2:
                    memory = r.u32()
                offset_expr = self._const_expr(r)
            payload = r.bytes(r.u32())
            datas.append(DataSegment(mode, payload, memory, offset_expr, off))

    def _const_expr(self, r: Reader) -> ConstExpr:
        start = r.pos
        data = self.data
        if start < len(data) and data[start] == I32_CONST:
            # The common case (data segment offsets: CPython for WASI has 24,000), without
            # the general decoder's set-up; anything else, or malformed, goes through it.
            try:
                value, pos = read_s32(data, start + 1, len(data))
            except DecodeError:
                pos = -1
            if 0 < pos < len(data) and data[pos] == END:
                r.pos = pos + 1
                return ConstExpr([_new_tuple(Instr, (I32_CONST, value & 0xFFFFFFFF, start))],
                                 start)
        instrs, r.pos = decode_instrs(data, start, r.end, True, self.disabled)
        instrs.pop()
        return ConstExpr(instrs, start)

    _SECTIONS = {
        1: _type,
        2: _import,
        3: _function,
        4: _table,
        5: _memory,
        6: _global,
        7: _export,
        8: _start,
        9: _element,
        12: _data_count,
        10: _code,
        11: _data,
    }


class _DeferredDataSection:
    """The data section of a module known valid, decoded when ``WasmModule.datas`` is
    first read (``WasmModule.datas_source``)."""

    __slots__ = ("data", "start", "end", "disabled")

    def __init__(self, data: bytes, start: int, end: int,
                 disabled: dict[int, str] | None) -> None:
        self.data = data
        self.start = start
        self.end = end
        self.disabled = disabled

    def __call__(self) -> list[DataSegment]:
        decoder = _ModuleDecoder.__new__(_ModuleDecoder)
        decoder.data = self.data
        decoder.disabled = self.disabled
        decoder.module = WasmModule(size=len(self.data))
        gc_was_enabled = gc.isenabled()
        gc.disable()  # as decode_module does
        try:
            decoder._data_segments(Reader(self.data, self.start, self.end))
        finally:
            if gc_was_enabled:
                gc.enable()
        return decoder.module.datas


def _count(r: Reader) -> int:
    """A vector length; every element takes at least one byte, so it must fit."""
    n = r.u32()
    if n > r.remaining():
        raise DecodeError(UNEXPECTED_END_OF_SECTION, r.limit)
    return n


def _body_bounds(data: bytes, pos: int, limit: int, count: int) -> list[int]:
    """Where each of the ``count`` function bodies from ``pos`` starts (at its size
    field), and where the last ends (``count + 1`` offsets); raises DecodeError for a
    size that is malformed or runs past ``limit``."""
    bounds = [pos]
    for _ in range(count):
        # Sizes of one or two bytes inline (most bodies), longer ones read.
        if pos + 1 < limit and data[pos] >= 0x80 and data[pos + 1] < 0x80:
            size = (data[pos] & 0x7F) | (data[pos + 1] << 7)
            start = pos + 2
        elif pos < limit and data[pos] < 0x80:
            size = data[pos]
            start = pos + 1
        else:
            size, start = read_u32(data, pos, limit)
        if size > limit - start:
            raise DecodeError("length out of bounds", pos)
        pos = start + size
        bounds.append(pos)
    return bounds


def _locals(r: Reader) -> tuple[int, ...]:
    """A body's local declarations, capped at MAX_LOCALS in total."""
    groups = []
    total = 0
    for _ in range(_count(r)):
        off = r.pos
        n = r.u32()
        total += n
        if total > MAX_LOCALS:
            raise DecodeError("too many locals", off)
        groups.append((n, _valtype(r)))
    if len(groups) == 1:
        n, t = groups[0]
        return (t,) * n
    local_types: list[int] = []
    for n, t in groups:
        local_types.extend((t,) * n)
    return tuple(local_types)


def _parse_name_section(data: bytes, pos: int, end: int) -> NameSection | None:
    """Parse the ``name`` custom section, or return None if it is malformed (custom
    sections never make a module malformed)."""
    module: str | None = None
    functions: dict[int, str] = {}
    local_names: dict[int, dict[int, str]] = {}
    r = Reader(data, pos, end, limit=end)
    try:
        while not r.at_end():
            sub_id = r.byte()
            sub = r.sized(r.pos)
            r.pos = sub.end
            if sub_id == 0:
                module = sub.name()
            elif sub_id == 1:
                functions = _name_map(sub)
            elif sub_id == 2:
                local_names = {}
                for _ in range(_count(sub)):
                    func = sub.u32()
                    local_names[func] = _name_map(sub)
            else:
                continue
            if sub.pos != sub.end:
                return None
    except DecodeError:
        return None
    return NameSection(module, functions, local_names)


def _name_map(r: Reader) -> dict[int, str]:
    result: dict[int, str] = {}
    for _ in range(_count(r)):
        index = r.u32()
        result[index] = r.name()
    return result


def decode_module(data: bytes, features: Features = DEFAULT_FEATURES,
                  keep_bodies: bool = True, decode_bodies: bool = True,
                  body_checks: Callable[[WasmModule], BodyCheck | None] | None = None
                  ) -> WasmModule:
    """Decode a WebAssembly binary module.

    ``keep_bodies=False``: every function body is decoded (so malformed code is found
    here) but released at once (``FunctionBody.release``): a large module's peak memory
    is then its bytes and one body's instructions, not millions of ``Instr`` tuples
    (the validator decodes each body again, and releases what it found released).

    ``decode_bodies=False``: function bodies are not decoded at all, only delimited
    (:meth:`FunctionBody.deferred`); each is decoded when first read.  For a module known
    to be valid (the code cache says it validated): a malformed body would only be found
    when read, and nothing reads most bodies of a large module.  The data section is
    deferred the same way: ``WasmModule.datas`` decodes it when first read.

    ``body_checks``: called with the module decoded so far when the code section is
    reached; the check it returns (if any) sees each body as soon as it is decoded
    (``validator.EarlyBodyChecks``: validating then saves decoding every body again).

    Raises DecodeError for malformed bytes and UnsupportedFeatureError (a DecodeError)
    for constructs of proposals pyjitwasm does not implement or ``features`` switch off;
    nothing else escapes.
    """
    data = bytes(data)
    # The decoder allocates one tuple per instruction and none of them can form a cycle;
    # pausing the cyclic collector meanwhile makes decoding about three times faster.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _ModuleDecoder(data, features, keep_bodies, decode_bodies, body_checks).decode()
    except DecodeError:
        raise
    except RecursionError:
        raise DecodeError("module nesting too deep", 0) from None
    except MemoryError:
        raise DecodeError("module too large to decode", 0) from None
    except Exception as exc:  # noqa: BLE001 - the contract is "only DecodeError escapes"
        # Reaching this is a decoder bug; the fuzz tests look for this message.
        raise DecodeError(f"internal decoder error: {type(exc).__name__}: {exc}", 0) from exc
    finally:
        if gc_was_enabled:
            gc.enable()
