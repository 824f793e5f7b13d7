"""One LLVM module per wasm module: its functions, entry shims, declarations, metadata."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyjitwasm.ir.function import Function
from pyjitwasm.ir.types import Type
from pyjitwasm.jit import abi
from pyjitwasm.jit.lower import Declarations, attributes, lower_function, module_metadata
from pyjitwasm.jit.lower_debug import DebugLocations


@dataclass(frozen=True)
class ShimSpec:
    """An entry shim to emit: its symbol and the signature (IR value types)."""

    name: str
    params: tuple[Type, ...]
    results: tuple[Type, ...]


def entry_shim_name(params: Sequence[Type], results: Sequence[Type]) -> str:
    """The symbol of the entry shim for a signature (shared by equal signatures)."""
    return "entry_" + abi.signature_tag(params, results)


def emit_module(functions: Sequence[tuple[Function, str]],
                shims: Iterable[ShimSpec] = (), source_locations: bool = False,
                trap_sites: bool = False) -> str:
    """LLVM IR text of a module defining ``functions`` (each with its linkage, e.g.
    ``""`` or ``"internal"``) and the entry ``shims``.  ``source_locations``: give the
    instructions a backtrace may stop at the debug location of their source location
    (``lower_debug``), for the object's line table; ``trap_sites``: keep every trap
    site's machine code apart (see ``lower.lower_function``)."""
    decls = Declarations()
    defined: set[str] = set()
    parts = [abi.RUNTIME_DECLARATIONS]
    debug = DebugLocations() if source_locations else None
    for func, linkage in functions:
        locations = debug.function(func.name) if debug is not None else None
        parts.append(lower_function(func, decls, linkage, locations, trap_sites))
        defined.add(func.name)
    internal = [func.name for func, linkage in functions if linkage == "internal"]
    if internal:
        # Keep internal functions even where LLVM inlined every call (above opt level 1),
        # so each wasm function keeps an address for the runtime and for backtraces.
        refs = ", ".join(f"ptr @{name}" for name in internal)
        parts.append(f"@llvm.compiler.used = appending global [{len(internal)} x ptr] "
                     f'[{refs}], section "llvm.metadata"\n')
    for shim in shims:
        parts.append(abi.entry_shim_ir(shim.name, shim.params, shim.results))
    parts.append(decls.text(defined))
    parts.append(attributes())
    parts.append(module_metadata())
    if debug is not None:
        parts.append(debug.metadata())
    return "\n".join(parts)
