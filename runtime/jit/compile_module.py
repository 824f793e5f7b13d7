"""Compiling wasm functions to machine code: the driver between the stages.

``compile_batch`` translates some of a module's defined functions to IR (``translate``),
hands the IR (and, if asked, one entry shim per distinct signature) to the back end
(``jit.compiler``, which legalizes, lowers, compiles and loads), and returns the code
with what the runtime needs to reach it: function addresses by wasm function index,
entry shims by type index, the vmctx layout the code was compiled against.  Calls
between functions of one batch are direct; calls to the module's other functions go
through their code slots (``translate/vmctx.py``).  ``compile_module`` is the batch of
every function (eager compilation); ``module_code.ModuleCode`` is what instances use and
decides, with ``CompileOptions.lazy``, whether functions are compiled up front or one
batch at a time on their first call.

Registering ``code_ranges`` with the fault handler is the caller's job
(``CompiledModule.on_release`` lets it unregister them).
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pyjitwasm.jit.compiler import (
    CodegenOptions,
    CompiledFunctions,
    CompileTimings,
    FunctionCode,
    FunctionToCompile,
    ObjectCode,
    SourceLines,
    emit_object,
    load_object_code,
    load_object_codes,
    locate_in_object,
)
from pyjitwasm.jit.elfsyms import ObjectSymbols, read_object_symbols
from pyjitwasm.jit.loaded import CodeRange, LoadedCode
from pyjitwasm.jit.lowered import LoweredFunction, ShimSpec, entry_shim_name
from pyjitwasm.jit.pipelines import TIER0_LOOP_FREE_PIPELINE, TIER0_PIPELINE, LLVMPipeline
from pyjitwasm.translate.module_info import HeapConfig, InterruptChecks, ModuleInfo, ir_value_types
from pyjitwasm.translate.vmctx import VMContextLayout, func_ref_indices
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.gc_pause import cyclic_gc_paused
from pyjitwasm.wasm.module import Instr, WasmModule
from pyjitwasm.x64.tier0 import x64_tier0_object

if TYPE_CHECKING:
    from pyjitwasm.ir.function import Function


def env_flag(name: str) -> bool:
    """Environment variable ``name`` as a switch: on unless ``0``, ``false``, ``no`` or
    ``off`` (unset: on)."""
    return os.environ.get(name, "1").strip().lower() not in ("0", "false", "no", "off")


def _lazy_default() -> bool:
    """Lazy compilation unless ``PYJITWASM_LAZY=0`` (how the test suite runs eagerly)."""
    return env_flag("PYJITWASM_LAZY")


def _tiers_default() -> bool:
    """Two tiers under lazy compilation unless ``PYJITWASM_TIERS=0``."""
    return env_flag("PYJITWASM_TIERS")


def _tier0_default(loop_free: bool = False) -> LLVMPipeline:
    """``TIER0_PIPELINE`` (``TIER0_LOOP_FREE_PIPELINE``), or for both
    ``PYJITWASM_TIER0_PIPELINE`` (``PASSES,LEVEL[,regalloc]``, see ``LLVMPipeline.parse``;
    for measurements)."""
    setting = os.environ.get("PYJITWASM_TIER0_PIPELINE", "").strip()
    if setting:
        return LLVMPipeline.parse(setting)
    return TIER0_LOOP_FREE_PIPELINE if loop_free else TIER0_PIPELINE


def _tier0_loop_free_default() -> LLVMPipeline:
    return _tier0_default(loop_free=True)


def _tier0_direct_default() -> bool:
    """Tier 0 written straight from wasm to LLVM text (``baseline/``) unless
    ``PYJITWASM_TIER0_DIRECT=0`` (then every function goes through the IR)."""
    return env_flag("PYJITWASM_TIER0_DIRECT")


def _tier0_x64_default() -> bool:
    """Tier 0 as x86-64 machine code without LLVM (``x64/``) unless
    ``PYJITWASM_TIER0_X64=0`` (on other hosts every batch falls back to LLVM anyway)."""
    return env_flag("PYJITWASM_TIER0_X64")


def _threshold_default() -> int:
    """``PYJITWASM_TIER_UP_THRESHOLD`` (tests set 0 to tier every function up at once)."""
    return int(os.environ.get("PYJITWASM_TIER_UP_THRESHOLD", "1000"))


TIER0 = 0
"""The quick tier: ``TIER0_PIPELINE``, counters, every call through a code slot."""
TIER1 = 1
"""The optimizing tier: the ``opt_level`` pipeline (what eager compilation uses)."""


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
    ``memmove``/``memset`` (else they call the libcalls).
    ``lazy``: compile each function on its first call (``module_code``) instead of the
    whole module before instantiation; default on, off with ``PYJITWASM_LAZY=0``.
    ``lazy_batch_instructions``: a lazy compile takes the called function and, breadth
    first, its not yet compiled direct callees while their wasm instruction count stays
    within this budget (0: the called function alone).
    ``relaxed_simd_deterministic``: relaxed SIMD with Wasmtime's deterministic results
    instead of the host's native ones (``translate/simd_relaxed.py``); off by default,
    as ``Config.relaxed_simd_deterministic`` and Wasmtime are.
    ``tiers``: under lazy compilation, compile first at tier 0 (``TIER0_PIPELINE``, with
    counters) and recompile hot functions at tier 1 on a background thread
    (``runtime/jit/tiering.py``); default on, off with ``PYJITWASM_TIERS=0``.  Eager
    compilation is always tier 1.  ``tier_up_threshold``: function entries plus loop
    iterations a tier-0 function runs before it is queued for tier 1 (default 1000, or
    ``PYJITWASM_TIER_UP_THRESHOLD``).
    ``tier0_x64``: compile tier-0 batches with the single-pass x86-64 compiler
    (``x64/``) when it covers them (on unless ``PYJITWASM_TIER0_X64=0``).
    ``tier0_pipeline``: tier 0's LLVM configuration for a batch with a loop;
    ``tier0_loop_free_pipeline`` for one without.  ``llvm_pipeline``: tier 1's (and
    eager compilation's) instead of ``opt_level``'s (for measurements).

    ``epoch_interruption``/``consume_fuel``: compile the epoch / fuel checks
    (``translate/interrupts.py``)."""

    heap_style: str = "static"
    static_bound: int = 1 << 32
    guard: int = 1 << 31
    opt_level: int = 1
    verify: bool = False
    keep_ir: bool = False
    internal_linkage: bool = True
    inline_bulk_memory: bool = True
    lazy: bool = field(default_factory=_lazy_default)
    lazy_batch_instructions: int = 2000
    tiers: bool = field(default_factory=_tiers_default)
    tier_up_threshold: int = field(default_factory=_threshold_default)
    tier0_pipeline: LLVMPipeline = field(default_factory=_tier0_default)
    tier0_loop_free_pipeline: LLVMPipeline = field(default_factory=_tier0_loop_free_default)
    tier0_direct: bool = field(default_factory=_tier0_direct_default)
    tier0_x64: bool = field(default_factory=_tier0_x64_default)
    llvm_pipeline: LLVMPipeline | None = None
    epoch_interruption: bool = False
    consume_fuel: bool = False
    relaxed_simd_deterministic: bool = False

    @property
    def tiered(self) -> bool:
        """Whether functions start at tier 0 (lazy compilation with tiers on)."""
        return self.lazy and self.tiers

    def module_info(self, module: WasmModule) -> ModuleInfo:
        """The translator's per-module facts for ``module`` under these options."""
        return ModuleInfo(module, self.heap_config(), self.interrupt_checks(),
                          relaxed_simd_deterministic=self.relaxed_simd_deterministic)

    def heap_config(self) -> HeapConfig:
        """The translator's view of these options."""
        if self.heap_style not in ("static", "dynamic"):
            raise ValueError(f"unknown heap style {self.heap_style!r}")
        return HeapConfig(self.heap_style, self.static_bound, self.guard,
                          self.inline_bulk_memory)

    def interrupt_checks(self) -> InterruptChecks:
        """The interruption checks the translator emits."""
        return InterruptChecks(epoch=self.epoch_interruption, fuel=self.consume_fuel)

    def codegen_options(self, tier: int = TIER1) -> CodegenOptions:
        """The back end's view of these options for code of ``tier``."""
        pipeline = self.tier0_pipeline if tier == TIER0 else self.llvm_pipeline
        return CodegenOptions(self.opt_level, self.verify, keep_llvm_ir=self.keep_ir,
                              pipeline=pipeline)


