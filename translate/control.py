"""Translation of control, parametric and variable instructions to IR.

A wasm block's results (a loop's parameters) become parameters of its exit (header)
block; ``if`` gets an else block even without ``else``, forwarding the parameters as the
results. A branch makes the rest of its construct unreachable: the driver then skips
instructions until the construct ends (``translator``). Locals are SSA variables of the
function builder; globals are loads and stores of their 16-byte vmctx slots.
"""

from __future__ import annotations

from pyjitwasm.ir.function import Block, Value
from pyjitwasm.ir.immediates import TRUSTED
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import Type
from pyjitwasm.translate import interrupts, osr, tiering
from pyjitwasm.translate.env import READONLY
from pyjitwasm.translate.ir_types import from_wasm
from pyjitwasm.translate.state import Frame, FunctionState
from pyjitwasm.wasm.module import Instr
from pyjitwasm.wasm.opcodes import BLOCKTYPE_EMPTY, BlockImm

# Structured control -------------------------------------------------------------------


def _block_types(t: FunctionState, imm: BlockImm) -> tuple[list[Type], list[Type]]:
    """(params, results) of a block type."""
    bt = imm.blocktype
    if bt == BLOCKTYPE_EMPTY:
        return [], []
    if bt < 0:
        return [], [from_wasm(bt & 0x7F)]
    ftype = t.module.types[bt]
    return [from_wasm(p) for p in ftype.params], [from_wasm(r) for r in ftype.results]


def block(t: FunctionState, instr: Instr) -> None:
    params, results = _block_types(t, instr.imm)
    exit_block = t.block_with_params(results)
    t.frames.append(Frame("block", params, results, exit_block, exit_block,
                          len(t.stack) - len(params)))


def loop(t: FunctionState, instr: Instr) -> None:
    params, results = _block_types(t, instr.imm)
    header = t.block_with_params(params)
    exit_block = t.block_with_params(results)
    t.ins().jump(header, t.popn(len(params)))
    osr.enter_loop(t, instr, header, len(params))  # an OSR entry's loop: jump in too
    t.frames.append(Frame("loop", params, results, header, exit_block, len(t.stack)))
    t.fb.switch_to_block(header)
    t.stack.extend(t.func.dfg.block_params[header])
    # After taking the loop's params: the hooks' SSA variables may add header params.
    interrupts.at_loop_header(t)
    tiering.count_loop_iteration(t)


def if_(t: FunctionState, instr: Instr) -> None:
    params, results = _block_types(t, instr.imm)
    cond = t.pop()
    then_block = t.fb.create_block()
    else_block = t.block_with_params(params)
    exit_block = t.block_with_params(results)
    args = t.top(len(params))
    t.ins().brif(cond, then_block, [], else_block, args)
    t.fb.seal_block(then_block)
    t.fb.switch_to_block(then_block)
    t.frames.append(Frame("if", params, results, exit_block, exit_block,
                          len(t.stack) - len(params), else_block, args))


def else_(t: FunctionState, instr: Instr) -> None:
    frame = t.frames[-1]
    if t.reachable:
        t.ins().jump(frame.exit, t.popn(len(frame.results)))
        frame.exit_reached = True
    del t.stack[frame.height:]
    frame.kind = "else"
    assert frame.else_block is not None
    t.fb.switch_to_block(frame.else_block)
    t.fb.seal_block(frame.else_block)
    t.stack.extend(t.func.dfg.block_params[frame.else_block])
    t.reachable = True


def end(t: FunctionState, instr: Instr) -> None:
    frame = t.frames.pop()
    if t.reachable:
        t.ins().jump(frame.exit, t.popn(len(frame.results)))
        frame.exit_reached = True
    del t.stack[frame.height:]
    if frame.kind == "if":
        # No else: the else block forwards the params as the results (types match).
        assert frame.else_block is not None
        t.fb.switch_to_block(frame.else_block)
        t.fb.seal_block(frame.else_block)
        t.ins().jump(frame.exit, t.func.dfg.block_params[frame.else_block])
        frame.exit_reached = True
    if frame.kind == "loop":
        t.fb.seal_block(frame.dest)
    t.fb.seal_block(frame.exit)
    if frame.exit_reached:
        t.fb.switch_to_block(frame.exit)
        t.stack.extend(t.func.dfg.block_params[frame.exit])
        t.reachable = True
    else:
        t.reachable = False
    if frame.kind == "function":
        if t.reachable:
            t.ins().return_(t.popn(len(frame.results)))
        t.reachable = False


