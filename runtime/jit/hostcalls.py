"""Per-signature Python entries for calls from compiled code into API host functions.

The generic path (``store._host_entry``) wraps each call's values array, converts every
value through type-driven helpers and builds argument and result lists.  A host function
defined through the embedding API (its ``FuncInstance.host`` has the attributes of
``pyjitwasm.externs.HostAdapter``) instead gets an entry generated once per signature
(as source, compiled with ``exec`` unless ``host_entries.py`` has it compiled already)
and bound per function.  It is registered as a
*buffered* host function (``native.register_buffered_host_function``): the native side
copies the arguments into this thread's host buffer, and the entry

* unpacks the caller's vmctx (only with ``access_caller``) and every argument with one
  ``struct`` call, already in the API's representation for numbers (signed ints,
  floats; f32 NaN payloads restored by hand),
* calls the user's function (with a Caller that resolves its instance lazily),
* checks and converts the result inline for the common types, through the API's own
  converter otherwise (so bad results raise the API's errors), and packs the results
  into the buffer with one ``struct`` call.

Exceptions are not caught here: the native layer hands them to the outer invoke.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Protocol, TypeGuard, runtime_checkable

from pyjitwasm.runtime.floats import f32_from_bits, f32_to_bits
from pyjitwasm.runtime.instance import ModuleInstance
from pyjitwasm.runtime.jit import host_entries
from pyjitwasm.runtime.jit.values import References
from pyjitwasm.runtime.native import HOST_BUFFER_HEADER, HOST_BUFFER_SLOTS
from pyjitwasm.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64, V128, FuncType

HostEntry = Callable[[memoryview], None]


@runtime_checkable
class ApiHost(Protocol):
    """What the entries need of an API host function (``externs.HostAdapter``)."""

    store: Any
    ftype: FuncType
    fn: Callable[..., Any]
    access_caller: bool

    def to_python(self, store: Any, code: int, raw: Any) -> Any: ...

    def to_raw(self, store: Any, code: int, value: Any) -> Any: ...

    def new_caller(self, store: Any, vmctx: int,
                   lookup: Callable[[int], ModuleInstance | None]) -> Any: ...

    def end_caller(self, caller: Any) -> None: ...


# struct format of one 16-byte slot, read as the API's Python value where possible.
_ARG_FORMAT = {I32: "i12x", I64: "q8x", F64: "d8x", F32: "f12x", FUNCREF: "Q8x",
               EXTERNREF: "Q8x", V128: "QQ"}
_RESULT_FORMAT = {I32: "I12x", I64: "Q8x", F64: "d8x", F32: "I12x", FUNCREF: "Q8x",
                  EXTERNREF: "Q8x", V128: "QQ"}

# Raw slot value(s) -> the API's Python value, for the types struct cannot give directly.
_ARG_FIX = {
    F32: "if {v} != {v}: {v} = f32_from_bits(u32_at(buf, {offset})[0])",
    FUNCREF: "{v} = to_python(store, FUNCREF, state.func_at({v}))",
    EXTERNREF: "{v} = state.extern_object({v})",
}

# Python result -> the packed value(s), checking it as the API's ``to_raw`` does.
_RESULT = {
    I32: ["if {v}.__class__ is not int or not -2147483648 <= {v} <= 4294967295:",
          "    {v} = to_raw(store, I32, {v})",
          "{v} &= 0xFFFFFFFF"],
    I64: ["if {v}.__class__ is not int or not -9223372036854775808 <= {v} <= "
          "18446744073709551615:",
          "    {v} = to_raw(store, I64, {v})",
          "{v} &= 0xFFFFFFFFFFFFFFFF"],
    F64: ["if {v}.__class__ is not float: {v} = to_raw(store, F64, {v})"],
    F32: ["{v} = f32_to_bits(to_raw(store, F32, {v}))"],
    FUNCREF: ["{v} = state.funcref_address(to_raw(store, FUNCREF, {v}))"],
    EXTERNREF: ["{v} = state.extern_handle(to_raw(store, EXTERNREF, {v}))"],
}

_templates: dict[tuple[FuncType, bool], Callable[..., HostEntry]] = {}


def fits_buffer(ftype: FuncType) -> bool:
    """Whether a signature's values fit the native host buffer."""
    return len(ftype.params) <= HOST_BUFFER_SLOTS and len(ftype.results) <= HOST_BUFFER_SLOTS


def _unpack_struct(ftype: FuncType, with_vmctx: bool) -> tuple[struct.Struct | None, list[str]]:
    """The argument ``struct`` and the names its fields unpack into."""
    targets = ["vmctx"] if with_vmctx else []
    for i, t in enumerate(ftype.params):
        targets += [f"a{i}", f"v128_high_{i}"] if t == V128 else [f"a{i}"]
    if not targets:
        return None, []
    fmt = "<" + ("Q8x" if with_vmctx else "") + "".join(_ARG_FORMAT[t] for t in ftype.params)
    return struct.Struct(fmt), targets


FACTORY_PARAMS = ("unpack_from", "pack_into", "u32_at", "f32_from_bits", "f32_to_bits",
                  "I32", "I64", "F32", "F64", "V128", "FUNCREF", "EXTERNREF")
"""What an entry factory (:func:`factory_source`) takes: the names its entries use."""

