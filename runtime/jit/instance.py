"""Instantiating compiled code: the JIT's instance allocator.

``runtime/instantiation.py`` does the specification's steps; this
allocator gives each instance a vmctx (``vmctx.py``) and places the entities there:
pointers to the imported ones (a function import by its code slot), the defined
memories' and tables' definitions, the global slots, the VMFuncRef records of every
function that may become a funcref, and the pointer to the module's code slot table
(``module_code.py``; shared by the module's instances, so code compiled lazily for one
serves them all).

Funcref tables the instance defines are initialized lazily: their active segments are
recorded in the table and each element is materialized on first use (``table.py``); a
segment of the instance's own functions is written as the words of their VMFuncRef
records at once, which needs none of the function objects.

The defined functions' objects (``FuncInstance`` and ``JitFunc``) are made on first use
(:class:`LazyFunctions`): an instance of a module of thousands of functions reaches a
few of them from Python (exports, the start function, funcrefs read back), and compiled
code reaches all of them through code slots and VMFuncRef records, which the vmctx
template writes without them.
"""

from __future__ import annotations

import threading
import weakref
from array import array
from collections.abc import Iterator, Sequence
from typing import Any, cast

from pyjitwasm.runtime import instantiation
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.images import DataPlan, MemoryImage
from pyjitwasm.runtime.instance import Extern, FuncInstance
from pyjitwasm.runtime.jit.globals import JitGlobal
from pyjitwasm.runtime.jit.memory import STATIC_BOUND, STATIC_GUARD, JitMemory
from pyjitwasm.runtime.jit.shims import preload_host_shims
from pyjitwasm.runtime.jit.slots import MemorySlotPool, SlotReturn
from pyjitwasm.runtime.jit.store import JitFunc, JitState, JitStoreContext, signature_id
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.jit.vmctx import CompiledCode, JitModuleInstance, register_instance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.native import ffi
from pyjitwasm.runtime.pooling import on_store_release
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import DEFAULT_MAX_ELEMENTS, TableInstance
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.module_info import uses_static_heap
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import FUNCREF, GlobalType, MemoryType, TableType


def _jit_context(context: StoreContext) -> JitStoreContext:
    if not isinstance(context, JitStoreContext):
        raise TypeError("compiled code runs only in a store of a JIT engine")
    return context


