"""Per-signature Python callers of compiled functions.

The generic path (``values.read_values``/``write_values``) walks the types of every
argument and result on each call.  A caller generated for one signature stores the
arguments straight into the values array, enters compiled code and reads the results
back, which is what makes a call from Python cost about as much as ``pyjitwasm_invoke``
itself.  Callers are generated once per signature (as source, compiled with ``exec``)
and bound per function (the compiled source kept in the code cache, when there is one:
``object_cache.py``), with a values array per thread (``ThreadValues``).  Making a
caller compiles a lazily compiled function first, and the caller keeps its address.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from pyjitwasm.runtime.errors import Trap
from pyjitwasm.runtime.floats import f32_from_bits, f32_to_bits
from pyjitwasm.runtime.instance import FuncInstance
from pyjitwasm.runtime.jit.entry import raise_status
from pyjitwasm.runtime.jit.object_cache import compiled_template
from pyjitwasm.runtime.jit.store import Caller, JitFunc, JitStoreContext
from pyjitwasm.runtime.native import ffi, lib
from pyjitwasm.wasm.traps import TrapCode
from pyjitwasm.wasm.types import EXTERNREF, F32, F64, FUNCREF, I32, I64, V128, FuncType

_templates: dict[FuncType, Callable[..., Caller]] = {}


class ThreadValues(threading.local):
    """One caller's values array, one per thread: arguments are stored before the GIL is
    released for the call and results read after, so two threads sharing an array
    would read each other's values.  ``views`` is ``(address, u32, u64, f64, i32,
    i64)``: the array's address and typed cffi views of it."""

    def __init__(self, slots: int) -> None:
        self._buffer = ffi.new("char[]", 16 * max(slots, 1) + 16)
        address = (int(ffi.cast("uintptr_t", self._buffer)) + 15) & ~15
        self.views = (address, ffi.cast("uint32_t *", address), ffi.cast("uint64_t *", address),
                      ffi.cast("double *", address), ffi.cast("int32_t *", address),
                      ffi.cast("int64_t *", address))

_STORE = {
    I32: "u32[{s4}] = {v}",
    I64: "u64[{s8}] = {v}",
    F64: "f64[{s8}] = {v}",
    F32: "u32[{s4}] = f32_to_bits({v})",
    FUNCREF: "u64[{s8}] = state.funcref_address({v})",
    EXTERNREF: "u64[{s8}] = state.extern_handle({v})",
    V128: "u64[{s8}] = {v} & 0xFFFFFFFFFFFFFFFF; u64[{s8} + 1] = {v} >> 64",
}
_LOAD = {
    I32: "u32[{s4}]",
    I64: "u64[{s8}]",
    F64: "f64[{s8}]",
    F32: "f32_from_bits(u32[{s4}])",
    FUNCREF: "state.func_at(u64[{s8}])",
    EXTERNREF: "state.extern_object(u64[{s8}])",
    V128: "(u64[{s8}] | (u64[{s8} + 1] << 64))",
}


# Every caller brackets its work with these (see ``JitStoreContext``): the entry begins
# before any argument is converted (an externref argument becomes a handle only inside
# it) and ends after the results are read.  Nesting is checked only when the store is
# busy (some thread, maybe this one, is inside it), against this thread's own depth.
# After the exit, a collection of externrefs the store has marked due runs if no entry
# is left (``JitState.collect``).
_ENTER = [
    "        if ctx.entries != ctx.exits and depth() >= limit:",
    "            raise Trap(STACK_OVERFLOW)",
    "        ctx.entries += 1",
    "        try:",
]
_LEAVE = [
    "        finally:",
    "            ctx.exits += 1",
    "            if state.collect_due and ctx.entries == ctx.exits:",
    "                state.collect(ctx)",
]


def _template(ftype: FuncType) -> Callable[..., Caller]:
    make = _templates.get(ftype)
    if make is None:
        make = _templates[ftype] = _compile_template(
            f"caller {_signature_name(ftype)}", lambda: _template_source(ftype))
    return make


def _signature_name(ftype: FuncType) -> str:
    """What a caller's source depends on, as part of its name in the code cache."""
    return f"{','.join(map(str, ftype.params))}->{','.join(map(str, ftype.results))}"


def _template_source(ftype: FuncType) -> str:
    lines = [
        "def make(ctx, state, shim, code, vmctx, local):",
        "    limit = ctx.max_host_nesting",
        "    def call(args):",
        *_ENTER,
        "            values, u32, u64, f64, i32, i64 = local.views",
    ]
    if ftype.params:
        lines.append("            " + ", ".join(f"a{i}" for i in range(len(ftype.params)))
                     + (", = args" if len(ftype.params) == 1 else " = args"))
    for i, t in enumerate(ftype.params):
        lines.append("            " + _STORE[t].format(s4=4 * i, s8=2 * i, v=f"a{i}"))
    lines += [
        "            status = invoke(shim, code[0], vmctx, values)",
        "            if status:",
        "                raise_status(status)",
    ]
    loads = [_LOAD[t].format(s4=4 * i, s8=2 * i) for i, t in enumerate(ftype.results)]
    lines.append("            return [" + ", ".join(loads) + "]")
    lines += _LEAVE
    lines.append("    return call")
    return "\n".join(lines)


