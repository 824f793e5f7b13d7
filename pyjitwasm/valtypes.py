"""Type objects of the public API, shaped like wasmtime-py's (ValType, FuncType, ...)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self

from pyjitwasm.errors import WasmValueError
from pyjitwasm.wasm import types as wt

_MAX_U64 = (1 << 64) - 1


class ValType:
    """A WebAssembly value type. Build with ``ValType.i32()`` and friends."""

    __slots__ = ("_code",)
    _cache: dict[int, ValType] = {}

    def __init__(self, code: int) -> None:
        if code not in wt.VALUE_TYPES:
            raise ValueError(f"not a value type code: {code!r}")
        self._code = code

    @classmethod
    def _of(cls, code: int) -> ValType:
        t = cls._cache.get(code)
        if t is None:
            t = cls._cache[code] = cls(code)
        return t

    @staticmethod
    def i32() -> ValType:
        return ValType._of(wt.I32)

    @staticmethod
    def i64() -> ValType:
        return ValType._of(wt.I64)

    @staticmethod
    def f32() -> ValType:
        return ValType._of(wt.F32)

    @staticmethod
    def f64() -> ValType:
        return ValType._of(wt.F64)

    @staticmethod
    def v128() -> ValType:
        return ValType._of(wt.V128)

    @staticmethod
    def funcref() -> ValType:
        return ValType._of(wt.FUNCREF)

    @staticmethod
    def externref() -> ValType:
        return ValType._of(wt.EXTERNREF)

    @property
    def code(self) -> int:
        """The binary type code (``0x7F`` for i32)."""
        return self._code

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ValType) and other._code == self._code

    def __hash__(self) -> int:
        return hash(("ValType", self._code))

    def __str__(self) -> str:
        return wt.valtype_name(self._code)

    def __repr__(self) -> str:
        return f"ValType.{self}()"


def to_code(t: ValType | int | str) -> int:
    """A value type code from a ValType, a code or a text name."""
    if isinstance(t, ValType):
        return t.code
    if isinstance(t, str) and t in wt.VALTYPE_BY_NAME:
        return wt.VALTYPE_BY_NAME[t]
    if isinstance(t, int) and t in wt.VALUE_TYPES:
        return t
    raise TypeError(f"expected a ValType, got {t!r}")


class Limits:
    """Size limits (wasmtime-py's ``Limits``): a minimum and an optional maximum."""

    __slots__ = ("min", "max")

    def __init__(self, min: int, max: int | None = None) -> None:  # noqa: A002
        self.min = min
        self.max = max

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Limits) and (self.min, self.max) == (other.min, other.max)

    def __repr__(self) -> str:
        return f"Limits({self.min}, {self.max})"


def _limits(limits_or_minimum: Limits | int, maximum: int | None) -> tuple[int, int | None]:
    if isinstance(limits_or_minimum, Limits):
        if maximum is not None:
            raise TypeError("give either a Limits or a minimum and maximum, not both")
        lo, hi = limits_or_minimum.min, limits_or_minimum.max
    else:
        lo, hi = limits_or_minimum, maximum
    if not isinstance(lo, int) or lo < 0 or lo > _MAX_U64:
        raise WasmValueError(f"invalid minimum {lo!r}")
    if hi is not None and (not isinstance(hi, int) or hi < lo or hi > _MAX_U64):
        raise WasmValueError(f"invalid maximum {hi!r}")
    return lo, hi


class _WasmTypeWrapper:
    """Shared behaviour of the API type objects: each wraps one immutable wasm-layer type,
    and two are equal when the wrapped types are."""

    __slots__ = ("_wasm",)

    # The wrapped wasm-layer type (wasm.types.FuncType, TableType, ...; per subclass).
    _wasm: Any

    @classmethod
    def _from_wasm(cls, wasm_type: Any) -> Self:
        obj = cls.__new__(cls)
        obj._wasm = wasm_type
        return obj

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _WasmTypeWrapper) and type(other) is type(self) \
            and other._wasm == self._wasm

    def __hash__(self) -> int:
        return hash(self._wasm)


class _Limited(_WasmTypeWrapper):
    """Memory and table types: limits (u64 for 64-bit ones) and the index width."""

    __slots__ = ()

    @property
    def minimum(self) -> int:
        return self._wasm.minimum

    @property
    def maximum(self) -> int | None:
        return self._wasm.maximum

    @property
    def limits(self) -> Limits:
        return Limits(self._wasm.minimum, self._wasm.maximum)

    @property
    def is_64(self) -> bool:
        return self._wasm.is_64


class FuncType(_WasmTypeWrapper):
    """A function signature."""

    __slots__ = ()

    def __init__(self, params: Iterable[ValType], results: Iterable[ValType]) -> None:
        self._wasm = wt.FuncType(
            tuple(to_code(p) for p in params), tuple(to_code(r) for r in results)
        )

    @property
    def params(self) -> list[ValType]:
        return [ValType._of(t) for t in self._wasm.params]

    @property
    def results(self) -> list[ValType]:
        return [ValType._of(t) for t in self._wasm.results]

    def __str__(self) -> str:
        return str(self._wasm)

    def __repr__(self) -> str:
        return f"FuncType({self.params!r}, {self.results!r})"


