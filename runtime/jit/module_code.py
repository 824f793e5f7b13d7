"""The machine code of one wasm module as its instances reach it: code slots, and lazy
compilation behind them.

Every defined function has a *code slot*: word ``k`` (``k`` = function index minus the
imported functions) of a native table owned by the module's ``ModuleCode`` and shared by
all its instances (the vmctx field ``code_slots`` points at it, see
``translate/vmctx.py``).  Calls that do not go straight to a function compiled in the
same batch load the slot; VMFuncImport and VMFuncRef records hold the slot's address.

Eager (``CompileOptions.lazy=False``): the whole module is one batch compiled when the
``ModuleCode`` is made; every slot is filled at once.

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

One lock per module makes the first callers of a function compile it once; other
threads wait for it (llvmlite serializes its own calls anyway).  Compilation raising
(an LLVM error, MemoryError, KeyboardInterrupt) leaves every slot as it was, so the
exception reaches the wasm code's Python caller and a later call tries again.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from pyjitwasm.runtime.jit import codemap, shims
from pyjitwasm.runtime.jit.compile_module import CompiledModule, CompileOptions, compile_batch
from pyjitwasm.runtime.native import (
    ffi,
    fill_lazy_stubs,
    lazy_stubs_supported,
    native_stack_room,
)
from pyjitwasm.translate.translator import ModuleInfo
from pyjitwasm.translate.vmctx import VMContextLayout
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import WasmModule

STACK_ROOM_FOR_COMPILE = 4 << 20
"""Native stack (bytes) a lazy compile needs below the wasm frames that triggered it;
with less, the compile runs on a fresh thread (``COMPILE_THREAD_STACK``) while the
calling thread waits."""
COMPILE_THREAD_STACK = 64 << 20

_DIRECT_CALLS = (op.CALL, op.RETURN_CALL)
_T = TypeVar("_T")


class ModuleCode:
    """The code slots of one module and the batches of machine code behind them.

    ``slots_address`` is the table the vmctx points at; ``slot_address(i)`` the slot of
    defined function ``i`` (wasm index).  ``batches`` are the compiled pieces, each
    registered with the code map (backtraces, guard-page faults) before any slot points
    into it; keep this object alive while any of its code may run."""

    def __init__(self, module: WasmModule, options: CompileOptions,
                 symbols: Mapping[str, int]) -> None:
        self.module = module
        self.options = options
        self.symbols = dict(symbols)
        self.info = ModuleInfo(module, options.heap_config())
        self.layout: VMContextLayout = self.info.layout
        self.first = module.num_imported_funcs
        count = len(module.codes)
        self._slots: Any = ffi.new("uint64_t[]", max(count, 1))
        self.slots_address: int = int(ffi.cast("uintptr_t", self._slots))
        # Compiled code of each defined function (0: not yet), mirrored into the slots.
        self._code = [0] * count
        self._entry_shims: dict[int, int] = {}
        self._callees: dict[int, list[int]] = {}
        # Reentrant: a finalizer run by a collection during a compile may call wasm.
        self._lock = threading.RLock()
        self.batches: list[CompiledModule] = []
        self.compile_seconds = 0.0
        self.lazy = options.lazy and lazy_stubs_supported()
        if self.lazy:
            fill_lazy_stubs(self.slots_address, count)
        elif count:
            self._compile([self.first + k for k in range(count)])

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
            return run_on_fresh_stack(lambda: self._compile_on_demand(k))
        return self._compile_on_demand(k)

    # Compilation ---------------------------------------------------------------------

    def _compile_on_demand(self, k: int) -> int:
        with self._lock:
            if not self._code[k]:
                self._compile(self._batch_from(k))
            return self._code[k]

    def _callees_of(self, k: int) -> list[int]:
        """Defined functions ``call``ed directly by defined function ``k``, in order."""
        callees = self._callees.get(k)
        if callees is None:
            seen: dict[int, None] = {}
            for instr in self.module.codes[k].instrs:
                if instr.op in _DIRECT_CALLS and instr.imm >= self.first:
                    seen[instr.imm - self.first] = None
            callees = self._callees[k] = list(seen)
        return callees

    def _batch_from(self, k: int) -> list[int]:
        """Function ``k`` and, breadth first, its not yet compiled direct callees while
        the batch stays within the instruction budget (wasm indices)."""
        budget = self.options.lazy_batch_instructions
        codes = self.module.codes
        batch = [k]
        size = codes[k].instr_count
        queued = {k}
        pending = deque([k])
        while pending and size < budget:
            for callee in self._callees_of(pending.popleft()):
                if callee in queued or self._code[callee]:
                    continue
                queued.add(callee)
                cost = codes[callee].instr_count
                if size + cost > budget:
                    continue
                size += cost
                batch.append(callee)
                pending.append(callee)
        return [self.first + i for i in batch]

    def _compile(self, indices: list[int]) -> None:
        """Compile ``indices`` as one batch and point their slots at the code (the
        caller holds the lock, or nothing else can see this object yet)."""
        t0 = time.perf_counter()
        batch = compile_batch(self.module, indices, self.options, self.symbols, self.info,
                              separate=self.lazy, with_shims=not self.lazy)
        # The fault handler and backtraces must know the code before it can run.
        codemap.register(batch)
        self.batches.append(batch)
        for type_index, shim in batch.shims.items():
            self._entry_shims.setdefault(type_index, shim)
        for func_index in indices:
            code = batch.function_address(func_index)
            k = func_index - self.first
            self._code[k] = code
            self._slots[k] = code
            # Translated: nothing here reads its instructions again (another reader
            # decodes them again, see ``FunctionBody.release``).
            self.module.codes[k].release()
        self.compile_seconds += time.perf_counter() - t0

    # Statistics ---------------------------------------------------------------------

    @property
    def compiled_functions(self) -> int:
        """How many defined functions have machine code."""
        return sum(1 for code in self._code if code)


_fresh_stack_lock = threading.Lock()


def run_on_fresh_stack(fn: Callable[[], _T]) -> _T:
    """``fn()`` run on a new thread with a ``COMPILE_THREAD_STACK`` stack while this
    one waits; its result, or the exception it raised."""
    outcome: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            outcome.append((True, fn()))
        except BaseException as exc:  # noqa: B036 - handed back to the waiting thread
            outcome.append((False, exc))

    # threading.stack_size is process-wide: set it only around creating this thread.
    with _fresh_stack_lock:
        previous = threading.stack_size(COMPILE_THREAD_STACK)
        try:
            thread = threading.Thread(target=run, name="pyjitwasm-lazy-compile", daemon=True)
            thread.start()
        finally:
            threading.stack_size(previous)
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return cast(_T, value)


__all__ = ["COMPILE_THREAD_STACK", "ModuleCode", "STACK_ROOM_FOR_COMPILE",
           "run_on_fresh_stack"]
