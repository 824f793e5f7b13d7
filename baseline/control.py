"""Direct tier 0: control flow, parametric and variable instructions, calls.

Blocks meet in phis at their end labels, loops keep their parameters in ``alloca``
slots, ``br_table`` is a ``switch`` (targets that take values get an edge block each),
calls go through code slots (``translate/table.py``'s contract), and ``call_indirect``
checks the element's range, null-ness and signature in wasm's order."""

from __future__ import annotations

from typing import Any

from pyjitwasm.baseline.function import (
    INVARIANT,
    PREFIX,
    RUNTIME,
    Frame,
    FunctionEmitter,
    Handler,
    Unsupported,
    type_of,
    wasm_type,
)
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.wasm import opcodes as op

# Control ------------------------------------------------------------------------------

def block(e: FunctionEmitter, imm: Any) -> None:
    params, results = e.block_types(imm.blocktype)
    e.frames.append(Frame("block", e.fresh("E"), results, len(e.stack) - len(params)))


def loop(e: FunctionEmitter, imm: Any) -> None:
    params, results = e.block_types(imm.blocktype)
    stack = e.stack
    frame = Frame("loop", "", results, len(stack) - len(params))
    out = e.out
    if params:
        values = stack[len(stack) - len(params):]
        del stack[len(stack) - len(params):]
        for ty, value in zip(params, values, strict=True):
            slot = e.fresh("%s")
            e.allocas.append(f"  {slot} = alloca {ty}")
            out.append(f"  store {ty} {value}, ptr {slot}")
            frame.slots.append((slot, ty))
    frame.header = e.fresh("H")
    out.append(f"  br label %{frame.header}")
    e.open(frame.header)
    for slot, ty in frame.slots:
        name = e.fresh(PREFIX[ty])
        out.append(f"  {name} = load {ty}, ptr {slot}")
        stack.append(name)
    e.frames.append(frame)
    e.has_loop = True
    count = e.fresh("%n")
    out.append(f"  {count} = load i32, ptr %count, align 4")
    e.count_down(count)


def if_(e: FunctionEmitter, imm: Any) -> None:
    params, results = e.block_types(imm.blocktype)
    cond = e.condition(e.stack.pop())
    stack = e.stack
    frame = Frame("if", e.fresh("E"), results, len(stack) - len(params))
    frame.else_label = e.fresh("F")
    frame.else_args = stack[len(stack) - len(params):] if params else []
    then = e.fresh("I")
    e.out.append(f"  br i1 {cond}, label %{then}, label %{frame.else_label}")
    e.frames.append(frame)
    e.open(then)


def else_(e: FunctionEmitter, imm: Any) -> None:
    frame = e.frames[-1]
    if e.reachable:
        e.branch(0)
    del e.stack[frame.height:]
    e.stack.extend(frame.else_args)
    frame.kind = "else"
    e.open(frame.else_label)
    e.reachable = True


def end(e: FunctionEmitter, imm: Any) -> None:
    frame = e.frames.pop()
    kind = frame.kind
    if kind == "loop":
        return  # falls through with its results on the stack (or stays dead)
    if kind == "function":
        if e.reachable:
            e.return_values(frame.results)
        e.reachable = False
        return
    if e.reachable:
        e.frames.append(frame)
        e.branch(0)
        e.frames.pop()
    del e.stack[frame.height:]
    if kind == "if":
        # No else: the else edge forwards the params as the results.
        e.open(frame.else_label)
        frame.incoming.append((frame.else_label, frame.else_args))
        e.out.append(f"  br label %{frame.end}")
    e.close_frame(frame)


def br(e: FunctionEmitter, depth: int) -> None:
    e.branch(depth)
    e.reachable = False


def br_if(e: FunctionEmitter, depth: int) -> None:
    cond = e.condition(e.stack.pop())
    frame = e.frames[-1 - depth]
    out = e.out
    nxt = e.fresh("B")
    if frame.kind == "block" or frame.kind == "if" or frame.kind == "else":
        count = len(frame.results)
        stack = e.stack
        frame.incoming.append((e.label, stack[len(stack) - count:] if count else []))
        out.append(f"  br i1 {cond}, label %{frame.end}, label %{nxt}")
    elif frame.kind == "loop" and not frame.slots:
        out.append(f"  br i1 {cond}, label %{frame.header}, label %{nxt}")
    else:
        taken = e.fresh("J")
        out.append(f"  br i1 {cond}, label %{taken}, label %{nxt}")
        e.open(taken)
        e.branch(depth)
        e.open(nxt)
        return
    e.open(nxt, keep=True)


