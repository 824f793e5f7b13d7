"""The decoded form of a WebAssembly module.

The decoder produces a ``WasmModule``; the validator checks it; the interpreter and the
IR translator consume it. Index spaces follow the spec: imported entities come first in
each space, so ``func_type_index(i)`` covers imported and defined functions alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, NamedTuple, Protocol, TypeVar, overload

from pyjitwasm.wasm.opcodes import REF_FUNC
from pyjitwasm.wasm.types import ExternKind, ExternType, FuncType, GlobalType, MemoryType, TableType

_Desc = TypeVar("_Desc", int, TableType, MemoryType, GlobalType)


class Instr(NamedTuple):
    """One decoded instruction.

    ``op`` is the opcode (see ``opcodes``), ``imm`` its immediates in the shape
    ``OPS[op].imm`` describes, ``offset`` the byte offset of the opcode in the module.
    """

    op: int
    imm: Any
    offset: int


@dataclass(slots=True)
class ConstExpr:
    """A constant expression (global initializers, segment offsets, element items).

    ``instrs`` excludes the final ``end``.
    """

    instrs: list[Instr]
    offset: int


@dataclass(slots=True)
class Import:
    module: str
    name: str
    kind: ExternKind
    # A type index for functions, else the table, memory or global type.
    desc: ExternType
    offset: int = 0


@dataclass(slots=True)
class Export:
    name: str
    kind: ExternKind
    index: int
    offset: int = 0


@dataclass(slots=True)
class Global:
    type: GlobalType
    init: ConstExpr


class FuncIndexItems(Sequence[ConstExpr]):
    """The items of an element segment in the binary's compact form (a vector of
    function indices): kept as the indices and each item's byte offset, each item made
    as its ``ref.func`` expression only when asked for.  Most segments have this form
    and many are long (a C program's function table: CPython for WASI's has 5,900
    entries), and what reads them wants the indices (``indices``): instantiation,
    C.refs, the validator's range check.  Equal to a list of the same expressions."""

    __slots__ = ("indices", "offsets")

    def __init__(self, indices: tuple[int, ...], offsets: tuple[int, ...]) -> None:
        self.indices = indices
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.indices)

    @overload
    def __getitem__(self, i: int) -> ConstExpr: ...

    @overload
    def __getitem__(self, i: slice) -> list[ConstExpr]: ...

    def __getitem__(self, i: int | slice) -> ConstExpr | list[ConstExpr]:
        if isinstance(i, slice):
            return [self._item(index, offset) for index, offset
                    in zip(self.indices[i], self.offsets[i], strict=True)]
        return self._item(self.indices[i], self.offsets[i])

    def __iter__(self) -> Iterator[ConstExpr]:
        item = self._item
        for index, offset in zip(self.indices, self.offsets, strict=True):
            yield item(index, offset)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FuncIndexItems):
            return self.indices == other.indices and self.offsets == other.offsets
        if isinstance(other, Sequence):
            return len(other) == len(self) and list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"FuncIndexItems({list(self.indices)!r})"

    @staticmethod
    def _item(index: int, offset: int) -> ConstExpr:
        return ConstExpr([Instr(REF_FUNC, index, offset)], offset)


class SegmentMode(Enum):
    ACTIVE = "active"
    PASSIVE = "passive"
    DECLARATIVE = "declarative"


@dataclass(slots=True)
class ElemSegment:
    """An element segment. Items are constant expressions; the binary's compact
    function-index form is a :class:`FuncIndexItems` (one ``ref.func`` expression per
    item when read as expressions)."""

    mode: SegmentMode
    elem_type: int
    items: Sequence[ConstExpr]
    table: int = 0
    offset_expr: ConstExpr | None = None
    offset: int = 0


@dataclass(slots=True)
class DataSegment:
    mode: SegmentMode  # ACTIVE or PASSIVE
    data: bytes
    memory: int = 0
    offset_expr: ConstExpr | None = None
    offset: int = 0


class BodySource(Protocol):
    """Decodes function bodies from a module's bytes (one per decoded module, shared by
    its bodies, so a body costs no closure of its own)."""

    def decode_body(self, offset: int, size: int) -> tuple[tuple[int, ...], list[Instr]]:
        """The declared locals and instructions of the body whose size field is at
        ``offset`` and which takes ``size`` bytes with that field."""


