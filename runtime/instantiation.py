"""Instantiation, written once for every engine: import matching, constant expressions,
segment initialization, the start function and export binding.

The order is the specification's: match imports, create the instance's functions,
tables, memories and globals (constant expressions may read imported globals and name
functions), evaluate the element segments, bind the exports, apply the active element
segments and then the active data segments in order (each bounds-checked first; a
failing one traps with the effects of earlier ones kept), then run the start function.

How the instance and its entities are *allocated* is the seam: an
:class:`InstanceAllocator` makes them (plain Python objects for the interpreter,
natively backed ones in a vmctx for the JIT, ``runtime/jit/instance.py``; a pooling
allocator would hand out pre-reserved slots through the same calls).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any, Protocol, TypeVar

from pyjitwasm.runtime.errors import InstantiationError, LinkError, Trap
from pyjitwasm.runtime.floats import f32_from_bits, f64_from_bits
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.images import DataPlan, MemoryImage
from pyjitwasm.runtime.instance import Extern, FuncInstance, ModuleInstance
from pyjitwasm.runtime.memory import BytearrayMemory, MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import ListTable, TableInstance
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.gc_pause import cyclic_gc_paused
from pyjitwasm.wasm.module import ConstExpr, FuncIndexItems, SegmentMode, WasmModule
from pyjitwasm.wasm.traps import TrapCode
from pyjitwasm.wasm.types import (
    PAGE_SIZE,
    ExternKind,
    FuncType,
    GlobalType,
    MemoryType,
    TableType,
    valtype_name,
)

Invoker = Callable[[FuncInstance, list[Any]], list[Any]]
"""How an engine calls a function: ``invoke(func, args) -> results`` (runtime values)."""

InstanceT = TypeVar("InstanceT", bound=ModuleInstance)
CodeT = TypeVar("CodeT", contravariant=True)


class InstanceAllocator(Protocol[InstanceT, CodeT]):
    """Makes an instance and the entities it defines; :func:`instantiate` calls it in
    the specification's order and does everything else itself.

    ``CodeT`` is what the engine prepared of the module (the interpreter's shared
    compiled-body cache, the JIT's machine code); ``index`` arguments count the entities
    the module defines, without the imported ones."""

    def new_instance(self, module: WasmModule, code: CodeT,
                     context: StoreContext) -> InstanceT:
        """An empty instance of ``module`` (no entities yet)."""
        ...

    def link_imports(self, inst: InstanceT) -> None:
        """The instance's entity lists hold its imports: make them reachable by its code."""
        ...

    def new_function(self, inst: InstanceT, index: int, code_slot: int) -> FuncInstance:
        """Wasm function ``index`` of the module's function index space."""
        ...

    def new_functions(self, inst: InstanceT, first: int, count: int) -> list[FuncInstance]:
        """The module's ``count`` defined functions, from index ``first`` (code slots 0
        on): :meth:`new_function` for each, or faster all at once."""
        ...

    def add_functions(self, inst: InstanceT, first: int, count: int) -> None:
        """Append the module's ``count`` defined functions (from index ``first``) to
        ``inst.funcs``: :meth:`new_functions`, or objects made on first use that are
        the same on every read (the JIT's ``LazyFunctions``)."""
        ...

    def new_table(self, inst: InstanceT, index: int, ttype: TableType) -> TableInstance: ...

    def new_memory(self, inst: InstanceT, index: int, mtype: MemoryType) -> MemoryInstance: ...

    def new_global(self, inst: InstanceT, index: int, gtype: GlobalType,
                   value: Any) -> GlobalInstance: ...

    def init_table(self, inst: InstanceT, table: int, start: int, items: list[Any]) -> None:
        """Apply an active element segment to table ``table`` (of the whole index space,
        already bounds-checked)."""
        ...

    def init_table_funcs(self, inst: InstanceT, table: int, start: int,
                         numbers: tuple[int, ...]) -> None:
        """Apply an active element segment of functions ``numbers`` (the instance's
        function index space; bounds-checked): :meth:`init_table` with
        ``inst.funcs[n]``, or the table words written without those objects."""
        ...

    def activate(self, inst: InstanceT) -> None:
        """The instance is complete: its code may run and keep references from now on."""
        ...


class PlainAllocator:
    """The interpreter's allocator: Python-backed entities, nothing to link."""

    def new_instance(self, module: WasmModule, code: object,
                     context: StoreContext) -> ModuleInstance:
        return ModuleInstance(module, context, code)

    def link_imports(self, inst: ModuleInstance) -> None:
        pass

    def new_function(self, inst: ModuleInstance, index: int, code_slot: int) -> FuncInstance:
        module = inst.module
        ftype = module.types[module.funcs[code_slot]]
        return FuncInstance(ftype, inst.context, None, inst, index, code_slot)

    def new_functions(self, inst: ModuleInstance, first: int,
                      count: int) -> list[FuncInstance]:
        new_function = self.new_function
        return [new_function(inst, first + slot, slot) for slot in range(count)]

    def add_functions(self, inst: ModuleInstance, first: int, count: int) -> None:
        inst.funcs.extend(self.new_functions(inst, first, count))

    def new_table(self, inst: ModuleInstance, index: int, ttype: TableType) -> TableInstance:
        return ListTable(ttype, inst.context)

    def new_memory(self, inst: ModuleInstance, index: int,
                   mtype: MemoryType) -> MemoryInstance:
        return BytearrayMemory(mtype, inst.context)

    def new_global(self, inst: ModuleInstance, index: int, gtype: GlobalType,
                   value: Any) -> GlobalInstance:
        return GlobalInstance(gtype, value, inst.context)

    def init_table(self, inst: ModuleInstance, table: int, start: int,
                   items: list[Any]) -> None:
        inst.tables[table].initialize(start, items)

    def init_table_funcs(self, inst: ModuleInstance, table: int, start: int,
                         numbers: tuple[int, ...]) -> None:
        self.init_table(inst, table, start, list(map(inst.funcs.__getitem__, numbers)))

    def activate(self, inst: ModuleInstance) -> None:
        pass


# Import matching ------------------------------------------------------------------------


def extern_kind(item: object) -> ExternKind | None:
    """The kind of a runtime extern, or None if ``item`` is not one."""
    if isinstance(item, FuncInstance):
        return ExternKind.FUNC
    if isinstance(item, TableInstance):
        return ExternKind.TABLE
    if isinstance(item, MemoryInstance):
        return ExternKind.MEMORY
    if isinstance(item, GlobalInstance):
        return ExternKind.GLOBAL
    return None


def _limits_match(
    actual_min: int, actual_max: int | None, want_min: int, want_max: int | None
) -> bool:
    if actual_min < want_min:
        return False
    if want_max is None:
        return True
    return actual_max is not None and actual_max <= want_max


def _describe(desc: object) -> str:
    if isinstance(desc, FuncType):
        return f"func {desc}"
    if isinstance(desc, TableType):
        return f"table {'i64 ' if desc.is_64 else ''}{desc.minimum} {desc.maximum} "\
            f"{valtype_name(desc.elem_type)}"
    if isinstance(desc, MemoryType):
        page_size = "" if desc.page_size == PAGE_SIZE else f" (pagesize {desc.page_size})"
        return f"memory {'i64 ' if desc.is_64 else ''}{desc.minimum} {desc.maximum}{page_size}"
    if isinstance(desc, GlobalType):
        mut = "mut " if desc.mutable else ""
        return f"global {mut}{valtype_name(desc.valtype)}"
    return repr(desc)


def import_mismatch(module: WasmModule, index: int, item: object) -> str | None:
    """Why runtime extern ``item`` cannot satisfy import ``index``, or None if it can."""
    imp = module.imports[index]
    kind = extern_kind(item)
    if kind != imp.kind:
        got = kind.name.lower() if kind is not None else type(item).__name__
        return f"expected {imp.kind.name.lower()}, got {got}"
    want = imp.desc
    if isinstance(item, FuncInstance) and isinstance(want, int):
        want_f = module.types[want]
        if item.type != want_f:
            return f"expected {_describe(want_f)}, got {_describe(item.type)}"
    elif isinstance(item, TableInstance) and isinstance(want, TableType):
        have_t = item.type
        if (
            have_t.elem_type != want.elem_type
            or have_t.is_64 != want.is_64
            or not _limits_match(item.size, have_t.maximum, want.minimum, want.maximum)
        ):
            return f"expected {_describe(want)}, got {_describe(item.current_type())}"
    elif isinstance(item, MemoryInstance) and isinstance(want, MemoryType):
        have_m = item.type
        # Custom page sizes: the page size is part of the type and must be equal.
        if (
            have_m.is_64 != want.is_64
            or have_m.page_size_log2 != want.page_size_log2
            or not _limits_match(item.pages, have_m.maximum, want.minimum, want.maximum)
        ):
            return f"expected {_describe(want)}, got {_describe(item.current_type())}"
    elif isinstance(item, GlobalInstance):
        if item.type != want:
            return f"expected {_describe(want)}, got {_describe(item.type)}"
    return None


def check_imports(module: WasmModule, imports: Sequence[object], context: StoreContext) -> None:
    """Raise LinkError unless ``imports`` (in import order) satisfy the module's imports,
    ValueError if one belongs to another store."""
    if len(imports) != len(module.imports):
        raise LinkError(f"expected {len(module.imports)} imports, got {len(imports)}")
    for i, item in enumerate(imports):
        imp = module.imports[i]
        if getattr(item, "context", None) is not context:
            raise ValueError(f"import {imp.module}::{imp.name} belongs to a different store")
        why = import_mismatch(module, i, item)
        if why is not None:
            raise LinkError(f"incompatible import type for {imp.module}::{imp.name}: {why}")


# Constant expressions -------------------------------------------------------------------

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF

_CONST_ARITH: dict[int, tuple[Callable[[int, int], int], int]] = {
    op.I32_ADD: (lambda a, b: a + b, M32),
    op.I32_SUB: (lambda a, b: a - b, M32),
    op.I32_MUL: (lambda a, b: a * b, M32),
    op.I64_ADD: (lambda a, b: a + b, M64),
    op.I64_SUB: (lambda a, b: a - b, M64),
    op.I64_MUL: (lambda a, b: a * b, M64),
}


def eval_const(expr: ConstExpr, inst: ModuleInstance | None) -> Any:
    """Evaluate a constant expression (extended-const arithmetic included); ``inst`` may
    be None for one that reads neither globals nor functions (when planning)."""
    stack: list[Any] = []
    push = stack.append
    for ins in expr.instrs:
        code = ins.op
        if code == op.I32_CONST or code == op.I64_CONST or code == op.V128_CONST:
            push(ins.imm)
        elif code == op.F32_CONST:
            push(f32_from_bits(ins.imm))
        elif code == op.F64_CONST:
            push(f64_from_bits(ins.imm))
        elif code == op.REF_NULL:
            push(None)
        elif code == op.REF_FUNC:
            assert inst is not None
            push(inst.funcs[ins.imm])
        elif code == op.GLOBAL_GET:
            assert inst is not None
            push(inst.globals[ins.imm].value)
        elif code in _CONST_ARITH:
            b = stack.pop()
            a = stack.pop()
            fn, mask = _CONST_ARITH[code]
            push(fn(a, b) & mask)
        else:
            raise InstantiationError(f"unsupported constant instruction {op.OPS[code].name}")
    return stack[-1]


# Instantiation plans --------------------------------------------------------------------

_CONST, _FUNC, _EXPR = 0, 1, 2
"""How a planned constant expression gets its value: it is the payload; it is the
instance's function number ``payload`` (``ref.func``); or evaluate the payload per
instance (it reads a global)."""

PlannedConst = tuple[int, Any]


def _plan_const(expr: ConstExpr) -> PlannedConst:
    """``expr`` evaluated now if its value is the same for every instance."""
    instrs = expr.instrs
    if len(instrs) == 1:
        # The common shapes first (CPython for WASI plans 30,000 of them).
        code = instrs[0].op
        if code == op.I32_CONST or code == op.I64_CONST:
            return (_CONST, instrs[0].imm)
        if code == op.REF_FUNC:
            return (_FUNC, instrs[0].imm)
    if any(ins.op == op.GLOBAL_GET or ins.op == op.REF_FUNC for ins in instrs):
        return (_EXPR, expr)
    return (_CONST, eval_const(expr, None))


def planned_value(planned: PlannedConst, inst: ModuleInstance) -> Any:
    """A planned constant expression's value in ``inst``."""
    kind, payload = planned
    if kind == _CONST:
        return payload
    if kind == _FUNC:
        return inst.funcs[payload]
    return eval_const(payload, inst)


def planned_items(planned: list[PlannedConst], inst: ModuleInstance) -> list[Any]:
    """An element segment's references in ``inst``."""
    funcs = inst.funcs
    return [funcs[payload] if kind == _FUNC else payload if kind == _CONST
            else eval_const(payload, inst) for kind, payload in planned]


def _function_numbers(items: Sequence[ConstExpr]) -> tuple[int, ...] | None:
    """The function numbers of element items that are all ``ref.func`` (one pass: a
    segment may list thousands), else None."""
    if isinstance(items, FuncIndexItems):
        return items.indices  # the binary's compact form: nothing to look at
    ref_func = op.REF_FUNC
    numbers: list[int] = []
    add = numbers.append
    for item in items:
        instrs = item.instrs
        if len(instrs) != 1 or instrs[0].op != ref_func:
            return None
        add(instrs[0].imm)
    return tuple(numbers)


class InstantiationPlan:
    """What instantiating a module does the same way every time, worked out once per
    module (the JIT keeps it with the module's vmctx template): constant expressions
    evaluated where they read no global, element items as function numbers, which
    segments stay after instantiation, the exports by index space.

    Only work moves here, never a check: each segment is still bounds-checked against
    the instance's own table or memory (an imported one may have any size).

    ``data``: the module's :class:`~pyjitwasm.runtime.images.DataPlan` when the caller
    has it (the code cache's module record): then no data segment is read unless
    :attr:`active_datas` is (a module without memory images)."""

    __slots__ = ("func_count", "globals", "elems", "elem_funcs", "active_elems",
                 "_active_datas", "datas_after", "exports", "_module")

    def __init__(self, module: WasmModule, data: DataPlan | None = None) -> None:
        self._module = module
        self.func_count = len(module.funcs)
        self.globals = [(glob.type, _plan_const(glob.init)) for glob in module.globals]
        # Per element segment: its items, and whether it stays after instantiation (only
        # passive ones do: active ones are applied and dropped, declarative ones dropped).
        # A segment of ``ref.func`` items only (most are) also as the function numbers,
        # its items then looked up without evaluating anything (``elem_funcs``).
        self.elems: list[tuple[list[PlannedConst], bool]] = []
        self.elem_funcs: list[tuple[int, ...] | None] = []
        for seg in module.elems:
            passive = seg.mode == SegmentMode.PASSIVE
            numbers = _function_numbers(seg.items)
            if numbers is not None:
                self.elems.append(([(_FUNC, number) for number in numbers], passive))
                self.elem_funcs.append(numbers)
            else:
                planned = [_plan_const(item) for item in seg.items]
                self.elems.append((planned, passive))
                self.elem_funcs.append(tuple(payload for _, payload in planned)
                                       if all(kind == _FUNC for kind, _ in planned) else None)
        self.active_elems: list[tuple[int, int, PlannedConst]] = []
        for index, elem in enumerate(module.elems):
            if elem.mode == SegmentMode.ACTIVE:
                assert elem.offset_expr is not None
                self.active_elems.append((index, elem.table, _plan_const(elem.offset_expr)))
        self._active_datas: list[tuple[int, PlannedConst, bytes]] | None = None
        if data is None:
            active = SegmentMode.ACTIVE
            self.datas_after = [b"" if seg.mode is active else seg.data
                                for seg in module.datas]
        else:
            self.datas_after = data.datas_after
        self.exports = [(export.name, export.kind, export.index)
                        for export in module.exports]

    @property
    def active_datas(self) -> list[tuple[int, PlannedConst, bytes]]:
        """The active data segments in order: memory, planned offset, bytes (worked out
        on first use: a module with memory images never needs them)."""
        planned = self._active_datas
        if planned is None:
            planned = []
            for seg in self._module.datas:
                if seg.mode == SegmentMode.ACTIVE:
                    assert seg.offset_expr is not None
                    planned.append((seg.memory, _plan_const(seg.offset_expr), seg.data))
            self._active_datas = planned
        return planned


# Instantiation --------------------------------------------------------------------------


GC_PAUSE_ENTITIES = 64
"""Instantiating a module of at least this many functions (defined and imported) pauses
the cyclic collector (see :func:`instantiate`)."""


def instantiate(
    module: WasmModule,
    code: CodeT,
    imports: Sequence[Extern],
    context: StoreContext,
    allocator: InstanceAllocator[InstanceT, CodeT],
    invoke: Invoker,
    images: Sequence[MemoryImage] = (),
    plan: InstantiationPlan | None = None,
) -> InstanceT:
    """Instantiate a validated module with resolved imports (in import order).

    Raises LinkError when an import does not match, Trap when a segment is out of bounds
    or the start function traps (effects of segments already applied stay, as the spec
    says), InstantiationError for resource failures. ``invoke(func, args)`` runs the
    start function. ``images`` are the module's memory images (``images.build_images``),
    which replace its data segments when given; ``plan`` is the module's
    :class:`InstantiationPlan` (made now if not given).
    """
    # The cyclic collector is paused while the instance is made: a module's thousands of
    # functions are two objects each, all kept, and the collections their allocation
    # set off found nothing to free (CPython for WASI: 25 of 35 ms).  Not while the
    # start function runs: that may run for long, and allocate through host calls.
    # (A few objects: pausing and resuming the collector costs more than it saves.)
    large = len(module.funcs) + len(imports) >= GC_PAUSE_ENTITIES
    with cyclic_gc_paused() if large else nullcontext():
        inst = _make_instance(module, code, imports, context, allocator, images, plan)
    if module.start is not None:
        start = inst.funcs[module.start]
        if start.host is not None:
            # A host function as the start function sees the instance being made as its
            # caller (as in Wasmtime), so its Caller can reach the new exports.
            start.host(inst, [])
        else:
            invoke(start, [])
    return inst


def _make_instance(
    module: WasmModule,
    code: CodeT,
    imports: Sequence[Extern],
    context: StoreContext,
    allocator: InstanceAllocator[InstanceT, CodeT],
    images: Sequence[MemoryImage],
    plan: InstantiationPlan | None,
) -> InstanceT:
    """:func:`instantiate` up to the start function."""
    if plan is None:
        plan = InstantiationPlan(module)
    if imports or module.imports:
        check_imports(module, imports, context)
    # Store limits: an instance that would pass a count limit fails before any of it exists.
    context.resources.check_instance(len(module.memories), len(module.tables))
    inst = allocator.new_instance(module, code, context)
    if imports:
        for item in imports:
            if isinstance(item, FuncInstance):
                inst.funcs.append(item)
            elif isinstance(item, TableInstance):
                inst.tables.append(item)
            elif isinstance(item, MemoryInstance):
                inst.memories.append(item)
            else:
                inst.globals.append(item)
        allocator.link_imports(inst)

    allocator.add_functions(inst, len(inst.funcs), plan.func_count)
    try:
        for i, ttype in enumerate(module.tables):
            inst.tables.append(allocator.new_table(inst, i, ttype))
        for i, mtype in enumerate(module.memories):
            inst.memories.append(allocator.new_memory(inst, i, mtype))
    except MemoryError as exc:
        raise InstantiationError(str(exc)) from None
    for i, (gtype, init) in enumerate(plan.globals):
        inst.globals.append(allocator.new_global(inst, i, gtype, planned_value(init, inst)))
    _segments_and_exports(plan, inst, allocator, images)
    return inst


def _bind_exports(plan: InstantiationPlan, inst: ModuleInstance) -> None:
    # Indexed by ExternKind (FUNC, TABLE, MEMORY, GLOBAL are 0 to 3).
    spaces: tuple[Sequence[Extern], ...] = (inst.funcs, inst.tables, inst.memories,
                                            inst.globals)
    exports = inst.exports
    for name, kind, index in plan.exports:
        exports[name] = spaces[kind][index]


def _init_elements(plan: InstantiationPlan, inst: InstanceT,
                   allocator: InstanceAllocator[InstanceT, Any]) -> None:
    """Apply the active element segments in order (the instance's list already holds
    them dropped); a segment that does not fit traps, keeping the earlier ones' effects."""
    elems = plan.elems
    elem_funcs = plan.elem_funcs
    tables = inst.tables
    for index, table, offset in plan.active_elems:
        start = offset[1] if offset[0] == _CONST else planned_value(offset, inst)
        numbers = elem_funcs[index]
        if numbers is not None:
            # Functions only (most segments): the allocator may write them without
            # making their objects (the JIT's are made on first use).
            if start + len(numbers) > tables[table].size:
                raise Trap(TrapCode.TABLE_OUT_OF_BOUNDS)
            allocator.init_table_funcs(inst, table, start, numbers)
            continue
        items = planned_items(elems[index][0], inst)
        if start + len(items) > tables[table].size:
            raise Trap(TrapCode.TABLE_OUT_OF_BOUNDS)
        allocator.init_table(inst, table, start, items)


def init_data(plan: InstantiationPlan, inst: ModuleInstance,
               images: Sequence[MemoryImage]) -> None:
    """Copy the active data segments into their memories, in order (the instance's list
    already holds them dropped); a segment that does not fit traps, leaving the earlier
    segments' bytes in place.

    With images (a module none of whose segments can trap, ``images.py``) each memory
    gets its image in one step."""
    if images:
        for image in images:
            inst.memories[image.memory].apply_image(image)
        return
    for memory_index, offset, data in plan.active_datas:
        start = planned_value(offset, inst)
        memory = inst.memories[memory_index]
        if start + len(data) > memory.byte_size:
            raise Trap(TrapCode.MEMORY_OUT_OF_BOUNDS)
        memory.write(start, data)


def _segments_and_exports(plan: InstantiationPlan, inst: InstanceT,
                          allocator: InstanceAllocator[InstanceT, Any],
                          images: Sequence[MemoryImage]) -> None:
    """The instantiation steps after the globals: segments kept for later use, exports
    bound, then the instance activated and its active segments written."""
    # After instantiation only the passive segments remain (the others are dropped).
    inst.elems = [planned_items(items, inst) if passive else [] for items, passive in plan.elems]
    inst.datas = list(plan.datas_after)
    _bind_exports(plan, inst)
    allocator.activate(inst)
    _init_elements(plan, inst, allocator)
    init_data(plan, inst, images)


def reinitialize(plan: InstantiationPlan, inst: InstanceT,
                 allocator: InstanceAllocator[InstanceT, Any],
                 images: Sequence[MemoryImage] = ()) -> InstanceT:
    """Initialize an instance whose entities exist already, freshly reset (a pooling
    allocator's parked instance, given to a new store), the way :func:`instantiate`
    does from the global initializers on. Only for a module without imports or a start
    function (the caller checks): its globals, segments and exports are its own."""
    for glob, (_, init) in zip(inst.globals, plan.globals, strict=True):
        glob.value = planned_value(init, inst)
    _segments_and_exports(plan, inst, allocator, images)
    return inst
