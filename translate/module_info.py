"""What translation and the runtime share about a module, without the IR: how its
memories are accessed (``HeapConfig``), which interruption checks its code makes, the
symbol names of its functions, the IR types of wasm values, and the per-module facts
every function's translation reads (``ModuleInfo``).

The runtime and the tier-0 compilers (``x64/``, ``baseline/``) need these but not the IR
(``ir/function.py``, ``ir/instructions.py``), which a warm start or an ``x64/`` tier 0 then
never imports (``translate/env.py`` holds what declares IR entities).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pyjitwasm.ir.types import Type
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.ir_types import from_wasm
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import MemoryType


@dataclass(frozen=True, slots=True)
class HeapConfig:
    """How linear memories are accessed.

    ``style``: how loads and stores are bounds-checked, ``dynamic`` (explicit checks
    against the current length, always safe) or ``static`` (a reservation of
    ``static_bound`` bytes plus ``guard`` bytes of faulting pages, for 32-bit memories
    only; 64-bit memories stay dynamic). ``inline_bulk_memory``: translate
    ``memory.copy``/``memory.fill`` to an explicit bounds check and ``memmove``/
    ``memset`` (else they call the ``memory_copy``/``memory_fill`` libcalls)."""

    style: str = "dynamic"
    static_bound: int = 1 << 32
    guard: int = 1 << 31
    inline_bulk_memory: bool = True


# The smallest page size whose memories' lengths always end on an OS page boundary
# (64 KiB is a multiple of the 4, 16 and 64 KiB pages of the hosts we run on).
STATIC_HEAP_MIN_PAGE_SIZE = 1 << 16


def uses_static_heap(style: str, mtype: MemoryType) -> bool:
    """Whether a memory of ``mtype`` is a static heap under heap style ``style``: only
    32-bit memories of 64 KiB pages are. A static heap has no bounds checks and relies
    on the guard pages that start right after its length; with 1-byte pages (custom
    page sizes) the length can end inside an OS page, whose remaining bytes would not
    fault, so such a memory is bounds-checked against its exact length (dynamic)."""
    return (style == "static" and not mtype.is_64
            and mtype.page_size >= STATIC_HEAP_MIN_PAGE_SIZE)


@dataclass(frozen=True, slots=True)
class InterruptChecks:
    """Which interruption checks compiled code makes (``translate/interrupts.py``):
    ``epoch`` (``Config.epoch_interruption``) and ``fuel`` (``Config.consume_fuel``).
    With both off the translation is exactly what it is without this."""

    epoch: bool = False
    fuel: bool = False


def ir_value_types(valtypes: Iterable[int]) -> tuple[Type, ...]:
    """The IR types of wasm value types (a wasm signature's params or results), as the
    back end's ABI (``jit/abi.py``) takes them."""
    return tuple(from_wasm(t) for t in valtypes)


def function_name(index: int) -> str:
    """The symbol name compiled code uses for function ``index``."""
    return f"wasm_func_{index}"


class ModuleInfo:
    """Per-module facts every function's translation shares (computed once)."""

    def __init__(self, module: WasmModule, config: HeapConfig,
                 checks: InterruptChecks | None = None, *,
                 relaxed_simd_deterministic: bool = True) -> None:
        self.module = module
        self.config = config
        self.checks = checks or InterruptChecks()
        # Relaxed SIMD: Wasmtime's deterministic results, or the host's native ones
        # (translate/simd_relaxed.py).
        self.relaxed_simd_deterministic = relaxed_simd_deterministic
        self.layout = vm.layout_for_module(module)
        self.func_refs = vm.func_ref_indices(module)
        self.func_types = module.func_types()
        self.memory_types = module.memory_types()
        self.table_types = module.table_types()
        self.global_types = module.global_types()
        self.num_imported_funcs = self.layout.num_imported_funcs
