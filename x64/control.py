"""Single-pass tier 0: control flow, parametric and variable instructions, calls.

Calls go through code slots as every tier-0 call does (``baseline/control.py`` is the
LLVM-text twin): a defined callee through the module's slot table, an import through
its VMFuncImport, ``call_indirect`` through the table element's VMFuncRef after wasm's
checks in wasm's order (range, lazy initialization, null, signature)."""

from __future__ import annotations

from typing import Any

from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.x64.asm import (
    CC_AE,
    CC_E,
    CC_NE,
    CMP32_ZERO,
    LOAD32_RAX,
    LOAD64_RAX,
    LOAD64_RCX,
    MOV32_IMM,
    MOV64_IMM,
    MOV_RDI_RBX,
    MOV_RSI_RBX,
    R10,
    R11,
    RAX,
    RBP,
    RBX,
    RCX,
    RDI,
    RDX,
    RSI,
    RSP,
    STORE64_RAX,
    STORE64_RCX,
    call_reg,
    mem,
    mov_imm32,
    mov_rr,
    rbp_table,
)
from pyjitwasm.x64.function import (
    FLOAT_ARG_REGS,
    INT_ARG_REGS,
    LAZY_AWARE,
    LAZY_I32,
    LAZY_LOCAL,
    LOCALS_DISP,
    Frame,
    FunctionCompiler,
    Handler,
    Unsupported,
    letter,
)

CALL_R11 = call_reg(R11)
# ``movq [rbp + disp], xmm0/xmm1``: all 8 bytes of a local even for an f32 (its high half
# is no part of the value), so a later 8-byte copy of the local is forwarded from this
# store instead of stalling on a 4-byte one.
MOVQ_STORE_XMM0 = rbp_table(b"\x0f\xd6", 0, 0, b"\x66")
MOVQ_STORE_XMM1 = rbp_table(b"\x0f\xd6", 1, 0, b"\x66")

# Control ------------------------------------------------------------------------------


def block(e: FunctionCompiler, imm: Any) -> None:
    params, results = e.block_types(imm.blocktype)
    e.condition = None
    e.frames.append(Frame("block", len(e.st) - len(params), params, results))


def loop(e: FunctionCompiler, imm: Any) -> None:
    params, results = e.block_types(imm.blocktype)
    frame = Frame("loop", len(e.st) - len(params), params, results)
    e.condition = None
    frame.header = len(e.c)
    e.frames.append(frame)
    # The loop-header count (translate/tiering.count_loop_iteration).  A loop entered
    # with nothing on the operand stack may continue in tier-1 code (on-stack
    # replacement): its state is all in the locals.
    e.c += mem(b"\x8b", RCX, RBP, -24)
    e.count_down(None if params or e.st else e.offset)


def _pop_condition(e: FunctionCompiler) -> int:
    """Pop an i32 condition and set the flags for it: the condition code that holds
    when it is non-zero (the integer comparison just compiled, fused, or a test of the
    value)."""
    d = e.top()
    e.st.pop()
    cc = e.fuse_condition()
    if cc is None:
        e.c += b"\x85\xc0" if e.rax_prev == len(e.st) else CMP32_ZERO[d]  # test eax, eax
        cc = CC_NE
    return cc


def if_(e: FunctionCompiler, imm: Any) -> None:
    params, results = e.block_types(imm.blocktype)
    if params:
        raise Unsupported("if with parameters")
    cc = _pop_condition(e)
    frame = Frame("if", len(e.st), params, results)
    frame.else_fixup = e.jump_forward(cc ^ 1)  # the opposite condition
    e.frames.append(frame)


def else_(e: FunctionCompiler, imm: Any) -> None:
    frame = e.frames[-1]
    e.condition = None
    if e.reachable:
        frame.fixups.append(e.jump_forward())
    e.patch(frame.else_fixup, len(e.c))
    frame.else_fixup = -1
    frame.kind = "else"
    del e.st[frame.height:]
    e.st.extend(frame.params)
    e.reachable = True


def end(e: FunctionCompiler, imm: Any) -> None:
    frame = e.frames.pop()
    e.condition = None  # a join: other edges arrive without the flags
    kind = frame.kind
    if kind == "function":
        if e.reachable:
            e.return_()
        e.reachable = False
        return
    st = e.st
    del st[frame.height:]
    st.extend(frame.results)
    if kind == "loop":
        return  # falls through with its results on the stack (or stays dead)
    here = len(e.c)
    reachable = e.reachable or bool(frame.fixups)
    for fixup in frame.fixups:
        e.patch(fixup, here)
    if frame.else_fixup >= 0:  # an if without an else: its false edge ends here
        e.patch(frame.else_fixup, here)
        reachable = True
    e.reachable = reachable
    if reachable:
        for j in range(frame.height, len(st)):
            e.slot(j)  # the slots are the frame's (max depth)


