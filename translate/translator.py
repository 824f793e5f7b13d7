"""Translate wasm function bodies to IR.

The body is read once, with the operand stack holding SSA values. Locals become
FunctionBuilder variables (SSA construction adds block parameters where needed); a
block's results (a loop's parameters) become parameters of its exit (header) block; code
after an unconditional branch is skipped until the enclosing construct ends.

This module is the driver: each instruction goes to its handler in ``dispatch.HANDLERS``.
The handlers live in ``control`` (control flow, parametric, variables), ``numeric``,
``memory`` (linear memory), ``table`` (calls, tables, references) and ``simd_int``
(SIMD) and work on the ``state.FunctionState`` this driver extends; the declarations of
vmctx-reached entities are in ``env``, the runtime entry points in ``libcalls``.

Every instruction the decoder accepts translates, except the SIMD (``0xFD`` prefix)
instructions no handler module covers yet (``simd_int`` covers SIMD memory, lanes,
shuffles, bitwise and integer operations), which raise ``NotImplementedError`` naming the
instruction. Tail calls become the ``return_call``/``return_call_indirect`` terminators.

Function ABI in IR: ``(i64 vmctx, params...) -> results``; defined function ``N`` is the
external function ``%wasm_func_N`` when it is compiled in the same unit, otherwise it is
reached through its code slot (see ``table`` for how calls reach vmctx).
"""

from __future__ import annotations

from collections.abc import Container

from pyjitwasm.ir.function import Function
from pyjitwasm.translate import control, interrupts, osr, tiering
from pyjitwasm.translate.dispatch import HANDLERS
from pyjitwasm.translate.env import function_signature
from pyjitwasm.translate.ir_types import from_wasm
from pyjitwasm.translate.module_info import HeapConfig, ModuleInfo, function_name
from pyjitwasm.translate.state import Frame, FunctionState
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr, WasmModule
from pyjitwasm.wasm.opcodes import OPS


def translate_module(module: WasmModule, config: HeapConfig | None = None) -> list[Function]:
    """IR for every function the module defines, in index order."""
    info = ModuleInfo(module, config or HeapConfig())
    first = module.num_imported_funcs
    return [FunctionTranslator(info, first + i).run() for i in range(len(module.codes))]


def translate_function(module: WasmModule, func_index: int,
                       config: HeapConfig | None = None,
                       info: ModuleInfo | None = None,
                       direct_callees: Container[int] | None = None,
                       tier_counters: bool = False) -> Function:
    """IR for defined function ``func_index`` (an index in the function index space).

    Pass ``info`` (a ``ModuleInfo`` of the same module and config) to share the
    per-module facts when translating several functions.  ``direct_callees`` are the
    defined functions compiled in the same unit, which calls reach by name; calls to
    any other defined function go through its code slot (None: all are in the unit).
    ``tier_counters``: count entries and loop iterations for tier-up (tier-0 code, see
    ``tiering``).
    """
    if info is None:
        info = ModuleInfo(module, config or HeapConfig())
    translator = FunctionTranslator(info, func_index, direct_callees)
    if tier_counters:
        tiering.enable_counters(translator)
    return translator.run()


def translate_osr_entry(module: WasmModule, func_index: int, loop_offset: int,
                        config: HeapConfig | None = None,
                        info: ModuleInfo | None = None) -> Function:
    """IR of the on-stack-replacement entry of defined function ``func_index`` at the
    ``loop`` whose ``Instr.offset`` is ``loop_offset`` (``osr``: the function started at
    that loop's header with its locals read from a tier-0 frame).  Every call goes
    through a code slot; no tier-up counters.  ``osr.OsrError`` for a loop that cannot
    have one."""
    osr.check_osr_loop(module, func_index, loop_offset)
    if info is None:
        info = ModuleInfo(module, config or HeapConfig())
    return FunctionTranslator(info, func_index, frozenset(), osr_loop=loop_offset).run()


class FunctionTranslator(FunctionState):
    """Translates one function body, instruction by instruction, through ``HANDLERS``."""

    def run(self) -> Function:
        results = [from_wasm(t) for t in self.ftype.results]
        exit_block = self.block_with_params(results)
        self.frames.append(Frame("function", [], results, exit_block, exit_block, 0))
        dfg = self.func.dfg
        if self.body.instrs:
            # The entry checks (and a stack overflow on entry) belong to the first
            # instruction, as the interpreter reports them.
            dfg.srcloc = self.body.instrs[0].offset
        interrupts.at_function_entry(self)
        tiering.count_function_entry(self)
        osr.at_body_start(self)
        handlers = HANDLERS
        meter_fuel = self.meter_fuel
        for instr in self.body.instrs:
            if self.reachable:
                dfg.srcloc = instr.offset  # the IR made for it comes from here
                # ``translate``, written out: this loop runs for every instruction.
                handler = handlers.get(instr.op)
                if handler is None:
                    raise NotImplementedError(_unsupported(instr.op))
                if meter_fuel:
                    interrupts.charge_fuel(self, instr)
                handler(self, instr)
            else:
                self.translate_unreachable(instr)
        osr.at_body_end(self)
        self.fb.finalize()
        interrupts.finish(self)
        return self.func

    def translate(self, instr: Instr) -> None:
        handler = HANDLERS.get(instr.op)
        if handler is None:
            raise NotImplementedError(_unsupported(instr.op))
        if self.meter_fuel:
            interrupts.charge_fuel(self, instr)
        handler(self, instr)

    def translate_unreachable(self, instr: Instr) -> None:
        """Skip ``instr`` in dead code, tracking nesting until the construct that made the
        code unreachable ends (or its ``else`` starts reachable code again)."""
        code = instr.op
        if code in (op.BLOCK, op.LOOP, op.IF):
            self.dead_depth += 1
        elif code == op.END and self.dead_depth:
            self.dead_depth -= 1
        elif code == op.ELSE and not self.dead_depth:
            control.else_(self, instr)
        elif code == op.END:
            control.end(self, instr)


def _unsupported(code: int) -> str:
    info = OPS.get(code)
    name = info.name if info is not None else f"opcode 0x{code:x}"
    if code >= op.FD:
        return f"{name}: SIMD instructions are not translated to IR yet"
    return f"{name}: no translation to IR"


__all__ = ["HeapConfig", "ModuleInfo", "FunctionTranslator", "translate_function",
           "translate_module", "translate_osr_entry", "function_signature", "function_name"]
