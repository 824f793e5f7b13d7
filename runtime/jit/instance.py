"""Instantiating compiled code: the JIT's instance allocator.

``runtime/instantiation.py`` does the specification's steps; this
allocator gives each instance a vmctx (``vmctx.py``) and places the entities there:
pointers to the imported ones (a function import by its code slot), the defined
memories' and tables' definitions, the global slots, the VMFuncRef records of every
function that may become a funcref, and the pointer to the module's code slot table
(``module_code.py``; shared by the module's instances, so code compiled lazily for one
serves them all).

Funcref tables the instance defines are initialized lazily: their active segments are
recorded in the table and each element is materialized on first use (``table.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from pyjitwasm.runtime import instantiation
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.instance import Extern, FuncInstance
from pyjitwasm.runtime.jit.globals import JitGlobal
from pyjitwasm.runtime.jit.memory import JitMemory
from pyjitwasm.runtime.jit.store import JitFunc, JitStoreContext, signature_id
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.jit.vmctx import CompiledCode, JitModuleInstance, register_instance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.native import ffi
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import GlobalType, MemoryType, TableType


def _jit_context(context: StoreContext) -> JitStoreContext:
    if not isinstance(context, JitStoreContext):
        raise TypeError("compiled code runs only in a store of a JIT engine")
    return context


class JitAllocator:
    """Allocates instances of compiled modules and their entities in native memory."""

    def new_instance(self, module: WasmModule, code: CompiledCode,
                     context: StoreContext) -> JitModuleInstance:
        state = _jit_context(context).jit
        inst = JitModuleInstance(module, context, code)
        layout = inst.layout
        inst.words()[vm.RUNTIME_LIMITS_OFFSET // 8] = state.limits_address
        inst.words()[vm.STORE_OFFSET // 8] = state.id
        inst.words()[layout.code_slots // 8] = code.slots_address
        inst.words()[layout.tier_counters // 8] = code.counters_address
        for type_index, ftype in enumerate(module.types):
            ffi.cast("uint32_t *", inst.vmctx + layout.signature_id(type_index))[0] = \
                signature_id(ftype)
        return inst

    def link_imports(self, inst: JitModuleInstance) -> None:
        layout = inst.layout
        state = _jit_context(inst.context).jit
        w = inst.words()
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
        module = inst.module
        type_index = module.funcs[code_slot]
        func = FuncInstance(module.types[type_index], inst.context, None, inst, index,
                            code_slot)
        func.compiled = JitFunc(inst.compiled.slot_address(index), inst.vmctx,
                                resolve=functools.partial(inst.compiled.entry, index))
        self._write_func_ref(inst, index, func)
        return func

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
        return JitTable(ttype, _jit_context(inst.context), None,
                        definition=inst.vmctx + inst.layout.table(index),
                        keepalive=inst.vmctx_buffer, lazy=True)

    def new_memory(self, inst: JitModuleInstance, index: int,
                   mtype: MemoryType) -> MemoryInstance:
        context = _jit_context(inst.context)
        return JitMemory(mtype, context, static=context.heap_style == "static",
                         definition=inst.vmctx + inst.layout.memory(index),
                         keepalive=inst.vmctx_buffer, reserve_bytes=context.dynamic_reserve)

    def new_global(self, inst: JitModuleInstance, index: int, gtype: GlobalType,
                   value: Any) -> GlobalInstance:
        return JitGlobal(gtype, value, _jit_context(inst.context),
                         slot=inst.vmctx + inst.layout.global_(index),
                         keepalive=inst.vmctx_buffer)

    def init_table(self, inst: JitModuleInstance, table: int, start: int,
                   items: list[Any]) -> None:
        target = inst.tables[table]
        assert isinstance(target, JitTable)
        defined_here = table >= len(inst.tables) - len(inst.module.tables)
        if defined_here and target.lazy is not None:
            target.initialize_lazily(start, items)
        else:
            target.initialize(start, items)

    def activate(self, inst: JitModuleInstance) -> None:
        # Compiled code may run from here on (start function) or keep references into
        # the instance (segments), and instances live as long as their store.  The code
        # map learns each batch of code as it is compiled (``module_code``).
        register_instance(inst)
        _jit_context(inst.context).jit.instances.append(inst)


ALLOCATOR = JitAllocator()
"""The allocator of every JIT engine (it keeps no state of its own)."""


def instantiate(
    compiled: CompiledCode,
    imports: Sequence[Extern],
    context: StoreContext,
    invoke: instantiation.Invoker,
) -> JitModuleInstance:
    """Instantiate ``compiled`` in ``context``'s store with resolved imports; raises
    LinkError, Trap (segments, start function) or InstantiationError like
    :func:`pyjitwasm.runtime.instantiation.instantiate`."""
    return instantiation.instantiate(compiled.module, compiled, imports, context, ALLOCATOR,
                                     invoke)