def br(e: FunctionCompiler, depth: int) -> None:
    e.branch(depth)
    e.reachable = False


def br_if(e: FunctionCompiler, depth: int) -> None:
    cc = _pop_condition(e)
    frame = e.frames[-1 - depth]
    loop_ = frame.kind == "loop"
    count = len(frame.params if loop_ else frame.results)
    if frame.kind != "function" and len(e.st) - count == frame.height:
        # Nothing to move: a conditional jump straight to the target.
        if loop_:
            e.jump_to(frame.header, cc)
        else:
            frame.fixups.append(e.jump_forward(cc))
        return
    skip = e.jump_forward(cc ^ 1)  # the opposite condition
    e.branch(depth)
    e.patch(skip, len(e.c))


def br_table(e: FunctionCompiler, imm: Any) -> None:
    depths, default = imm
    d = e.top()
    e.st.pop()
    c = e.c
    c += mem(b"\x8b", RAX, RBP, d)  # mov eax, [index]
    c += b"\x3d" + len(depths).to_bytes(4, "little")  # cmp eax, n
    to_default = e.jump_forward(CC_AE)
    # lea rcx, [rip + table]; movsxd rax, dword [rcx + rax*4]; add rax, rcx; jmp rax
    c += b"\x48\x8d\x0d\x09\x00\x00\x00" b"\x48\x63\x04\x81" b"\x48\x01\xc8" b"\xff\xe0"
    table = len(c)
    c += bytes(4 * len(depths))
    edges: dict[int, int] = {}  # depth -> its code's start
    for depth in (*depths, default):
        if depth not in edges:
            edges[depth] = len(c)
            e.branch(depth)
    for i, depth in enumerate(depths):
        c[table + 4 * i:table + 4 * i + 4] = (edges[depth] - table).to_bytes(4, "little",
                                                                             signed=True)
    e.patch(to_default, edges[default])
    e.reachable = False


def return_(e: FunctionCompiler, imm: Any) -> None:
    e.return_()
    e.reachable = False


def unreachable(e: FunctionCompiler, imm: Any) -> None:
    e.trap(TrapCode.UNREACHABLE)


def nop(e: FunctionCompiler, imm: Any) -> None:
    pass


def drop(e: FunctionCompiler, imm: Any) -> None:
    e.discard_top()


def select(e: FunctionCompiler, imm: Any) -> None:
    if imm is not None and (len(imm) != 1 or imm[0] not in (0x7F, 0x7E, 0x7D, 0x7C)):
        raise Unsupported("select type")
    cond, b, a = e.top(), e.top(1), e.top(2)
    del e.st[-2:]
    c = e.c
    c += mem(b"\x8b", RCX, RBP, cond)  # mov ecx, [cond]
    c += mem(b"\x8b", RAX, RBP, a, 1)  # mov rax, [a]
    c += b"\x85\xc9"  # test ecx, ecx
    c += mem(b"\x0f\x44", RAX, RBP, b, 1)  # cmovz rax, [b]
    c += mem(b"\x89", RAX, RBP, a, 1)


# Variables --------------------------------------------------------------------------------


def local_get(e: FunctionCompiler, index: int) -> None:
    # Deferred: its consumer reads the local itself (or the compile loop stores it).
    st = e.st
    j = len(st)
    st.append(e.local_types[index])
    if j >= e.max_depth:
        e.max_depth = j + 1
    e.lazy[j] = (LAZY_LOCAL, LOCALS_DISP - 8 * index)


