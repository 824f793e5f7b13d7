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

import bisect
import ctypes
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

from pyjitwasm.jit.dwarf_lines import code_matches, read_line_rows, section_names
from pyjitwasm.jit.elfsyms import (
    CodeSection,
    DefinedSymbol,
    ObjectSymbols,
    read_object_symbols,
)
from pyjitwasm.jit.loaded import LoadedCode
from pyjitwasm.jit.lower_objsyms import function_symbols
from pyjitwasm.jit.lowered import LoweredFunction, ShimSpec
from pyjitwasm.jit.objload import NativeLoader, UnsupportedObject
from pyjitwasm.jit.pipelines import LLVMPipeline

if TYPE_CHECKING:
    from pyjitwasm.ir.function import Function
    from pyjitwasm.jit.codeload import CodeLoader


@dataclass(frozen=True)
class CodegenOptions:
    """How the back end compiles.

    ``opt_level``: see ``jit.codeload`` (1 = hand-picked pipeline).  ``pipeline``: an
    explicit LLVM configuration instead (tier 0 uses one).  ``verify``: run the IR
    verifier before and after legalization.  ``keep_llvm_ir``: keep the LLVM text on
    the result.  ``source_locations``: give the code debug locations and read the
    object's line table into ``CompiledFunctions.source_lines`` (the machine code is the
    same either way; see :func:`locate_functions` for getting them later instead)."""

    opt_level: int = 1
    verify: bool = False
    keep_llvm_ir: bool = False
    pipeline: LLVMPipeline | None = None
    source_locations: bool = False

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


class FunctionCode(NamedTuple):
    """Where a compiled function's machine code lives.  (A named tuple: a warm start
    makes thousands of them, and a frozen dataclass costs about three times as much.)"""

    func_index: int
    symbol: str
    start: int
    size: int


@dataclass(frozen=True)
class SourceLines:
    """Where a function's machine code comes from: from address ``starts[i]`` on (up to
    the next start) the code has source location ``locations[i]`` (None: unknown)."""

    starts: list[int]
    locations: list[int | None]

    def at(self, pc: int) -> int | None:
        """The source location of the instruction at ``pc`` (None if unknown)."""
        i = bisect.bisect_right(self.starts, pc) - 1
        return self.locations[i] if i >= 0 else None


@dataclass
class CompiledFunctions:
    """The machine code of one batch of IR functions.  Keep ``code`` alive while any of
    it may run."""

    code: LoadedCode
    functions: dict[int, FunctionCode]  # FunctionToCompile.index -> its code
    shims: dict[str, int]  # entry shim name -> address
    llvm_ir: str = ""
    # FunctionToCompile.index -> its source lines (with CodegenOptions.source_locations)
    source_lines: dict[int, SourceLines] = field(default_factory=dict)


_loaders: dict[LLVMPipeline, CodeLoader] = {}
_loaders_lock = threading.Lock()


def code_loader(opt_level: int | LLVMPipeline) -> CodeLoader:
    """The process-wide loader of an optimization level or LLVM pipeline."""
    # Imported here: loading code the native loader links (a warm start) needs no LLVM.
    from pyjitwasm.jit.codeload import CodeLoader

    pipeline = (opt_level if isinstance(opt_level, LLVMPipeline)
                else LLVMPipeline.for_level(opt_level))
    with _loaders_lock:
        if pipeline not in _loaders:
            _loaders[pipeline] = CodeLoader(pipeline)
        return _loaders[pipeline]


def release_loaders() -> None:
    """Drop the process's loaders (their LLVM pass builders and pipelines).  Called at
    interpreter exit once no compile can run any more: left to the interpreter's
    teardown, they could be freed after llvmlite's library handle is gone (when LLVM was
    first loaded by a background tier-up), and each would print an ignored error."""
    with _loaders_lock:
        _loaders.clear()


def _lower_all(functions: Iterable[FunctionToCompile | LoweredFunction], shims: list[ShimSpec],
               options: CodegenOptions, timings: CompileTimings,
               by_name: dict[str, int]) -> str:
    """The LLVM text of ``functions`` and ``shims``, each function legalized and lowered
    as it comes (``by_name`` receives name -> index); no IR outlives its lowering."""
    # Imported on first use: a warm start and an x64 tier 0 link and run code without
    # ever lowering IR, and these modules cost ~30 ms of import (docs/jit-design.md).
    from pyjitwasm.ir.legalize import legalize
    from pyjitwasm.ir.verifier import verify
    from pyjitwasm.jit.lower_module import ModuleText

    # Trap sites always (the code must not depend on source_locations, see
    # ``locate_functions``).
    text = ModuleText(options.source_locations, trap_sites=True)
    for unit in functions:
        if isinstance(unit, LoweredFunction):
            text.add_lowered(unit)  # already text (tier 0's direct emitter)
            by_name[unit.name] = unit.index
            continue
        t0 = time.perf_counter()
        if options.verify:
            verify(unit.func)
        t1 = time.perf_counter()
        legalize(unit.func)
        t2 = time.perf_counter()
        if options.verify:
            verify(unit.func)
        t3 = time.perf_counter()
        text.add_function(unit.func, "internal" if unit.internal else "")
        by_name[unit.func.name] = unit.index
        timings.legalize += t2 - t1
        timings.verify += (t1 - t0) + (t3 - t2)
        timings.lower += time.perf_counter() - t3
    t0 = time.perf_counter()
    llvm_text = text.finish(shims)
    timings.lower += time.perf_counter() - t0
    return llvm_text


