"""Compiling a whole module ahead of time, on every core: what ``Module.serialize`` and
``pyjitwasm compile`` use.

The defined functions are cut into chunks of consecutive functions (about
``CHUNK_INSTRUCTIONS`` wasm instructions each; a larger function is a chunk of its own).
Each chunk is one *separate* batch, exactly as lazy compilation makes them: calls
within a chunk are direct, calls out of it go through the code slots; the first chunk
also carries an entry shim for each of the module's types, so a loaded module calls its
exports without compiling anything.  Chunks are deterministic (they depend only on the
module), so they are code-cache entries too: compiling a module again, or serializing it
after a run that compiled it, reads the cache.

Parallelism uses processes, not threads: llvmlite releases the GIL in LLVM calls but
serializes them behind one lock and the translator is Python, so threads overlap at best
one LLVM call with the front end (measured in docs/jit-design.md).  Worker processes are
started with ``spawn`` (a fork of a process that has LLVM and other threads running is
not safe); each decodes the module once and sends back encoded objects.  Small modules
are compiled in this process: starting a worker costs more than they take.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from pyjitwasm.runtime.jit.batch_codec import decode_batch, encode_batch
from pyjitwasm.runtime.jit.cached_compile import ModuleCacheView
from pyjitwasm.runtime.jit.compile_module import BatchObject, CompileOptions, emit_batch
from pyjitwasm.translate.translator import ModuleInfo
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.features import Features
from pyjitwasm.wasm.module import WasmModule

CHUNK_INSTRUCTIONS = 20_000
"""Wasm instructions per chunk: large enough that LLVM's fixed cost per object (~0.5 ms)
and a worker round trip vanish, small enough for a progress bar and an even split."""
PARALLEL_MIN_INSTRUCTIONS = 60_000
"""Below this many instructions a module is compiled in this process (a worker process
costs ~0.5 s to start: importing pyjitwasm and LLVM)."""

Progress = Callable[[int, int], None]
"""``progress(functions_done, functions_total)``, called as chunks complete."""


def chunk_functions(module: WasmModule, budget: int | None = None) -> list[tuple[int, ...]]:
    """The module's defined functions (wasm indices) cut into runs of consecutive
    functions of about ``budget`` (default ``CHUNK_INSTRUCTIONS``) instructions each."""
    budget = budget or CHUNK_INSTRUCTIONS
    first = module.num_imported_funcs
    chunks: list[tuple[int, ...]] = []
    current: list[int] = []
    size = 0
    for k, body in enumerate(module.codes):
        cost = len(body.instrs)
        if current and size + cost > budget:
            chunks.append(tuple(current))
            current, size = [], 0
        current.append(first + k)
        size += cost
    if current:
        chunks.append(tuple(current))
    return chunks


def default_jobs() -> int:
    """Worker processes to use: the CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def precompile_module(module: WasmModule, wasm: bytes, options: CompileOptions,
                      features: Features, cache: ModuleCacheView | None = None,
                      jobs: int | None = None,
                      progress: Progress | None = None) -> list[BatchObject]:
    """Every defined function of ``module`` (decoded from ``wasm`` and validated),
    compiled to objects in chunks, ``jobs`` processes at a time (default: every CPU;
    1: in this process).  Chunks found in ``cache`` are not compiled, and compiled
    ones are stored there."""
    chunks = chunk_functions(module)
    total = len(module.codes)
    done = 0
    results: dict[int, BatchObject] = {}
    keys: dict[int, str] = {}
    todo: list[int] = []
    for i, indices in enumerate(chunks):
        if cache is not None:
            keys[i] = cache.cache.batch_key(cache.module_digest, indices, True, i == 0,
                                            options)
            found = cache.cache.load(keys[i])
            if found is not None and found.indices == indices:
                results[i] = found
                done += len(indices)
                continue
        todo.append(i)
    if progress is not None:
        progress(done, total)

    def finished(i: int, batch: BatchObject) -> None:
        nonlocal done
        results[i] = batch
        if cache is not None:
            cache.cache.store(keys[i], batch)
        done += len(chunks[i])
        if progress is not None:
            progress(done, total)

    jobs = default_jobs() if jobs is None else max(1, jobs)
    work = sum(len(module.codes[j - module.num_imported_funcs].instrs)
               for i in todo for j in chunks[i])
    if jobs == 1 or len(todo) < 2 or work < PARALLEL_MIN_INSTRUCTIONS:
        info = ModuleInfo(module, options.heap_config())
        for i in todo:
            finished(i, emit_batch(module, chunks[i], options, info, True, i == 0)[0])
    else:
        _compile_in_workers(wasm, options, features, chunks, todo, min(jobs, len(todo)),
                            finished)
    return [results[i] for i in range(len(chunks))]


def _compile_in_workers(wasm: bytes, options: CompileOptions, features: Features,
                        chunks: Sequence[tuple[int, ...]], todo: Sequence[int], jobs: int,
                        finished: Callable[[int, BatchObject], None]) -> None:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_start,
                             initargs=(wasm, options, features)) as pool:
        pending: dict[Future[bytes], int] = {
            pool.submit(_worker_compile, chunks[i], i == 0): i for i in todo}
        while pending:
            complete, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in complete:
                finished(pending.pop(future), decode_batch(future.result()))


# In a worker process: the module, decoded once.
_worker_state: tuple[WasmModule, CompileOptions, ModuleInfo] | None = None


def _worker_start(wasm: bytes, options: CompileOptions, features: Features) -> None:
    global _worker_state
    # Validated by the parent; the worker only decodes.
    module = decode_module(wasm, features=features)
    _worker_state = (module, options, ModuleInfo(module, options.heap_config()))


def _worker_compile(indices: tuple[int, ...], with_shims: bool) -> bytes:
    assert _worker_state is not None, "worker not initialized"
    module, options, info = _worker_state
    batch, _ = emit_batch(module, indices, options, info, True, with_shims)
    return encode_batch(batch)


__all__ = ["CHUNK_INSTRUCTIONS", "PARALLEL_MIN_INSTRUCTIONS", "Progress", "chunk_functions",
           "default_jobs", "precompile_module"]
