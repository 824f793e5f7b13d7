"""Compiling one module's functions in a worker process while the program runs.

A lazily compiled program spends its start-up compiling: the thread running wasm code
stops at each function's first call until its batch is compiled, and hot functions are
recompiled at tier 1 meanwhile.  In this process those two take turns (llvmlite runs one
LLVM call at a time and the front end holds the GIL): with CPython for WASI, tier-ups
on a thread of this process made the run twice as long as no tier-ups at all.  A
:class:`CompileWorker` runs the same compiles (``compile_module.emit_batch``) in a worker
process (``precompile_worker.py``), on another core; this process only links the
objects it sends back (about 1 ms a batch) and points the code slots at them.

A worker serves one ``ModuleCode`` and takes three kinds of :class:`WorkerJob`:
on-stack-replacement entries (``osr.emit_osr_object``: a frame runs a hot loop in tier-0
code now and moves to tier 1 when its entry comes) before anything else, then functions
compiled *ahead* (direct callees of code that just ran, likely to be called next: what
the program would otherwise stop to compile), in the order they came, and
tier-ups (a function known to be hot) when no compile ahead waits, or when the oldest
tier-up has waited ``TIER_UP_PATIENCE`` (then it goes before OSR entries too).  OSR
entries go before compiles ahead: a thread that waits for one is in a loop rather than
reaching new code, and until it comes that loop runs at tier-0 speed, while a compile
ahead that comes late only means the program compiles that function itself, at x64's
tier 0 (milliseconds), if it calls it first.  The patience keeps tier-ups from starving:
CPython for WASI's start asked for 36 entries (4.2 s of the worker's time, 1-1.3 s each
for the interpreter loop's), which held back every tier-up while they were first.

A worker is sent one job at a time, so priorities hold and a job still queued can be
taken back: the thread running wasm code never waits behind a queue, only, at most, for
the batch already being compiled when that batch holds the function it needs
(:meth:`CompileWorker.wait_until_done`).

The worker process starts on the first job (decoding the module costs it about a second
for CPython for WASI, on the other core), and is killed when its ``ModuleCode`` goes or
at interpreter exit.  When it cannot start or dies, the worker is *broken*: queued jobs
fail (their ``finish`` gets the error), :meth:`CompileWorker.submit` refuses new ones,
and compilation goes on in this process as without a worker.

A worker process costs memory (the module and LLVM: about 100-200 MB for CPython for
WASI) and a second of CPU to start, which pays off only for large modules:
:func:`worker_wanted` decides (``PYJITWASM_COMPILE_WORKER`` and wasmtime-py's
``Config.parallel_compilation`` override it).
"""

from __future__ import annotations

import atexit
import os
import pickle
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pyjitwasm.runtime.jit.compile_module import BatchObject, CompileOptions
from pyjitwasm.runtime.jit.precompile import (
    CompileWorkerError,
    default_jobs,
    read_reply,
    start_worker,
    wait_ready,
)
from pyjitwasm.runtime.jit.precompile_worker import write_frame
from pyjitwasm.wasm.features import Features
from pyjitwasm.wasm.module import WasmModule

if TYPE_CHECKING:
    import subprocess

WORKER_MIN_CODE_BYTES = 256 << 10
"""A module whose code section is smaller than this compiles in this process only: its
lazy compiles are few and short, and a worker costs a second of CPU and ~100 MB."""

TIER_UP_PATIENCE = 0.5
"""Seconds a tier-up waits behind compiles ahead and OSR entries at most (then it goes
first): a program that keeps reaching new code, or asking for entries, still gets its
hot code optimized."""


def worker_wanted(module: WasmModule, parallel_compilation: bool | None = None) -> bool:
    """Whether lazy compilation of ``module`` should get a compile worker: a second CPU
    and a large enough module; ``PYJITWASM_COMPILE_WORKER`` (``0``: never, ``1``:
    always, for tests) and ``parallel_compilation=False`` decide first."""
    setting = os.environ.get("PYJITWASM_COMPILE_WORKER", "").strip().lower()
    if setting in ("0", "false", "no", "off") or parallel_compilation is False:
        return False
    if setting in ("1", "true", "yes", "on"):
        return True
    if 0 < module.size < WORKER_MIN_CODE_BYTES:
        return False  # (its code is smaller still: no need to add up every body)
    return default_jobs() > 1 and \
        sum(body.size for body in module.codes) >= WORKER_MIN_CODE_BYTES


