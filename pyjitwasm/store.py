"""Stores: the owners of every instance, function, memory, table and global."""

from __future__ import annotations

import sys
import weakref
from collections.abc import Callable
from typing import Any, Generic, Protocol, Self, TypeVar

from pyjitwasm.engine import Engine
from pyjitwasm.errors import ArgumentTypeError
from pyjitwasm.runtime.instance import ModuleInstance
from pyjitwasm.runtime.limits import StoreLimits
from pyjitwasm.runtime.pooling import release_store_slots
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.wasm.errors import WasmError


class Store:
    """A collection of WebAssembly objects plus the host's ``data``.

    Objects created in (or instantiated into) one store must only be used with it.
    """

    def __init__(self, engine: Engine | None = None, data: Any = None) -> None:
        if engine is None:
            engine = Engine()
        if not isinstance(engine, Engine):
            raise ArgumentTypeError("expected an Engine")
        self._engine = engine
        self._closed = False
        self._data = data
        # The runtime context (``_ctx``) is made on first use (``__getattr__``): a pooling
        # engine's first instantiation may instead adopt a whole parked one
        # (``runtime/jit/pool.py``), and a store nothing is made in costs almost nothing.
        # Linker host functions made for this store: definition -> runtime function.
        self._host_funcs: dict[Any, Any] = {}
        # The runtime instances made in this store, torn down with it (see _release).
        self._instances: list[ModuleInstance] = []

    def __getattr__(self, name: str) -> Any:
        # Only reached while ``_ctx`` is not made yet (or for a missing attribute).
        if name != "_ctx":
            raise AttributeError(f"'Store' object has no attribute {name!r}")
        return self._new_context()

    def _new_context(self) -> StoreContext:
        """Make the store's runtime context (``_ctx``): a dropped store's the engine kept
        (see ``_release``), or a new one. (Callers that know it is missing call this
        directly: reaching ``__getattr__`` costs an AttributeError raised and caught.)"""
        engine = self._engine
        spare = engine._spare_contexts
        ctx = None
        if spare:  # (most stores find none: no IndexError raised and caught for them)
            try:
                ctx = spare.pop()
            except IndexError:  # another thread took the last one meanwhile
                ctx = None
        if ctx is None:
            ctx = engine.backend.new_context()
        self._ctx = ctx
        return ctx

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def data(self) -> Any:
        """The host's object associated with this store (also ``caller.data``)."""
        return self._data

    @data.setter
    def data(self, value: Any) -> None:
        self._data = value

    def set_wasi(self, config: Any) -> None:
        """Give this store a WASI environment (wasmtime-py's ``Store.set_wasi``)."""
        from pyjitwasm.wasi import set_wasi

        set_wasi(self, config)

    def gc(self) -> None:
        """Release the host objects passed to wasm as externrefs that no table or global
        of the store holds any more (as wasmtime-py's ``Store.gc``; it does nothing
        while wasm runs in the store).  The interpreter keeps no such references."""
        self._ctx.collect_references()

    # Lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Release the store now: its instances, memories, tables and code go away once
        no Python object refers to them; using the store afterwards raises ValueError.
        Closing twice is allowed. ``with Store(engine) as store:`` closes on exit."""
        self._closed = True
        self._release()  # what dropping the store does

    def _release(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        # Not a weakref.finalize: its registry would hold the context, and a host
        # function capturing the store would then keep the store alive for good.
        # A store still alive at interpreter exit (a script's global) is dropped while
        # modules' globals are being cleared, so the release code may find its helpers
        # gone (None); the process's memory goes with it anyway. (A default argument:
        # this module's ``sys`` may be gone too.)
        if _finalizing():
            return
        state = self.__dict__
        context = state.get("_ctx")
        if context is None:
            return
        instances = state["_instances"]
        recycle = context.recycle
        if recycle is not None and recycle(len(instances)):
            # Parked for another store (see ``_release``): this one must not release it
            # again.
            instances.clear()
            del state["_ctx"]
            return
        _release(context, instances)
        # Nothing else refers to the context (this frame's name, the attribute and
        # getrefcount's argument): the engine keeps it for its next store, which saves
        # making one (a few microseconds).
        spare = self._engine._spare_contexts
        if len(spare) < _SPARE_CONTEXTS and sys.getrefcount(context) == 3 \
                and context.reset_for_reuse():
            del state["_ctx"]
            spare.append(context)

    __del__ = _release

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _live(self) -> Store:
        # Also how a weak proxy of the store (what runtime objects hold) turns into the
        # store itself: ``self`` here is never the proxy.
        if self._closed:
            raise ValueError("this Store has been closed")
        return self

    # Interruption (runtime/interrupts.py) ---------------------------------------------

    def set_fuel(self, fuel: int) -> None:
        """Set the fuel this store's wasm code may consume (replacing what was left);
        requires ``Config.consume_fuel``. Each wasm instruction costs 1 (``nop``,
        ``drop``, ``block``, ``loop``, ``else``, ``end``, ``unreachable``, ``return``
        cost nothing); code traps with ``TrapCode.OUT_OF_FUEL`` at a function entry or
        loop header once it has consumed all of it."""
        self._fuel_context("Store.set_fuel")
        if not isinstance(fuel, int) or isinstance(fuel, bool) or fuel < 0:
            raise ArgumentTypeError("fuel must be a non-negative int")
        self._ctx.set_fuel(min(fuel, (1 << 63) - 1))

    def get_fuel(self) -> int:
        """The fuel left; requires ``Config.consume_fuel``."""
        return self._fuel_context("Store.get_fuel").get_fuel()

    def _fuel_context(self, what: str) -> StoreContext:
        self._live()
        if not self._ctx.consume_fuel:
            raise WasmError(f"{what}: fuel is not enabled for this store's engine "
                                "(set Config.consume_fuel = True)")
        return self._ctx

    def set_epoch_deadline(self, ticks_beyond_current: int) -> None:
        """Make this store's wasm code trap with ``TrapCode.INTERRUPT`` once the engine's
        epoch is ``ticks_beyond_current`` past its current value (see
        ``Engine.increment_epoch``). Has an effect only with
        ``Config.epoch_interruption``, which also makes a store that never set a
        deadline trap at its code's first check (the deadline starts at 0)."""
        self._live()
        if not isinstance(ticks_beyond_current, int) or ticks_beyond_current < 0:
            raise ArgumentTypeError("ticks_beyond_current must be a non-negative int")
        self._ctx.set_epoch_deadline(ticks_beyond_current)

    # Store limits ------------------------------------------------------------------------

    def set_limits(self, memory_size: int = -1, table_elements: int = -1,
                   instances: int = -1, tables: int = -1, memories: int = -1) -> None:
        """Bound this store's resources (wasmtime-py's ``Store.set_limits``).

        ``memory_size``: the most bytes any one linear memory may have; a memory whose
        minimum is larger cannot be created (instantiation fails) and ``memory.grow``
        past it returns -1 (``Memory.grow`` raises). ``table_elements``: the same for the
        elements of each table. ``instances``, ``tables``, ``memories``: how many of each
        the store may create in its life. A negative value leaves that limit as it was;
        every limit starts unlimited. Creating past a limit raises ``ResourceLimitError``
        (a ``WasmtimeError``)."""
        self._live()
        for name, value in (("memory_size", memory_size), ("table_elements", table_elements),
                            ("instances", instances), ("tables", tables),
                            ("memories", memories)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ArgumentTypeError(f"{name} must be an int, got {type(value).__name__}")
        resources = self._ctx.resources
        if resources.limits is None:
            resources.limits = StoreLimits()
        resources.limits.update(memory_size, table_elements, instances, tables, memories)


_SPARE_CONTEXTS = 4
"""Released store contexts an engine keeps for its next stores."""


def _release(context: StoreContext, instances: list[ModuleInstance]) -> None:
    """Run when a Store is freed. Every API object holds its store, so none is left:
    break the runtime's internal cycles (instance <-> functions, tables holding funcrefs,
    the JIT's per-store tables) so memories, tables and code go now, not at the next
    cyclic collection. (A pooling engine may instead have parked the whole context with
    its one instance for the next store, ``StoreContext.recycle``: ``Store._release``
    offers it first.)"""
    context.recycle = None  # it refers to the instance, which refers to the context
    if not context.releases_instances:
        for instance in instances:
            instance.release()
    instances.clear()
    context.release()
    release_store_slots(context)  # a pooling allocator's slots go back to its pool


def store_of(obj: Any) -> Store:
    """The Store behind a Store or a Caller (host code may pass either)."""
    if isinstance(obj, Store):
        return obj._live()
    as_store: Callable[[], Store] | None = getattr(obj, "_as_store", None)  # a Caller
    if as_store is not None:
        return as_store()._live()
    raise ArgumentTypeError(f"expected a Store, got {type(obj).__name__}")


class RuntimeObject(Protocol):
    """What every runtime object an API object wraps has: its API wrapper slot."""

    api: Any


RuntimeT = TypeVar("RuntimeT", bound=RuntimeObject)


class StoreObject(Generic[RuntimeT]):
    """Base of the API objects a store owns (Func, Memory, Table, Global): each wraps one
    runtime object (``_rt``) and checks that it is used with the store that owns it.

    Ownership runs one way, so a dropped store is freed by reference counting alone: an
    API object holds its Store (and runtime object) strongly, while the runtime object
    remembers its API object only weakly (``rt.api`` is a weak reference)."""

    __slots__ = ("_store", "_rt", "__weakref__")

    _store: Store
    _rt: RuntimeT

    def _check_store(self, store: Any) -> Store:
        s = store_of(store)
        if s is not self._store:
            raise ValueError(
                f"this {type(self).__name__} belongs to a different store than the one given"
            )
        return s

    @classmethod
    def _wrap(cls, store: Store, rt: RuntimeT) -> Self:
        """The API object for a runtime object (one per runtime object while it is in use,
        made on demand). ``store`` may be the weak proxy runtime objects hold."""
        ref = rt.api
        api = None if ref is None else ref()
        if api is None:
            api = cls.__new__(cls)
            api._store = store._live()
            api._rt = rt
            rt.api = weakref.ref(api)
        return api

    def _adopt(self, store: Store, rt: RuntimeT) -> None:
        """Become the API object of a runtime object the constructor just made."""
        self._store = store
        self._rt = rt
        rt.api = weakref.ref(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoreObject) and type(other) is type(self) \
            and other._rt is self._rt

    def __hash__(self) -> int:
        return hash(id(self._rt))
