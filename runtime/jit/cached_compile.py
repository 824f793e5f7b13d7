"""Compiling a batch through the code cache: load it if an earlier run compiled it,
else compile it and keep the object for the next run (``code_cache.py``).

``ModuleCode`` calls :func:`compile_batch_cached` for every batch it compiles; with no
cache it is :func:`compile_module.compile_batch`.

A warm start loads the batches earlier runs recorded (:meth:`ModuleCacheView.recorded`)
from the module's pack (``batch_pack.py``) when it has one made from the current plan
log, else from their own entries.  Packs are written when a run ends
(:func:`write_packs`, at interpreter exit): for each module whose pack was missing or
stale when it started, or whose plan log grew since, once the cache has an entry for
every recorded batch.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import threading
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field

from pyjitwasm.runtime.jit.batch_pack import (
    Pack,
    PackedChunk,
    PackFormatError,
    decode_pack,
    encode_pack,
)
from pyjitwasm.runtime.jit.code_cache import CodeCache
from pyjitwasm.runtime.jit.compile_module import (
    TIER0,
    TIER1,
    BatchObject,
    CompiledModule,
    CompileOptions,
    compile_batch,
    emit_batch,
    load_batch,
)
from pyjitwasm.runtime.jit.shims import entry_shim_machine_code
from pyjitwasm.runtime.jit.tiering import background_compiler
from pyjitwasm.translate.module_info import ModuleInfo
from pyjitwasm.wasm.gc_pause import cyclic_gc_paused
from pyjitwasm.wasm.module import WasmModule


@dataclass(eq=False)
class ModuleCacheView:
    """A code cache as one module sees it: the cache and the module's SHA-256 (and the
    module's plan log, read once per option set)."""

    cache: CodeCache
    module_digest: str
    _plans: dict[CompileOptions, dict[tuple[str, int], tuple[int, ...]]] = field(
        default_factory=dict, repr=False)

    @classmethod
    def of(cls, cache: CodeCache, wasm: bytes) -> ModuleCacheView:
        """The view of the module whose binary is ``wasm``."""
        return cls(cache, hashlib.sha256(wasm).hexdigest())

    def _plans_for(self, options: CompileOptions) -> dict[tuple[str, int], tuple[int, ...]]:
        plans = self._plans.get(options)
        if plans is None:
            key = self.cache.plans_key(self.module_digest, options)
            plans = self._plans[options] = self.cache.load_plans(key)
        return plans

    def planned_batch(self, func_index: int, options: CompileOptions,
                      tier: int) -> list[int] | None:
        """The functions of the batch that an earlier run compiled at ``tier`` when
        ``func_index`` was first called (None: none recorded)."""
        if options.keep_ir:
            return None
        plan = self._plans_for(options).get((f"tier{tier}", func_index))
        return None if plan is None else list(plan)

    def warm_batch(self, func_index: int, options: CompileOptions,
                   tier: int) -> tuple[list[int], int] | None:
        """What a first call of ``func_index`` (compiled at ``tier`` when nothing is
        known) loads when an earlier run compiled it: the batch an earlier tier-up of it
        made at tier 1, so hot code runs at tier 1 from the start, else the batch its
        first call made; with the tier.  None: no plan recorded."""
        if tier == TIER0:
            plan = self.planned_batch(func_index, options, TIER1)
            if plan is not None:
                return plan, TIER1
        plan = self.planned_batch(func_index, options, tier)
        return None if plan is None else (plan, tier)

    def recorded_batches(self, options: CompileOptions) -> list[tuple[list[int], int]]:
        """Every batch earlier runs recorded (wasm indices, tier), in the order they were
        first compiled, as :meth:`warm_batch` loads them: a function's tier-1 batch
        instead of its tier-0 one when the tier-1 batch holds all of its functions."""
        if options.keep_ir:
            return []
        return _recorded_from(self._plans_for(options))

    def recorded(self, options: CompileOptions) -> RecordedBatches:
        """What a warm start loads: :meth:`recorded_batches`, with the module's pack when
        it was made from the current plan log (then the log is parsed only if a first
        call misses the recorded batches).  Asks for a new pack at the end of the run
        when there is none, or a stale or damaged one."""
        if options.keep_ir:
            return RecordedBatches([], None)
        plans_key = self.cache.plans_key(self.module_digest, options)
        text = self.cache.read_plans(plans_key)
        if not text:
            _pack_wanted(self, options)  # a first run: its recorded batches, at its end
            return RecordedBatches([], None)
        # The collector paused while a large log or pack head is decoded (CPython for
        # WASI: 1,300 batches' entries, all kept, which a collection would traverse for
        # nothing); a small module's costs less than pausing it.
        with cyclic_gc_paused() if len(text) >= GC_PAUSE_BYTES else nullcontext():
            digest = hashlib.sha256(text).hexdigest()
            pack = None
            payload = self.cache.load_pack(self.cache.pack_key(self.module_digest, options))
            if payload is not None:
                try:
                    pack = decode_pack(payload)
                except PackFormatError:
                    self.cache.stats.corrupt += 1
                else:
                    if pack.plans_digest != digest:
                        pack = None  # stale: more batches were recorded since
            if pack is not None:
                return RecordedBatches(pack.recorded, pack, pack.data_plan)
            _pack_wanted(self, options)
            plans = self._plans.get(options)
            if plans is None:
                plans = self._plans[options] = self.cache.parse_plans(plans_key, text)
            return RecordedBatches(_recorded_from(plans), None)

    def batch_key(self, indices: Sequence[int], options: CompileOptions, tier: int,
                  separate: bool = True, with_shims: bool = False) -> str:
        """The cache key of this module's batch ``indices`` compiled at ``tier`` (by
        default as lazy batches are: ``separate``, without shims)."""
        return self.cache.batch_key(self.module_digest, indices, separate, with_shims,
                                    options, f"tier{tier}")

    def load_recorded(self, indices: Sequence[int], options: CompileOptions,
                      tier: int) -> BatchObject | None:
        """The cached object of a lazy batch (``separate``, no shims) at ``tier``, or
        None when the cache does not have it (never compiles)."""
        batch = self.cache.load(self.batch_key(indices, options, tier))
        if batch is None or batch.indices != tuple(indices) or batch.tier != tier:
            return None
        return batch

    def load_chunk(self, pack: Pack, chunk: int) -> PackedChunk | None:
        """Chunk ``chunk`` of ``pack`` (each of its batches a hit), or None when it is
        damaged or does not hold the batches recorded at its positions (the caller then
        reads each batch's own cache entry)."""
        try:
            packed = pack.chunk(chunk)
        except PackFormatError:
            self.cache.stats.corrupt += 1
            return None
        if packed.linked is not None:  # its batches' entries are the pack's recorded ones
            self.cache.stats.hits += len(packed.positions)
            return packed
        for position, item in zip(packed.positions, packed.batches, strict=True):
            indices, tier = pack.recorded[position]
            if item.batch.indices != tuple(indices) or item.batch.tier != tier:
                return None
        self.cache.stats.hits += len(packed.batches)
        return packed

    def expect_plans(self, options: CompileOptions) -> None:
        """This run may still record batches (a tier-up was queued): wait for queued
        tier-ups at exit and write the pack then if the plans changed, also on a warm
        start whose pack was current (``_write_packs_at_exit``)."""
        if not options.keep_ir:
            _pack_wanted(self, options)

    def note_entry_signature(self, type_index: int, params: Sequence[int],
                             results: Sequence[int]) -> None:
        """Note that this run entered a function of type ``type_index`` (``params ->
        results``) from Python: the module's next pack places the entry shim of that
        signature beside its code (``batch_pack.encode_pack``)."""
        with _packs_lock:
            _entry_signatures.setdefault((str(self.cache.root), self.module_digest), {})[
                type_index] = (tuple(params), tuple(results))

    def note_data_plan(self, body: bytes) -> None:
        """Note the module's data-plan record body (``module_record.py``), small enough
        to travel in its packs: a warm start then reads it with the pack."""
        with _packs_lock:
            _data_plans[(str(self.cache.root), self.module_digest)] = body

    def record_plan(self, indices: Sequence[int], options: CompileOptions,
                    tier: int) -> None:
        """Note that a first call of ``indices[0]`` compiled ``indices`` at ``tier``."""
        if options.keep_ir:
            return
        plans = self._plans_for(options)
        name = f"tier{tier}"
        if plans.get((name, indices[0])) == tuple(indices):
            return
        plans[(name, indices[0])] = tuple(indices)
        self.cache.append_plan(self.cache.plans_key(self.module_digest, options), name,
                               indices)
        _pack_wanted(self, options)  # the pack (if any) is stale now


