"""The JIT's pooling instance allocator: memories in reusable slots of address space.

A slot is one reservation (static heaps: 4 GiB plus the 2 GiB guard, like any static
memory; dynamic heaps: ``max_memory_size`` plus a guard page), registered once with the
fault handler and kept across instances. An instance's memory gets a free slot (or a new
one while ``total_memories`` allows), leased for the life of its store; the memory never
grows past ``max_memory_size``, so a slot never has to move. When the store is dropped
the lease ends and the slot is reset: its committed pages are replaced by fresh zero
pages (one ``mmap`` over them, which also drops a copy-on-write image mapped there, and
frees the old pages as ``madvise(MADV_DONTNEED)`` would), then it waits in the free list
(at most ``max_unused_warm_slots``; others are unmapped). A host view (``Memory`` read
buffers, numpy arrays) taken from the memory keeps the lease alive: the slot is reset
and reused only once the last view is gone, so no view ever sees another instance's
bytes. The pages a new tenant does not need are made inaccessible again before it
starts, so the guard-page bounds checks of static heaps hold for every tenant.

The limits and counts are ``runtime/pooling.py``'s; data segments are applied from the
module's memory images (``runtime/images.py``) like on-demand instances' are.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Sequence
from typing import Any, Protocol, cast

from pyjitwasm.runtime import instantiation
from pyjitwasm.runtime.images import MemoryImage
from pyjitwasm.runtime.jit.globals import JitGlobal
from pyjitwasm.runtime.jit.instance import (
    _TEMPLATES,
    JitAllocator,
    _jit_context,
    _vmctx_template,
    _VmctxTemplate,
    new_defined_table,
)
from pyjitwasm.runtime.jit.memory import STATIC_BOUND, STATIC_GUARD, JitMemory
from pyjitwasm.runtime.jit.slots import MemorySlotPool, SlotReturn
from pyjitwasm.runtime.jit.store import JitFunc, JitStoreContext
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.jit.vm import PAGE, round_to_pages
from pyjitwasm.runtime.jit.vmctx import CompiledCode, JitModuleInstance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.native import ffi
from pyjitwasm.runtime.pooling import InstancePool, StorePoolUse
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import EXTERNREF, FUNCREF, MemoryType, TableType


class ParkableModule(Protocol):
    """What :meth:`PooledJitAllocator.adopt_store` reads of a prepared module (the API's
    ``JitModule``): its code, once made, and its memory images."""

    @property
    def compiled_code(self) -> CompiledCode | None: ...

    @property
    def images(self) -> tuple[MemoryImage, ...] | None: ...


class PooledJitAllocator(JitAllocator):
    """The JIT allocator under a pool: limits and counts from ``InstancePool``, memories
    in slots of a ``MemorySlotPool``."""

    def __init__(self, pool: InstancePool, static: bool) -> None:
        self.pool = pool
        config = pool.config
        slot_size = (STATIC_BOUND + STATIC_GUARD if static
                     else round_to_pages(config.max_memory_size) + PAGE)
        self.slots = MemorySlotPool(slot_size, config.max_unused_warm_slots,
                                    config.linear_memory_keep_resident)
        # Unmap the free slots with the allocator (its engine).
        weakref.finalize(self, MemorySlotPool.close, self.slots)
        # How many instances are parked (``_Tenancy``, kept in their module's vmctx
        # template), and the templates that may hold some.
        self._parked_count = 0
        self._parked_templates: weakref.WeakSet[_VmctxTemplate] = weakref.WeakSet()
        self._parked_lock = pool.lock

    def _admit(self, template: _VmctxTemplate, module: WasmModule, code: CompiledCode,
               context: StoreContext) -> None:
        pool = self.pool
        if pool not in template.fits_pools:  # a module's fit is checked once per pool
            pool.check_module(module, code.layout.size)
            template.fits_pools.add(pool)
        pool.take_instance(context, module)

    def new_memory(self, inst: JitModuleInstance, index: int,
                   mtype: MemoryType) -> MemoryInstance:
        context = _jit_context(inst.context)
        lease = self.slots.acquire(mtype.minimum_bytes)
        offset = cast(_VmctxTemplate, inst.code_cache).memory_offsets[index]
        memory = JitMemory(mtype, context, static=context.heap_style == "static",
                           definition=inst.vmctx + offset, keepalive=inst.vmctx_buffer,
                           reservation=lease, max_bytes=self.pool.config.max_memory_size,
                           definition_words=inst.words() + offset // 8)
        del lease
        if not _parkable(inst):  # else the instance's _Tenancy returns the slot
            self.pool.use_of(context).on_release.append(SlotReturn(self.slots, memory))
        return memory

    def new_table(self, inst: JitModuleInstance, index: int, ttype: TableType) -> TableInstance:
        return new_defined_table(inst, index, ttype, self.pool.config.table_elements)

    def activate(self, inst: JitModuleInstance) -> None:
        super().activate(inst)
        if _parkable(inst):
            tenancy = _Tenancy(self, inst)
            context = _jit_context(inst.context)
            self.pool.use_of(context).on_release.append(tenancy)
            # The store's first instance: the store may be parked whole with it.
            if len(context.jit.instances) == 1:
                context.recycle = tenancy.park_store

    # Parked instances ------------------------------------------------------------------

    def reuse(self, code: CompiledCode, context: StoreContext,
              images: Sequence[MemoryImage]) -> JitModuleInstance | None:
        """A parked instance of ``code`` made ready in ``context``'s store (None if
        there is none): the pool's and the store's limits are checked and counted as
        for a new instance, then the vmctx is reset from the module's template and the
        globals, segments and exports are initialized again."""
        template = _vmctx_template(code)
        if not template.parked and not template.parked_stores:
            return None
        with self._parked_lock:
            if template.parked:
                tenancy = template.parked.pop()
            elif template.parked_stores:
                tenancy = template.parked_stores.pop()
            else:
                return None
            self._parked_count -= 1
        tenancy.leave_parked_store()  # its old context is not needed: this one is used
        module = code.module
        try:
            context.resources.check_instance(len(module.memories), len(module.tables))
            self._admit(template, module, code, context)
            return tenancy.move_in(code, template, _jit_context(context), images, self)
        except BaseException:
            tenancy.give_slots_back()  # e.g. a limit: this instance is not reused
            raise

    def adopt_store(self, prepared: ParkableModule) -> tuple[JitStoreContext,
                                                             JitModuleInstance] | None:
        """For a new store's first instantiation of ``prepared`` (a ``JitModule``; no
        imports): the context and instance of a dropped store parked whole, made ready
        for the new store (None if there is none). Only what the last tenant may have
        changed is reset -- globals, passive segments, the memory's image; tables and
        memory were reset when it was parked --, and the pool counts the instance again."""
        code = prepared.compiled_code
        # The template's parked stores (``_vmctx_template`` inlined: this runs per store).
        entry = _TEMPLATES.get(id(code))
        if entry is None:
            return None
        stores = entry[1].parked_stores
        if not stores or entry[0]() is not code:
            return None
        pool = self.pool
        with self._parked_lock:  # (the pool's lock)
            if not stores:
                return None
            tenancy = stores[-1]
            memories, tables = tenancy.memory_count, tenancy.table_count
            limits = pool.config
            if (pool.live_instances >= limits.total_core_instances
                    or pool.live_memories + memories > limits.total_memories
                    or pool.live_tables + tables > limits.total_tables):
                # The pool is full: this raises, and the parked store stays for later.
                pool.take_counts_locked(memories, tables)
            pool.live_instances += 1
            pool.live_memories += memories
            pool.live_tables += tables
            stores.pop()
            self._parked_count -= 1
        return tenancy.reopen(code, prepared.images)

    @property
    def parked_instances(self) -> int:
        """Instances parked for reuse (each keeps its memory slots; for tests)."""
        return sum(len(t.parked) + len(t.parked_stores) for t in list(self._parked_templates))

    def park(self, tenancy: _Tenancy, template: _VmctxTemplate,
             store_use: StorePoolUse | None = None) -> bool:
        """Keep a reset instance for the next store, if fewer than
        ``max_unused_warm_slots`` are parked already (else return False).
        ``store_use``: the instance is parked with its store's context, whose instances,
        memories and tables the pool stops counting."""
        pool = self.pool
        with self._parked_lock:  # (the pool's lock)
            if self._parked_count >= pool.config.max_unused_warm_slots:
                # Parked instances of dropped modules went with their code: recount.
                self._parked_count = self.parked_instances
                if self._parked_count >= pool.config.max_unused_warm_slots:
                    return False
            self._parked_count += 1
            if store_use is None:
                template.parked.append(tenancy)
            else:
                template.parked_stores.append(tenancy)
                pool.live_instances -= store_use.instances
                pool.live_memories -= store_use.memories
                pool.live_tables -= store_use.tables
        if template.parked_by is not self:
            template.parked_by = self
            self._parked_templates.add(template)
        return True


def _parkable(inst: JitModuleInstance) -> bool:
    """Whether ``inst`` may be parked (:func:`_reusable`), computed once per module."""
    template = cast(_VmctxTemplate, inst.code_cache)
    parkable = template.parkable
    if parkable is None:
        parkable = template.parkable = _reusable(inst.module)
    return parkable


def _reusable(module: WasmModule) -> bool:
    """Whether a pooled instance of ``module`` can be parked and handed to the next
    store as it is: no imports (its entities are all its own), no start function, and
    only entities a reset returns to their initial state (funcref tables, 32-bit
    memories, globals holding no externref)."""
    return (not module.imports and module.start is None
            and all(t.elem_type == FUNCREF for t in module.tables)
            and not any(m.is_64 for m in module.memories)
            and all(g.type.valtype != EXTERNREF for g in module.globals))


class _Tenancy:
    """One pooled instance's stay in a store, and what happens when the store is
    dropped: the instance is reset and parked for the next store if nothing outside
    the dropped store can still reach it (no API object of its entities is alive, no
    host view of its memory, nothing grew), else its memory slots go back to the pool.

    When the instance was all its store made, the store's whole context is parked with
    it (:meth:`park_store`, ``context``): the next new store adopts both
    (:meth:`reopen`), so neither a context nor the vmctx has to be made or rewritten,
    and a store nothing touched (:meth:`_untouched`) is neither reset nor initialized
    again. Otherwise the instance alone is parked after the store's teardown
    (``__call__``) and moves into the next store's context (:meth:`move_in`).

    While parked it holds its module's code only weakly (the instance's ``compiled``,
    which its functions enter through, is cleared), so dropping the Module frees the
    parked instances."""

    __slots__ = ("allocator", "inst", "template", "home", "funcs", "tables", "memories",
                 "globals", "entities", "memory_count", "table_count", "context_refs",
                 "context", "table_init", "global_init", "passive", "image_writes",
                 "fresh_entries", "fresh")

    def __init__(self, allocator: PooledJitAllocator, inst: JitModuleInstance) -> None:
        self.allocator = allocator
        self.inst = inst
        self.template = cast(_VmctxTemplate, inst.code_cache)
        # The store context the instance lives in (for the tenancy's whole life).
        self.home = _jit_context(inst.context)
        # The store's release empties the instance's lists: keep what it defined.
        self.funcs = tuple(inst.funcs)
        self.tables = tuple(cast(JitTable, table) for table in inst.tables)
        self.memories = tuple(cast(JitMemory, memory) for memory in inst.memories)
        self.globals = tuple(cast(JitGlobal, glob) for glob in inst.globals)
        self.entities: tuple[Any, ...] = self.funcs + self.tables + self.memories + \
            self.globals
        self.memory_count = len(self.memories)
        self.table_count = len(self.tables)
        # ``sys.getrefcount`` of the context when only the store, the instance, its
        # entities and this tenancy refer to it (``park_store``).
        self.context_refs = _CONTEXT_REFS + len(self.entities)
        # The parked store's context (None unless parked whole).
        self.context: JitStoreContext | None = None
        # What a reopened store's instance is reset to, worked out at its first
        # parking (``_initial_state``): per table the elements its active segments
        # give, per mutable global its initial value, whether it has passive segments.
        self.table_init: list[tuple[JitTable, dict[int, Any]]] | None = None
        self.global_init: list[tuple[JitGlobal, Any]] = []
        self.passive = False
        # The memory images as (destination, bytes) to copy, made on first reopening
        # (empty when an image is mapped copy-on-write instead).
        self.image_writes: list[tuple[JitMemory, Any, bytes | memoryview, int]] | None = None
        # Untouched tenancies (see ``_untouched``): the store's count of wasm entries
        # when the instance was last as a new instantiation leaves it (no start function
        # runs, so that is now), and whether it was parked so (then it is not reset
        # when parked nor initialized again when reopened).
        self.fresh_entries = self.home.entries
        self.fresh = False

    # The store was dropped -----------------------------------------------------------

    def park_store(self, instances_in_store: int) -> bool:
        """The store is being dropped (``StoreContext.recycle``): park its whole context
        with this instance and return True if the instance is all the store made and
        nothing outside the store refers to either; else return False and the store is
        torn down as usual (which parks the instance alone if it can)."""
        inst = self.inst
        context = self.home
        state = context.jit
        use = context.pool
        resources = context.resources
        if (instances_in_store != 1 or inst.compiled is None
                or len(state.instances) != 1 or state.has_host_state()
                or len(use.on_release) != 1 or use.on_release[0] is not self
                or resources.memories != self.memory_count
                or resources.tables != self.table_count
                or context.entries != context.exits
                # Only the store, the instance, its entities, this tenancy and the
                # callers' names refer to the context: nothing else of the store is
                # alive.
                or sys.getrefcount(context) != self.context_refs):
            return False
        if self.table_init is None and not self._initial_state():
            return False
        # Untouched (``_untouched``, inlined): nothing to reset.
        fresh = context.entries == self.fresh_entries
        if fresh:
            for entity in self.entities:
                if entity.api is not None:
                    fresh = False
                    break
            else:
                for memory in self.memories:
                    if memory.host_touched:
                        fresh = False
        if not fresh:
            if not self._reset(reset_tables=False):
                return False
            for table, elements in self.table_init or ():
                table.reset_to(elements)
        self.fresh = fresh
        resources.limits = None
        context.depth = context.nesting = 0
        if context.consume_fuel or context.epoch_interruption:  # (else no code reads them)
            state.reset_interruption()
        # Never used while parked: no store can reach the instance until it is reused.
        inst.compiled = _NO_CODE
        self.context = context
        # The pool stops counting the instance; the store's own counts stay as they
        # are, which is what the next store's instantiation would count.
        if not self.allocator.park(self, self.template, use):
            # Torn down as usual now, and without its code the instance is not parked.
            self.context = None
            return False
        return True

    def _untouched(self) -> bool:
        """Whether nothing can have changed the instance since it was last as a new
        instantiation leaves it, so parking it whole needs no reset (``park_store``
        has this inlined). Everything that can change an instance's memory, tables or
        globals is one of:

        - wasm code running in the store (stores, ``memory.fill``/``copy``/``init``,
          ``table.set``/``init``, ``global.set``, grows, and the lazy table elements
          materialized by ``call_indirect``): every entry from Python into the store's
          code counts ``context.entries`` (``callers.py``), the only way into it (a
          parkable module has no start function, a parked store no host function);
        - the host, through the API's ``Memory``, ``Table``, ``Global`` or ``Func``
          objects (``read``/``write``, buffers, ``data_ptr``, ``grow``, ``set``,
          ``set_value``, calls): making one sets the entity's ``api``, which stays set
          (a dead weak reference) until a reset clears it;
        - runtime-level host access to the memory's bytes (``JitMemory.write`` and
          ``view``, which every host read, write, buffer and pointer goes through):
          it sets ``host_touched``.

        WASI reaches memory through the API's ``Memory`` and needs imports, which a
        parkable module does not have."""
        return (self.home.entries == self.fresh_entries
                and all(entity.api is None for entity in self.entities)
                and not any(memory.host_touched for memory in self.memories))

    def _initial_state(self) -> bool:
        """Work out what :meth:`reopen` resets the instance to (False: the element
        segments do not fit, so instantiating traps; it is not parked whole)."""
        inst = self.inst
        plan = self.template.plan
        table_init: dict[int, dict[int, Any]] = {}
        for index, table, offset in plan.active_elems:
            start = instantiation.planned_value(offset, inst)
            items = instantiation.planned_items(plan.elems[index][0], inst)
            if start + len(items) > self.tables[table].size:
                return False
            elements = table_init.setdefault(table, {})
            for i, item in enumerate(items):
                elements[start + i] = item
        self.table_init = [(self.tables[t], elements) for t, elements in table_init.items()]
        self.global_init = [(glob, instantiation.planned_value(init, inst))
                            for glob, (gtype, init) in zip(self.globals, plan.globals,
                                                           strict=True) if gtype.mutable]
        self.passive = any(passive for _, passive in plan.elems) or any(plan.datas_after)
        return True

    def __call__(self) -> None:
        """The store was dropped and torn down (``StorePoolUse.release``)."""
        inst = self.inst
        if inst.compiled is None or not self._reset(reset_tables=True):
            self.give_slots_back()
            return
        inst.compiled = _NO_CODE  # not used while parked
        if not self.allocator.park(self, self.template):
            self.give_slots_back()

    def _reset(self, reset_tables: bool) -> bool:
        for entity in self.entities:
            ref = entity.api
            if ref is not None:
                if ref() is not None:
                    return False  # an API object may still use it
                entity.api = None
        for table in self.tables:
            if not table.resettable():
                return False
        keep = self.allocator.slots.keep_resident
        for memory in self.memories:
            if not memory.reset_for_reuse(keep):
                return False
        if reset_tables:
            for table in self.tables:
                table.reset_to({})
        return True

    def give_slots_back(self) -> None:
        for memory in self.memories:
            self.allocator.slots.give_back(memory)
        self.memories = ()

    def leave_parked_store(self) -> None:
        """Forget the parked context (the instance moves into another store's)."""
        context, self.context = self.context, None
        if context is not None:
            _forget_context(context)

    def discard(self) -> None:
        """Parked and not wanted any more (its code is gone, or the pool is full): free
        the instance and its store's context now, and give the memory slots back."""
        context, self.context = self.context, None
        if context is not None:
            _forget_context(context)
            context.jit.release()  # releases the instance: no cycle is left
        self.give_slots_back()

    # The next store ------------------------------------------------------------------

    def reopen(self, code: CompiledCode, images: Sequence[MemoryImage] | None
               ) -> tuple[JitStoreContext, JitModuleInstance]:
        """The parked store's context and instance, for a new store: the instance as a
        new instantiation of ``code`` leaves it (the pool has counted it already)."""
        context = self.context
        assert context is not None
        self.context = None
        inst = self.inst
        inst.compiled = code
        if self.fresh:  # parked untouched: it is as a new instantiation leaves it
            return context, inst
        for glob, value in self.global_init:
            glob.value = value
        plan = self.template.plan
        if self.passive:
            inst.elems = [instantiation.planned_items(items, inst) if passive else []
                          for items, passive in plan.elems]
            inst.datas = list(plan.datas_after)
        images = images or ()
        writes = self.image_writes
        if writes is None:
            writes = self.image_writes = _image_writes(self.memories, images)
        if writes:
            for memory, target, data, end in writes:
                ffi.memmove(target, data, len(data))
                memory.image_copied(end)
        elif images:
            memories = self.memories
            for image in images:  # mapped copy-on-write (memory.py)
                memories[image.memory].apply_image(image)
        elif plan.active_datas:
            # Segments no image holds (offsets no image can fold, say): written one by
            # one; they fitted the same memory before, so none traps.
            instantiation.init_data(plan, inst, images)
        self.fresh_entries = context.entries
        return context, inst

    def move_in(self, code: CompiledCode, template: _VmctxTemplate, context: JitStoreContext,
                images: Sequence[MemoryImage],
                allocator: PooledJitAllocator) -> JitModuleInstance:
        """Make the parked instance the new instance of ``code`` in ``context``'s store."""
        inst = self.inst
        state = context.jit
        inst.context = context
        inst.compiled = code
        template.write(inst, state)
        # Counted against the store's limits, and their definitions published again.
        for memory in self.memories:
            memory.rebind(context)
        for table in self.tables:
            table.rebind(context)
        funcrefs = state.funcrefs
        for func in self.funcs:
            func.context = context
            func.api = None
            jf = func.compiled
            assert isinstance(jf, JitFunc)
            jf.caller = None  # made for the old store
            if jf.funcref:
                funcrefs[jf.funcref] = func
        for glob in self.globals:
            glob.rebind(context)
        inst.funcs = list(self.funcs)
        inst.tables = list(self.tables)
        inst.memories = list(self.memories)
        inst.globals = list(self.globals)
        instantiation.reinitialize(template.plan, inst, allocator, images)
        return inst


def _image_writes(memories: Sequence[JitMemory], images: Sequence[MemoryImage]
                  ) -> list[tuple[JitMemory, Any, bytes | memoryview, int]]:
    """``images`` as copies into ``memories`` (pooled: they never move): (memory,
    destination, bytes, the end address they reach), or [] if one is to be mapped
    copy-on-write (``JitMemory.apply_image`` decides)."""
    writes = []
    for image in images:
        memory = memories[image.memory]
        if image.cow_capable:
            return []
        writes.append((memory, ffi.cast("char *", memory.base + image.address), image.data,
                       image.end))
    return writes


_NO_CODE = cast(CompiledCode, None)
"""What a parked instance's ``compiled`` holds (its code only weakly, through its
template's registry entry)."""

_CONTEXT_REFS = 6
"""``sys.getrefcount`` of a dropped store's context that only the store, its instance,
its tenancy and the release path refer to (``Store.__dict__``, ``inst.context``,
``_Tenancy.home``, ``Store._release``'s and ``park_store``'s names, getrefcount's
argument), besides one per entity of the instance."""


def _forget_context(context: JitStoreContext) -> None:
    # The context, its pool record and the tenancy refer to each other.
    context.recycle = None
    if context.pool is not None:
        context.pool.on_release = []
