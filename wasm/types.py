"""WebAssembly types as the binary format encodes them.

Value types are plain ints holding their binary type code (``I32 == 0x7F``), which keeps
the decoder, validator and interpreter free of per-value object overhead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

I32 = 0x7F
I64 = 0x7E
F32 = 0x7D
F64 = 0x7C
V128 = 0x7B
FUNCREF = 0x70
EXTERNREF = 0x6F

NUM_TYPES = frozenset({I32, I64, F32, F64})
REF_TYPES = frozenset({FUNCREF, EXTERNREF})
VALUE_TYPES = frozenset({I32, I64, F32, F64, V128, FUNCREF, EXTERNREF})

VALTYPE_NAMES = {
    I32: "i32",
    I64: "i64",
    F32: "f32",
    F64: "f64",
    V128: "v128",
    FUNCREF: "funcref",
    EXTERNREF: "externref",
}
VALTYPE_BY_NAME = {name: code for code, name in VALTYPE_NAMES.items()}

PAGE_SIZE_LOG2 = 16
PAGE_SIZE = 1 << PAGE_SIZE_LOG2
"""The default page size: 64 KiB (a memory type may choose another with the custom page
sizes proposal, see ``MemoryType.page_size_log2``)."""
CUSTOM_PAGE_SIZE_LOG2S = frozenset({0, PAGE_SIZE_LOG2})
"""The page sizes (log2) the custom page sizes proposal allows: 1 byte and 64 KiB."""
# Limits on sizes the spec sets for validation (in pages / elements), default page size.
MAX_PAGES_32 = 1 << 16
MAX_PAGES_64 = 1 << 48
MAX_TABLE_32 = (1 << 32) - 1


def valtype_name(t: int) -> str:
    """Return the text-format name of a value type code (``0x7F`` -> ``"i32"``)."""
    return VALTYPE_NAMES.get(t, f"<type 0x{t:02x}>")


def is_ref(t: int) -> bool:
    """True for funcref and externref."""
    return t in REF_TYPES


class ExternKind(IntEnum):
    """The kinds of entity a module imports or exports, with their binary codes."""

    FUNC = 0
    TABLE = 1
    MEMORY = 2
    GLOBAL = 3


@dataclass(frozen=True, slots=True)
class FuncType:
    """A function signature: parameter and result value types."""

    params: tuple[int, ...]
    results: tuple[int, ...]

    def __str__(self) -> str:
        p = " ".join(valtype_name(t) for t in self.params)
        r = " ".join(valtype_name(t) for t in self.results)
        return f"[{p}] -> [{r}]"


@dataclass(frozen=True, slots=True)
class TableType:
    """A table: element reference type and limits in elements (u64 when ``is_64``)."""

    elem_type: int
    minimum: int
    maximum: int | None
    is_64: bool = False

    @property
    def index_type(self) -> int:
        return I64 if self.is_64 else I32


@dataclass(frozen=True, slots=True)
class MemoryType:
    """A linear memory: limits in pages (u64 when ``is_64``) of ``2**page_size_log2``
    bytes (64 KiB unless the custom page sizes proposal chose 1 byte)."""

    minimum: int
    maximum: int | None
    is_64: bool = False
    page_size_log2: int = PAGE_SIZE_LOG2

    @property
    def index_type(self) -> int:
        return I64 if self.is_64 else I32

    @property
    def page_size(self) -> int:
        """Bytes per page."""
        return 1 << self.page_size_log2

    @property
    def page_limit(self) -> int:
        """The most pages the index type allows: the whole 32- or 64-bit address space
        divided by the page size, and never more than the largest index (so a 32-bit
        memory of 1-byte pages has at most 2**32 - 1 of them)."""
        bits = 64 if self.is_64 else 32
        return min(1 << (bits - self.page_size_log2), (1 << bits) - 1)

    @property
    def minimum_bytes(self) -> int:
        """The size in bytes of a fresh memory of this type."""
        return self.minimum << self.page_size_log2


@dataclass(frozen=True, slots=True)
class GlobalType:
    """A global: its value type and whether it is mutable."""

    valtype: int
    mutable: bool


ExternType = int | TableType | MemoryType | GlobalType
"""An import's description: a type index (functions) or the entity's type."""