class _VmctxTemplate:
    """What every instance of a module starts as, computed once per module: the vmctx
    bytes (signature ids, the code slot table and tier counter pointers, the VMFuncRef
    records of the defined functions but for their vmctx word; the rest zero), the
    VMFuncRef numbering, each defined function's type and code slot address, and the
    module's :class:`~pyjitwasm.runtime.instantiation.InstantiationPlan`."""

    __slots__ = ("data", "func_refs", "plan", "func_types", "code_slots", "defined_refs",
                 "ref_vmctx_words", "fits_pools", "parkable", "parked", "parked_stores",
                 "parked_by", "size", "epoch_poll_word", "memory_offsets", "table_offsets",
                 "table_elements", "global_offsets", "_ref_functions", "_segment_words",
                 "__weakref__")

    def __init__(self, code: CompiledCode, data: DataPlan | None = None) -> None:
        module, layout = code.module, code.layout
        # Built in a bytearray seen as u64 words: the defined functions' VMFuncRef
        # records are one contiguous run (records are numbered in function index order,
        # imports first), so each of their fields is one strided slice assignment
        # instead of a Python step per record (CPython for WASI: 5,900 records).
        buf = bytearray(layout.size)
        words = memoryview(buf).cast("Q")
        words[layout.code_slots // 8] = code.slots_address
        words[layout.tier_counters // 8] = code.counters_address
        u32s = memoryview(buf).cast("I")
        for type_index, ftype in enumerate(module.types):
            u32s[layout.signature_id(type_index) // 4] = signature_id(ftype)
        self.func_refs = vm.func_ref_indices(module)
        first = module.num_imported_funcs
        types = module.types
        self.func_types = [types[type_index] for type_index in module.funcs]
        # Defined function k's slot is word k of the code slot table (the layout compiled
        # code indexes: ``code.slot_address``, without a call per function).
        slots_address = code.slots_address
        self.code_slots = list(range(slots_address, slots_address + 8 * len(module.funcs), 8))
        # Function index -> vmctx offset of its VMFuncRef record, for defined functions:
        # the record's code slot and signature are the same in every instance.  Records
        # are numbered in function index order, imports first, so the defined functions'
        # are one contiguous run (CPython for WASI: 5,900 of them).
        func_refs = self.func_refs
        defined = [index for index in func_refs if index >= first]
        stride_bytes = vm.FUNC_REF_SIZE
        first_offset = layout.func_ref(func_refs[defined[0]]) if defined else 0
        self.defined_refs: dict[int, int] = dict(zip(
            defined, range(first_offset, first_offset + stride_bytes * len(defined),
                           stride_bytes), strict=True))
        # The words every instance sets to its own vmctx address: word ``start`` on, one
        # in every FUNC_REF_SIZE // 8, ``count`` of them (``write``).
        self.ref_vmctx_words = (0, 0)
        if defined:
            stride = stride_bytes // 8
            first_word = first_offset // 8
            count = len(defined)
            stop = first_word + stride * count
            assert layout.func_ref(func_refs[defined[-1]]) // 8 == stop - stride  # contiguous
            words[first_word + vm.FUNC_REF_SLOT // 8:stop:stride] = array(
                "Q", [slots_address + 8 * (index - first) for index in defined])
            signatures = {id(ftype): signature_id(ftype) for ftype in types}
            func_types = self.func_types
            words[first_word + vm.FUNC_REF_SIGNATURE // 8:stop:stride] = array(
                "Q", [signatures[id(func_types[index - first])] for index in defined])
            self.ref_vmctx_words = (first_word + vm.FUNC_REF_VMCTX // 8, count)
        words.release()
        u32s.release()
        self.data = bytes(buf)
        self.plan = instantiation.InstantiationPlan(module, data)
        # Offsets every instantiation needs, looked up once (the layout computes them).
        self.epoch_poll_word = layout.epoch_poll_ptr // 8
        self.memory_offsets = [layout.memory(i) for i in range(len(module.memories))]
        self.table_offsets = [layout.table(i) for i in range(len(module.tables))]
        self.global_offsets = [layout.global_(i) for i in range(len(module.globals))]
        # The first elements of each small funcref table the module defines live after
        # the vmctx, in the same buffer (one allocation less per table; a grow moves
        # them out, ``table.py``): the offset of each, or 0 for a table that has its own.
        end = layout.size
        self.table_elements: list[int] = []
        for ttype in module.tables:
            if ttype.elem_type == FUNCREF and 0 < ttype.minimum <= INLINE_TABLE_ELEMENTS:
                self.table_elements.append(end)
                end += 8 * ttype.minimum
            else:
                self.table_elements.append(0)
        self.size = end
        # The pools (``pool.py``) whose per-module limits this module was checked against.
        self.fits_pools: set[object] = set()
        # Whether a pooling allocator may park and reuse its instances, and the parked
        # ones (``pool.py``): instances alone (``parked``), or each with the whole
        # context of the store it was the only instance of (``parked_stores``). They
        # hold this template but not the code, so they go when the code does.
        self.parkable: bool | None = None
        self.parked: list[Any] = []
        self.parked_stores: list[Any] = []
        self.parked_by: object = None  # the allocator that parked some (it counts them)
        # Made on first use: VMFuncRef offset -> defined function index, and per element
        # segment of defined functions the offsets of their records (``segment_words``).
        self._ref_functions: dict[int, int] | None = None
        self._segment_words: dict[tuple[int, ...], Any] = {}

    def function_at_ref(self, offset: int) -> int | None:
        """The defined function whose VMFuncRef record is at ``offset`` in the vmctx."""
        by_offset = self._ref_functions
        if by_offset is None:
            by_offset = self._ref_functions = {
                ref: index for index, ref in self.defined_refs.items()}
        return by_offset.get(offset)

    def segment_words(self, numbers: tuple[int, ...], vmctx: int) -> array[int] | None:
        """For an element segment of function ``numbers``, in the instance at ``vmctx``:
        the table words (each function's VMFuncRef address with the funcref tag), or
        None if one is not a defined function with a record (an import)."""
        known = self._segment_words.get(numbers, _UNKNOWN)
        if known is _UNKNOWN:
            known = self._segment_words[numbers] = self._segment_offsets(numbers)
        if known is None:
            return None
        if isinstance(known, tuple):  # consecutive records: no Python step per word
            first, stride, count = known
            return array("Q", range(vmctx + first, vmctx + first + stride * count, stride))
        return array("Q", [vmctx + offset for offset in known])

    def _segment_offsets(self, numbers: tuple[int, ...]) -> Any:
        """What :meth:`segment_words` adds ``vmctx`` to: (first, stride, count) when the
        records are consecutive, else each one's tagged offset; None for an import."""
        refs = self.defined_refs
        tag = vm.FUNCREF_INIT_BIT
        stride = vm.FUNC_REF_SIZE
        if len(numbers) > 1 and numbers == tuple(range(numbers[0], numbers[0] + len(numbers))):
            # Consecutive functions (a C program's function table): the defined ones'
            # records are consecutive in index order, so if the first and the last have
            # records ``count - 1`` strides apart, so does every one between.
            first, last = refs.get(numbers[0]), refs.get(numbers[-1])
            if first is not None and last is not None and \
                    last - first == stride * (len(numbers) - 1):
                return (first | tag, stride, len(numbers))
        offsets = [refs.get(number, -1) for number in numbers]
        if -1 in offsets:
            return None
        return array("Q", [offset | tag for offset in offsets])

    def discard_parked(self) -> None:
        """The module's code is gone: free the parked instances now (a parked store's
        context and its instance refer to each other)."""
        parked, self.parked, self.parked_stores = \
            self.parked + self.parked_stores, [], []
        for tenancy in parked:
            tenancy.discard()

    def write(self, inst: JitModuleInstance, state: JitState) -> None:
        """Make ``inst``'s vmctx this template, for an instance in ``state``'s store:
        its limits record, store handle and epoch poll page, and its own address in the
        funcref records."""
        vmctx = inst.vmctx
        words = inst.words()
        ffi.memmove(words, self.data, len(self.data))  # (inline table elements: zero)
        words[vm.RUNTIME_LIMITS_OFFSET // 8] = state.limits_address
        words[vm.STORE_OFFSET // 8] = state.id
        words[self.epoch_poll_word] = state.epoch_poll_address
        start, count = self.ref_vmctx_words
        if count:
            stride = vm.FUNC_REF_SIZE // 8
            view = memoryview(ffi.buffer(words, len(self.data))).cast("Q")
            view[start:start + stride * count:stride] = array("Q", [vmctx]) * count


_UNKNOWN: Any = object()


class LazyFunctions(list[FuncInstance]):
    """An instance's function index space whose defined functions are made on first use.

    Imports are appended as in a plain list; :meth:`define` appends placeholders
    (``None``) for the defined functions, each replaced by its ``FuncInstance`` the
    first time it is read (by index, slice or iteration), always the same object.
    Reading a function registers its VMFuncRef record with the store
    (``JitState.funcrefs``), and a funcref word of one not made yet finds it through
    :meth:`made_for_ref`."""

    __slots__ = ("_instance", "_first")

    def __init__(self, instance: JitModuleInstance) -> None:
        super().__init__()
        self._instance: JitModuleInstance | None = instance
        self._first = 0

    def define(self, first: int, count: int) -> None:
        """The module's ``count`` defined functions, from index ``first``, made later."""
        self._first = first
        self.extend([cast(FuncInstance, None)] * count)

    def _make(self, index: int) -> FuncInstance:
        inst = self._instance
        if inst is None:
            raise IndexError("function index out of range (the instance was released)")
        with _make_lock:  # two threads reading it first still get one object
            func = list.__getitem__(self, index)
            if func is None:
                func = _new_function(inst, index, index - self._first)
                list.__setitem__(self, index, func)
        return func

    def __getitem__(self, index: Any) -> Any:
        item = list.__getitem__(self, index)
        if item is None:
            return self._make(index if index >= 0 else index + len(self))
        if isinstance(index, slice):
            for position in range(*index.indices(len(self))):
                if list.__getitem__(self, position) is None:
                    self._make(position)
            return list.__getitem__(self, index)
        return item

    def made(self) -> list[FuncInstance]:
        """Every function, made now if not yet (a plain list)."""
        for position in range(self._first, len(self)):
            if list.__getitem__(self, position) is None:
                self._make(position)
        return list(list.__iter__(self))

    def made_for_ref(self, offset: int) -> FuncInstance | None:
        """The defined function whose VMFuncRef record is at ``offset`` in the vmctx
        (made now if not yet), or None if no defined function's record is there."""
        inst = self._instance
        if inst is None:
            return None
        index = cast(_VmctxTemplate, inst.code_cache).function_at_ref(offset)
        return None if index is None else self[index]

    def __iter__(self) -> Iterator[FuncInstance]:
        return iter(self.made())

    def __reversed__(self) -> Iterator[FuncInstance]:
        return reversed(self.made())

    def __contains__(self, item: object) -> bool:
        return item is not None and item in self.made()

    def index(self, item: FuncInstance, *args: Any) -> int:
        return self.made().index(item, *args)

    def count(self, item: FuncInstance) -> int:
        return 0 if item is None else self.made().count(item)

    def copy(self) -> list[FuncInstance]:
        return self.made()

    def __add__(self, other: list[Any]) -> list[Any]:
        return self.made() + list(other)

    def __mul__(self, count: Any) -> list[FuncInstance]:
        return self.made() * count

    def __eq__(self, other: object) -> bool:
        return self.made() == (other.made() if isinstance(other, LazyFunctions) else other)

    def pop(self, index: Any = -1) -> FuncInstance:
        item = self[index]
        list.pop(self, index)
        return cast(FuncInstance, item)

    def clear(self) -> None:
        super().clear()
        self._instance = None  # (the instance is released: no cycle through here)


_make_lock = threading.Lock()


def _new_function(inst: JitModuleInstance, index: int, slot: int) -> FuncInstance:
    """Defined function ``index`` (code slot ``slot``) of ``inst``, with its ``JitFunc``;
    registered with the store if it has a VMFuncRef record."""
    template = cast(_VmctxTemplate, inst.code_cache)
    func = FuncInstance(template.func_types[slot], inst.context, None, inst, index, slot)
    offset = template.defined_refs.get(index)
    vmctx = inst.vmctx
    if offset is None:
        func.compiled = JitFunc(template.code_slots[slot], vmctx, -1, inst, index)
    else:
        # The template wrote the record but for its vmctx word (new_instance did).
        address = vmctx + offset
        func.compiled = JitFunc(template.code_slots[slot], vmctx, -1, inst, index, address)
        _jit_context(inst.context).jit.funcrefs[address] = func
    return func


_TEMPLATES: dict[int, tuple[weakref.ref[CompiledCode], _VmctxTemplate]] = {}
"""id(code) -> (weak reference to the code, its template). The reference's callback
removes the entry when the code dies (before its id can be reused) and frees the
template's parked instances and stores, which refer to each other."""


def _vmctx_template(code: CompiledCode, data: DataPlan | None = None) -> _VmctxTemplate:
    """``code``'s template (made on first use; ``data``: the module's data plan, if the
    caller has it, for the template's instantiation plan)."""
    entry = _TEMPLATES.get(id(code))
    if entry is not None and entry[0]() is code:
        return entry[1]
    template = _VmctxTemplate(code, data)
    key = id(code)

    def forget(_: object) -> None:
        gone = _TEMPLATES.pop(key, None)
        if gone is not None:
            gone[1].discard_parked()

    _TEMPLATES[key] = (weakref.ref(code, forget), template)
    return template


INLINE_TABLE_ELEMENTS = 64
"""Funcref tables of at most this many initial elements keep them in the vmctx buffer."""

STATIC_SLOTS = MemorySlotPool(STATIC_BOUND + STATIC_GUARD, max_warm=16)
"""Warm static-heap slots of on-demand allocation, shared by every engine (address space
only: a free slot keeps at most ``keep_resident`` bytes resident)."""


class JitAllocator:
    """Allocates instances of compiled modules and their entities in native memory."""

    def new_instance(self, module: WasmModule, code: CompiledCode,
                     context: StoreContext) -> JitModuleInstance:
        state = _jit_context(context).jit
        template = _vmctx_template(code)
        self._admit(template, module, code, context)
        inst = JitModuleInstance(module, context, code, template.func_refs, template.size)
        # The engine's per-module state of an instance is its template (new_function).
        inst.code_cache = template
        inst.funcs = LazyFunctions(inst)
        template.write(inst, state)
        return inst

    def _admit(self, template: _VmctxTemplate, module: WasmModule, code: CompiledCode,
               context: StoreContext) -> None:
        """Check an instance of ``module`` may be made (a pool's limits); on-demand
        allocation has none."""

    def reuse(self, code: CompiledCode, context: StoreContext,
              images: Sequence[MemoryImage]) -> JitModuleInstance | None:
        """A parked instance of ``code`` made ready in ``context``'s store, or None
        (on-demand allocation parks none; ``pool.py`` does)."""
        return None

    def link_imports(self, inst: JitModuleInstance) -> None:
        layout = inst.layout
        state = _jit_context(inst.context).jit
        w = inst.words()
        # Host functions met for the first time need their signatures' host shims: all
        # linked at once (a WASI program imports dozens).
        preload_host_shims([(func.type.params, func.type.results) for func in inst.funcs
                            if func.host is not None and not isinstance(func.compiled, JitFunc)])
        for n, func in enumerate(inst.funcs):
            jf = state.jit_func(func)
            at = layout.imported_func(n)
            w[(at + vm.FUNC_IMPORT_SLOT) // 8] = jf.slot
            w[(at + vm.FUNC_IMPORT_VMCTX) // 8] = jf.vmctx
            self._write_func_ref(inst, n, func)
        for n, memory in enumerate(inst.memories):
            assert isinstance(memory, JitMemory)
            w[layout.imported_memory(n) // 8] = memory.definition
        for n, table in enumerate(inst.tables):
            assert isinstance(table, JitTable)
            w[layout.imported_table(n) // 8] = table.definition
        for n, glob in enumerate(inst.globals):
            assert isinstance(glob, JitGlobal)
            w[layout.imported_global(n) // 8] = glob.slot

    def new_function(self, inst: JitModuleInstance, index: int,
                     code_slot: int) -> FuncInstance:
        template = cast(_VmctxTemplate, inst.code_cache)
        func = FuncInstance(template.func_types[code_slot], inst.context, None, inst, index,
                            code_slot)
        vmctx = inst.vmctx
        offset = template.defined_refs.get(index)
        if offset is None:
            func.compiled = JitFunc(template.code_slots[code_slot], vmctx,
                                    owner=inst, index=index)
        else:
            # The template wrote the record but for its vmctx word (new_instance did).
            address = vmctx + offset
            func.compiled = JitFunc(template.code_slots[code_slot], vmctx,
                                    owner=inst, index=index, funcref=address)
            _jit_context(inst.context).jit.funcrefs[address] = func
        return func

    def new_functions(self, inst: JitModuleInstance, first: int,
                      count: int) -> list[FuncInstance]:
        # :meth:`new_function` for each, with what they share looked up once (a module
        # may define thousands of functions).
        template = cast(_VmctxTemplate, inst.code_cache)
        context = _jit_context(inst.context)
        funcrefs = context.jit.funcrefs
        types, slots, refs = template.func_types, template.code_slots, template.defined_refs
        vmctx = inst.vmctx
        funcs = []
        for slot in range(count):
            index = first + slot
            func = FuncInstance(types[slot], context, None, inst, index, slot)
            offset = refs.get(index)
            if offset is None:
                func.compiled = JitFunc(slots[slot], vmctx, -1, inst, index)
            else:
                address = vmctx + offset
                func.compiled = JitFunc(slots[slot], vmctx, -1, inst, index, address)
                funcrefs[address] = func
            funcs.append(func)
        return funcs

    def add_functions(self, inst: JitModuleInstance, first: int, count: int) -> None:
        funcs = inst.funcs
        if isinstance(funcs, LazyFunctions):
            funcs.define(first, count)  # each made on first use
        else:
            funcs.extend(self.new_functions(inst, first, count))

    def _write_func_ref(self, inst: JitModuleInstance, index: int, func: FuncInstance) -> None:
        """Fill the vmctx's VMFuncRef record of function ``index``, if it has one (before
        any global initializer or segment can name the function)."""
        record = inst.func_refs.get(index)
        if record is None:
            return
        address = inst.vmctx + inst.layout.func_ref(record)
        state = _jit_context(inst.context).jit
        state.write_funcref_record(address, func)
        jf = func.compiled
        if isinstance(jf, JitFunc) and not jf.funcref:
            jf.funcref = address

    def new_table(self, inst: JitModuleInstance, index: int, ttype: TableType) -> TableInstance:
        return new_defined_table(inst, index, ttype, DEFAULT_MAX_ELEMENTS)

    def new_memory(self, inst: JitModuleInstance, index: int,
                   mtype: MemoryType) -> MemoryInstance:
        context = _jit_context(inst.context)
        static = uses_static_heap(context.heap_style, mtype)
        # A static heap reuses a warm slot of address space when one is free (slots.py):
        # mapping and unmapping 6 GiB is most of what a new memory costs.
        lease = STATIC_SLOTS.acquire(mtype.minimum_bytes) if static else None
        offset = cast(_VmctxTemplate, inst.code_cache).memory_offsets[index]
        memory = JitMemory(mtype, context, static=static, definition=inst.vmctx + offset,
                           keepalive=inst.vmctx_buffer, reserve_bytes=context.dynamic_reserve,
                           reservation=lease, definition_words=inst.words() + offset // 8)
        if lease is not None:
            del lease
            on_store_release(context, SlotReturn(STATIC_SLOTS, memory))
        return memory

    def new_global(self, inst: JitModuleInstance, index: int, gtype: GlobalType,
                   value: Any) -> GlobalInstance:
        offset = cast(_VmctxTemplate, inst.code_cache).global_offsets[index]
        return JitGlobal(gtype, value, _jit_context(inst.context), slot=inst.vmctx + offset,
                         keepalive=inst.vmctx_buffer)

    def init_table(self, inst: JitModuleInstance, table: int, start: int,
                   items: list[Any]) -> None:
        tables = inst.tables
        target = tables[table]
        if isinstance(target, JitTable) and target.lazy is not None \
                and table >= len(tables) - len(inst.module.tables):
            # Defined here (another instance's table may be lazy too): every element
            # reads 0 until first used, so recording the items is all
            # (``JitTable.initialize_lazily``, inlined: this runs per instantiation).  An
            # earlier segment may have written words here (``init_table_funcs``): zero
            # again, the elements read from ``lazy``.
            ffi.memmove(ffi.cast("char *", target.elements_address + 8 * start),
                        bytes(8 * len(items)), 8 * len(items))
            target.lazy.update(zip(range(start, start + len(items)), items, strict=True))
        else:
            target.initialize(start, items)

    def init_table_funcs(self, inst: JitModuleInstance, table: int, start: int,
                         numbers: tuple[int, ...]) -> None:
        target = inst.tables[table]
        if isinstance(target, JitTable) and target.lazy is not None \
                and table >= len(inst.tables) - len(inst.module.tables):
            template = cast(_VmctxTemplate, inst.code_cache)
            words = template.segment_words(numbers, inst.vmctx)
            if words is not None:
                # The instance's own functions, each with a VMFuncRef record in the
                # vmctx: the words are the records' addresses (tagged), written now, so
                # no function object is made for them (one is when the element is read
                # back as a funcref).
                ffi.memmove(ffi.cast("char *", target.elements_address + 8 * start),
                            words, 8 * len(words))
                lazy = target.lazy
                if lazy:  # an earlier segment recorded some of these elements
                    for i in range(start, start + len(numbers)):
                        lazy.pop(i, None)
                return
        self.init_table(inst, table, start, list(map(inst.funcs.__getitem__, numbers)))

    def activate(self, inst: JitModuleInstance) -> None:
        # Compiled code may run from here on (start function) or keep references into
        # the instance (segments), and instances live as long as their store.  The code
        # map learns each batch of code as it is compiled (``module_code``).
        register_instance(inst)
        _jit_context(inst.context).jit.instances.append(inst)


def new_defined_table(inst: JitModuleInstance, index: int, ttype: TableType,
                      max_elements: int) -> JitTable:
    """Defined table ``index`` of ``inst``: lazily initialized, its definition in the
    vmctx, and its elements too while it is small (``_VmctxTemplate.table_elements``)."""
    template = cast(_VmctxTemplate, inst.code_cache)
    offset = template.table_offsets[index]
    words = inst.words()
    inline = template.table_elements[index]
    return JitTable(ttype, _jit_context(inst.context), None, max_elements,
                    definition=inst.vmctx + offset, keepalive=inst.vmctx_buffer, lazy=True,
                    definition_words=words + offset // 8,
                    elements=(inst.vmctx + inline, words + inline // 8) if inline else None)


ALLOCATOR = JitAllocator()
"""The allocator of every JIT engine (it keeps no state of its own)."""


def instantiate(
    compiled: CompiledCode,
    imports: Sequence[Extern],
    context: StoreContext,
    invoke: instantiation.Invoker,
    allocator: JitAllocator = ALLOCATOR,
    images: Sequence[MemoryImage] = (),
    data: DataPlan | None = None,
) -> JitModuleInstance:
    """Instantiate ``compiled`` in ``context``'s store with resolved imports; raises
    LinkError, Trap (segments, start function) or InstantiationError like
    :func:`pyjitwasm.runtime.instantiation.instantiate`. ``allocator`` is on-demand
    unless the engine pools (``pool.py``); ``images`` the module's memory images;
    ``data`` its data plan (``images.DataPlan``, with the same images) if known."""
    template = _vmctx_template(compiled, data)
    if not imports and allocator is not ALLOCATOR:
        # A pooling allocator may have a parked instance of the module (``pool.py``).
        inst = allocator.reuse(compiled, context, images)
        if inst is not None:
            return inst
    return instantiation.instantiate(compiled.module, compiled, imports, context, allocator,
                                     invoke, images, template.plan)
