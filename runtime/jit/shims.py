"""Per-signature entry and host shims, compiled on demand and shared by the process.

An entry shim (``jit/abi.py``) is how Python enters compiled code; a host shim is the
wasm-ABI face of a host function.  Both depend only on the signature, so each is
compiled once per process and kept for its lifetime (a few hundred bytes each).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Protocol

from pyjitwasm.jit import abi
from pyjitwasm.jit.compiler import code_loader, link_objects
from pyjitwasm.jit.loaded import LoadedCode
from pyjitwasm.runtime.native import runtime_symbols
from pyjitwasm.translate.env import ir_value_types

# Frame pointers let the trap path walk through host shims to the wasm frames above.
_ATTRIBUTES = 'attributes #0 = { "disable-tail-calls"="true" "frame-pointer"="all" nounwind }\n'

_lock = threading.Lock()
_entry: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
_host: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
_keep: list[LoadedCode] = []


class ObjectCache(Protocol):
    """Where compiled shims may be kept between runs (``code_cache.CodeCache``)."""

    def object_key(self, llvm_ir: str) -> str: ...

    def load_object(self, key: str) -> bytes | None: ...

    def store_object(self, key: str, obj: bytes) -> None: ...


_object_cache: weakref.ref[ObjectCache] | None = None


def use_object_cache(cache: ObjectCache) -> None:
    """Keep shims in ``cache`` while it lives (shims are the process's, not an
    engine's: the first engine with a code cache provides it, until it is gone)."""
    global _object_cache
    if _object_cache is None or _object_cache() is None:
        _object_cache = weakref.ref(cache)


def _shim_object(text: str) -> bytes:
    """The object of shim module ``text``: from the object cache, or compiled (and kept
    there)."""
    cache = _object_cache() if _object_cache is not None else None
    key = cache.object_key(text) if cache is not None else ""
    obj = cache.load_object(key) if cache is not None else None
    if obj is None:
        obj = code_loader(1).compile_object(text)
        if cache is not None:
            cache.store_object(key, obj)
    return obj


def _load(ir: str, name: str) -> int:
    text = abi.RUNTIME_DECLARATIONS + ir + _ATTRIBUTES
    code = link_objects([_shim_object(text)], 1, runtime_symbols())[0]
    _keep.append(code)
    return code.address(name)


def _cached_shim(cache: dict, prefix: str, make_ir: Callable[..., str],
                 params: Sequence[int], results: Sequence[int]) -> int:
    """Compile a shim for ``params -> results`` once per process; its address."""
    key = (tuple(params), tuple(results))
    address = cache.get(key)
    if address is None:
        with _lock:
            address = cache.get(key)
            if address is None:
                ir_signature = (ir_value_types(params), ir_value_types(results))
                name = prefix + abi.signature_tag(*ir_signature)
                address = cache[key] = _load(make_ir(name, *ir_signature), name)
    return address


def entry_shim(params: Sequence[int], results: Sequence[int]) -> int:
    """Address of the entry shim for ``params -> results``."""
    return _cached_shim(_entry, "entry_", abi.entry_shim_ir, params, results)


def host_shim(params: Sequence[int], results: Sequence[int]) -> int:
    """Address of the host shim for ``params -> results``."""
    return _cached_shim(_host, "host_", abi.host_shim_ir, params, results)


# Host shims of many signatures at once (the warmmod block) -----------------------------


def preload_host_shims(signatures: Sequence[tuple[Sequence[int], Sequence[int]]]) -> None:
    """Make the host shims of ``signatures`` (params, results) that are not made yet,
    linked as one library: instantiating a module that imports many host functions
    (a WASI program: CPython for WASI imports 43, of 17 signatures) then links once,
    not once per signature (~0.3 ms each).  :func:`host_shim` finds them after."""
    with _lock:
        wanted: dict[tuple[tuple[int, ...], tuple[int, ...]], tuple[str, str]] = {}
        for params, results in signatures:
            key = (tuple(params), tuple(results))
            if key in _host or key in wanted:
                continue
            ir_signature = (ir_value_types(params), ir_value_types(results))
            name = "host_" + abi.signature_tag(*ir_signature)
            text = abi.RUNTIME_DECLARATIONS + abi.host_shim_ir(name, *ir_signature) \
                + _ATTRIBUTES
            wanted[key] = (name, text)
        if len(wanted) < 2:
            return  # host_shim's own path costs no more
        objs = [_shim_object(text) for _, text in wanted.values()]
        names = [name for name, _ in wanted.values()]
        loaded = link_objects(objs, 1, runtime_symbols())
        for key, name, code in zip(wanted, names, loaded, strict=True):
            _keep.append(code)
            _host[key] = code.address(name)