def compile_functions(functions: Iterable[FunctionToCompile], shims: Iterable[ShimSpec],
                      options: CodegenOptions, timings: CompileTimings,
                      symbols: Mapping[str, int] | None = None) -> CompiledFunctions:
    """Legalize, lower, compile and load ``functions`` (legalized in place) and the entry
    ``shims``; stage times are added to ``timings``.  See :func:`emit_object`."""
    obj, text = emit_object(functions, shims, options, timings)
    compiled = load_object_code(obj, options.llvm_pipeline, timings, symbols)
    compiled.llvm_ir = text if options.keep_llvm_ir else ""
    if options.source_locations:
        compiled.source_lines = locate_in_object(obj.obj, compiled.functions)
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


def emit_object(functions: Iterable[FunctionToCompile | LoweredFunction], shims: Iterable[ShimSpec],
                options: CodegenOptions, timings: CompileTimings) -> tuple[ObjectCode, str]:
    """Legalize, lower and compile ``functions`` and ``shims`` to an object (no loading);
    also returns the LLVM text.

    Each function is legalized and lowered to LLVM text as it comes and not referenced
    afterwards, so a caller handing a generator that translates on demand (as
    ``runtime/jit/compile_module.py`` does) holds one function's IR at a time.  A
    ``LoweredFunction`` is already LLVM text and goes into the module as it is."""
    by_name: dict[str, int] = {}
    shim_specs = list(shims)
    text = _lower_all(functions, shim_specs, options, timings, by_name)
    t1 = time.perf_counter()
    obj = code_loader(options.llvm_pipeline).compile_object(text)
    timings.llvm += time.perf_counter() - t1
    timings.functions += len(by_name)
    names = {index: name for name, index in by_name.items()}
    return ObjectCode(obj, names, tuple(spec.name for spec in shim_specs)), text


def load_object_code(code: ObjectCode, pipeline: int | LLVMPipeline, timings: CompileTimings,
                     symbols: Mapping[str, int] | None = None) -> CompiledFunctions:
    """Link ``code`` (from :func:`emit_object`, maybe in another process) into this
    process, resolving undefined symbols from ``symbols``."""
    t0 = time.perf_counter()
    compiled = load_object_codes([code], pipeline, symbols)[0]
    timings.link += time.perf_counter() - t0
    return compiled


def load_object_codes(codes: Sequence[ObjectCode], pipeline: int | LLVMPipeline,
                      symbols: Mapping[str, int] | None = None,
                      object_symbols: Sequence[ObjectSymbols] | None = None,
                      merged: bytes | None = None) -> list[CompiledFunctions]:
    """Link several objects as one library (``CodeLoader.load_objects``: their global
    symbols must not clash), one :class:`CompiledFunctions` each.  ``object_symbols``:
    each object's ``read_object_symbols``, when the caller knows them (a warm start's
    pack keeps them); else each object is read once here.  ``merged``: the objects
    merged into one (``objmerge.merge_objects``, a warm start's pack keeps them so),
    linked instead of ``codes[i].obj`` (then unused: ``object_symbols`` is needed)."""
    if merged is not None:
        if object_symbols is None:
            raise ValueError("merged objects are linked with their parts' symbols")
        loaded_all = link_merged(merged, [read.code_layout for read in object_symbols],
                                 pipeline, symbols)
    else:
        if object_symbols is None:
            object_symbols = [read_object_symbols(code.obj) for code in codes]
        loaded_all = link_objects([code.obj for code in codes], pipeline, symbols,
                                  [read.code_layout for read in object_symbols])
    compiled = []
    for code, read, loaded in zip(codes, object_symbols, loaded_all, strict=True):
        addresses = loaded.addresses
        section_starts = {section.name: addresses[section.anchor] - section.anchor_offset
                          for section in read.sections if section.anchor is not None}
        names = code.functions
        by_name = {names[index]: index for index in names}
        functions: dict[int, FunctionCode] = {}
        for name, section_name, offset, size in read.functions:
            index = by_name.get(name)
            start = section_starts.get(section_name)
            if index is not None and start is not None:
                functions[index] = FunctionCode(index, name, start + offset, size)
        compiled.append(CompiledFunctions(
            code=loaded,
            functions=functions,
            shims={name: addresses[name] for name in code.shims},
        ))
    return compiled


