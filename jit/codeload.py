"""Loading LLVM IR as machine code: optimize, compile, link, look up, release.

The path (chosen by measurement, see docs/jit-design.md): parse or take an LLVM module,
run the new pass manager at the requested level, emit an ELF object with our own target
machine, and link it into an ORC LLJIT as a separate JIT library.  Emitting the object
ourselves (instead of handing ORC the IR) lets us read the executable sections' sizes, so
we can tell the runtime's fault handler exactly which addresses are compiled code.  Each
load is one library with its own resource tracker; releasing the tracker frees the code.
"""

from __future__ import annotations

import functools
import itertools
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import llvmlite.binding as llvm
from llvmlite.binding import ffi

from pyjitwasm.jit.elfsyms import CodeSection, DefinedSymbol, read_code_layout
from pyjitwasm.jit.loaded import (
    LoadedCode,
    SharedCodeOwner,
    anchored_sections,
    section_ranges,
)
from pyjitwasm.jit.pipelines import (
    PASS_SETS,
    LLVMPipeline,
)

_init_lock = threading.Lock()
_initialized = False


def ensure_llvm_initialized() -> None:
    """Initialize LLVM's native target once per process."""
    global _initialized
    with _init_lock:
        if not _initialized:
            llvm.initialize_native_target()
            llvm.initialize_native_asmprinter()
            llvm.initialize_native_asmparser()
            _initialized = True


# Host features the JIT does not use. VNNI's vpdpwssd is pmaddwd and paddd fused: one
# instruction fewer, but a reduction's loop-carried accumulator then waits for the whole
# multiply-add (4-5 cycles) on every step instead of for a paddd (1 cycle). Wasm dot
# products keep one or two 128-bit accumulators, so they are latency-bound and the fusion
# slowed them by 10-30% (docs/jit-design.md, section 7).
DISABLED_HOST_FEATURES = ("-avxvnni", "-avx512vnni")


def host_target_machine(opt_level: int = 2) -> llvm.TargetMachine:
    """A target machine for this CPU (its features but DISABLED_HOST_FEATURES),
    configured for JIT use."""
    ensure_llvm_initialized()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=",".join([llvm.get_host_cpu_features().flatten(), *DISABLED_HOST_FEATURES]),
        opt=opt_level,
        reloc="static",
        codemodel="jitdefault",
        jit=True,
    )


class PassPipeline:
    """The middle-end pipeline of one pass set, built once and reused.

    ``"none"``: nothing.  ``"standard"`` (opt level 1, see docs/jit-design.md): a short
    hand-picked function pipeline (SROA, instcombine, simplifycfg, NewGVN, DCE), about
    20x cheaper than LLVM's O2; ``"minimal"`` (tier 0) just instcombine and simplifycfg.
    ``"O2"``/``"O3"``: LLVM's standard pipelines.

    Why one object reused across compiles (llvmlite 0.50, measured by
    ``bench/jit_memory.py``): llvmlite never frees a pass manager (its Python ``_dispose``
    is shadowed by a no-op): ~2.4 KiB for level 1, ~90 KiB for O2; and every pass builder
    allocates a ``PassInstrumentationCallbacks`` it never frees (~1.2 KiB).  So level 1's
    pass manager is built once; O2/O3's can run only once, so they are built per run and
    freed explicitly.  A pass builder serves ``runs_per_builder`` runs, not forever: each
    run registers one more instrumentation callback in it (LLVM's optnone check, pointing
    at that run's dead stack frame, dereferenced only for ``optnone`` functions, which we
    never emit), and every pass of every later run calls them all.  Every 16 runs: ~1%
    slower than a fresh builder per run, and no measurable growth (1.7 KiB per run with a
    fresh builder each time, +7% time at 64 runs, +30% at 256).  Runs are serialized: the
    pass manager and the builder are shared."""

    runs_per_builder = 16

    def __init__(self, tm: llvm.TargetMachine, level: int | str) -> None:
        """``level``: an optimization level (0..3) or a pass set name of
        :class:`LLVMPipeline`."""
        passes_name = level if isinstance(level, str) else LLVMPipeline.for_level(level).passes
        self.passes_name = passes_name
        # Reentrant, like the code generation and link locks: a collection may start at
        # any allocation under them and run a finalizer that calls wasm, whose first call
        # compiles on this thread (``ModuleCode._lock`` is reentrant for the same reason).
        # The nested compile runs whole before the outer one's LLVM call.
        self._lock = threading.RLock()
        self._passes: llvm.ModulePassManager | None = None
        if passes_name == "none":
            return
        # The builders keep raw pointers to these: they live as long as the pipeline.
        self._tm = tm
        speed = 3 if passes_name == "O3" else 2 if passes_name == "O2" else 1
        self._tuning = llvm.create_pipeline_tuning_options(speed_level=speed)
        self._builder = llvm.create_pass_builder(tm, self._tuning)
        self._runs = 0
        if passes_name not in ("O2", "O3"):
            passes = llvm.create_new_module_pass_manager()
            for add_pass in PASS_SETS[passes_name]:
                getattr(passes, add_pass)()
            self._passes = passes
            # Not at interpreter exit (weakref's own atexit hook, which runs before
            # hooks registered earlier than it): a tier-up that the exit waits for, so
            # that the next run's code cache holds it, still runs with this pipeline.
            weakref.finalize(self, _dispose_pass_manager, passes).atexit = False

    def run(self, module: llvm.ModuleRef, has_optnone: bool | None = None) -> None:
        """Optimize ``module`` in place.  ``has_optnone``: whether a function of it has
        the ``optnone`` attribute (None: look); such a module gets a builder of its own,
        without the stale callbacks of earlier runs."""
        if self.passes_name == "none":
            return
        if has_optnone is None:
            has_optnone = _has_optnone(module)
        with self._lock:
            if has_optnone:
                builder = llvm.create_pass_builder(self._tm, self._tuning)
            else:
                if self._runs >= self.runs_per_builder:
                    self._builder = llvm.create_pass_builder(self._tm, self._tuning)
                    self._runs = 0
                self._runs += 1
                builder = self._builder
            if self._passes is not None:
                self._passes.run(module, builder)
                return
            # LLVM's standard pipelines can run only once (a second run hits a pass
            # that the first one consumed): build one per run, and free it.
            passes = builder.getModulePassManager()
            try:
                passes.run(module, builder)
            finally:
                _dispose_pass_manager(passes)