GC_PAUSE_BYTES = 4096
"""A plan log of at least this many bytes (~100 recorded batches) is read, and its pack
decoded, with the cyclic collector paused."""


@dataclass(eq=False)
class RecordedBatches:
    """A warm start's recorded batches (wasm indices, tier) in order, and the pack that
    holds them (None: read each from its entry)."""

    batches: list[tuple[list[int], int]]
    pack: Pack | None
    data_plan: bytes | None = None  # the module's small data plan, from the pack


def _recorded_from(plans: Mapping[tuple[str, int], tuple[int, ...]]
                   ) -> list[tuple[list[int], int]]:
    """The batches of ``plans`` a warm start loads, in their order (see
    :meth:`ModuleCacheView.recorded_batches`)."""
    batches = []
    for (name, root), indices in plans.items():
        tier = TIER1 if name == f"tier{TIER1}" else TIER0
        if tier == TIER0:
            # A tier-1 batch takes only the callees that had run by its tier-up, so the
            # tier-0 batch stays when it holds functions the tier-1 one lacks (else a
            # warm start compiles them: Graphviz's first warm run did, loading LLVM).
            upper = plans.get((f"tier{TIER1}", root))
            if upper is not None and set(indices) <= set(upper):
                continue
        batches.append((list(indices), tier))
    return batches


