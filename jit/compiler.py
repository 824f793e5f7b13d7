"""Compiling a whole wasm module to machine code.

``compile_module`` translates every defined function to IR, legalizes (and optionally
verifies) it, lowers the lot to one LLVM module with an entry shim per distinct
signature, and loads it with ``CodeLoader``.  Runtime symbols (``pyjitwasm_trap``, the
``libcall_*`` entry points...) are resolved from the ``symbols`` mapping the runtime
provides.  Functions that can escape the module (exports, element segments, global
initializers, the start function) are global symbols; the others have internal linkage,
and their places are read from the object's local symbols.

This layer does not import the runtime: registering ``code_ranges`` with the fault
handler is the caller's job (``CompiledModule.on_release`` lets it unregister them).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pyjitwasm.ir.function import Function
from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.verifier import verify
from pyjitwasm.jit.codeload import CodeLoader, CodeRange, LoadedCode
from pyjitwasm.jit.elfsyms import read_code_layout
from pyjitwasm.jit.lower_module import ShimSpec, emit_module, entry_shim_name
from pyjitwasm.jit.lower_objsyms import function_symbols
from pyjitwasm.translate.translator import HeapConfig, ModuleInfo, translate_function
from pyjitwasm.translate.vmctx import VMContextLayout, func_ref_indices
from pyjitwasm.wasm.module import WasmModule


@dataclass(frozen=True)
class CompileOptions:
    """How to compile.

    ``heap_style``: ``"static"`` (32-bit memories live in a ``static_bound``-byte
    reservation followed by ``guard`` bytes of faulting pages: no explicit bounds checks)
    or ``"dynamic"`` (explicit checks against the current length); 64-bit memories are
    always dynamic.  ``opt_level``: see ``jit.codeload`` (1 = hand-picked pipeline).
    ``verify``: run the IR verifier after translation and legalization.  ``keep_ir``:
    keep the legalized IR and the LLVM text on the result (for ``pyjitwasm asm``).
    ``internal_linkage``: give functions that cannot escape internal linkage.
    ``inline_bulk_memory``: lower memory.copy/fill inline (else they call the libcalls)."""

    heap_style: str = "static"
    static_bound: int = 1 << 32
    guard: int = 1 << 31
    opt_level: int = 1
    verify: bool = False
    keep_ir: bool = False
    internal_linkage: bool = True
    inline_bulk_memory: bool = True

    def heap_config(self) -> HeapConfig:
        """The translator's view of these options."""
        if self.heap_style not in ("static", "dynamic"):
            raise ValueError(f"unknown heap style {self.heap_style!r}")
        return HeapConfig(self.heap_style, self.static_bound, self.guard)


@dataclass
class CompileTimings:
    """Seconds spent in each stage of one ``compile_module``."""

    translate: float = 0.0
    legalize: float = 0.0
    verify: float = 0.0
    lower: float = 0.0
    llvm: float = 0.0  # parse + optimize + code generation
    link: float = 0.0
    functions: int = 0

    @property
    def total(self) -> float:
        return (self.translate + self.legalize + self.verify + self.lower + self.llvm
                + self.link)


@dataclass(frozen=True)
class FunctionCode:
    """Where a compiled wasm function's machine code lives."""

    func_index: int
    symbol: str
    start: int
    size: int


