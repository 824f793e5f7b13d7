"""Instantiating a compiled module: the vmctx, its entities, segments, start function.

The order is the specification's: match imports, create the instance's memories,
tables, functions and globals (constant expressions may read imported globals and name
functions), evaluate the element segments, apply the active element segments and then
the active data segments in order (each bounds-checked first; a failing one traps with
the effects of earlier ones kept), then run the start function.

Funcref tables the instance defines are initialized lazily: their active segments are
recorded in the table and each element is materialized on first use (``table.py``).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from pyjitwasm.runtime.errors import InstantiationError, LinkError, Trap
from pyjitwasm.runtime.functions import FuncInstance
from pyjitwasm.runtime.instance import (
    ModuleInstance,
    bind_exports,
    eval_const,
    extern_kind,
    import_mismatch,
    init_data,
)
from pyjitwasm.runtime.jit import codemap
from pyjitwasm.runtime.jit.globals import JitGlobal
from pyjitwasm.runtime.jit.memory import JitMemory
from pyjitwasm.runtime.jit.store import JitFunc, JitStoreContext, signature_id
from pyjitwasm.runtime.jit.table import JitTable
from pyjitwasm.runtime.native import ffi
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.wasm.module import SegmentMode, WasmModule
from pyjitwasm.wasm.traps import TrapCode
from pyjitwasm.wasm.types import ExternKind

_instances: weakref.WeakValueDictionary[int, JitModuleInstance] = weakref.WeakValueDictionary()


class CompiledCode(Protocol):
    """What instantiation needs of a compiled module (``jit/compiler.py``)."""

    module: WasmModule
    layout: vm.VMContextLayout
    code_ranges: Sequence[Any]

    def function_address(self, func_index: int) -> int: ...

    def entry_shim(self, type_index: int) -> int: ...

    def func_index_at(self, pc: int) -> int | None: ...


class JitModuleInstance(ModuleInstance):
    """A module instance with a vmctx (``vmctx`` is its address)."""

    __slots__ = ("vmctx", "compiled", "layout", "_vmctx_buf", "__weakref__")

    def __init__(self, module: WasmModule, context: JitStoreContext, compiled: CompiledCode,
                 layout: vm.VMContextLayout) -> None:
        super().__init__(module, context, [])
        self.compiled = compiled
        self.layout = layout
        self._vmctx_buf = ffi.new("char[]", layout.size + 16)
        self.vmctx = (int(ffi.cast("uintptr_t", self._vmctx_buf)) + 15) & ~15

    def words(self) -> Any:
        """The vmctx as an array of u64."""
        return ffi.cast("uint64_t *", self.vmctx)


def instance_by_vmctx(vmctx: int) -> JitModuleInstance | None:
    """The live instance whose vmctx is at ``vmctx``."""
    return _instances.get(vmctx)


def _check_imports(module: WasmModule, imports: Sequence[Any], context: JitStoreContext) -> None:
    if len(imports) != len(module.imports):
        raise LinkError(f"expected {len(module.imports)} imports, got {len(imports)}")
    for i, item in enumerate(imports):
        imp = module.imports[i]
        if getattr(item, "context", None) is not context:
            raise ValueError(f"import {imp.module}::{imp.name} belongs to a different store")
        why = import_mismatch(module, i, item)
        if why is not None:
            raise LinkError(f"incompatible import type for {imp.module}::{imp.name}: {why}")


def instantiate(
    compiled: CompiledCode,
    imports: Sequence[Any],
    context: JitStoreContext,
    invoke: Callable[[FuncInstance, list[Any]], list[Any]],
) -> JitModuleInstance:
    """Instantiate ``compiled`` in ``context``'s store with resolved imports.

    Raises LinkError, Trap (segments, start function) or InstantiationError like
    ``runtime.instance.instantiate``."""
    module = compiled.module
    _check_imports(module, imports, context)
    state = context.jit
    layout = compiled.layout
    inst = JitModuleInstance(module, context, compiled, layout)
    w = inst.words()
    w[vm.STORE_OFFSET // 8] = state.id
    for type_index, ftype in enumerate(module.types):
        ffi.cast("uint32_t *", inst.vmctx + layout.signature_id(type_index))[0] = \
            signature_id(ftype)

    counts = {kind: 0 for kind in ExternKind}
    for item in imports:
        kind = extern_kind(item)
        n = counts[kind]
        counts[kind] += 1
        if kind == ExternKind.FUNC:
            jf = state.jit_func(item)
            at = layout.imported_func(n)
            w[(at + vm.FUNC_IMPORT_CODE) // 8] = jf.code
            w[(at + vm.FUNC_IMPORT_VMCTX) // 8] = jf.vmctx
            inst.funcs.append(item)
        elif kind == ExternKind.MEMORY:
            w[layout.imported_memory(n) // 8] = item.definition
            inst.memories.append(item)
        elif kind == ExternKind.TABLE:
            w[layout.imported_table(n) // 8] = item.definition
            inst.tables.append(item)
        else:
            w[layout.imported_global(n) // 8] = item.slot
            inst.globals.append(item)

    first = len(inst.funcs)
    for slot, type_index in enumerate(module.funcs):
        index = first + slot
        ftype = module.types[type_index]
        func = FuncInstance(ftype, context, None, inst, index, slot)
        func.compiled = JitFunc(compiled.function_address(index), inst.vmctx,
                                compiled.entry_shim(type_index))
        inst.funcs.append(func)

    buf = inst._vmctx_buf
    try:
        for i, ttype in enumerate(module.tables):
            inst.tables.append(JitTable(ttype, context, None, definition=inst.vmctx +
                                        layout.table(i), keepalive=buf, lazy=True))
        for i, mtype in enumerate(module.memories):
            inst.memories.append(JitMemory(
                mtype, context, static=context.heap_style == "static",
                definition=inst.vmctx + layout.memory(i), keepalive=buf,
                reserve_bytes=context.dynamic_reserve))
    except MemoryError as exc:
        raise InstantiationError(str(exc)) from None

    # VMFuncRef records before globals: a global initializer may be a ref.func.
    for func_index, record in vm.func_ref_indices(module).items():
        address = inst.vmctx + layout.func_ref(record)
        func = inst.funcs[func_index]
        state.write_funcref_record(address, func)
        jf = func.compiled
        if isinstance(jf, JitFunc) and not jf.funcref:
            jf.funcref = address

    for i, glob in enumerate(module.globals):
        inst.globals.append(JitGlobal(glob.type, eval_const(glob.init, inst), context,
                                      slot=inst.vmctx + layout.global_(i), keepalive=buf))
    inst.elems = [[eval_const(item, inst) for item in seg.items] for seg in module.elems]
    inst.datas = [seg.data for seg in module.datas]

    bind_exports(module, inst)

    # From here on compiled code may run (start function) or keep references (segments).
    _instances[inst.vmctx] = inst
    state.instances.append(inst)
    codemap_register(compiled)

    _init_elements(module, inst)
    init_data(module, inst)
    if module.start is not None:
        invoke(inst.funcs[module.start], [])
    return inst


def codemap_register(compiled: CompiledCode) -> None:
    """Register a compiled module's code for backtraces (once per module)."""
    codemap.register(compiled)


def _init_elements(module: WasmModule, inst: JitModuleInstance) -> None:
    num_own_tables = len(module.tables)
    first_own = len(inst.tables) - num_own_tables
    for index, seg in enumerate(module.elems):
        if seg.mode == SegmentMode.ACTIVE:
            assert seg.offset_expr is not None
            start = eval_const(seg.offset_expr, inst)
            items = inst.elems[index]
            table: JitTable = inst.tables[seg.table]  # type: ignore[assignment]
            if start + len(items) > table.size:
                raise Trap(TrapCode.TABLE_OUT_OF_BOUNDS)
            if seg.table >= first_own and table.lazy is not None:
                for i, item in enumerate(items):
                    table.set_word(start + i, 0)
                    table.lazy[start + i] = item
            else:
                words = [table.encode(item) for item in items]
                for i, word in enumerate(words):
                    table.set_word(start + i, word)
            inst.elems[index] = []
        elif seg.mode == SegmentMode.DECLARATIVE:
            inst.elems[index] = []
