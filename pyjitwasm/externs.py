"""Store-owned objects of the API: Func, Memory, Table, Global, and the Caller a host
function may receive. Each wraps one runtime object and checks that it is used with
the store that owns it. The conversions between Python values and runtime values are
here too, since references convert to and from these objects."""

from __future__ import annotations

import ctypes
import math
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Self, cast

from pyjitwasm.errors import ArgumentTypeError, WasmIndexError, WasmTypeError, WasmValueError
from pyjitwasm.runtime.floats import f32_round
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.instance import FuncInstance, ModuleInstance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.store import Store, StoreObject, store_of
from pyjitwasm.valtypes import FuncType, GlobalType, MemoryType, TableType
from pyjitwasm.values import Val, float_value, int_bits
from pyjitwasm.wasm import types as wt
from pyjitwasm.wasm.errors import WasmError
from pyjitwasm.wasm.types import PAGE_SIZE_LOG2

M32 = 0xFFFFFFFF


# Conversions ----------------------------------------------------------------------------


def to_raw(store: Store, code: int, value: Any) -> Any:
    """Convert a Python value or Val to the runtime representation of type ``code``.

    Raises TypeError for a value of the wrong type, ValueError for an out-of-range int
    or a Func of another store.
    """
    if isinstance(value, Val):
        if value._code != code:
            raise TypeError(f"expected a {wt.valtype_name(code)} value, got {value.type}")
        value = value._raw
        if code != wt.FUNCREF:
            return value
    if code == wt.I32:
        return int_bits(value, 32)
    if code == wt.I64:
        return int_bits(value, 64)
    if code == wt.F64:
        return float_value(value)
    if code == wt.F32:
        x = float_value(value)
        return x if math.isnan(x) else f32_round(x)
    if code == wt.FUNCREF:
        if value is None:
            return None
        if not isinstance(value, Func):
            raise TypeError(f"expected a Func or None for a funcref, got {type(value).__name__}")
        value._check_store(store)
        return value._rt
    if code == wt.EXTERNREF:
        return value
    if code == wt.V128:
        return int_bits(value, 128)
    raise TypeError(f"unsupported value type {code!r}")


def to_python(store: Store, code: int, raw: Any) -> Any:
    """Convert a runtime value of type ``code`` to the Python value the API returns."""
    if code == wt.I32:
        return raw - (1 << 32) if raw & 0x80000000 else raw
    if code == wt.I64:
        return raw - (1 << 64) if raw & (1 << 63) else raw
    if code == wt.FUNCREF:
        return None if raw is None else wrap_func(store, raw)
    return raw


def to_val(store: Store, code: int, raw: Any) -> Val:
    """Wrap a runtime value of type ``code`` as a Val (exact bits kept)."""
    if code == wt.FUNCREF and raw is not None:
        return Val(code, wrap_func(store, raw))
    return Val(code, raw)


def wrap_func(store: Store, rt: FuncInstance) -> Func:
    """The Func of a runtime function."""
    return Func._wrap(store, rt)


# Store objects --------------------------------------------------------------------------


class Caller:
    """What a host function defined with ``access_caller=True`` receives first: the
    calling instance's exports (``get``/``[]``) and the store's data. Valid only during
    the call; it can also be passed where a store is expected."""

    # An engine may give the calling instance lazily: ``_lookup(_vmctx)`` finds it on the
    # first ``get`` (most host functions never ask, so the call does not pay for it).
    __slots__ = ("_store", "_instance", "_valid", "_vmctx", "_lookup")

    def __init__(self, store: Store, instance: ModuleInstance | None) -> None:
        self._store = store
        self._instance = instance
        self._valid = True
        self._vmctx = 0
        self._lookup: Callable[[int], ModuleInstance | None] | None = None

    @classmethod
    def _lazy(cls, store: Store, vmctx: int,
              lookup: Callable[[int], ModuleInstance | None]) -> Caller:
        """A Caller whose instance is ``lookup(vmctx)``, resolved on first use."""
        caller = cls.__new__(cls)
        caller._store = store
        caller._instance = None
        caller._valid = True
        caller._vmctx = vmctx
        caller._lookup = lookup
        return caller

    def _end(self) -> None:
        """The host call is over: the Caller is no longer usable."""
        self._valid = False

    def _live(self) -> Store:
        if not self._valid:
            raise WasmError("a Caller may only be used during the host call it was given to")
        return self._store._live()  # the store itself, also when given its weak proxy

    _as_store = _live

    def get(self, name: str) -> Func | Memory | Table | Global | None:
        """The calling instance's export ``name``, or None (also when called from the host,
        and once the host call is over, as in wasmtime-py)."""
        if not self._valid:
            return None
        store = self._store
        instance = self._instance
        if instance is None:
            if self._lookup is None:
                return None
            instance = self._instance = self._lookup(self._vmctx)
            self._lookup = None
            if instance is None:
                return None
        item = instance.exports.get(name)
        return None if item is None else wrap_extern(store, item)

    def __getitem__(self, name: str) -> Func | Memory | Table | Global:
        item = self.get(name)
        if item is None:
            raise KeyError(name)
        return item

    @property
    def data(self) -> Any:
        return self._live().data

    @data.setter
    def data(self, value: Any) -> None:
        self._live().data = value

    @property
    def store(self) -> Store:
        return self._live()