class FunctionBody:
    """A defined function's code.

    ``locals`` holds the declared local types only (parameters come from the type).
    ``instrs`` ends with the function's final ``end``; ``instr_count`` is its length.

    A body decoded from a binary can give its instructions back (:meth:`release`) and
    decodes them again from the binary the next time ``instrs`` is read: ``Module()``
    releases every body once it is validated and the JIT each body it has compiled, so a
    large module is not held as millions of ``Instr`` tuples (CPython 3.12 for WASI:
    2.7M instructions, ~140 bytes each, 355 MB) for functions that never run.

    A *deferred* body (:meth:`deferred`: a module the code cache knows valid, decoded
    without its bodies) is only its byte range until ``locals``, ``instrs`` or
    ``instr_count`` is first read: a warm start decodes just the bodies it compiles.
    """

    __slots__ = ("_locals", "_instrs", "offset", "size", "_instr_count", "_source",
                 "direct_callees")

    def __init__(self, locals: tuple[int, ...], instrs: list[Instr], offset: int, size: int,
                 source: BodySource | None = None) -> None:
        self._locals: tuple[int, ...] | None = locals
        self._instrs: list[Instr] | None = instrs
        self.offset = offset  # of the body's size field
        self.size = size  # bytes, with the size field
        self._instr_count = len(instrs)
        # Decodes the same body again from the module's bytes (None: kept).
        self._source = source
        # The functions it calls directly (call, return_call), each once in first-call
        # order, when validation recorded them (None: not known without decoding).
        self.direct_callees: tuple[int, ...] | None = None

    @classmethod
    def deferred(cls, offset: int, size: int, source: BodySource,
                 instr_count: int = -1) -> FunctionBody:
        """A body not decoded yet: ``source`` decodes it when it is first read.
        ``instr_count``: its instruction count when known (else reading it decodes)."""
        body = cls.__new__(cls)
        body._locals = None
        body._instrs = None
        body.offset = offset
        body.size = size
        body._instr_count = instr_count
        body._source = source
        body.direct_callees = None
        return body

    def _decode(self) -> list[Instr]:
        assert self._source is not None
        local_types, instrs = self._source.decode_body(self.offset, self.size)
        self._locals = local_types
        self._instr_count = len(instrs)
        self._instrs = instrs
        return instrs

    @property
    def locals(self) -> tuple[int, ...]:
        local_types = self._locals
        if local_types is None:
            self._decode()
            local_types = self._locals
            assert local_types is not None
        return local_types

    @property
    def instrs(self) -> list[Instr]:
        instrs = self._instrs
        if instrs is None:
            instrs = self._decode()
        return instrs

    @property
    def instr_count(self) -> int:
        """The number of instructions (decoding a deferred body once to count them)."""
        if self._instr_count < 0:
            self._decode()
            self.release()
        return self._instr_count

    @property
    def decoded(self) -> bool:
        """Whether the body was ever decoded (a deferred one not until first read)."""
        return self._instr_count >= 0

    @property
    def released(self) -> bool:
        """Whether the instructions are not held now (``instrs`` decodes them again)."""
        return self._instrs is None

    def release(self) -> None:
        """Drop the decoded instructions if they can be decoded again (else keep them)."""
        if self._source is not None:
            self._instrs = None

    def __repr__(self) -> str:
        count = self._instr_count if self._instr_count >= 0 else "?"
        return (f"FunctionBody(locals={self._locals!r}, instrs=<{count}>, "
                f"offset={self.offset}, size={self.size})")


@dataclass(slots=True)
class SectionHeader:
    """Where a section sits in the binary: id, offset of its contents, content size."""

    id: int
    offset: int
    size: int
    name: str | None = None  # custom sections only


@dataclass(slots=True)
class CustomSection:
    """A custom section: its name, its contents (a read-only view of the module's
    bytes), the offset of its section id."""

    name: str
    data: bytes | memoryview
    offset: int


class NameSection:
    """The ``name`` custom section: the module's name, and names of functions and their
    locals.  A decoded module's is parsed on first use (:meth:`deferred`): CPython for
    WASI names 11,448 functions, which only backtraces and tools read, and a warm start
    would parse them all in ``Module()``.  A malformed section gives no names at all."""

    __slots__ = ("_module", "_functions", "_locals", "_parse")

    def __init__(self, module: str | None = None, functions: dict[int, str] | None = None,
                 locals: dict[int, dict[int, str]] | None = None) -> None:
        self._module = module
        self._functions = {} if functions is None else functions
        self._locals = {} if locals is None else locals
        self._parse: Callable[[], NameSection | None] | None = None

    @classmethod
    def deferred(cls, parse: Callable[[], NameSection | None]) -> NameSection:
        """Names that ``parse`` gives when first read (None: a malformed section)."""
        names = cls()
        names._parse = parse
        return names

    def _resolve(self) -> None:
        parse = self._parse
        if parse is not None:
            # Two threads may both parse: the same names, written twice.
            parsed = parse()
            if parsed is not None:
                self._module, self._functions, self._locals = \
                    parsed._module, parsed._functions, parsed._locals
            self._parse = None

    @property
    def module(self) -> str | None:
        self._resolve()
        return self._module

    @property
    def functions(self) -> dict[int, str]:
        self._resolve()
        return self._functions

    @property
    def locals(self) -> dict[int, dict[int, str]]:
        self._resolve()
        return self._locals