NATIVE_LOADING = os.environ.get("PYJITWASM_NATIVE_LOADER", "1").strip().lower() not in (
    "0", "false", "no", "off")
"""Whether objects are linked by ``objload.NativeLoader`` (ORC for those it refuses);
``PYJITWASM_NATIVE_LOADER=0``: always ORC (for comparisons)."""

_native_loader = NativeLoader()


def link_objects(objs: Sequence[bytes], pipeline: int | LLVMPipeline,
                 symbols: Mapping[str, int] | None,
                 layouts: Sequence[tuple[list[CodeSection], list[DefinedSymbol]]] | None = None
                 ) -> list[LoadedCode]:
    """Link ``objs`` as one library: by the native loader (no LLVM), or through ORC
    (``code_loader(pipeline)``) when it refuses one of them.  ``layouts``: the objects'
    ``read_code_layout``, when the caller has them."""
    if NATIVE_LOADING:
        try:
            return _native_loader.load_objects(objs, symbols)
        except UnsupportedObject:
            pass
    return code_loader(pipeline).load_objects(objs, symbols, layouts=layouts)


def link_merged(obj: bytes, layouts: Sequence[tuple[list[CodeSection], list[DefinedSymbol]]],
                pipeline: int | LLVMPipeline, symbols: Mapping[str, int] | None
                ) -> list[LoadedCode]:
    """Link ``obj``, merged from objects of ``layouts`` (``objmerge.merge_objects``), one
    :class:`LoadedCode` per part: natively, or through ORC when the native loader
    refuses it (``CodeLoader.load_merged``)."""
    if NATIVE_LOADING:
        try:
            return _native_loader.load_merged(obj, layouts, symbols)
        except UnsupportedObject:
            pass
    return code_loader(pipeline).load_merged(obj, layouts, symbols)


def locate_functions(functions: Sequence[FunctionToCompile], shims: Sequence[ShimSpec],
                     options: CodegenOptions,
                     placed: Mapping[int, FunctionCode]) -> dict[int, SourceLines]:
    """Source lines for machine code already compiled and loaded (``placed``, from
    :func:`compile_functions` without ``source_locations``): compiles the same IR
    (``functions``, freshly made and not yet legalized, and ``shims``, as then) again,
    this time with debug locations, and reads the new object's line table.  Debug
    locations do not change LLVM's code; each function's new code is still compared
    with the loaded code, relocations aside, and one that differs gets no lines.

    This is how backtraces get their wasm offsets at no compile-time cost: the
    (rare) first trap through a batch of code pays for compiling it once more."""
    with_locations = replace(options, source_locations=True, keep_llvm_ir=False)
    code, _ = emit_object(functions, shims, with_locations, CompileTimings())
    return locate_in_object(code.obj, placed, check=True)


def locate_in_object(obj: bytes, placed: Mapping[int, FunctionCode],
                     check: bool = False) -> dict[int, SourceLines]:
    """Each placed function's source lines from the line table of ``obj`` (compiled
    with source locations): rows are matched to functions by symbol name.  ``check``:
    only for functions whose code in ``obj`` is the loaded code at ``placed``."""
    names = section_names(obj)
    symbols = {sym.name: sym for sym in function_symbols(obj)}
    by_section: dict[str, list[tuple[int, int, FunctionCode]]] = {}
    for code in placed.values():
        sym = symbols.get(code.symbol)
        if sym is None or sym.size != code.size:
            continue
        if check and not code_matches(obj, sym.section, sym.offset, sym.size,
                                      ctypes.string_at(code.start, code.size)):
            continue
        by_section.setdefault(sym.section, []).append((sym.offset, sym.size, code))
    for placed_here in by_section.values():
        placed_here.sort(key=lambda e: e[0])
    out: dict[int, SourceLines] = {}
    for row in read_line_rows(obj):
        entries = by_section.get(names[row.section])
        if not entries:
            continue
        i = bisect.bisect_right(entries, row.offset, key=lambda e: e[0]) - 1
        if i < 0 or row.offset >= entries[i][0] + entries[i][1]:
            continue
        offset, _size, code = entries[i]
        address = code.start + row.offset - offset
        lines = out.get(code.func_index)
        if lines is None:
            lines = out[code.func_index] = SourceLines([], [])
        location = row.line if row.line and not row.end else None
        if lines.starts and lines.starts[-1] == address:
            lines.locations[-1] = location  # a later row at one address wins
        else:
            lines.starts.append(address)
            lines.locations.append(location)
    return out


__all__ = ["CodegenOptions", "CompileTimings", "CompiledFunctions", "FunctionCode",
           "FunctionToCompile", "ObjectCode", "SourceLines", "code_loader",
           "compile_functions", "emit_object", "load_object_code", "load_object_codes",
           "locate_functions", "locate_in_object"]
