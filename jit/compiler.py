"""The back end's pipeline: IR functions in, loaded machine code out.

``compile_functions`` legalizes (and optionally verifies) each IR function, lowers them
all to one LLVM module together with the requested entry shims, compiles and loads it
with ``CodeLoader``, and reports where each function's code landed.  Runtime symbols
(``pyjitwasm_trap``, the ``libcall_*`` entry points...) are resolved from the ``symbols``
mapping the caller provides.  Internal functions get internal linkage, and their places
are read from the object's local symbols.

The back end knows IR only: producing the IR (the wasm module driver is
``runtime/jit/compile_module.py``) and registering ``code_ranges`` with the fault handler
are the caller's job (``CompiledFunctions.code.on_release`` lets it unregister them).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pyjitwasm.ir.function import Function
from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.verifier import verify
from pyjitwasm.jit.codeload import CodeLoader, LoadedCode
from pyjitwasm.jit.elfsyms import read_code_layout
from pyjitwasm.jit.lower_module import ShimSpec, emit_module
from pyjitwasm.jit.lower_objsyms import function_symbols


@dataclass(frozen=True)
class CodegenOptions:
    """How the back end compiles.

    ``opt_level``: see ``jit.codeload`` (1 = hand-picked pipeline).  ``verify``: run the
    IR verifier before and after legalization.  ``keep_llvm_ir``: keep the LLVM text on
    the result."""

    opt_level: int = 1
    verify: bool = False
    keep_llvm_ir: bool = False


@dataclass
class CompileTimings:
    """Seconds spent in each stage of compiling one module.  ``translate`` is the time
    the caller spent producing the IR (the back end fills the others)."""

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
class FunctionToCompile:
    """An IR function and how it is linked.  ``index`` is the caller's number for it
    (a wasm function index), the key of its ``FunctionCode``; ``internal`` functions get
    no global symbol (nothing outside the module calls them by name)."""

    index: int
    func: Function
    internal: bool = False


@dataclass(frozen=True)
class FunctionCode:
    """Where a compiled function's machine code lives."""

    func_index: int
    symbol: str
    start: int
    size: int


@dataclass
class CompiledFunctions:
    """The machine code of one batch of IR functions.  Keep ``code`` alive while any of
    it may run."""

    code: LoadedCode
    functions: dict[int, FunctionCode]  # FunctionToCompile.index -> its code
    shims: dict[str, int]  # entry shim name -> address
    llvm_ir: str = ""


LARGE_FUNCTION_INSTS = 12_000
"""IR instructions (``len(func.dfg.insts)`` before legalization) above which a function
is *large*: its batch is optimized without NewGVN (``CodeLoader.compile_object``).
NewGVN's peak memory on CPython 3.12's functions grew about quadratically with their
size: 34 MiB at 4.6k wasm instructions, 119 at 8.8k, 163 at 12.8k, 0.6-1.0 GiB at
17-24k, 4.3-4.5 GiB (and 14 s) at 35-42k; the IR has 1.05-1.25 instructions per wasm
instruction, so this is about 11k wasm instructions, ~150 MiB."""

_loaders: dict[int, CodeLoader] = {}
_loaders_lock = threading.Lock()


def code_loader(opt_level: int) -> CodeLoader:
    """The process-wide loader of an optimization level."""
    with _loaders_lock:
        if opt_level not in _loaders:
            _loaders[opt_level] = CodeLoader(opt_level)
        return _loaders[opt_level]


def compile_functions(functions: Sequence[FunctionToCompile], shims: Iterable[ShimSpec],
                      options: CodegenOptions, timings: CompileTimings,
                      symbols: Mapping[str, int] | None = None) -> CompiledFunctions:
    """Legalize, lower, compile and load ``functions`` (legalized in place) and the entry
    ``shims``; stage times are added to ``timings``."""
    large = any(len(unit.func.dfg.insts) > LARGE_FUNCTION_INSTS for unit in functions)
    for unit in functions:
        t0 = time.perf_counter()
        if options.verify:
            verify(unit.func)
        t1 = time.perf_counter()
        legalize(unit.func)
        t2 = time.perf_counter()
        if options.verify:
            verify(unit.func)
        timings.legalize += t2 - t1
        timings.verify += (t1 - t0) + (time.perf_counter() - t2)

    t0 = time.perf_counter()
    shim_specs = list(shims)
    text = emit_module([(unit.func, "internal" if unit.internal else "") for unit in functions],
                       shim_specs)
    t1 = time.perf_counter()
    timings.lower += t1 - t0

    loader = code_loader(options.opt_level)
    obj = loader.compile_object(text, large=large)
    t2 = time.perf_counter()
    timings.llvm += t2 - t1
    loaded = loader.load_object(obj, symbols)
    timings.link += time.perf_counter() - t2
    timings.functions += len(functions)

    section_starts: dict[str, int] = {}
    for section in read_code_layout(obj)[0]:
        if section.anchor is not None:
            section_starts[section.name] = loaded.address(section.anchor) - section.anchor_offset
    by_name = {unit.func.name: unit.index for unit in functions}
    codes: dict[int, FunctionCode] = {}
    for sym in function_symbols(obj):
        index = by_name.get(sym.name)
        if index is not None and sym.section in section_starts:
            start = section_starts[sym.section] + sym.offset
            codes[index] = FunctionCode(index, sym.name, start, sym.size)
    return CompiledFunctions(
        code=loaded,
        functions=codes,
        shims={spec.name: loaded.address(spec.name) for spec in shim_specs},
        llvm_ir=text if options.keep_llvm_ir else "",
    )


__all__ = ["LARGE_FUNCTION_INSTS", "CodegenOptions", "CompileTimings", "CompiledFunctions",
           "FunctionCode", "FunctionToCompile", "code_loader", "compile_functions"]
