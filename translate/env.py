"""Where a translated function finds the module's entities: declarations on demand.

One ``FuncEnv`` per IR function declares the global values, heaps, tables, signatures and
external functions the translation asks for, each once, following the vmctx layout
(``vmctx``): defined memories and tables sit inline in vmctx, imported ones are reached
through a pointer to the owner's definition.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pyjitwasm.ir.entities import FuncRef, GlobalValue, Heap, SigRef, Table
from pyjitwasm.ir.function import (
    AbiParam,
    ExtFuncData,
    Function,
    GlobalValueData,
    HeapData,
    Signature,
    TableData,
)
from pyjitwasm.ir.immediates import TRUSTED, MemFlags
from pyjitwasm.ir.types import I32, I64, POINTER, Type
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.ir_types import from_wasm
from pyjitwasm.translate.libcalls import Libcall
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import FuncType, MemoryType

READONLY = MemFlags(notrap=True, aligned=True, readonly=True)
"""Flags for vmctx fields that never change while compiled code runs."""


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


def function_signature(ftype: FuncType) -> Signature:
    """The IR signature of a wasm function: vmctx first, then the wasm parameters."""
    return Signature([AbiParam(POINTER, "vmctx")] + [AbiParam(from_wasm(t)) for t in ftype.params],
                     [from_wasm(t) for t in ftype.results])


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


class FuncEnv:
    """Declarations of one IR function, created on first use."""

    def __init__(self, info: ModuleInfo, func: Function) -> None:
        self.info = info
        self.layout = info.layout
        self.func = func
        self.vmctx_gv = func.vmctx_global()
        self._heaps: dict[int, Heap] = {}
        self._memory_base: dict[int, GlobalValue] = {}
        self._memory_length: dict[int, GlobalValue] = {}
        self._tables: dict[int, Table] = {}
        self._table_gvs: dict[int, tuple[GlobalValue, GlobalValue]] = {}
        self._global_ptrs: dict[int, GlobalValue] = {}
        self._code_slots: GlobalValue | None = None
        self._ext: dict[str, FuncRef] = {}
        self._sigs: dict[tuple[tuple[AbiParam, ...], tuple[Type, ...]], SigRef] = {}

    def _load_gv(self, base: GlobalValue, offset: int, flags: MemFlags) -> GlobalValue:
        return self.func.create_global_value(GlobalValueData("load", POINTER, base, offset,
                                                             flags))

    def _definition(self, index: int, num_imported: int, imported_offset: Callable[[int], int],
                    defined_offset: Callable[[int], int]) -> tuple[GlobalValue, int]:
        """(global value, offset) addressing a memory or table definition: vmctx itself
        for an inline definition, the loaded pointer for an imported one."""
        if index < num_imported:
            return self._load_gv(self.vmctx_gv, imported_offset(index), READONLY), 0
        return self.vmctx_gv, defined_offset(index - num_imported)

    # Memories --------------------------------------------------------------------------

    def heap(self, memory: int) -> Heap:
        """The heap of memory ``memory``."""
        if memory not in self._heaps:
            layout = self.layout
            mtype = self.info.memory_types[memory]
            static = uses_static_heap(self.info.config.style, mtype)
            owner, at = self._definition(memory, layout.num_imported_memories,
                                         layout.imported_memory, layout.memory)
            # A static heap never moves; a dynamic one may move when it grows.
            base = self._load_gv(owner, at + vm.MEMORY_DEF_BASE, READONLY if static else TRUSTED)
            length = self._load_gv(owner, at + vm.MEMORY_DEF_LENGTH, TRUSTED)
            index_type = I64 if mtype.is_64 else I32
            if static:
                data = HeapData("static", base, self.info.config.static_bound,
                                self.info.config.guard, index_type)
            else:
                data = HeapData("dynamic", base, length, 0, index_type)
            self._heaps[memory] = self.func.create_heap(data)
            self._memory_base[memory] = base
            self._memory_length[memory] = length
        return self._heaps[memory]

    def memory_base(self, memory: int) -> GlobalValue:
        """Global value: the address of memory ``memory``'s first byte (i64)."""
        self.heap(memory)
        return self._memory_base[memory]

    def memory_length(self, memory: int) -> GlobalValue:
        """Global value: memory ``memory``'s current length in bytes (i64)."""
        self.heap(memory)
        return self._memory_length[memory]

    def memory_is_64(self, memory: int) -> bool:
        return self.info.memory_types[memory].is_64

    def memory_page_size_log2(self, memory: int) -> int:
        """log2 of memory ``memory``'s page size (16, or 0 with custom page sizes)."""
        return self.info.memory_types[memory].page_size_log2

    # Tables ----------------------------------------------------------------------------

    def _table_globals(self, table: int) -> tuple[GlobalValue, GlobalValue]:
        if table not in self._table_gvs:
            layout = self.layout
            owner, at = self._definition(table, layout.num_imported_tables,
                                         layout.imported_table, layout.table)
            # Not readonly: table.grow may move the elements.
            elements = self._load_gv(owner, at + vm.TABLE_DEF_ELEMENTS, TRUSTED)
            length = self._load_gv(owner, at + vm.TABLE_DEF_LENGTH, TRUSTED)
            self._table_gvs[table] = (elements, length)
        return self._table_gvs[table]

    def table(self, table: int) -> Table:
        """The IR table of wasm table ``table`` (word-sized elements, see ``vmctx``)."""
        if table not in self._tables:
            elements, length = self._table_globals(table)
            index_type = I64 if self.table_is_64(table) else I32
            self._tables[table] = self.func.create_table(
                TableData(elements, length, vm.WORD, index_type))
        return self._tables[table]

    def table_base(self, table: int) -> GlobalValue:
        """Global value: the address of table ``table``'s first element."""
        return self._table_globals(table)[0]

    def table_bound(self, table: int) -> GlobalValue:
        """Global value: table ``table``'s current length in elements (i64)."""
        return self._table_globals(table)[1]

    def table_is_64(self, table: int) -> bool:
        return self.info.table_types[table].is_64

    def table_elem_type(self, table: int) -> int:
        return self.info.table_types[table].elem_type

    # Globals ---------------------------------------------------------------------------

    def imported_global_ptr(self, index: int) -> GlobalValue:
        """Global value: the address of imported global ``index``'s slot."""
        if index not in self._global_ptrs:
            self._global_ptrs[index] = self._load_gv(
                self.vmctx_gv, self.layout.imported_global(index), READONLY)
        return self._global_ptrs[index]

    def num_imported_globals(self) -> int:
        return self.layout.num_imported_globals

    # Functions -------------------------------------------------------------------------

    def code_slots(self) -> GlobalValue:
        """Global value: the address of the module's code slot table (one word per
        defined function; the table never moves, the words in it change)."""
        if self._code_slots is None:
            self._code_slots = self._load_gv(self.vmctx_gv, self.layout.code_slots, READONLY)
        return self._code_slots

    def signature(self, sig: Signature) -> SigRef:
        key = (tuple(sig.params), tuple(sig.returns))
        if key not in self._sigs:
            self._sigs[key] = self.func.import_signature(sig)
        return self._sigs[key]

    def ext_func(self, name: str, sig: Signature, cold: bool = False) -> FuncRef:
        if name not in self._ext:
            self._ext[name] = self.func.import_function(
                ExtFuncData(name, self.signature(sig), cold))
        return self._ext[name]

    def libcall(self, libcall: Libcall) -> FuncRef:
        """The external function ``%libcall_<name>``."""
        return self.ext_func(libcall.symbol, libcall.signature(), libcall.cold)
