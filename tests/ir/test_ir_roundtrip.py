"""Text format round trips over builder-generated functions (hypothesis), plus checks that
legalization keeps random functions valid."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyjitwasm.ir.entities import Value
from pyjitwasm.ir.frontend import FunctionBuilder
from pyjitwasm.ir.function import AbiParam, Function, GlobalValueData, HeapData, Signature
from pyjitwasm.ir.immediates import FLOAT_CONDS, INT_CONDS, TRUSTED, WASM_HEAP
from pyjitwasm.ir.instructions import UnaryIeee32, UnaryIeee64
from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.parser import parse_function
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import F32, F64, I32, I64, POINTER, Type
from pyjitwasm.ir.verifier import verify

INT_BIN = ["iadd", "isub", "imul", "band", "bor", "bxor", "ishl", "ushr", "sshr", "rotl",
           "rotr", "sdiv", "udiv", "srem", "urem"]
FLOAT_BIN = ["fadd", "fsub", "fmul", "fdiv", "fmin", "fmax", "fcopysign"]


@st.composite
def functions(draw: st.DrawFn) -> Function:
    sig = Signature([AbiParam(POINTER, "vmctx"), AbiParam(I32), AbiParam(I64),
                     AbiParam(F32), AbiParam(F64)], [I32, I64])
    func = Function("gen", sig)
    vmctx = func.vmctx_global()
    base = func.create_global_value(GlobalValueData("load", POINTER, vmctx, 8, TRUSTED))
    bound = func.create_global_value(GlobalValueData("load", POINTER, vmctx, 16, TRUSTED))
    style = draw(st.sampled_from(["static", "dynamic"]))
    index_type = draw(st.sampled_from([I32, I64]))
    heap = func.create_heap(HeapData(
        style, base, (1 << 32) if style == "static" else bound,
        draw(st.sampled_from([0, 0x10000, 0x80000000])), index_type))
    fb = FunctionBuilder(func)
    entry = fb.create_block()
    params = fb.append_block_params_for_function_params(entry)
    fb.switch_to_block(entry)
    fb.seal_block(entry)
    pools = {I32: [params[1]], I64: [params[2]], F32: [params[3]], F64: [params[4]]}
    var = fb.declare_var(I32)
    fb.def_var(var, params[1])

    def pick(ty: Type) -> Value:
        return draw(st.sampled_from(pools[ty]))

    for _ in range(draw(st.integers(1, 4))):  # segments, each maybe followed by a diamond
        for _ in range(draw(st.integers(0, 8))):
            kind = draw(st.integers(0, 9))
            ins = fb.ins()
            ity = draw(st.sampled_from([I32, I64]))
            fty = draw(st.sampled_from([F32, F64]))
            if kind == 0:
                bits = draw(st.integers(0, (1 << ity.bits) - 1))
                pools[ity].append(ins.iconst(ity, bits))
            elif kind == 1:
                pools[ity].append(ins.binary(draw(st.sampled_from(INT_BIN)), pick(ity), pick(ity)))
            elif kind == 2:
                pools[fty].append(ins.binary(draw(st.sampled_from(FLOAT_BIN)), pick(fty),
                                             pick(fty)))
            elif kind == 3:
                c = ins.icmp(draw(st.sampled_from(INT_CONDS)), pick(ity), pick(ity))
                pools[I32].append(ins.uextend(I32, c))
            elif kind == 4:
                c = ins.fcmp(draw(st.sampled_from(FLOAT_CONDS)), pick(fty), pick(fty))
                pools[I64].append(ins.select(c, pick(I64), pick(I64)))
            elif kind == 5:
                op = draw(st.sampled_from(["fcvt_to_sint", "fcvt_to_uint", "fcvt_to_sint_sat"]))
                pools[ity].append(ins.unary(op, pick(fty), ity))
            elif kind == 6:
                if fty == F32:
                    pools[F32].append(ins.f32const(draw(st.integers(0, (1 << 32) - 1))))
                else:
                    pools[F64].append(ins.f64const(draw(st.integers(0, (1 << 64) - 1))))
            elif kind == 7:
                offset = draw(st.integers(0, (1 << 32) - 1))
                addr = ins.heap_addr(heap, pick(index_type), offset, ity.bytes)
                pools[ity].append(fb.ins().load(ity, WASM_HEAP, addr))
            elif kind == 8:
                fb.def_var(var, ins.iadd_imm(fb.use_var(var), draw(st.integers(-5, 5))))
            else:
                pools[I64].append(ins.uextend(I64, fb.use_var(var)))
        if draw(st.booleans()):
            then, else_, merge = fb.create_block(), fb.create_block(), fb.create_block()
            extra = fb.append_block_param(merge, I64)
            fb.ins().brif(pick(I32), then, [], else_, [])
            for block in (then, else_):
                fb.switch_to_block(block)
                fb.seal_block(block)
                if draw(st.booleans()):
                    fb.def_var(var, fb.ins().iconst(I32, draw(st.integers(0, 9))))
                fb.ins().jump(merge, [pick(I64)])
            fb.switch_to_block(merge)
            fb.seal_block(merge)
            # Values defined in one arm do not dominate the merge: only keep the param and
            # what the entry path defined before the diamond.
            pools[I64].append(extra)
    fb.ins().return_([fb.use_var(var), pick(I64)])
    fb.finalize()
    return func


@settings(max_examples=60, deadline=None)
@given(functions())
def test_print_parse_round_trip(func: Function) -> None:
    verify(func)
    text = print_function(func)
    again = parse_function(text)
    assert print_function(again) == text
    assert again.canonical() == func.canonical()


@settings(max_examples=60, deadline=None)
@given(functions())
def test_legalized_functions_verify_and_round_trip(func: Function) -> None:
    legalize(func)
    verify(func)
    text = print_function(func)
    for opcode in ("heap_addr", "global_value", "uadd_overflow_trap"):
        assert f"= {opcode}" not in text
    assert print_function(parse_function(text)) == text


@given(st.integers(0, (1 << 32) - 1), st.integers(0, (1 << 64) - 1))
def test_float_constants_keep_their_bits(bits32: int, bits64: int) -> None:
    func = Function("c", Signature([], [F32, F64]))
    fb = FunctionBuilder(func)
    block = fb.create_block()
    fb.switch_to_block(block)
    a, b = fb.ins().f32const(bits32), fb.ins().f64const(bits64)
    fb.ins().return_([a, b])
    again = parse_function(print_function(func))
    consts = [again.dfg.insts[i] for i in again.layout.insts(block)[:2]]
    assert consts == [UnaryIeee32("f32const", bits32), UnaryIeee64("f64const", bits64)]


def test_trap_codes_print_as_lowercase_names() -> None:
    func = Function("t", Signature())
    fb = FunctionBuilder(func)
    fb.switch_to_block(fb.create_block())
    fb.ins().trap(TrapCode.INDIRECT_CALL_TO_NULL)
    text = print_function(func)
    assert "trap indirect_call_to_null" in text
    assert parse_function(text).canonical() == func.canonical()