@dataclass
class CompiledModule:
    """Machine code of a batch of one wasm module's functions (all of them for
    ``compile_module``).  Keep it alive while any of its code may run."""

    module: WasmModule
    layout: VMContextLayout
    code: LoadedCode
    functions: dict[int, FunctionCode]
    shims: dict[int, int]  # type index -> entry shim address
    timings: CompileTimings
    tier: int = TIER1
    from_cache: bool = False  # loaded from the code cache, not compiled now
    # An on-stack-replacement entry's code (``osr.py``): in a backtrace, the tier-0
    # frame right below it, which called it, is the same wasm frame (``codemap``).
    osr_entry: bool = False
    ir_functions: dict[int, Function] = field(default_factory=dict)
    llvm_ir: str = ""
    # wasm function index -> where its machine code comes from (module byte offsets),
    # found by ``locate`` on the first lookup (then None)
    source_lines: dict[int, SourceLines] = field(default_factory=dict)
    locate: Callable[[], dict[int, SourceLines]] | None = field(default=None, repr=False)
    _locate_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
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

    def wasm_offset_at(self, func_index: int, pc: int) -> int | None:
        """The module byte offset of the wasm instruction whose machine code holds ``pc``
        (in function ``func_index``), or None when the code has no source location.
        The first call compiles the batch again with debug locations
        (``jit.compiler.locate_functions``): compiling costs nothing extra until a
        backtrace needs offsets."""
        if self.locate is not None:
            with self._locate_lock:
                if self.locate is not None:
                    try:
                        self.source_lines = self.locate()
                    except Exception:  # noqa: BLE001 - offsets are an aid: go without
                        self.source_lines = {}
                    self.locate = None
        lines = self.source_lines.get(func_index)
        return lines.at(pc) if lines is not None else None

    def on_release(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` just before the code is freed."""
        self.code.on_release(callback)

    def release(self) -> None:
        """Free the machine code now (idempotent)."""
        self.code.release()


HUGE_FUNCTION_INSTRUCTIONS = 30_000
"""A function with more wasm instructions than this is compiled alone, without the
optimizing pipeline (``codegen_options_for``)."""

GIANT_FUNCTION_INSTRUCTIONS = 80_000
"""A function with more wasm instructions than this gets the cheapest LLVM
configuration at every tier (``codegen_options_for``)."""

LARGE_FUNCTION_INSTRUCTIONS = 11_000
"""A batch with a function of more wasm instructions than this is optimized without
NewGVN (``codegen_options_for``).  NewGVN's peak memory on CPython 3.12's functions grew
about quadratically with their size: 34 MiB at 4.6k wasm instructions, 119 at 8.8k, 163
at 12.8k, 0.6-1.0 GiB at 17-24k, 4.3-4.5 GiB (and 14 s) at 35-42k."""

EAGER_BATCH_INSTRUCTIONS = 20_000
"""Eager compilation compiles a module in batches of about this many wasm instructions
(``eager_batches``), so its peak memory is one batch's, not the module's."""


def codegen_options_for(module: WasmModule, indices: Sequence[int],
                        options: CompileOptions, tier: int = TIER1) -> CodegenOptions:
    """The back end's options for compiling defined functions ``indices`` together at
    ``tier``: the one place where a function's size changes how LLVM compiles it.

    The optimizing pipeline's time and memory grow faster than linearly with a
    function's size: CPython for WASI's 41,889-instruction interpreter loop took 10 CPU s
    and 2.6 GB at tier 1, to minutes and gigabytes for a function of a million
    instructions.  So a function of more than ``HUGE_FUNCTION_INSTRUCTIONS`` wasm
    instructions gets at tier 1 the loop configuration of tier 0 (``TIER0_PIPELINE``:
    level-0 code generation with the greedy register allocator; the interpreter loop:
    1.9 s, 264 MB, code a fifth smaller than the fast allocator's) and at tier 0 opt
    level 0 (no IR passes, LLVM's fast instruction selector and register allocator:
    1.3 s, 232 MB), whose time and memory grow linearly; beyond
    ``GIANT_FUNCTION_INSTRUCTIONS`` opt level 0 at every tier (the greedy allocator is
    not linear).  A batch with a function of more than ``LARGE_FUNCTION_INSTRUCTIONS``
    keeps the opt-level-1 passes but NewGVN.  Measurements: docs/jit-design.md, "Huge
    functions"."""
    codegen = options.codegen_options(tier)
    first = module.num_imported_funcs
    largest = max((module.codes[i - first].instr_count for i in indices), default=0)
    if tier == TIER0 and not any(_has_loop(module.codes[i - first].instrs) for i in indices):
        codegen = replace(codegen, pipeline=options.tier0_loop_free_pipeline)
    pipeline = codegen.llvm_pipeline
    level0 = LLVMPipeline.for_level(0)
    if largest > HUGE_FUNCTION_INSTRUCTIONS and pipeline != level0:
        if tier == TIER1 and largest <= GIANT_FUNCTION_INSTRUCTIONS and \
                pipeline.codegen_level > 0:
            return replace(codegen, opt_level=0, pipeline=TIER0_PIPELINE)
        return replace(codegen, opt_level=0, pipeline=level0)
    if largest > LARGE_FUNCTION_INSTRUCTIONS and pipeline.passes == "standard":
        return replace(codegen, pipeline=replace(pipeline, passes="large"))
    return codegen


def tier0_only(module: WasmModule, indices: Sequence[int]) -> bool:
    """Whether ``indices`` is one function of more than ``GIANT_FUNCTION_INSTRUCTIONS``
    wasm instructions: such a function gets tier-0 code at every tier, so that no
    function, however large, costs LLVM's memory (a million-instruction function: about
    0.9 GB at opt level 0 against 0.19 GB for the whole process with ``x64/``'s code,
    measured with ``tests/support/huge_function.py``), and it never tiers up
    (``ModuleCode.request_tier_up``): LLVM's tier 1 for it would be opt level 0 as well
    (``codegen_options_for``), no better code for the memory.  Eager compilation then
    writes it with ``x64/`` when that covers it."""
    if len(indices) != 1:
        return False
    return module.codes[indices[0] - module.num_imported_funcs].instr_count \
        > GIANT_FUNCTION_INSTRUCTIONS


def _has_loop(instrs: Sequence[Instr]) -> bool:
    return any(instr.op == op.LOOP for instr in instrs)


def eager_batches(module: WasmModule,
                  budget: int = EAGER_BATCH_INSTRUCTIONS) -> list[list[int]]:
    """Every defined function (wasm indices, in order) split into batches of at most
    ``budget`` wasm instructions (a larger function is a batch of its own), for eager
    compilation one batch at a time."""
    first = module.num_imported_funcs
    batches: list[list[int]] = []
    batch: list[int] = []
    size = 0
    for k, code in enumerate(module.codes):
        cost = code.instr_count
        if batch and (size + cost > budget or cost > HUGE_FUNCTION_INSTRUCTIONS):
            batches.append(batch)
            batch, size = [], 0
        batch.append(first + k)
        size += cost
        if cost > HUGE_FUNCTION_INSTRUCTIONS:
            batches.append(batch)
            batch, size = [], 0
    if batch:
        batches.append(batch)
    return batches


def escaping_functions(module: WasmModule) -> set[int]:
    """Functions whose address leaves the module (they need a global symbol)."""
    escaping = set(func_ref_indices(module))
    if module.start is not None:
        escaping.add(module.start)
    return escaping


def compile_module(module: WasmModule, options: CompileOptions | None = None,
                   symbols: Mapping[str, int] | None = None) -> CompiledModule:
    """Compile every function ``module`` defines (the module must be validated), with
    an entry shim for each of its types.  Ignores ``options.lazy``."""
    first = module.num_imported_funcs
    return compile_batch(module, range(first, first + len(module.codes)), options, symbols)


def compile_batch(module: WasmModule, indices: Sequence[int],
                  options: CompileOptions | None = None,
                  symbols: Mapping[str, int] | None = None, info: ModuleInfo | None = None,
                  separate: bool = False, with_shims: bool = True,
                  tier: int = TIER1) -> CompiledModule:
    """Compile defined functions ``indices`` of ``module`` together, at ``tier``.

    ``separate``: the batch is one of several, so only calls between its own functions
    are direct (the rest go through code slots) and every function but the first gets
    internal linkage; otherwise the batch
    must be the whole module.  ``with_shims``: include an entry shim for each of the
    module's types.  ``info``: the module's ``ModuleInfo`` for these options, shared
    between batches.  ``tier``: ``TIER1`` (the ``opt_level`` pipeline) or ``TIER0``
    (``options.tier0_pipeline``, tier-up counters, and every call through a code slot,
    so that callers reach a callee's tier-1 code as soon as it exists; implies
    ``separate``).  The tier is part of what identifies the code (a code cache key)."""
    options = options or CompileOptions()
    if tier not in (TIER0, TIER1):
        raise ValueError(f"unknown tier {tier}")
    separate = separate or tier == TIER0
    if info is None:
        info = options.module_info(module)
    batch, emitted = emit_batch(module, indices, options, info, separate, with_shims, tier)
    compiled = load_batch(module, info.layout, batch, options, symbols, emitted.timings)
    compiled.ir_functions = emitted.ir_functions
    compiled.llvm_ir = emitted.llvm_ir
    return compiled


@dataclass(frozen=True)
class BatchObject:
    """A batch of a module's functions compiled to an object and not yet loaded: what
    the code cache and serialized modules keep (``runtime/jit/batch_codec.py`` turns it
    into bytes).  ``indices`` are the wasm function indices, in batch order;
    ``separate``/``with_shims``/``tier`` as for :func:`compile_batch`; ``shims`` maps a
    type index to the name of its entry shim in ``code``."""

    indices: tuple[int, ...]
    separate: bool
    with_shims: bool
    code: ObjectCode
    shims: dict[int, str]
    tier: int = TIER1

    def global_symbols(self) -> list[str]:
        """The names its object defines globally: a separate batch's first function
        (the others are internal), every function of a whole module's, and its entry
        shims.  Two objects defining one name cannot share a library or a merge."""
        code = self.code
        if self.separate:
            names = [code.functions[i] for i in self.indices[:1] if i in code.functions]
        else:
            names = list(code.functions.values())
        names.extend(code.shims)
        return names


@dataclass
class EmittedBatch:
    """What :func:`emit_batch` leaves beside the object: timings and, with
    ``options.keep_ir``, the legalized IR and the LLVM text."""

    timings: CompileTimings
    ir_functions: dict[int, Function] = field(default_factory=dict)
    llvm_ir: str = ""


def emit_batch(module: WasmModule, indices: Sequence[int], options: CompileOptions,
               info: ModuleInfo, separate: bool = False, with_shims: bool = True,
               tier: int = TIER1, source_locations: bool = False
               ) -> tuple[BatchObject, EmittedBatch]:
    """Translate, legalize, lower and compile functions ``indices`` of ``module`` to an
    object, without loading it (see :func:`compile_batch` for the arguments).
    ``source_locations``: with debug locations (the same machine code, plus a line
    table; see ``CompiledModule.wasm_offset_at``)."""
    timings = CompileTimings()
    # The single-pass x86-64 tier 0 (x64/tier0.py): the whole batch, or the LLVM path.
    # Also a giant function's tier 1 (``tier0_only``).
    if (tier == TIER0 or tier0_only(module, indices)) and options.tier0_x64 \
            and not with_shims and not options.keep_ir:
        x64_code = x64_tier0_object(info, indices, source_locations, timings)
        if x64_code is not None:
            return (BatchObject(tuple(indices), separate, with_shims, x64_code, {}, tier),
                    EmittedBatch(timings))
    # Imported on first use: a program whose code all comes from x64/ or the code cache
    # never builds IR, and these imports (the IR, the translator, the direct emitter)
    # cost ~30 ms of a process's start (docs/jit-design.md).
    from pyjitwasm.baseline.tier0 import direct_tier0
    from pyjitwasm.translate.translator import translate_function

    escaping = set() if separate else escaping_functions(module)
    together: Collection[int] | None = None
    if separate:
        together = frozenset() if tier == TIER0 else frozenset(indices)
    kept_ir: dict[int, Function] = {}
    # Tier 0 straight from wasm to LLVM text (baseline/), unless the IR is to be kept.
    direct = direct_tier0(info) if (tier == TIER0 and options.tier0_direct
                                    and not options.keep_ir) else None

    def translated() -> Iterator[FunctionToCompile | LoweredFunction]:
        # Translated one at a time as the back end asks: it lowers each to text before
        # taking the next, so the batch never holds more than one function's IR.
        for index in indices:
            if separate:
                # The runtime reaches them through slots, never by name; but the loader
                # needs one global symbol to place the code section (the first function).
                internal = index != indices[0]
            else:
                internal = options.internal_linkage and index not in escaping
            t0 = time.perf_counter()
            if direct is not None:
                lowered = direct.lower(index, internal)
                if lowered is not None:
                    timings.translate += time.perf_counter() - t0
                    yield lowered
                    continue
            func = translate_function(module, index, info=info, direct_callees=together,
                                      tier_counters=tier == TIER0)
            timings.translate += time.perf_counter() - t0
            if options.keep_ir:
                kept_ir[index] = func  # legalized in place by the back end
            yield FunctionToCompile(index, func, internal)

    shim_names: dict[int, str] = {}
    shims: dict[str, ShimSpec] = {}
    for type_index, ftype in enumerate(module.types if with_shims else ()):
        params, results = ir_value_types(ftype.params), ir_value_types(ftype.results)
        name = entry_shim_name(params, results)
        shim_names[type_index] = name
        shims.setdefault(name, ShimSpec(name, params, results))

    codegen = codegen_options_for(module, indices, options, tier)
    if direct is not None:
        codegen = direct.codegen_options(
            codegen, [module.codes[i - module.num_imported_funcs] for i in indices])
    if source_locations:
        codegen = replace(codegen, source_locations=True, keep_llvm_ir=False)
    with cyclic_gc_paused():
        code, text = emit_object(translated(), shims.values(), codegen, timings)
    batch = BatchObject(tuple(indices), separate, with_shims, code, shim_names, tier)
    emitted = EmittedBatch(timings)
    if options.keep_ir:
        emitted.ir_functions = kept_ir
        emitted.llvm_ir = text
    return batch, emitted


def load_batch(module: WasmModule, layout: VMContextLayout, batch: BatchObject,
               options: CompileOptions, symbols: Mapping[str, int] | None = None,
               timings: CompileTimings | None = None) -> CompiledModule:
    """Link a compiled batch (made by :func:`emit_batch` in this process or another)
    into this process."""
    timings = timings or CompileTimings()
    compiled = load_object_code(batch.code, _linking_pipeline(options, batch), timings,
                                symbols)
    return _compiled_module(module, layout, batch, options, compiled, timings)


def load_batches(module: WasmModule, layout: VMContextLayout, batches: Sequence[BatchObject],
                 options: CompileOptions, symbols: Mapping[str, int] | None = None,
                 object_symbols: Sequence[ObjectSymbols | None] | None = None,
                 merged: bytes | None = None) -> list[CompiledModule]:
    """Link several batches, whose global symbols are all different (a lazy batch's
    first function, entry shims), as one library (cheaper per batch than
    :func:`load_batch` each: ``load_object_codes``).  Their tiers may differ: linking
    does not depend on the passes that made an object.  ``object_symbols[i]``: batch
    ``i``'s ``elfsyms.read_object_symbols`` when known (a warm start's pack keeps them),
    else None (read here).  ``merged``: their objects merged into one
    (``jit/objmerge.py``; a warm start's pack keeps them so), linked instead."""
    t0 = time.perf_counter()
    read = [known if known is not None else read_object_symbols(batch.code.obj)
            for batch, known in zip(batches, object_symbols or [None] * len(batches),
                                    strict=True)]
    compiled = load_object_codes([batch.code for batch in batches],
                                 _linking_pipeline(options, batches[0]), symbols, read,
                                 merged)
    share = (time.perf_counter() - t0) / len(batches)
    return [_compiled_module(module, layout, batch, options, code, CompileTimings(link=share))
            for batch, code in zip(batches, compiled, strict=True)]


def _linking_pipeline(options: CompileOptions, batch: BatchObject) -> int | LLVMPipeline:
    # Linking does not depend on the passes that made the object: the tier's loader,
    # not the size rule's (``codegen_options_for``), which would decode every body of
    # the batch to measure it (a warm start decodes none).
    return options.codegen_options(batch.tier).llvm_pipeline


def _compiled_module(module: WasmModule, layout: VMContextLayout, batch: BatchObject,
                     options: CompileOptions, compiled: CompiledFunctions,
                     timings: CompileTimings) -> CompiledModule:
    return CompiledModule(
        module=module,
        tier=batch.tier,
        layout=layout,
        code=compiled.code,
        functions=compiled.functions,
        shims={ti: compiled.shims[name] for ti, name in batch.shims.items()},
        timings=timings,
        locate=batch_locator(module, batch, options, compiled.functions),
    )


def batch_locator(module: WasmModule, batch: BatchObject, options: CompileOptions,
             placed: Mapping[int, FunctionCode]) -> Callable[[], dict[int, SourceLines]]:
    """What finds a loaded batch's source lines when a backtrace first needs them: the
    batch compiled again with debug locations (no linking), its line table read for
    each function whose new code is the loaded code (relocations aside), which debug
    locations do not change.  Compiling costs nothing extra until then."""

    def locate() -> dict[int, SourceLines]:
        again, _ = emit_batch(module, batch.indices, options, options.module_info(module),
                              batch.separate, batch.with_shims, batch.tier,
                              source_locations=True)
        return locate_in_object(again.code.obj, placed, check=True)

    return locate


__all__ = ["EAGER_BATCH_INSTRUCTIONS", "GIANT_FUNCTION_INSTRUCTIONS",
           "HUGE_FUNCTION_INSTRUCTIONS", "TIER0", "TIER1", "BatchObject", "CompileOptions",
           "batch_locator",
           "CompileTimings", "CompiledModule", "EmittedBatch", "FunctionCode",
           "codegen_options_for", "compile_batch", "compile_module", "eager_batches",
           "emit_batch", "env_flag", "escaping_functions", "load_batch", "load_batches",
           "tier0_only"]