class HostAdapter:
    """The runtime face of a host function defined through the API (``FuncInstance.host``):
    calling it converts runtime values to Python values, calls ``fn`` (with a Caller
    first when ``access_caller``) and converts the results back, checking their types.

    Engines that generate specialised entries (the JIT, ``runtime/jit/hostcalls.py``)
    read the attributes instead and must keep exactly these semantics: ``to_python`` and
    ``to_raw`` are the API's converters, ``new_caller(store, vmctx, lookup)`` makes a
    Caller resolving its instance lazily and ``end_caller(caller)`` invalidates it."""

    __slots__ = ("store", "ftype", "fn", "access_caller")

    to_python = staticmethod(to_python)
    to_raw = staticmethod(to_raw)
    new_caller = staticmethod(Caller._lazy)
    end_caller = staticmethod(Caller._end)

    def __init__(self, store: Store, ftype: wt.FuncType, fn: Callable[..., Any],
                 access_caller: bool) -> None:
        self.store = store
        self.ftype = ftype
        self.fn = fn
        self.access_caller = access_caller

    def __call__(self, instance: ModuleInstance | None, args: list[Any]) -> list[Any]:
        store = self.store
        py_args = [to_python(store, t, a) for t, a in zip(self.ftype.params, args, strict=True)]
        if self.access_caller:
            caller = Caller(store, instance)
            try:
                out = self.fn(caller, *py_args)
            finally:
                caller._valid = False
        else:
            out = self.fn(*py_args)
        return results_to_raw(store, self.ftype.results, out)


def results_to_raw(store: Store, results: tuple[int, ...], out: Any) -> list[Any]:
    """Convert what a host function returned to its result list (checking types).

    Several results come as a list or tuple. Errors follow wasmtime-py: a value from a
    function without results, or the wrong number of values, is a WasmTypeError (a
    WasmtimeError and a TypeError); something that is not a sequence is a TypeError."""
    if not results:
        if out is not None:
            raise WasmTypeError(f"host function produced results ({out!r}) but its type "
                                "has none")
        return []
    if len(results) == 1:
        return [to_raw(store, results[0], out)]
    if not isinstance(out, tuple | list):
        raise TypeError(f"host function must return a list or tuple of {len(results)} "
                        f"values, got {type(out).__name__}")
    if len(out) != len(results):
        raise WasmTypeError(f"host function returned the wrong number of results: "
                            f"{len(out)} instead of {len(results)}")
    return [to_raw(store, t, v) for t, v in zip(results, out, strict=True)]