class MemoryType(_Limited):
    """A memory type: limits in pages, whether it is a 64-bit memory, and its page size
    (``2**page_size_log2`` bytes: 64 KiB, or 1 byte with the custom page sizes proposal,
    which ``Config.wasm_custom_page_sizes`` enables for memories a store creates)."""

    __slots__ = ()

    def __init__(
        self,
        limits_or_minimum: Limits | int,
        maximum: int | None = None,
        is_64: bool = False,
        shared: bool = False,
        page_size_log2: int = wt.PAGE_SIZE_LOG2,
    ) -> None:
        if shared:
            raise WasmValueError("shared memories need the threads proposal, which is not "
                                 "implemented")
        if isinstance(page_size_log2, bool) or page_size_log2 not in wt.CUSTOM_PAGE_SIZE_LOG2S:
            raise WasmValueError(f"invalid custom page size: page_size_log2 must be 0 or "
                                 f"16, got {page_size_log2!r}")
        lo, hi = _limits(limits_or_minimum, maximum)
        wasm = wt.MemoryType(lo, hi, bool(is_64), page_size_log2)
        cap = wasm.page_limit
        if lo > cap or (hi is not None and hi > cap):
            raise WasmValueError(f"memory size must be at most {cap} pages")
        self._wasm = wasm

    @property
    def page_size(self) -> int:
        """Bytes per page."""
        return self._wasm.page_size

    @property
    def page_size_log2(self) -> int:
        return self._wasm.page_size_log2

    @property
    def is_shared(self) -> bool:
        return False

    def __repr__(self) -> str:
        extra = "" if self.page_size_log2 == wt.PAGE_SIZE_LOG2 \
            else f", page_size_log2={self.page_size_log2}"
        return f"MemoryType({self.minimum}, {self.maximum}, is_64={self.is_64}{extra})"


class TableType(_Limited):
    """A table type: element type and limits in elements."""

    __slots__ = ()

    def __init__(
        self,
        valtype: ValType,
        limits_or_minimum: Limits | int,
        maximum: int | None = None,
        is_64: bool = False,
    ) -> None:
        code = to_code(valtype)
        if code not in wt.REF_TYPES:
            raise WasmValueError(f"table elements must be a reference type, not {valtype}")
        lo, hi = _limits(limits_or_minimum, maximum)
        if not is_64 and (lo > wt.MAX_TABLE_32 or (hi is not None and hi > wt.MAX_TABLE_32)):
            raise WasmValueError("table size must fit in 32 bits")
        self._wasm = wt.TableType(code, lo, hi, bool(is_64))

    @property
    def element(self) -> ValType:
        return ValType._of(self._wasm.elem_type)

    def __repr__(self) -> str:
        return f"TableType({self.element!r}, {self.minimum}, {self.maximum})"


class GlobalType(_WasmTypeWrapper):
    """A global's type: content value type and mutability."""

    __slots__ = ()

    def __init__(self, valtype: ValType, mutable: bool) -> None:
        self._wasm = wt.GlobalType(to_code(valtype), bool(mutable))

    @property
    def content(self) -> ValType:
        return ValType._of(self._wasm.valtype)

    @property
    def mutable(self) -> bool:
        return self._wasm.mutable

    def __repr__(self) -> str:
        return f"GlobalType({self.content!r}, mutable={self.mutable})"


ExternTypeObj = FuncType | TableType | MemoryType | GlobalType


class ImportType:
    """One import of a module: ``module``, ``name`` and ``type``."""

    __slots__ = ("module", "name", "type")

    def __init__(self, module: str, name: str, type: ExternTypeObj) -> None:  # noqa: A002
        self.module = module
        self.name = name
        self.type = type

    def __repr__(self) -> str:
        return f"ImportType({self.module!r}, {self.name!r}, {self.type!r})"


class ExportType:
    """One export of a module: ``name`` and ``type``."""

    __slots__ = ("name", "type")

    def __init__(self, name: str, type: ExternTypeObj) -> None:  # noqa: A002
        self.name = name
        self.type = type

    def __repr__(self) -> str:
        return f"ExportType({self.name!r}, {self.type!r})"


def wrap_type(t: Any) -> ExternTypeObj:
    """The API type object for a wasm-layer extern type."""
    if isinstance(t, wt.FuncType):
        return FuncType._from_wasm(t)
    if isinstance(t, wt.TableType):
        return TableType._from_wasm(t)
    if isinstance(t, wt.MemoryType):
        return MemoryType._from_wasm(t)
    if isinstance(t, wt.GlobalType):
        return GlobalType._from_wasm(t)
    raise TypeError(f"not an extern type: {t!r}")
