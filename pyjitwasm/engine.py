"""Configuration and the engine that runs modules."""

from __future__ import annotations

from typing import Any

from .interp import ModuleCode
from .interp import invoke as interp_invoke
from .runtime.functions import FuncInstance
from .wasm.errors import WasmError
from .wasm.module import WasmModule

STRATEGIES = ("auto", "interp", "jit")
DEFAULT_CALL_DEPTH = 10_000
# How many bytes of ``max_wasm_stack`` one interpreter frame is taken to use, to turn the
# wasmtime-style byte budget into a frame count.
BYTES_PER_FRAME = 64


class Config:
    """Engine settings.

    ``strategy``: ``"auto"`` (the best available: the interpreter until the JIT lands),
    ``"interp"`` or ``"jit"``. ``max_call_depth`` bounds nested wasm calls (frames);
    ``max_wasm_stack`` is wasmtime's byte budget and, when given without
    ``max_call_depth``, is converted at 64 bytes per frame. Exceeding the bound traps
    with ``TrapCode.STACK_OVERFLOW``. ``max_host_nesting`` bounds how deeply wasm -> host
    -> wasm calls may nest (each level recurses in Python).
    """

    def __init__(
        self,
        strategy: str = "auto",
        max_wasm_stack: int | None = None,
        max_call_depth: int | None = None,
        max_host_nesting: int = 100,
    ) -> None:
        self.strategy = strategy
        self._max_call_depth: int | None = None
        self._max_wasm_stack: int | None = None
        if max_wasm_stack is not None:
            self.max_wasm_stack = max_wasm_stack
        if max_call_depth is not None:
            self.max_call_depth = max_call_depth
        self.max_host_nesting = max_host_nesting

    @property
    def strategy(self) -> str:
        return self._strategy

    @strategy.setter
    def strategy(self, value: str) -> None:
        if value not in STRATEGIES:
            raise ValueError(f"unknown strategy {value!r}; expected one of {STRATEGIES}")
        self._strategy = value

    @property
    def max_wasm_stack(self) -> int | None:
        return self._max_wasm_stack

    @max_wasm_stack.setter
    def max_wasm_stack(self, value: int) -> None:
        if not isinstance(value, int) or value <= 0:
            raise ValueError("max_wasm_stack must be a positive int (bytes)")
        self._max_wasm_stack = value

    @property
    def max_call_depth(self) -> int:
        if self._max_call_depth is not None:
            return self._max_call_depth
        if self._max_wasm_stack is not None:
            return max(1, self._max_wasm_stack // BYTES_PER_FRAME)
        return DEFAULT_CALL_DEPTH

    @max_call_depth.setter
    def max_call_depth(self, value: int) -> None:
        if not isinstance(value, int) or value <= 0:
            raise ValueError("max_call_depth must be a positive int")
        self._max_call_depth = value


class Engine:
    """Compiles and runs modules according to a Config. Share one between stores."""

    def __init__(self, config: Config | None = None) -> None:
        if config is None:
            config = Config()
        if not isinstance(config, Config):
            raise TypeError("expected a Config")
        if config.strategy == "jit":
            raise WasmError("the JIT strategy is not available yet; use 'auto' or 'interp'")
        self.config = config
        self.strategy = "interp"

    def _code_cache(self, module: WasmModule) -> Any:
        """Per-module state the execution strategy shares between instances."""
        return ModuleCode(module)

    def _invoke(self, func: FuncInstance, args: list[Any]) -> list[Any]:
        return interp_invoke(func, args)
