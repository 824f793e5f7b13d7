"""The machine code of one wasm module as its instances reach it: code slots, and lazy
compilation behind them.

Every defined function has a *code slot*: word ``k`` (``k`` = function index minus the
imported functions) of a native table owned by the module's ``ModuleCode`` and shared by
all its instances (the vmctx field ``code_slots`` points at it, see
``translate/vmctx.py``).  Calls that do not go straight to a function compiled in the
same batch load the slot; VMFuncImport and VMFuncRef records hold the slot's address.

Eager (``CompileOptions.lazy=False``): every function is compiled when the ``ModuleCode``
is made, in batches of about ``EAGER_BATCH_INSTRUCTIONS`` wasm instructions
(``compile_module.eager_batches``: peak memory is one batch's), each like a lazy batch.

Lazy (the default): making a ``ModuleCode`` compiles nothing; slot ``k`` starts at
lazy-compile stub ``k`` (``runtime/native/native.c``).  The first call through it enters
:meth:`ModuleCode.compile_for_stub` with the original arguments saved; the runtime
compiles function ``k`` together with a batch of its not yet compiled direct callees
(breadth first, within ``lazy_batch_instructions`` wasm instructions), writes their
slots, and the stub's trampoline jumps to the new code, so the call continues as if the
code had always been there.  Calls between functions of a batch are direct; calls out
of it go through slots and so reach code compiled later.  Python entry (exports, the
start function, host calls into wasm) compiles through :meth:`ModuleCode.entry` before
entering, without the stub.

With a code cache (``cache``, ``code_cache.py``) every batch is looked up before it is
compiled and kept after (its tier is part of the key, so tier-1 code compiled in one run
is found by the next); ``precompiled`` batches (a deserialized module) are loaded when
the ``ModuleCode`` is made and fill their slots at once.

Tiers (lazy compilation with ``CompileOptions.tiers``, the default): a lazy compile
makes *tier-0* code (``TIER0_PIPELINE``: cheap LLVM settings; every call through a
slot; counters of entries and loop iterations, ``translate/tiering.py``).  A function
whose counter runs out calls the ``tier_up`` libcall: :meth:`ModuleCode.request_tier_up`
queues it on the background compiler (``runtime/jit/tiering.py``), which compiles it,
with a batch of its direct callees (calls inside the batch are direct, so LLVM may
inline them), through the ``opt_level`` pipeline and writes the slots of those not yet
at tier 1.  Calls made after that reach tier 1 (tier-0 callers
load the slot on every call); frames already running tier-0 code finish there, which
is why tier-0 code is never freed while the module lives.  Eager compilation is
tier 1 from the start, without counters.  A tier-0 frame running a long loop can move
into tier-1 code through an on-stack-replacement entry of that loop
(:meth:`ModuleCode.request_osr`, :meth:`ModuleCode.osr_entry`; ``runtime/jit/osr.py``).

One lock per module makes the first callers of a function compile it once; other
threads wait for it (llvmlite serializes its own calls anyway).  A tier-up compiles
without that lock and takes it only to publish its code; code of a lower tier never
replaces code of a higher one.  Compilation raising
(an LLVM error, MemoryError, KeyboardInterrupt) leaves every slot as it was, so the
exception reaches the wasm code's Python caller and a later call tries again.

Every batch compiled or loaded, every tier-up request and every tier-up is reported as
a compile event (``compile_events.py``, the ``pyjitwasm.compile`` logger) when anyone
listens; ``pyjitwasm run -v`` does.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from pyjitwasm.jit.elfsyms import ObjectSymbols
from pyjitwasm.runtime.jit import codemap, compile_events, shims
from pyjitwasm.runtime.jit.batch_pack import Pack
from pyjitwasm.runtime.jit.cached_compile import ModuleCacheView, compile_batch_cached
from pyjitwasm.runtime.jit.compile_module import (
    TIER0,
    TIER1,
    BatchObject,
    CompiledModule,
    CompileOptions,
    compile_batch,
    eager_batches,
    env_flag,
    load_batch,
    load_batches,
    tier0_only,
)
from pyjitwasm.runtime.jit.compile_worker import (
    CompileWorker,
    WorkerJob,
)
from pyjitwasm.runtime.jit.linked_chunk import LinkedChunk
from pyjitwasm.runtime.jit.osr import compile_osr_entry, load_osr_entry
from pyjitwasm.runtime.jit.tiering import COMPILE_THREAD_STACK, background_compiler, start_thread
from pyjitwasm.runtime.native import (
    ffi,
    fill_lazy_stubs,
    lazy_stubs_supported,
    native_stack_room,
)
from pyjitwasm.translate.module_info import ModuleInfo
from pyjitwasm.translate.tier_table import (
    COUNTER_PARKED,
    OSR_ELSEWHERE,
    OSR_NEVER,
    OSR_PENDING,
    OSR_SLOTS_PER_FUNCTION,
    counter_table_bytes,
    osr_slot_offset,
)
from pyjitwasm.translate.vmctx import VMContextLayout, layout_for_module
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.features import Features
from pyjitwasm.wasm.gc_pause import cyclic_gc_paused
from pyjitwasm.wasm.module import WasmModule

STACK_ROOM_FOR_COMPILE = 4 << 20
"""Native stack (bytes) a lazy compile needs below the wasm frames that triggered it;
with less, the compile runs on a fresh thread (``COMPILE_THREAD_STACK``) while the
calling thread waits."""

_DIRECT_CALLS = (op.CALL, op.RETURN_CALL)
_T = TypeVar("_T")


WARM_START_WORKER_DELAY = 2.0
"""Seconds a warm start runs before it may start its compile worker
(``ModuleCode._get_worker``)."""

OSR_LOOPS_PER_FUNCTION = 4
"""Loops of one function that may have OSR entries compiled (``request_loop_tier_up``):
the first ones to ask, each a background compile of the whole function."""

PRELOAD_GROUP = 32
"""Recorded batches a warm start without a pack reads, and links, at a time
(``_load_recorded_from``; with a pack, its chunks of ``batch_pack.PACK_CHUNK``)."""


class ModuleCode:
    """The code slots of one module and the batches of machine code behind them.

    ``slots_address`` is the table the vmctx points at; ``slot_address(i)`` the slot of
    defined function ``i`` (wasm index).  ``batches`` are the compiled pieces, each
    registered with the code map (backtraces, guard-page faults) before any slot points
    into it; keep this object alive while any of its code may run."""

    def __init__(self, module: WasmModule, options: CompileOptions,
                 symbols: Mapping[str, int], cache: ModuleCacheView | None = None,
                 precompiled: Sequence[BatchObject] = (),
                 worker_source: tuple[bytes, Features] | None = None) -> None:
        """``cache``: the persistent code cache batches are looked up in and kept in
        (``code_cache.py``).  ``precompiled``: batches compiled before (a deserialized
        module, eager chunks compiled in worker processes), loaded now; they must cover
        every function (a function left out compiles lazily where stubs exist).
        ``worker_source``: the module's binary and features, given when tier-ups and
        compiles ahead should run in a worker process (``compile_worker.py``)."""
        self.module = module
        self.options = options
        self.symbols = dict(symbols)
        self._created_at = time.perf_counter()
        # The translator's ModuleInfo is made when something is compiled (a warm start
        # whose code all comes from the cache never needs it: ~50 us of a small
        # program's start); loading and instantiation need only the layout.
        self._info: ModuleInfo | None = None
        self._info_lock = threading.Lock()  # (compiles on two threads: one object)
        self.layout: VMContextLayout = layout_for_module(module)
        self.first = module.num_imported_funcs
        count = len(module.codes)
        self._slots: Any = ffi.new("uint64_t[]", max(count, 1))
        self.slots_address: int = int(ffi.cast("uintptr_t", self._slots))
        # Compiled code of each defined function (0: not yet), mirrored into the slots.
        self._code = [0] * count
        self._tier = [-1] * count  # tier of self._code[k] (-1: not compiled)
        # The tier-up counters, then the OSR slots (translate/tiering.py's layout).
        self._counters: Any = ffi.new("int32_t[]", max(counter_table_bytes(count) // 4, 1))
        self.counters_address: int = int(ffi.cast("uintptr_t", self._counters))
        self._osr_slots: Any = ffi.cast("uint64_t *", self.counters_address)
        self._entry_shims: dict[int, int] = {}
        self._entry_types_noted: set[int] = set()  # (``entry``)
        self._callees: dict[int, list[int]] = {}
        # Reentrant: a finalizer run by a collection during a compile may call wasm.
        self._lock = threading.RLock()
        # Reentrant too: publishing registers the code with the code map, whose
        # allocations may start a collection, whose finalizer may call (and so compile
        # and publish) this module's wasm on the same thread.
        self._publish_lock = threading.RLock()
        # Compiled pieces: batches, and a warm start's linked pack chunks (``batches``).
        self._batches: list[CompiledModule | LinkedChunk] = []
        self.compile_seconds = 0.0
        self.cache = cache
        self.lazy = (options.lazy or bool(precompiled)) and lazy_stubs_supported()
        self.tiered = self.lazy and options.tiers
        # Tier-up state (guarded by _tier_cond): queued or compiling functions, how many
        # tier-ups were done, the background seconds, failures by function.
        self._tier_cond = threading.Condition()
        self._tier_queued: set[int] = set()
        # Tier-ups a warm start holds until its worker may start (``_defer_tier_up``).
        self._deferred_tier_ups: list[int] = []
        self._deferred_timer: threading.Timer | None = None
        self.tier_ups = 0
        self.tier_up_seconds = 0.0
        self.tier_up_errors: dict[int, BaseException] = {}
        # On-stack-replacement entries by (defined function number, loop offset), guarded
        # by _tier_cond like tier-ups: the published ones' addresses, the queued or
        # compiling ones, failures, and their code (kept while the module's code lives:
        # a frame may run it).  See "On-stack replacement" below.
        self._osr_entries: dict[tuple[int, int], int] = {}
        self._osr_queued: set[tuple[int, int]] = set()
        self.osr_errors: dict[tuple[int, int], BaseException] = {}
        self._osr_code: list[CompiledModule] = []
        self._osr_loops: dict[int, set[int]] = {}  # loops each function asked entries of
        self._osr_slot_of: dict[tuple[int, int], int] = {}  # (k, loop offset) -> its slot
        self._osr_asked_once: set[tuple[int, int]] = set()  # (see ``_claim_osr_slot``)
        self.osr_compiles = 0
        self.osr_worker_compiles = 0  # of osr_compiles, those compiled in the worker
        self.osr_seconds = 0.0
        if self.tiered and count:
            self._counters[0:count] = [max(options.tier_up_threshold, 0)] * count
        if self.lazy:
            fill_lazy_stubs(self.slots_address, count)
        self._tier_requested: dict[int, float] = {}  # perf_counter of the request
        self._counter_start = max(options.tier_up_threshold, 0)
        # The compile worker (started on its first job), when tiers run in one.
        self._worker_source = worker_source if self.tiered else None
        self._worker: CompileWorker | None = None
        # Calls that waited for the worker's batch, and how long in all.
        self.worker_waits = 0
        self.worker_wait_seconds = 0.0
        self._lock_owner: int | None = None  # thread compiling on demand, under _lock
        for batch in precompiled:
            t0 = time.perf_counter()
            loaded = load_batch(module, self.layout, batch, options, self.symbols)
            self._publish(loaded, batch.indices, batch.tier)
            self._report("precompiled", batch.indices, batch.tier, loaded, t0)
        if not self.lazy and count and not precompiled:
            # One bounded batch at a time (each batch's IR and LLVM module are freed
            # before the next), not the module at once.
            for indices in eager_batches(module):
                self._compile(indices, TIER1, "eager")
        self.preloaded_batches = 0
        # A warm start: the batches earlier runs recorded, in the order they were first
        # needed; each function's position to load from; which positions were looked at.
        self._recorded: list[tuple[list[int], int]] = []
        self._recorded_at: dict[int, int] = {}
        self._recorded_seen: list[bool] = []
        self._recorded_unseen = 0
        # The module's pack of them, while some are not looked at yet (``batch_pack.py``).
        self._pack: Pack | None = None
        self._warm_data_plan: bytes | None = None  # (``take_warm_data_plan``)
        if self.lazy and cache is not None and _preload_wanted():
            recorded = cache.recorded(options)  # (pauses the collector for a big one)
            self._recorded, self._pack = recorded.batches, recorded.pack
            self._warm_data_plan = recorded.data_plan
            self._recorded_seen = [False] * len(self._recorded)
            self._recorded_unseen = len(self._recorded)
            # Each function's first position of its highest recorded tier: a tier-up's
            # batch comes after the tier-0 one, maybe in another pack chunk, and
            # loading the tier-0 batch's chunk at the first call would leave the
            # function at tier 0 to tier up again (loading LLVM beside the program).
            recorded_at = self._recorded_at
            tiers: dict[int, int] = {}
            for position, (indices, tier) in enumerate(self._recorded):
                for func_index in indices:
                    if tiers.get(func_index, -1) < tier:
                        tiers[func_index] = tier
                        recorded_at[func_index] = position

    def take_warm_data_plan(self) -> bytes | None:
        """The module's data plan as its warm start's pack held it (a record body,
        ``module_record.py``; only for a module with little data), once; else None."""
        plan, self._warm_data_plan = self._warm_data_plan, None
        return plan

    @property
    def info(self) -> ModuleInfo:
        """The translator's per-module facts (made on first use, with the same layout
        object as :attr:`layout`)."""
        info = self._info
        if info is None:
            with self._info_lock:
                info = self._info
                if info is None:
                    info = self.options.module_info(self.module)
                    info.layout = self.layout  # (equal: one object for every reader)
                    self._info = info
        return info

    @property
    def batches(self) -> list[CompiledModule]:
        """Every batch of machine code made or loaded for the module, in order (a
        linked chunk's batches are made when asked for: ``LinkedChunk.batch``)."""
        batches: list[CompiledModule] = []
        for item in self._batches:
            if isinstance(item, LinkedChunk):
                batches.extend(item.batches())
            else:
                batches.append(item)
        return batches

    # What instances use -------------------------------------------------------------

    def slot_address(self, func_index: int) -> int:
        """Address of defined function ``func_index``'s code slot."""
        k = func_index - self.first
        if not 0 <= k < len(self._code):
            raise IndexError(f"function {func_index} is not defined by this module")
        return self.slots_address + 8 * k

    def entry(self, func_index: int) -> tuple[int, int]:
        """(entry shim, machine code) to call defined function ``func_index`` from
        Python, compiling it (and its batch) first if it is not yet."""
        code = self.function_address(func_index)
        type_index = self.module.funcs[func_index - self.first]
        shim = self._entry_shims.get(type_index)
        if shim is None:
            ftype = self.module.types[type_index]
            shim = self._entry_shims[type_index] = shims.entry_shim(ftype.params,
                                                                    ftype.results)
        if type_index not in self._entry_types_noted:
            # The next pack places this signature's shim beside the code (a warm
            # start's first call from Python then makes none).
            self._entry_types_noted.add(type_index)
            if self.cache is not None:
                ftype = self.module.types[type_index]
                self.cache.note_entry_signature(type_index, ftype.params, ftype.results)
        return shim, code

    def function_address(self, func_index: int) -> int:
        """The machine code of defined function ``func_index``, compiled if need be."""
        k = func_index - self.first
        code = self._code[k]
        if not code:
            # From Python, but maybe from a host function called by wasm: the compile
            # then runs below those wasm frames, like one a stub asks for.
            code = self.compile_for_stub(k, native_stack_room())
        return code

    def compile_for_stub(self, k: int, stack_room: int) -> int:
        """What lazy-compile stub ``k`` calls (through ``libcalls``): the code of defined
        function number ``k`` (its index minus the imports), compiled now if need be.
        ``stack_room`` is the native stack left on the calling thread."""
        if self._code[k]:
            return self._code[k]  # another thread compiled it, or a stale slot copy
        if stack_room < STACK_ROOM_FOR_COMPILE:
            if getattr(_compiling, "depth", 0):
                # Called from inside a compile on this thread (a finalizer run by a
                # collection during it called wasm): a fresh thread would wait for the
                # locks this one holds while this one waits for it.  Too little stack to
                # compile here either: the call fails cleanly instead.
                raise RuntimeError(
                    f"cannot compile function {self.first + k} from inside another "
                    "compile (wasm called by a finalizer) with little native stack left")
            return run_on_fresh_stack(lambda: self._compile_on_demand(k))
        return self._compile_on_demand(k)

    # Compilation ---------------------------------------------------------------------

    def _compile_on_demand(self, k: int) -> int:
        worker = self._worker
        if worker is not None and self._lock_owner != threading.get_ident() \
                and worker.busy_with(self.first + k):
            # Being compiled ahead: its batch is nearer done than one started now.  (Not
            # while this thread holds the lock: the worker's batch is published under it.)
            t0 = time.perf_counter()
            worker.wait_until_done(self.first + k)
            self.worker_waits += 1
            self.worker_wait_seconds += time.perf_counter() - t0
            if self._code[k]:
                return self._code[k]
        compiled = None
        with self._lock:
            outer_owner, self._lock_owner = self._lock_owner, threading.get_ident()
            _compiling.depth = getattr(_compiling, "depth", 0) + 1
            try:
                if not self._code[k] and self._recorded:
                    self._load_recorded_from(self.first + k)
                if not self._code[k]:
                    tier = TIER0 if self.tiered else TIER1
                    # A warm start loads the batch an earlier run made for this first
                    # call, or for its tier-up (working it out decodes the function and
                    # callees).
                    cache = self.cache
                    warm = None if cache is None else \
                        cache.warm_batch(self.first + k, self.options, tier)
                    if warm is not None:
                        indices, tier = warm
                    else:
                        indices = self._batch_from(k, tier)
                    if warm is None and tier == TIER0 and self._worker_source is not None:
                        # Known before compiling: the bodies are decoded now, and
                        # released once compiled (``_compile_ahead`` needs these).
                        for func_index in indices:
                            self._callees_of(func_index - self.first)
                    compiled = self._compile(indices, tier, "lazy")
                    if cache is not None and warm is None:
                        cache.record_plan(indices, self.options, tier)
            finally:
                self._lock_owner = outer_owner
                _compiling.depth -= 1
        if compiled is not None and compiled.tier == TIER0 and not compiled.from_cache:
            self._compile_ahead(indices)
        return self._code[k]

    def _callees_of(self, k: int) -> list[int]:
        """Defined functions ``call``ed directly by defined function ``k``, in order."""
        callees = self._callees.get(k)
        if callees is None:
            body = self.module.codes[k]
            first = self.first
            known = body.direct_callees  # recorded by validation: no decoding
            if known is not None:
                callees = [index - first for index in known if index >= first]
            else:
                seen: dict[int, None] = {}
                for instr in body.instrs:
                    if instr.op in _DIRECT_CALLS and instr.imm >= first:
                        seen[instr.imm - first] = None
                callees = list(seen)
            self._callees[k] = callees
        return callees

    def _batch_from(self, k: int, tier: int) -> list[int]:
        """Function ``k`` and, breadth first, its direct callees (for tier 0 those not
        yet compiled) while the batch stays within the instruction budget (wasm
        indices)."""
        budget = self.options.lazy_batch_instructions
        codes = self.module.codes
        batch = [k]
        size = codes[k].instr_count
        queued = {k}
        pending = deque([k])
        while pending and size < budget:
            for callee in self._callees_of(pending.popleft()):
                if callee in queued or not self._batch_takes(callee, tier):
                    continue
                queued.add(callee)
                cost = codes[callee].instr_count
                if size + cost > budget:
                    continue
                size += cost
                batch.append(callee)
                pending.append(callee)
        return [self.first + i for i in batch]

    def _batch_takes(self, k: int, tier: int) -> bool:
        """Whether a batch compiled at ``tier`` takes defined function ``k`` along as a
        callee.  Tier 0: when it has no code yet and the worker is not compiling it.
        Tier 1: when it has run (tier-1 code, or a tier-0 counter that moved), even
        with tier-1 code already: direct calls within a batch are what LLVM can inline,
        and a callee that never ran is not worth optimizing."""
        if tier == TIER0:
            worker = self._worker
            return self._tier[k] < TIER0 and not (
                worker is not None and worker.busy_with(self.first + k))
        return self._tier[k] == TIER1 or (
            self._tier[k] == TIER0 and self._counters[k] != self._counter_start)

    def _compile(self, indices: list[int], tier: int, kind: str) -> CompiledModule:
        """Compile ``indices`` as one batch at ``tier`` and point their slots at the
        code (the caller holds the lock, or nothing else can see this object yet).
        ``kind``: why, for the compile event (``compile_events.KINDS``)."""
        t0 = time.perf_counter()
        batch = self._compile_batch(indices, tier, separate=True)
        self._publish(batch, indices, tier)
        self.compile_seconds += time.perf_counter() - t0
        self._report(kind, indices, tier, batch, t0)
        return batch

    def _compile_batch(self, indices: list[int], tier: int, separate: bool) -> CompiledModule:
        """Compile one batch, through the code cache when there is one."""
        if self.cache is None:
            return compile_batch(self.module, indices, self.options, self.symbols, self.info,
                                 separate=separate, with_shims=not separate, tier=tier)
        return compile_batch_cached(self.module, indices, self.options, self.symbols,
                                    self.info, separate=separate, with_shims=not separate,
                                    cache=self.cache, tier=tier)

    def _publish(self, batch: CompiledModule, indices: Sequence[int], tier: int) -> None:
        """Make ``batch``'s code reachable: slots of functions that have no code of
        ``tier`` or above yet now point at it."""
        self._publish_all([(batch, indices, tier)])

    def _publish_all(self, batches: Sequence[tuple[CompiledModule, Sequence[int], int]]
                     ) -> None:
        """:meth:`_publish` each of ``batches`` (batch, wasm indices, tier), in order."""
        # Not under ``_lock``, which a compile on demand holds throughout: code compiled
        # in the background is published while the program's thread compiles.
        first, tiers, codes, slots = self.first, self._tier, self._code, self._slots
        with self._publish_lock:
            # The fault handler and backtraces must know the code before it can run.
            codemap.register_all([batch for batch, _, _ in batches])
            for batch, indices, tier in batches:
                # Kept while the module lives: frames may run it even after a tier-up.
                self._batches.append(batch)
                for type_index, shim in batch.shims.items():
                    self._entry_shims.setdefault(type_index, shim)
                functions = batch.functions
                for func_index in indices:
                    k = func_index - first
                    if tiers[k] >= tier:
                        continue
                    code = functions[func_index].start
                    codes[k] = code
                    tiers[k] = tier
                    slots[k] = code
        bodies = self.module.codes
        for _, indices, _ in batches:
            for func_index in indices:
                # Compiled: its instructions are read again only by a tier-up or a
                # backtrace's recompile, which decode them again (``FunctionBody.release``).
                bodies[func_index - first].release()

    def _report(self, kind: str, indices: Sequence[int], tier: int,
                batch: CompiledModule | None, started: float,
                requested_at: float | None = None, error: str | None = None) -> None:
        """Send a compile event about a batch finished now (begun at ``started``) when
        anyone listens (``compile_events``); costs one check otherwise."""
        if not compile_events.listening():
            return
        finished = time.perf_counter()
        codes, names = self.module.codes, self.module.names
        functions = tuple(self._function_info(i) for i in indices)
        timings = batch.timings if batch is not None else None
        cache = None
        if self.cache is not None and not self.options.keep_ir and kind != "precompiled":
            cache = "hit" if batch is not None and batch.from_cache else "miss"
        compile_events.emit(compile_events.CompileEvent(
            kind=kind, tier=tier, functions=functions, seconds=finished - started,
            front_end_seconds=(timings.translate + timings.legalize + timings.verify
                               + timings.lower) if timings else 0.0,
            llvm_seconds=timings.llvm if timings else 0.0,
            link_seconds=timings.link if timings else 0.0,
            cache=cache, finished_at=finished, defined_functions=len(codes),
            module_name=names.module, requested_at=requested_at, error=error))

    def _function_info(self, func_index: int) -> compile_events.CompiledFunction:
        return compile_events.CompiledFunction(
            func_index, self.module.func_name(func_index),
            self.module.codes[func_index - self.first].instr_count)

    # Warm starts: loading recorded batches ahead of their first calls ------------------

    def _load_recorded_from(self, func_index: int) -> None:
        """On a warm start, at the first call of ``func_index``: load the batch an
        earlier run recorded for it with the batches recorded near it, which the program
        is likely to need next, as one group: with the module's pack, the pack's chunk
        holding it (``PACK_CHUNK`` consecutive recorded batches in one merged object,
        one link); else it and the next ``PRELOAD_GROUP`` - 1 recorded batches not
        looked at yet, each read from its cache entry.

        Loading everything recorded before the program starts delays its first result
        by the whole set (CPython: 0.4 s before packs); loading on a background thread
        holds the GIL that the program's host calls and first calls wait for (its warm
        first result went from 1.1 to 1.5 s); one batch per first call pays ~0.3 ms of
        linking each instead of ~0.06 ms in a group, ~0.02 ms merged in a chunk."""
        position = self._recorded_at.get(func_index)
        if position is None:
            return
        recorded, seen, pack = self._recorded, self._recorded_seen, self._pack
        window: list[int] = []
        if pack is not None:
            # The pack's chunk of this batch, linked as one object: the batches of the
            # chunk before this one too (an earlier run needed them before it).
            chunk = pack.chunk_of(position)
            window = [p for p in pack.positions_of(chunk) if not seen[p]]
        else:
            chunk = -1
            while position < len(recorded) and len(window) < PRELOAD_GROUP:
                if not seen[position]:
                    window.append(position)
                position += 1
        for position in window:
            seen[position] = True
        self._recorded_unseen -= len(window)
        try:
            if not window:
                return
            if pack is None or not self._preload_chunk(pack, chunk, window):
                self._preload(window)
        except Exception:  # noqa: BLE001, S110 - each first call loads or compiles its own
            pass
        finally:
            if not self._recorded_unseen:
                self._pack = None  # every batch of it taken: its bytes can go

    def _preload_chunk(self, pack: Pack, chunk: int, positions: Sequence[int]) -> bool:
        """Load chunk ``chunk`` of ``pack`` (which holds the recorded batches at
        ``positions``) and publish its batches; False when the chunk is damaged or
        does not link (the caller then loads each batch from its cache entry)."""
        cache = self.cache
        assert cache is not None
        first = self.first
        # Under the lock (a first call of one of these functions waits, then finds the
        # code); an ELF chunk's loading with the collector paused (see ``_preload``: a
        # linked one makes a handful of objects, not one per batch and symbol).
        with self._lock:
            t0 = time.perf_counter()
            recorded, tiers = self._recorded, self._tier
            if all(tiers[i - first] >= recorded[p][1] for p in positions
                   for i in recorded[p][0]):
                return True  # every function has such code already
            packed = cache.load_chunk(pack, chunk)
            if packed is None:
                return False
            if packed.linked is not None:
                try:
                    linked = LinkedChunk(self.module, self.layout, self.options,
                                         packed.linked,
                                         [recorded[p] for p in packed.positions],
                                         packed.entries, self.symbols)
                except Exception:  # noqa: BLE001 - as a damaged chunk: the entries instead
                    return False
                linked.seconds = time.perf_counter() - t0
                self._publish_linked(linked, packed.positions)
                self.preloaded_batches += len(packed.positions)
                published = []
                if compile_events.listening():
                    published = [(linked.batch(n), *recorded[p])
                                 for n, p in enumerate(packed.positions)]
            else:
                with cyclic_gc_paused():
                    try:
                        compiled = load_batches(self.module, self.layout,
                                                [b.batch for b in packed.batches],
                                                self.options, self.symbols,
                                                [b.symbols for b in packed.batches],
                                                packed.obj if packed.merged else None)
                    except Exception:  # noqa: BLE001 - as a damaged chunk: the entries
                        return False
                    published = []
                    for position, batch_code in zip(packed.positions, compiled, strict=True):
                        indices, tier = self._recorded[position]
                        batch_code.from_cache = True
                        published.append((batch_code, indices, tier))
                    self._publish_all(published)
                self.preloaded_batches += len(published)
        for batch_code, indices, tier in published:
            self._report("preloaded", indices, tier, batch_code, t0)
        return True

    def _publish_linked(self, chunk: LinkedChunk, positions: Sequence[int]) -> None:
        """:meth:`_publish_all` for the batches of a linked pack chunk (recorded at
        ``positions``), from its function table: one code-map entry for the chunk."""
        first, tiers, codes, slots = self.first, self._tier, self._code, self._slots
        with self._publish_lock:
            # The fault handler and backtraces must know the code before it can run.
            codemap.register(chunk)
            self._batches.append(chunk)
            # (The entry shims the pack placed are x64 machine code: not where the
            # process makes LLVM ones, PYJITWASM_X64_SHIMS=0.)
            for type_index, shim in chunk.shims(shims.x64_shims_enabled()):
                self._entry_shims.setdefault(type_index, shim)
            chunk.publish(first, tiers, codes, slots)
        bodies, recorded = self.module.codes, self._recorded
        for position in positions:
            for func_index in recorded[position][0]:
                bodies[func_index - first].release()

    def _preload(self, positions: Sequence[int]) -> None:
        """Load the recorded batches at ``positions`` (of ``_recorded``) that still have
        functions without such code from their cache entries, and link them as one
        library (``load_batches``) where their global symbols allow."""
        first, cache = self.first, self.cache
        assert cache is not None
        loaded = []
        # Under the lock from the look-up on: a first call of one of these functions
        # waits and then finds the code, and no batch is read twice.  The collector
        # paused: every object made here lives on, and a collection would traverse the
        # whole module's objects for nothing (CPython for WASI: 0.05 s per full one).
        with self._lock, cyclic_gc_paused():
            t0 = time.perf_counter()
            wanted: list[tuple[list[int], int, BatchObject, ObjectSymbols | None]] = []
            for position in positions:
                indices, tier = self._recorded[position]
                if all(self._tier[i - first] >= tier for i in indices):
                    continue
                batch = cache.load_recorded(indices, self.options, tier)
                if batch is not None:
                    wanted.append((indices, tier, batch, None))
            for group in _link_groups(wanted):
                compiled = load_batches(self.module, self.layout, [b for _, _, b, _ in group],
                                        self.options, self.symbols,
                                        [s for _, _, _, s in group])
                published = [(batch_code, indices, tier)
                             for (indices, tier, _, _), batch_code in zip(group, compiled,
                                                                          strict=True)]
                for batch_code, _, _ in published:
                    batch_code.from_cache = True
                self._publish_all(published)
                self.preloaded_batches += len(published)
                loaded.extend(published)
        for batch_code, indices, tier in loaded:
            self._report("preloaded", indices, tier, batch_code, t0)

    # The compile worker ----------------------------------------------------------------

    def _get_worker(self, urgent: bool = False) -> CompileWorker | None:
        """The compile worker, made on first use; None without one (or once broken).
        ``urgent`` (an OSR entry: a loop runs hot now) starts it in a warm start's
        first seconds too."""
        worker = self._worker
        if worker is None:
            if self._worker_source is None:
                return None
            if not urgent and self._in_warm_start_delay():
                # A warm start has little left to compile (CPython for WASI: ~20
                # tier-ups and ~30 first calls the cache missed): no worker process
                # (250 MB, 0.5 s of CPU to start) for a short run; until then tier-ups
                # wait (``_defer_tier_up``) and compiles ahead are left out.
                return None
            with self._tier_cond:
                worker = self._worker
                if worker is None:
                    wasm, features = self._worker_source
                    worker = self._worker = CompileWorker(wasm, self.options, features)
                    # The worker holds no reference to this object; it goes with it.
                    weakref.finalize(self, worker.close)
        return None if worker.broken is not None else worker

    def _in_warm_start_delay(self) -> bool:
        """Whether this is a warm start's first ``WARM_START_WORKER_DELAY`` seconds
        (with a worker to come)."""
        return bool(self._recorded) and self._worker_source is not None and \
            time.perf_counter() - self._created_at < WARM_START_WORKER_DELAY

    def _defer_tier_up(self, k: int) -> None:
        """Hold the tier-up of ``k`` until the warm start's worker may start.  Not on the
        in-process thread: its LLVM compiles hold llvmlite's one lock, which every first
        call's loading waits for (Graphviz's warm start lost 0.27 s so)."""
        with self._tier_cond:
            self._deferred_tier_ups.append(k)
            if self._deferred_timer is not None:
                return
            ref = weakref.ref(self)  # the timer must not keep the module's code alive
            wait = WARM_START_WORKER_DELAY - (time.perf_counter() - self._created_at)
            timer = self._deferred_timer = threading.Timer(
                max(wait, 0.0), lambda: _submit_deferred_tier_ups(ref))
            timer.daemon = True
            timer.start()

    def _submit_deferred_tier_ups(self) -> None:
        with self._tier_cond:
            deferred, self._deferred_tier_ups = self._deferred_tier_ups, []
            self._deferred_timer = None
        worker = self._get_worker()
        for k in deferred:
            requested_at = self._tier_requested.get(k)
            if worker is None or not worker.submit(
                    self._worker_job(k, TIER1, "tier-up", requested_at)):
                self._tier_up_on_thread(k)

    def _compile_ahead(self, indices: Sequence[int]) -> None:
        """Queue on the worker the direct callees of just compiled batch ``indices``
        that have no code yet: they are likely to be called next."""
        worker = self._get_worker()
        if worker is None:
            return
        for func_index in indices:
            for callee in self._callees_of(func_index - self.first):
                if self._tier[callee] < TIER0:
                    worker.submit(self._worker_job(callee, TIER0, "ahead"))

    def _worker_job(self, k: int, tier: int, kind: str,
                    requested_at: float | None = None) -> WorkerJob:
        """A worker job compiling defined function ``k``'s batch at ``tier``."""
        ref = weakref.ref(self)  # a queued job must not keep the module's code alive

        def prepare() -> list[int] | None:
            code = ref()
            if code is None:
                return None
            if code._tier[k] >= tier:  # compiled meanwhile (in another function's batch)
                if kind == "tier-up":
                    code._tier_up_done(k)
                return None
            return code._batch_from(k, tier)

        def finish(batch: BatchObject | None, timings: tuple[float, float],
                   error: BaseException | None) -> None:
            code = ref()
            if code is not None:
                code._worker_finished(job, k, kind, batch, timings, error, requested_at)

        ahead = kind == "ahead"
        job = WorkerJob(ahead, prepare, finish, tier, key=k if ahead else -1)
        return job

    def _worker_finished(self, job: WorkerJob, k: int, kind: str, batch: BatchObject | None,
                         timings: tuple[float, float], error: BaseException | None,
                         requested_at: float | None) -> None:
        """A worker job ended (on the worker's feeder thread): link and publish its
        batch, or handle its failure."""
        indices = list(job.indices) or [self.first + k]
        compiled = None
        if batch is not None:
            try:
                compiled = load_batch(self.module, self.layout, batch, self.options,
                                      self.symbols)
            except Exception as exc:  # noqa: BLE001 - as a failed compile
                error = exc
        if compiled is None:
            if kind == "tier-up":
                worker = self._worker
                if worker is not None and worker.broken is not None:
                    # The worker is gone, not the compile: tier up on the thread.
                    self._tier_up_on_thread(k)
                    return
                assert error is not None
                self.tier_up_errors[k] = error
                self._report(kind, indices, job.tier, None, job.sent_at, requested_at,
                             error=f"{type(error).__name__}: {error}")
                self._tier_up_done(k)
            return  # compiled ahead: the function compiles here when it is called
        front_end, llvm = timings
        compiled.timings.translate, compiled.timings.llvm = front_end, llvm
        self._publish(compiled, indices, job.tier)
        cache = self.cache
        if cache is not None and batch is not None and not self.options.keep_ir:
            cache.cache.store(cache.batch_key(indices, self.options, job.tier), batch)
            cache.record_plan(indices, self.options, job.tier)
        self._report(kind, indices, job.tier, compiled, job.sent_at, requested_at)
        if kind == "tier-up":
            self.tier_ups += 1
            self.tier_up_seconds += time.perf_counter() - job.sent_at
            self._tier_up_done(k)

    def wait_for_worker(self, timeout: float | None = None) -> bool:
        """Wait until the compile worker (if any) has nothing queued or under way; False
        on timeout (for tests and measurements)."""
        worker = self._worker
        return worker is None or worker.wait_idle(timeout)

    @property
    def worker_running(self) -> bool:
        """Whether this module's code has a working compile worker."""
        return self._worker is not None and self._worker.broken is None

    # Tier-up -------------------------------------------------------------------------

    def request_tier_up(self, k: int) -> None:
        """Defined function ``k`` is hot (its tier-0 counter ran out): queue it for tier
        1 on the background compiler, once.  Returns at once."""
        if not 0 <= k < len(self._code):
            raise IndexError(f"no defined function number {k}")
        self._counters[k] = COUNTER_PARKED
        with self._tier_cond:
            if (not self.tiered or self._tier[k] >= TIER1 or k in self._tier_queued
                    or k in self.tier_up_errors
                    or tier0_only(self.module, [self.first + k])):
                return
            self._tier_queued.add(k)
            self._tier_requested[k] = requested_at = time.perf_counter()
        if self.cache is not None:
            # A warm start whose pack was current still gets its tier-ups into the next
            # run's pack (the exit waits for them).
            self.cache.expect_plans(self.options)
        if compile_events.listening():
            compile_events.emit(compile_events.TierUpRequested(
                self._function_info(self.first + k), requested_at, self.module.names.module))
        worker = self._get_worker()
        if worker is not None and worker.submit(
                self._worker_job(k, TIER1, "tier-up", requested_at)):
            return
        if worker is None and self._worker is None and self._in_warm_start_delay():
            self._defer_tier_up(k)
            return
        self._tier_up_on_thread(k)

    def request_loop_tier_up(self, k: int, loop_offset: int, slot: int) -> int:
        """Defined function ``k`` is hot in its loop at wasm offset ``loop_offset``, whose
        OSR slot is ``k``'s number ``slot`` (x64 tier-0 code asks, at that loop's
        header, when the slot is not this loop's): queue ``k`` for tier 1 and, when
        on-stack replacement is on, the loop's OSR entry (up to
        ``OSR_LOOPS_PER_FUNCTION`` loops of a function).  Two loops share a slot only
        in a function with more of them than ``OSR_SLOTS_PER_FUNCTION``; then the slot
        goes to the loop that asked last, which is where a frame is hot now.
        Returned: this loop's entry, ``OSR_PENDING`` (the slot is this loop's now:
        look again soon), ``OSR_ELSEWHERE`` (no entry for this loop, but the frame may
        move on to a loop that has one: ask again much later) or ``OSR_NEVER``
        (translate/tiering.py); never another loop's entry.  In a module without a worker
        the entry is queued at the loop's first ask, before the tier-up: a frame runs
        this loop now, while the tier-up serves the function's next calls.  In one with
        a worker the first ask queues the tier-up only, and the entry comes at the
        second (``_claim_osr_slot``)."""
        entry, first_ask = self._claim_osr_slot(k, loop_offset, slot)
        if first_ask:
            self._start_osr(k, loop_offset)  # may have ended already (``_osr_ready``)
        self.request_tier_up(k)
        if first_ask:
            with self._tier_cond:
                current, tag = self.osr_slot(k, slot)
                if tag == loop_offset + 1:
                    entry = current
        return entry

    def _claim_osr_slot(self, k: int, loop_offset: int, slot: int) -> tuple[int, bool]:
        """:meth:`request_loop_tier_up`'s slot policy: what to return for now, and
        whether this is the loop's first ask (its entry is to be compiled)."""
        key = (k, loop_offset)
        with self._tier_cond:
            if not self.osr_enabled or not 0 <= slot < OSR_SLOTS_PER_FUNCTION \
                    or tier0_only(self.module, [self.first + k]):
                # (a giant function's entry would cost LLVM's memory)
                return OSR_NEVER, False
            if self._worker_source is not None and key not in self._osr_entries \
                    and not _osr_sync():
                if self._worker is None and self._in_warm_start_delay():
                    # No worker yet in a warm start's first seconds (its start would
                    # cost the short run more than the loop's tier-0 code does).
                    return OSR_ELSEWHERE, False
                if key not in self._osr_asked_once:
                    # A worker module's loop gets its entry when it asks a second time,
                    # ``OSR_RECHECK_ASKED`` iterations later in the same frame: a large
                    # program's start-up runs many loops past the first count, which
                    # ends before their entries would come (Graphviz's: LLVM loaded in
                    # the worker for nothing, 57 -> 133 MiB of PSS).
                    self._osr_asked_once.add(key)
                    return OSR_ELSEWHERE, False
            asked = self._osr_loops.setdefault(k, set())
            if key in self.osr_errors or (
                    loop_offset not in asked and len(asked) >= OSR_LOOPS_PER_FUNCTION):
                if len(asked) >= OSR_LOOPS_PER_FUNCTION and all(
                        (k, other) in self.osr_errors for other in asked):
                    return OSR_NEVER, False  # no loop of ``k`` will ever have an entry
                return OSR_ELSEWHERE, False
            first_ask = loop_offset not in asked
            asked.add(loop_offset)
            self._osr_slot_of[key] = slot
            entry = self._osr_entries.get(key, OSR_PENDING)
            self._write_osr_slot(k, slot, loop_offset, entry)
        return entry, first_ask

    def osr_slot(self, k: int, slot: int) -> tuple[int, int]:
        """(entry, tag) of defined function ``k``'s OSR slot ``slot``."""
        at = self._osr_word(k, slot)
        return int(self._osr_slots[at]), int(self._osr_slots[at + 1])

    def _osr_word(self, k: int, slot: int) -> int:
        """Where ``k``'s OSR slot ``slot`` is in ``_osr_slots`` (its entry; the tag
        follows): the layout x64 code reads (``translate/tier_table.osr_slot_offset``)."""
        return osr_slot_offset(len(self._code), k, slot) // 8

    def _write_osr_slot(self, k: int, slot: int, loop_offset: int, entry: int) -> None:
        """Give ``k``'s OSR slot ``slot`` to the loop at ``loop_offset`` with ``entry``
        (under ``_tier_cond``).  Tier-0 code on other threads reads the tag, the entry,
        then the tag again, and uses the entry only when both tags are its loop's; so
        the tag is cleared before the entry changes hands (stores are seen in program
        order on x86-64): no reader can pair one loop's tag with another's entry."""
        slots = self._osr_slots
        at = self._osr_word(k, slot)
        tag = loop_offset + 1
        if slots[at + 1] != tag:
            slots[at + 1] = 0
        slots[at] = entry
        slots[at + 1] = tag

    @property
    def osr_enabled(self) -> bool:
        """Whether hot x64 loops move to tier-1 code on the stack: under tiers, unless
        ``PYJITWASM_OSR=0``.  With a compile worker the entries compile there
        (:meth:`request_osr`)."""
        return self.tiered and env_flag("PYJITWASM_OSR")

    def _osr_ready(self, k: int, loop_offset: int, address: int | None) -> None:
        """The OSR entry of ``k`` at ``loop_offset`` is published (``address``) or will
        never be (None): when the slot is that loop's, its next look takes it."""
        with self._tier_cond:
            slot = self._osr_slot_of.get((k, loop_offset))
            if slot is not None and self.osr_slot(k, slot)[1] == loop_offset + 1:
                self._write_osr_slot(k, slot, loop_offset,
                                     OSR_NEVER if address is None else address)

    def _start_osr(self, k: int, loop_offset: int) -> None:
        """Queue the compile of the OSR entry; it ends in :meth:`_osr_ready`.  With
        ``PYJITWASM_OSR_SYNC=1`` (for tests: every loop whose count runs out moves at
        once) it is compiled now, inside the call from the loop, on a fresh stack, or,
        in a module with a compile worker, in the worker while this thread waits."""
        if _osr_sync():
            if self._get_worker(urgent=True) is None:
                try:
                    run_on_fresh_stack(lambda: self.compile_osr(k, loop_offset))
                except Exception:  # noqa: BLE001, S110 - kept in osr_errors, told to the slot
                    pass
                return
            # With a worker: compiled there (or here, if it breaks) while this waits.
            self.request_osr(k, loop_offset)
            with self._tier_cond:
                self._tier_cond.wait_for(lambda: (k, loop_offset) not in self._osr_queued)
        else:
            self.request_osr(k, loop_offset)
        # Compiled or failed before (request_osr then queued nothing): say so now.  A
        # queued compile's own report may come too: the same value.
        address = self.osr_entry(k, loop_offset)
        if address is not None or self.osr_failed(k, loop_offset):
            self._osr_ready(k, loop_offset, address)

    def _tier_up_on_thread(self, k: int) -> None:
        """Queue the tier-up of ``k`` on this process's background compiler thread."""
        job: Callable[[], None]
        if self.cache is not None:
            # Its code goes to the next run's pack (the exit waits for it): the job keeps
            # the module's code until it ends, also when the program let it go first.
            job = functools.partial(self._tier_up, k)
        else:
            ref = weakref.ref(self)  # a queued job must not keep the module's code alive
            job = functools.partial(_tier_up_job, ref, k)
        if not background_compiler().submit(job):
            self._tier_up_done(k)

    def _tier_up(self, k: int) -> None:
        """Compile defined function ``k`` (and a batch of its callees) at tier 1 and
        swap the code into the slots (on the background compiler's thread)."""
        requested_at = self._tier_requested.pop(k, None)
        indices = [self.first + k]
        t0 = time.perf_counter()
        try:
            if self._tier[k] >= TIER1:
                return
            indices = self._batch_from(k, TIER1)
            batch = self._compile_batch(indices, TIER1, separate=True)
            self._publish(batch, indices, TIER1)
            if self.cache is not None:
                self.cache.record_plan(indices, self.options, TIER1)
            self.tier_ups += 1
            self.tier_up_seconds += time.perf_counter() - t0
        except Exception as exc:  # noqa: BLE001 - the function just stays at tier 0
            self.tier_up_errors[k] = exc
            self._report("tier-up", indices, TIER1, None, t0, requested_at,
                         error=f"{type(exc).__name__}: {exc}")
        else:
            self._report("tier-up", indices, TIER1, batch, t0, requested_at)
        finally:
            self._tier_up_done(k)

    def _tier_up_done(self, k: int) -> None:
        with self._tier_cond:
            self._tier_queued.discard(k)
            self._tier_cond.notify_all()

    def wait_for_tier_ups(self, timeout: float | None = None) -> bool:
        """Wait until no function of this module is queued for tier 1; False on
        timeout."""
        with self._tier_cond:
            return self._tier_cond.wait_for(lambda: not self._tier_queued, timeout)

    def tier_of(self, func_index: int) -> int | None:
        """The tier of defined function ``func_index``'s current code (None: not
        compiled yet)."""
        tier = self._tier[func_index - self.first]
        return None if tier < 0 else tier

    def counter(self, func_index: int) -> int:
        """Defined function ``func_index``'s tier-up counter (for tests)."""
        return int(self._counters[func_index - self.first])

    # On-stack replacement -----------------------------------------------------------

    def osr_entry(self, k: int, loop_offset: int) -> int | None:
        """The address of the OSR entry of defined function number ``k`` (its index minus
        the imports) at the ``loop`` whose ``Instr.offset`` is ``loop_offset``, once it
        is compiled and published; else None.  The entry is
        ``R entry(uint64_t vmctx, uint64_t locals)`` (``translate/osr.py``)."""
        return self._osr_entries.get((k, loop_offset))

    def request_osr(self, k: int, loop_offset: int) -> None:
        """Queue the compile of that OSR entry, once (nothing when it is published,
        queued, or has failed): in the compile worker when the module has one (ahead of
        its other jobs), else, or when the worker is broken, on the background compiler
        thread.  Returns at once."""
        if not 0 <= k < len(self._code):
            raise IndexError(f"no defined function number {k}")
        key = (k, loop_offset)
        with self._tier_cond:
            if key in self._osr_entries or key in self._osr_queued or key in self.osr_errors:
                return
            self._osr_queued.add(key)
        worker = self._get_worker(urgent=True)
        if worker is not None and worker.submit(self._osr_worker_job(k, loop_offset)):
            return
        self._osr_on_thread(k, loop_offset)

    def _osr_on_thread(self, k: int, loop_offset: int) -> None:
        """Queue the compile of that (queued) OSR entry on this process's background
        compiler thread."""
        key = (k, loop_offset)
        ref = weakref.ref(self)  # a queued job must not keep the module's code alive
        if not background_compiler().submit(lambda: _osr_job(ref, k, loop_offset),
                                            lambda: _osr_dropped(ref, key)):
            self._osr_done(key)  # interpreter exit: no compile any more
            self._osr_ready(k, loop_offset, None)

    def osr_failed(self, k: int, loop_offset: int) -> bool:
        """Whether compiling that OSR entry failed (``osr_errors`` has why: an
        ``OsrError`` for a loop that cannot have one, an LLVM error, ``MemoryError``);
        it is not tried again."""
        return (k, loop_offset) in self.osr_errors

    def compile_osr(self, k: int, loop_offset: int) -> int:
        """Compile and publish that OSR entry now, on this thread (what a queued request
        runs); its address.  A failure is remembered in ``osr_errors`` and raised."""
        key = (k, loop_offset)
        known = self._osr_entries.get(key)
        if known is not None:
            return known
        func_index = self.first + k
        t0 = time.perf_counter()
        try:
            compiled = compile_osr_entry(self.module, func_index, loop_offset,
                                         self.options, self.symbols, self.info)
        except Exception as exc:
            self._osr_failed(k, loop_offset, exc, t0)
            raise
        finally:
            # Translated: decoded again only if needed again (``FunctionBody.release``).
            self.module.codes[k].release()
        return self._publish_osr(k, loop_offset, compiled, t0)

    def _osr_failed(self, k: int, loop_offset: int, error: BaseException,
                    started: float) -> None:
        """Compiling that OSR entry failed (here or in the worker): remembered in
        ``osr_errors``, so it is not tried again, and told to the loop's slot."""
        with self._tier_cond:
            self.osr_errors[(k, loop_offset)] = error
        self._osr_ready(k, loop_offset, None)  # x64 code stops asking
        self._report("osr", [self.first + k], TIER1, None, started,
                     error=f"{type(error).__name__}: {error}")

    def _publish_osr(self, k: int, loop_offset: int, compiled: CompiledModule,
                     started: float, in_worker: bool = False) -> int:
        """Register a linked OSR entry and hand it to its loop's slot; its address."""
        key = (k, loop_offset)
        func_index = self.first + k
        with self._publish_lock:
            # The fault handler and backtraces must know the code before it can run.
            codemap.register(compiled)
            self._osr_code.append(compiled)
            with self._tier_cond:
                address = self._osr_entries.setdefault(
                    key, compiled.function_address(func_index))
                self.osr_compiles += 1
                self.osr_worker_compiles += in_worker
                self.osr_seconds += time.perf_counter() - started
        self._osr_ready(k, loop_offset, address)  # the loop's next look takes it
        self._report("osr", [func_index], TIER1, compiled, started)
        return address

    def _osr_worker_job(self, k: int, loop_offset: int) -> WorkerJob:
        """A worker job compiling the OSR entry of ``k`` at ``loop_offset``."""
        ref = weakref.ref(self)  # a queued job must not keep the module's code alive
        key = (k, loop_offset)
        func_index = self.first + k

        def prepare() -> list[int] | None:
            return None if ref() is None else [func_index]

        def finish(batch: BatchObject | None, timings: tuple[float, float],
                   error: BaseException | None) -> None:
            code = ref()
            if code is not None:
                code._osr_worker_finished(job, k, loop_offset, batch, timings, error)

        job = WorkerJob(False, prepare, finish, TIER1, osr_loop=loop_offset,
                        dropped=lambda: _osr_dropped(ref, key))
        return job

    def _osr_worker_finished(self, job: WorkerJob, k: int, loop_offset: int,
                             batch: BatchObject | None, timings: tuple[float, float],
                             error: BaseException | None) -> None:
        """The worker's OSR job ended (on its feeder thread): link and publish the
        entry, or remember why not; a broken worker hands it to this process."""
        key = (k, loop_offset)
        func_index = self.first + k
        compiled = None
        if batch is not None:
            try:
                compiled = load_osr_entry(self.module, func_index, loop_offset, batch.code,
                                          self.options, self.symbols, self.info)
            except Exception as exc:  # noqa: BLE001 - as a failed compile
                error = exc
        if compiled is None:
            worker = self._worker
            if worker is not None and worker.broken is not None:
                # The worker is gone, not the compile: compile it on the thread.
                self._osr_on_thread(k, loop_offset)
                return
            assert error is not None
            self._osr_failed(k, loop_offset, error, job.sent_at)
            self._osr_done(key)
            return
        compiled.timings.translate, compiled.timings.llvm = timings
        try:
            self._publish_osr(k, loop_offset, compiled, job.sent_at, in_worker=True)
        finally:
            self._osr_done(key)

    def wait_for_osr(self, timeout: float | None = None) -> bool:
        """Wait until no OSR entry of this module is queued or compiling; False on
        timeout (for tests and measurements)."""
        with self._tier_cond:
            return self._tier_cond.wait_for(lambda: not self._osr_queued, timeout)

    def _osr_done(self, key: tuple[int, int]) -> None:
        with self._tier_cond:
            self._osr_queued.discard(key)
            self._tier_cond.notify_all()

    # Statistics ---------------------------------------------------------------------

    @property
    def compiled_functions(self) -> int:
        """How many defined functions have machine code."""
        return sum(1 for code in self._code if code)


def _preload_wanted() -> bool:
    """Warm starts preload recorded batches unless ``PYJITWASM_PRELOAD=0``."""
    return env_flag("PYJITWASM_PRELOAD")


def _submit_deferred_tier_ups(ref: weakref.ref[ModuleCode]) -> None:
    code = ref()
    if code is not None:
        code._submit_deferred_tier_ups()


def _link_groups(batches: list[tuple[list[int], int, BatchObject, ObjectSymbols | None]]
                 ) -> list[list[tuple[list[int], int, BatchObject, ObjectSymbols | None]]]:
    """``batches`` in groups that can share a library: no global symbol twice (a lazy
    batch's only global function is its first one, the others are internal; plus any
    entry shims), in their order otherwise.  Tiers mix: linking does not depend on the
    passes that made an object (CPython's warm start linked 141 libraries for 44 windows
    when each tier had its own)."""
    groups: list[list[tuple[list[int], int, BatchObject, ObjectSymbols | None]]] = []
    names: set[str] = set()
    for item in batches:
        exported = item[2].global_symbols()
        if not groups or not names.isdisjoint(exported):
            groups.append([])
            names = set()
        groups[-1].append(item)
        names.update(exported)
    return groups


def _osr_job(ref: weakref.ref[ModuleCode], k: int, loop_offset: int) -> None:
    code = ref()  # the module may be gone by the time the job runs
    if code is None:
        return
    try:
        code.compile_osr(k, loop_offset)
    except Exception:  # noqa: BLE001, S110 - kept in osr_errors: x64 code stops asking
        pass
    finally:
        code._osr_done((k, loop_offset))


def _osr_sync() -> bool:
    """``PYJITWASM_OSR_SYNC=1`` (for tests): every loop whose count runs out gets its
    entry at once, compiled inside its ask (read at each ask)."""
    return os.environ.get("PYJITWASM_OSR_SYNC") == "1"


def _osr_dropped(ref: weakref.ref[ModuleCode], key: tuple[int, int]) -> None:
    code = ref()
    if code is not None:
        code._osr_done(key)


def _tier_up_job(ref: weakref.ref[ModuleCode], k: int) -> None:
    code = ref()  # the module may be gone by the time the job runs
    if code is not None:
        code._tier_up(k)


_compiling = threading.local()
"""``depth``: how many compiles on demand this thread is inside (``compile_for_stub``)."""


def run_on_fresh_stack(fn: Callable[[], _T]) -> _T:
    """``fn()`` run on a new thread with a ``COMPILE_THREAD_STACK`` stack while this
    one waits; its result, or the exception it raised."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, fn()))
        except BaseException as exc:  # noqa: B036 - handed back to the waiting thread
            outcome.append((False, exc))

    thread = start_thread(run, "pyjitwasm-lazy-compile", COMPILE_THREAD_STACK)
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return cast(_T, value)


__all__ = ["COMPILE_THREAD_STACK", "ModuleCode", "STACK_ROOM_FOR_COMPILE",
           "run_on_fresh_stack"]