# Packs written at the end of the run, by (cache directory, module, options).
_packs_due: dict[tuple[str, str, CompileOptions], tuple[CodeCache, str]] = {}
_packs_lock = threading.Lock()
_at_exit_registered = False
# The signatures this process entered each module's functions through from Python, by
# (cache directory, module): type index -> (params, results).
_entry_signatures: dict[tuple[str, str], dict[int, tuple[tuple[int, ...], tuple[int, ...]]]] = {}
# The small data plans (record bodies) of modules this process planned, likewise.
_data_plans: dict[tuple[str, str], bytes] = {}


def _pack_wanted(view: ModuleCacheView, options: CompileOptions) -> None:
    """Have :func:`write_packs` (at the latest when the interpreter exits) make the pack
    of ``view``'s module under ``options``."""
    global _at_exit_registered
    key = (str(view.cache.root), view.module_digest, options)
    with _packs_lock:
        if key in _packs_due:
            return
        _packs_due[key] = (view.cache, view.module_digest)
        if not _at_exit_registered:
            atexit.register(_write_packs_at_exit)
            _at_exit_registered = True


def _forget_packs_in_child() -> None:
    """After ``os.fork()``, in the child: the packs are the parent's to write (and a
    lock another thread held at the fork stays held here)."""
    global _packs_lock
    _packs_lock = threading.Lock()
    _packs_due.clear()
    _entry_signatures.clear()
    _data_plans.clear()


os.register_at_fork(after_in_child=_forget_packs_in_child)


EXIT_TIER_UP_WAIT = 0.5
"""Seconds a run that keeps a code cache waits at exit for the tier-ups its background
thread has queued or is compiling, before its packs are written: tier-1 code compiled
in one run is then found by the next (a small module's first warm call otherwise tiers
up again, loading LLVM beside it), and the pack holds it.  What is left after this goes
(``tiering.py`` stops the thread).  ``PYJITWASM_EXIT_TIER_UP_WAIT`` overrides it."""


