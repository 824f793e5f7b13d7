"""The engine that runs modules: it picks its backend object once, from the Config."""

from __future__ import annotations

from pyjitwasm.backend import Backend
from pyjitwasm.config import AUTO_STRATEGY, Config
from pyjitwasm.interp_engine import InterpBackend
from pyjitwasm.wasm.errors import WasmError


def _jit_backend(config: Config) -> Backend:
    # Imported on demand: the interpreter alone does not load LLVM or the native helper.
    try:
        from pyjitwasm.jit_engine import JitBackend
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise WasmError(f"the JIT strategy is not available: {exc}") from None
    return JitBackend(config)


class Engine:
    """Compiles and runs modules according to a Config. Share one between stores.

    ``backend`` is the execution strategy's object (``InterpBackend`` or ``JitBackend``)
    that stores, modules, instances and functions of this engine go through."""

    def __init__(self, config: Config | None = None) -> None:
        if config is None:
            config = Config()
        if not isinstance(config, Config):
            raise TypeError("expected a Config")
        self.config = config
        self.strategy = AUTO_STRATEGY if config.strategy == "auto" else config.strategy
        self.backend: Backend = (_jit_backend(config) if self.strategy == "jit"
                                 else InterpBackend(config))