def br_table(e: FunctionEmitter, imm: Any) -> None:
    depths, default = imm
    index = e.stack.pop()
    targets: dict[int, str] = {}
    edges: list[tuple[int, str]] = []
    for depth in (*depths, default):
        if depth in targets:
            continue
        frame = e.frames[-1 - depth]
        if frame.kind == "loop" and not frame.slots:
            targets[depth] = frame.header
        elif frame.kind in ("block", "if", "else") and not frame.results:
            targets[depth] = frame.end
            frame.incoming.append((e.label, []))
        else:
            targets[depth] = e.fresh("W")
            edges.append((depth, targets[depth]))
    cases = " ".join(f"i32 {i}, label %{targets[d]}" for i, d in enumerate(depths))
    e.out.append(f"  switch i32 {index}, label %{targets[default]} [ {cases} ]")
    for depth, label in edges:
        e.open(label)
        e.branch(depth)
    e.reachable = False


def return_(e: FunctionEmitter, imm: Any) -> None:
    e.return_values(e.frames[0].results)
    e.reachable = False


def unreachable(e: FunctionEmitter, imm: Any) -> None:
    e.trap(TrapCode.UNREACHABLE)


def nop(e: FunctionEmitter, imm: Any) -> None:
    pass


def drop(e: FunctionEmitter, imm: Any) -> None:
    e.stack.pop()


def select(e: FunctionEmitter, imm: Any) -> None:
    stack = e.stack
    cond = e.condition(stack.pop())
    b = stack.pop()
    a = stack.pop()
    ty = wasm_type(imm[0]) if imm else type_of(a if a[0] == "%" else b)
    name = e.fresh(PREFIX[ty])
    e.out.append(f"  {name} = select i1 {cond}, {ty} {a}, {ty} {b}")
    stack.append(name)


# Variables --------------------------------------------------------------------------------

def local_get(e: FunctionEmitter, index: int) -> None:
    value = e.cache.get(index)
    if value is None:
        ty = e.local_types[index]
        value = e.fresh(PREFIX[ty])
        e.out.append(f"  {value} = load {ty}, ptr %L{index}")
        e.cache[index] = value
    e.stack.append(value)


def local_set(e: FunctionEmitter, index: int) -> None:
    value = e.stack.pop()
    e.out.append(f"  store {e.local_types[index]} {value}, ptr %L{index}")
    e.cache[index] = value


def local_tee(e: FunctionEmitter, index: int) -> None:
    value = e.stack[-1]
    e.out.append(f"  store {e.local_types[index]} {value}, ptr %L{index}")
    e.cache[index] = value


def _global_address(e: FunctionEmitter, index: int) -> tuple[str, str, bool]:
    gtype = e.info.global_types[index]
    ty = wasm_type(gtype.valtype)
    imported = e.layout.num_imported_globals
    if index < imported:
        address = e.vmctx_field(e.layout.imported_global(index))
    else:
        address = e.field_address("%vmctx", e.layout.global_(index - imported))
    return address, ty, gtype.mutable


def global_get(e: FunctionEmitter, index: int) -> None:
    address, ty, mutable = _global_address(e, index)
    name = e.fresh(PREFIX[ty])
    e.out.append(f"  {name} = load {ty}, ptr {address}, align 8"
                 f"{RUNTIME if mutable else INVARIANT}")
    e.stack.append(name)


def global_set(e: FunctionEmitter, index: int) -> None:
    address, ty, _ = _global_address(e, index)
    e.out.append(f"  store {ty} {e.stack.pop()}, ptr {address}, align 8{RUNTIME}")


# Calls -------------------------------------------------------------------------------------

def _call_with(e: FunctionEmitter, code: str, callee_vmctx: str, ftype: Any) -> None:
    if len(ftype.results) > 1:
        raise Unsupported("multi-value call")
    params = [wasm_type(p) for p in ftype.params]
    stack = e.stack
    count = len(params)
    values = stack[len(stack) - count:] if count else []
    if count:
        del stack[len(stack) - count:]
    args = "".join(f", {ty} {v}" for ty, v in zip(params, values, strict=True))
    if ftype.results:
        ty = wasm_type(ftype.results[0])
        name = e.fresh(PREFIX[ty])
        e.out.append(f"  {name} = call {ty} {code}(ptr {callee_vmctx}, ptr %vmctx{args}){e.dbg}")
        stack.append(name)
    else:
        e.out.append(f"  call void {code}(ptr {callee_vmctx}, ptr %vmctx{args}){e.dbg}")


def call(e: FunctionEmitter, index: int) -> None:
    info = e.info
    ftype = info.func_types[index]
    imported = info.num_imported_funcs
    n = e.fresh("")
    out = e.out
    if index >= imported:
        slots = e.vmctx_field(e.layout.code_slots)
        out.append(f"  %xp{n} = getelementptr i8, ptr {slots}, i64 {vm.WORD * (index - imported)}")
        out.append(f"  %xf{n} = load ptr, ptr %xp{n}, align 8{RUNTIME}")
        _call_with(e, f"%xf{n}", "%vmctx", ftype)
    else:
        at = e.layout.imported_func(index)
        slot = e.vmctx_field(at + vm.FUNC_IMPORT_SLOT)
        callee = e.vmctx_field(at + vm.FUNC_IMPORT_VMCTX)
        out.append(f"  %xf{n} = load ptr, ptr {slot}, align 8{RUNTIME}")
        _call_with(e, f"%xf{n}", callee, ftype)


