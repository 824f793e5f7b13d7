"""Loading LLVM IR as machine code: optimize, compile, link, look up, release.

The path (chosen by measurement, see docs/jit-design.md): parse or take an LLVM module,
run the new pass manager at the requested level, emit an ELF object with our own target
machine, and link it into an ORC LLJIT as a separate JIT library.  Emitting the object
ourselves (instead of handing ORC the IR) lets us read the executable sections' sizes, so
we can tell the runtime's fault handler exactly which addresses are compiled code.  Each
load is one library with its own resource tracker; releasing the tracker frees the code.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import llvmlite.binding as llvm

from .elfsyms import read_code_layout

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


def host_target_machine(opt_level: int = 2) -> llvm.TargetMachine:
    """A target machine for this CPU (all its features), configured for JIT use."""
    ensure_llvm_initialized()
    target = llvm.Target.from_default_triple()
    return target.create_target_machine(
        cpu=llvm.get_host_cpu_name(),
        features=llvm.get_host_cpu_features().flatten(),
        opt=opt_level,
        reloc="static",
        codemodel="jitdefault",
        jit=True,
    )


def optimize_module(module: llvm.ModuleRef, tm: llvm.TargetMachine, level: int) -> None:
    """Optimize ``module`` in place.

    Level 0: nothing.  Level 1 (the default, see docs/jit-design.md): a short hand-picked
    function pipeline (SROA, instcombine, simplifycfg, NewGVN, DCE) -- about 20x cheaper
    than LLVM's O2 and, unlike it, it does not leak memory per run in llvmlite 0.50.
    Levels 2 and 3: LLVM's standard pipelines (each run leaks ~100 KiB in llvmlite 0.50,
    so not for long-running processes that compile repeatedly)."""
    if level == 0:
        return
    tuning = llvm.create_pipeline_tuning_options(speed_level=min(level, 3))
    builder = llvm.create_pass_builder(tm, tuning)
    if level == 1:
        passes = llvm.create_new_module_pass_manager()
        passes.add_sroa_pass()
        passes.add_instruction_combine_pass()
        passes.add_simplify_cfg_pass()
        passes.add_new_gvn_pass()
        passes.add_dead_code_elimination_pass()
        passes.run(module, builder)
    else:
        builder.getModulePassManager().run(module, builder)


def parse_ir(ir: str | object) -> llvm.ModuleRef:
    """Parse LLVM IR text (or anything whose ``str`` is IR, like an ``llvmlite.ir.Module``)
    and verify it."""
    ensure_llvm_initialized()
    module = llvm.parse_assembly(str(ir))
    module.verify()
    return module


@dataclass(frozen=True)
class CodeRange:
    """Half-open address range [start, end) of loaded machine code."""

    start: int
    end: int


class LoadedCode:
    """Machine code of one loaded module.  Addresses stay valid until :meth:`release` (or
    until this object is garbage collected); release callbacks run first, so the runtime
    can unregister code ranges before the memory is returned."""

    def __init__(
        self,
        tracker: llvm.ResourceTracker,
        jit: llvm.LLJIT,
        addresses: dict[str, int],
        code_ranges: list[CodeRange],
        object_size: int,
    ) -> None:
        self.addresses = addresses
        self.code_ranges = code_ranges
        self.object_size = object_size
        self._callbacks: list[Callable[[], None]] = []
        self._finalizer = weakref.finalize(self, _release, tracker, jit, self._callbacks)

    def address(self, name: str) -> int:
        """The address of an exported symbol."""
        return self.addresses[name]

    def on_release(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` just before the code is freed (it must not reference ``self``)."""
        self._callbacks.append(callback)

    @property
    def released(self) -> bool:
        """Whether the code has been freed."""
        return not self._finalizer.alive

    def release(self) -> None:
        """Free the machine code now.  Idempotent."""
        self._finalizer()


def _release(tracker: llvm.ResourceTracker, jit: llvm.LLJIT, callbacks: list) -> None:
    # ``jit`` is only held so the LLJIT outlives every library linked into it.
    del jit
    for callback in reversed(callbacks):
        callback()
    callbacks.clear()
    tracker.close()


class CodeLoader:
    """Compiles LLVM modules into one ORC LLJIT instance; each :meth:`load` is an
    independently releasable library."""

    _names = itertools.count()
    # llvmlite gives every linked library a JITDylib that lives as long as its LLJIT
    # (a few KiB each, even after release): start a fresh LLJIT every so often; an old
    # one is freed when the last code loaded into it is released.
    libraries_per_jit = 200

    def __init__(self, opt_level: int = 1) -> None:
        self.opt_level = opt_level
        # Level 1 still wants the optimizing instruction selector and register allocator.
        self.target_machine = host_target_machine(2 if opt_level else 0)
        self._jit = self._new_jit()
        self._links = 0
        self._lock = threading.Lock()

    def _new_jit(self) -> llvm.LLJIT:
        # JITLink frees everything on release; RuntimeDyld kept ~9 KiB per library.
        return llvm.create_lljit_compiler(self.target_machine, use_jit_link=True)

    def compile_object(self, ir: str | object | llvm.ModuleRef) -> bytes:
        """Optimize ``ir`` and return it as an ELF object."""
        module = ir if isinstance(ir, llvm.ModuleRef) else parse_ir(ir)
        optimize_module(module, self.target_machine, self.opt_level)
        return self.target_machine.emit_object(module)

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
    ) -> LoadedCode:
        """Link an ELF object produced by :meth:`compile_object`."""
        sections, symbols = read_code_layout(obj)
        wanted = set(exports) if exports is not None else {s.name for s in symbols}
        missing_anchor = [s.name for s in sections if s.anchor is None]
        if missing_anchor:
            raise ValueError(f"code sections without a global symbol: {missing_anchor}")
        wanted.update(s.anchor for s in sections if s.anchor is not None)

        builder = llvm.JITLibraryBuilder().add_object_img(obj)
        for name, address in (imports or {}).items():
            builder.import_symbol(name, address)
        for name in wanted:
            builder.export_symbol(name)
        with self._lock:
            if self._links >= self.libraries_per_jit:
                self._jit, self._links = self._new_jit(), 0
            self._links += 1
            jit = self._jit
            library = f"pyjitwasm{next(self._names)}"
            tracker = builder.link(jit, library)
        addresses = {name: tracker[name] for name in wanted}
        ranges = []
        for section in sections:
            start = addresses[section.anchor] - section.anchor_offset
            ranges.append(CodeRange(start, start + section.size))
        return LoadedCode(tracker, jit, addresses, _merge(ranges), len(obj))


def _merge(ranges: list[CodeRange]) -> list[CodeRange]:
    merged: list[CodeRange] = []
    for r in sorted(ranges, key=lambda r: r.start):
        if merged and r.start <= merged[-1].end:
            merged[-1] = CodeRange(merged[-1].start, max(merged[-1].end, r.end))
        else:
            merged.append(r)
    return merged
