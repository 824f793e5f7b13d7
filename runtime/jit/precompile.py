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
one LLVM call with the front end (measured in docs/jit-design.md).  Workers are fresh
interpreters (``precompile_worker.py``; not a fork, which is unsafe in a process running
LLVM and other threads, and not ``multiprocessing``, whose ``spawn`` re-runs the
caller's main script); each decodes the module once, takes one chunk at a time and
sends back encoded objects.  Small modules are compiled in this process: starting a
worker costs more than they take.
"""

from __future__ import annotations

import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING

from pyjitwasm.runtime.jit.batch_codec import decode_batch
from pyjitwasm.runtime.jit.cached_compile import ModuleCacheView
from pyjitwasm.runtime.jit.compile_module import (
    TIER1,
    BatchObject,
    CompileOptions,
    emit_batch,
    tier0_only,
)
from pyjitwasm.runtime.jit.precompile_worker import READY, read_frame, write_frame
from pyjitwasm.wasm.features import Features
from pyjitwasm.wasm.module import WasmModule

if TYPE_CHECKING:
    import subprocess

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
        cost = body.instr_count
        if current and size + cost > budget:
            chunks.append(tuple(current))
            current, size = [], 0
        current.append(first + k)
        size += cost
    if current:
        chunks.append(tuple(current))
    return chunks


def worth_workers(module: WasmModule, jobs: int | None = None) -> bool:
    """Whether compiling all of ``module`` in worker processes beats one batch here:
    several CPUs and at least ``PARALLEL_MIN_INSTRUCTIONS`` instructions."""
    jobs = default_jobs() if jobs is None else jobs
    return jobs > 1 and sum(body.instr_count for body in module.codes) >= \
        PARALLEL_MIN_INSTRUCTIONS


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
    # The entry shims go with one chunk compiled by LLVM (a giant function's chunk is
    # ``x64/``'s, which writes no shims; without any, entries make them on first use).
    shims_chunk = next((i for i, indices in enumerate(chunks)
                        if not tier0_only(module, indices)), None)
    total = len(module.codes)
    done = 0
    results: dict[int, BatchObject] = {}
    keys: dict[int, str] = {}
    todo: list[int] = []
    for i, indices in enumerate(chunks):
        if cache is not None:
            keys[i] = cache.cache.batch_key(cache.module_digest, indices, True,
                                            i == shims_chunk,
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
    work = sum(module.codes[j - module.num_imported_funcs].instr_count
               for i in todo for j in chunks[i])
    if jobs == 1 or len(todo) < 2 or work < PARALLEL_MIN_INSTRUCTIONS:
        info = options.module_info(module)
        for i in todo:
            finished(i, emit_batch(module, chunks[i], options, info, True,
                                   i == shims_chunk)[0])
    else:
        _compile_in_workers(wasm, options, features, chunks, todo, min(jobs, len(todo)),
                            finished, shims_chunk)
    return [results[i] for i in range(len(chunks))]


def _compile_in_workers(wasm: bytes, options: CompileOptions, features: Features,
                        chunks: Sequence[tuple[int, ...]], todo: Sequence[int], jobs: int,
                        finished: Callable[[int, BatchObject], None],
                        shims_chunk: int | None) -> None:
    """Compile chunks ``todo`` in ``jobs`` worker processes, handing each worker the
    next chunk when it is done with one (so a slower worker takes fewer); chunk
    ``shims_chunk`` with the entry shims."""
    import subprocess  # here, as in start_worker

    queue = list(reversed(todo))
    lock = threading.Lock()
    errors: list[BaseException] = []
    setup = pickle.dumps((wasm, options, features))

    def drive(worker: subprocess.Popen[bytes]) -> None:
        assert worker.stdin is not None and worker.stdout is not None
        try:
            write_frame(worker.stdin, setup)
            wait_ready(worker.stdout)
            while True:
                with lock:
                    if not queue or errors:
                        break
                    i = queue.pop()
                write_frame(worker.stdin, pickle.dumps((chunks[i], i == shims_chunk, TIER1)))
                batch, _ = read_reply(worker.stdout)
                with lock:
                    finished(i, batch)
            write_frame(worker.stdin, b"")
        except BaseException as exc:  # noqa: B036 - handed to the calling thread
            with lock:
                errors.append(exc)

    workers = [start_worker() for _ in range(jobs)]
    try:
        threads = [threading.Thread(target=drive, args=(w,), daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for worker in workers:
            for stream in (worker.stdin, worker.stdout):
                if stream is not None:
                    stream.close()
            try:
                worker.wait(timeout=5)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()
    if errors:
        raise errors[0]


class CompileWorkerError(RuntimeError):
    """A worker process could not compile a batch; the message has its traceback."""


def wait_ready(stream: IO[bytes]) -> None:
    """Wait for a new worker's ``READY``; EOFError when it died first."""
    if stream.read(len(READY)) != READY:
        raise EOFError("compile worker did not start")


def read_reply(stream: IO[bytes]) -> tuple[BatchObject, tuple[float, float]]:
    """A worker's answer to one batch: the batch and its (front end, LLVM) seconds.
    CompileWorkerError when the worker failed to compile it, EOFError when the worker
    is gone."""
    status = stream.read(1)
    if not status:
        raise EOFError("worker pipe closed")
    reply = read_frame(stream)
    if status != b"\0":
        raise CompileWorkerError(f"compile worker failed:\n{reply.decode()}")
    front_end, llvm = pickle.loads(read_frame(stream))
    return decode_batch(reply), (front_end, llvm)


def start_worker() -> subprocess.Popen[bytes]:
    """A new compile worker process (``precompile_worker.py``), its pipes open."""
    # Imported here: a process that never starts a worker does not pay for it.
    import subprocess

    # The worker must import this very pyjitwasm, wherever it was imported from.
    package_parent = str(Path(__file__).resolve().parents[3])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_parent,
                                                      env.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, "-P", "-m", "pyjitwasm.runtime.jit.precompile_worker"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)


__all__ = ["CHUNK_INSTRUCTIONS", "PARALLEL_MIN_INSTRUCTIONS", "CompileWorkerError", "Progress",
           "chunk_functions", "default_jobs", "precompile_module", "read_reply", "start_worker",
           "wait_ready", "worth_workers"]
