"""Background compilation: one worker thread that runs tier-up jobs.

Tier-0 code calls the ``tier_up`` libcall when a function's counter runs out
(``translate/tiering.py``); ``ModuleCode.request_tier_up`` then hands this worker a job
that compiles the function at tier 1 and swaps it into the function's code slot.  The
calling wasm code goes on at tier 0 meanwhile: llvmlite releases the GIL while LLVM
works, so the compile overlaps with the program on a second core (the Python front end,
translation and lowering, does hold the GIL and competes with the program's Python).

One worker for the process, started on the first job, with a stack as large as a lazy
compile's (``COMPILE_THREAD_STACK``).  Jobs run in the order they came.  At interpreter
exit the queue is dropped and the job under way is waited for, so LLVM is never torn
down under a running compile.
"""

from __future__ import annotations

import atexit
import threading
from collections import deque
from collections.abc import Callable

from pyjitwasm.jit.compiler import release_loaders
from pyjitwasm.runtime.jit.llvm_library import preload_llvm_library, release_llvm_library_pages

COMPILE_THREAD_STACK = 64 << 20
"""Native stack of compile threads (the lazy-compile fallback thread and this worker)."""

IDLE_BEFORE_RELEASE_S = 0.5
"""How long the worker waits with nothing queued before it drops LLVM's library pages
from the process's resident set (``release_llvm_library_pages``): long enough that a
burst of tier-ups does not map the same pages again after every job."""

# Reentrant: making the thread allocates, which may start a collection whose finalizer
# calls wasm, and that may start a compile thread (a lazy compile short of stack) on
# this thread while it holds the lock.
_stack_size_lock = threading.RLock()


def start_thread(target: Callable[[], None], name: str,
                 stack_size: int = COMPILE_THREAD_STACK) -> threading.Thread:
    """Start a daemon thread running ``target`` with a ``stack_size``-byte stack."""
    # threading.stack_size is process-wide: set it only around creating this thread.
    with _stack_size_lock:
        previous = threading.stack_size(stack_size)
        try:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    return thread


class BackgroundCompiler:
    """A queue of compile jobs and the thread that runs them, one after another.  A job
    must handle its own exceptions (an escaping one is dropped)."""

    def __init__(self) -> None:
        # Jobs, each with what to call instead when it is dropped at exit (None: kept).
        self._jobs: deque[tuple[Callable[[], None], Callable[[], None] | None]] = deque()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._running = False  # a job is under way
        self._stopped = False

    def submit(self, job: Callable[[], None],
               dropped_at_exit: Callable[[], None] | None = None) -> bool:
        """Queue ``job``; False when the compiler has stopped (interpreter exit).
        ``dropped_at_exit``: the job only serves code running now (an OSR entry), so
        :meth:`drop_for_exit` drops it, calling this instead."""
        with self._cond:
            if self._stopped:
                return False
            self._jobs.append((job, dropped_at_exit))
            if self._thread is None:
                self._thread = start_thread(self._run, "pyjitwasm-tier-up")
            self._cond.notify_all()
        return True

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._jobs and not self._running, timeout)

    def drop_for_exit(self) -> None:
        """Drop the queued jobs that only serve code running now (at exit, before the
        wait for the others: tier-ups whose code the next run's cache should hold)."""
        with self._cond:
            kept = [(job, dropped) for job, dropped in self._jobs if dropped is None]
            gone = [dropped for _, dropped in self._jobs if dropped is not None]
            self._jobs = deque(kept)
            self._cond.notify_all()
        for dropped in gone:
            dropped()

    def stop(self) -> None:
        """Drop queued jobs, wait for the one under way, end the thread."""
        with self._cond:
            self._stopped = True
            self._jobs.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        # Every job compiles with LLVM: load its library first, without the GIL.  What
        # its static initializers touched is not needed again.
        preload_llvm_library()
        release_llvm_library_pages()
        compiled_since_release = False
        while True:
            with self._cond:
                self._running = False
                self._cond.notify_all()
                came = self._cond.wait_for(
                    lambda: bool(self._jobs) or self._stopped,
                    IDLE_BEFORE_RELEASE_S if compiled_since_release else None)
                if self._stopped:
                    return
                if came:
                    job, _ = self._jobs.popleft()
                    self._running = True
            if not came:
                release_llvm_library_pages()
                compiled_since_release = False
                continue
            compiled_since_release = True
            try:
                job()
            except BaseException:  # noqa: B036, S110 - jobs report their own failures
                pass


_compiler = BackgroundCompiler()


def _stop_at_exit() -> None:
    _compiler.stop()
    # No tier-up can run now: free LLVM's objects while llvmlite still works.
    release_loaders()


atexit.register(_stop_at_exit)


def background_compiler() -> BackgroundCompiler:
    """The process's background compiler."""
    return _compiler


__all__ = ["COMPILE_THREAD_STACK", "BackgroundCompiler", "background_compiler",
           "start_thread"]
