"""Translation of calls, tables and references to IR.

Reference values in SSA are ``r64`` words (see ``vmctx``): a funcref is the address of
its VMFuncRef record (``bitcast`` to/from i64 to compute with it), an externref the host
handle, null is 0. Funcref table elements use the tagged encoding of ``vmctx`` (0 =
uninitialized, 1 = null, ``address | 1``): reads decode it inline and ask the
``table_lazy_init`` libcall for elements still 0; writes encode inline. Externref table
elements are stored as they are.

Calls: a defined function compiled in the same unit is called directly (``call
%wasm_func_N(vmctx, args)``); any other defined function through its code slot (the
word ``N - imports`` of the table ``vmctx.code_slots`` points at: under lazy compilation
it may still hold the compile stub); an imported one through its VMFuncImport ``{code
slot, vmctx}``; ``call_indirect`` through the checked VMFuncRef ``{code slot, signature,
vmctx}`` of the table element. Code slots change while code runs, so the word in a slot
is loaded at each call (never marked readonly); the records and the slot table pointer
do not. In every case the IR passes the callee's vmctx first; the back end adds the
caller's vmctx (the function's own vmctx parameter) as the ABI's second argument
(``jit/abi.py``).
"""

from __future__ import annotations

from pyjitwasm.ir.entities import SigRef, Value
from pyjitwasm.ir.immediates import TRUSTED
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import I32, I64, POINTER, REF
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate import vmctx as vm
from pyjitwasm.translate.env import READONLY, function_signature
from pyjitwasm.translate.module_info import function_name
from pyjitwasm.translate.state import FunctionState
from pyjitwasm.wasm import types as wt
from pyjitwasm.wasm.module import Instr

_ELEMENT_SHIFT = 3  # log2 of the element size (vmctx.WORD)
assert 1 << _ELEMENT_SHIFT == vm.WORD


# Calls ---------------------------------------------------------------------------------


def _direct_call(t: FunctionState, instr: Instr, tail: bool) -> None:
    index = instr.imm
    ftype = t.env.info.func_types[index]
    args = t.popn(len(ftype.params))
    sig = function_signature(ftype)
    ins = t.ins()
    imported = t.env.info.num_imported_funcs
    if index >= imported and (t.direct_callees is None or index in t.direct_callees):
        fn = t.env.ext_func(function_name(index), sig)
        if tail:
            ins.return_call(fn, [t.vmctx, *args])
        else:
            t.stack.extend(ins.call(fn, [t.vmctx, *args]))
    elif index >= imported:
        slots = ins.global_value(t.env.code_slots())
        code = ins.load(POINTER, TRUSTED, slots, vm.WORD * (index - imported))
        _emit_indirect(t, t.env.signature(sig), code, [t.vmctx, *args], tail)
    else:
        at = t.env.layout.imported_func(index)
        slot = ins.load(POINTER, READONLY, t.vmctx, at + vm.FUNC_IMPORT_SLOT)
        callee_vmctx = ins.load(POINTER, READONLY, t.vmctx, at + vm.FUNC_IMPORT_VMCTX)
        code = ins.load(POINTER, TRUSTED, slot)
        _emit_indirect(t, t.env.signature(sig), code, [callee_vmctx, *args], tail)
    if tail:
        t.reachable = False


def _emit_indirect(t: FunctionState, sig: SigRef, code: Value, args: list[Value],
                   tail: bool) -> None:
    ins = t.ins()
    if tail:
        ins.return_call_indirect(sig, code, args)
    else:
        t.stack.extend(ins.call_indirect(sig, code, args))


def _indirect_call(t: FunctionState, instr: Instr, tail: bool) -> None:
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
    slot = ins.load(POINTER, READONLY, funcref, vm.FUNC_REF_SLOT)
    callee_vmctx = ins.load(POINTER, READONLY, funcref, vm.FUNC_REF_VMCTX)
    code = ins.load(POINTER, TRUSTED, slot)
    sig = t.env.signature(function_signature(ftype))
    _emit_indirect(t, sig, code, [callee_vmctx, *args], tail)
    if tail:
        t.reachable = False


