"""The state of one function's translation, which every instruction handler works on.

``FunctionState`` holds what translating a wasm body carries from one instruction to the
next: the operand stack of SSA values, the open control frames, the locals' SSA
variables, whether the current position is reachable. Its methods are the helpers the
handlers share (operand stack, widening, libcalls). The handlers live in ``control``,
``numeric``, ``memory`` and ``table``; ``dispatch`` maps each wasm opcode to one of them
and ``translator`` drives the body through that table. Data flows one way: the handler
modules import this module, never the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass, field

from pyjitwasm.ir.cursor import Cursor
from pyjitwasm.ir.entities import GlobalValue, Inst
from pyjitwasm.ir.frontend import FunctionBuilder, Variable
from pyjitwasm.ir.function import Block, Function, Value
from pyjitwasm.ir.types import I64, Type
from pyjitwasm.translate.env import FuncEnv, function_signature
from pyjitwasm.translate.ir_types import from_wasm
from pyjitwasm.translate.libcalls import Libcall
from pyjitwasm.translate.module_info import ModuleInfo, function_name
from pyjitwasm.translate.osr_abi import osr_function_name, osr_signature
from pyjitwasm.wasm.module import Instr


@dataclass(slots=True)
class Frame:
    """An open control construct (or the function body itself)."""

    kind: str  # "block", "loop", "if", "else", "function"
    params: list[Type]
    results: list[Type]
    dest: Block  # block a branch to this frame goes to
    exit: Block  # block after the construct
    height: int  # operand stack height below the params
    else_block: Block | None = None
    else_args: list[Value] = field(default_factory=list)
    exit_reached: bool = False  # some branch or fall-through reaches exit

    @property
    def branch_types(self) -> list[Type]:
        """The types a branch to this frame carries (a loop's params, else its results)."""
        return self.params if self.kind == "loop" else self.results


@dataclass(frozen=True, slots=True)
class TierCounter:
    """How a tier-0 function counts (``tiering``): the global value of the counter
    table's address, and the SSA variable holding the function's count in between."""

    table: GlobalValue
    left: Variable


@dataclass(slots=True)
class OsrState:
    """What an OSR entry's translation carries (``osr``): the loop it starts at, the
    entry's ``locals`` parameter (local 0's slot), the block that jumps to the loop's
    header once the header exists, and whether it has."""

    loop_offset: int
    locals_ptr: Value
    launch: Block | None = None
    entered: bool = False


@dataclass(slots=True)
class InterruptVars:
    """What the epoch and fuel checks (``translate/interrupts.py``) carry through a
    function's translation."""

    fuel: Variable | None = None  # the store's consumed fuel, kept in a register
    fuel_pending: int = 0  # fuel of the instructions not yet added to ``fuel``
    fuel_stale: bool = False  # a call may have changed the stored fuel: reload first
    epoch_deadline: Variable | None = None  # the store's deadline, kept in a register
    epoch_poll_page: Value | None = None  # the poll page's address, loaded at entry
    # Each loop's epoch check, for ``interrupts.finish`` to drop from short counted loops.
    loop_checks: list[LoopEpochCheck] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class LoopEpochCheck:
    """The epoch checks at the top of a loop header: the poll of the store's poll page
    and the compare's branch to the slow block (``interrupts.finish`` keeps one)."""

    header: Block
    parent: Block | None  # the header of the enclosing loop, if any
    branch: Inst  # brif epoch >= deadline, slow, resume
    slow: Block
    poll: Value  # the load from the poll page


class FunctionState:
    """One function body being translated: the function under construction, its builder
    and declarations, and the translation state the handlers update.

    Creating it opens the entry block and defines the locals (parameters from the entry
    block's parameters, the declared locals as zero).  ``direct_callees``: the defined
    functions a ``call`` may reach by name because they are compiled together with this
    one; calls to the others go through their code slots (None: every defined function,
    the whole module is compiled at once).  ``tier_counters``: set when the function
    counts for tier-up (tier 0, ``tiering``), else None.

    ``osr_loop``: translate the function's OSR entry at the loop with that offset
    instead (``osr``): the entry's signature, and the locals declared and defined only
    once ``osr.at_body_start`` loads them (``osr`` is then set)."""

    tier_counters: TierCounter | None = None
    osr: OsrState | None = None

    def __init__(self, info: ModuleInfo, func_index: int,
                 direct_callees: Container[int] | None = None,
                 osr_loop: int | None = None) -> None:
        module = info.module
        self.direct_callees = direct_callees
        self.module = module
        self.func_index = func_index
        self.ftype = info.func_types[func_index]
        self.body = module.codes[func_index - info.num_imported_funcs]
        if osr_loop is None:
            self.func = Function(function_name(func_index), function_signature(self.ftype))
        else:
            self.func = Function(osr_function_name(func_index, osr_loop),
                                 osr_signature(self.ftype))
        self.env = FuncEnv(info, self.func)
        self.fb = FunctionBuilder(self.func)
        self.stack: list[Value] = []
        self.frames: list[Frame] = []
        self.reachable = True
        self.dead_depth = 0  # constructs opened inside unreachable code
        self.locals: list[Variable] = []
        # Interruption checks (translate/interrupts.py).
        self.meter_fuel = info.checks.fuel
        self.interrupt_vars = InterruptVars()

        fb = self.fb
        # A cursor at the end of the current block (the builder's own method: the
        # handlers call it for almost every instruction).
        self.ins: Callable[[], Cursor] = fb.ins
        entry = fb.create_block()
        params = fb.append_block_params_for_function_params(entry)
        fb.switch_to_block(entry)
        fb.seal_block(entry)
        self.vmctx: Value = params[0]
        if osr_loop is not None:
            self.osr = OsrState(osr_loop, params[1])
            return
        for t, value in zip(self.ftype.params, params[1:], strict=True):
            var = fb.declare_var(from_wasm(t))
            fb.def_var(var, value)
            self.locals.append(var)
        for t in self.body.locals:
            var = fb.declare_var(from_wasm(t))
            fb.def_var(var, fb.ins().zero(from_wasm(t)))
            self.locals.append(var)

    # Operand stack -----------------------------------------------------------------------

    def pop(self) -> Value:
        return self.stack.pop()

    def popn(self, n: int) -> list[Value]:
        """The top ``n`` operands, removed from the stack (deepest first)."""
        if n == 0:
            return []
        values = self.stack[-n:]
        del self.stack[-n:]
        return values

    def push(self, v: Value) -> None:
        self.stack.append(v)

    def top(self, n: int) -> list[Value]:
        """The top ``n`` operands, left on the stack."""
        return list(self.stack[len(self.stack) - n:]) if n else []

    # Shared emission helpers -------------------------------------------------------------

    def block_with_params(self, types: Sequence[Type]) -> Block:
        """A new block with one parameter of each type."""
        block = self.fb.create_block()
        for t in types:
            self.fb.append_block_param(block, t)
        return block

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


Handler = Callable[[FunctionState, Instr], None]
"""Translates one instruction: reads its operands from the state's stack, emits IR at
the current position and pushes the results."""