def _has_optnone(module: llvm.ModuleRef) -> bool:
    return any(b"optnone" in attrs for f in module.functions for attrs in f.attributes)


def _dispose_pass_manager(passes: llvm.ModulePassManager) -> None:
    # ``ModulePassManager.close`` does not free it in llvmlite 0.50 (see PassPipeline).
    if not passes.closed:
        ffi.lib.LLVMPY_DisposeNewModulePassManger(passes)
        passes.detach()


def optimize_module(module: llvm.ModuleRef, tm: llvm.TargetMachine, level: int) -> None:
    """Optimize ``module`` in place with a one-off :class:`PassPipeline` (fine for a few
    modules; each call leaks ~1.2 KiB in llvmlite 0.50, so repeated compiles should keep a
    pipeline, as :class:`CodeLoader` does)."""
    PassPipeline(tm, level).run(module)


def parse_ir(ir: str | object) -> llvm.ModuleRef:
    """Parse LLVM IR text (or anything whose ``str`` is IR, like an ``llvmlite.ir.Module``)
    and verify it.

    The module gets its own LLVM context, freed with it (right after it, whatever order
    the collector finalizes them in: :func:`_dispose_context_with`): parsing into the
    global context would keep every distinct constant and type of every module compiled
    in the process (~80 bytes each)."""
    ensure_llvm_initialized()
    context = llvm.create_context()
    module = llvm.parse_assembly(str(ir), context=context)
    _dispose_context_with(module, context)
    module.verify()
    return module


def _dispose_context_with(module: llvm.ModuleRef, context: llvm.ContextRef) -> None:
    """Make ``module`` dispose ``context`` right after itself, and ``context``'s own
    ``ContextRef`` never (llvmlite's ``_owned``: another object disposes it).

    With llvmlite's ownership each disposes its own object; in the right order when the
    module goes first (it holds the context), but a collection that finds both in cyclic
    garbage runs their finalizers in any order.  That happens whenever a compile raises
    after parsing (an LLVM error, ``MemoryError``, ``KeyboardInterrupt``) and the
    exception is kept in a cycle: a failed tier-up's exception in
    ``ModuleCode.tier_up_errors``, whose traceback holds the compile's frames and so the
    module.  Disposing the context first freed the module with it, and the module's own
    disposal then freed it again: a segfault in whichever thread collected
    (``tests/runtime/test_race_lifetimes.py``).  The disposal holds the raw handles, not
    the ``ModuleRef`` (no cycle)."""
    context._owned = True  # noqa: SLF001 - llvmlite's ownership flag
    module._dispose = functools.partial(  # noqa: SLF001 - what ObjectRef.close calls
        _dispose_module_and_context, module._ptr, context._ptr)  # noqa: SLF001


