"""Module validation: the spec's checks on everything outside and around function bodies.

``validate_module`` checks index spaces, limits, constant expressions, segments, exports
and the start function, then hands each function body to ``validate_body``. It raises
``ValidationError`` for the first problem found; ``offset`` points at the offending entry
(or instruction) when the decoder recorded one.
"""

from __future__ import annotations

from pyjitwasm.wasm import opcodes as O
from pyjitwasm.wasm.errors import ValidationError
from pyjitwasm.wasm.module import (
    ConstExpr,
    FuncIndexItems,
    FunctionBody,
    SegmentMode,
    WasmModule,
    declared_functions,
)
from pyjitwasm.wasm.types import (
    CUSTOM_PAGE_SIZE_LOG2S,
    FUNCREF,
    I32,
    I64,
    MAX_TABLE_32,
    REF_TYPES,
    VALUE_TYPES,
    ExternKind,
    FuncType,
    GlobalType,
    MemoryType,
    TableType,
)
from pyjitwasm.wasm.validate_body import BlockTypes, BodyContext, Invalid, validate_body

__all__ = ["ChecksWhileDecoding", "EarlyBodyChecks", "validate_module", "validate_const_expr"]

_MAX_TABLE_64 = (1 << 64) - 1

# Constant instructions that push a fixed type; the extended-constant arithmetic pops two.
_CONST_PUSH = {
    O.I32_CONST: I32,
    O.I64_CONST: I64,
    O.F32_CONST: 0x7D,
    O.F64_CONST: 0x7C,
    O.V128_CONST: 0x7B,
}
_CONST_ARITH = {
    O.I32_ADD: I32,
    O.I32_SUB: I32,
    O.I32_MUL: I32,
    O.I64_ADD: I64,
    O.I64_SUB: I64,
    O.I64_MUL: I64,
}


class EarlyBodyChecks:
    """Function bodies validated while the decoder meets them, so that ``Module()``
    decodes each body once, not once to find malformed code and again to validate it.

    Made (:meth:`for_module`) when the decoder reaches the code section: every section
    a body may refer to is decoded by then.  A body found invalid is kept as the first
    error and no later body is checked; :func:`validate_module` raises it where it would
    have found it (after the module-level checks), so errors come out as before.  Call
    the object with each body's number among the defined functions, in order."""

    __slots__ = ("ctx", "func_types", "first_defined", "block_types", "checked", "error")

    def __init__(self, ctx: BodyContext, func_types: list[FuncType], first_defined: int) -> None:
        self.ctx = ctx
        self.func_types = func_types
        self.first_defined = first_defined
        self.block_types = BlockTypes(ctx.types)
        self.checked = 0  # bodies looked at, in order
        self.error: ValidationError | None = None

    @classmethod
    def for_module(cls, module: WasmModule) -> EarlyBodyChecks | None:
        """The checks for ``module`` decoded up to its code section; None when its
        sections do not even give every function a type (``validate_module`` then
        reports that, and checks the bodies itself)."""
        ntypes = len(module.types)
        indices: list[int] = []
        for imp in module.imports:
            if imp.kind == ExternKind.FUNC:
                if not isinstance(imp.desc, int):
                    return None
                indices.append(imp.desc)
        imported = len(indices)
        indices += module.funcs
        if not all(0 <= t < ntypes for t in indices):
            return None
        ctx = _body_context(module, [module.types[t] for t in indices])
        return cls(ctx, ctx.func_types, imported)

    def __call__(self, number: int, body: FunctionBody) -> None:
        if self.error is not None or number != self.checked:
            return
        index = self.first_defined + number
        try:
            validate_body(self.ctx, index, self.func_types[index], body, self.block_types)
        except ValidationError as exc:
            self.error = exc
        self.checked += 1


class ChecksWhileDecoding:
    """What ``decode_module(body_checks=...)`` takes to validate bodies as it decodes
    them: makes the :class:`EarlyBodyChecks` when the code section is reached and keeps
    them (``checks``) for :func:`validate_module`."""

    def __init__(self) -> None:
        self.checks: EarlyBodyChecks | None = None

    def __call__(self, partial: WasmModule) -> EarlyBodyChecks | None:
        self.checks = EarlyBodyChecks.for_module(partial)
        return self.checks


def _body_context(module: WasmModule, func_types: list[FuncType]) -> BodyContext:
    """What function bodies may refer to: ``func_types`` (imported then defined) and the
    module's tables, memories, globals, segments."""
    descs = [imp.desc for imp in module.imports]
    tables = [d for d in descs if isinstance(d, TableType)] + module.tables
    memories = [d for d in descs if isinstance(d, MemoryType)] + module.memories
    globals_ = [d for d in descs if isinstance(d, GlobalType)] + \
        [g.type for g in module.globals]
    return BodyContext(
        types=module.types,
        func_types=func_types,
        table_elem_types=[t.elem_type for t in tables],
        table_index_types=[t.index_type for t in tables],
        memory_index_types=[m.index_type for m in memories],
        globals=globals_,
        elem_types=[seg.elem_type for seg in module.elems],
        data_count=module.data_count,
        declared_funcs=_declared_funcs(module),
        call_sigs=[(list(ft.params), ft.results) for ft in func_types],
    )


