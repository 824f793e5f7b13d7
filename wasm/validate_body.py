"""Validation of function bodies: the operand-stack typing algorithm of the spec appendix.

The checker walks a body's instruction list once, keeping a value stack of type codes and
a stack of control frames. ``UNKNOWN`` (0, not a type code) stands for the spec's
bottom type, which appears when a pop hits the base of a frame made unreachable by
``unreachable``, ``br``, ``br_table``, ``return`` or a tail call.

Speed matters here (every instruction of every module passes through it), so the loop
keeps its state in locals, handles fixed-signature instructions through one precomputed
table, and compares whole operand slices on the happy path, falling back to the
element-by-element algorithm only when a slice does not match outright.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pyjitwasm.wasm import opcodes as O
from pyjitwasm.wasm.errors import ValidationError
from pyjitwasm.wasm.module import FunctionBody
from pyjitwasm.wasm.opcodes import OPS, Imm
from pyjitwasm.wasm.types import (
    EXTERNREF,
    FUNCREF,
    I32,
    I64,
    NUM_TYPES,
    V128,
    VALUE_TYPES,
    FuncType,
    GlobalType,
)

UNKNOWN = 0
"""The bottom type of the polymorphic stack: matches every value type."""

_NUMERIC_OR_VECTOR = frozenset(NUM_TYPES | {V128, UNKNOWN})
_REFS_OR_UNKNOWN = frozenset({FUNCREF, EXTERNREF, UNKNOWN})


class Invalid(Exception):
    """Internal signal: the current instruction is invalid (carries the message)."""


@dataclass(slots=True)
class BodyContext:
    """What a function body may refer to, precomputed once per module."""

    types: list[FuncType]
    func_types: list[FuncType]
    table_elem_types: list[int]
    table_index_types: list[int]
    memory_index_types: list[int]
    globals: list[GlobalType]
    elem_types: list[int]
    data_count: int | None
    declared_funcs: frozenset[int] | set[int]
    # Per function index: (params as a list, results), for fast operand matching.
    call_sigs: list[tuple[list[int], tuple[int, ...]]]


# --- per-opcode dispatch table ------------------------------------------------------------
#
# ``_DISPATCH[op]`` is a tuple whose first item is the instruction's kind (a small int the
# loop tests with literal comparisons, most frequent kinds first); the rest is data the
# kind needs, precomputed so the loop does no per-instruction table building.

K_SIMPLE = 0  # (K, nparams, top param, second param, result, params list)
K_LOCAL_GET = 1
K_LOCAL_SET = 2
K_LOCAL_TEE = 3
K_MEMORY = 4  # (K, params with i32 address, with i64 address, results, align log2, lanes)
K_GLOBAL_GET = 5
K_CALL = 6
K_BR_IF = 7
K_BLOCK = 8  # block and loop
K_IF = 9
K_END = 10
K_DROP = 11
K_ELSE = 12
K_BR = 13
K_RETURN = 14
K_UNREACHABLE = 15
K_NOP = 16
K_SELECT = 17
K_BR_TABLE = 18
K_GLOBAL_SET = 19
K_CALL_INDIRECT = 20  # call_indirect and return_call_indirect
K_RETURN_CALL = 21
K_SELECT_T = 22
K_LANE = 23  # (K, params list, results, lane count)
K_SHUFFLE = 24
K_OTHER = 25  # (K, handler)
K_UNSUPPORTED = 26

_MEMARG_IMMS = (Imm.MEMARG, Imm.MEMARG_LANE)
_LANE_COUNTS = {"i8x16": 16, "i16x8": 8, "i32x4": 4, "i64x2": 2, "f32x4": 4, "f64x2": 2}
_UNSUPPORTED_ENTRY = (K_UNSUPPORTED,)


def _build_dispatch() -> dict[int, tuple[Any, ...]]:
    table: dict[int, tuple[Any, ...]] = {}
    for info in OPS.values():
        sig = info.sig
        if sig is None:
            continue
        params, results = sig
        if info.imm in _MEMARG_IMMS:
            lanes = 16 // info.access_size if info.imm == Imm.MEMARG_LANE else 0
            natural = info.access_size.bit_length() - 1
            table[info.code] = (K_MEMORY, [I32, *params], [I64, *params], results, natural, lanes)
        elif info.imm == Imm.LANE:
            lanes = _LANE_COUNTS[info.name.split(".")[0]]
            table[info.code] = (K_LANE, list(params), results, lanes)
        elif info.imm == Imm.SHUFFLE:
            table[info.code] = (K_SHUFFLE,)
        else:
            assert len(results) == 1, info.name
            top = params[-1] if params else UNKNOWN
            second = params[-2] if len(params) > 1 else UNKNOWN
            table[info.code] = (K_SIMPLE, len(params), top, second, results[0], list(params))
    for op, kind in (
        (O.LOCAL_GET, K_LOCAL_GET),
        (O.LOCAL_SET, K_LOCAL_SET),
        (O.LOCAL_TEE, K_LOCAL_TEE),
        (O.GLOBAL_GET, K_GLOBAL_GET),
        (O.GLOBAL_SET, K_GLOBAL_SET),
        (O.CALL, K_CALL),
        (O.BR_IF, K_BR_IF),
        (O.BLOCK, K_BLOCK),
        (O.LOOP, K_BLOCK),
        (O.IF, K_IF),
        (O.END, K_END),
        (O.DROP, K_DROP),
        (O.ELSE, K_ELSE),
        (O.BR, K_BR),
        (O.RETURN, K_RETURN),
        (O.UNREACHABLE, K_UNREACHABLE),
        (O.NOP, K_NOP),
        (O.SELECT, K_SELECT),
        (O.BR_TABLE, K_BR_TABLE),
        (O.CALL_INDIRECT, K_CALL_INDIRECT),
        (O.RETURN_CALL_INDIRECT, K_CALL_INDIRECT),
        (O.RETURN_CALL, K_RETURN_CALL),
        (O.SELECT_T, K_SELECT_T),
    ):
        table[op] = (kind,)
    for op, handler in _OTHER.items():
        table[op] = (K_OTHER, handler)
    missing = set(OPS) - set(table)
    assert not missing, sorted(OPS[op].name for op in missing)
    return table


_LOOP, _IF, _ELSE = O.LOOP, O.IF, O.ELSE
_RETURN_CALL_INDIRECT = O.RETURN_CALL_INDIRECT


# --- slow-path stack helpers ---------------------------------------------------------------


def _pop(vals: list[int], height: int, unreachable: bool, expect: int) -> int:
    """Pop one operand that must match ``expect`` (UNKNOWN: any type); return its type."""
    if len(vals) == height:
        if unreachable:
            return UNKNOWN
        raise Invalid("type mismatch")
    actual = vals.pop()
    if actual != expect and actual != UNKNOWN and expect != UNKNOWN:
        raise Invalid("type mismatch")
    return actual


def _pop_all(vals: list[int], height: int, unreachable: bool, expect: Sequence[int]) -> None:
    """Pop operands matching ``expect`` (a sequence of types, the last one on top)."""
    n = len(expect)
    if n and len(vals) - height >= n and vals[-n:] == list(expect):
        del vals[-n:]
        return
    for t in reversed(expect):
        _pop(vals, height, unreachable, t)


# --- the checker ----------------------------------------------------------------------------


class BlockTypes:
    """Resolves block-type immediates to (params, results) lists, cached per module."""

    __slots__ = ("cache", "types")

    def __init__(self, types: list[FuncType]) -> None:
        self.types = types
        self.cache: dict[int, tuple[list[int], list[int]]] = {O.BLOCKTYPE_EMPTY: ([], [])}

    def resolve(self, blocktype: int) -> tuple[list[int], list[int]]:
        found = self.cache.get(blocktype)
        if found is not None:
            return found
        if blocktype < 0:
            t = blocktype & 0x7F
            if t not in VALUE_TYPES:
                raise Invalid("malformed block type")
            found = ([], [t])
        else:
            if blocktype >= len(self.types):
                raise Invalid(f"unknown type {blocktype}")
            ft = self.types[blocktype]
            found = (list(ft.params), list(ft.results))
        self.cache[blocktype] = found
        return found


def validate_body(
    ctx: BodyContext,
    func_index: int,
    ftype: FuncType,
    body: FunctionBody,
    block_types: BlockTypes | None = None,
) -> None:
    """Check one function body against its type; raise ValidationError if invalid.

    ``func_index`` (in the function index space) only labels the error; pass the module's
    shared ``BlockTypes`` when checking many bodies.
    """
    if block_types is None:
        block_types = BlockTypes(ctx.types)
    _check(ctx, func_index, ftype, body, block_types)


def _check(
    ctx: BodyContext, func_index: int, ftype: FuncType, body: FunctionBody, bt: BlockTypes
) -> None:
    local_types = list(ftype.params)
    local_types.extend(body.locals)
    nlocals = len(local_types)
    func_results = list(ftype.results)
    globals_ = ctx.globals
    nglobals = len(globals_)
    call_sigs = ctx.call_sigs
    nfuncs = len(call_sigs)
    mem_its = ctx.memory_index_types
    nmems = len(mem_its)
    dispatch_get = _DISPATCH.get
    unsupported = _UNSUPPORTED_ENTRY

    vals: list[int] = []
    # Targets of call and return_call, kept on the body for the JIT's batch planning.
    called: list[int] = []
    # A frame: [opcode, params, results, height, unreachable, label types].
    frame: list[Any] = [O.BLOCK, [], func_results, 0, False, func_results]
    ctrls: list[list[Any]] = [frame]
    height = 0
    unreachable = False
    instrs = body.instrs
    off = body.offset
    last_off = instrs[-1].offset if instrs else -1
    try:
        for op, imm, off in instrs:  # noqa: B007 (off locates errors)
            entry = dispatch_get(op, unsupported)
            kind = entry[0]
            if kind == 0:  # K_SIMPLE
                _, n, top, second, result, params = entry
                if n == 0:
                    vals.append(result)
                elif n == 2:
                    if len(vals) - height >= 2 and vals[-1] == top and vals[-2] == second:
                        vals.pop()
                        vals[-1] = result
                    else:
                        _pop(vals, height, unreachable, top)
                        _pop(vals, height, unreachable, second)
                        vals.append(result)
                elif n == 1:
                    if len(vals) > height and vals[-1] == top:
                        vals[-1] = result
                    else:
                        _pop(vals, height, unreachable, top)
                        vals.append(result)
                else:
                    _pop_all(vals, height, unreachable, params)
                    vals.append(result)

            elif kind == 1:  # K_LOCAL_GET
                if imm >= nlocals:
                    raise Invalid(f"unknown local {imm}")
                vals.append(local_types[imm])

            elif kind == 10:  # K_END
                results = frame[2]
                n = len(results)
                if len(vals) - height == n and (not n or vals[-n:] == results):
                    del vals[height:]
                else:
                    for t in reversed(results):
                        _pop(vals, height, unreachable, t)
                    if len(vals) != height:
                        raise Invalid("type mismatch")
                if frame[0] == _IF and frame[1] != results:
                    # An if without else passes its params through the implicit else.
                    raise Invalid("type mismatch")
                ctrls.pop()
                if not ctrls:
                    if off != last_off:
                        raise Invalid("operators remaining after end of function")
                    body.direct_callees = tuple(dict.fromkeys(called))
                    return
                frame = ctrls[-1]
                height = frame[3]
                unreachable = frame[4]
                vals += results

            elif kind == 2 or kind == 3:  # K_LOCAL_SET, K_LOCAL_TEE
                if imm >= nlocals:
                    raise Invalid(f"unknown local {imm}")
                t = local_types[imm]
                if len(vals) > height and vals[-1] == t:
                    if kind == 2:
                        vals.pop()
                else:
                    _pop(vals, height, unreachable, t)
                    if kind == 3:
                        vals.append(t)

            elif kind == 4:  # K_MEMORY
                _, params32, params64, results, natural, lanes = entry
                if lanes:
                    memarg, lane = imm
                    if lane >= lanes:
                        raise Invalid("invalid lane index")
                else:
                    memarg = imm
                m = memarg.memory
                if m >= nmems:
                    raise Invalid(f"unknown memory {m}")
                if memarg.align > natural:
                    raise Invalid("alignment must not be larger than natural")
                if mem_its[m] == I32:
                    if memarg.offset > 0xFFFFFFFF:
                        raise Invalid("offset out of range")
                    params = params32
                else:
                    params = params64
                n = len(params)
                if len(vals) - height >= n and vals[-n:] == params:
                    del vals[-n:]
                else:
                    for t in reversed(params):
                        _pop(vals, height, unreachable, t)
                vals += results

            elif kind == 5:  # K_GLOBAL_GET
                if imm >= nglobals:
                    raise Invalid(f"unknown global {imm}")
                vals.append(globals_[imm].valtype)

            elif kind == 6:  # K_CALL
                if imm >= nfuncs:
                    raise Invalid(f"unknown function {imm}")
                called.append(imm)
                params, results = call_sigs[imm]
                n = len(params)
                if n:
                    if len(vals) - height >= n and vals[-n:] == params:
                        del vals[-n:]
                    else:
                        for t in reversed(params):
                            _pop(vals, height, unreachable, t)
                vals += results

            elif kind == 7:  # K_BR_IF
                if imm >= len(ctrls):
                    raise Invalid(f"unknown label {imm}")
                if len(vals) > height and vals[-1] == I32:
                    vals.pop()
                else:
                    _pop(vals, height, unreachable, I32)
                label = ctrls[-1 - imm][5]
                n = len(label)
                if n and not (len(vals) - height >= n and vals[-n:] == label):
                    for t in reversed(label):
                        _pop(vals, height, unreachable, t)
                    vals += label

            elif kind == 8 or kind == 9:  # K_BLOCK (block, loop), K_IF
                if kind == 9:
                    if len(vals) > height and vals[-1] == I32:
                        vals.pop()
                    else:
                        _pop(vals, height, unreachable, I32)
                params, results = bt.resolve(imm.blocktype)
                if params:
                    _pop_all(vals, height, unreachable, params)
                frame[4] = unreachable
                height = len(vals)
                unreachable = False
                frame = [op, params, results, height, False, params if op == _LOOP else results]
                ctrls.append(frame)
                vals += params

            elif kind == 11:  # K_DROP
                if len(vals) > height:
                    vals.pop()
                elif not unreachable:
                    raise Invalid("type mismatch")

            elif kind == 12:  # K_ELSE
                if frame[0] != _IF:
                    raise Invalid("else without matching if")
                _pop_all(vals, height, unreachable, frame[2])
                if len(vals) != height:
                    raise Invalid("type mismatch")
                frame[0] = _ELSE
                unreachable = False
                vals += frame[1]

            elif kind == 13:  # K_BR
                if imm >= len(ctrls):
                    raise Invalid(f"unknown label {imm}")
                _pop_all(vals, height, unreachable, ctrls[-1 - imm][5])
                del vals[height:]
                unreachable = True

            elif kind == 14:  # K_RETURN
                _pop_all(vals, height, unreachable, func_results)
                del vals[height:]
                unreachable = True

            elif kind == 15:  # K_UNREACHABLE
                del vals[height:]
                unreachable = True

            elif kind == 16:  # K_NOP
                pass

            elif kind == 17:  # K_SELECT
                _pop(vals, height, unreachable, I32)
                t1 = _pop(vals, height, unreachable, UNKNOWN)
                t2 = _pop(vals, height, unreachable, UNKNOWN)
                if t1 not in _NUMERIC_OR_VECTOR or t2 not in _NUMERIC_OR_VECTOR:
                    raise Invalid("type mismatch")
                if t1 != t2 and t1 != UNKNOWN and t2 != UNKNOWN:
                    raise Invalid("type mismatch")
                vals.append(t2 if t1 == UNKNOWN else t1)

            elif kind == 18:  # K_BR_TABLE
                _check_br_table(vals, height, unreachable, ctrls, imm)
                del vals[height:]
                unreachable = True

            elif kind == 19:  # K_GLOBAL_SET
                if imm >= nglobals:
                    raise Invalid(f"unknown global {imm}")
                g = globals_[imm]
                if not g.mutable:
                    raise Invalid("immutable global")
                _pop(vals, height, unreachable, g.valtype)

            elif kind == 20:  # K_CALL_INDIRECT (also return_call_indirect)
                type_index, table = imm
                if table >= len(ctx.table_elem_types):
                    raise Invalid(f"unknown table {table}")
                if ctx.table_elem_types[table] != FUNCREF:
                    raise Invalid("type mismatch")
                if type_index >= len(ctx.types):
                    raise Invalid(f"unknown type {type_index}")
                callee = ctx.types[type_index]
                _pop(vals, height, unreachable, ctx.table_index_types[table])
                _pop_all(vals, height, unreachable, callee.params)
                if op == _RETURN_CALL_INDIRECT:
                    if list(callee.results) != func_results:
                        raise Invalid("type mismatch")
                    del vals[height:]
                    unreachable = True
                else:
                    vals += callee.results

            elif kind == 21:  # K_RETURN_CALL
                if imm >= nfuncs:
                    raise Invalid(f"unknown function {imm}")
                called.append(imm)
                params, results = call_sigs[imm]
                if list(results) != func_results:
                    raise Invalid("type mismatch")
                _pop_all(vals, height, unreachable, params)
                del vals[height:]
                unreachable = True

            elif kind == 22:  # K_SELECT_T
                if len(imm) != 1:
                    raise Invalid("invalid result arity")
                t = imm[0]
                _pop(vals, height, unreachable, I32)
                _pop(vals, height, unreachable, t)
                _pop(vals, height, unreachable, t)
                vals.append(t)

            elif kind == 23:  # K_LANE
                _, params, results, lanes = entry
                if imm >= lanes:
                    raise Invalid("invalid lane index")
                _pop_all(vals, height, unreachable, params)
                vals += results

            elif kind == 24:  # K_SHUFFLE
                if any(lane >= 32 for lane in imm):
                    raise Invalid("invalid lane index")
                _pop(vals, height, unreachable, V128)
                _pop(vals, height, unreachable, V128)
                vals.append(V128)

            elif kind == 25:  # K_OTHER
                entry[1](ctx, vals, height, unreachable, imm)

            else:
                raise Invalid(f"unsupported opcode 0x{op:x}")
    except Invalid as exc:
        raise ValidationError(str(exc), func_index, off) from None
    raise ValidationError("function body does not end with end", func_index, off)


def _check_br_table(
    vals: list[int],
    height: int,
    unreachable: bool,
    ctrls: list[list[Any]],
    imm: tuple[tuple[int, ...], int],
) -> None:
    targets, default = imm
    depth = len(ctrls)
    _pop(vals, height, unreachable, I32)
    if default >= depth:
        raise Invalid(f"unknown label {default}")
    default_label = ctrls[-1 - default][5]
    arity = len(default_label)
    for target in targets:
        if target >= depth:
            raise Invalid(f"unknown label {target}")
        label = ctrls[-1 - target][5]
        if len(label) != arity:
            raise Invalid("type mismatch")
        if arity:
            # Each target re-checks the same operands; bottoms stay bottoms between them.
            popped = [_pop(vals, height, unreachable, t) for t in reversed(label)]
            popped.reverse()
            vals += popped
    _pop_all(vals, height, unreachable, default_label)


# --- instructions with their own typing rules, off the hot path -----------------------------


def _memory_index_type(ctx: BodyContext, memory: int) -> int:
    if memory >= len(ctx.memory_index_types):
        raise Invalid(f"unknown memory {memory}")
    return ctx.memory_index_types[memory]


def _table(ctx: BodyContext, table: int) -> tuple[int, int]:
    if table >= len(ctx.table_elem_types):
        raise Invalid(f"unknown table {table}")
    return ctx.table_elem_types[table], ctx.table_index_types[table]


def _check_data(ctx: BodyContext, data: int) -> None:
    if ctx.data_count is None:
        raise Invalid("data count section required")
    if data >= ctx.data_count:
        raise Invalid(f"unknown data segment {data}")


def _check_elem(ctx: BodyContext, elem: int) -> int:
    if elem >= len(ctx.elem_types):
        raise Invalid(f"unknown elem segment {elem}")
    return ctx.elem_types[elem]


def _memory_size(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    vals.append(_memory_index_type(ctx, imm))


def _memory_grow(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    it = _memory_index_type(ctx, imm)
    _pop(vals, height, unreachable, it)
    vals.append(it)


def _memory_fill(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    it = _memory_index_type(ctx, imm)
    _pop_all(vals, height, unreachable, (it, I32, it))


def _memory_copy(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: tuple[int, int]
) -> None:
    dst, src = imm
    dst_it = _memory_index_type(ctx, dst)
    src_it = _memory_index_type(ctx, src)
    # A copy between a 32- and a 64-bit memory can only move as much as the smaller holds.
    len_it = I32 if I32 in (dst_it, src_it) else I64
    _pop_all(vals, height, unreachable, (dst_it, src_it, len_it))


def _memory_init(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: tuple[int, int]
) -> None:
    data, memory = imm
    it = _memory_index_type(ctx, memory)
    _check_data(ctx, data)
    _pop_all(vals, height, unreachable, (it, I32, I32))


def _data_drop(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    _check_data(ctx, imm)


def _table_get(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    et, it = _table(ctx, imm)
    _pop(vals, height, unreachable, it)
    vals.append(et)


def _table_set(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    et, it = _table(ctx, imm)
    _pop_all(vals, height, unreachable, (it, et))


def _table_size(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    vals.append(_table(ctx, imm)[1])


def _table_grow(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    et, it = _table(ctx, imm)
    _pop_all(vals, height, unreachable, (et, it))
    vals.append(it)


def _table_fill(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    et, it = _table(ctx, imm)
    _pop_all(vals, height, unreachable, (it, et, it))


def _table_copy(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: tuple[int, int]
) -> None:
    dst, src = imm
    dst_et, dst_it = _table(ctx, dst)
    src_et, src_it = _table(ctx, src)
    if src_et != dst_et:
        raise Invalid("type mismatch")
    len_it = I32 if I32 in (dst_it, src_it) else I64
    _pop_all(vals, height, unreachable, (dst_it, src_it, len_it))


def _table_init(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: tuple[int, int]
) -> None:
    elem, table = imm
    et, it = _table(ctx, table)
    if _check_elem(ctx, elem) != et:
        raise Invalid("type mismatch")
    _pop_all(vals, height, unreachable, (it, I32, I32))


def _elem_drop(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    _check_elem(ctx, imm)


def _ref_null(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    vals.append(imm)


def _ref_is_null(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    t = _pop(vals, height, unreachable, UNKNOWN)
    if t not in _REFS_OR_UNKNOWN:
        raise Invalid("type mismatch")
    vals.append(I32)


def _ref_func(
    ctx: BodyContext, vals: list[int], height: int, unreachable: bool, imm: int
) -> None:
    if imm >= len(ctx.func_types):
        raise Invalid(f"unknown function {imm}")
    if imm not in ctx.declared_funcs:
        raise Invalid("undeclared function reference")
    vals.append(FUNCREF)


_OtherHandler = Callable[[BodyContext, list[int], int, bool, Any], None]

_OTHER: dict[int, _OtherHandler] = {
    O.MEMORY_SIZE: _memory_size,
    O.MEMORY_GROW: _memory_grow,
    O.MEMORY_FILL: _memory_fill,
    O.MEMORY_COPY: _memory_copy,
    O.MEMORY_INIT: _memory_init,
    O.DATA_DROP: _data_drop,
    O.TABLE_GET: _table_get,
    O.TABLE_SET: _table_set,
    O.TABLE_SIZE: _table_size,
    O.TABLE_GROW: _table_grow,
    O.TABLE_FILL: _table_fill,
    O.TABLE_COPY: _table_copy,
    O.TABLE_INIT: _table_init,
    O.ELEM_DROP: _elem_drop,
    O.REF_NULL: _ref_null,
    O.REF_IS_NULL: _ref_is_null,
    O.REF_FUNC: _ref_func,
}

_DISPATCH = _build_dispatch()
