"""Translate wasm function bodies to IR.

The body is read once, with the operand stack holding SSA values. Locals become
FunctionBuilder variables (SSA construction adds block parameters where needed); a
block's results (a loop's parameters) become parameters of its exit (header) block; code
after an unconditional branch is skipped until the enclosing construct ends.

This module holds the driver, control flow and variables; the operators live in
``translate_numeric`` (numeric), ``translate_memory`` (linear memory) and
``translate_table`` (calls, tables, references), the declarations of vmctx-reached
entities in ``translate_env``, the runtime entry points in ``libcalls``.

Every instruction the decoder accepts translates, except SIMD (``0xFD`` prefix), which
raises ``NotImplementedError`` naming the instruction (the IR has the vector types
already). Tail calls become the ``return_call``/``return_call_indirect`` terminators.

Function ABI in IR: ``(i64 vmctx, params...) -> results``; defined function ``N`` is the
external function ``%wasm_func_N`` (see ``translate_table`` for how calls reach vmctx).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pyjitwasm.ir.cursor import Cursor
from pyjitwasm.ir.frontend import FunctionBuilder
from pyjitwasm.ir.function import Function, Value
from pyjitwasm.ir.immediates import TRUSTED
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import I64, Type
from pyjitwasm.translate import memory as translate_memory
from pyjitwasm.translate import numeric as translate_numeric
from pyjitwasm.translate import table as translate_table
from pyjitwasm.translate.env import (
    READONLY,
    FuncEnv,
    HeapConfig,
    ModuleInfo,
    function_name,
    function_signature,
)
from pyjitwasm.translate.ir_types import from_wasm
from pyjitwasm.translate.libcalls import Libcall
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr, WasmModule
from pyjitwasm.wasm.opcodes import OPS, BlockImm


def translate_module(module: WasmModule, config: HeapConfig | None = None) -> list[Function]:
    """IR for every function the module defines, in index order."""
    info = ModuleInfo(module, config or HeapConfig())
    first = module.num_imported_funcs
    return [FunctionTranslator(info, first + i).run() for i in range(len(module.codes))]


def translate_function(module: WasmModule, func_index: int,
                       config: HeapConfig | None = None,
                       info: ModuleInfo | None = None) -> Function:
    """IR for defined function ``func_index`` (an index in the function index space).

    Pass ``info`` (a ``ModuleInfo`` of the same module and config) to share the
    per-module facts when translating several functions.
    """
    if info is None:
        info = ModuleInfo(module, config or HeapConfig())
    return FunctionTranslator(info, func_index).run()


@dataclass(slots=True)
class _Frame:
    kind: str  # "block", "loop", "if", "else", "function"
    params: list[Type]
    results: list[Type]
    dest: int  # block a branch to this frame goes to
    exit: int  # block after the construct
    height: int  # operand stack height below the params
    else_block: int | None = None
    else_args: list[Value] = field(default_factory=list)
    exit_reached: bool = False  # some branch or fall-through reaches exit

    @property
    def branch_types(self) -> list[Type]:
        return self.params if self.kind == "loop" else self.results


class FunctionTranslator:
    """Translates one function body; the operator modules work through its helpers."""

    def __init__(self, info: ModuleInfo, func_index: int) -> None:
        module = info.module
        self.module = module
        self.func_index = func_index
        self.ftype = info.func_types[func_index]
        self.body = module.codes[func_index - module.num_imported_funcs]
        self.func = Function(function_name(func_index), function_signature(self.ftype))
        self.env = FuncEnv(info, self.func)
        self.fb = FunctionBuilder(self.func)
        self.stack: list[Value] = []
        self.frames: list[_Frame] = []
        self.reachable = True
        self.dead_depth = 0  # constructs opened inside unreachable code
        self.locals: list[int] = []
        self.vmctx: Value = -1

    # Helpers for the operator modules --------------------------------------------------

    def ins(self) -> Cursor:
        """A cursor at the end of the current block."""
        return self.fb.ins()

    def pop(self) -> Value:
        return self.stack.pop()

    def popn(self, n: int) -> list[Value]:
        if n == 0:
            return []
        values = self.stack[-n:]
        del self.stack[-n:]
        return values

    def push(self, v: Value) -> None:
        self.stack.append(v)

    def to_i64(self, v: Value) -> Value:
        """``v`` zero-extended to i64 (an i32 index, length or delta)."""
        dfg = self.func.dfg
        if dfg.value_type(v) == I64:
            return v
        known = dfg.iconst_value(v)
        if known is not None:  # a constant operand: widen the constant instead
            return self.const64(known)
        return self.ins().uextend(I64, v)

    def const64(self, n: int) -> Value:
        return self.ins().iconst(I64, n)

    def libcall(self, libcall: Libcall, args: Sequence[Value]) -> list[Value]:
        """Call a libcall; for one that reports failure, trap when it does and return no
        results."""
        ins = self.ins()
        results = ins.call(self.env.libcall(libcall), [self.vmctx, *args])
        if libcall.trap is not None:
            ins.trapnz(results[0], libcall.trap)
            return []
        return results

    # Driver ------------------------------------------------------------------------------

    def run(self) -> Function:
        fb = self.fb
        entry = fb.create_block()
        params = fb.append_block_params_for_function_params(entry)
        fb.switch_to_block(entry)
        fb.seal_block(entry)
        self.vmctx = params[0]
        for t, value in zip(self.ftype.params, params[1:], strict=True):
            var = fb.declare_var(from_wasm(t))
            fb.def_var(var, value)
            self.locals.append(var)
        for t in self.body.locals:
            var = fb.declare_var(from_wasm(t))
            fb.def_var(var, fb.ins().zero(from_wasm(t)))
            self.locals.append(var)
        results = [from_wasm(t) for t in self.ftype.results]
        exit_block = self._block_with_params(results)
        self.frames.append(_Frame("function", [], results, exit_block, exit_block, 0))
        for instr in self.body.instrs:
            if self.reachable:
                self.translate(instr)
            else:
                self.translate_unreachable(instr)
        fb.finalize()
        return self.func

    def translate(self, instr: Instr) -> None:
        handler = _HANDLERS.get(instr.op)
        if handler is None:
            raise NotImplementedError(_unsupported(instr.op))
        handler(self, instr)

    def translate_unreachable(self, instr: Instr) -> None:
        code = instr.op
        if code in (op.BLOCK, op.LOOP, op.IF):  # type: ignore[attr-defined]
            self.dead_depth += 1
        elif code == op.END and self.dead_depth:  # type: ignore[attr-defined]
            self.dead_depth -= 1
        elif code == op.ELSE and not self.dead_depth:  # type: ignore[attr-defined]
            self.op_else(instr)
        elif code == op.END:  # type: ignore[attr-defined]
            self.op_end(instr)

    def _block_with_params(self, types: list[Type]) -> int:
        block = self.fb.create_block()
        for t in types:
            self.fb.append_block_param(block, t)
        return block

    def _block_types(self, imm: BlockImm) -> tuple[list[Type], list[Type]]:
        bt = imm.blocktype
        if bt == op.BLOCKTYPE_EMPTY:
            return [], []
        if bt < 0:
            return [], [from_wasm(bt & 0x7F)]
        ftype = self.module.types[bt]
        return [from_wasm(t) for t in ftype.params], [from_wasm(t) for t in ftype.results]

    def _top(self, n: int) -> list[Value]:
        """The top ``n`` operands, left on the stack."""
        return list(self.stack[len(self.stack) - n:]) if n else []

    # Control -----------------------------------------------------------------------------

    def op_block(self, instr: Instr) -> None:
        params, results = self._block_types(instr.imm)
        exit_block = self._block_with_params(results)
        self.frames.append(_Frame("block", params, results, exit_block, exit_block,
                                  len(self.stack) - len(params)))

    def op_loop(self, instr: Instr) -> None:
        params, results = self._block_types(instr.imm)
        header = self._block_with_params(params)
        exit_block = self._block_with_params(results)
        self.ins().jump(header, self.popn(len(params)))
        self.frames.append(_Frame("loop", params, results, header, exit_block, len(self.stack)))
        self.fb.switch_to_block(header)
        self.stack.extend(self.func.dfg.block_params[header])

    def op_if(self, instr: Instr) -> None:
        params, results = self._block_types(instr.imm)
        cond = self.pop()
        then_block = self.fb.create_block()
        else_block = self._block_with_params(params)
        exit_block = self._block_with_params(results)
        args = self._top(len(params))
        self.ins().brif(cond, then_block, [], else_block, args)
        self.fb.seal_block(then_block)
        self.fb.switch_to_block(then_block)
        self.frames.append(_Frame("if", params, results, exit_block, exit_block,
                                  len(self.stack) - len(params), else_block, args))

    def op_else(self, instr: Instr) -> None:
        frame = self.frames[-1]
        if self.reachable:
            self.ins().jump(frame.exit, self.popn(len(frame.results)))
            frame.exit_reached = True
        del self.stack[frame.height:]
        frame.kind = "else"
        assert frame.else_block is not None
        self.fb.switch_to_block(frame.else_block)
        self.fb.seal_block(frame.else_block)
        self.stack.extend(self.func.dfg.block_params[frame.else_block])
        self.reachable = True

    def op_end(self, instr: Instr) -> None:
        frame = self.frames.pop()
        if self.reachable:
            self.ins().jump(frame.exit, self.popn(len(frame.results)))
            frame.exit_reached = True
        del self.stack[frame.height:]
        if frame.kind == "if":
            # No else: the else block forwards the params as the results (types match).
            assert frame.else_block is not None
            self.fb.switch_to_block(frame.else_block)
            self.fb.seal_block(frame.else_block)
            self.ins().jump(frame.exit, self.func.dfg.block_params[frame.else_block])
            frame.exit_reached = True
        if frame.kind == "loop":
            self.fb.seal_block(frame.dest)
        self.fb.seal_block(frame.exit)
        if frame.exit_reached:
            self.fb.switch_to_block(frame.exit)
            self.stack.extend(self.func.dfg.block_params[frame.exit])
            self.reachable = True
        else:
            self.reachable = False
        if frame.kind == "function":
            if self.reachable:
                self.ins().return_(self.popn(len(frame.results)))
            self.reachable = False

    def _branch_target(self, depth: int) -> _Frame:
        frame = self.frames[-1 - depth]
        if frame.kind != "loop":
            frame.exit_reached = True
        return frame

    def op_br(self, instr: Instr) -> None:
        frame = self._branch_target(instr.imm)
        self.ins().jump(frame.dest, self._top(len(frame.branch_types)))
        self.reachable = False

    def op_br_if(self, instr: Instr) -> None:
        cond = self.pop()
        frame = self._branch_target(instr.imm)
        next_block = self.fb.create_block()
        self.ins().brif(cond, frame.dest, self._top(len(frame.branch_types)), next_block, [])
        self.fb.seal_block(next_block)
        self.fb.switch_to_block(next_block)

    def op_br_table(self, instr: Instr) -> None:
        depths, default = instr.imm
        index = self.pop()
        # Each target takes the top values it needs; br_table edges carry no arguments,
        # so targets that take values are reached through a forwarding block.
        targets: dict[int, int] = {}
        forwards: list[tuple[int, int]] = []
        for depth in [*depths, default]:
            if depth in targets:
                continue
            frame = self._branch_target(depth)
            if frame.branch_types:
                targets[depth] = self.fb.create_block()
                forwards.append((depth, targets[depth]))
            else:
                targets[depth] = frame.dest
        self.ins().br_table(index, targets[default], [targets[d] for d in depths])
        for depth, edge in forwards:
            frame = self.frames[-1 - depth]
            self.fb.seal_block(edge)
            self.fb.switch_to_block(edge)
            self.ins().jump(frame.dest, self._top(len(frame.branch_types)))
        self.reachable = False

    def op_return(self, instr: Instr) -> None:
        self.ins().return_(self.popn(len(self.ftype.results)))
        self.reachable = False

    def op_unreachable(self, instr: Instr) -> None:
        self.ins().trap(TrapCode.UNREACHABLE)
        self.reachable = False

    def op_nop(self, instr: Instr) -> None:
        pass

    # Parametric instructions and variables -----------------------------------------------

    def op_drop(self, instr: Instr) -> None:
        self.pop()

    def op_select(self, instr: Instr) -> None:
        cond, b, a = self.pop(), self.pop(), self.pop()
        self.push(self.ins().select(cond, a, b))

    def op_local_get(self, instr: Instr) -> None:
        self.push(self.fb.use_var(self.locals[instr.imm]))

    def op_local_set(self, instr: Instr) -> None:
        self.fb.def_var(self.locals[instr.imm], self.pop())

    def op_local_tee(self, instr: Instr) -> None:
        self.fb.def_var(self.locals[instr.imm], self.stack[-1])

    def _global_slot(self, index: int) -> tuple[Value, int]:
        """(pointer, offset) of global ``index``'s 16-byte slot."""
        imported = self.env.num_imported_globals()
        if index < imported:
            return self.ins().global_value(self.env.imported_global_ptr(index)), 0
        return self.vmctx, self.env.layout.global_(index - imported)

    def op_global_get(self, instr: Instr) -> None:
        gtype = self.env.info.global_types[instr.imm]
        ptr, offset = self._global_slot(instr.imm)
        flags = TRUSTED if gtype.mutable else READONLY
        self.push(self.ins().load(from_wasm(gtype.valtype), flags, ptr, offset))

    def op_global_set(self, instr: Instr) -> None:
        value = self.pop()
        ptr, offset = self._global_slot(instr.imm)
        self.ins().store(TRUSTED, value, ptr, offset)


def _unsupported(code: int) -> str:
    info = OPS.get(code)
    name = info.name if info is not None else f"opcode 0x{code:x}"
    if code >= op.FD:
        return f"{name}: SIMD instructions are not translated to IR yet"
    return f"{name}: no translation to IR"


def _handlers() -> dict[int, translate_numeric.Handler]:
    table: dict[int, translate_numeric.Handler] = {}
    own = ["block", "loop", "if", "else", "end", "br", "br_if", "br_table", "return",
           "unreachable", "nop", "drop", "select", "local.get", "local.set", "local.tee",
           "global.get", "global.set"]
    for name in own:
        table[op.OPS_BY_NAME[name].code] = getattr(FunctionTranslator,
                                                   "op_" + name.replace(".", "_"))
    table[op.SELECT_T] = FunctionTranslator.op_select  # type: ignore[attr-defined]
    for module in (translate_numeric, translate_memory, translate_table):
        table.update(module.handlers())
    return table


_HANDLERS = _handlers()

__all__ = ["HeapConfig", "ModuleInfo", "FunctionTranslator", "translate_function",
           "translate_module", "function_signature", "function_name"]