# Branches -----------------------------------------------------------------------------


def _branch_target(t: FunctionState, depth: int) -> Frame:
    frame = t.frames[-1 - depth]
    if frame.kind != "loop":
        frame.exit_reached = True
    return frame


def br(t: FunctionState, instr: Instr) -> None:
    frame = _branch_target(t, instr.imm)
    t.ins().jump(frame.dest, t.top(len(frame.branch_types)))
    t.reachable = False


def br_if(t: FunctionState, instr: Instr) -> None:
    cond = t.pop()
    frame = _branch_target(t, instr.imm)
    next_block = t.fb.create_block()
    t.ins().brif(cond, frame.dest, t.top(len(frame.branch_types)), next_block, [])
    t.fb.seal_block(next_block)
    t.fb.switch_to_block(next_block)


def br_table(t: FunctionState, instr: Instr) -> None:
    depths, default = instr.imm
    index = t.pop()
    # Each target takes the top values it needs; br_table edges carry no arguments,
    # so targets that take values are reached through a forwarding block.
    targets: dict[int, Block] = {}
    forwards: list[tuple[int, Block]] = []
    for depth in [*depths, default]:
        if depth in targets:
            continue
        frame = _branch_target(t, depth)
        if frame.branch_types:
            targets[depth] = t.fb.create_block()
            forwards.append((depth, targets[depth]))
        else:
            targets[depth] = frame.dest
    t.ins().br_table(index, targets[default], [targets[d] for d in depths])
    for depth, edge in forwards:
        frame = t.frames[-1 - depth]
        t.fb.seal_block(edge)
        t.fb.switch_to_block(edge)
        t.ins().jump(frame.dest, t.top(len(frame.branch_types)))
    t.reachable = False


def return_(t: FunctionState, instr: Instr) -> None:
    t.ins().return_(t.popn(len(t.ftype.results)))
    t.reachable = False


def unreachable(t: FunctionState, instr: Instr) -> None:
    t.ins().trap(TrapCode.UNREACHABLE)
    t.reachable = False


def nop(t: FunctionState, instr: Instr) -> None:
    pass


# Parametric instructions -------------------------------------------------------------


def drop(t: FunctionState, instr: Instr) -> None:
    t.pop()


def select(t: FunctionState, instr: Instr) -> None:
    """``select`` and the typed ``select_t`` alike (the IR value carries the type)."""
    cond, b, a = t.pop(), t.pop(), t.pop()
    t.push(t.ins().select(cond, a, b))


# Variables ---------------------------------------------------------------------------


def local_get(t: FunctionState, instr: Instr) -> None:
    t.stack.append(t.fb.use_var(t.locals[instr.imm]))


def local_set(t: FunctionState, instr: Instr) -> None:
    t.fb.def_var(t.locals[instr.imm], t.stack.pop())


def local_tee(t: FunctionState, instr: Instr) -> None:
    t.fb.def_var(t.locals[instr.imm], t.stack[-1])


def _global_slot(t: FunctionState, index: int) -> tuple[Value, int]:
    """(pointer, offset) of global ``index``'s 16-byte slot."""
    imported = t.env.num_imported_globals()
    if index < imported:
        return t.ins().global_value(t.env.imported_global_ptr(index)), 0
    return t.vmctx, t.env.layout.global_(index - imported)


def global_get(t: FunctionState, instr: Instr) -> None:
    gtype = t.env.info.global_types[instr.imm]
    ptr, offset = _global_slot(t, instr.imm)
    flags = TRUSTED if gtype.mutable else READONLY
    t.push(t.ins().load(from_wasm(gtype.valtype), flags, ptr, offset))


def global_set(t: FunctionState, instr: Instr) -> None:
    value = t.pop()
    ptr, offset = _global_slot(t, instr.imm)
    t.ins().store(TRUSTED, value, ptr, offset)