def validate_module(module: WasmModule, early: EarlyBodyChecks | None = None) -> None:
    """Check that a decoded module is valid; raise ValidationError if it is not.
    ``early``: the bodies the decoder checked already (``EarlyBodyChecks``)."""
    types = module.types
    ntypes = len(types)

    func_types: list[FuncType] = []
    tables: list[TableType] = []
    memories: list[MemoryType] = []
    globals_: list[GlobalType] = []
    # The decoder pairs each import kind with its description's type.
    for imp in module.imports:
        kind = imp.kind
        if kind == ExternKind.FUNC:
            if not isinstance(imp.desc, int) or imp.desc >= ntypes:
                raise ValidationError(f"unknown type {imp.desc}", None, imp.offset)
            func_types.append(types[imp.desc])
        elif kind == ExternKind.TABLE:
            assert isinstance(imp.desc, TableType)
            _check_table_type(imp.desc, imp.offset)
            tables.append(imp.desc)
        elif kind == ExternKind.MEMORY:
            assert isinstance(imp.desc, MemoryType)
            _check_memory_type(imp.desc, imp.offset)
            memories.append(imp.desc)
        else:
            assert isinstance(imp.desc, GlobalType)
            _check_global_type(imp.desc, imp.offset)
            globals_.append(imp.desc)
    num_imported_globals = len(globals_)

    if len(module.funcs) != len(module.codes):
        raise ValidationError("function and code section have inconsistent lengths")
    for i, type_index in enumerate(module.funcs):
        if type_index >= ntypes:
            raise ValidationError(f"unknown type {type_index}", None, module.codes[i].offset)
        func_types.append(types[type_index])
    nfuncs = len(func_types)

    # Defined tables and memories carry no offsets of their own: point at their section.
    table_section = _section_offset(module, _TABLE_SECTION)
    for table in module.tables:
        _check_table_type(table, table_section)
        tables.append(table)
    memory_section = _section_offset(module, _MEMORY_SECTION)
    for memory in module.memories:
        _check_memory_type(memory, memory_section)
        memories.append(memory)

    # Globals: each initializer may read the immutable globals defined before it.
    all_global_types = globals_ + [g.type for g in module.globals]
    for i, glob in enumerate(module.globals):
        _check_global_type(glob.type, glob.init.offset)
        visible = all_global_types[: num_imported_globals + i]
        validate_const_expr(glob.init, glob.type.valtype, visible, nfuncs)
    globals_ = all_global_types

    _check_exports(module, nfuncs, len(tables), len(memories), len(globals_))

    if module.start is not None:
        start_section = _section_offset(module, _START_SECTION)
        if module.start >= nfuncs:
            raise ValidationError(f"unknown function {module.start}", None, start_section)
        start_type = func_types[module.start]
        if start_type.params or start_type.results:
            raise ValidationError("start function must have type [] -> []", None, start_section)

    for seg in module.elems:
        if seg.elem_type not in REF_TYPES:
            raise ValidationError("malformed reference type", None, seg.offset)
        items = seg.items
        if isinstance(items, FuncIndexItems) and (not items or max(items.indices) < nfuncs):
            pass  # ``ref.func`` of known functions (each is valid; the form is funcref)
        else:
            for item in items:
                validate_const_expr(item, seg.elem_type, globals_, nfuncs)
        if seg.mode == SegmentMode.ACTIVE:
            if seg.table >= len(tables):
                raise ValidationError(f"unknown table {seg.table}", None, seg.offset)
            table = tables[seg.table]
            if table.elem_type != seg.elem_type:
                raise ValidationError("type mismatch", None, seg.offset)
            if seg.offset_expr is None:
                raise ValidationError("active element segment without offset", None, seg.offset)
            validate_const_expr(seg.offset_expr, table.index_type, globals_, nfuncs)

    if module.data_count is not None and module.data_count != len(module.datas):
        raise ValidationError("data count and data section have inconsistent lengths")
    for data in module.datas:
        if data.mode == SegmentMode.ACTIVE:
            if data.memory >= len(memories):
                raise ValidationError(f"unknown memory {data.memory}", None, data.offset)
            if data.offset_expr is None:
                raise ValidationError("active data segment without offset", None, data.offset)
            index_type = memories[data.memory].index_type
            validate_const_expr(data.offset_expr, index_type, globals_, nfuncs)

    if early is not None and (early.error is not None
                              or early.checked == len(module.codes)):
        if early.error is not None:
            raise early.error
        return
    ctx = _body_context(module, func_types)
    block_types = BlockTypes(types)
    first_defined = nfuncs - len(module.funcs)
    for i, body in enumerate(module.codes):
        index = first_defined + i
        released = body.released
        validate_body(ctx, index, func_types[index], body, block_types)
        if released:
            body.release()  # decoded again just for this: keep the peak at one body


