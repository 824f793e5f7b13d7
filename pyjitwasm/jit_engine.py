"""The "jit" strategy of an Engine: compile modules to machine code and run them natively.

A Module gets its code slots on its first instantiation (``runtime/jit/module_code.py``),
linked against the runtime's symbols (``libcalls.symbol_addresses``): each function is
compiled on its first call (or all at once, with ``CompileOptions(lazy=False)``: a large
module then in chunks on every CPU, ``runtime/jit/precompile.py``); the machine code is
released when the Module and every instance using it are gone (instances live as long as
their store).  With ``Config.cache`` compiled batches are looked up in and kept in the
code cache (``runtime/jit/code_cache.py``); a deserialized module brings its batches.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pyjitwasm.artifact import CorruptArtifactError
from pyjitwasm.backend import Converter, PreparedModule
from pyjitwasm.config import Config
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.images import DataPlan, MemoryImage
from pyjitwasm.runtime.instance import Extern, FuncInstance
from pyjitwasm.runtime.jit.batch_codec import BatchFormatError, decode_batch, encode_batch
from pyjitwasm.runtime.jit.cached_compile import ModuleCacheView
from pyjitwasm.runtime.jit.call import invoke
from pyjitwasm.runtime.jit.callers import api_caller_for
from pyjitwasm.runtime.jit.code_cache import CodeCache, open_code_cache
from pyjitwasm.runtime.jit.compile_module import BatchObject, CompileOptions
from pyjitwasm.runtime.jit.compile_worker import worker_wanted
from pyjitwasm.runtime.jit.fingerprint import compiler_fingerprint
from pyjitwasm.runtime.jit.globals import JitGlobal
from pyjitwasm.runtime.jit.instance import ALLOCATOR, JitAllocator, instantiate
from pyjitwasm.runtime.jit.memory import JitMemory
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.jit.module_record import PendingDataPlan, module_data_plan
from pyjitwasm.runtime.jit.object_cache import use_object_cache
from pyjitwasm.runtime.jit.pool import PooledJitAllocator
from pyjitwasm.runtime.jit.precompile import Progress, precompile_module, worth_workers
from pyjitwasm.runtime.jit.store import JitStoreContext, native_epoch_counter
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.jit.vmctx import JitModuleInstance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.native import install_sigint_handler, prepare_thread
from pyjitwasm.runtime.pooling import InstancePool
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.wasm.features import Features
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import GlobalType, MemoryType, TableType
from pyjitwasm.wasm.validator import EarlyBodyChecks, validate_module


def _jit_context(context: StoreContext) -> JitStoreContext:
    if not isinstance(context, JitStoreContext):
        raise TypeError("this object belongs to a store of another engine")
    return context


class JitModule:
    """A module prepared for the JIT: its compiled code, made on first use."""

    __slots__ = ("module", "options", "cache", "precompiled", "wasm", "features", "_compiled",
                 "_lock", "allocator", "images", "data_plan", "_pending_data",
                 "parallel_compilation")

    def __init__(self, module: WasmModule, options: CompileOptions,
                 cache: ModuleCacheView | None = None,
                 precompiled: Sequence[BatchObject] = (), wasm: bytes | None = None,
                 features: Features | None = None,
                 allocator: JitAllocator = ALLOCATOR,
                 parallel_compilation: bool | None = None) -> None:
        self.module = module
        self.options = options
        self.cache = cache
        # For compiling in worker processes (they decode the binary): eagerly, or lazy
        # compiles ahead and tier-ups (``compile_worker.py``); False: never.
        self.wasm = wasm
        self.features = features
        self.parallel_compilation = parallel_compilation
        # Loaded (and then dropped) by the first instantiation.
        self.precompiled = list(precompiled)
        self._compiled: ModuleCode | None = None
        self._lock = threading.Lock()
        # Instance allocation: on-demand or pooled, and the memory images (images.py),
        # built on the first instantiation (Module() stays as fast as before).
        self.allocator = allocator
        self.images: tuple[MemoryImage, ...] | None = None
        self.data_plan: DataPlan | None = None  # the images and the segments kept
        # A warm start reads the data plan meanwhile (module_record.PendingDataPlan).
        self._pending_data = PendingDataPlan.start_if_warm(module, cache)

    def compiled(self) -> ModuleCode:
        """The module's code slots (compiling everything the first time unless the
        options say lazy: then each function compiles on its first call)."""
        if self._compiled is None:
            with self._lock:
                if self._compiled is None:
                    precompiled = self.precompiled or self._eager_in_workers()
                    self._compiled = ModuleCode(self.module, self.options,
                                                symbol_addresses(), self.cache, precompiled,
                                                self._worker_source())
                    self.precompiled = []
        return self._compiled

    @property
    def compiled_code(self) -> ModuleCode | None:
        """The module's code slots if an instantiation made them already, else None
        (what the pooling allocator's store reuse asks)."""
        return self._compiled

    def _worker_source(self) -> tuple[bytes, Features] | None:
        """What a compile worker for lazy compilation needs, when one is wanted."""
        if self.wasm is None or self.features is None or not self.options.tiered \
                or not worker_wanted(self.module, self.parallel_compilation):
            return None
        return self.wasm, self.features

    def _eager_in_workers(self) -> list[BatchObject]:
        """Eager compilation of a large module: chunks compiled on every CPU
        (``runtime/jit/precompile.py``); a small one is one batch in this process."""
        if self.options.lazy or self.wasm is None or self.features is None \
                or self.parallel_compilation is False or not worth_workers(self.module):
            return []
        return precompile_module(self.module, self.wasm, self.options, self.features,
                                 self.cache)

    def instantiate(self, imports: Sequence[Extern],
                    context: StoreContext) -> JitModuleInstance:
        code = self.compiled()
        data = self.data_plan
        if data is None:
            # From the code cache's record when it has one (module_record.py).
            pending = self._pending_data
            data = pending.result() if pending is not None else \
                module_data_plan(self.module, self.cache, code.take_warm_data_plan())
            self.data_plan, self.images, self._pending_data = data, data.images, None
        return instantiate(code, imports, context, invoke, self.allocator, data.images, data)


class JitBackend:
    """Everything an Engine delegates to when its strategy is "jit"."""

    def __init__(self, config: Config) -> None:
        self.config = config
        options = CompileOptions(heap_style=config.memory_style,
                                 opt_level=config.compile_opt_level, verify=config.verify_ir,
                                 relaxed_simd_deterministic=config.relaxed_simd_deterministic)
        if config.lazy_compilation is not None:
            options = replace(options, lazy=config.lazy_compilation)
        if config.tiered_compilation is not None:
            options = replace(options, tiers=config.tiered_compilation)
        if config.direct_tier0 is not None:
            options = replace(options, tier0_direct=config.direct_tier0)
        if config.tier0_x64 is not None:
            options = replace(options, tier0_x64=config.tier0_x64)
        options = replace(options, epoch_interruption=config.epoch_interruption,
                          consume_fuel=config.consume_fuel)
        self.options = options
        self._fingerprint: dict[str, str] | None = None
        self.code_cache: CodeCache | None = None
        self._last_view: tuple[bytes, ModuleCacheView] | None = None
        if config.cache_directory is not None:
            self.code_cache = open_code_cache(config.cache_directory, self.code_fingerprint(),
                                              config.cache_size_limit)
            if self.code_cache is not None:
                use_object_cache(self.code_cache)
                self.code_cache.options_digest(options)
        # Instance allocation: pooled when the config says so (runtime/jit/pool.py).
        pooling = config.pooling
        self.allocator: JitAllocator = ALLOCATOR if pooling is None else \
            PooledJitAllocator(InstancePool(pooling), static=config.memory_style == "static")
        self.epoch = native_epoch_counter()
        # Ctrl-C stops running compiled code (runtime/native/native.c), when Python's
        # default SIGINT handler is in place and this is the main thread.
        install_sigint_handler()
        # The first call from this thread need not wait for its set-up.
        prepare_thread()

    def new_context(self) -> JitStoreContext:
        c = self.config
        return JitStoreContext(c.max_call_depth, c.max_host_nesting, c.max_wasm_stack,
                               c.memory_style, c.dynamic_memory_reserve, self.epoch,
                               c.consume_fuel, c.epoch_interruption)

    def may_know_valid(self) -> bool:
        return self.code_cache is not None

    def known_valid(self, wasm: bytes, digest: str | None = None) -> bool:
        view = self._cache_view(wasm, digest)
        return view is not None and view.cache.has_note(
            view.cache.validated_key(view.module_digest))

    def validate(self, module: WasmModule, wasm: bytes,
                 early: EarlyBodyChecks | None = None) -> None:
        validate_module(module, early)
        view = self._cache_view(wasm)
        if view is not None:
            view.cache.store_note(view.cache.validated_key(view.module_digest))

    def prepare(self, module: WasmModule, wasm: bytes | None = None) -> JitModule:
        return JitModule(module, self.options, self._cache_view(wasm), wasm=wasm,
                         features=self.config.features, allocator=self.allocator,
                         parallel_compilation=self.config.hints.get("parallel_compilation"))

    def _cache_view(self, wasm: bytes | None,
                    digest: str | None = None) -> ModuleCacheView | None:
        if self.code_cache is None or wasm is None:
            return None
        # Module() asks twice in a row (validate, prepare): hash the bytes once.
        last = self._last_view
        if last is not None and last[0] is wasm:
            return last[1]
        view = ModuleCacheView.of(self.code_cache, wasm) if digest is None else \
            ModuleCacheView(self.code_cache, digest)
        self._last_view = (wasm, view)
        return view

    # Serialized modules --------------------------------------------------------------

    def code_fingerprint(self) -> dict[str, str]:
        if self._fingerprint is None:
            import pyjitwasm

            self._fingerprint = {"engine": "jit", **compiler_fingerprint(
                self.options, pyjitwasm.__version__,
                {"features": repr(self.config.features)},
                memo_directory=None if self.config.cache_directory is None
                else Path(self.config.cache_directory))}
        return dict(self._fingerprint)

    def serialize_code(self, prepared: PreparedModule, wasm: bytes,
                       jobs: int | None = None, progress: Progress | None = None) -> list[bytes]:
        """Every function compiled ahead of time, in chunks, on every core
        (``runtime/jit/precompile.py``); ``jobs`` and ``progress`` as there."""
        assert isinstance(prepared, JitModule)
        batches = precompile_module(prepared.module, wasm, self.options, self.config.features,
                                    self._cache_view(wasm), jobs, progress)
        return [encode_batch(batch) for batch in batches]

    def prepare_serialized(self, module: WasmModule, wasm: bytes,
                           code: list[bytes]) -> JitModule:
        try:
            batches = [decode_batch(blob) for blob in code]
        except BatchFormatError as exc:
            raise CorruptArtifactError(f"serialized module: {exc}") from None
        return JitModule(module, self.options, self._cache_view(wasm), batches,
                         allocator=self.allocator)

    def invoke(self, func: FuncInstance, args: list[Any]) -> list[Any]:
        return invoke(func, args)

    def api_caller(self, func: FuncInstance, store: object, to_raw: Converter,
                   to_python: Converter) -> Callable[..., Any] | None:
        if func.host is not None:
            return None
        return api_caller_for(func, store, to_raw, to_python)

    def new_memory(self, mtype: MemoryType, context: StoreContext) -> MemoryInstance:
        ctx = _jit_context(context)
        return JitMemory(mtype, ctx, static=ctx.heap_style == "static",
                         reserve_bytes=ctx.dynamic_reserve)

    def new_table(self, ttype: TableType, context: StoreContext, init: Any) -> TableInstance:
        return JitTable(ttype, _jit_context(context), init)

    def new_global(self, gtype: GlobalType, value: Any, context: StoreContext) -> GlobalInstance:
        return JitGlobal(gtype, value, _jit_context(context))