def _write_local(e: FunctionCompiler, index: int) -> None:
    """Store the top of the stack into local ``index`` (it stays on the stack)."""
    j = len(e.st) - 1
    target = LOCALS_DISP - 8 * index
    lazy = e.lazy
    value = lazy.get(j)
    if value is not None and value[0] == LAZY_LOCAL and value[1] == target:
        return  # local.set/tee of local.get of the same local
    # Deferred reads of this local must see its old value.
    for other in [k for k, (kind, d) in lazy.items() if kind == LAZY_LOCAL and d == target
                  and k != j]:
        e.materialize(other)
    c = e.c
    if e.xmm_local == target:
        e.xmm_local = 0  # the local gets another value (unless from xmm0, below)
    if value is None:
        if e.rax == j:
            c += STORE64_RAX[target]
        elif e.xmm == j:
            c += MOVQ_STORE_XMM0[target]
            e.xmm_local = target
        elif e.xmm1 == j:
            c += MOVQ_STORE_XMM1[target]
        elif j in e.fpool:
            c += mem(b"\x0f\xd6", e.fpool[j], RBP, target, 0, b"\x66")  # movq
        else:
            # An i32/f32 slot's high half is not its value: rax must not hold it (a
            # heap access may take rax as an index).
            if e.rax_dirty:
                e.spill_rax()
            c += (LOAD32_RAX if e.st[j] in "if" else LOAD64_RAX)[e.sbase - 8 * j]
            c += STORE64_RAX[target]
            e.rax = j
    elif value[0] == LAZY_LOCAL:
        c += LOAD64_RCX[value[1]]
        c += STORE64_RCX[target]
    else:
        c += (MOV32_IMM if value[0] == LAZY_I32 else MOV64_IMM)[target]
        c += (value[1] & 0xFFFFFFFF).to_bytes(4, "little")


def local_set(e: FunctionCompiler, index: int) -> None:
    _write_local(e, index)
    e.discard_top()


def local_tee(e: FunctionCompiler, index: int) -> None:
    _write_local(e, index)


def _global_at(e: FunctionCompiler, index: int) -> tuple[int, int, str]:
    """(base register, displacement, type letter) of global ``index``'s value; an
    imported one's address is loaded into rdx."""
    gtype = e.info.global_types[index]
    ty = letter(gtype.valtype)
    layout = e.layout
    imported = layout.num_imported_globals
    if index < imported:
        e.load_vmctx_field(RDX, layout.imported_global(index))
        return RDX, 0, ty
    return RBX, layout.global_(index - imported), ty


def global_get(e: FunctionCompiler, index: int) -> None:
    base, disp, ty = _global_at(e, index)
    w = 1 if ty in "ld" else 0
    d = e.push(ty)
    e.c += mem(b"\x8b", RAX, base, disp, w) + mem(b"\x89", RAX, RBP, d, w)


def global_set(e: FunctionCompiler, index: int) -> None:
    base, disp, ty = _global_at(e, index)
    w = 1 if ty in "ld" else 0
    d = e.top()
    e.st.pop()
    if e.rax_prev != len(e.st):
        e.c += mem(b"\x8b", RAX, RBP, d, w)
    e.c += mem(b"\x89", RAX, base, disp, w)


# Calls -------------------------------------------------------------------------------------


def _call_with(e: FunctionCompiler, ftype: Any, callee_vmctx: int) -> None:
    """Call the code at r11 with ``callee_vmctx`` (a register) as its vmctx, the
    arguments from the operand stack, and push its result."""
    if len(ftype.results) > 1:
        raise Unsupported("multi-value call")
    params = [letter(p) for p in ftype.params]
    count = len(params)
    first = len(e.st) - count
    c = e.c
    sbase = e.sbase
    ints = floats = stacked = 0
    for i, ty in enumerate(params):
        d = sbase - 8 * (first + i)
        if ty in "il":
            if ints < len(INT_ARG_REGS):
                c += mem(b"\x8b", INT_ARG_REGS[ints], RBP, d, 1)
                ints += 1
                continue
        elif floats < FLOAT_ARG_REGS:
            c += mem(b"\x0f\x10", floats, RBP, d, 0, b"\xf3" if ty == "f" else b"\xf2")
            floats += 1
            continue
        c += mem(b"\x8b", RAX, RBP, d, 1) + mem(b"\x89", RAX, RSP, 8 * stacked, 1)
        stacked += 1
    if stacked > e.max_outgoing:
        e.max_outgoing = stacked
    c += (MOV_RDI_RBX if callee_vmctx == RBX else mov_rr(RDI, callee_vmctx)) + MOV_RSI_RBX \
        + CALL_R11
    if count:
        del e.st[first:]
    if ftype.results:
        ty = letter(ftype.results[0])
        j = len(e.st)
        d = e.push(ty)
        if ty == "i":
            # The callee may leave garbage in rax's high half: zero-extend (mov eax, eax).
            c += b"\x89\xc0" + mem(b"\x89", RAX, RBP, d)
            e.rax = j
        elif ty == "l":
            c += mem(b"\x89", RAX, RBP, d, 1)
            e.rax = j
        else:
            c += mem(b"\x0f\x11", 0, RBP, d, 0, b"\xf3" if ty == "f" else b"\xf2")
            e.xmm = j