@dataclass(eq=False)
class WorkerJob:
    """A batch for the worker.  ``prepare()`` runs on the worker's feeder thread just
    before the batch is sent and returns its wasm function indices (None or empty: no
    longer needed, skipped); ``finish(batch, timings, error)`` gets the compiled batch
    and its (front end, LLVM) seconds, or the error (the worker failed, or broke)."""

    ahead: bool  # a compile ahead (else a tier-up or an OSR entry)
    prepare: Callable[[], Sequence[int] | None]
    finish: Callable[[BatchObject | None, tuple[float, float], BaseException | None], None]
    tier: int
    key: int = -1
    """At most one job per key (>= 0) waits in the queue."""
    osr_loop: int | None = None
    """The loop offset of an OSR entry job (``prepare`` returns its one function)."""
    dropped: Callable[[], None] | None = None
    """Called instead of ``finish`` when the job is dropped by :meth:`CompileWorker.close`
    (interpreter exit, the module's code gone): nothing was compiled."""
    indices: tuple[int, ...] = ()  # what ``prepare`` chose
    queued_at: float = 0.0
    sent_at: float = 0.0


class CompileWorker:
    """A worker process compiling batches of one module, and the feeder thread that
    sends it one :class:`WorkerJob` at a time (see the module docstring)."""

    def __init__(self, wasm: bytes, options: CompileOptions, features: Features) -> None:
        self._setup = pickle.dumps((wasm, options, features))
        self._cond = threading.Condition()
        self._osr: deque[WorkerJob] = deque()
        self._ahead: deque[WorkerJob] = deque()
        self._tier_ups: deque[WorkerJob] = deque()
        self._keys: dict[int, WorkerJob] = {}
        self._busy: frozenset[int] = frozenset()  # wasm indices being compiled
        self._closed = False
        self.broken: BaseException | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        _live_workers.add(self)

    # What the owner uses ---------------------------------------------------------------

    def submit(self, job: WorkerJob) -> bool:
        """Queue ``job`` (one job per key: a key already queued is not queued again);
        False when the worker is broken or closed (compile in this process instead)."""
        with self._cond:
            if self._closed or self.broken is not None:
                return False
            if job.key >= 0:
                if job.key in self._keys:
                    return True
                self._keys[job.key] = job
            job.queued_at = time.perf_counter()
            queue = self._osr if job.osr_loop is not None else \
                self._ahead if job.ahead else self._tier_ups
            queue.append(job)
            if self._thread is None:
                self._thread = threading.Thread(target=self._feed, daemon=True,
                                                name="pyjitwasm-compile-worker")
                self._thread.start()
            self._cond.notify_all()
        return True

    def queued(self, key: int) -> bool:
        """Whether a job with ``key`` waits to be sent."""
        with self._cond:
            return key in self._keys

    def busy_with(self, index: int) -> bool:
        """Whether the batch being compiled holds wasm function ``index``."""
        return index in self._busy

    def wait_until_done(self, index: int) -> None:
        """Wait while the batch being compiled holds wasm function ``index``: when this
        returns, that batch's ``finish`` has run."""
        with self._cond:
            self._cond.wait_for(lambda: index not in self._busy)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or being compiled; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._queued() and not self._busy
                                       or self.broken is not None or self._closed, timeout)

    def close(self) -> None:
        """Drop queued jobs (their ``dropped`` runs) and stop the worker process (a
        batch under way is lost: its ``dropped`` runs too)."""
        with self._cond:
            self._closed = True
            jobs = [*self._osr, *self._ahead, *self._tier_ups]
            self._osr.clear()
            self._ahead.clear()
            self._tier_ups.clear()
            self._keys.clear()
            process = self._process
            self._cond.notify_all()
        for job in jobs:
            _drop(job)
        if process is not None:
            _stop_process(process)

    # The feeder thread -----------------------------------------------------------------

    def _queued(self) -> bool:
        return bool(self._osr or self._ahead or self._tier_ups)

    def _next_job(self) -> WorkerJob | None:
        with self._cond:
            self._cond.wait_for(lambda: self._queued() or self._closed)
            if self._closed:
                return None
            ups = self._tier_ups
            overdue = bool(ups) and \
                time.perf_counter() - ups[0].queued_at >= TIER_UP_PATIENCE
            if self._osr and not overdue:
                job = self._osr.popleft()
            elif ups and (not self._ahead or overdue):
                job = ups.popleft()
            else:
                job = self._ahead.popleft()
            if job.key >= 0:
                self._keys.pop(job.key, None)
            return job

    def _feed(self) -> None:
        try:
            process = self._process = start_worker()
            if self._closed:
                _stop_process(process)
                return
            assert process.stdin is not None and process.stdout is not None
            setup, self._setup = self._setup, b""
            write_frame(process.stdin, setup)
            del setup  # the module's bytes (a copy): not kept for the worker's lifetime
            # Nothing is busy until the worker can start on it at once: the program's
            # thread would rather compile itself than wait for the worker to start.
            wait_ready(process.stdout)
            while (job := self._next_job()) is not None:
                indices = job.prepare()
                if not indices:
                    continue
                job.indices = tuple(indices)
                with self._cond:
                    self._busy = frozenset(indices)
                job.sent_at = time.perf_counter()
                request: tuple[object, ...] = (list(indices), False, job.tier)
                if job.osr_loop is not None:
                    request += (job.osr_loop,)
                try:
                    write_frame(process.stdin, pickle.dumps(request))
                    batch, timings = read_reply(process.stdout)
                except CompileWorkerError as exc:
                    self._finish(job, None, (0.0, 0.0), exc)
                except BaseException as exc:  # noqa: B036 - the worker is broken
                    if not self._closed:
                        self._break(exc, job)
                    else:
                        _drop(job)
                    return
                else:
                    self._finish(job, batch, timings, None)
        except BaseException as exc:  # noqa: B036 - the worker is broken; say so to all
            if not self._closed:
                self._break(exc)

    def _finish(self, job: WorkerJob, batch: BatchObject | None, timings: tuple[float, float],
                error: BaseException | None) -> None:
        """Hand ``job`` its outcome, then say that the worker is free."""
        try:
            job.finish(batch, timings, error)
        finally:
            with self._cond:
                self._busy = frozenset()
                self._cond.notify_all()

    def _break(self, exc: BaseException, current: WorkerJob | None = None) -> None:
        """The worker is gone: fail ``current`` (the job it had) and every queued job."""
        with self._cond:
            self.broken = exc
            jobs = [*self._osr, *self._ahead, *self._tier_ups]
            if current is not None:
                jobs.insert(0, current)
            self._osr.clear()
            self._ahead.clear()
            self._tier_ups.clear()
            self._keys.clear()
            process = self._process
            self._cond.notify_all()
        for job in jobs:
            try:
                self._finish(job, None, (0.0, 0.0), exc)
            except Exception:  # noqa: BLE001, S112 - one owner's failure must not stop the rest
                continue
        if process is not None:
            _stop_process(process)


