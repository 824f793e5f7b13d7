"""Engines under differential test, behind one small interface.

Each engine runs a module in a *session*: compile, instantiate against the harness's host
imports, call exports with neutral arguments, set a global, and report its observable
state. Everything crosses the interface in the neutral forms of
``differential_values``, so the runner compares two sessions without knowing which
engines they are. Adding an engine is one entry in ``ENGINES``.
"""

from __future__ import annotations

import ctypes
import functools
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from support.differential_values import (
    REF_TYPES,
    NeutralVal,
    describe,
    extern_token,
    neutral_extern,
)

# --- neutral descriptions ------------------------------------------------------------

# ("func", params, results) | ("memory", min, max, is_64) | ("table", elem, min, max)
# | ("global", valtype, mutable)
ExternDesc = tuple[Any, ...]


@dataclass(frozen=True)
class Outcome:
    """What one step produced. ``kind`` is "ok", "trap", "error" or "compile-error";
    ``values`` are the results of an ok call; ``code`` the trap code's name. ``detail``
    (an error message) is for reports only and is not compared."""

    kind: str
    values: tuple[NeutralVal, ...] = ()
    code: str | None = None
    detail: str = field(default="", compare=False)

    def __str__(self) -> str:
        if self.kind == "ok":
            return "ok(" + ", ".join(describe(v) for v in self.values) + ")"
        if self.kind == "trap":
            return f"trap {self.code}" + (f" ({self.detail})" if self.detail else "")
        return f"{self.kind}: {self.detail}"


class HostImports:
    """The harness's side of the host functions: each call is logged (import name and
    neutral arguments) and answered with results computed from the call's number and
    arguments, so two engines that call the host the same way get the same answers."""

    def __init__(self) -> None:
        self.log: list[tuple[str, tuple[Any, ...]]] = []

    def call(self, name: str, args: tuple[NeutralVal, ...], results: tuple[str, ...]
             ) -> list[NeutralVal]:
        self.log.append((name, args))
        seed = len(self.log) * 0x9E3779B1 ^ hash_args(name, args)
        out: list[NeutralVal] = []
        for i, ty in enumerate(results):
            word = (seed * (2 * i + 1) * 0x2545F491) & 0xFFFFFFFFFFFFFFFF
            if ty == "i32":
                out.append(("i32", word & 0xFFFFFFFF))
            elif ty == "i64":
                out.append(("i64", word))
            elif ty in ("f32", "f64"):
                # Finite, exactly representable in f32: NaN payloads do not survive host
                # APIs that pass floats as Python floats.
                x = ((word % 4001) - 2000) / 8.0
                fmt, ifmt = ("<f", "<I") if ty == "f32" else ("<d", "<Q")
                out.append((ty, struct.unpack(ifmt, struct.pack(fmt, x))[0]))
            elif ty == "externref":
                out.append(("externref", word % 3 + 10))
            else:
                out.append(("funcref", None))
        return out


def hash_args(name: str, args: tuple[Any, ...]) -> int:
    """A stable (process-independent) hash of a host call."""
    import zlib

    return zlib.crc32(repr((name, args)).encode())


def global_init(index: int, valtype: str) -> NeutralVal:
    """The value the harness gives imported global number ``index``."""
    if valtype in REF_TYPES:
        return (valtype, None)
    bits = {
        "i32": 0x1234567 * (index + 1) & 0xFFFFFFFF,
        "i64": 0x123456789AB * (index + 1) & 0xFFFFFFFFFFFFFFFF,
        "f32": 0x3FC00000 + index,
        "f64": 0x3FF8000000000000 + index,
        "v128": 0x0123456789ABCDEF_FEDCBA9876543210 + index,
    }
    return (valtype, bits[valtype])


def float_arg_key(ty: str, x: float) -> NeutralVal:
    """A host-call float argument, as logged. NaNs are logged without payload: host APIs
    that hand floats to Python as floats (wasmtime-py) cannot show it exactly."""
    if x != x:
        return (ty, "nan")
    fmt, ifmt = ("<f", "<I") if ty == "f32" else ("<d", "<Q")
    return (ty, struct.unpack(ifmt, struct.pack(fmt, x))[0])


class FuncIds:
    """Numbers functions by first sight, so function identity compares across engines."""

    def __init__(self, key: Callable[[Any], Any]) -> None:
        self._key = key
        self._ids: dict[Any, int] = {}

    def number(self, func: Any) -> NeutralVal:
        if func is None:
            return ("funcref", None)
        key = self._key(func)
        if key not in self._ids:
            self._ids[key] = len(self._ids)
        return ("funcref", self._ids[key])


