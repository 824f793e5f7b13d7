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
from pyjitwasm.jit.codeload import CodeLoader, LLVMPipeline, LoadedCode
from pyjitwasm.jit.elfsyms import read_code_layout
from pyjitwasm.jit.lower_module import ShimSpec, emit_module
from pyjitwasm.jit.lower_objsyms import function_symbols


@dataclass(frozen=True)
class CodegenOptions:
    """How the back end compiles.

    ``opt_level``: see ``jit.codeload`` (1 = hand-picked pipeline).  ``pipeline``: an
    explicit LLVM configuration instead (tier 0 uses one).  ``verify``: run the IR
    verifier before and after legalization.  ``keep_llvm_ir``: keep the LLVM text on
    the result."""

    opt_level: int = 1
    verify: bool = False
    keep_llvm_ir: bool = False
    pipeline: LLVMPipeline | None = None

    @property
    def llvm_pipeline(self) -> LLVMPipeline:
        """The LLVM configuration these options compile with."""
        return self.pipeline or LLVMPipeline.for_level(self.opt_level)


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


_loaders: dict[LLVMPipeline, CodeLoader] = {}
_loaders_lock = threading.Lock()


def code_loader(opt_level: int | LLVMPipeline) -> CodeLoader:
    """The process-wide loader of an optimization level or LLVM pipeline."""
    pipeline = (opt_level if isinstance(opt_level, LLVMPipeline)
                else LLVMPipeline.for_level(opt_level))
    with _loaders_lock:
        if pipeline not in _loaders:
            _loaders[pipeline] = CodeLoader(pipeline)
        return _loaders[pipeline]


def compile_functions(functions: Sequence[FunctionToCompile], shims: Iterable[ShimSpec],
                      options: CodegenOptions, timings: CompileTimings,
                      symbols: Mapping[str, int] | None = None) -> CompiledFunctions:
    """Legalize, lower, compile and load ``functions`` (legalized in place) and the entry
    ``shims``; stage times are added to ``timings``."""
    obj, text = emit_object(functions, shims, options, timings)
    compiled = load_object_code(obj, options.llvm_pipeline, timings, symbols)
    compiled.llvm_ir = text if options.keep_llvm_ir else ""
    return compiled


@dataclass(frozen=True)
class ObjectCode:
    """A batch compiled to a relocatable ELF object but not loaded: what a code cache or a
    serialized module keeps.  Nothing in it depends on the process (runtime symbols are
    resolved when it is linked), so it can be loaded by another process on the same CPU.
    ``functions`` names each function's symbol (by ``FunctionToCompile.index``);
    ``shims`` the entry shims it defines."""

    obj: bytes
    functions: dict[int, str]
    shims: tuple[str, ...]


def emit_object(functions: Sequence[FunctionToCompile], shims: Iterable[ShimSpec],
                options: CodegenOptions, timings: CompileTimings) -> tuple[ObjectCode, str]:
    """Legalize, lower and compile ``functions`` and ``shims`` to an object (no loading);
    also returns the LLVM text."""
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

    obj = code_loader(options.llvm_pipeline).compile_object(text)
    timings.llvm += time.perf_counter() - t1
    timings.functions += len(functions)
    names = {unit.index: unit.func.name for unit in functions}
    return ObjectCode(obj, names, tuple(spec.name for spec in shim_specs)), text


def load_object_code(code: ObjectCode, pipeline: int | LLVMPipeline, timings: CompileTimings,
                     symbols: Mapping[str, int] | None = None) -> CompiledFunctions:
    """Link ``code`` (from :func:`emit_object`, maybe in another process) into this
    process, resolving undefined symbols from ``symbols``."""
    t0 = time.perf_counter()
    obj = code.obj
    loaded = code_loader(pipeline).load_object(obj, symbols)
    section_starts: dict[str, int] = {}
    for section in read_code_layout(obj)[0]:
        if section.anchor is not None:
            section_starts[section.name] = loaded.address(section.anchor) - section.anchor_offset
    by_name = {name: index for index, name in code.functions.items()}
    codes: dict[int, FunctionCode] = {}
    for sym in function_symbols(obj):
        index = by_name.get(sym.name)
        if index is not None and sym.section in section_starts:
            start = section_starts[sym.section] + sym.offset
            codes[index] = FunctionCode(index, sym.name, start, sym.size)
    timings.link += time.perf_counter() - t0
    return CompiledFunctions(
        code=loaded,
        functions=codes,
        shims={name: loaded.address(name) for name in code.shims},
    )


__all__ = ["CodegenOptions", "CompileTimings", "CompiledFunctions", "FunctionCode",
           "FunctionToCompile", "ObjectCode", "code_loader", "compile_functions",
           "emit_object", "load_object_code"]