def _compile_template(name: str, make_source: Callable[[], str]) -> Any:
    """Execute the generated caller source ``make_source()`` (kept in the code cache
    under ``name``, which says what it depends on) and return its ``make`` factory."""
    namespace: dict[str, Any] = {
        "Trap": Trap,
        "STACK_OVERFLOW": TrapCode.STACK_OVERFLOW,
        "depth": lib.pyjitwasm_invoke_depth,
        "invoke": lib.pyjitwasm_invoke,
        "raise_status": raise_status,
        "f32_to_bits": f32_to_bits,
        "f32_from_bits": f32_from_bits,
    }
    code = compiled_template(name, make_source, "<pyjitwasm caller>")
    exec(code, namespace)  # noqa: S102 - source built from fixed templates
    return namespace["make"]


def caller_for(func: FuncInstance) -> Caller:
    """A fast ``args -> results`` caller of a compiled wasm function."""
    ctx = func.context
    assert isinstance(ctx, JitStoreContext)
    jf = func.compiled
    assert isinstance(jf, JitFunc)
    state = ctx.jit
    ftype = func.type
    local = ThreadValues(max(len(ftype.params), len(ftype.results)))
    shim, _ = jf.entry()  # compiles a lazily compiled function now
    return _template(ftype)(ctx, state, shim, _code_cell(jf), jf.vmctx, local)


_api_templates: dict[FuncType, Callable[..., Callable[..., Any]]] = {}

# Python value -> raw, inline for the common types; anything unusual (a Val, a bool, an
# out-of-range int, a wrong type) goes through the API's own converter, which raises the
# API's errors.
_API_ARG = {
    I32: ("if a{i}.__class__ is not int or not -2147483648 <= a{i} <= 4294967295: "
          "a{i} = to_raw(store, {t}, a{i})\n        u32[{s4}] = a{i} & 0xFFFFFFFF"),
    I64: ("if a{i}.__class__ is not int or not -9223372036854775808 <= a{i} <= "
          "18446744073709551615: a{i} = to_raw(store, {t}, a{i})\n"
          "        u64[{s8}] = a{i} & 0xFFFFFFFFFFFFFFFF"),
    F64: ("if a{i}.__class__ is not float: a{i} = to_raw(store, {t}, a{i})\n"
          "        f64[{s8}] = a{i}"),
}
_API_RESULT = {
    I32: "i32[{s4}]",
    I64: "i64[{s8}]",
    F64: "f64[{s8}]",
}


def _api_template(ftype: FuncType) -> Callable[..., Callable[..., Any]]:
    make = _api_templates.get(ftype)
    if make is None:
        make = _api_templates[ftype] = _compile_template(
            f"api caller {_signature_name(ftype)}", lambda: _api_template_source(ftype))
    return make


def _api_template_source(ftype: FuncType) -> str:
    n = len(ftype.params)
    names = [f"a{i}" for i in range(n)]
    lines = [
        "def make(ctx, state, store, shim, code, vmctx, local, to_raw, to_python):",
        "    limit = ctx.max_host_nesting",
        f"    def call({', '.join([*names, '*rest'])}):" if n else "    def call(*rest):",
        "        if rest:",
        f"            raise TypeError(f'expected {n} arguments, got {{{n} + len(rest)}}')",
        *_ENTER,
        "            values, u32, u64, f64, i32, i64 = local.views",
    ]
    for i, t in enumerate(ftype.params):
        if t in _API_ARG:
            lines.append(_indent(_API_ARG[t].format(i=i, t=t, s4=4 * i, s8=2 * i)))
        else:
            lines.append(f"            a{i} = to_raw(store, {t}, a{i})")
            lines.append("            " + _STORE[t].format(s4=4 * i, s8=2 * i, v=f"a{i}"))
    lines += [
        "            status = invoke(shim, code[0], vmctx, values)",
        "            if status:",
        "                raise_status(status)",
    ]
    outs = []
    for i, t in enumerate(ftype.results):
        if t in _API_RESULT:
            outs.append(_API_RESULT[t].format(s4=4 * i, s8=2 * i))
        else:
            outs.append(f"to_python(store, {t}, {_LOAD[t].format(s4=4 * i, s8=2 * i)})")
    if not outs:
        lines.append("            return None")
    elif len(outs) == 1:
        lines.append(f"            return {outs[0]}")
    else:
        lines.append(f"            return ({', '.join(outs)})")
    lines += _LEAVE
    lines.append("    return call")
    return "\n".join(lines)


def _indent(code: str) -> str:
    """``code`` (lines at the body's level) one level deeper, inside the entry's try."""
    return "\n".join("            " + line.strip() for line in code.split("\n"))


def api_caller_for(func: FuncInstance, store: Any, to_raw: Callable[..., Any],
                   to_python: Callable[..., Any]) -> Callable[..., Any]:
    """A caller taking and returning the embedding API's Python values (``to_raw`` and
    ``to_python`` are the API's converters, used for the uncommon types)."""
    ctx = func.context
    assert isinstance(ctx, JitStoreContext)
    jf = func.compiled
    assert isinstance(jf, JitFunc)
    ftype = func.type
    local = ThreadValues(max(len(ftype.params), len(ftype.results)))
    shim, _ = jf.entry()  # compiles a lazily compiled function now
    return _api_template(ftype)(ctx, ctx.jit, store, shim, _code_cell(jf), jf.vmctx, local,
                                to_raw, to_python)


def _code_cell(jf: JitFunc) -> Any:
    """What a caller reads the code address from on each call, ``cell[0]``: the
    function's code slot (after ``entry()`` it holds compiled code), so a caller made
    while the function ran at tier 0 enters its tier-1 code once that exists."""
    return ffi.cast("uint64_t *", jf.slot)