def neutral_host_args(
    params: Sequence[str], args: Sequence[Any], ids: FuncIds
) -> list[NeutralVal]:
    """The engine-neutral form of the arguments a host function received."""
    neutral: list[NeutralVal] = []
    for ty, a in zip(params, args, strict=True):
        if ty in ("i32", "i64"):
            neutral.append((ty, a & ((1 << (32 if ty == "i32" else 64)) - 1)))
        elif ty in ("f32", "f64"):
            neutral.append(float_arg_key(ty, a))
        elif ty == "funcref":
            neutral.append(ids.number(a))
        else:
            neutral.append(neutral_extern(a))
    return neutral


def build_imports(session: Any) -> list[Any]:
    """Make a session's import objects in import order, numbering imported functions and
    remembering the other imports so their state is compared after each call."""
    items = []
    for index, (module, name, desc) in enumerate(session.imports()):
        item = session._make_import(index, name, desc)
        if desc[0] == "func":
            session.ids.number(item)
        else:
            session.import_objects.append((f"import {module}.{name}", item))
        items.append(item)
    return items


class Session(Protocol):
    """One module in one engine."""

    host: HostImports
    trap_vocabulary: str

    def compile(self, wasm: bytes) -> Outcome: ...
    def imports(self) -> list[tuple[str, str, ExternDesc]]: ...
    def exports(self) -> list[tuple[str, ExternDesc]]: ...
    def instantiate(self) -> Outcome: ...
    def call(self, name: str, args: tuple[NeutralVal, ...]) -> Outcome: ...
    def set_global(self, name: str, value: NeutralVal) -> None: ...
    def state(self) -> list[tuple[str, Any]]: ...


class EngineKind(Protocol):
    """A way to make sessions; ``unavailable()`` says why it cannot run here (or None)."""

    name: str

    def unavailable(self) -> str | None: ...
    def session(self) -> Session: ...


def _bits_to_float(ty: str, bits: int) -> float:
    if ty == "f32":
        return float(struct.unpack("<f", struct.pack("<I", bits))[0])
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


def _memory_state(pages: int, data: bytes) -> tuple[str, int, bytes]:
    return ("memory", pages, data)


# --- pyjitwasm -------------------------------------------------------------------------


# Config switches for SIMD and relaxed SIMD in wasmtime-py's names (and the shorter
# names issue 10 uses), set to True on a pyjitwasm Config when it has them: relaxed SIMD
# results are compared against wasmtime's deterministic mode.
SIMD_CONFIG_SWITCHES = ("wasm_simd", "wasm_relaxed_simd", "wasm_relaxed_simd_deterministic",
                        "relaxed_simd_deterministic")


def make_pyjitwasm_config(config: dict[str, Any]) -> Any:
    """``pyjitwasm.Config(**config)`` with every SIMD switch it has turned on."""
    import pyjitwasm

    made = pyjitwasm.Config(**config)
    for switch in SIMD_CONFIG_SWITCHES:
        if hasattr(made, switch):
            setattr(made, switch, True)
    return made


class PyjitwasmKind:
    """pyjitwasm with a given Config (by default ``Config(strategy=name)``)."""

    def __init__(self, name: str, **config: Any) -> None:
        self.name = name
        self.config = config or {"strategy": name}

    def unavailable(self) -> str | None:
        import pyjitwasm

        try:
            pyjitwasm.Engine(make_pyjitwasm_config(self.config))
        except Exception as exc:  # noqa: BLE001 - any failure means "not available"
            return (f"engine {self.name!r} is not available: Engine(Config(**{self.config!r}))"
                    f" raised {type(exc).__name__}: {exc}")
        return None

    def session(self) -> Session:
        return PyjitwasmSession(self.config)