def call_indirect(e: FunctionEmitter, imm: Any) -> None:
    type_index, table = imm
    ttype = e.info.table_types[table]
    if ttype.is_64 or ttype.elem_type != 0x70:
        raise Unsupported("table type")
    ftype = e.info.module.types[type_index]
    index = e.stack.pop()
    layout = e.layout
    if table < layout.num_imported_tables:
        owner, at = e.vmctx_field(layout.imported_table(table)), 0
    else:
        owner, at = "%vmctx", layout.table(table - layout.num_imported_tables)
    elements_at = e.field_address(owner, at + vm.TABLE_DEF_ELEMENTS)
    length_at = e.field_address(owner, at + vm.TABLE_DEF_LENGTH)
    n = e.fresh("")
    out = e.out
    out.append(f"  %x{n} = zext i32 {index} to i64")
    out.append(f"  %xl{n} = load i64, ptr {length_at}, align 8{RUNTIME}")
    out.append(f"  %xc{n} = icmp uge i64 %x{n}, %xl{n}")
    e.trap_if(f"%xc{n}", TrapCode.UNDEFINED_ELEMENT)
    out.append(f"  %xb{n} = load ptr, ptr {elements_at}, align 8{RUNTIME}")
    out.append(f"  %xa{n} = getelementptr i64, ptr %xb{n}, i64 %x{n}")
    out.append(f"  %xe{n} = load i64, ptr %xa{n}, align 8{RUNTIME}")
    out.append(f"  %xd{n} = and i64 %xe{n}, -2")
    out.append(f"  %xz{n} = icmp ne i64 %xe{n}, 0")
    here = e.label
    out.append(f"  br i1 %xz{n}, label %D{n}, label %Z{n}")
    out.append(f"Z{n}:")
    lazy = e.libcall(lc.TABLE_LAZY_INIT)
    out.append(f"  %xi{n} = call i64 {lazy}(ptr %vmctx, i64 {table}, i64 %x{n}){e.dbg}")
    out.append(f"  br label %D{n}")
    e.open(f"D{n}", keep=True)
    out.append(f"  %xr{n} = phi i64 [ %xd{n}, %{here} ], [ %xi{n}, %Z{n} ]")
    out.append(f"  %xn{n} = icmp eq i64 %xr{n}, 0")
    e.trap_if(f"%xn{n}", TrapCode.INDIRECT_CALL_TO_NULL)
    out.append(f"  %xq{n} = inttoptr i64 %xr{n} to ptr")
    out.append(f"  %xsa{n} = getelementptr i8, ptr %xq{n}, i64 {vm.FUNC_REF_SIGNATURE}")
    out.append(f"  %xs{n} = load i32, ptr %xsa{n}, align 4{INVARIANT}")
    expected = e.vmctx_field(layout.signature_id(type_index), "i32")
    out.append(f"  %xm{n} = icmp ne i32 %xs{n}, {expected}")
    e.trap_if(f"%xm{n}", TrapCode.BAD_SIGNATURE)
    out.append(f"  %xo{n} = load ptr, ptr %xq{n}, align 8{INVARIANT}")
    out.append(f"  %xva{n} = getelementptr i8, ptr %xq{n}, i64 {vm.FUNC_REF_VMCTX}")
    out.append(f"  %xv{n} = load ptr, ptr %xva{n}, align 8{INVARIANT}")
    out.append(f"  %xf{n} = load ptr, ptr %xo{n}, align 8{RUNTIME}")
    _call_with(e, f"%xf{n}", f"%xv{n}", ftype)


HANDLERS: dict[int, Handler] = {
    op.UNREACHABLE: unreachable, op.NOP: nop, op.BLOCK: block, op.LOOP: loop,
    op.IF: if_, op.ELSE: else_, op.END: end, op.BR: br, op.BR_IF: br_if,
    op.BR_TABLE: br_table, op.RETURN: return_, op.CALL: call,
    op.CALL_INDIRECT: call_indirect, op.DROP: drop, op.SELECT: select,
    op.SELECT_T: select, op.LOCAL_GET: local_get, op.LOCAL_SET: local_set,
    op.LOCAL_TEE: local_tee, op.GLOBAL_GET: global_get, op.GLOBAL_SET: global_set,
}
"""This module's part of the dispatch table (``emitter.HANDLERS``)."""
