"""Layout of the VM context (vmctx): the per-instance block compiled code reads.

This is the one definition of the layout: the translator (``ir``) computes offsets from
it, the JIT and the runtime (higher layers) import it from here.

Compiled code gets a pointer to its instance's vmctx as first argument and finds
everything at offsets fixed per module (they depend only on the module's counts, so the
code generator computes them before any instance exists).  All fields are naturally
aligned little-endian words.  Regions, in order::

    header             limits      ptr @0   (the store's limits record, shared by its
                                             instances: word 0 the store's stack budget,
                                             from which a thread's outermost native invoke
                                             sets that thread's stack limit;
                                             LIMITS_FUEL_CONSUMED and LIMITS_EPOCH_DEADLINE
                                             the interruption state, see ``interrupts``)
                       epoch_poll  ptr @8   (the store's epoch poll page: its word 0 is
                                             the store's copy of the engine's epoch,
                                             which epoch checks read; a load from it
                                             faults once the deadline is reached, see
                                             ``interrupts``; readable memory when the
                                             engine has no epoch checks)
                       libcalls    ptr @16  (table of runtime entry points, see LIBCALL_*)
                       store       u64 @24  (opaque handle the host side uses)
    signature_ids      u32 x n_types, padded to 8: canonical (store-wide) ids of the
                       module's types, written at instantiation; call_indirect compares.
    imported_funcs     VMFuncImport {code slot ptr, vmctx ptr} x n: for a wasm import the
                       slot is the exporter's code slot of the function and vmctx the
                       exporter's; for a host import the slot holds the signature's host
                       shim and vmctx is a host-function context (HOST_INDEX_OFFSET).
    imported_memories  ptr to the owner's VMMemoryDefinition x n
    imported_tables    ptr to the owner's VMTableDefinition x n
    imported_globals   ptr to the owner's 16-byte global slot x n
    memories           VMMemoryDefinition {base ptr, length u64} x n (inline).  Static
                       heaps (4 GiB reservation + guard) only read base; dynamic heaps read
                       length too and bounds-check explicitly.
    tables             VMTableDefinition {elements ptr, length u64} x n (inline)
    globals            16-byte slots x n (inline, v128-sized)
    func_refs          VMFuncRef {code slot ptr, signature id u32, pad, vmctx ptr} x n, one
                       per function that can become a funcref (ref.func / elements /
                       exports).
    code_slots         ptr to the module's code slot table (one word): ``u64[n_defined]``,
                       the current code address of each defined function, shared by every
                       instance of the module.  Placed last only so that adding it moved
                       no other field.
    tier_counters      ptr to the module's tier-up counters (one word): ``i32[n_defined]``,
                       shared like the code slots; tier-0 code counts each function entry
                       and loop iteration down in its function's counter and calls the
                       ``tier_up`` libcall when it goes negative (``translate/tiering.py``).

Code slots: every call that does not go straight to a function compiled in the same
batch finds its target through a code slot, a word holding the function's current
machine-code address.  Direct calls load the slot from the table ``code_slots`` points
at; VMFuncImport and VMFuncRef records hold the *address* of the callee's slot (``code =
*record.slot``), so a slot can change (a lazy-compile stub replaced by compiled code, later
tier-0 code by tier-1) without touching any record.  A slot always holds something
callable with the function's ABI: under lazy compilation it starts at a stub that
compiles the function on its first call (``runtime/jit/lazy.py``).

Indices: the imported_* regions are indexed by import index, the defined regions by
index among the module's own definitions (wasm index minus the number of imports of that
kind).  ``func_ref_indices`` numbers the VMFuncRef records (imported functions included).

Table elements are one word each.  Funcref tables: ``0`` = not yet initialized (lazy
table init: freshly zeroed memory means "ask the runtime"), ``FUNCREF_NULL`` (1) = null,
otherwise ``address_of_VMFuncRef | FUNCREF_INIT_BIT``.  Externref tables hold the
externref value itself (an opaque host handle, 0 = null) and are never lazy.

Reference values outside tables (SSA values, global slots, libcall arguments and results)
are plain pointer-sized words: a funcref is the address of its VMFuncRef, an externref
the host handle, and null is 0 for both.  Global slots hold values at offset 0 in their
little-endian form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyjitwasm.wasm.module import WasmModule, declared_functions
from pyjitwasm.wasm.types import ExternKind

WORD = 8
RUNTIME_LIMITS_OFFSET = 0
EPOCH_POLL_OFFSET = 8
LIBCALLS_OFFSET = 16
STORE_OFFSET = 24
HEADER_SIZE = 32

# The store's limits record (what the header's ``limits`` points at): one per store,
# shared by its instances and its host-function contexts.
LIMITS_STACK_BUDGET = 0  # u64: bytes of native stack a thread's wasm frames may use
LIMITS_FUEL_CONSUMED = 8  # i64: fuel consumed minus fuel granted (>= 0: out of fuel)
LIMITS_EPOCH_DEADLINE = 16  # u64: engine epoch at which epoch checks trap
LIMITS_WORDS = 3

FUNC_IMPORT_SIZE = 16
FUNC_IMPORT_SLOT = 0  # address of the callee's code slot
FUNC_IMPORT_VMCTX = 8

MEMORY_DEF_SIZE = 16
MEMORY_DEF_BASE = 0
MEMORY_DEF_LENGTH = 8

TABLE_DEF_SIZE = 16
TABLE_DEF_ELEMENTS = 0
TABLE_DEF_LENGTH = 8

GLOBAL_SIZE = 16

FUNC_REF_SIZE = 24
FUNC_REF_SLOT = 0  # address of the function's code slot
FUNC_REF_SIGNATURE = 8
FUNC_REF_VMCTX = 16

TABLE_ELEMENT_UNINITIALIZED = 0
FUNCREF_INIT_BIT = 1
FUNCREF_NULL = FUNCREF_INIT_BIT

# Indices into the libcall table (runtime entry points that are not inlined).
LIBCALL_TRAP = 0
LIBCALL_HOST_CALL = 1
LIBCALL_MEMORY_GROW = 2
LIBCALL_TABLE_LAZY_INIT = 3


def _round_up(value: int, align: int) -> int:
    return (value + align - 1) // align * align


@dataclass(frozen=True)
class VMContextLayout:
    """Offsets of every vmctx field for a module with these counts."""

    num_types: int = 0
    num_imported_funcs: int = 0
    num_imported_memories: int = 0
    num_imported_tables: int = 0
    num_imported_globals: int = 0
    num_memories: int = 0
    num_tables: int = 0
    num_globals: int = 0
    num_func_refs: int = 0
    _starts: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sizes = [
            ("signature_ids", _round_up(4 * self.num_types, WORD)),
            ("imported_funcs", FUNC_IMPORT_SIZE * self.num_imported_funcs),
            ("imported_memories", WORD * self.num_imported_memories),
            ("imported_tables", WORD * self.num_imported_tables),
            ("imported_globals", WORD * self.num_imported_globals),
            ("memories", MEMORY_DEF_SIZE * self.num_memories),
            ("tables", TABLE_DEF_SIZE * self.num_tables),
            ("globals", GLOBAL_SIZE * self.num_globals),
            ("func_refs", FUNC_REF_SIZE * self.num_func_refs),
            ("code_slots", WORD),
            ("tier_counters", WORD),
        ]
        starts, offset = {}, HEADER_SIZE
        for name, size in sizes:
            # Globals may hold v128: keep their region 16-byte aligned.
            offset = _round_up(offset, 16 if name == "globals" else WORD)
            starts[name] = offset
            offset += size
        starts["end"] = _round_up(offset, 16)
        object.__setattr__(self, "_starts", starts)

    @staticmethod
    def for_module(module: WasmModule) -> VMContextLayout:
        """The layout of ``module``'s instances (see ``layout_for_module``)."""
        return layout_for_module(module)

    @property
    def size(self) -> int:
        """Total size in bytes (a multiple of 16)."""
        return self._starts["end"]

    def _at(self, region: str, index: int, count: int, stride: int) -> int:
        if not 0 <= index < count:
            raise IndexError(f"{region} index {index} out of range (count {count})")
        return self._starts[region] + stride * index

    def signature_id(self, type_index: int) -> int:
        """Offset of the u32 canonical signature id of module type ``type_index``."""
        return self._at("signature_ids", type_index, self.num_types, 4)

    def imported_func(self, index: int) -> int:
        """Offset of the VMFuncImport of imported function ``index``."""
        return self._at("imported_funcs", index, self.num_imported_funcs, FUNC_IMPORT_SIZE)

    def imported_memory(self, index: int) -> int:
        """Offset of the pointer to imported memory ``index``'s definition."""
        return self._at("imported_memories", index, self.num_imported_memories, WORD)

    def imported_table(self, index: int) -> int:
        """Offset of the pointer to imported table ``index``'s definition."""
        return self._at("imported_tables", index, self.num_imported_tables, WORD)

    def imported_global(self, index: int) -> int:
        """Offset of the pointer to imported global ``index``'s slot."""
        return self._at("imported_globals", index, self.num_imported_globals, WORD)

    def memory(self, index: int) -> int:
        """Offset of defined memory ``index``'s VMMemoryDefinition."""
        return self._at("memories", index, self.num_memories, MEMORY_DEF_SIZE)

    def table(self, index: int) -> int:
        """Offset of defined table ``index``'s VMTableDefinition."""
        return self._at("tables", index, self.num_tables, TABLE_DEF_SIZE)

    def global_(self, index: int) -> int:
        """Offset of defined global ``index``'s 16-byte slot."""
        return self._at("globals", index, self.num_globals, GLOBAL_SIZE)

    def func_ref(self, index: int) -> int:
        """Offset of VMFuncRef record ``index``."""
        return self._at("func_refs", index, self.num_func_refs, FUNC_REF_SIZE)

    @property
    def code_slots(self) -> int:
        """Offset of the pointer to the module's code slot table."""
        return self._starts["code_slots"]

    @property
    def tier_counters(self) -> int:
        """Offset of the pointer to the module's tier-up counter table."""
        return self._starts["tier_counters"]

    @property
    def epoch_poll_ptr(self) -> int:
        """Offset of the pointer to the store's epoch poll page (the polls of epoch
        interruption load from it; ``translate/interrupts.py``)."""
        return EPOCH_POLL_OFFSET