@dataclass
class CompiledModule:
    """Machine code of one wasm module.  Keep it alive while any of its code may run."""

    module: WasmModule
    layout: VMContextLayout
    code: LoadedCode
    functions: dict[int, FunctionCode]
    shims: dict[int, int]  # type index -> entry shim address
    timings: CompileTimings
    ir_functions: dict[int, Function] = field(default_factory=dict)
    llvm_ir: str = ""
    _starts: list[int] = field(default_factory=list, repr=False)
    _ordered: list[FunctionCode] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._ordered = sorted(self.functions.values(), key=lambda f: f.start)
        self._starts = [f.start for f in self._ordered]

    def function_address(self, func_index: int) -> int:
        """Address of defined function ``func_index`` (wasm ABI, see ``jit/abi.py``);
        KeyError for imported functions.  Internal functions are kept even when LLVM
        inlines every call (``llvm.compiler.used``), so every defined function has one."""
        return self.functions[func_index].start

    def entry_shim(self, type_index: int) -> int:
        """Address of the entry shim for module type ``type_index``."""
        return self.shims[type_index]

    @property
    def code_ranges(self) -> list[CodeRange]:
        """Every address range holding this module's machine code."""
        return self.code.code_ranges

    def func_index_at(self, pc: int) -> int | None:
        """The wasm function whose code contains ``pc`` (a return address or the
        faulting instruction), or None."""
        i = bisect.bisect_right(self._starts, pc) - 1
        if i >= 0:
            f = self._ordered[i]
            if pc < f.start + max(f.size, 1):
                return f.func_index
        return None

    def on_release(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` just before the code is freed."""
        self.code.on_release(callback)

    def release(self) -> None:
        """Free the machine code now (idempotent)."""
        self.code.release()


_loaders: dict[int, CodeLoader] = {}
_loaders_lock = threading.Lock()


def code_loader(opt_level: int) -> CodeLoader:
    """The process-wide loader of an optimization level."""
    with _loaders_lock:
        if opt_level not in _loaders:
            _loaders[opt_level] = CodeLoader(opt_level)
        return _loaders[opt_level]


def escaping_functions(module: WasmModule) -> set[int]:
    """Functions whose address leaves the module (they need a global symbol)."""
    escaping = set(func_ref_indices(module))
    if module.start is not None:
        escaping.add(module.start)
    return escaping


def compile_module(module: WasmModule, options: CompileOptions | None = None,
                   symbols: Mapping[str, int] | None = None) -> CompiledModule:
    """Compile every function ``module`` defines (the module must be validated)."""
    options = options or CompileOptions()
    timings = CompileTimings()
    info = ModuleInfo(module, options.heap_config())
    first = module.num_imported_funcs
    escaping = escaping_functions(module)
    functions: list[tuple[Function, str]] = []
    by_name: dict[str, int] = {}
    ir_functions: dict[int, Function] = {}
    for index in range(first, first + len(module.codes)):
        t0 = time.perf_counter()
        func = translate_function(module, index, info=info)
        t1 = time.perf_counter()
        if options.verify:
            verify(func)
        t2 = time.perf_counter()
        legalize(func)
        t3 = time.perf_counter()
        if options.verify:
            verify(func)
        t4 = time.perf_counter()
        timings.translate += t1 - t0
        timings.legalize += t3 - t2
        timings.verify += (t2 - t1) + (t4 - t3)
        internal = options.internal_linkage and index not in escaping
        functions.append((func, "internal" if internal else ""))
        by_name[func.name] = index
        if options.keep_ir:
            ir_functions[index] = func

    t0 = time.perf_counter()
    shim_names: dict[int, str] = {}
    shims: dict[str, ShimSpec] = {}
    for type_index, ftype in enumerate(module.types):
        name = entry_shim_name(ftype.params, ftype.results)
        shim_names[type_index] = name
        shims.setdefault(name, ShimSpec(name, ftype.params, ftype.results))
    text = emit_module(functions, shims.values(),
                       info.layout if options.inline_bulk_memory else None)
    t1 = time.perf_counter()
    timings.lower = t1 - t0

    loader = code_loader(options.opt_level)
    obj = loader.compile_object(text)
    t2 = time.perf_counter()
    timings.llvm = t2 - t1
    loaded = loader.load_object(obj, symbols)
    timings.link = time.perf_counter() - t2
    timings.functions = len(functions)

    section_starts = {}
    for section in read_code_layout(obj)[0]:
        if section.anchor is not None:
            section_starts[section.name] = loaded.address(section.anchor) - section.anchor_offset
    codes: dict[int, FunctionCode] = {}
    for sym in function_symbols(obj):
        index = by_name.get(sym.name)
        if index is not None and sym.section in section_starts:
            start = section_starts[sym.section] + sym.offset
            codes[index] = FunctionCode(index, sym.name, start, sym.size)
    shim_addresses = {ti: loaded.address(name) for ti, name in shim_names.items()}
    return CompiledModule(
        module=module,
        layout=info.layout,
        code=loaded,
        functions=codes,
        shims=shim_addresses,
        timings=timings,
        ir_functions=ir_functions,
        llvm_ir=text if options.keep_ir else "",
    )


__all__ = ["CompileOptions", "CompileTimings", "CompiledModule", "FunctionCode",
           "code_loader", "compile_module", "escaping_functions"]
