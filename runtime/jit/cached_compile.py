"""Compiling a batch through the code cache: load it if an earlier run compiled it,
else compile it and keep the object for the next run (``code_cache.py``).

``ModuleCode`` calls :func:`compile_batch_cached` for every batch it compiles; with no
cache it is :func:`compile_module.compile_batch`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pyjitwasm.runtime.jit.code_cache import CodeCache
from pyjitwasm.runtime.jit.compile_module import (
    TIER1,
    CompiledModule,
    CompileOptions,
    compile_batch,
    emit_batch,
    load_batch,
)
from pyjitwasm.translate.translator import ModuleInfo
from pyjitwasm.wasm.module import WasmModule


@dataclass(frozen=True)
class ModuleCacheView:
    """A code cache as one module sees it: the cache and the module's SHA-256."""

    cache: CodeCache
    module_digest: str

    @classmethod
    def of(cls, cache: CodeCache, wasm: bytes) -> ModuleCacheView:
        """The view of the module whose binary is ``wasm``."""
        return cls(cache, hashlib.sha256(wasm).hexdigest())

    def planned_batch(self, func_index: int, options: CompileOptions,
                      tier: int) -> list[int] | None:
        """The functions of the batch that an earlier run compiled at ``tier`` when
        ``func_index`` was first called (None: none recorded)."""
        if options.keep_ir:
            return None
        plan = self.cache.load_plan(self.cache.plan_key(self.module_digest, func_index,
                                                        options, f"tier{tier}"))
        if plan is None or not plan or plan[0] != func_index:
            return None
        return list(plan)

    def record_plan(self, indices: Sequence[int], options: CompileOptions,
                    tier: int) -> None:
        """Note that a first call of ``indices[0]`` compiled ``indices`` at ``tier``."""
        self.cache.store_plan(self.cache.plan_key(self.module_digest, indices[0], options,
                                                  f"tier{tier}"), indices)


def compile_batch_cached(module: WasmModule, indices: Sequence[int], options: CompileOptions,
                         symbols: Mapping[str, int], info: ModuleInfo, separate: bool,
                         with_shims: bool, cache: ModuleCacheView | None,
                         tier: int = TIER1) -> CompiledModule:
    """``compile_batch(module, indices, ...)``, through ``cache`` when there is one.
    ``tier``: the tier the batch is compiled for, part of the key (see ``code_cache``)."""
    if cache is None or options.keep_ir:
        return compile_batch(module, indices, options, symbols, info, separate, with_shims,
                             tier)
    key = cache.cache.batch_key(cache.module_digest, indices, separate, with_shims, options,
                                f"tier{tier}")
    batch = cache.cache.load(key)
    if batch is not None and (batch.indices != tuple(indices) or batch.separate != separate
                              or batch.with_shims != with_shims or batch.tier != tier):
        batch = None  # a key collision cannot happen; a wrong entry still must not load
    if batch is None:
        batch, emitted = emit_batch(module, indices, options, info, separate, with_shims, tier)
        cache.cache.store(key, batch)
        return load_batch(module, info.layout, batch, options, symbols, emitted.timings)
    return load_batch(module, info.layout, batch, options, symbols)


__all__ = ["ModuleCacheView", "compile_batch_cached"]