class PyjitwasmSession:
    trap_vocabulary = "pyjitwasm"

    def __init__(self, config: dict[str, Any]) -> None:
        import pyjitwasm

        self.p = pyjitwasm
        self.engine = pyjitwasm.Engine(make_pyjitwasm_config(config))
        self.store = pyjitwasm.Store(self.engine)
        self.host = HostImports()
        self.ids = FuncIds(lambda f: f)  # one API Func per runtime function; hash by it
        self.module: Any = None
        self.instance_exports: Any = None
        self.import_objects: list[tuple[str, Any]] = []

    def compile(self, wasm: bytes) -> Outcome:
        try:
            self.module = self.p.Module(self.engine, wasm)
        except self.p.WasmError as exc:
            return Outcome("compile-error", detail=f"{type(exc).__name__}: {exc}")
        return Outcome("ok")

    @staticmethod
    def _desc(ty: Any) -> ExternDesc:
        p = __import__("pyjitwasm")
        if isinstance(ty, p.FuncType):
            return ("func", tuple(str(t) for t in ty.params), tuple(str(t) for t in ty.results))
        if isinstance(ty, p.MemoryType):
            return ("memory", ty.minimum, ty.maximum, ty.is_64)
        if isinstance(ty, p.TableType):
            return ("table", str(ty.element), ty.minimum, ty.maximum)
        return ("global", str(ty.content), ty.mutable)

    def imports(self) -> list[tuple[str, str, ExternDesc]]:
        return [(i.module, i.name, self._desc(i.type)) for i in self.module.imports]

    def exports(self) -> list[tuple[str, ExternDesc]]:
        return [(e.name, self._desc(e.type)) for e in self.module.exports]

    # Conversions between neutral values and this API's values.
    def _to_api(self, v: NeutralVal) -> Any:
        ty, payload = v
        Val = self.p.Val
        if ty == "i32":
            return Val.i32(payload)
        if ty == "i64":
            return Val.i64(payload)
        if ty == "f32":
            return Val.f32_bits(payload)
        if ty == "f64":
            return Val.f64_bits(payload)
        if ty == "v128":
            return Val.v128(payload)
        if ty == "externref":
            return Val.externref(None if payload is None else extern_token(payload))
        if payload is None:
            return Val.funcref(None)
        return Val.funcref(self.instance_exports[payload[1]])

    def _from_val(self, val: Any) -> NeutralVal:
        ty = str(val.type)
        if ty == "funcref":
            return self.ids.number(val.value)
        if ty == "externref":
            return neutral_extern(val.value)
        return (ty, val.bits)

    def _host_func(self, name: str, desc: ExternDesc) -> Any:
        params, results = desc[1], desc[2]

        def host(*args: Any) -> Any:
            neutral = neutral_host_args(params, args, self.ids)
            out = [self._to_api(v) for v in self.host.call(name, tuple(neutral), results)]
            if not out:
                return None
            return out[0] if len(out) == 1 else tuple(out)

        ty = self.p.FuncType([self._valtype(t) for t in params],
                             [self._valtype(t) for t in results])
        return self.p.Func(self.store, ty, host)

    def _valtype(self, name: str) -> Any:
        return getattr(self.p.ValType, name)()

    def _make_import(self, index: int, name: str, desc: ExternDesc) -> Any:
        p = self.p
        if desc[0] == "func":
            return self._host_func(name, desc)
        if desc[0] == "memory":
            return p.Memory(self.store, p.MemoryType(p.Limits(desc[1], desc[2]), is_64=desc[3]))
        if desc[0] == "table":
            return p.Table(self.store, p.TableType(self._valtype(desc[1]), desc[2], desc[3]),
                           None)
        return p.Global(self.store, p.GlobalType(self._valtype(desc[1]), desc[2]),
                        self._to_api(global_init(index, desc[1])))

    def instantiate(self) -> Outcome:
        p = self.p
        items = build_imports(self)
        try:
            instance = p.Instance(self.store, self.module, items)
        except p.Trap as exc:
            return Outcome("trap", code=exc.trap_code.name, detail=exc.message)
        except Exception as exc:  # noqa: BLE001 - reported and compared as an error
            return Outcome("error", detail=f"{type(exc).__name__}: {exc}")
        self.instance_exports = instance.exports(self.store)
        for item in self.instance_exports.values():
            if isinstance(item, p.Func):
                self.ids.number(item)
        return Outcome("ok")

    def call(self, name: str, args: tuple[NeutralVal, ...]) -> Outcome:
        func = self.instance_exports[name]
        api_args = [self._to_api(a) for a in args]
        try:
            results = func.call_vals(self.store, api_args)
        except self.p.Trap as exc:
            return Outcome("trap", code=exc.trap_code.name, detail=exc.message)
        except RecursionError as exc:
            return Outcome("error", detail=f"RecursionError: {exc}")
        except Exception as exc:  # noqa: BLE001 - reported and compared as an error
            return Outcome("error", detail=f"{type(exc).__name__}: {exc}")
        return Outcome("ok", tuple(self._from_val(v) for v in results))

    def set_global(self, name: str, value: NeutralVal) -> None:
        self.instance_exports[name].set_value(self.store, self._to_api(value))

    def _extern_state(self, item: Any) -> Any:
        p, store = self.p, self.store
        if isinstance(item, p.Memory):
            return _memory_state(item.size(store), bytes(item.read(store, 0, item.data_len(store))))
        if isinstance(item, p.Global):
            return ("global", self._from_val(item.get_val(store)))
        if isinstance(item, p.Table):
            elem = str(item.type(store).element)
            entries = [item.get(store, i) for i in range(item.size(store))]
            if elem == "funcref":
                return ("table", tuple(self.ids.number(f) for f in entries))
            return ("table", tuple(neutral_extern(x) for x in entries))
        return None

    def state(self) -> list[tuple[str, Any]]:
        out = []
        for name, item in [*self.import_objects, *self.instance_exports.items()]:
            s = self._extern_state(item)
            if s is not None:
                out.append((name, s))
        return out


