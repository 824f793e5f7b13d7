"""Compiling a batch through the code cache: load it if an earlier run compiled it,
else compile it and keep the object for the next run (``code_cache.py``).

``ModuleCode`` calls :func:`compile_batch_cached` for every batch it compiles; with no
cache it is :func:`compile_module.compile_batch`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

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
from pyjitwasm.translate.translator import ModuleInfo
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
        instead of its tier-0 one."""
        if options.keep_ir:
            return []
        plans = self._plans_for(options)
        batches = []
        for (name, root), indices in plans.items():
            tier = TIER1 if name == f"tier{TIER1}" else TIER0
            if tier == TIER0 and (f"tier{TIER1}", root) in plans:
                continue
            batches.append((list(indices), tier))
        return batches

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


__all__ = ["ModuleCacheView", "compile_batch_cached"]
