"""``pyjitwasm objdump FILE``: a quick look inside a module.

Prints sections, types, imports, exports, functions with their sizes, tables, memories,
globals, segments and custom sections.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from pyjitwasm.commands.loading import load_module
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.types import GlobalType, MemoryType, TableType, valtype_name

SECTION_NAMES = {
    0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global",
    7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "datacount",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("objdump", help="print a summary of a .wasm module's contents")
    p.add_argument("file", help="the .wasm module")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    module = load_module(args.file, validate=False)
    print(f"{args.file}: {module.size} bytes")
    for line in dump(module):
        print(line)
    return 0


def _limits(minimum: int, maximum: int | None) -> str:
    return f"min {minimum}" + ("" if maximum is None else f" max {maximum}")


def describe_extern(desc: object, module: WasmModule) -> str:
    """Text for an import's description."""
    if isinstance(desc, int):
        return f"type {desc} {module.types[desc]}" if desc < len(module.types) else f"type {desc}"
    if isinstance(desc, TableType):
        return f"{valtype_name(desc.elem_type)} {_limits(desc.minimum, desc.maximum)}" + (
            " i64" if desc.is_64 else "")
    if isinstance(desc, MemoryType):
        return f"pages {_limits(desc.minimum, desc.maximum)}" + (" i64" if desc.is_64 else "")
    if isinstance(desc, GlobalType):
        return ("mut " if desc.mutable else "") + valtype_name(desc.valtype)
    return repr(desc)


def dump(module: WasmModule) -> Iterator[str]:
    """The objdump report, line by line."""
    yield "sections:"
    for s in module.sections:
        name = SECTION_NAMES.get(s.id, f"id {s.id}")
        if s.id == 0 and s.name is not None:
            name = f'custom "{s.name}"'
        yield f"  {name:<28} start 0x{s.offset:08x}  size {s.size:>9}"
    if module.types:
        yield f"types ({len(module.types)}):"
        for i, t in enumerate(module.types):
            yield f"  {i:>4}: {t}"
    if module.imports:
        yield f"imports ({len(module.imports)}):"
        for imp in module.imports:
            kind = imp.kind.name.lower()
            yield f"  {kind:<6} {imp.module}.{imp.name}: {describe_extern(imp.desc, module)}"
    if module.codes:
        base = module.num_imported_funcs
        yield f"functions ({len(module.codes)} defined, {base} imported):"
        yield f"  {'index':>6} {'type':>5} {'locals':>6} {'instrs':>7} {'bytes':>7}  name"
        for i, (type_index, body) in enumerate(zip(module.funcs, module.codes, strict=False)):
            name = module.func_name(base + i) or ""
            yield (f"  {base + i:>6} {type_index:>5} {len(body.locals):>6} "
                   f"{body.instr_count:>7} {body.size:>7}  {name}")
    for i, table_type in enumerate(module.tables):
        yield f"table {i}: {describe_extern(table_type, module)}"
    for i, memory_type in enumerate(module.memories):
        yield f"memory {i}: {describe_extern(memory_type, module)}"
    if module.globals:
        yield f"globals ({len(module.globals)}):"
        for i, g in enumerate(module.globals):
            yield f"  {i:>4}: {describe_extern(g.type, module)}"
    if module.exports:
        yield f"exports ({len(module.exports)}):"
        for e in module.exports:
            yield f"  {e.kind.name.lower():<6} {e.index:>5}  {e.name!r}"
    if module.start is not None:
        yield f"start: function {module.start}"
    for i, elem in enumerate(module.elems):
        where = f" table {elem.table}" if elem.offset_expr is not None else ""
        yield (f"elem {i}: {elem.mode.value}{where}, {len(elem.items)} "
               f"{valtype_name(elem.elem_type)} items")
    for i, data in enumerate(module.datas):
        where = f" memory {data.memory}" if data.offset_expr is not None else ""
        yield f"data {i}: {data.mode.value}{where}, {len(data.data)} bytes"
    if module.names.functions:
        yield f"names: {len(module.names.functions)} functions"
    for c in module.customs:
        yield f"custom {c.name!r}: {len(c.data)} bytes"

