"""Function instances: functions defined by a wasm module, and host functions."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.wasm.types import FuncType

if TYPE_CHECKING:
    from pyjitwasm.runtime.instance import ModuleInstance

HostCallable = Callable[["ModuleInstance | None", list[Any]], list[Any]]
"""A host function at runtime level: ``(calling instance or None, args) -> results``,
both in the runtime's value representation."""


class FuncInstance:
    """A function: wasm-defined (``host is None``) or implemented by the host.

    For a wasm function, ``instance`` is its module instance, ``index`` its index in the
    module's function index space and ``code_slot`` the index of its body; ``compiled``
    caches whatever an execution engine made of it (shared by every instance of the
    module through ``instance.code_cache``).
    """

    __slots__ = ("type", "context", "host", "instance", "index", "code_slot", "compiled", "api")

    def __init__(
        self,
        ftype: FuncType,
        context: StoreContext,
        host: HostCallable | None = None,
        instance: ModuleInstance | None = None,
        index: int = -1,
        code_slot: int = -1,
    ) -> None:
        self.type = ftype
        self.context = context
        self.host = host
        self.instance = instance
        self.index = index
        self.code_slot = code_slot
        self.compiled: Any = None
        self.api: Any = None

    @property
    def is_host(self) -> bool:
        return self.host is not None

    @property
    def name(self) -> str | None:
        """The function's name from its module's name section, if any."""
        if self.instance is None:
            return None
        return self.instance.module.func_name(self.index)

    def __repr__(self) -> str:
        if self.host is not None:
            return f"<host function {self.type}>"
        return f"<wasm function {self.name or self.index} {self.type}>"