_TYPE_NAMES = {I32: "i32", I64: "i64", F32: "f32", F64: "f64", V128: "v128",
               FUNCREF: "funcref", EXTERNREF: "externref"}


def factory_name(ftype: FuncType, access_caller: bool) -> str:
    """The name of the entry factory of a signature (in ``host_entries.py`` if there)."""
    params = "_".join(_TYPE_NAMES[t] for t in ftype.params) or "none"
    results = "_".join(_TYPE_NAMES[t] for t in ftype.results) or "none"
    return f"entries_{params}__{results}" + ("__caller" if access_caller else "")


def factory_source(ftype: FuncType, access_caller: bool) -> str:
    """Python source of the entry factory of a signature: ``def NAME(FACTORY_PARAMS)``
    returning ``make(fn, store, state, to_python, to_raw, new_caller, end_caller,
    lookup)``, which returns one host function's entry."""
    unpacker, targets = _unpack_struct(ftype, access_caller)
    results = ftype.results
    names = [f"a{i}" for i in range(len(ftype.params))]
    body: list[str] = []
    if unpacker is not None:
        start = 0 if access_caller else HOST_BUFFER_HEADER
        body.append(f"{', '.join(targets)}, = unpack_from(buf, {start})")
    for i, t in enumerate(ftype.params):
        if t == V128:
            body.append(f"a{i} |= v128_high_{i} << 64")
        elif t in _ARG_FIX:
            body.append(_ARG_FIX[t].format(v=f"a{i}", offset=HOST_BUFFER_HEADER + 16 * i))
    if access_caller:
        body += [
            "caller = new_caller(store, vmctx, lookup)",
            "try:",
            f"    out = fn({', '.join(['caller', *names])})",
            "finally:",
            "    end_caller(caller)",
        ]
    else:
        body.append(f"out = fn({', '.join(names)})")
    outs: list[str] = []
    if not results:
        body += ["if out is not None:",
                 "    raise TypeError(f'host function returned {out!r} but has no results')"]
    else:
        if len(results) == 1:
            body.append("r0 = out")
        else:
            body += [
                f"if not isinstance(out, tuple | list) or len(out) != {len(results)}:",
                f"    raise TypeError('host function must return a tuple of {len(results)} "
                "values')",
                f"{', '.join(f'r{i}' for i in range(len(results)))}, = out",
            ]
        for i, t in enumerate(results):
            v = f"r{i}"
            if t == V128:
                body.append(f"{v} = to_raw(store, V128, {v})")
                outs += [f"{v} & 0xFFFFFFFFFFFFFFFF", f"{v} >> 64"]
            else:
                body += [line.format(v=v) for line in _RESULT[t]]
                outs.append(v)
        body.append(f"pack_into(buf, {HOST_BUFFER_HEADER}, {', '.join(outs)})")
    return "\n".join([
        f"def {factory_name(ftype, access_caller)}(",
        f"        {', '.join(FACTORY_PARAMS[:5])},",
        f"        {', '.join(FACTORY_PARAMS[5:])}):",
        "    def make(fn, store, state, to_python, to_raw, new_caller, end_caller, lookup):",
        "        def entry(buf):",
        *("            " + line for line in body),
        "        return entry",
        "    return make",
    ])


def _template(ftype: FuncType, access_caller: bool) -> Callable[..., HostEntry]:
    key = (ftype, access_caller)
    make = _templates.get(key)
    if make is not None:
        return make
    name = factory_name(ftype, access_caller)
    # The signatures WASI uses come compiled with this package (host_entries.py, made
    # by tools/gen_host_entries.py from factory_source): compiling one costs ~0.2 ms,
    # and a WASI program's warm start needs a dozen.
    factory = getattr(host_entries, name, None)
    if factory is None:
        namespace: dict[str, Any] = {}
        exec(factory_source(ftype, access_caller), namespace)  # noqa: S102 - fixed templates
        factory = namespace[name]
    unpacker, _ = _unpack_struct(ftype, access_caller)
    results = ftype.results
    packer = struct.Struct("<" + "".join(_RESULT_FORMAT[t] for t in results)) if results \
        else None
    make = _templates[key] = factory(
        unpacker.unpack_from if unpacker is not None else None,
        packer.pack_into if packer is not None else None,
        struct.Struct("<I").unpack_from, f32_from_bits, f32_to_bits,
        I32, I64, F32, F64, V128, FUNCREF, EXTERNREF)
    return make


_api_host_types: set[type] = set()


def is_api_host(host: object) -> TypeGuard[ApiHost]:
    """Whether a ``FuncInstance.host`` is an API host function this module specialises."""
    # A runtime-checkable protocol's isinstance looks at every member (~25 us): a WASI
    # program links dozens of host functions, all of one or two classes.
    if type(host) in _api_host_types:
        return True
    if isinstance(host, ApiHost):
        _api_host_types.add(type(host))
        return True
    return False


def api_host_entry(state: References, host: ApiHost,
                   lookup: Callable[[int], ModuleInstance | None]) -> HostEntry:
    """The buffered entry running API host function ``host`` for compiled code;
    ``lookup`` finds the calling instance from its vmctx (for the Caller)."""
    make = _template(host.ftype, host.access_caller)
    return make(host.fn, host.store, state, host.to_python, host.to_raw, host.new_caller,
                host.end_caller, lookup)
