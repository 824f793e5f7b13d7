"""What an Engine needs of an execution strategy: one backend object per strategy
(``interp_engine.InterpBackend``, ``jit_engine.JitBackend``), picked once when the
engine is made. The API calls it without asking which one it is."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.instance import Extern, FuncInstance, ModuleInstance
from pyjitwasm.runtime.interrupts import EpochCounter
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import GlobalType, MemoryType, TableType
from pyjitwasm.wasm.validator import EarlyBodyChecks

Converter = Callable[[Any, int, Any], Any]
"""One of the API's value converters: ``(store, value type, value) -> value``
(``externs.to_raw``, ``externs.to_python``)."""


class PreparedModule(Protocol):
    """What a backend made of a module (compiled code, or a cache for it), shared by
    every instance of the module."""

    def instantiate(self, imports: Sequence[Extern], context: StoreContext) -> ModuleInstance:
        """Instantiate in ``context``'s store with resolved imports (import order)."""
        ...


class Backend(Protocol):
    """An execution strategy: how stores, modules, calls and host-made objects work."""

    epoch: EpochCounter
    """The engine's epoch counter (``Engine.increment_epoch``), shared by its stores."""

    def new_context(self) -> StoreContext:
        """The runtime context of a new store."""
        ...

    def validate(self, module: WasmModule, wasm: bytes,
                 early: EarlyBodyChecks | None = None) -> None:
        """Validate a decoded module (ValidationError) and note in the backend's code
        cache, if any, that these bytes validated (see :meth:`known_valid`).  ``early``:
        the bodies checked while decoding (``validator.EarlyBodyChecks``)."""
        ...

    def known_valid(self, wasm: bytes, digest: str | None = None) -> bool:
        """Whether the backend's code cache records that these bytes decoded and
        validated before (``Module()`` then neither decodes function bodies nor
        validates).  ``digest``: the bytes' SHA-256 (hex) when the caller has it."""
        ...

    def may_know_valid(self) -> bool:
        """Whether :meth:`known_valid` can answer yes at all (there is a code cache):
        ``Module()`` then decodes a large module as known valid while it asks."""
        ...

    def prepare(self, module: WasmModule, wasm: bytes | None = None) -> PreparedModule:
        """Per-module state for a validated module (compiling may wait for first use).
        ``wasm``: the module's binary, when known (it keys the code cache)."""
        ...

    # Serialized modules (``pyjitwasm/artifact.py``) -----------------------------------

    def code_fingerprint(self) -> dict[str, str]:
        """What code this backend makes depends on besides the module, by name: a
        serialized module loads only into a backend with the same fingerprint."""
        ...

    def serialize_code(self, prepared: PreparedModule, wasm: bytes, jobs: int | None = None,
                       progress: Callable[[int, int], None] | None = None) -> list[bytes]:
        """The module's whole code, compiled now if need be, as blobs for an artifact.
        ``jobs``: processes to compile with (None: every CPU); ``progress(done, total)``
        is called as functions are compiled."""
        ...

    def prepare_serialized(self, module: WasmModule, wasm: bytes,
                           code: list[bytes]) -> PreparedModule:
        """:meth:`prepare` for a deserialized module whose code is ``code`` (from
        :meth:`serialize_code` of a backend with the same fingerprint)."""
        ...

    def invoke(self, func: FuncInstance, args: list[Any]) -> list[Any]:
        """Call ``func`` with runtime-representation arguments; its results."""
        ...

    def api_caller(self, func: FuncInstance, store: object, to_raw: Converter,
                   to_python: Converter) -> Callable[..., Any] | None:
        """A fast ``(*python_args) -> python result`` caller of ``func``, or None when the
        backend has none (the API then converts and calls :meth:`invoke`)."""
        ...

    def new_memory(self, mtype: MemoryType, context: StoreContext) -> MemoryInstance:
        """A memory the host creates (not owned by an instance)."""
        ...

    def new_table(self, ttype: TableType, context: StoreContext, init: Any) -> TableInstance:
        """A table the host creates, every element ``init``."""
        ...

    def new_global(self, gtype: GlobalType, value: Any, context: StoreContext) -> GlobalInstance:
        """A global the host creates."""
        ...
