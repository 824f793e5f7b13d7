"""Engine configuration."""

from __future__ import annotations

STRATEGIES = ("auto", "interp", "jit")
AUTO_STRATEGY = "jit"
"""What ``"auto"`` means: the JIT once it passes the whole execution-scope spec suite."""
MEMORY_STYLES = ("static", "dynamic")
DEFAULT_CALL_DEPTH = 10_000
# How many bytes of ``max_wasm_stack`` one interpreter frame is taken to use, to turn the
# wasmtime-style byte budget into a frame count.
BYTES_PER_FRAME = 64


class Config:
    """Engine settings.

    ``strategy``: ``"auto"`` (the default: the JIT),
    ``"interp"`` or ``"jit"``. ``max_call_depth`` bounds nested wasm calls (frames);
    ``max_wasm_stack`` is wasmtime's byte budget and, when given without
    ``max_call_depth``, is converted at 64 bytes per frame. Exceeding the bound traps
    with ``TrapCode.STACK_OVERFLOW``. ``max_host_nesting`` bounds how deeply wasm -> host
    -> wasm calls may nest (each level recurses in Python).

    JIT only: ``max_wasm_stack`` is the native stack budget in bytes (default 1 MiB; the
    frame count ``max_call_depth`` does not apply). ``memory_style`` is how 32-bit
    memories are bounds-checked: ``"static"`` (4 GiB reservation plus guard pages, no
    explicit checks) or ``"dynamic"`` (explicit checks; 64-bit memories always are);
    ``dynamic_memory_reserve`` is the address space a dynamic memory reserves to grow
    into before it has to move (moving remaps its pages, it never copies them).
    """

    def __init__(
        self,
        strategy: str = "auto",
        max_wasm_stack: int | None = None,
        max_call_depth: int | None = None,
        max_host_nesting: int = 100,
        memory_style: str = "static",
        dynamic_memory_reserve: int = 1 << 30,
    ) -> None:
        self.strategy = strategy
        if memory_style not in MEMORY_STYLES:
            raise ValueError(f"unknown memory style {memory_style!r}; expected {MEMORY_STYLES}")
        self.memory_style = memory_style
        if not isinstance(dynamic_memory_reserve, int) or dynamic_memory_reserve < 0:
            raise ValueError("dynamic_memory_reserve must be a non-negative int (bytes)")
        self.dynamic_memory_reserve = dynamic_memory_reserve
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