# --- wasmtime-py ---------------------------------------------------------------------


class WasmtimeKind:
    """wasmtime-py (the ``wasmtime`` package), a production engine used as a reference."""

    name = "wasmtime"

    def unavailable(self) -> str | None:
        try:
            import wasmtime  # noqa: F401
        except ImportError:
            return "wasmtime-py is not installed (pip install wasmtime)"
        return None

    def session(self) -> Session:
        return WasmtimeSession()


class WasmtimeSession:
    """wasmtime-py, with exact float bits: its ``Func.__call__`` passes f32 through
    ctypes floats (which quiets signalling NaNs), so calls go through the C API directly
    and read results' raw union members."""

    trap_vocabulary = "wasmtime"

    def __init__(self) -> None:
        import wasmtime

        self.w = wasmtime
        config = wasmtime.Config()
        for feature in ("wasm_multi_memory", "wasm_memory64", "wasm_tail_call",
                        "wasm_bulk_memory", "wasm_reference_types", "wasm_multi_value",
                        "wasm_simd", "wasm_relaxed_simd",
                        # Relaxed SIMD with one fixed result per input, which pyjitwasm's
                        # deterministic mode must reproduce.
                        "wasm_relaxed_simd_deterministic"):
            setattr(config, feature, True)
        self.engine = wasmtime.Engine(config)
        self.store = wasmtime.Store(self.engine)
        self.host = HostImports()
        self.ids = FuncIds(self._func_identity)
        self.module: Any = None
        self.exports_by_name: dict[str, Any] = {}
        self.export_order: list[str] = []
        self.import_objects: list[tuple[str, Any]] = []

    def _func_identity(self, func: Any) -> tuple[int, int]:
        """What makes two wasmtime Funcs the same function.

        Neither the wrapper's handle nor the raw funcref pointer
        (``wasmtime_func_to_raw``) will do: an instance keeps its own copy of an imported
        function's funcref, so a host function re-exported or put in a table has another
        pointer than the original. The copy holds the same entry point and context,
        though: key by VMFuncRef's ``array_call`` (offset 0) and ``vmctx`` (offset 24)
        fields (wasmtime's layout; a wrong guess shows up as identity mismatches).
        """
        from wasmtime import _ffi as ffi

        raw = ffi.wasmtime_func_to_raw(self.store._context(), ctypes.byref(func._func))
        # A plain address at run time (ctypes returns c_void_p results as int).
        words = (ctypes.c_uint64 * 4).from_address(cast(int, raw))
        return (words[0], words[3])

    def compile(self, wasm: bytes) -> Outcome:
        try:
            self.module = self.w.Module(self.engine, wasm)
        except self.w.WasmtimeError as exc:
            return Outcome("compile-error", detail=str(exc))
        return Outcome("ok")

    @staticmethod
    def _type_name(ty: Any) -> str:
        from wasmtime import _ffi as ffi

        # The C API's wasm_valtype_kind (behind str()) aborts the process on v128:
        # recognise it by comparison first.
        if ffi.wasmtime_wasm_valtype_equal(ty.ptr(), _wasmtime_v128_type()):
            return "v128"
        # wasmtime-py prints externref as "anyref" (the C API's old name for it).
        name = str(ty)
        return "externref" if name == "anyref" else name

    def _desc(self, ty: Any) -> ExternDesc:
        w, name = self.w, self._type_name
        if isinstance(ty, w.FuncType):
            return ("func", tuple(name(t) for t in ty.params), tuple(name(t) for t in ty.results))
        if isinstance(ty, w.MemoryType):
            return ("memory", ty.limits.min, ty.limits.max, ty.is_64)
        if isinstance(ty, w.TableType):
            return ("table", name(ty.element), ty.limits.min, ty.limits.max)
        return ("global", name(ty.content), ty.mutable)

    def imports(self) -> list[tuple[str, str, ExternDesc]]:
        return [(i.module, i.name, self._desc(i.type)) for i in self.module.imports]

    def exports(self) -> list[tuple[str, ExternDesc]]:
        return [(e.name, self._desc(e.type)) for e in self.module.exports]

    def _raw(self, v: NeutralVal) -> Any:
        """A ``wasmtime_val_t`` holding exactly ``v`` (floats by their bits)."""
        from wasmtime import _ffi as ffi

        ty, payload = v
        if ty in ("i32", "f32"):
            raw = ffi.wasmtime_val_t(kind=(ffi.WASMTIME_I32 if ty == "i32" else ffi.WASMTIME_F32))
            raw.of.i32 = ctypes.c_int32(payload).value
            return raw
        if ty in ("i64", "f64"):
            raw = ffi.wasmtime_val_t(kind=(ffi.WASMTIME_I64 if ty == "i64" else ffi.WASMTIME_F64))
            raw.of.i64 = ctypes.c_int64(payload).value
            return raw
        if ty == "v128":
            raw = ffi.wasmtime_val_t(kind=ffi.WASMTIME_V128)
            raw.of.v128 = ffi.wasmtime_v128(*payload.to_bytes(16, "little"))
            return raw
        return self.w.Val._convert_to_raw(self.store, self._valtype(ty), self._py(v))

    def _py(self, v: NeutralVal) -> Any:
        """``v`` as the Python value wasmtime-py's own conversions take."""
        ty, payload = v
        if ty == "externref":
            return None if payload is None else extern_token(payload)
        if ty == "funcref":
            return None if payload is None else self.exports_by_name[payload[1]]
        if ty in ("f32", "f64"):
            return _bits_to_float(ty, payload)
        width = 32 if ty == "i32" else 64
        return payload - (1 << width) if payload >> (width - 1) else payload

    def _neutral_raw(self, raw: Any) -> NeutralVal:
        from wasmtime import _ffi as ffi

        kind = raw.kind
        if kind == ffi.WASMTIME_I32.value:
            return ("i32", raw.of.i32 & 0xFFFFFFFF)
        if kind == ffi.WASMTIME_F32.value:
            return ("f32", raw.of.i32 & 0xFFFFFFFF)
        if kind == ffi.WASMTIME_I64.value:
            return ("i64", raw.of.i64 & 0xFFFFFFFFFFFFFFFF)
        if kind == ffi.WASMTIME_F64.value:
            return ("f64", raw.of.i64 & 0xFFFFFFFFFFFFFFFF)
        if kind == ffi.WASMTIME_V128.value:
            return ("v128", int.from_bytes(bytes(raw.of.v128), "little"))
        val = self.w.Val._from_raw(self.store, raw)
        if kind == ffi.WASMTIME_FUNCREF.value:
            return self.ids.number(val.value)
        return neutral_extern(val.value)

    def _valtype(self, name: str) -> Any:
        return getattr(self.w.ValType, name)()

    def _host_func(self, name: str, desc: ExternDesc) -> Any:
        params, results = desc[1], desc[2]

        def host(*args: Any) -> Any:
            neutral = neutral_host_args(params, args, self.ids)
            out = [self._py(v) for v in self.host.call(name, tuple(neutral), results)]
            if not out:
                return None
            return out[0] if len(out) == 1 else out

        ty = self.w.FuncType([self._valtype(t) for t in params],
                             [self._valtype(t) for t in results])
        return self.w.Func(self.store, ty, host)

    def _make_import(self, index: int, name: str, desc: ExternDesc) -> Any:
        w = self.w
        if desc[0] == "func":
            return self._host_func(name, desc)
        if desc[0] == "memory":
            return w.Memory(self.store, w.MemoryType(w.Limits(desc[1], desc[2]), is_64=desc[3]))
        if desc[0] == "table":
            return w.Table(self.store, w.TableType(self._valtype(desc[1]),
                                                   w.Limits(desc[2], desc[3])), None)
        return w.Global(self.store, w.GlobalType(self._valtype(desc[1]), desc[2]),
                        self._py(global_init(index, desc[1])))

    def instantiate(self) -> Outcome:
        w = self.w
        items = build_imports(self)
        try:
            instance = w.Instance(self.store, self.module, items)
        except w.Trap as exc:
            return _wasmtime_trap(exc)
        except Exception as exc:  # noqa: BLE001 - reported and compared as an error
            return Outcome("error", detail=f"{type(exc).__name__}: {exc}")
        exports = instance.exports(self.store)
        for name, _ in self.exports():
            item = exports[name]
            self.exports_by_name[name] = item
            self.export_order.append(name)
            if isinstance(item, w.Func):
                self.ids.number(item)
        return Outcome("ok")

    def call(self, name: str, args: tuple[NeutralVal, ...]) -> Outcome:
        from wasmtime import _ffi as ffi
        from wasmtime._func import enter_wasm

        func = self.exports_by_name[name]
        n_results = len(func.type(self.store).results)
        params = (ffi.wasmtime_val_t * len(args))(*[self._raw(a) for a in args])
        results = (ffi.wasmtime_val_t * n_results)()
        try:
            with enter_wasm(self.store) as trap:
                error = ffi.wasmtime_func_call(self.store._context(), ctypes.byref(func._func),
                                               params, len(args), results, n_results, trap)
                if error:
                    raise self.w.WasmtimeError._from_ptr(error)
        except self.w.Trap as exc:
            return _wasmtime_trap(exc)
        except Exception as exc:  # noqa: BLE001 - reported and compared as an error
            return Outcome("error", detail=f"{type(exc).__name__}: {exc}")
        finally:
            for p in params:
                ffi.wasmtime_val_unroot(ctypes.byref(p))
        return Outcome("ok", tuple(self._neutral_raw(r) for r in results))

    def set_global(self, name: str, value: NeutralVal) -> None:
        self.exports_by_name[name].set_value(self.store, self._py(value))

    def _extern_state(self, item: Any) -> Any:
        from wasmtime import _ffi as ffi

        w, store = self.w, self.store
        if isinstance(item, w.Memory):
            size = item.data_len(store)
            data = ctypes.string_at(item.data_ptr(store), size) if size else b""
            return _memory_state(item.size(store), data)
        if isinstance(item, w.Global):
            raw = ffi.wasmtime_val_t()
            ffi.wasmtime_global_get(store._context(), ctypes.byref(item._global),
                                    ctypes.byref(raw))
            return ("global", self._neutral_raw(raw))
        if isinstance(item, w.Table):
            # Table.get returns a Val for null entries and tests truthiness of objects:
            # read the raw entries instead.
            entries = []
            for i in range(item.size(store)):
                raw = ffi.wasmtime_val_t()
                ffi.wasmtime_table_get(store._context(), ctypes.byref(item._table), i,
                                       ctypes.byref(raw))
                entries.append(self._neutral_raw(raw))
            return ("table", tuple(entries))
        return None

    def state(self) -> list[tuple[str, Any]]:
        out = []
        items = [*self.import_objects, *((n, self.exports_by_name[n]) for n in self.export_order)]
        for name, item in items:
            s = self._extern_state(item)
            if s is not None:
                out.append((name, s))
        return out


@functools.cache
def _wasmtime_v128_type() -> Any:
    """A v128 ``wasm_valtype_t`` to compare types against (made once, never freed)."""
    from wasmtime import _ffi as ffi

    return ffi.wasmtime_wasm_valtype_v128()


def _wasmtime_trap(exc: Any) -> Outcome:
    # The message is a backtrace followed by the cause; the cause is the useful part.
    lines = [line.strip() for line in exc.message.splitlines() if line.strip()]
    return Outcome("trap", code=exc.trap_code.name if exc.trap_code else None,
                   detail=lines[-1] if lines else "")


ENGINES: dict[str, EngineKind] = {
    "interp": PyjitwasmKind("interp"),
    "jit": PyjitwasmKind("jit"),
    "jit-dynamic": PyjitwasmKind("jit-dynamic", strategy="jit", memory_style="dynamic"),
    "wasmtime": WasmtimeKind(),
}
"""Every engine the harness knows, by name."""