def _drop(job: WorkerJob) -> None:
    """Tell ``job``'s owner that it was dropped (nothing compiled)."""
    if job.dropped is not None:
        try:
            job.dropped()
        except Exception:  # noqa: BLE001, S110 - one owner's failure must not stop the rest
            pass


def _stop_process(process: subprocess.Popen[bytes]) -> None:
    # Killed first: closing its input pipe flushes what the feeder thread is writing
    # (the module's bytes, at the start), which waits for the worker to read it
    # (0.24 s at the end of CPython's warm start).
    process.kill()
    for stream in (process.stdin, process.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass
    process.wait()


_live_workers: weakref.WeakSet[CompileWorker] = weakref.WeakSet()


def _forget_workers_in_child() -> None:
    """After ``os.fork()``, in the child: the parent's workers are not the child's (their
    feeder threads did not survive, and stopping them at the child's exit would kill
    the parent's processes).  Each becomes broken without touching its process, so the
    child compiles in its own process."""
    for worker in list(_live_workers):
        # Locks another thread of the parent held at the fork stay held in the child, so
        # nothing here takes one or runs a job's callback: queued jobs are dropped (a
        # tier-up the parent asked for stays undone in the child).
        worker._cond = threading.Condition()
        worker._process = None
        worker._thread = None
        worker._osr.clear()
        worker._ahead.clear()
        worker._tier_ups.clear()
        worker._keys.clear()
        worker._busy = frozenset()
        worker.broken = RuntimeError("the compile worker belongs to the parent process")
    _live_workers.clear()


os.register_at_fork(after_in_child=_forget_workers_in_child)


@atexit.register
def close_all_workers() -> None:
    """Stop every compile worker of this process (at exit: a worker process outliving
    the program would go on compiling for nothing; benchmarks, to count its resources)."""
    for worker in list(_live_workers):
        worker.close()


__all__ = ["TIER_UP_PATIENCE", "WORKER_MIN_CODE_BYTES", "CompileWorker",
           "WorkerJob", "close_all_workers", "worker_wanted"]
