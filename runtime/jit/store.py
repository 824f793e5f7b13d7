"""Store-wide state of the JIT: references, host functions, signature ids, instances.

Reference values in native memory (global slots, table elements after decoding, values
arrays, libcall arguments) are words: a funcref is the address of a VMFuncRef record
(``{code, signature id, vmctx}``), an externref a handle into this store's handle table,
and null is 0 for both (``ir/vmctx.py``).  This module maps between those words and the
runtime representation (``FuncInstance``/host object/``None``).

Instances live as long as their store (as in Wasmtime): a table of one instance may hold
a funcref into another, so code and vmctx must not go away while the store is alive.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections.abc import Callable
from typing import Any, Protocol, cast

from pyjitwasm.jit import abi
from pyjitwasm.runtime.instance import FuncInstance
from pyjitwasm.runtime.interrupts import EpochCounter
from pyjitwasm.runtime.jit import hostcalls, shims
from pyjitwasm.runtime.jit.epoch_poll import EpochPoll, publish_on_increment
from pyjitwasm.runtime.jit.values import read_values, write_values
from pyjitwasm.runtime.jit.vmctx import JitModuleInstance, instance_by_vmctx
from pyjitwasm.runtime.native import (
    ffi,
    register_buffered_host_function,
    register_host_function,
    unregister_host_function,
)
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.wasm.types import FuncType

_sig_lock = threading.Lock()
_signature_ids: dict[FuncType, int] = {}


def signature_id(ftype: FuncType) -> int:
    """The process-wide canonical id of a function type (never 0)."""
    sid = _signature_ids.get(ftype)
    if sid is None:
        with _sig_lock:
            sid = _signature_ids.setdefault(ftype, len(_signature_ids) + 1)
    return sid


Caller = Callable[[list[Any]], list[Any]]
"""A per-signature Python caller of a compiled function: ``args -> results``."""


class JitFunc:
    """What compiled code and the call path need of a function.

    ``slot`` is the address of the word holding the function's current machine code
    (a defined function's code slot in its module's table, see ``module_code``; for a
    host function word 0 of its host-function context, holding the host shim): what
    VMFuncImport and VMFuncRef records of it hold.  ``vmctx`` is what they pass as the
    callee's vmctx; ``funcref`` the address of a VMFuncRef record for it (0 until one is
    needed).  A wasm function's ``owner`` (its instance, whose ``compiled`` is its
    module's code) and ``index`` give ``(entry shim, machine code)``, compiling the
    function first if it is not yet; ``shim`` caches the shim. (The code is read through
    the instance so that a pooling allocator parks an instance, dropping its code, with
    one assignment however many functions it has.)"""

    __slots__ = ("slot", "vmctx", "funcref", "shim", "host_index", "caller", "_keep",
                 "_owner", "_index")

    def __init__(self, slot: int, vmctx: int, host_index: int = -1,
                 owner: CodeOwner | None = None, index: int = -1, funcref: int = 0) -> None:
        self.slot = slot
        self.vmctx = vmctx
        self.funcref = funcref
        self.shim = 0
        self.host_index = host_index
        self.caller: Caller | None = None  # made on its first call from Python
        self._keep: Any = None
        self._owner = owner
        self._index = index

    def entry(self) -> tuple[int, int]:
        """(entry shim, machine code) for entering the function from Python."""
        if self._owner is None:
            raise ValueError("a host function is not entered through an entry shim")
        self.shim, code = self._owner.compiled.entry(self._index)
        return self.shim, code


class EntryCode(Protocol):
    """What a wasm function's ``JitFunc`` enters through (its module's code)."""

    def entry(self, func_index: int) -> tuple[int, int]: ...


class CodeOwner(Protocol):
    """The instance defining a wasm function: its module's code is ``compiled``."""

    @property
    def compiled(self) -> EntryCode: ...


_HOST_CODE_SLOT = 16
"""Offset of the code slot in a host-function context (after the limits pointer and the
host index)."""


