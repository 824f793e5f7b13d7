"""Engine configuration, with wasmtime-py's setters.

Every setter wasmtime-py's ``Config`` has is accepted. A setting maps onto what pyjitwasm
has (``strategy``, ``cranelift_opt_level``, ``cranelift_debug_verifier``, the memory
reservation settings, ``cache``), is a hint with no observable effect
(``parallel_compilation``, ``debug_info``...), or asks for something pyjitwasm does not
implement: then the setter raises :class:`UnsupportedConfigError` naming the setting, rather
than accepting it and behaving differently (enabling threads, GC or exceptions, a
profiler...). Turning off a proposal pyjitwasm implements is refused
the same way: its decoder always accepts them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pyjitwasm.cache_config import cache_directory_of, cache_size_limit_of
from pyjitwasm.errors import ArgumentTypeError, UnsupportedConfigError, WasmValueError
from pyjitwasm.runtime.pooling import PoolingAllocationConfig
from pyjitwasm.wasm.features import Features

STRATEGIES = ("auto", "interp", "jit", "cranelift", "winch", "pulley")
"""Accepted ``strategy`` values. ``"auto"``, ``"cranelift"`` and ``"jit"`` compile with the
LLVM JIT at the configured optimisation level; ``"winch"`` (Wasmtime's baseline compiler)
is the JIT without optimisation passes; ``"interp"`` and ``"pulley"`` (Wasmtime's
interpreter) run the reference interpreter."""
AUTO_STRATEGY = "jit"
"""What ``"auto"`` means: the JIT once it passes the whole execution-scope spec suite."""
AUTO_STRATEGY_ENV = "PYJITWASM_AUTO_STRATEGY"
ENGINE_OF_STRATEGY = {"auto": AUTO_STRATEGY, "interp": "interp", "jit": "jit",
                      "cranelift": "jit", "winch": "jit", "pulley": "interp"}
MEMORY_STYLES = ("static", "dynamic")
DEFAULT_CALL_DEPTH = 10_000
# How many bytes of ``max_wasm_stack`` one interpreter frame is taken to use, to turn the
# wasmtime-style byte budget into a frame count.
BYTES_PER_FRAME = 64
# cranelift_opt_level -> the JIT's optimisation level (jit/codeload.py's PassPipeline):
# none: no passes; speed: the short hand-picked pipeline; speed_and_size: LLVM's O2.
OPT_LEVELS = {"none": 0, "speed": 1, "speed_and_size": 2}
PROFILERS = ("none", "jitdump", "vtune", "perfmap")
# A 32-bit memory reserving this much address space needs no bounds checks (static style).
STATIC_RESERVATION = 1 << 32

IMPLEMENTED_PROPOSALS = {
    "wasm_reference_types": "reference types",
    "wasm_simd": "SIMD",
    "wasm_bulk_memory": "bulk memory",
    "wasm_multi_value": "multi-value",
    "wasm_multi_memory": "multi-memory",
    "wasm_memory64": "memory64",
    "wasm_tail_call": "tail calls",
    "wasm_extended_const": "extended constant expressions",
}
"""Proposals pyjitwasm always accepts (they cannot be turned off)."""
UNIMPLEMENTED_PROPOSALS = {
    "wasm_threads": "threads",
    "wasm_exceptions": "exception handling",
    "wasm_gc": "garbage collection",
    "wasm_function_references": "typed function references",
    "wasm_component_model": "the component model",
    "wasm_component_model_map": "the component model's map type",
    "wasm_wide_arithmetic": "wide arithmetic",
    "wasm_stack_switching": "stack switching",
}
"""Proposals pyjitwasm does not implement (they can only be turned off)."""


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ArgumentTypeError(f"{name} expects a bool, got {type(value).__name__}")
    return value


def host_triple() -> str:
    """The target triple pyjitwasm compiles for (Wasmtime's spelling)."""
    host = os.uname()  # what platform.machine() and platform.system() return
    machine = host.machine.lower()
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    system = host.sysname.lower()
    if system == "linux":
        return f"{arch}-unknown-linux-gnu"
    if system == "darwin":
        return f"{arch}-apple-darwin"
    return f"{arch}-pc-windows-msvc" if system == "windows" else f"{arch}-unknown-{system}"


def _size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise WasmValueError(f"{name} must be a non-negative int (bytes)")
    return value


def _proposal_property(setting: str) -> property:
    def get(self: Config) -> bool:
        return setting in IMPLEMENTED_PROPOSALS

    def set_(self: Config, enable: bool) -> None:
        self._proposal(setting, enable)

    proposal = (IMPLEMENTED_PROPOSALS | UNIMPLEMENTED_PROPOSALS)[setting]
    return property(get, set_, doc=f"The {proposal} proposal.")


def _relaxed_property(setting: str, default: bool) -> property:
    def get(self: Config) -> bool:
        return bool(self.__dict__.get(setting, default))

    def set_(self: Config, enable: bool) -> None:
        self._relaxed_simd(setting, enable)

    return property(get, set_)


def _hint_property(setting: str, kind: type) -> property:
    def get(self: Config) -> Any:
        return self.hints.get(setting)

    def set_(self: Config, value: Any) -> None:
        if kind is bool:
            value = _bool(setting, value)
        elif isinstance(value, bool) or not isinstance(value, kind):
            raise ArgumentTypeError(f"{setting} expects a {kind.__name__}")
        self.hints[setting] = value

    return property(get, set_, doc="Accepted as a hint; it changes nothing observable.")



class Config:
    """Engine settings; give one to ``Engine(config)``, which consumes it (as in
    wasmtime-py, a Config serves one Engine; ``close()`` discards it unused).

    ``strategy``: see :data:`STRATEGIES` (default ``"auto"``: the JIT).
    ``max_call_depth`` bounds nested wasm calls (frames); ``max_wasm_stack`` is wasmtime's
    byte budget and, when given without ``max_call_depth``, is converted at 64 bytes per
    frame. Exceeding the bound traps with ``TrapCode.STACK_OVERFLOW``. ``max_host_nesting``
    bounds how deeply wasm -> host -> wasm calls may nest (each level recurses in Python).

    JIT only: ``max_wasm_stack`` is the native stack budget in bytes (default 1 MiB; the
    frame count ``max_call_depth`` does not apply). ``memory_style`` is how 32-bit
    memories are bounds-checked: ``"static"`` (4 GiB reservation plus guard pages, no
    explicit checks) or ``"dynamic"`` (explicit checks; 64-bit memories always are);
    ``dynamic_memory_reserve`` is the address space a dynamic memory reserves to grow
    into before it has to move (moving remaps its pages, it never copies them).
    wasmtime-py's ``memory_reservation`` (>= 4 GiB: static, else dynamic) and
    ``memory_reservation_for_growth`` (the dynamic reserve) set these two.
    ``lazy_compilation`` (a pyjitwasm setting): compile each function on its first call
    (the default) rather than the whole module when it is created; None takes the
    default, which ``PYJITWASM_LAZY=0`` in the environment turns to eager.
    ``tiered_compilation`` (a pyjitwasm setting): lazily compiled functions start with
    quickly compiled tier-0 code and hot ones are recompiled optimized (tier 1) on a
    background thread (the default); False compiles every function at tier 1 on its
    first call; None takes the default, which ``PYJITWASM_TIERS=0`` turns off.  Eager
    compilation is always tier 1.
    ``direct_tier0`` (a pyjitwasm setting): tier-0 code is written straight from wasm to
    LLVM text (``baseline/``, the default) rather than through the compiler's IR; a
    function the direct writer does not cover (SIMD, for one) always takes the IR. None
    takes the default, which ``PYJITWASM_TIER0_DIRECT=0`` turns off.
    ``tier0_x64`` (a pyjitwasm setting): tier-0 batches are compiled to x86-64 machine
    code in one pass, without LLVM (``x64/``, the default on x86-64 Linux); a batch it
    does not cover (SIMD, reference types, a dynamic heap...) takes the LLVM tier 0
    above.  None takes the default, which ``PYJITWASM_TIER0_X64=0`` turns off.
    """

    def __init__(
        self,
        strategy: str = "auto",
        max_wasm_stack: int | None = None,
        max_call_depth: int | None = None,
        max_host_nesting: int = 100,
        memory_style: str = "static",
        dynamic_memory_reserve: int = 1 << 30,
        lazy_compilation: bool | None = None,
        tiered_compilation: bool | None = None,
        direct_tier0: bool | None = None,
        tier0_x64: bool | None = None,
    ) -> None:
        self._closed = False
        self._consumed = False
        self.opt_level = OPT_LEVELS["speed"]
        self.verify_ir = False
        self.strategy = strategy
        if memory_style not in MEMORY_STYLES:
            raise WasmValueError(
                f"unknown memory style {memory_style!r}; expected {MEMORY_STYLES}")
        self.memory_style = memory_style
        if not isinstance(dynamic_memory_reserve, int) or dynamic_memory_reserve < 0:
            raise WasmValueError("dynamic_memory_reserve must be a non-negative int (bytes)")
        self.dynamic_memory_reserve = dynamic_memory_reserve
        self.lazy_compilation = lazy_compilation
        self.tiered_compilation = tiered_compilation
        self.direct_tier0 = direct_tier0
        self.tier0_x64 = tier0_x64
        self._max_call_depth: int | None = None
        self._max_wasm_stack: int | None = None
        if max_wasm_stack is not None:
            self.max_wasm_stack = max_wasm_stack
        if max_call_depth is not None:
            self.max_call_depth = max_call_depth
        self.max_host_nesting = max_host_nesting
        self.hints: dict[str, Any] = {}
        """Settings accepted as hints with no observable effect, by name (for inspection)."""
        self._cache_setting: bool | str = False
        self._cache_directory: Path | None = None
        self.cache_size_limit: int | None = None

    # Lifetime ---------------------------------------------------------------------------

    def _open(self) -> None:
        if self._closed or self._consumed:
            raise ValueError("this Config was closed or already used to create an Engine")

    def close(self) -> None:
        """Discard this Config; it can no longer be changed or given to an Engine."""
        self._closed = True

    def __enter__(self) -> Config:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _consume(self) -> None:
        """Called by ``Engine``: the config now belongs to that engine."""
        self._open()
        self._consumed = True

    def __setattr__(self, name: str, value: Any) -> None:
        # Every public setting of a closed or consumed Config is refused (the
        # engine already read it); private state is not a setting.
        if not name.startswith("_"):
            self._open()
        super().__setattr__(name, value)

    # Execution strategy -----------------------------------------------------------------

    @property
    def strategy(self) -> str:
        return self._strategy

    @strategy.setter
    def strategy(self, value: str) -> None:
        if value not in STRATEGIES:
            raise WasmValueError(f"unknown strategy {value!r}; expected one of {STRATEGIES}")
        self._strategy = value

    @property
    def engine_strategy(self) -> str:
        """The engine this config selects: ``"jit"`` or ``"interp"``. For ``"auto"`` the
        environment variable ``PYJITWASM_AUTO_STRATEGY`` (``jit`` or ``interp``) may pick,
        so a whole program can be run on the interpreter without changing it."""
        if self._strategy == "auto":
            chosen = os.environ.get(AUTO_STRATEGY_ENV, AUTO_STRATEGY)
            if chosen not in ("jit", "interp"):
                raise WasmValueError(f"${AUTO_STRATEGY_ENV} must be jit or interp, "
                                     f"not {chosen!r}")
            return chosen
        return ENGINE_OF_STRATEGY[self._strategy]

    @property
    def compile_opt_level(self) -> int:
        """The JIT's optimisation level (``"winch"``, the baseline strategy, uses 0)."""
        return 0 if self._strategy == "winch" else self.opt_level

    @property
    def cranelift_opt_level(self) -> str:
        return next(name for name, level in OPT_LEVELS.items() if level == self.opt_level)

    @cranelift_opt_level.setter
    def cranelift_opt_level(self, value: str) -> None:
        if value not in OPT_LEVELS:
            raise WasmValueError(f"unknown opt level {value!r}; expected one of "
                                 f"{tuple(OPT_LEVELS)}")
        self.opt_level = OPT_LEVELS[value]

    @property
    def cranelift_debug_verifier(self) -> bool:
        """Run the IR verifier on every compiled function (the JIT)."""
        return self.verify_ir

    @cranelift_debug_verifier.setter
    def cranelift_debug_verifier(self, value: bool) -> None:
        self.verify_ir = _bool("cranelift_debug_verifier", value)

    def cranelift_flag_set(self, name: str, value: str) -> None:
        """Cranelift's ``opt_level`` flag maps onto ``cranelift_opt_level``; pyjitwasm
        compiles with LLVM, so other Cranelift flags have no meaning and are refused."""
        if name == "opt_level":
            self.cranelift_opt_level = value
            return
        raise UnsupportedConfigError(f"cranelift flag {name!r}",
                                     "pyjitwasm compiles with LLVM, not Cranelift")

    def cranelift_flag_enable(self, name: str) -> None:
        raise UnsupportedConfigError(f"cranelift flag {name!r}",
                                     "pyjitwasm compiles with LLVM, not Cranelift")

    @property
    def cranelift_nan_canonicalization(self) -> bool:
        return False

    @cranelift_nan_canonicalization.setter
    def cranelift_nan_canonicalization(self, value: bool) -> None:
        if _bool("cranelift_nan_canonicalization", value):
            raise UnsupportedConfigError("cranelift_nan_canonicalization",
                                         "NaN canonicalization is not implemented")

    @property
    def target(self) -> str:
        return host_triple()

    @target.setter
    def target(self, value: str) -> None:
        if value != host_triple():
            raise WasmValueError(f"target {value!r}: pyjitwasm compiles only for the host "
                                 f"({host_triple()})")

    # Limits -----------------------------------------------------------------------------

    @property
    def max_wasm_stack(self) -> int | None:
        return self._max_wasm_stack

    @max_wasm_stack.setter
    def max_wasm_stack(self, value: int) -> None:
        if not isinstance(value, int) or value <= 0:
            raise WasmValueError("max_wasm_stack must be a positive int (bytes)")
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
            raise WasmValueError("max_call_depth must be a positive int")
        self._max_call_depth = value

    # Memories ---------------------------------------------------------------------------

    @property
    def memory_reservation(self) -> int:
        return STATIC_RESERVATION if self.memory_style == "static" \
            else self.dynamic_memory_reserve

    @memory_reservation.setter
    def memory_reservation(self, size: int) -> None:
        """At least 4 GiB: 32-bit memories are static (no bounds checks); less: dynamic,
        reserving ``size`` bytes to grow into."""
        size = _size("memory_reservation", size)
        if size >= STATIC_RESERVATION:
            self.memory_style = "static"
        else:
            self.memory_style = "dynamic"
            self.dynamic_memory_reserve = size

    @property
    def memory_reservation_for_growth(self) -> int:
        return self.dynamic_memory_reserve

    @memory_reservation_for_growth.setter
    def memory_reservation_for_growth(self, size: int) -> None:
        self.dynamic_memory_reserve = _size("memory_reservation_for_growth", size)

    @property
    def memory_may_move(self) -> bool:
        return True

    @memory_may_move.setter
    def memory_may_move(self, value: bool) -> None:
        if not _bool("memory_may_move", value):
            raise UnsupportedConfigError("memory_may_move", "dynamic memories move when they "
                                         "outgrow their reservation; this cannot be disabled")

    @property
    def signals_based_traps(self) -> bool:
        return True

    @signals_based_traps.setter
    def signals_based_traps(self, value: bool) -> None:
        if not _bool("signals_based_traps", value):
            raise UnsupportedConfigError("signals_based_traps", "the JIT always uses a signal "
                                         "handler (for stack overflow and static memories)")

    # Instance allocation (the pooling allocator, runtime/pooling.py) ------------------

    @property
    def allocation_strategy(self) -> str | PoolingAllocationConfig:
        """``"on_demand"`` (the default: each instance maps its own memories) or the
        pooling allocator's limits (a :class:`PoolingAllocationConfig`; setting the string
        ``"pooling"`` takes Wasmtime's default limits). Wasmtime's
        ``Config::allocation_strategy``."""
        return self.__dict__.get("_allocation_strategy", "on_demand")

    @allocation_strategy.setter
    def allocation_strategy(self, value: str | PoolingAllocationConfig) -> None:
        if value == "pooling":
            value = PoolingAllocationConfig()
        elif isinstance(value, PoolingAllocationConfig):
            value = value.copy()
        elif value != "on_demand":
            raise WasmValueError(f"unknown allocation strategy {value!r}; expected "
                                 "\"on_demand\", \"pooling\" or a PoolingAllocationConfig")
        self._allocation_strategy = value

    @property
    def pooling(self) -> PoolingAllocationConfig | None:
        """The pooling allocator's limits, or None for on-demand allocation."""
        strategy = self.allocation_strategy
        return strategy if isinstance(strategy, PoolingAllocationConfig) else None

    # Proposals --------------------------------------------------------------------------

    def _proposal(self, setting: str, enable: bool) -> None:
        enable = _bool(setting, enable)
        if setting in IMPLEMENTED_PROPOSALS and not enable:
            raise UnsupportedConfigError(setting, f"pyjitwasm always accepts "
                                         f"{IMPLEMENTED_PROPOSALS[setting]}; it cannot be "
                                         "turned off")
        if setting in UNIMPLEMENTED_PROPOSALS and enable:
            raise UnsupportedConfigError(setting, f"the {UNIMPLEMENTED_PROPOSALS[setting]} "
                                         "proposal is not implemented")

    def _relaxed_simd(self, setting: str, enable: bool) -> None:
        # wasm_relaxed_simd gates the opcodes. relaxed_simd_deterministic picks the JIT's
        # results: off (Wasmtime's default), the host's native instructions; on,
        # Wasmtime's deterministic results (translate/simd_relaxed.py). The interpreter
        # computes the deterministic results either way (both are allowed results).
        self.__dict__[setting] = _bool(setting, enable)

    wasm_relaxed_simd = _relaxed_property("wasm_relaxed_simd", True)
    relaxed_simd_deterministic = _relaxed_property("relaxed_simd_deterministic", False)
    # The wasmtime-py spelling of the deterministic flag.
    wasm_relaxed_simd_deterministic = _relaxed_property("relaxed_simd_deterministic", False)

    @property
    def wasm_custom_page_sizes(self) -> bool:
        """The custom page sizes proposal: memory types may declare 1-byte pages
        (``(memory 1 (pagesize 1))``). Off by default, as in Wasmtime; a module that
        declares a page size is then refused with ``UnsupportedFeatureError`` naming
        the proposal."""
        return bool(self.__dict__.get("_custom_page_sizes", False))

    @wasm_custom_page_sizes.setter
    def wasm_custom_page_sizes(self, enable: bool) -> None:
        self._custom_page_sizes = _bool("wasm_custom_page_sizes", enable)

    @property
    def features(self) -> Features:
        """The proposals modules compiled with this config may use (the decoder's flags)."""
        return Features(relaxed_simd=self.wasm_relaxed_simd,
                        custom_page_sizes=self.wasm_custom_page_sizes)

    # Interruption (runtime/interrupts.py) ---------------------------------------------

    @property
    def consume_fuel(self) -> bool:
        """Meter execution with the store's fuel (``Store.set_fuel``): code checks it at
        function entries and loop headers and traps with ``TrapCode.OUT_OF_FUEL`` once it
        is used up. Off by default (the checks cost time)."""
        return self.__dict__.get("_consume_fuel", False)

    @consume_fuel.setter
    def consume_fuel(self, value: bool) -> None:
        self._consume_fuel = _bool("consume_fuel", value)

    @property
    def epoch_interruption(self) -> bool:
        """Check the engine's epoch (``Engine.increment_epoch``) against the store's
        deadline (``Store.set_epoch_deadline``) at function entries and loop headers,
        trapping with ``TrapCode.INTERRUPT`` once it is reached. Off by default."""
        return self.__dict__.get("_epoch_interruption", False)

    @epoch_interruption.setter
    def epoch_interruption(self, value: bool) -> None:
        self._epoch_interruption = _bool("epoch_interruption", value)

    @property
    def profiler(self) -> str:
        return "none"

    @profiler.setter
    def profiler(self, value: str) -> None:
        if value not in PROFILERS:
            raise WasmValueError(f"unknown profiler {value!r}; expected one of {PROFILERS}")
        if value != "none":
            raise UnsupportedConfigError(f"profiler {value!r}",
                                         "profiler integration is not yet supported")

    # Hints: accepted, no observable effect --------------------------------------------

    # The code cache --------------------------------------------------------------------

    @property
    def cache(self) -> bool | str:
        """The code cache setting (``False``: no cache, the default)."""
        return self._cache_setting

    @cache.setter
    def cache(self, value: bool | str | os.PathLike[str]) -> None:
        """wasmtime-py's compiled-code cache switch: ``True`` (the default directory), or
        the path of a cache directory or of a TOML cache configuration file (either must
        exist).  See ``pyjitwasm/cache_config.py`` and ``cache_directory``."""
        if isinstance(value, bool):
            if not value:
                raise WasmValueError("caching cannot be explicitly disabled")
        elif not isinstance(value, str | os.PathLike):
            raise ArgumentTypeError("cache expects a bool or a path")
        try:
            directory = cache_directory_of(value)
            size_limit = cache_size_limit_of(value)
        except ValueError as exc:
            raise WasmValueError(str(exc)) from None
        self._cache_setting = value if isinstance(value, bool) else os.fspath(value)
        self._cache_directory = directory
        self.cache_size_limit = size_limit
        """Bytes the code cache keeps at most (least recently used entries go first)."""

    @property
    def cache_directory(self) -> str | None:
        """Where compiled code is cached (None: nowhere), as the ``cache`` setting and
        ``$PYJITWASM_CACHE`` decide when it was set."""
        return None if self._cache_directory is None else str(self._cache_directory)


for _setting in (*IMPLEMENTED_PROPOSALS, *UNIMPLEMENTED_PROPOSALS):
    setattr(Config, _setting, _proposal_property(_setting))


def _parallel_compilation_property() -> property:
    hint = _hint_property("parallel_compilation", bool)
    return property(hint.fget, hint.fset, doc=(
        "wasmtime-py's switch for compiling on several threads.  pyjitwasm compiles "
        "on other cores in worker processes: eager compilation of a large module, "
        "and, for a large lazily compiled module, tier-ups and compiles ahead "
        "(``runtime/jit/compile_worker.py``).  False keeps every compile in this "
        "process; unset or True leaves the choice to pyjitwasm (and "
        "``PYJITWASM_COMPILE_WORKER``).  Compiled code is the same either way."))


for _setting, _kind in (("debug_info", bool),
                        ("gc_support", bool), ("native_unwind_info", bool),
                        ("macos_use_mach_ports", bool), ("memory_init_cow", bool),
                        ("memory_guard_size", int)):
    setattr(Config, _setting, _hint_property(_setting, _kind))
setattr(Config, "parallel_compilation", _parallel_compilation_property())  # noqa: B010
