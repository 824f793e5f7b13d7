"""Per-signature entry and host shims, made on demand and shared by the process.

An entry shim (``jit/abi.py``) is how Python enters compiled code; a host shim is the
wasm-ABI face of a host function.  Both depend only on the signature, so each is made
once per process and kept for its lifetime (a few hundred bytes each).

On x86-64 Linux a shim whose values are all scalars, with at most one result, is
written directly as machine code (``x64/shims.py``: microseconds, no LLVM, no code
cache read), so a program whose code is all single-pass tier 0 never loads LLVM in its
process.  Any other signature (v128, several results), another host, or
``PYJITWASM_X64_SHIMS=0`` compiles the LLVM IR of ``jit/abi.py`` (or reads its object
from the code cache).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from pyjitwasm.ir.types import Type
from pyjitwasm.jit import abi
from pyjitwasm.jit.compiler import NATIVE_LOADING, code_loader, link_objects
from pyjitwasm.jit.loaded import LoadedCode
from pyjitwasm.jit.objload import PAGE_SIZE, MappedImage, map_image, resolve_imports
from pyjitwasm.runtime.jit.compile_module import env_flag
from pyjitwasm.runtime.jit.object_cache import object_cache
from pyjitwasm.runtime.native import runtime_symbols
from pyjitwasm.translate.module_info import ir_value_types
from pyjitwasm.x64 import shims as x64_shims
from pyjitwasm.x64.tier0 import supported_host

# Frame pointers let the trap path walk through host shims to the wasm frames above.
_ATTRIBUTES = 'attributes #0 = { "disable-tail-calls"="true" "frame-pointer"="all" nounwind }\n'

_lock = threading.Lock()
_entry: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
_host: dict[tuple[tuple[int, ...], tuple[int, ...]], int] = {}
_keep: list[LoadedCode] = []
_mapped: list[MappedImage] = []


def _shim_object(text: str) -> bytes:
    """The object of shim module ``text``: from the object cache, or compiled (and kept
    there)."""
    cache = object_cache()
    key = cache.object_key(text) if cache is not None else ""
    obj = cache.load_object(key) if cache is not None else None
    if obj is None:
        obj = code_loader(1).compile_object(text)
        if cache is not None:
            cache.store_object(key, obj)
    return obj


def x64_shims_enabled() -> bool:
    """Whether covered signatures get machine-code shims (``x64/shims.py``): on x86-64
    Linux unless ``PYJITWASM_X64_SHIMS=0`` (read at each new shim, for tests and
    measurements)."""
    return supported_host() and env_flag("PYJITWASM_X64_SHIMS")


Signature = tuple[tuple[int, ...], tuple[int, ...]]  # wasm value types
IRSignature = tuple[tuple[Type, ...], tuple[Type, ...]]


def _llvm_text(kind: str, name: str, ir_signature: IRSignature) -> str:
    make_ir = abi.entry_shim_ir if kind == "entry" else abi.host_shim_ir
    return abi.RUNTIME_DECLARATIONS + make_ir(name, *ir_signature) + _ATTRIBUTES


def _make(kind: str, signatures: Sequence[Signature], x64: bool) -> list[int]:
    """Make and link the ``kind`` ("entry" or "host") shims of ``signatures`` (wasm
    value types) as one library; their addresses.  ``x64``: write the covered ones as
    machine code, the others (all when false) by LLVM."""
    if not signatures:
        return []
    if kind == "entry" and x64 and len(signatures) == 1:
        # A program's first call from Python: its one entry shim written and mapped
        # without the general path's names, tables and layout (entry shims have no
        # relocations).
        code = entry_shim_machine_code(*signatures[0])
        if code is not None:
            return [_map_code(code)]
    # Two wasm signatures may share an IR one (funcref and externref are both r64):
    # one shim each, by name.
    unique: dict[str, IRSignature] = {}
    names = []
    for params, results in signatures:
        sig = (ir_value_types(params), ir_value_types(results))
        name = kind + "_" + abi.signature_tag(*sig)
        unique.setdefault(name, sig)
        names.append(name)
    covered = [sig for sig in unique.values() if x64 and x64_shims.covers(*sig)]
    objs: list[bytes] = []
    exports: list[list[str]] = []
    addresses: dict[str, int] = {}
    if covered:
        entry, host = (covered, []) if kind == "entry" else ([], covered)
        if NATIVE_LOADING:
            addresses.update(_map_machine_code(x64_shims.shims_code(entry, host)))
        else:
            obj, obj_names = x64_shims.shims_object(entry, host)
            objs.append(obj)
            exports.append(obj_names)
    for name, sig in unique.items():
        if not (x64 and x64_shims.covers(*sig)):
            objs.append(_shim_object(_llvm_text(kind, name, sig)))
            exports.append([name])
    if objs:
        loaded = link_objects(objs, 1, runtime_symbols())
        _keep.extend(loaded)
        addresses.update((name, code.address(name)) for code, obj_names
                         in zip(loaded, exports, strict=True) for name in obj_names)
    return [addresses[name] for name in names]


def _map_machine_code(machine: x64_shims.ShimsCode) -> dict[str, int]:
    """Map x64 shims into pages of their own, their symbols' addresses patched in; their
    addresses by name.  No object is written, parsed and laid out: a new signature
    costs ~0.03 ms instead of ~0.25, which every program's first call from Python pays
    (warm starts too).  The pages are never unmapped, as the process keeps its shims."""
    code = bytearray(machine.code)
    if machine.relocations:  # (host shims; entry shims have none)
        symbols = sorted({symbol for _, symbol in machine.relocations})
        resolved = dict(zip(symbols, resolve_imports(symbols, runtime_symbols()),
                            strict=True))
        for at, symbol in machine.relocations:
            code[at:at + 8] = resolved[symbol].to_bytes(8, "little")
    base = _map_code(bytes(code))
    return {f.name: base + f.offset for f in machine.functions}


def _map_code(code: bytes) -> int:
    """Map machine ``code`` (placed as it is: no relocations) into read-execute pages
    of its own, kept for the process's lifetime; its address."""
    size = -(-len(code) // PAGE_SIZE) * PAGE_SIZE
    base = map_image(code, size, size, b"", [])
    _mapped.append(MappedImage(base, size, 1))
    return base


def _cached_shim(cache: dict[Signature, int], kind: str,
                 params: Sequence[int], results: Sequence[int]) -> int:
    """Make a shim for ``params -> results`` once per process; its address."""
    key = (tuple(params), tuple(results))
    address = cache.get(key)
    if address is None:
        with _lock:
            address = cache.get(key)
            if address is None:
                address = cache[key] = _make(kind, [key], x64_shims_enabled())[0]
    return address


def entry_shim(params: Sequence[int], results: Sequence[int]) -> int:
    """Address of the entry shim for ``params -> results``."""
    return _cached_shim(_entry, "entry", params, results)


def entry_shim_machine_code(params: Sequence[int], results: Sequence[int]) -> bytes | None:
    """The machine code of the entry shim for ``params -> results`` (wasm value types),
    as :func:`entry_shim` would map it, for placing elsewhere (it has no relocations);
    None where entry shims are not written as machine code here."""
    if not (NATIVE_LOADING and x64_shims_enabled()):
        return None
    ir_params, ir_results = ir_value_types(params), ir_value_types(results)
    if not x64_shims.covers(ir_params, ir_results):
        return None
    return x64_shims.entry_shim_code(ir_params, ir_results)


def host_shim(params: Sequence[int], results: Sequence[int]) -> int:
    """Address of the host shim for ``params -> results``."""
    return _cached_shim(_host, "host", params, results)


# Host shims of many signatures at once (the warmmod block) -----------------------------


def preload_host_shims(signatures: Sequence[tuple[Sequence[int], Sequence[int]]]) -> None:
    """Make the host shims of ``signatures`` (params, results) that are not made yet,
    linked as one library: instantiating a module that imports many host functions
    (a WASI program: CPython for WASI imports 43, of 17 signatures) then links once,
    not once per signature (~0.3 ms each).  :func:`host_shim` finds them after."""
    with _lock:
        wanted: list[Signature] = []
        for params, results in signatures:
            key = (tuple(params), tuple(results))
            if key not in _host and key not in wanted:
                wanted.append(key)
        if len(wanted) < 2:
            return  # host_shim's own path costs no more
        for key, address in zip(wanted, _make("host", wanted, x64_shims_enabled()),
                                strict=True):
            _host[key] = address
