"""Translation of calls, tables and references to IR.

Reference values in SSA are ``r64`` words (see ``vmctx``): a funcref is the address of
its VMFuncRef record (``bitcast`` to/from i64 to compute with it), an externref the host
handle, null is 0. Funcref table elements use the tagged encoding of ``vmctx`` (0 =
uninitialized, 1 = null, ``address | 1``): reads decode it inline and ask the
``table_lazy_init`` libcall for elements still 0; writes encode inline. Externref table
elements are stored as they are.

Calls: a defined function is called directly (``call %wasm_func_N(vmctx, args)``); an
imported one through its VMFuncImport ``{code, vmctx}``; ``call_indirect`` through the
checked VMFuncRef of the table element. In every case the IR passes the callee's vmctx
first; the back end adds the caller's vmctx (the function's own vmctx parameter) as the
ABI's second argument (``jit/abi.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyjitwasm.ir.immediates import TRUSTED
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import I32, I64, POINTER, REF
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.env import READONLY, function_name, function_signature
from pyjitwasm.translate.numeric import Handler
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm import types as wt
from pyjitwasm.wasm.module import Instr

if TYPE_CHECKING:
    from pyjitwasm.ir.function import Value
    from pyjitwasm.translate.translator import FunctionTranslator

_ELEMENT_SHIFT = 3  # log2 of the element size (vmctx.WORD)
assert 1 << _ELEMENT_SHIFT == vm.WORD


# Calls ---------------------------------------------------------------------------------


def _call(t: FunctionTranslator, instr: Instr, tail: bool = False) -> None:
    index = instr.imm
    ftype = t.env.info.func_types[index]
    args = t.popn(len(ftype.params))
    sig = function_signature(ftype)
    ins = t.ins()
    if index >= t.env.info.num_imported_funcs:
        fn = t.env.ext_func(function_name(index), sig)
        if tail:
            ins.return_call(fn, [t.vmctx, *args])
        else:
            t.stack.extend(ins.call(fn, [t.vmctx, *args]))
    else:
        at = t.env.layout.imported_func(index)
        code = ins.load(POINTER, READONLY, t.vmctx, at + vm.FUNC_IMPORT_CODE)
        callee_vmctx = ins.load(POINTER, READONLY, t.vmctx, at + vm.FUNC_IMPORT_VMCTX)
        _emit_indirect(t, t.env.signature(sig), code, [callee_vmctx, *args], tail)
    if tail:
        t.reachable = False


def _emit_indirect(t: FunctionTranslator, sig: int, code: Value, args: list[Value],
                   tail: bool) -> None:
    ins = t.ins()
    if tail:
        ins.return_call_indirect(sig, code, args)
    else:
        t.stack.extend(ins.call_indirect(sig, code, args))


def _call_indirect(t: FunctionTranslator, instr: Instr, tail: bool = False) -> None:
    type_index, table = instr.imm
    ftype = t.env.info.module.types[type_index]
    index = t.pop()
    args = t.popn(len(ftype.params))
    ins = t.ins()
    # Spec: an index past the end is an "undefined element" here, not a table access
    # trap, so the check is explicit rather than table_addr's.
    index64 = t.to_i64(index)
    length = ins.global_value(t.env.table_bound(table))
    ins.trapnz(ins.icmp("uge", index64, length), TrapCode.UNDEFINED_ELEMENT)
    base = ins.global_value(t.env.table_base(table))
    addr = ins.iadd(base, ins.ishl_imm(index64, _ELEMENT_SHIFT))
    funcref = _load_funcref(t, table, addr, index64)
    ins = t.ins()
    ins.trapz(funcref, TrapCode.INDIRECT_CALL_TO_NULL)
    actual = ins.load(I32, READONLY, funcref, vm.FUNC_REF_SIGNATURE)
    expected = ins.load(I32, READONLY, t.vmctx, t.env.layout.signature_id(type_index))
    ins.trapnz(ins.icmp("ne", actual, expected), TrapCode.BAD_SIGNATURE)
    code = ins.load(POINTER, READONLY, funcref, vm.FUNC_REF_CODE)
    callee_vmctx = ins.load(POINTER, READONLY, funcref, vm.FUNC_REF_VMCTX)
    sig = t.env.signature(function_signature(ftype))
    _emit_indirect(t, sig, code, [callee_vmctx, *args], tail)
    if tail:
        t.reachable = False


def _return_call(t: FunctionTranslator, instr: Instr) -> None:
    """A tail call: the IR's ``return_call`` terminator (the back end makes it a
    guaranteed tail call where the ABI allows, else a call followed by a return)."""
    _call(t, instr, tail=True)


def _return_call_indirect(t: FunctionTranslator, instr: Instr) -> None:
    _call_indirect(t, instr, tail=True)


def _load_funcref(t: FunctionTranslator, table: int, addr: Value, index64: Value) -> Value:
    """The VMFuncRef address (0 for null) of the funcref element at ``addr``, calling the
    lazy-init libcall when the element is still uninitialized. Leaves the translator in
    the block where the result is available."""
    ins = t.ins()
    element = ins.load(I64, TRUSTED, addr)
    decoded = ins.band_imm(element, ~vm.FUNCREF_INIT_BIT)
    lazy = t.fb.create_block()
    done = t.fb.create_block()
    funcref = t.fb.append_block_param(done, POINTER)
    ins.brif(element, done, [decoded], lazy, [])
    t.fb.seal_block(lazy)
    t.fb.switch_to_block(lazy)
    (initialized,) = t.libcall(lc.TABLE_LAZY_INIT, [t.const64(table), index64])
    t.ins().jump(done, [initialized])
    t.fb.seal_block(done)
    t.fb.switch_to_block(done)
    return funcref


# Tables --------------------------------------------------------------------------------


def _is_funcref_table(t: FunctionTranslator, table: int) -> bool:
    return t.env.table_elem_type(table) == wt.FUNCREF


def _table_get(t: FunctionTranslator, instr: Instr) -> None:
    table = instr.imm
    index = t.pop()
    addr = t.ins().table_addr(t.env.table(table), index)
    if _is_funcref_table(t, table):
        funcref = _load_funcref(t, table, addr, t.to_i64(index))
        t.push(t.ins().bitcast(REF, funcref))
    else:
        t.push(t.ins().load(REF, TRUSTED, addr))


def _table_set(t: FunctionTranslator, instr: Instr) -> None:
    table = instr.imm
    value, index = t.pop(), t.pop()
    ins = t.ins()
    addr = ins.table_addr(t.env.table(table), index)
    if _is_funcref_table(t, table):
        element = ins.bor_imm(ins.bitcast(I64, value), vm.FUNCREF_INIT_BIT)
        ins.store(TRUSTED, element, addr)
    else:
        ins.store(TRUSTED, value, addr)


def _table_size(t: FunctionTranslator, instr: Instr) -> None:
    table = instr.imm
    ins = t.ins()
    length = ins.global_value(t.env.table_bound(table))
    t.push(length if t.env.table_is_64(table) else ins.ireduce(I32, length))


def _table_grow(t: FunctionTranslator, instr: Instr) -> None:
    table = instr.imm
    delta, init = t.pop(), t.pop()
    (old,) = t.libcall(lc.TABLE_GROW, [t.const64(table), init, t.to_i64(delta)])
    t.push(old if t.env.table_is_64(table) else t.ins().ireduce(I32, old))


def _table_fill(t: FunctionTranslator, instr: Instr) -> None:
    length, value, dst = t.pop(), t.pop(), t.pop()
    t.libcall(lc.TABLE_FILL, [t.const64(instr.imm), t.to_i64(dst), value, t.to_i64(length)])


def _table_copy(t: FunctionTranslator, instr: Instr) -> None:
    dst_table, src_table = instr.imm
    length, src, dst = t.pop(), t.pop(), t.pop()
    t.libcall(lc.TABLE_COPY, [t.const64(dst_table), t.const64(src_table), t.to_i64(dst),
                              t.to_i64(src), t.to_i64(length)])


def _table_init(t: FunctionTranslator, instr: Instr) -> None:
    elem, table = instr.imm
    length, src, dst = t.pop(), t.pop(), t.pop()
    t.libcall(lc.TABLE_INIT, [t.const64(table), t.const64(elem), t.to_i64(dst),
                              t.to_i64(src), t.to_i64(length)])


def _elem_drop(t: FunctionTranslator, instr: Instr) -> None:
    t.libcall(lc.ELEM_DROP, [t.const64(instr.imm)])


# References ----------------------------------------------------------------------------


def _ref_null(t: FunctionTranslator, instr: Instr) -> None:
    t.push(t.ins().null(REF))


def _ref_is_null(t: FunctionTranslator, instr: Instr) -> None:
    ins = t.ins()
    t.push(ins.uextend(I32, ins.unary("is_null", t.pop())))


def _ref_func(t: FunctionTranslator, instr: Instr) -> None:
    record = t.env.info.func_refs[instr.imm]
    ins = t.ins()
    address = ins.iadd_imm(t.vmctx, t.env.layout.func_ref(record))
    t.push(ins.bitcast(REF, address))


def handlers() -> dict[int, Handler]:
    """Handlers of the call, table and reference opcodes (tail calls excluded)."""
    return {
        op.CALL: _call,  # type: ignore[attr-defined]
        op.CALL_INDIRECT: _call_indirect,  # type: ignore[attr-defined]
        op.RETURN_CALL: _return_call,  # type: ignore[attr-defined]
        op.RETURN_CALL_INDIRECT: _return_call_indirect,  # type: ignore[attr-defined]
        op.TABLE_GET: _table_get,  # type: ignore[attr-defined]
        op.TABLE_SET: _table_set,  # type: ignore[attr-defined]
        op.TABLE_SIZE: _table_size,  # type: ignore[attr-defined]
        op.TABLE_GROW: _table_grow,  # type: ignore[attr-defined]
        op.TABLE_FILL: _table_fill,  # type: ignore[attr-defined]
        op.TABLE_COPY: _table_copy,  # type: ignore[attr-defined]
        op.TABLE_INIT: _table_init,  # type: ignore[attr-defined]
        op.ELEM_DROP: _elem_drop,  # type: ignore[attr-defined]
        op.REF_NULL: _ref_null,  # type: ignore[attr-defined]
        op.REF_IS_NULL: _ref_is_null,  # type: ignore[attr-defined]
        op.REF_FUNC: _ref_func,  # type: ignore[attr-defined]
    }