def _dispose_module_and_context(module_handle: Any, context_handle: Any) -> None:
    try:
        ffi.lib.LLVMPY_DisposeModule(module_handle)
    finally:
        ffi.lib.LLVMPY_ContextDispose(context_handle)


class _SharedLibrary(SharedCodeOwner):
    """One linked library, shared by the :class:`LoadedCode` of each object linked into
    it: freed when the last of them is released."""

    def __init__(self, tracker: llvm.ResourceTracker, jit: llvm.LLJIT, users: int) -> None:
        super().__init__(users)
        self.tracker = tracker
        # Held so the LLJIT outlives every library linked into it.
        self.jit: llvm.LLJIT | None = jit

    def free(self) -> None:
        self.tracker.close()
        self.jit = None


_codegen_lock = threading.RLock()  # reentrant: see PassPipeline
_optimize_regalloc: bool | None = None  # -optimize-regalloc as last set (None: never)


def emit_machine_code(tm: llvm.TargetMachine, module: llvm.ModuleRef, codegen_level: int,
                      optimize_regalloc: bool) -> bytes:
    """``module`` compiled to an object by ``tm`` (made for ``codegen_level``); at level
    0 with the greedy register allocator when ``optimize_regalloc``.

    LLVM's ``-optimize-regalloc`` is a process-wide option, read when code generation
    starts, and once given at all it rules every level (given as false, levels 1-3 lose
    their greedy allocator too).  So it is set before each code generation that needs a
    value other than the current one, and the two happen under one lock (llvmlite runs
    one LLVM call at a time anyway).  Levels 1-3 always get it on."""
    wanted = optimize_regalloc if codegen_level == 0 else True
    with _codegen_lock:
        # Never set: LLVM's default, on at levels 1-3 and off at level 0.
        current = _optimize_regalloc if _optimize_regalloc is not None else codegen_level != 0
        if current != wanted:
            _set_optimize_regalloc(wanted)
        obj: bytes = tm.emit_object(module)
    return obj


def _set_optimize_regalloc(value: bool) -> None:
    global _optimize_regalloc
    llvm.set_option("pyjitwasm", f"-optimize-regalloc={'true' if value else 'false'}")
    _optimize_regalloc = value