def _write_packs_at_exit() -> None:
    try:
        wait = float(os.environ.get("PYJITWASM_EXIT_TIER_UP_WAIT", EXIT_TIER_UP_WAIT))
    except ValueError:
        wait = EXIT_TIER_UP_WAIT
    compiler = background_compiler()
    compiler.drop_for_exit()  # OSR entries: no frame will run them now
    compiler.wait_idle(max(wait, 0.0))
    write_packs()


def write_packs() -> int:
    """Write the packs this process asked for (:meth:`ModuleCacheView.recorded`,
    :meth:`ModuleCacheView.record_plan`); how many were written.  Runs at interpreter
    exit; tests call it to end a run."""
    with _packs_lock:
        due = list(_packs_due.items())
        _packs_due.clear()
    written = 0
    for (_, _, options), (cache, module_digest) in due:
        try:
            written += write_pack(cache, module_digest, options)
        except Exception:  # noqa: BLE001, S112 - a pack only saves time; go without
            continue
    return written


def write_pack(cache: CodeCache, module_digest: str, options: CompileOptions) -> bool:
    """Make the pack of the module's recorded batches (``batch_pack.py``) from their
    entries, unless a pack of the current plan log exists already; False when not
    written (nothing recorded, an entry missing, the cache not writable)."""
    if not cache.writable or options.keep_ir:
        return False
    plans_key = cache.plans_key(module_digest, options)
    text = cache.read_plans(plans_key)
    if not text:
        return False
    digest = hashlib.sha256(text).hexdigest()
    pack_key = cache.pack_key(module_digest, options)
    existing = cache.load_pack(pack_key)
    if existing is not None:
        try:
            if decode_pack(existing).plans_digest == digest:
                return False
        except PackFormatError:
            pass
    view = ModuleCacheView(cache, module_digest)
    batches = []
    for indices, tier in _recorded_from(cache.parse_plans(plans_key, text)):
        batch = cache.load(view.batch_key(indices, options, tier), count=False)
        if batch is None or batch.indices != tuple(indices) or batch.tier != tier:
            return False
        batches.append(batch)
    with _packs_lock:
        signatures = sorted(_entry_signatures.get((str(cache.root), module_digest), {}).items())
        data_plan = _data_plans.get((str(cache.root), module_digest))
    entry_shims = []
    for type_index, (params, results) in signatures:
        code = entry_shim_machine_code(params, results)
        if code is not None:
            entry_shims.append((type_index, code))
    return cache.store_pack(pack_key, encode_pack(digest, batches, entry_shims=entry_shims,
                                                  data_plan=data_plan))


def compile_batch_cached(module: WasmModule, indices: Sequence[int], options: CompileOptions,
                         symbols: Mapping[str, int], info: ModuleInfo, separate: bool,
                         with_shims: bool, cache: ModuleCacheView | None,
                         tier: int = TIER1) -> CompiledModule:
    """``compile_batch(module, indices, ...)``, through ``cache`` when there is one.
    ``tier``: the tier the batch is compiled for, part of the key (see ``code_cache``)."""
    if cache is None or options.keep_ir:
        return compile_batch(module, indices, options, symbols, info, separate, with_shims,
                             tier)
    key = cache.batch_key(indices, options, tier, separate, with_shims)
    batch = cache.cache.load(key)
    if batch is not None and (batch.indices != tuple(indices) or batch.separate != separate
                              or batch.with_shims != with_shims or batch.tier != tier):
        batch = None  # a key collision cannot happen; a wrong entry still must not load
    if batch is None:
        batch, emitted = emit_batch(module, indices, options, info, separate, with_shims, tier)
        cache.cache.store(key, batch)
        return load_batch(module, info.layout, batch, options, symbols, emitted.timings)
    compiled = load_batch(module, info.layout, batch, options, symbols)
    compiled.from_cache = True
    return compiled


__all__ = ["ModuleCacheView", "RecordedBatches", "compile_batch_cached", "write_pack",
           "write_packs"]