@dataclass(slots=True)
class WasmModule:
    """A whole decoded module. Lists hold the module's own definitions; imports are kept
    separately, and the ``*_types`` helpers give the full index spaces."""

    types: list[FuncType] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    funcs: list[int] = field(default_factory=list)  # type index of each defined function
    tables: list[TableType] = field(default_factory=list)
    memories: list[MemoryType] = field(default_factory=list)
    globals: list[Global] = field(default_factory=list)
    exports: list[Export] = field(default_factory=list)
    start: int | None = None
    elems: list[ElemSegment] = field(default_factory=list)
    datas: list[DataSegment] = field(default_factory=list)
    data_count: int | None = None
    codes: list[FunctionBody] = field(default_factory=list)
    customs: list[CustomSection] = field(default_factory=list)
    names: NameSection = field(default_factory=NameSection)
    sections: list[SectionHeader] = field(default_factory=list)  # in binary order
    size: int = 0  # bytes in the binary
    # A module decoded as known valid (``decode_module(decode_bodies=False)``) leaves its
    # data section undecoded: reading ``datas`` decodes it then (CPython for WASI: 24,000
    # segments, 70 ms, which a warm start whose memory images come from the code cache
    # never needs).  See :func:`_deferrable_datas`.
    datas_source: Callable[[], list[DataSegment]] | None = field(
        default=None, repr=False, compare=False)
    # ``translate.vmctx.func_ref_indices``, kept once worked out (the code, the vmctx
    # layout and the instance template each ask; CPython for WASI: 5,900 functions).  A
    # module is not changed once decoded.
    func_ref_numbers: dict[int, int] | None = field(default=None, repr=False, compare=False)

    # Index spaces (imports first) -------------------------------------------------

    def imported(self, kind: ExternKind) -> list[Import]:
        return [imp for imp in self.imports if imp.kind == kind]

    @property
    def num_imported_funcs(self) -> int:
        return sum(1 for imp in self.imports if imp.kind == ExternKind.FUNC)

    def _imported_descs(self, kind: ExternKind, desc_type: type[_Desc]) -> list[_Desc]:
        """The descriptions of the imports of one kind (the decoder pairs each kind with
        its description's type: a type index for functions, else the entity's type)."""
        descs: list[_Desc] = []
        for imp in self.imports:
            if imp.kind == kind:
                desc = imp.desc
                assert isinstance(desc, desc_type), (kind, desc)
                descs.append(desc)
        return descs

    def func_type_indices(self) -> list[int]:
        """Type index of every function in the function index space."""
        return self._imported_descs(ExternKind.FUNC, int) + self.funcs

    def func_types(self) -> list[FuncType]:
        return [self.types[i] for i in self.func_type_indices()]

    def table_types(self) -> list[TableType]:
        return self._imported_descs(ExternKind.TABLE, TableType) + self.tables

    def memory_types(self) -> list[MemoryType]:
        return self._imported_descs(ExternKind.MEMORY, MemoryType) + self.memories

    def global_types(self) -> list[GlobalType]:
        imported = self._imported_descs(ExternKind.GLOBAL, GlobalType)
        return imported + [g.type for g in self.globals]

    def release_bodies(self) -> None:
        """Drop every function body's decoded instructions that can be decoded again
        (see :class:`FunctionBody`)."""
        for body in self.codes:
            body.release()

    def func_name(self, index: int) -> str | None:
        """The function's name from the name section, if it has one."""
        return self.names.functions.get(index)

    @property
    def datas_decoded(self) -> bool:
        """Whether ``datas`` holds the data segments now (not deferred, or read once)."""
        return self.datas_source is None


def _deferrable_datas() -> property:
    """``WasmModule.datas`` as a property over the dataclass's own slot: the list once
    decoded, the decoding done on first read while ``datas_source`` is set.  (A property
    rather than a renamed field, so ``WasmModule(datas=...)`` and every reader stay as
    they are; the slot descriptor the dataclass made keeps the value.)"""
    slot = WasmModule.__dict__["datas"]

    def get(module: WasmModule) -> list[DataSegment]:
        source = module.datas_source
        if source is not None:
            slot.__set__(module, source())
            module.datas_source = None
        datas: list[DataSegment] = slot.__get__(module, WasmModule)
        return datas

    def set_(module: WasmModule, datas: list[DataSegment]) -> None:
        slot.__set__(module, datas)
        # (Unset while the dataclass's __init__ runs: it sets datas_source after datas.)
        if hasattr(module, "datas_source"):
            module.datas_source = None

    return property(get, set_, doc="The data segments (decoded on first read when deferred).")


setattr(WasmModule, "datas", _deferrable_datas())  # noqa: B010 - mypy sees the field's type


def declared_functions(module: WasmModule, more: Iterable[ConstExpr] = ()) -> set[int]:
    """The functions ``module`` references outside function bodies, the spec's C.refs:
    those exported, or named by ``ref.func`` in a global initializer, an element
    segment's items or ``more`` (expressions the caller adds: the validator, the
    segments' offsets).  What ``ref.func`` in a body may name, and what can become a
    funcref (``translate/vmctx.func_ref_indices``)."""
    refs = {e.index for e in module.exports if e.kind == ExternKind.FUNC}
    exprs: list[ConstExpr] = [g.init for g in module.globals]
    for seg in module.elems:
        if isinstance(seg.items, FuncIndexItems):
            refs.update(seg.items.indices)  # (the compact form: no expression to look at)
        else:
            exprs.extend(seg.items)
    exprs.extend(more)
    for expr in exprs:
        for instr in expr.instrs:
            if instr.op == REF_FUNC:
                refs.add(instr.imm)
    return refs