def call(e: FunctionCompiler, index: int) -> None:
    info = e.info
    ftype = info.func_types[index]
    imported = info.num_imported_funcs
    c = e.c
    if index >= imported:
        e.load_vmctx_field(R11, e.layout.code_slots)
        c += mem(b"\x8b", R11, R11, vm.WORD * (index - imported), 1)
        _call_with(e, ftype, RBX)
    else:
        at = e.layout.imported_func(index)
        e.load_vmctx_field(R11, at + vm.FUNC_IMPORT_SLOT)
        c += mem(b"\x8b", R11, R11, 0, 1)
        e.load_vmctx_field(R10, at + vm.FUNC_IMPORT_VMCTX)
        _call_with(e, ftype, R10)


def call_indirect(e: FunctionCompiler, imm: Any) -> None:
    type_index, table = imm
    ttype = e.info.table_types[table]
    if ttype.is_64 or ttype.elem_type != 0x70:
        raise Unsupported("table type")
    ftype = e.info.module.types[type_index]
    layout = e.layout
    c = e.c
    d = e.top()
    e.st.pop()
    if table < layout.num_imported_tables:
        e.load_vmctx_field(R10, layout.imported_table(table))
        owner, at = R10, 0
    else:
        owner, at = RBX, layout.table(table - layout.num_imported_tables)
    c += mem(b"\x8b", RCX, RBP, d)  # mov ecx, [index] (zero-extends)
    c += mem(b"\x3b", RCX, owner, at + vm.TABLE_DEF_LENGTH, 1)  # cmp rcx, [length]
    e.trap_if(CC_AE, TrapCode.UNDEFINED_ELEMENT)
    c += mem(b"\x8b", RAX, owner, at + vm.TABLE_DEF_ELEMENTS, 1)  # mov rax, [elements]
    c += b"\x48\x8b\x04\xc8"  # mov rax, [rax + rcx*8]
    c += b"\x48\x85\xc0"  # test rax, rax
    initialized = e.jump_forward(CC_NE)
    c += MOV_RDI_RBX + mov_imm32(RSI, table) + mov_rr(RDX, RCX)
    e.call_symbol(lc.TABLE_LAZY_INIT.symbol)  # -> the VMFuncRef or 0, untagged
    done = e.jump_forward()
    e.patch(initialized, len(c))
    c += b"\x48\x83\xe0\xfe"  # and rax, -2 (the element's tag bit)
    e.patch(done, len(c))
    c += b"\x48\x85\xc0"  # test rax, rax
    e.trap_if(CC_E, TrapCode.INDIRECT_CALL_TO_NULL)
    c += mem(b"\x8b", RCX, RAX, vm.FUNC_REF_SIGNATURE)  # mov ecx, [sig]
    c += mem(b"\x3b", RCX, RBX, layout.signature_id(type_index))  # cmp ecx, [expected]
    e.trap_if(CC_NE, TrapCode.BAD_SIGNATURE)
    c += mem(b"\x8b", R11, RAX, vm.FUNC_REF_SLOT, 1)  # the code slot's address
    c += mem(b"\x8b", R11, R11, 0, 1)  # the code
    c += mem(b"\x8b", R10, RAX, vm.FUNC_REF_VMCTX, 1)
    _call_with(e, ftype, R10)


HANDLERS: dict[int, Handler] = {
    op.UNREACHABLE: unreachable, op.NOP: nop, op.BLOCK: block, op.LOOP: loop,
    op.IF: if_, op.ELSE: else_, op.END: end, op.BR: br, op.BR_IF: br_if,
    op.BR_TABLE: br_table, op.RETURN: return_, op.CALL: call,
    op.CALL_INDIRECT: call_indirect, op.DROP: drop, op.SELECT: select,
    op.SELECT_T: select, op.LOCAL_GET: local_get, op.LOCAL_SET: local_set,
    op.LOCAL_TEE: local_tee, op.GLOBAL_GET: global_get, op.GLOBAL_SET: global_set,
}
"""This module's part of the dispatch table (``compiler.HANDLERS``)."""

LAZY_AWARE.update((op.LOCAL_GET, op.LOCAL_SET, op.LOCAL_TEE, op.DROP))
