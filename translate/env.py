"""Where a translated function finds the module's entities: declarations on demand.

One ``FuncEnv`` per IR function declares the global values, heaps, tables, signatures and
external functions the translation asks for, each once, following the vmctx layout
(``vmctx``): defined memories and tables sit inline in vmctx, imported ones are reached
through a pointer to the owner's definition.
"""

from __future__ import annotations

from collections.abc import Callable

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
from pyjitwasm.translate.module_info import ModuleInfo, uses_static_heap
from pyjitwasm.wasm.types import FuncType

READONLY = MemFlags(notrap=True, aligned=True, readonly=True)
"""Flags for vmctx fields that never change while compiled code runs."""


def function_signature(ftype: FuncType) -> Signature:
    """The IR signature of a wasm function: vmctx first, then the wasm parameters."""
    return Signature([AbiParam(POINTER, "vmctx")] + [AbiParam(from_wasm(t)) for t in ftype.params],
                     [from_wasm(t) for t in ftype.results])


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