class JitState:
    """The JIT half of a store: its references (``values.References``), host functions
    and instances."""

    _ids = itertools.count(1)

    def __init__(self, context: StoreContext) -> None:
        self.id = next(JitState._ids)
        self.instances: list[JitModuleInstance] = []
        # VMFuncRef address -> the function it stands for (every record in the store).
        self.funcrefs: dict[int, FuncInstance] = {}
        self._records: list[Any] = []
        self._externs: dict[int, Any] = {}
        self._extern_handles: dict[int, int] = {}
        self._next_handle = 1
        # Where compiled code can keep externref handles between entries: the store's
        # externref tables and globals (every one ever made: like Wasmtime's, they live
        # as long as the store).
        self._extern_tables: list[ExternrefWords] = []
        self._extern_slots: list[tuple[int, Any]] = []
        # Handles from this one on were made since the last collection began.
        self._young_from = 1
        self._collect_at = _FIRST_COLLECTION
        self.collect_due = False
        self._host_indices: list[int] = []
        self._host_entries: dict[int, Callable[..., None]] = {}
        # The limits record every vmctx and host-function context of the store points at
        # from its word 0 (translate/vmctx.py): word 0 is the store's native stack
        # budget in bytes, which a thread's outermost entry turns into that thread's
        # stack limit (native.c keeps the limit per thread); then the consumed fuel and
        # the epoch deadline.
        limits = self.limits = ffi.new("uint64_t[]", vm.LIMITS_WORDS)
        limits[0] = getattr(context, "max_wasm_stack", 0)
        self.limits_address = int(ffi.cast("uintptr_t", limits))
        # The finalizer unregistering host functions is made with the first one (a
        # finalizer costs a few microseconds, a large part of creating a store).
        self._host_finalizer: Any = None
        epoch = self.epoch = context.epoch
        # The counter's address, converted once per engine (half a microsecond a store).
        if not epoch.address:
            epoch.address = int(ffi.cast("uintptr_t", epoch.cell))
        # What the vmctx word ``epoch_poll`` of the store's instances holds: the store's
        # poll page (epoch_poll.py), or without epoch checks (nothing reads it) the
        # limits record, which is readable memory.
        self.epoch_poll: EpochPoll | None = None
        self.epoch_poll_address = self.limits_address
        if context.epoch_interruption:
            if epoch.on_increment is None:
                publish_on_increment(epoch)
            self.epoch_poll = EpochPoll(epoch, limits,
                                        self.limits_address + vm.LIMITS_EPOCH_DEADLINE)
            self.epoch_poll_address = self.epoch_poll.page

    # Interruption (runtime/interrupts.py) ------------------------------------------

    @property
    def fuel_consumed(self) -> int:
        """Consumed fuel minus the fuel given (>= 0: none left)."""
        return int(self._fuel_word()[0])

    @fuel_consumed.setter
    def fuel_consumed(self, value: int) -> None:
        self._fuel_word()[0] = value

    # The two words are cast when used (rarely), not when a store is made (often).

    def _fuel_word(self) -> Any:
        return ffi.cast("int64_t *", self.limits_address + vm.LIMITS_FUEL_CONSUMED)

    @property
    def epoch_deadline(self) -> int:
        return int(self.limits[vm.LIMITS_EPOCH_DEADLINE // 8])

    @epoch_deadline.setter
    def epoch_deadline(self, value: int) -> None:
        self.limits[vm.LIMITS_EPOCH_DEADLINE // 8] = min(max(value, 0), (1 << 64) - 1)

    def epoch_deadline_reached(self) -> bool:
        return self.epoch.value >= self.epoch_deadline

    def fuel_exhausted(self) -> bool:
        return self.fuel_consumed >= 0

    def has_host_state(self) -> bool:
        """Whether the store made anything of its own here: host functions, funcref
        records outside a vmctx, externrefs or externref roots (a pooling allocator
        parks a store's whole state only when not)."""
        return bool(self._host_entries or self._records or self._externs
                    or self._extern_tables or self._extern_slots)

    def reset_interruption(self) -> None:
        """No fuel consumed or given, epoch deadline 0 (poll page disarmed): as a new
        store's."""
        limits = self.limits
        limits[vm.LIMITS_FUEL_CONSUMED // 8] = 0
        limits[vm.LIMITS_EPOCH_DEADLINE // 8] = 0
        if self.epoch_poll is not None:
            self.epoch_poll.reset(self.epoch)

    def set_epoch_deadline(self, deadline: int) -> None:
        """Epoch checks trap once the engine's epoch reaches ``deadline``."""
        poll = self.epoch_poll
        if poll is None:
            self.epoch_deadline = deadline
            return
        with self.epoch.lock:  # not between an increment and its publication
            self.epoch_deadline = deadline
            poll.follow_deadline()

    def reset_for_reuse(self) -> bool:
        """After :meth:`release`: become a new store's state (a new id, no handles; the
        context resets fuel and deadline), or return False if host functions were registered for
        this store (their finalizer runs when this state dies)."""
        if self._host_finalizer is not None or self._host_indices:
            return False
        self.id = next(JitState._ids)
        self._records.clear()
        self._next_handle = self._young_from = 1
        self._collect_at = _FIRST_COLLECTION
        self.collect_due = False
        return True

    def release(self) -> None:
        """The store was dropped: empty what ties its objects into reference cycles with
        this state (instances, funcref records, host entries, externrefs), so memories,
        tables and code are freed now rather than by the cyclic collector."""
        for inst in self.instances:
            inst.release()
        self.instances.clear()
        self.funcrefs.clear()
        if self.has_host_state():  # (most stores made none of these)
            self._host_entries.clear()
            self._externs.clear()
            self._extern_handles.clear()
            self._extern_tables.clear()
            self._extern_slots.clear()

    # Functions ----------------------------------------------------------------------

    def jit_func(self, func: FuncInstance) -> JitFunc:
        """The native face of ``func`` (made on first use for a host function)."""
        jf = func.compiled
        if isinstance(jf, JitFunc):
            return jf
        if func.host is None:
            raise ValueError(f"{func!r} does not belong to a JIT instance")
        return self._host_func(func)

    def _host_func(self, func: FuncInstance) -> JitFunc:
        params, results = func.type.params, func.type.results
        host = func.host
        if hostcalls.is_api_host(host) and hostcalls.fits_buffer(func.type):
            # The registry holds the entry weakly; _host_entries keeps it alive.
            entry = hostcalls.api_host_entry(self, host, instance_by_vmctx)
            index = register_buffered_host_function(entry, len(params), len(results))
            self._host_entries[index] = entry
        else:
            trampoline = _Trampoline(weakref.ref(self))
            index = trampoline.index = register_host_function(trampoline)
            self._host_entries[index] = _host_entry(self, func)
        self._host_indices.append(index)
        if self._host_finalizer is None:
            self._host_finalizer = weakref.finalize(self, _release_host_functions,
                                                    self._host_indices)
        # The context is what compiled code passes as the callee's vmctx: word 0 the
        # store's limits record (like any vmctx), the host index at HOST_INDEX_OFFSET; its
        # word 2 is the function's code slot, holding the host shim.
        ctx = ffi.new("uint64_t[3]")
        ctx[0] = self.limits_address
        ffi.cast("uint32_t *", ctx)[abi.HOST_INDEX_OFFSET // 4] = index
        ctx[_HOST_CODE_SLOT // 8] = shims.host_shim(params, results)
        address = int(ffi.cast("uintptr_t", ctx))
        jf = JitFunc(address + _HOST_CODE_SLOT, address, host_index=index)
        jf._keep = ctx
        func.compiled = jf
        return jf

    def funcref_address(self, func: FuncInstance | None) -> int:
        """The word a funcref to ``func`` is (0 for null)."""
        if func is None:
            return 0
        jf = self.jit_func(func)
        if not jf.funcref:
            record = ffi.new("uint64_t[3]")
            address = int(ffi.cast("uintptr_t", record))
            self.write_funcref_record(address, func, jf)
            self._records.append(record)
            jf.funcref = address
        return jf.funcref

    def write_funcref_record(self, address: int, func: FuncInstance,
                             jf: JitFunc | None = None) -> None:
        """Fill the VMFuncRef at ``address`` for ``func`` and remember it."""
        if jf is None:
            jf = self.jit_func(func)
        words = ffi.cast("uint64_t *", address)
        words[vm.FUNC_REF_SLOT // 8] = jf.slot
        words[vm.FUNC_REF_SIGNATURE // 8] = signature_id(func.type)
        words[vm.FUNC_REF_VMCTX // 8] = jf.vmctx
        self.funcrefs[address] = func

    def func_at(self, address: int) -> FuncInstance | None:
        """The function a funcref word stands for (None for 0)."""
        if address == 0:
            return None
        func = self.funcrefs.get(address)
        if func is None:
            func = self._unmade_func_at(address)
        return func

    def _unmade_func_at(self, address: int) -> FuncInstance:
        """The function of a VMFuncRef record in an instance's vmctx whose object is
        not made yet (``instance.LazyFunctions``: made and registered now)."""
        for inst in self.instances:
            offset = address - inst.vmctx
            funcs = inst.funcs
            if 0 <= offset < inst.layout.size and hasattr(funcs, "made_for_ref"):
                func = funcs.made_for_ref(offset)
                if func is not None:
                    return cast(FuncInstance, func)
        raise KeyError(address)

    # Externrefs ---------------------------------------------------------------------

    def extern_handle(self, obj: Any) -> int:
        """The handle of a host object (0 for None).  A handle lives until a collection
        finds it in no table, no global and no running entry (:meth:`collect`)."""
        if obj is None:
            return 0
        key = id(obj)
        handle = self._extern_handles.get(key)
        if handle is None or self._externs.get(handle) is not obj:
            handle = self._next_handle
            self._next_handle += 1
            self._externs[handle] = obj
            self._extern_handles[key] = handle
            if len(self._externs) >= self._collect_at:
                self.collect_due = True
        return handle

    def extern_object(self, handle: int) -> Any:
        """The host object behind a handle (None for 0)."""
        return None if handle == 0 else self._externs[handle]

    def add_extern_table(self, table: ExternrefWords) -> None:
        """Make an externref table a root of :meth:`collect` (for the store's life)."""
        self._extern_tables.append(table)

    def add_extern_slot(self, address: int, keepalive: Any) -> None:
        """Make the externref global slot at ``address`` a root of :meth:`collect`
        (``keepalive`` owns its memory)."""
        self._extern_slots.append((address, keepalive))

    def live_extern_count(self) -> int:
        """How many host objects the store's handle table holds (for tests)."""
        return len(self._externs)

    def collect(self, context: JitStoreContext, full: bool = False) -> int:
        """Release the host objects of handles that no externref table or global of the
        store holds; returns how many were released.

        Runs only while no entry into the store's compiled code is in progress on any
        thread (``context.entries == context.exits``): then no wasm frame, values array
        or host call holds a handle, so the tables and globals are every root.  Handles
        made since the previous collection began survive an automatic collection (a
        Python operation such as a slice assignment to a table may hold a fresh handle
        it has not stored yet); ``full`` (``Store.gc``) takes them too.  If an entry
        begins while the roots are read, nothing is released."""
        self.collect_due = False
        entries = context.entries
        if entries != context.exits or not self._externs:
            return 0
        live: set[int] = set()
        for table in self._extern_tables:
            count = table.size
            if count:
                words = ffi.buffer(ffi.cast("char *", table.elements_address), 8 * count)
                live.update(memoryview(bytes(words)).cast("Q"))
        for address, _keep in self._extern_slots:
            live.add(ffi.cast("uint64_t *", address)[0])
        if context.entries != entries or context.exits != entries:
            return 0  # an entry began meanwhile: the roots may have moved
        oldest_kept = self._next_handle if full else self._young_from
        self._young_from = self._next_handle
        dead = [h for h in self._externs if h not in live and h < oldest_kept]
        externs, handles = self._externs, self._extern_handles
        for handle in dead:
            obj = externs.pop(handle)
            if handles.get(id(obj)) == handle:
                del handles[id(obj)]
        self._collect_at = max(_FIRST_COLLECTION, 2 * len(externs))
        return len(dead)


_FIRST_COLLECTION = 1024
"""Handles a store holds before the end of an entry collects (then twice the survivors)."""


class ExternrefWords(Protocol):
    """What :meth:`JitState.collect` reads of an externref table: its element words."""

    @property
    def size(self) -> int: ...

    @property
    def elements_address(self) -> int: ...


def _release_host_functions(indices: list[int]) -> None:
    for index in indices:
        unregister_host_function(index)
    indices.clear()


class _Trampoline:
    """Registry entry of a host function: finds the real entry through a weak reference
    to its store's state, so the process-wide registry never keeps a store alive."""

    __slots__ = ("state_ref", "index")

    def __init__(self, state_ref: weakref.ref[JitState]) -> None:
        self.state_ref = state_ref
        self.index = -1

    def __call__(self, caller_vmctx: int, values: int) -> None:
        state = self.state_ref()
        if state is None:
            raise RuntimeError("the store of this host function is gone")
        state._host_entries[self.index](caller_vmctx, values)


def _host_entry(state: JitState, func: FuncInstance) -> Callable[[int, int], None]:
    """The entry running host function ``func`` for compiled code."""
    params, results = func.type.params, func.type.results
    host = func.host
    assert host is not None

    def entry(caller_vmctx: int, values: int) -> None:
        args = read_values(state, params, values)
        out = host(instance_by_vmctx(caller_vmctx), args)
        write_values(state, results, out, values)

    return entry


DEFAULT_MAX_WASM_STACK = 1024 * 1024


class JitStoreContext(StoreContext):
    """A store context with JIT state (``jit``).

    ``entries`` and ``exits`` count the entries from Python into the store's compiled
    code that have begun and ended, on any thread (an entry begins before its arguments
    are converted and ends after its results are): the store runs no wasm, and no
    reference is in flight between Python and wasm, exactly when they are equal.  Two
    counters that only grow, rather than one up-down count, let a collection of
    externrefs tell whether an entry began while it ran (``JitState.collect``).  The
    nesting of host -> wasm entries is counted per thread by the native layer
    (``native.invoke_depth``)."""

    __slots__ = ("jit", "max_wasm_stack", "heap_style", "dynamic_reserve", "entries",
                 "exits")

    def __init__(self, max_call_depth: int = 10_000, max_host_nesting: int = 100,
                 max_wasm_stack: int | None = None, heap_style: str = "static",
                 dynamic_reserve: int = 1 << 30, epoch: EpochCounter | None = None,
                 consume_fuel: bool = False, epoch_interruption: bool = False) -> None:
        # Compiled code reads the epoch from native memory.
        super().__init__(max_call_depth, max_host_nesting,
                         epoch if epoch is not None else native_epoch_counter(),
                         consume_fuel, epoch_interruption)
        self.max_wasm_stack = max_wasm_stack or DEFAULT_MAX_WASM_STACK
        self.entries = 0
        self.exits = 0
        self.heap_style = heap_style
        self.dynamic_reserve = dynamic_reserve
        self.jit = JitState(self)

    releases_instances = True  # every instance is in jit.instances

    def reset_for_reuse(self) -> bool:
        if self.entries != self.exits or not self.jit.reset_for_reuse():
            return False
        if self.consume_fuel or self.epoch_interruption:  # (else no code reads them)
            self.jit.reset_interruption()
        return super().reset_for_reuse()

    def release(self) -> None:
        self.jit.release()

    # Compiled code keeps the fuel and the deadline in the limits record.

    def set_fuel(self, fuel: int) -> None:
        self.jit.fuel_consumed = -fuel

    def get_fuel(self) -> int:
        return max(0, -self.jit.fuel_consumed)

    def set_epoch_deadline(self, ticks_beyond_current: int) -> None:
        self.jit.set_epoch_deadline(self.epoch.value + ticks_beyond_current)

    def collect_references(self) -> None:
        """``Store.gc``: release the host objects no externref table or global holds
        (nothing while wasm runs in the store)."""
        self.jit.collect(self, full=True)


def native_epoch_counter() -> EpochCounter:
    """An engine epoch counter compiled code can read (a ``uint64_t`` in native memory)."""
    return EpochCounter(ffi.new("uint64_t[1]"))