class CodeLoader:
    """Compiles LLVM modules into one ORC LLJIT instance; each :meth:`load` is an
    independently releasable library."""

    _names = itertools.count()
    # llvmlite gives every linked library a JITDylib that lives as long as its LLJIT
    # (~5 KiB each, even after release): start a fresh LLJIT every so often; an old one
    # is freed when the last code loaded into it is released.  An LLJIT costs ~0.3 ms to
    # create; at 50 libraries the records of a live one stay under ~250 KiB (at 200 they
    # were a ~1 MiB step in every long-running process).
    libraries_per_jit = 50

    def __init__(self, opt_level: int | LLVMPipeline = 1) -> None:
        """``opt_level``: an optimization level (see :meth:`LLVMPipeline.for_level`) or
        a pipeline."""
        config = (opt_level if isinstance(opt_level, LLVMPipeline)
                  else LLVMPipeline.for_level(opt_level))
        self.config = config
        self.opt_level = opt_level
        self.target_machine = host_target_machine(config.codegen_level)
        self.pipeline = PassPipeline(self.target_machine, config.passes)
        self._jit = self._new_jit()
        self._links = 0
        self._lock = threading.RLock()  # reentrant: see PassPipeline

    def _new_jit(self) -> llvm.LLJIT:
        # JITLink frees everything on release; RuntimeDyld kept ~9 KiB per library.
        return llvm.create_lljit_compiler(self.target_machine, use_jit_link=True)

    def compile_object(self, ir: str | object | llvm.ModuleRef) -> bytes:
        """Optimize ``ir`` and return it as an ELF object."""
        if isinstance(ir, llvm.ModuleRef):
            module = ir
            has_optnone = None  # the pipeline looks for itself
        else:
            text = str(ir)
            module = parse_ir(text)
            has_optnone = "optnone" in text
        try:
            self.pipeline.run(module, has_optnone=has_optnone)
            return emit_machine_code(self.target_machine, module, self.config.codegen_level,
                                     self.config.optimize_regalloc)
        finally:
            if module is not ir:
                # Ours: freed now, also when this raises (a kept exception's frames
                # would otherwise hold the whole LLVM module as long as it lives).
                module.close()

    def load(
        self,
        ir: str | object | llvm.ModuleRef,
        imports: Mapping[str, int] | None = None,
        exports: Iterable[str] | None = None,
    ) -> LoadedCode:
        """Compile and link ``ir``.  ``imports`` maps undefined symbols to addresses;
        ``exports`` names the symbols whose addresses are wanted (default: every global
        symbol the module defines)."""
        return self.load_object(self.compile_object(ir), imports, exports)

    def load_object(
        self,
        obj: bytes,
        imports: Mapping[str, int] | None = None,
        exports: Iterable[str] | None = None,
        layout: tuple[list[CodeSection], list[DefinedSymbol]] | None = None,
    ) -> LoadedCode:
        """Link an ELF object produced by :meth:`compile_object`.  ``layout``: the
        object's :func:`read_code_layout`, when the caller has read it already."""
        wanted = None if exports is None else [exports]
        layouts = None if layout is None else [layout]
        return self.load_objects([obj], imports, wanted, layouts)[0]

    def load_objects(
        self,
        objs: Sequence[bytes],
        imports: Mapping[str, int] | None = None,
        exports: Sequence[Iterable[str]] | None = None,
        layouts: Sequence[tuple[list[CodeSection], list[DefinedSymbol]]] | None = None,
    ) -> list[LoadedCode]:
        """Link several objects made by :meth:`compile_object` as one library, one
        :class:`LoadedCode` each (their global symbols must not clash).  Linking costs
        ~0.29 ms per library but ~0.06 ms per object in groups of 32 (CPython's cached
        tier-0 batches): a warm start links its recorded batches this way.  The library
        is freed once every one of them is released.  ``exports[i]``/``layouts[i]``:
        as :meth:`load_object`'s, per object."""
        if layouts is None:
            layouts = [read_code_layout(obj) for obj in objs]
        return self._link(objs, layouts, imports, exports, sum(map(len, objs)))

    def load_merged(
        self,
        obj: bytes,
        layouts: Sequence[tuple[list[CodeSection], list[DefinedSymbol]]],
        imports: Mapping[str, int] | None = None,
    ) -> list[LoadedCode]:
        """Link ``obj``, made by ``objmerge.merge_objects`` from several objects whose
        layouts (``read_code_layout``) are ``layouts``, as one library: one
        :class:`LoadedCode` per merged object, as :meth:`load_objects` would give them
        (each code section is found through its anchor, whose offset in the section
        the merge kept).  About a third of :meth:`load_objects`' time per object
        (CPython's cached batches: 21 us instead of 63 in groups of 64)."""
        return self._link([obj], layouts, imports, None, len(obj))

    def _link(
        self,
        objs: Sequence[bytes],
        layouts: Sequence[tuple[list[CodeSection], list[DefinedSymbol]]],
        imports: Mapping[str, int] | None,
        exports: Sequence[Iterable[str]] | None,
        size: int,
    ) -> list[LoadedCode]:
        """Link ``objs`` as one library; one :class:`LoadedCode` per layout."""
        builder = llvm.JITLibraryBuilder()
        per_part = []
        for i, (sections, symbols) in enumerate(layouts):
            wanted = ({s.name for s in symbols} if exports is None else set(exports[i]))
            anchored = anchored_sections(sections)
            wanted.update(anchor for anchor, _ in anchored)
            per_part.append((wanted, anchored))
            for name in wanted:
                builder.export_symbol(name)
        for obj in objs:
            builder.add_object_img(obj)
        for name, address in (imports or {}).items():
            builder.import_symbol(name, address)
        with self._lock:
            if self._links >= self.libraries_per_jit:
                self._jit, self._links = self._new_jit(), 0
            self._links += 1
            jit = self._jit
            library = f"pyjitwasm{next(self._names)}"
            tracker = builder.link(jit, library)
        shared = _SharedLibrary(tracker, jit, len(layouts))
        loaded = []
        share = size // max(len(layouts), 1)
        try:
            for (wanted, anchored), obj_size in zip(
                    per_part, [len(obj) for obj in objs] if len(objs) == len(layouts)
                    else [share] * len(layouts), strict=True):
                addresses = {name: tracker[name] for name in wanted}
                loaded.append(LoadedCode(shared, addresses,
                                         section_ranges(anchored, addresses), obj_size))
        except BaseException:
            # Nothing is handed out: free the library now.  Left to the collector, the
            # tracker and its LLJIT (when no loader holds it any more) could be finalized
            # in either order if a kept exception's frames put them in a cycle, and a
            # tracker disposed after its LLJIT touches freed memory.
            shared.free()
            raise
        return loaded
