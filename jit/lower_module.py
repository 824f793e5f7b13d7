"""One LLVM module per wasm module: its functions, entry shims, declarations, metadata."""

from __future__ import annotations

from collections.abc import Iterable

from pyjitwasm.ir.function import Function
from pyjitwasm.jit import abi
from pyjitwasm.jit.lower import Declarations, attributes, lower_function, module_metadata
from pyjitwasm.jit.lower_debug import DebugLocations
from pyjitwasm.jit.lowered import LoweredFunction, ShimSpec


class ModuleText:
    """The LLVM IR text of one module, built one function at a time.

    ``add_function`` lowers a function to text at once, so the caller can drop its IR
    before the next one (a batch's peak memory is then one function's IR plus the text,
    not every function's IR); ``finish`` adds the entry shims, the declarations the
    functions used, the attributes and the metadata.  ``source_locations``: give the
    instructions a backtrace may stop at the debug location of their source location
    (``lower_debug``), for the object's line table; ``trap_sites``: keep every trap
    site's machine code apart (see ``lower.lower_function``)."""

    def __init__(self, source_locations: bool = False, trap_sites: bool = False) -> None:
        self._decls = Declarations()
        self._defined: set[str] = set()
        self._internal: list[str] = []
        self._parts = [abi.RUNTIME_DECLARATIONS]
        self._debug = DebugLocations() if source_locations else None
        self._trap_sites = trap_sites

    def add_function(self, func: Function, linkage: str = "") -> None:
        """Lower ``func`` (legalized IR) with ``linkage`` (e.g. ``""`` or ``"internal"``)."""
        locations = self._debug.function(func.name) if self._debug is not None else None
        self._parts.append(lower_function(func, self._decls, linkage, locations,
                                          self._trap_sites))
        self._defined.add(func.name)
        if linkage == "internal":
            self._internal.append(func.name)

    def add_lowered(self, function: LoweredFunction) -> None:
        """Add a function some other emitter already wrote as LLVM text (tier 0's direct
        emitter, ``baseline/``), with its ``declare`` lines."""
        if self._debug is not None and function.with_locations is not None:
            self._parts.append(function.with_locations(self._debug.function(function.name)))
        else:
            self._parts.append(function.text)
        for name, line in function.declarations.items():
            self._decls.add(name, line)
        self._defined.add(function.name)
        if function.internal:
            self._internal.append(function.name)

    def finish(self, shims: Iterable[ShimSpec] = ()) -> str:
        """The module's text, with the entry ``shims``."""
        parts = self._parts
        if self._internal:
            # Keep internal functions even where LLVM inlined every call (above opt
            # level 1), so each wasm function keeps an address for the runtime and for
            # backtraces.
            refs = ", ".join(f"ptr @{name}" for name in self._internal)
            parts.append(f"@llvm.compiler.used = appending global [{len(self._internal)} x ptr] "
                         f'[{refs}], section "llvm.metadata"\n')
        for shim in shims:
            parts.append(abi.entry_shim_ir(shim.name, shim.params, shim.results))
        parts.append(self._decls.text(self._defined))
        parts.append(attributes())
        parts.append(module_metadata())
        if self._debug is not None:
            parts.append(self._debug.metadata())
        return "\n".join(parts)


def emit_module(functions: Iterable[tuple[Function, str]],
                shims: Iterable[ShimSpec] = (), source_locations: bool = False,
                trap_sites: bool = False) -> str:
    """LLVM IR text of a module defining ``functions`` (each with its linkage, e.g.
    ``""`` or ``"internal"``) and the entry ``shims`` (see :class:`ModuleText`)."""
    text = ModuleText(source_locations, trap_sites)
    for func, linkage in functions:
        text.add_function(func, linkage)
    return text.finish(shims)