def validate_const_expr(
    expr: ConstExpr, expected: int, globals_: list[GlobalType], num_funcs: int
) -> None:
    """Check a constant expression yields one ``expected`` value.

    ``globals_`` are the globals it may read (only immutable ones are constant).
    """
    stack: list[int] = []
    try:
        for op, imm, off in expr.instrs:  # noqa: B007 (off locates errors)
            pushed = _CONST_PUSH.get(op)
            if pushed is not None:
                stack.append(pushed)
                continue
            arith = _CONST_ARITH.get(op)
            if arith is not None:
                if len(stack) < 2 or stack[-1] != arith or stack[-2] != arith:
                    raise Invalid("type mismatch")
                stack.pop()
                continue
            if op == O.GLOBAL_GET:
                if imm >= len(globals_):
                    raise Invalid(f"unknown global {imm}")
                if globals_[imm].mutable:
                    raise Invalid("constant expression required")
                stack.append(globals_[imm].valtype)
            elif op == O.REF_NULL:
                stack.append(imm)
            elif op == O.REF_FUNC:
                if imm >= num_funcs:
                    raise Invalid(f"unknown function {imm}")
                stack.append(FUNCREF)
            else:
                raise Invalid("constant expression required")
    except Invalid as exc:
        raise ValidationError(str(exc), None, off) from None
    if stack != [expected]:
        raise ValidationError("type mismatch", None, expr.offset)


# --- helpers --------------------------------------------------------------------------------

_TABLE_SECTION, _MEMORY_SECTION, _START_SECTION = 4, 5, 8


def _section_offset(module: WasmModule, section_id: int) -> int | None:
    for header in module.sections:
        if header.id == section_id:
            return header.offset
    return None


def _check_limits(
    minimum: int, maximum: int | None, bound: int, what: str, offset: int | None
) -> None:
    if minimum > bound or (maximum is not None and maximum > bound):
        raise ValidationError(what, None, offset)
    if maximum is not None and minimum > maximum:
        raise ValidationError("size minimum must not be greater than maximum", None, offset)


def _check_table_type(table: TableType, offset: int | None) -> None:
    if table.elem_type not in REF_TYPES:
        raise ValidationError("malformed reference type", None, offset)
    bound = _MAX_TABLE_64 if table.is_64 else MAX_TABLE_32
    _check_limits(
        table.minimum,
        table.maximum,
        bound,
        "table size must be at most 2^32-1"
        if not table.is_64
        else "table size must be at most 2^64-1",
        offset,
    )


def _check_memory_type(memory: MemoryType, offset: int | None) -> None:
    if memory.page_size_log2 not in CUSTOM_PAGE_SIZE_LOG2S:
        raise ValidationError("invalid custom page size", None, offset)
    _check_limits(memory.minimum, memory.maximum, memory.page_limit,
                  _memory_size_message(memory), offset)


def _memory_size_message(memory: MemoryType) -> str:
    if memory.is_64:
        bound = "2^64-1" if memory.page_size_log2 == 0 else "2^48"
        return f"memory size must be at most {bound} pages"
    if memory.page_size_log2 == 0:
        return "memory size must be at most 2^32-1 pages (4GiB)"
    return "memory size must be at most 65536 pages (4GiB)"


def _check_global_type(glob: GlobalType, offset: int | None) -> None:
    if glob.valtype not in VALUE_TYPES:
        raise ValidationError("malformed value type", None, offset)


def _check_exports(
    module: WasmModule, nfuncs: int, ntables: int, nmems: int, nglobals: int
) -> None:
    bounds = {
        ExternKind.FUNC: (nfuncs, "unknown function"),
        ExternKind.TABLE: (ntables, "unknown table"),
        ExternKind.MEMORY: (nmems, "unknown memory"),
        ExternKind.GLOBAL: (nglobals, "unknown global"),
    }
    names: set[str] = set()
    for export in module.exports:
        count, message = bounds[export.kind]
        if export.index >= count:
            raise ValidationError(f"{message} {export.index}", None, export.offset)
        if export.name in names:
            raise ValidationError("duplicate export name", None, export.offset)
        names.add(export.name)


def _declared_funcs(module: WasmModule) -> set[int]:
    """The spec's C.refs (``module.declared_functions``), with any ``ref.func`` in the
    segments' offset expressions too: such an offset is invalid, and its own check says
    so, whichever comes first."""
    offsets = [seg.offset_expr for seg in module.elems if seg.offset_expr is not None]
    offsets += [seg.offset_expr for seg in module.datas if seg.offset_expr is not None]
    return declared_functions(module, offsets)
