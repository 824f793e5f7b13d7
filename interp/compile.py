"""Pre-decoding of function bodies into the interpreter's compact form (see ``code``).

One pass over the validated instructions tracks the operand-stack height, which is
static in valid code, so every branch knows ahead of time how many values it must
discard; blocks and loops vanish (their labels become instruction indices), code after
an unconditional branch is skipped, and a few frequent instruction pairs are fused.
"""

from __future__ import annotations

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
from pyjitwasm.interp.numeric import BINARY, UNARY
from pyjitwasm.runtime.floats import f32_from_bits, f64_from_bits
from pyjitwasm.runtime.instance import default_value
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.errors import UnsupportedFeatureError
from pyjitwasm.wasm.module import FunctionBody, WasmModule
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
    """The compiled-function cache for one module, shared by all of its instances."""

    __slots__ = ("module", "func_types", "functions")

    def __init__(self, module: WasmModule) -> None:
        self.module = module
        self.func_types = module.func_types()
        self.functions: list[CompiledFunction | None] = [None] * len(module.codes)

    def get(self, code_slot: int) -> CompiledFunction:
        compiled = self.functions[code_slot]
        if compiled is None:
            index = self.module.num_imported_funcs + code_slot
            compiled = compile_function(
                self.module, self.func_types, self.func_types[index], self.module.codes[code_slot]
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
    module: WasmModule, func_types: list[FuncType], ftype: FuncType, body: FunctionBody
) -> CompiledFunction:
    """Translate one validated function body into a CompiledFunction."""
    nlocals = len(ftype.params) + len(body.locals)
    out: list[list[Any]] = []
    offsets: list[int] = []
    instrs = body.instrs
    count = len(instrs)
    h = nlocals
    func_ctl = _Control(_FUNC, nlocals, 0, len(ftype.results), None)
    ctrls = [func_ctl]
    cur_offset = body.offset

    def emit(code: int, a: Any = None, b: Any = None) -> list[Any]:
        entry = [code, a, b]
        out.append(entry)
        offsets.append(cur_offset)
        return entry

    def branch_target(depth: int, height: int) -> tuple[_Control, Any]:
        """The control for a label and the stack adjustment a branch there needs."""
        ctl = ctrls[-1 - depth]
        if ctl.kind == _FUNC:
            return ctl, None  # jump to the final RETURN, which takes the top results
        arity = ctl.arity
        if height == ctl.base + arity:
            return ctl, None
        return ctl, (ctl.base, -arity if arity else None)

    def add_target(ctl: _Control, container: list[Any], index: int) -> None:
        if ctl.label is not None:
            container[index] = ctl.label
        else:
            ctl.fixups.append((container, index))

    def skip_dead(i: int) -> int:
        """Index of the else/end that ends the unreachable code after instruction i."""
        ctl = ctrls[-1]
        if ctl.kind == _FUNC:
            return count - 1
        if ctl.kind == _IF and ctl.imm.else_pc != -1:
            return ctl.imm.else_pc
        return ctl.imm.end_pc

    i = 0
    dead = False
    while i < count:
        ins = instrs[i]
        code = ins.op
        imm = ins.imm
        cur_offset = ins.offset
        i += 1
        if code == op.LOCAL_GET:
            emit(C.LGET, imm)
            h += 1
        elif code == op.LOCAL_SET:
            emit(C.LSET, imm)
            h -= 1
        elif code == op.LOCAL_TEE:
            emit(C.LTEE, imm)
        elif code == op.I32_CONST or code == op.I64_CONST:
            emit(C.CONST, imm)
            h += 1
        elif code in BINARY:
            if code == op.I32_ADD:
                emit(C.I32_ADD)
            elif code == op.I32_SUB:
                emit(C.I32_SUB)
            else:
                emit(C.BIN, BINARY[code])
            h -= 1
        elif code in UNARY:
            emit(C.UN, UNARY[code])
        elif code == op.BLOCK or code == op.LOOP:
            np, nr = _block_sig(module, imm.blocktype)
            ctl = _Control(_LOOP if code == op.LOOP else _BLOCK, h - np, np, nr, imm)
            if code == op.LOOP:
                ctl.label = len(out)
            ctrls.append(ctl)
        elif code == op.IF:
            h -= 1
            np, nr = _block_sig(module, imm.blocktype)
            ctl = _Control(_IF, h - np, np, nr, imm)
            ctl.else_fixup = emit(C.BR_UNLESS)
            ctrls.append(ctl)
        elif code == op.ELSE:
            ctl = ctrls[-1]
            if not dead:
                add_target(ctl, emit(C.JUMP), 1)
            assert ctl.else_fixup is not None
            ctl.else_fixup[1] = len(out)
            ctl.else_fixup = None
            ctl.kind = _ELSE
            h = ctl.base + ctl.nparams
            dead = False
        elif code == op.END:
            ctl = ctrls.pop()
            dead = False
            if ctl.kind == _FUNC:
                target = len(out)
                emit(C.RETURN, ctl.nresults)
            else:
                target = len(out)
            if ctl.else_fixup is not None:
                ctl.else_fixup[1] = target
            for container, index in ctl.fixups:
                container[index] = target
            h = ctl.base + ctl.nresults
        elif code == op.BR:
            ctl, adjust = branch_target(imm, h)
            if adjust is None:
                add_target(ctl, emit(C.JUMP), 1)
            else:
                add_target(ctl, emit(C.BR_ADJ, None, adjust), 1)
            dead = True
        elif code == op.BR_IF:
            h -= 1
            ctl, adjust = branch_target(imm, h)
            if adjust is None:
                add_target(ctl, emit(C.BR_IF), 1)
            else:
                add_target(ctl, emit(C.BR_IF_ADJ, None, adjust), 1)
        elif code == op.BR_TABLE:
            h -= 1
            entries = []
            for depth in (*imm[0], imm[1]):
                ctl, adjust = branch_target(depth, h)
                base, end = adjust if adjust is not None else (h, None)
                entry = [None, base, end]
                add_target(ctl, entry, 0)
                entries.append(entry)
            emit(C.BR_TABLE, entries)
            dead = True
        elif code == op.RETURN:
            emit(C.RETURN, func_ctl.nresults)
            dead = True
        elif code == op.UNREACHABLE:
            emit(C.UNREACHABLE)
            dead = True
        elif code == op.NOP:
            pass
        elif code == op.CALL or code == op.RETURN_CALL:
            ft = func_types[imm]
            if code == op.CALL:
                emit(C.CALL, imm)
            else:
                emit(C.RETURN_CALL, imm)
                emit(C.RETURN, func_ctl.nresults)  # reached after a tail call to the host
                dead = True
            h += len(ft.results) - len(ft.params)
        elif code == op.CALL_INDIRECT or code == op.RETURN_CALL_INDIRECT:
            ft = module.types[imm[0]]
            if code == op.CALL_INDIRECT:
                emit(C.CALL_INDIRECT, ft, imm[1])
            else:
                emit(C.RETURN_CALL_INDIRECT, ft, imm[1])
                emit(C.RETURN, func_ctl.nresults)
                dead = True
            h += len(ft.results) - len(ft.params) - 1
        elif code == op.DROP:
            emit(C.DROP)
            h -= 1
        elif code == op.SELECT or code == op.SELECT_T:
            emit(C.SELECT)
            h -= 2
        elif code == op.GLOBAL_GET:
            emit(C.GGET, imm)
            h += 1
        elif code == op.GLOBAL_SET:
            emit(C.GSET, imm)
            h -= 1
        elif code == op.F32_CONST:
            emit(C.CONST, f32_from_bits(imm))
            h += 1
        elif code == op.F64_CONST:
            emit(C.CONST, f64_from_bits(imm))
            h += 1
        elif code == op.REF_NULL:
            emit(C.CONST, None)
            h += 1
        elif code == op.REF_IS_NULL:
            emit(C.UN, _is_null)
        elif code in PLAIN_LOADS or code in OTHER_LOADS:
            if imm.memory != 0:
                emit(C.LOADN, (make_reader(code), imm.memory), imm.offset)
            elif code in PLAIN_LOADS:
                emit(C.LOAD, PLAIN_LOADS[code], imm.offset)
            else:
                emit(C.LOADX, OTHER_LOADS[code], imm.offset)
        elif code in PLAIN_STORES or code in OTHER_STORES:
            if imm.memory != 0:
                emit(C.STOREN, (make_writer(code), imm.memory), imm.offset)
            elif code in PLAIN_STORES:
                emit(C.STORE, PLAIN_STORES[code], imm.offset)
            else:
                emit(C.STOREX, OTHER_STORES[code], imm.offset)
            h -= 2
        elif code == op.MEMORY_GROW:
            emit(C.MEMGROW, imm)
        elif code in MISC_HANDLERS:
            emit(C.MISC, MISC_HANDLERS[code], imm)
            h += _MISC_EFFECT[code]
        else:
            name = op.OPS[code].name if code in op.OPS else hex(code)
            raise UnsupportedFeatureError(
                "SIMD" if code >= op.FD else "(interpreter)", f"instruction {name}", ins.offset
            )
        if dead and code != op.END and code != op.ELSE:
            i = skip_dead(i - 1)
    zeros = [default_value(t) for t in body.locals]
    fused, fused_offsets = _fuse(out, offsets)
    return CompiledFunction(
        fused, fused_offsets, len(ftype.params), len(ftype.results), zeros, body.offset
    )


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
