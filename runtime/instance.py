"""Module instances and instantiation (import matching, initializers, segments, start)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pyjitwasm.runtime.errors import InstantiationError, LinkError, Trap
from pyjitwasm.runtime.floats import f32_from_bits, f64_from_bits
from pyjitwasm.runtime.functions import FuncInstance
from pyjitwasm.runtime.globals import GlobalInstance
from pyjitwasm.runtime.memory import MemoryInstance
from pyjitwasm.runtime.store import StoreContext
from pyjitwasm.runtime.table import TableInstance
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import ConstExpr, SegmentMode, WasmModule
from pyjitwasm.wasm.traps import TrapCode
from pyjitwasm.wasm.types import (
    EXTERNREF,
    FUNCREF,
    I32,
    I64,
    ExternKind,
    FuncType,
    GlobalType,
    MemoryType,
    TableType,
    valtype_name,
)

Extern = FuncInstance | TableInstance | MemoryInstance | GlobalInstance
Invoker = Callable[[FuncInstance, list[Any]], list[Any]]

_KIND_OF = {
    FuncInstance: ExternKind.FUNC,
    TableInstance: ExternKind.TABLE,
    MemoryInstance: ExternKind.MEMORY,
    GlobalInstance: ExternKind.GLOBAL,
}

M32 = 0xFFFFFFFF
M64 = 0xFFFFFFFFFFFFFFFF


class ModuleInstance:
    """A module instantiated in a store: its entities (imports first in each index
    space), its element and data segments (emptied when dropped) and its exports."""

    __slots__ = (
        "module",
        "context",
        "funcs",
        "tables",
        "memories",
        "globals",
        "elems",
        "datas",
        "exports",
        "code_cache",
        "name",
    )

    def __init__(self, module: WasmModule, context: StoreContext, code_cache: list[Any]) -> None:
        self.module = module
        self.context = context
        self.funcs: list[FuncInstance] = []
        self.tables: list[TableInstance] = []
        self.memories: list[MemoryInstance] = []
        self.globals: list[GlobalInstance] = []
        self.elems: list[list[Any]] = []
        self.datas: list[bytes] = []
        self.exports: dict[str, Extern] = {}
        self.code_cache = code_cache
        self.name: str | None = module.names.module

    @property
    def types(self) -> list[FuncType]:
        return self.module.types


def extern_kind(item: object) -> ExternKind | None:
    """The kind of a runtime extern (engines subclass the base classes), or None."""
    for cls, kind in _KIND_OF.items():
        if isinstance(item, cls):
            return kind
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
        return f"memory {'i64 ' if desc.is_64 else ''}{desc.minimum} {desc.maximum}"
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
    if isinstance(item, FuncInstance):
        want = module.types[imp.desc]  # type: ignore[index]
        if item.type != want:
            return f"expected {_describe(want)}, got {_describe(item.type)}"
    elif isinstance(item, TableInstance):
        want_t: TableType = imp.desc  # type: ignore[assignment]
        have_t = item.type
        if (
            have_t.elem_type != want_t.elem_type
            or have_t.is_64 != want_t.is_64
            or not _limits_match(item.size, have_t.maximum, want_t.minimum, want_t.maximum)
        ):
            return f"expected {_describe(want_t)}, got {_describe(item.current_type())}"
    elif isinstance(item, MemoryInstance):
        want_m: MemoryType = imp.desc  # type: ignore[assignment]
        have_m = item.type
        if have_m.is_64 != want_m.is_64 or not _limits_match(
            item.pages, have_m.maximum, want_m.minimum, want_m.maximum
        ):
            return f"expected {_describe(want_m)}, got {_describe(item.current_type())}"
    elif isinstance(item, GlobalInstance):
        if item.type != imp.desc:
            return f"expected {_describe(imp.desc)}, got {_describe(item.type)}"
    return None


def eval_const(expr: ConstExpr, inst: ModuleInstance) -> Any:
    """Evaluate a constant expression (extended-const arithmetic included)."""
    stack: list[Any] = []
    push = stack.append
    for ins in expr.instrs:
        code = ins.op
        if code == op.I32_CONST or code == op.I64_CONST:
            push(ins.imm)
        elif code == op.F32_CONST:
            push(f32_from_bits(ins.imm))
        elif code == op.F64_CONST:
            push(f64_from_bits(ins.imm))
        elif code == op.V128_CONST:
            push(ins.imm)
        elif code == op.REF_NULL:
            push(None)
        elif code == op.REF_FUNC:
            push(inst.funcs[ins.imm])
        elif code == op.GLOBAL_GET:
            push(inst.globals[ins.imm].value)
        elif code in _CONST_ARITH:
            b = stack.pop()
            a = stack.pop()
            fn, mask = _CONST_ARITH[code]
            push(fn(a, b) & mask)
        else:
            raise InstantiationError(f"unsupported constant instruction {op.OPS[code].name}")
    return stack[-1]


_CONST_ARITH = {
    op.I32_ADD: (lambda a, b: a + b, M32),
    op.I32_SUB: (lambda a, b: a - b, M32),
    op.I32_MUL: (lambda a, b: a * b, M32),
    op.I64_ADD: (lambda a, b: a + b, M64),
    op.I64_SUB: (lambda a, b: a - b, M64),
    op.I64_MUL: (lambda a, b: a * b, M64),
}


def default_value(valtype: int) -> Any:
    """The zero value of a value type in the runtime representation."""
    if valtype == I32 or valtype == I64:
        return 0
    if valtype in (FUNCREF, EXTERNREF):
        return None
    if valtype == 0x7B:  # v128
        return 0
    return 0.0


def instantiate(
    module: WasmModule,
    imports: Sequence[Extern],
    context: StoreContext,
    invoke: Invoker,
    code_cache: list[Any] | None = None,
) -> ModuleInstance:
    """Instantiate a validated module with resolved imports (in import order).

    Raises LinkError when an import does not match, Trap when a segment is out of bounds
    or the start function traps (effects of segments already applied stay, as the spec
    says), InstantiationError for resource failures. ``invoke(func, args)`` runs the
    start function.
    """
    if len(imports) != len(module.imports):
        raise LinkError(
            f"expected {len(module.imports)} imports, got {len(imports)}"
        )
    for i, item in enumerate(imports):
        imp = module.imports[i]
        if getattr(item, "context", None) is not context:
            raise ValueError(f"import {imp.module}::{imp.name} belongs to a different store")
        why = import_mismatch(module, i, item)
        if why is not None:
            raise LinkError(f"incompatible import type for {imp.module}::{imp.name}: {why}")

    if code_cache is None:
        code_cache = [None] * len(module.codes)
    inst = ModuleInstance(module, context, code_cache)
    for item in imports:
        if isinstance(item, FuncInstance):
            inst.funcs.append(item)
        elif isinstance(item, TableInstance):
            inst.tables.append(item)
        elif isinstance(item, MemoryInstance):
            inst.memories.append(item)
        else:
            inst.globals.append(item)  # type: ignore[arg-type]

    first = len(inst.funcs)
    for slot, type_index in enumerate(module.funcs):
        inst.funcs.append(
            FuncInstance(module.types[type_index], context, None, inst, first + slot, slot)
        )
    try:
        for ttype in module.tables:
            inst.tables.append(TableInstance(ttype, context))
        for mtype in module.memories:
            inst.memories.append(MemoryInstance(mtype, context))
    except MemoryError as exc:
        raise InstantiationError(str(exc)) from None
    for glob in module.globals:
        inst.globals.append(GlobalInstance(glob.type, eval_const(glob.init, inst), context))
    inst.elems = [[eval_const(item, inst) for item in seg.items] for seg in module.elems]
    inst.datas = [seg.data for seg in module.datas]

    bind_exports(module, inst)
    _init_elements(module, inst)
    init_data(module, inst)
    if module.start is not None:
        invoke(inst.funcs[module.start], [])
    return inst


def _init_elements(module: WasmModule, inst: ModuleInstance) -> None:
    for index, seg in enumerate(module.elems):
        if seg.mode == SegmentMode.ACTIVE:
            assert seg.offset_expr is not None
            start = eval_const(seg.offset_expr, inst)
            items = inst.elems[index]
            table = inst.tables[seg.table]
            if start + len(items) > table.size:
                raise Trap(TrapCode.TABLE_OUT_OF_BOUNDS)
            table.elements[start : start + len(items)] = items
            inst.elems[index] = []
        elif seg.mode == SegmentMode.DECLARATIVE:
            inst.elems[index] = []


def bind_exports(module: WasmModule, inst: ModuleInstance) -> None:
    """Fill ``inst.exports`` from the module's export section."""
    spaces = {
        ExternKind.FUNC: inst.funcs,
        ExternKind.TABLE: inst.tables,
        ExternKind.MEMORY: inst.memories,
        ExternKind.GLOBAL: inst.globals,
    }
    for export in module.exports:
        inst.exports[export.name] = spaces[export.kind][export.index]  # type: ignore[index]


def init_data(module: WasmModule, inst: ModuleInstance) -> None:
    """Copy the active data segments into their memories, in order, and drop them; a
    segment that does not fit traps, leaving the earlier segments' bytes in place."""
    for index, seg in enumerate(module.datas):
        if seg.mode == SegmentMode.ACTIVE:
            assert seg.offset_expr is not None
            start = eval_const(seg.offset_expr, inst)
            memory = inst.memories[seg.memory]
            if start + len(seg.data) > memory.byte_size:
                raise Trap(TrapCode.MEMORY_OUT_OF_BOUNDS)
            memory.write(start, seg.data)
            inst.datas[index] = b""
