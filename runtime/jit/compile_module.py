"""Compiling a whole wasm module to machine code: the driver between the stages.

``compile_module`` translates every defined function to IR (``translate``), hands the
IR and one entry shim per distinct signature to the back end (``jit.compiler``, which
legalizes, lowers, compiles and loads), and returns the code with what the runtime needs
to reach it: function addresses by wasm function index, entry shims by type index, the
vmctx layout the code was compiled against.  Functions that can escape the module
(exports, element segments, global initializers, the start function) are global symbols;
the others have internal linkage.

Registering ``code_ranges`` with the fault handler is the caller's job
(``CompiledModule.on_release`` lets it unregister them).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pyjitwasm.ir.function import Function
from pyjitwasm.jit.codeload import CodeRange, LoadedCode
from pyjitwasm.jit.compiler import (
    CodegenOptions,
    CompileTimings,
    FunctionCode,
    FunctionToCompile,
    compile_functions,
)
from pyjitwasm.jit.lower_module import ShimSpec, entry_shim_name
from pyjitwasm.translate.env import ir_value_types
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
    ``inline_bulk_memory``: translate memory.copy/fill to inline bounds checks and
    ``memmove``/``memset`` (else they call the libcalls)."""

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
        return HeapConfig(self.heap_style, self.static_bound, self.guard,
                          self.inline_bulk_memory)

    def codegen_options(self) -> CodegenOptions:
        """The back end's view of these options."""
        return CodegenOptions(self.opt_level, self.verify, keep_llvm_ir=self.keep_ir)


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
    functions: list[FunctionToCompile] = []
    for index in range(first, first + len(module.codes)):
        t0 = time.perf_counter()
        func = translate_function(module, index, info=info)
        timings.translate += time.perf_counter() - t0
        internal = options.internal_linkage and index not in escaping
        functions.append(FunctionToCompile(index, func, internal))

    shim_names: dict[int, str] = {}
    shims: dict[str, ShimSpec] = {}
    for type_index, ftype in enumerate(module.types):
        params, results = ir_value_types(ftype.params), ir_value_types(ftype.results)
        name = entry_shim_name(params, results)
        shim_names[type_index] = name
        shims.setdefault(name, ShimSpec(name, params, results))

    compiled = compile_functions(functions, shims.values(), options.codegen_options(), timings,
                                 symbols)
    return CompiledModule(
        module=module,
        layout=info.layout,
        code=compiled.code,
        functions=compiled.functions,
        shims={ti: compiled.shims[name] for ti, name in shim_names.items()},
        timings=timings,
        # Legalized in place by the back end.
        ir_functions={unit.index: unit.func for unit in functions} if options.keep_ir else {},
        llvm_ir=compiled.llvm_ir,
    )


__all__ = ["CompileOptions", "CompileTimings", "CompiledModule", "FunctionCode",
           "compile_module", "escaping_functions"]