class Func(StoreObject[FuncInstance]):
    """A function: defined by an instance, or by the host with
    ``Func(store, ty, callable, access_caller=False)``. Call it as ``func(store, *args)``."""

    # _fast: a per-signature caller taking and returning Python values (JIT engine).
    __slots__ = ("_fast",)

    @classmethod
    def _wrap(cls, store: Store, rt: FuncInstance) -> Self:
        ref = rt.api
        api = None if ref is None else ref()
        if api is None:
            api = super()._wrap(store, rt)
            api._fast = None
        return api

    def __init__(
        self,
        store: Store,
        ty: FuncType,
        func: Callable[..., Any],
        access_caller: bool = False,
    ) -> None:
        store = store_of(store)
        if not isinstance(ty, FuncType):
            raise ArgumentTypeError("expected a FuncType")
        if not callable(func):
            raise TypeError("expected a callable")
        # The runtime function (owned by the store's context) must not keep the store
        # alive: its host adapter holds a weak proxy of it.
        host = HostAdapter(cast(Store, weakref.proxy(store)), ty._wasm, func, access_caller)
        self._adopt(store, FuncInstance(ty._wasm, store._ctx, host=host))
        self._fast = None


    def type(self, store: Any) -> FuncType:
        self._check_store(store)
        return FuncType._from_wasm(self._rt.type)

    @property
    def param_arity(self) -> int:
        return len(self._rt.type.params)

    @property
    def result_arity(self) -> int:
        return len(self._rt.type.results)

    def _raw_args(self, store: Store, args: Sequence[Any]) -> list[Any]:
        params = self._rt.type.params
        if len(args) != len(params):
            raise WasmTypeError(f"expected {len(params)} arguments, got {len(args)}")
        return [to_raw(store, t, a) for t, a in zip(params, args, strict=True)]

    def __call__(self, store: Any, *args: Any) -> Any:
        """Call with Python values or Vals; return None, one value, or (several results)
        a list, as wasmtime-py does. A wrong number of arguments is a WasmTypeError."""
        fast = self._fast
        if fast is not None and store is self._store:
            if len(args) != len(self._rt.type.params):
                self._raw_args(store, args)  # raises the arity error
            return fast(*args)
        store = self._check_store(store)
        made = store._engine.backend.api_caller(self._rt, store, to_raw, to_python)
        if made is not None:
            if len(self._rt.type.results) > 1:
                made = _results_as_list(made)
            self._fast = made
            return self(store, *args)
        raw = store._engine.backend.invoke(self._rt, self._raw_args(store, args))
        results = self._rt.type.results
        if not results:
            return None
        if len(results) == 1:
            return to_python(store, results[0], raw[0])
        return [to_python(store, t, v) for t, v in zip(results, raw, strict=True)]

    def call_vals(self, store: Any, args: Sequence[Any]) -> list[Val]:
        """Call and return every result as a typed Val (float bits kept exactly)."""
        store = self._check_store(store)
        raw = store._engine.backend.invoke(self._rt, self._raw_args(store, args))
        return [to_val(store, t, v) for t, v in zip(self._rt.type.results, raw, strict=True)]

    def __repr__(self) -> str:
        return f"<Func {self._rt.type}>"


def _results_as_list(call: Callable[..., Any]) -> Callable[..., Any]:
    """A caller returning several results as a list (the backend's returns a tuple)."""
    def as_list(*args: Any) -> list[Any]:
        return list(call(*args))
    return as_list