def func_ref_indices(module: WasmModule) -> dict[int, int]:
    """VMFuncRef record number of every function that can become a funcref.

    Those are the functions that validation lets ``ref.func`` name (C.refs: functions
    mentioned in exports, element segments and global initializers), in index order.
    Functions only called directly or through imports need no record.  (Worked out
    once per module: ``WasmModule.func_ref_numbers``; do not change the dict.)
    """
    if module.func_ref_numbers is not None:
        return module.func_ref_numbers
    escaping = declared_functions(module)
    numbers = dict(zip(sorted(escaping), range(len(escaping)), strict=True))
    module.func_ref_numbers = numbers
    return numbers


def layout_for_module(module: WasmModule) -> VMContextLayout:
    """The layout of ``module``'s instances."""
    imports = [imp.kind for imp in module.imports]
    return VMContextLayout(
        num_types=len(module.types),
        num_imported_funcs=imports.count(ExternKind.FUNC),
        num_imported_memories=imports.count(ExternKind.MEMORY),
        num_imported_tables=imports.count(ExternKind.TABLE),
        num_imported_globals=imports.count(ExternKind.GLOBAL),
        num_memories=len(module.memories),
        num_tables=len(module.tables),
        num_globals=len(module.globals),
        num_func_refs=len(func_ref_indices(module)),
    )