def call(t: FunctionState, instr: Instr) -> None:
    _direct_call(t, instr, tail=False)


def call_indirect(t: FunctionState, instr: Instr) -> None:
    _indirect_call(t, instr, tail=False)


def return_call(t: FunctionState, instr: Instr) -> None:
    """A tail call: the IR's ``return_call`` terminator (the back end makes it a
    guaranteed tail call where the ABI allows, else a call followed by a return)."""
    _direct_call(t, instr, tail=True)


def return_call_indirect(t: FunctionState, instr: Instr) -> None:
    _indirect_call(t, instr, tail=True)


def _load_funcref(t: FunctionState, table: int, addr: Value, index64: Value) -> Value:
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


def _is_funcref_table(t: FunctionState, table: int) -> bool:
    return t.env.table_elem_type(table) == wt.FUNCREF


def table_get(t: FunctionState, instr: Instr) -> None:
    table = instr.imm
    index = t.pop()
    addr = t.ins().table_addr(t.env.table(table), index)
    if _is_funcref_table(t, table):
        funcref = _load_funcref(t, table, addr, t.to_i64(index))
        t.push(t.ins().bitcast(REF, funcref))
    else:
        t.push(t.ins().load(REF, TRUSTED, addr))


def table_set(t: FunctionState, instr: Instr) -> None:
    table = instr.imm
    value, index = t.pop(), t.pop()
    ins = t.ins()
    addr = ins.table_addr(t.env.table(table), index)
    if _is_funcref_table(t, table):
        element = ins.bor_imm(ins.bitcast(I64, value), vm.FUNCREF_INIT_BIT)
        ins.store(TRUSTED, element, addr)
    else:
        ins.store(TRUSTED, value, addr)


def table_size(t: FunctionState, instr: Instr) -> None:
    table = instr.imm
    ins = t.ins()
    length = ins.global_value(t.env.table_bound(table))
    t.push(length if t.env.table_is_64(table) else ins.ireduce(I32, length))


def table_grow(t: FunctionState, instr: Instr) -> None:
    table = instr.imm
    delta, init = t.pop(), t.pop()
    (old,) = t.libcall(lc.TABLE_GROW, [t.const64(table), init, t.to_i64(delta)])
    t.push(old if t.env.table_is_64(table) else t.ins().ireduce(I32, old))


def table_fill(t: FunctionState, instr: Instr) -> None:
    length, value, dst = t.pop(), t.pop(), t.pop()
    t.libcall(lc.TABLE_FILL, [t.const64(instr.imm), t.to_i64(dst), value, t.to_i64(length)])


def table_copy(t: FunctionState, instr: Instr) -> None:
    dst_table, src_table = instr.imm
    length, src, dst = t.pop(), t.pop(), t.pop()
    t.libcall(lc.TABLE_COPY, [t.const64(dst_table), t.const64(src_table), t.to_i64(dst),
                              t.to_i64(src), t.to_i64(length)])


def table_init(t: FunctionState, instr: Instr) -> None:
    elem, table = instr.imm
    length, src, dst = t.pop(), t.pop(), t.pop()
    t.libcall(lc.TABLE_INIT, [t.const64(table), t.const64(elem), t.to_i64(dst),
                              t.to_i64(src), t.to_i64(length)])


def elem_drop(t: FunctionState, instr: Instr) -> None:
    t.libcall(lc.ELEM_DROP, [t.const64(instr.imm)])


# References ----------------------------------------------------------------------------


def ref_null(t: FunctionState, instr: Instr) -> None:
    t.push(t.ins().null(REF))


def ref_is_null(t: FunctionState, instr: Instr) -> None:
    ins = t.ins()
    t.push(ins.uextend(I32, ins.unary("is_null", t.pop())))


def ref_func(t: FunctionState, instr: Instr) -> None:
    record = t.env.info.func_refs[instr.imm]
    ins = t.ins()
    address = ins.iadd_imm(t.vmctx, t.env.layout.func_ref(record))
    t.push(ins.bitcast(REF, address))