class Memory(StoreObject[MemoryInstance]):
    """A linear memory.

    Copies: ``read(store, start, stop)`` and ``write(store, data, start)`` index like
    Python slices (negative offsets count from the end). Zero-copy: ``buffer(store)`` (a
    memoryview), ``get_buffer_ptr(store)`` (a ctypes array, e.g. for ``numpy.frombuffer``)
    and ``data_ptr(store)`` (a ctypes pointer). Each covers the memory as it was when
    taken: after a grow, take a new one. An old one never dangles (it keeps the old
    storage alive; it just no longer tracks the memory), but a ``data_ptr`` is a raw
    pointer, so indexing it past ``data_len`` is unchecked, as in wasmtime-py.
    """

    __slots__ = ()

    def __init__(self, store: Store, ty: MemoryType) -> None:
        store = store_of(store)
        if not isinstance(ty, MemoryType):
            raise ArgumentTypeError("expected a MemoryType")
        if ty.page_size_log2 != PAGE_SIZE_LOG2 and not store._engine.config.wasm_custom_page_sizes:
            # As for a module's memory: a page size needs the proposal switched on.
            raise WasmError("a memory page size requires the custom page sizes proposal, "
                            "which is disabled (enable Config.wasm_custom_page_sizes)")
        try:
            rt = store._engine.backend.new_memory(ty._wasm, store._ctx)
        except MemoryError as exc:
            raise WasmError(str(exc)) from None
        self._adopt(store, rt)


    def type(self, store: Any) -> MemoryType:
        """The memory's type, with its current size as the minimum."""
        self._check_store(store)
        return MemoryType._from_wasm(self._rt.current_type())

    def size(self, store: Any) -> int:
        """Current size in pages (see ``page_size``)."""
        self._check_store(store)
        return self._rt.pages

    def page_size(self, store: Any) -> int:
        """Bytes per page: 64 KiB, or 1 for a memory of the custom page sizes proposal."""
        self._check_store(store)
        return self._rt.type.page_size

    def page_size_log2(self, store: Any) -> int:
        self._check_store(store)
        return self._rt.type.page_size_log2

    def data_len(self, store: Any) -> int:
        """Current size in bytes."""
        self._check_store(store)
        return self._rt.byte_size

    def grow(self, store: Any, delta: int) -> int:
        """Grow by ``delta`` pages and return the old size; WasmError if it cannot grow
        (a negative ``delta`` is a WasmValueError, a non-int a TypeError)."""
        self._check_store(store)
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"delta must be an int, got {type(delta).__name__}")
        if delta < 0:
            raise WasmValueError("cannot grow a memory by a negative number of pages")
        old = self._rt.grow(delta)
        if old < 0:
            raise WasmError(f"failed to grow memory by {delta} pages")
        return old

    def read(self, store: Any, start: int | None = 0, stop: int | None = None) -> bytearray:
        """A copy of bytes ``[start:stop]`` with slice semantics: negative offsets count
        from the end, and a range past the end is clipped (an empty result, no error)."""
        self._check_store(store)
        lo, hi, _ = slice(start, stop).indices(self._rt.byte_size)
        if hi <= lo:
            return bytearray()
        with self._rt.view() as view:
            return bytearray(view[lo:hi])

    def write(self, store: Any, value: bytes | bytearray | memoryview, start: int | None = 0,
              ) -> int:
        """Copy ``value`` into memory at ``start`` (negative: from the end). Returns the
        number of bytes written; IndexError (nothing written) when ``start`` is past the
        end or the bytes do not fit."""
        self._check_store(store)
        size = self._rt.byte_size
        lo = slice(start, None).indices(size)[0]
        if lo >= size:
            raise WasmIndexError(f"write at offset {lo} is outside the memory ({size} bytes)")
        with memoryview(value) as src, src.cast("B") as data:
            n = len(data)
            if lo + n > size:
                raise WasmIndexError(f"writing {n} bytes at offset {lo} overruns the memory "
                                     f"({size} bytes)")
            if n:
                with self._rt.view() as view:
                    view[lo:lo + n] = data
            return n

    def buffer(self, store: Any) -> memoryview:
        """A zero-copy memoryview of the memory. Growing the memory invalidates it (the
        view keeps the old contents and size); take a new one after any grow."""
        self._check_store(store)
        return self._rt.view()

    def get_buffer_ptr(self, store: Any, size: int | None = None,
                       offset: int = 0) -> ctypes.Array[ctypes.c_ubyte]:
        """A zero-copy ctypes array over ``size`` bytes from ``offset`` (default: to the
        end), e.g. ``numpy.frombuffer(memory.get_buffer_ptr(store), dtype=numpy.uint8)``.
        Invalidated by growth like ``buffer``; IndexError when the range is outside."""
        self._check_store(store)
        total = self._rt.byte_size
        if size is None:
            size = total - offset
        if offset < 0 or size < 0 or offset + size > total:
            raise WasmIndexError(f"{size} bytes at offset {offset} are outside the memory "
                                 f"({total} bytes)")
        # from_buffer keeps the view, and so the storage, alive as long as the array.
        return (ctypes.c_ubyte * size).from_buffer(self._rt.view(), offset)

    def data_ptr(self, store: Any) -> ctypes._Pointer[ctypes.c_ubyte]:
        """A ctypes pointer to byte 0 (wasmtime-py's ``data_ptr``): bounds-check every
        access against ``data_len`` yourself. Take a new one after the memory grows."""
        array = self.get_buffer_ptr(store)
        return ctypes.cast(array, ctypes.POINTER(ctypes.c_ubyte))

    def __repr__(self) -> str:
        return f"<Memory {self._rt.pages} pages>"


