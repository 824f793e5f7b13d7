"""Pre-decoding of function bodies into the interpreter's compact form (see ``code``).

One pass over the validated instructions tracks the operand-stack height, which is
static in valid code, so every branch knows ahead of time how many values it must
discard; blocks and loops vanish (their labels become instruction indices), code after
an unconditional branch is skipped, and a few frequent instruction pairs are fused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pyjitwasm.interp import code as C
from pyjitwasm.interp.code import CompiledFunction
from pyjitwasm.interp.memops import (
    MISC_HANDLERS,
    OTHER_LOADS,
    OTHER_STORES,
    PLAIN_LOADS,
    PLAIN_STORES,
)
from pyjitwasm.interp.memops import reader as make_reader
from pyjitwasm.interp.memops import writer as make_writer
from pyjitwasm.interp.metering import Metering
from pyjitwasm.interp.numeric import BINARY, UNARY
from pyjitwasm.interp.simd_compile import SIMD_HANDLERS
from pyjitwasm.runtime.floats import f32_from_bits, f64_from_bits
from pyjitwasm.runtime.instance import default_value
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.errors import UnsupportedFeatureError
from pyjitwasm.wasm.fuel import CHARGE_BEFORE, FREE_INSTRUCTIONS
from pyjitwasm.wasm.module import FunctionBody, WasmModule
from pyjitwasm.wasm.opcodes import BlockImm, MemArg
from pyjitwasm.wasm.types import FuncType

# Stack effect (pushes - pops) of the instructions run through MISC.
_MISC_EFFECT = {
    op.MEMORY_SIZE: 1,
    op.MEMORY_FILL: -3,
    op.MEMORY_COPY: -3,
    op.MEMORY_INIT: -3,
    op.DATA_DROP: 0,
    op.TABLE_GET: 0,
    op.TABLE_SET: -2,
    op.TABLE_SIZE: 1,
    op.TABLE_GROW: -1,
    op.TABLE_FILL: -3,
    op.TABLE_COPY: -3,
    op.TABLE_INIT: -3,
    op.ELEM_DROP: 0,
    op.REF_FUNC: 1,
}

_BLOCK, _LOOP, _IF, _ELSE, _FUNC = range(5)


def _is_null(x: Any) -> int:
    return 1 if x is None else 0


class _Control:
    """A block being compiled: where its label goes and what branching to it needs."""

    __slots__ = ("kind", "base", "nparams", "nresults", "label", "fixups", "else_fixup", "imm")

    def __init__(self, kind: int, base: int, nparams: int, nresults: int, imm: Any) -> None:
        self.kind = kind
        self.base = base  # stack height below the block's parameters
        self.nparams = nparams
        self.nresults = nresults
        self.label: int | None = None  # known target (loops)
        # Places to patch with the end target: (container, index) pairs.
        self.fixups: list[tuple[list[Any], int]] = []
        self.else_fixup: list[Any] | None = None
        self.imm = imm

    @property
    def arity(self) -> int:
        return self.nparams if self.kind == _LOOP else self.nresults


class ModuleCode:
    """The compiled-function cache for one module, shared by all of its instances.
    ``metering``: the interruption checks its bodies make (none by default)."""

    __slots__ = ("module", "func_types", "functions", "metering")

    def __init__(self, module: WasmModule, metering: Metering | None = None) -> None:
        self.module = module
        self.func_types = module.func_types()
        self.functions: list[CompiledFunction | None] = [None] * len(module.codes)
        self.metering = metering

    def get(self, code_slot: int) -> CompiledFunction:
        compiled = self.functions[code_slot]
        if compiled is None:
            index = self.module.num_imported_funcs + code_slot
            compiled = compile_function(
                self.module, self.func_types, self.func_types[index], self.module.codes[code_slot],
                self.metering,
            )
            self.functions[code_slot] = compiled
        return compiled


def _block_sig(module: WasmModule, blocktype: int) -> tuple[int, int]:
    if blocktype == op.BLOCKTYPE_EMPTY:
        return 0, 0
    if blocktype < 0:
        return 0, 1
    ft = module.types[blocktype]
    return len(ft.params), len(ft.results)


def compile_function(
    module: WasmModule, func_types: list[FuncType], ftype: FuncType, body: FunctionBody,
    metering: Metering | None = None,
) -> CompiledFunction:
    """Translate one validated function body into a CompiledFunction."""
    return _FunctionCompiler(module, func_types, ftype, body, metering).compile()


class _FunctionCompiler:
    """The state of compiling one body. Each wasm instruction is compiled by the method
    ``_HANDLERS`` maps its opcode to; a handler emits entries of the compact form and keeps
    ``height`` (the frame's: locals, then the operand stack) in step with the instruction."""

    __slots__ = (
        "module",
        "func_types",
        "body",
        "nparams",
        "out",
        "offsets",
        "height",
        "func_ctl",
        "ctrls",
        "dead",
        "cur_offset",
        "checks",
        "meter_fuel",
        "fuel_entry",
    )

    def __init__(
        self, module: WasmModule, func_types: list[FuncType], ftype: FuncType, body: FunctionBody,
        metering: Metering | None = None,
    ) -> None:
        self.module = module
        self.func_types = func_types
        self.body = body
        self.nparams = len(ftype.params)
        self.out: list[list[Any]] = []
        self.offsets: list[int] = []
        nlocals = self.nparams + len(body.locals)
        self.height = nlocals
        self.func_ctl = _Control(_FUNC, nlocals, 0, len(ftype.results), None)
        self.ctrls = [self.func_ctl]
        # True after an unconditional branch, until the end (or else) of its block.
        self.dead = False
        self.cur_offset = body.offset
        # Metering (interp/metering.py): the checks of a check entry, whether to count
        # fuel, and the charge entry of the current straight-line run.
        self.checks = metering.checks if metering is not None else 0
        self.meter_fuel = metering is not None and metering.fuel
        self.fuel_entry: list[Any] | None = None

    def compile(self) -> CompiledFunction:
        body = self.body
        instrs = body.instrs
        count = len(instrs)
        handlers = _HANDLERS
        if self.checks:
            self.emit(C.METER, 0, self.checks)
        i = 0
        while i < count:
            code, imm, offset = instrs[i]
            self.cur_offset = offset
            i += 1
            handler = handlers.get(code)
            if handler is None:
                name = op.OPS[code].name if code in op.OPS else hex(code)
                raise UnsupportedFeatureError(
                    "SIMD" if code >= op.FD else "(interpreter)", f"instruction {name}", offset
                )
            if self.meter_fuel:
                self.charge_fuel(code)
            handler(self, code, imm)
            if self.dead:
                # Only end and else clear ``dead``, and the skip lands on one of them.
                i = self.skip_dead()
        zeros = [default_value(t) for t in body.locals]
        fused, fused_offsets = _fuse(self.out, self.offsets)
        return CompiledFunction(
            fused, fused_offsets, self.nparams, self.func_ctl.nresults, zeros, body.offset
        )

    # -- helpers -----------------------------------------------------------------------

    def emit(self, code: int, a: Any = None, b: Any = None) -> list[Any]:
        entry = [code, a, b]
        self.out.append(entry)
        self.offsets.append(self.cur_offset)
        return entry

    def branch_target(self, depth: int) -> tuple[_Control, Any]:
        """The control for a label and the stack adjustment a branch there needs."""
        ctl = self.ctrls[-1 - depth]
        if ctl.kind == _FUNC:
            return ctl, None  # jump to the final RETURN, which takes the top results
        arity = ctl.arity
        if self.height == ctl.base + arity:
            return ctl, None
        return ctl, (ctl.base, -arity if arity else None)

    @staticmethod
    def add_target(ctl: _Control, container: list[Any], index: int) -> None:
        if ctl.label is not None:
            container[index] = ctl.label
        else:
            ctl.fixups.append((container, index))

    def skip_dead(self) -> int:
        """Index of the else/end that ends the unreachable code after an unconditional
        branch."""
        ctl = self.ctrls[-1]
        if ctl.kind == _FUNC:
            return len(self.body.instrs) - 1
        if ctl.kind == _IF and ctl.imm.else_pc != -1:
            return ctl.imm.else_pc
        return ctl.imm.end_pc

    def charge_fuel(self, code: int) -> None:
        """Count ``code``'s fuel in the current run's charge entry (made at the run's
        first costly instruction); the run ends before a ``CHARGE_BEFORE``
        instruction, whose cost it includes."""
        if code not in FREE_INSTRUCTIONS:
            if self.fuel_entry is None:
                self.fuel_entry = self.emit(C.METER, 0, 0)
            self.fuel_entry[1] += 1
        if code in CHARGE_BEFORE:
            self.fuel_entry = None

    # -- control -------------------------------------------------------------------------

    def unreachable(self, code: int, imm: None) -> None:
        self.emit(C.UNREACHABLE)
        self.dead = True

    def nop(self, code: int, imm: None) -> None:
        pass

    def block(self, code: int, imm: BlockImm) -> None:
        nparams, nresults = _block_sig(self.module, imm.blocktype)
        self.ctrls.append(_Control(_BLOCK, self.height - nparams, nparams, nresults, imm))

    def loop(self, code: int, imm: BlockImm) -> None:
        nparams, nresults = _block_sig(self.module, imm.blocktype)
        ctl = _Control(_LOOP, self.height - nparams, nparams, nresults, imm)
        ctl.label = len(self.out)
        self.ctrls.append(ctl)
        if self.checks:
            self.emit(C.METER, 0, self.checks)  # every back-edge lands here

    def if_(self, code: int, imm: BlockImm) -> None:
        self.height -= 1
        nparams, nresults = _block_sig(self.module, imm.blocktype)
        ctl = _Control(_IF, self.height - nparams, nparams, nresults, imm)
        ctl.else_fixup = self.emit(C.BR_UNLESS)
        self.ctrls.append(ctl)

    def else_(self, code: int, imm: None) -> None:
        ctl = self.ctrls[-1]
        if not self.dead:
            self.add_target(ctl, self.emit(C.JUMP), 1)
        assert ctl.else_fixup is not None
        ctl.else_fixup[1] = len(self.out)
        ctl.else_fixup = None
        ctl.kind = _ELSE
        self.height = ctl.base + ctl.nparams
        self.dead = False

    def end(self, code: int, imm: None) -> None:
        ctl = self.ctrls.pop()
        self.dead = False
        target = len(self.out)
        if ctl.kind == _FUNC:
            self.emit(C.RETURN, ctl.nresults)
        if ctl.else_fixup is not None:
            ctl.else_fixup[1] = target
        for container, index in ctl.fixups:
            container[index] = target
        self.height = ctl.base + ctl.nresults

    def br(self, code: int, depth: int) -> None:
        ctl, adjust = self.branch_target(depth)
        if adjust is None:
            self.add_target(ctl, self.emit(C.JUMP), 1)
        else:
            self.add_target(ctl, self.emit(C.BR_ADJ, None, adjust), 1)
        self.dead = True

    def br_if(self, code: int, depth: int) -> None:
        self.height -= 1
        ctl, adjust = self.branch_target(depth)
        if adjust is None:
            self.add_target(ctl, self.emit(C.BR_IF), 1)
        else:
            self.add_target(ctl, self.emit(C.BR_IF_ADJ, None, adjust), 1)

    def br_table(self, code: int, imm: tuple[tuple[int, ...], int]) -> None:
        self.height -= 1
        entries = []
        for depth in (*imm[0], imm[1]):
            ctl, adjust = self.branch_target(depth)
            base, end = adjust if adjust is not None else (self.height, None)
            entry = [None, base, end]
            self.add_target(ctl, entry, 0)
            entries.append(entry)
        self.emit(C.BR_TABLE, entries)
        self.dead = True

    def return_(self, code: int, imm: None) -> None:
        self.emit(C.RETURN, self.func_ctl.nresults)
        self.dead = True

    def call(self, code: int, func_index: int) -> None:
        ft = self.func_types[func_index]
        self.emit(C.CALL, func_index)
        self.height += len(ft.results) - len(ft.params)

    def return_call(self, code: int, func_index: int) -> None:
        ft = self.func_types[func_index]
        self.emit(C.RETURN_CALL, func_index)
        self.emit(C.RETURN, self.func_ctl.nresults)  # reached after a tail call to the host
        self.dead = True
        self.height += len(ft.results) - len(ft.params)

    def call_indirect(self, code: int, imm: tuple[int, int]) -> None:
        type_index, table = imm
        ft = self.module.types[type_index]
        self.emit(C.CALL_INDIRECT, ft, table)
        self.height += len(ft.results) - len(ft.params) - 1

    def return_call_indirect(self, code: int, imm: tuple[int, int]) -> None:
        type_index, table = imm
        ft = self.module.types[type_index]
        self.emit(C.RETURN_CALL_INDIRECT, ft, table)
        self.emit(C.RETURN, self.func_ctl.nresults)
        self.dead = True
        self.height += len(ft.results) - len(ft.params) - 1

    # -- parametric and variables ------------------------------------------------------

    def drop(self, code: int, imm: None) -> None:
        self.emit(C.DROP)
        self.height -= 1

    def select(self, code: int, imm: None | tuple[int, ...]) -> None:
        self.emit(C.SELECT)
        self.height -= 2

    def local_get(self, code: int, index: int) -> None:
        self.emit(C.LGET, index)
        self.height += 1

    def local_set(self, code: int, index: int) -> None:
        self.emit(C.LSET, index)
        self.height -= 1

    def local_tee(self, code: int, index: int) -> None:
        self.emit(C.LTEE, index)

    def global_get(self, code: int, index: int) -> None:
        self.emit(C.GGET, index)
        self.height += 1

    def global_set(self, code: int, index: int) -> None:
        self.emit(C.GSET, index)
        self.height -= 1

    # -- constants, numeric and references -----------------------------------------------

    def int_const(self, code: int, bits: int) -> None:
        self.emit(C.CONST, bits)
        self.height += 1

    def f32_const(self, code: int, bits: int) -> None:
        self.emit(C.CONST, f32_from_bits(bits))
        self.height += 1

    def f64_const(self, code: int, bits: int) -> None:
        self.emit(C.CONST, f64_from_bits(bits))
        self.height += 1

    def unary(self, code: int, imm: None) -> None:
        self.emit(C.UN, UNARY[code])

    def binary(self, code: int, imm: None) -> None:
        # The two most frequent get their own entry, which the dispatch loop inlines.
        if code == op.I32_ADD:
            self.emit(C.I32_ADD)
        elif code == op.I32_SUB:
            self.emit(C.I32_SUB)
        else:
            self.emit(C.BIN, BINARY[code])
        self.height -= 1

    def ref_null(self, code: int, heap_type: int) -> None:
        self.emit(C.CONST, None)
        self.height += 1

    def ref_is_null(self, code: int, imm: None) -> None:
        self.emit(C.UN, _is_null)

    # -- memory, tables and the rest ---------------------------------------------------

    def load(self, code: int, memarg: MemArg) -> None:
        if memarg.memory != 0:
            self.emit(C.LOADN, (make_reader(code), memarg.memory), memarg.offset)
        elif code in PLAIN_LOADS:
            self.emit(C.LOAD, PLAIN_LOADS[code], memarg.offset)
        else:
            self.emit(C.LOADX, OTHER_LOADS[code], memarg.offset)

    def store(self, code: int, memarg: MemArg) -> None:
        if memarg.memory != 0:
            self.emit(C.STOREN, (make_writer(code), memarg.memory), memarg.offset)
        elif code in PLAIN_STORES:
            self.emit(C.STORE, PLAIN_STORES[code], memarg.offset)
        else:
            self.emit(C.STOREX, OTHER_STORES[code], memarg.offset)
        self.height -= 2

    def memory_grow(self, code: int, memory: int) -> None:
        self.emit(C.MEMGROW, memory)

    def misc(self, code: int, imm: Any) -> None:
        self.emit(C.MISC, MISC_HANDLERS[code], imm)
        self.height += _MISC_EFFECT[code]


_Handler = Callable[[_FunctionCompiler, int, Any], None]


def _handler_table() -> dict[int, _Handler]:
    """Opcode -> the ``_FunctionCompiler`` method that compiles it."""
    f = _FunctionCompiler
    table: dict[int, _Handler] = {
        op.UNREACHABLE: f.unreachable,
        op.NOP: f.nop,
        op.BLOCK: f.block,
        op.LOOP: f.loop,
        op.IF: f.if_,
        op.ELSE: f.else_,
        op.END: f.end,
        op.BR: f.br,
        op.BR_IF: f.br_if,
        op.BR_TABLE: f.br_table,
        op.RETURN: f.return_,
        op.CALL: f.call,
        op.CALL_INDIRECT: f.call_indirect,
        op.RETURN_CALL: f.return_call,
        op.RETURN_CALL_INDIRECT: f.return_call_indirect,
        op.DROP: f.drop,
        op.SELECT: f.select,
        op.SELECT_T: f.select,
        op.LOCAL_GET: f.local_get,
        op.LOCAL_SET: f.local_set,
        op.LOCAL_TEE: f.local_tee,
        op.GLOBAL_GET: f.global_get,
        op.GLOBAL_SET: f.global_set,
        op.I32_CONST: f.int_const,
        op.I64_CONST: f.int_const,
        op.F32_CONST: f.f32_const,
        op.F64_CONST: f.f64_const,
        op.REF_NULL: f.ref_null,
        op.REF_IS_NULL: f.ref_is_null,
        op.MEMORY_GROW: f.memory_grow,
    }
    # Families whose members share a handler; each table names its opcodes explicitly.
    families: list[tuple[Iterable[int], _Handler]] = [
        (UNARY, f.unary),  # numeric.UNARY
        (BINARY, f.binary),  # numeric.BINARY
        (PLAIN_LOADS, f.load),  # memops.PLAIN_LOADS
        (OTHER_LOADS, f.load),  # memops.OTHER_LOADS
        (PLAIN_STORES, f.store),  # memops.PLAIN_STORES
        (OTHER_STORES, f.store),  # memops.OTHER_STORES
        (MISC_HANDLERS, f.misc),  # memops.MISC_HANDLERS (bulk memory, tables, ref.func)
    ]
    for codes, handler in families:
        for code in codes:
            assert code not in table, f"{op.OPS[code].name} has two handlers"
            table[code] = handler
    # SIMD, relaxed SIMD included: handlers in interp/simd_compile.py, called like these.
    for code, simd_handler in SIMD_HANDLERS.items():
        assert code not in table, f"{op.OPS[code].name} has two handlers"
        table[code] = simd_handler
    return table


_HANDLERS = _handler_table()
assert _MISC_EFFECT.keys() == MISC_HANDLERS.keys()


_BRANCHES = (C.JUMP, C.BR_IF, C.BR_UNLESS, C.BR_ADJ, C.BR_IF_ADJ, C.I32_EQZ_BR_IF)
_INLINE_BIN = {C.I32_ADD: BINARY[op.I32_ADD], C.I32_SUB: BINARY[op.I32_SUB]}


def _bin_fn(entry: list[Any]) -> Any:
    """The binary function of a BIN-like entry, or None."""
    if entry[0] == C.BIN:
        return entry[1]
    return _INLINE_BIN.get(entry[0])


def _fuse(out: list[list[Any]], offsets: list[int]) -> tuple[list[tuple[Any, ...]], list[int]]:
    """Fuse frequent instruction sequences into superinstructions and freeze the code.

    Only sequences whose later members are not branch targets are fused; a fused entry
    keeps the offset of its last member (the one that can trap).
    """
    targets: set[int] = set()
    for entry in out:
        if entry[0] in _BRANCHES:
            targets.add(entry[1])
        elif entry[0] == C.BR_TABLE:
            targets.update(e[0] for e in entry[1])
    fused: list[list[Any]] = []
    new_offsets: list[int] = []
    remap: dict[int, int] = {}
    n = len(out)
    i = 0
    while i < n:
        remap[i] = len(fused)
        e0 = out[i]
        e1 = out[i + 1] if i + 1 < n and i + 1 not in targets else None
        e2 = out[i + 2] if e1 is not None and i + 2 < n and i + 2 not in targets else None
        k0 = e0[0]
        if k0 == C.LGET and e1 is not None:
            k1 = e1[0]
            if k1 == C.CONST and e2 is not None and _bin_fn(e2) is not None:
                fused.append([C.LGET_CONST_BIN, e0[1], (e1[1], _bin_fn(e2))])
                new_offsets.append(offsets[i + 2])
                i += 3
                continue
            if _bin_fn(e1) is not None:
                fused.append([C.LGET_BIN, e0[1], _bin_fn(e1)])
                new_offsets.append(offsets[i + 1])
                i += 2
                continue
            if k1 == C.LGET:
                fused.append([C.LGET_LGET, e0[1], e1[1]])
                new_offsets.append(offsets[i + 1])
                i += 2
                continue
        if k0 == C.CONST and e1 is not None and _bin_fn(e1) is not None:
            fused.append([C.CONST_BIN, e0[1], _bin_fn(e1)])
            new_offsets.append(offsets[i + 1])
            i += 2
            continue
        if e1 is not None and e1[0] == C.BR_IF:
            if k0 == C.BIN:
                fused.append([C.BIN_BR_IF, e0[1], e1[1]])
                new_offsets.append(offsets[i + 1])
                i += 2
                continue
            if k0 == C.UN and e0[1] is UNARY[op.I32_EQZ]:
                fused.append([C.I32_EQZ_BR_IF, e1[1], None])
                new_offsets.append(offsets[i + 1])
                i += 2
                continue
        fused.append(list(e0))
        new_offsets.append(offsets[i])
        i += 1
    remap[n] = len(fused)
    frozen = []
    for entry in fused:
        k = entry[0]
        if k in _BRANCHES:
            entry[1] = remap[entry[1]]
        elif k == C.BIN_BR_IF:
            entry[2] = remap[entry[2]]
        elif k == C.BR_TABLE:
            entry[1] = tuple((remap[e[0]], e[1], e[2]) for e in entry[1])
        frozen.append(tuple(entry))
    return frozen, new_offsets
