"""The engine that runs modules: it picks its backend object once, from the Config."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyjitwasm.backend import Backend
from pyjitwasm.config import Config
from pyjitwasm.wasm.errors import WasmError


def _jit_backend(config: Config) -> Backend:
    # Imported on demand: the interpreter alone does not load LLVM or the native helper.
    try:
        from pyjitwasm.jit_engine import JitBackend
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise WasmError(f"the JIT strategy is not available: {exc}") from None
    return JitBackend(config)


def _interp_backend(config: Config) -> Backend:
    # Imported on demand: a JIT engine never loads the interpreter.
    from pyjitwasm.interp_engine import InterpBackend

    return InterpBackend(config)


class Engine:
    """Compiles and runs modules according to a Config. Share one between stores.

    The engine consumes its Config (as wasmtime-py's does): giving the same Config to a
    second Engine raises ValueError. ``strategy`` is the engine actually used (``"jit"``
    or ``"interp"``); ``backend`` is its object (``InterpBackend`` or ``JitBackend``) that
    stores, modules, instances and functions of this engine go through."""

    def __init__(self, config: Config | None = None) -> None:
        if config is None:
            config = Config()
        if not isinstance(config, Config):
            raise TypeError("expected a Config")
        config._consume()
        self.config = config
        self.strategy = config.engine_strategy
        self.backend: Backend = (_jit_backend(config) if self.strategy == "jit"
                                 else _interp_backend(config))
        # A pooling allocator that can hand a new store a dropped store's whole context
        # with an instance (``runtime/jit/pool.py``): ``adopt_store(prepared module)``.
        allocator = getattr(self.backend, "allocator", None)
        # Contexts of dropped stores, ready for new ones (``Store._release``).
        self._spare_contexts: list[Any] = []
        self._adopt_store: Callable[[Any], Any] | None = getattr(allocator, "adopt_store",
                                                                 None)

    def is_pulley(self) -> bool:
        """Whether code runs on an interpreter rather than as native code (Wasmtime's
        interpreter is called Pulley): True for the ``"interp"`` strategy."""
        return self.strategy == "interp"

    def increment_epoch(self) -> None:
        """Advance the engine's epoch by one (thread-safe; typically from a timer thread).
        Code of stores whose epoch deadline this reaches traps with
        ``TrapCode.INTERRUPT`` at its next check, when ``Config.epoch_interruption`` is
        on (see ``Store.set_epoch_deadline``)."""
        self.backend.epoch.increment()