class Table(StoreObject[TableInstance]):
    """A table of funcref or externref elements."""

    __slots__ = ()

    def __init__(self, store: Store, ty: TableType, init: Any) -> None:
        store = store_of(store)
        if not isinstance(ty, TableType):
            raise ArgumentTypeError("expected a TableType")
        raw = to_raw(store, ty._wasm.elem_type, init)
        try:
            rt = store._engine.backend.new_table(ty._wasm, store._ctx, raw)
        except MemoryError as exc:
            raise WasmError(str(exc)) from None
        self._adopt(store, rt)


    def _elem(self) -> int:
        return self._rt.type.elem_type

    def type(self, store: Any) -> TableType:
        """The table's type, with its current size as the minimum."""
        self._check_store(store)
        return TableType._from_wasm(self._rt.current_type())

    def size(self, store: Any) -> int:
        self._check_store(store)
        return self._rt.size

    def _index(self, idx: int, n: int = 1) -> None:
        if not isinstance(idx, int) or idx < 0 or idx + n > self._rt.size:
            raise WasmIndexError("table index out of bounds")

    def get(self, store: Any, idx: int) -> Any:
        """Element ``idx``: a Func, the externref's object, or None for null -- and None
        for an index past the end, as in wasmtime-py."""
        store = self._check_store(store)
        if isinstance(idx, int) and 0 <= idx < self._rt.size:
            return to_python(store, self._elem(), self._rt.elements[idx])
        if not isinstance(idx, int):
            raise TypeError(f"table index must be an int, got {type(idx).__name__}")
        return None

    def set(self, store: Any, idx: int, val: Any) -> None:
        """Set element ``idx``; WasmIndexError (an IndexError and a WasmtimeError) when
        it is past the end."""
        store = self._check_store(store)
        raw = to_raw(store, self._elem(), val)
        self._index(idx)
        self._rt.elements[idx] = raw

    def grow(self, store: Any, delta: int, init: Any) -> int:
        """Grow by ``delta`` elements set to ``init``; return the old size."""
        store = self._check_store(store)
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError(f"delta must be an int, got {type(delta).__name__}")
        raw = to_raw(store, self._elem(), init)
        if delta < 0:
            raise WasmValueError("cannot grow a table by a negative number of elements")
        old = self._rt.grow(delta, raw)
        if old < 0:
            raise WasmError(f"failed to grow table by {delta} elements")
        return old

    def fill(self, store: Any, start: int, val: Any, n: int) -> None:
        """Set ``n`` elements from ``start`` to ``val``."""
        store = self._check_store(store)
        raw = to_raw(store, self._elem(), val)
        self._index(start, n)
        self._rt.elements[start : start + n] = [raw] * n

    def copy(self, store: Any, dst: int, src_table: Table, src: int, n: int) -> None:
        """Copy ``n`` elements from ``src_table[src:]`` to ``self[dst:]`` (overlap-safe)."""
        store = self._check_store(store)
        src_table._check_store(store)
        if src_table._elem() != self._elem():
            raise TypeError("tables have different element types")
        src_table._index(src, n)
        self._index(dst, n)
        self._rt.elements[dst : dst + n] = src_table._rt.elements[src : src + n]

    def __repr__(self) -> str:
        return f"<Table {wt.valtype_name(self._elem())} x {self._rt.size}>"


class Global(StoreObject[GlobalInstance]):
    """A global variable."""

    __slots__ = ()

    def __init__(self, store: Store, ty: GlobalType, val: Any) -> None:
        store = store_of(store)
        if not isinstance(ty, GlobalType):
            raise ArgumentTypeError("expected a GlobalType")
        raw = to_raw(store, ty._wasm.valtype, val)
        self._adopt(store, store._engine.backend.new_global(ty._wasm, raw, store._ctx))


    def type(self, store: Any) -> GlobalType:
        self._check_store(store)
        return GlobalType._from_wasm(self._rt.type)

    def value(self, store: Any) -> Any:
        store = self._check_store(store)
        return to_python(store, self._rt.type.valtype, self._rt.value)

    def get_val(self, store: Any) -> Val:
        """The value as a typed Val (float bits kept exactly)."""
        store = self._check_store(store)
        return to_val(store, self._rt.type.valtype, self._rt.value)

    def set_value(self, store: Any, val: Any) -> None:
        store = self._check_store(store)
        if not self._rt.type.mutable:
            raise WasmError("cannot set an immutable global")
        self._rt.value = to_raw(store, self._rt.type.valtype, val)

    def __repr__(self) -> str:
        return f"<Global {self._rt.type}>"


Extern = Func | Memory | Table | Global


def wrap_extern(store: Store, item: Any) -> Extern:
    """The API object for a runtime extern."""
    if isinstance(item, FuncInstance):
        return Func._wrap(store, item)
    if isinstance(item, MemoryInstance):
        return Memory._wrap(store, item)
    if isinstance(item, TableInstance):
        return Table._wrap(store, item)
    if isinstance(item, GlobalInstance):
        return Global._wrap(store, item)
    raise TypeError(f"not an extern: {item!r}")


def unwrap_extern(store: Store, item: Any) -> Any:
    """The runtime object of an API extern (checking its store)."""
    if not isinstance(item, Func | Memory | Table | Global):
        raise ArgumentTypeError(
            f"expected a Func, Memory, Table or Global, got {type(item).__name__}")
    item._check_store(store)
    return item._rt
