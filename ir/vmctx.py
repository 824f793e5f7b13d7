"""The vmctx layout compiled code assumes, and how the translator declares its pieces.

vmctx points at a block of pointer-sized slots, in this order:

* one per memory (imports first): a pointer to that memory's definition, a pair of
  u64 ``{base, length_in_bytes}`` (the base may move when a dynamic memory grows);
* one per global (imports first): a pointer to the global's 16-byte storage (the value
  sits at offset 0 in its little-endian form; ref values as pointer-sized ints);
* two per imported function: its code pointer and the vmctx to call it with;
* one per table: a pointer to ``{base, length_in_elements}``, elements pointer-sized.

The runtime must build vmctx to match (``VMContextLayout`` gives the offsets).
"""

from __future__ import annotations

from dataclasses import dataclass

from pyjitwasm.wasm.module import WasmModule

SLOT = 8
MEMORY_BASE_OFFSET = 0
MEMORY_LENGTH_OFFSET = 8
TABLE_BASE_OFFSET = 0
TABLE_LENGTH_OFFSET = 8
TABLE_ELEMENT_SIZE = 8


@dataclass(frozen=True, slots=True)
class VMContextLayout:
    """Byte offsets of each slot group in vmctx for one module."""

    num_memories: int
    num_globals: int
    num_imported_funcs: int
    num_tables: int

    @staticmethod
    def for_module(module: WasmModule) -> VMContextLayout:
        return VMContextLayout(len(module.memory_types()), len(module.global_types()),
                               module.num_imported_funcs, len(module.table_types()))

    @property
    def memories_offset(self) -> int:
        return 0

    @property
    def globals_offset(self) -> int:
        return self.memories_offset + SLOT * self.num_memories

    @property
    def imported_funcs_offset(self) -> int:
        return self.globals_offset + SLOT * self.num_globals

    @property
    def tables_offset(self) -> int:
        return self.imported_funcs_offset + 2 * SLOT * self.num_imported_funcs

    @property
    def size(self) -> int:
        return self.tables_offset + SLOT * self.num_tables

    def memory(self, index: int) -> int:
        """Offset of the slot pointing at memory ``index``'s definition."""
        return self.memories_offset + SLOT * index

    def global_(self, index: int) -> int:
        return self.globals_offset + SLOT * index

    def imported_func_code(self, index: int) -> int:
        return self.imported_funcs_offset + 2 * SLOT * index

    def imported_func_vmctx(self, index: int) -> int:
        return self.imported_func_code(index) + SLOT

    def table(self, index: int) -> int:
        return self.tables_offset + SLOT * index
