"""FunctionBuilder: on-the-fly SSA construction for variables."""

from __future__ import annotations

import pytest

from pyjitwasm.ir.frontend import FunctionBuilder
from pyjitwasm.ir.function import AbiParam, Function, Signature
from pyjitwasm.ir.parser import parse_function
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.types import I32, I64
from pyjitwasm.ir.typing import TypingError
from pyjitwasm.ir.verifier import verify


def _new(params: list, returns: list) -> tuple[Function, FunctionBuilder, list[int]]:
    func = Function("t", Signature([AbiParam(t) for t in params], returns))
    fb = FunctionBuilder(func)
    entry = fb.create_block()
    values = fb.append_block_params_for_function_params(entry)
    fb.switch_to_block(entry)
    fb.seal_block(entry)
    return func, fb, values


def _sum_loop() -> Function:
    """sum = 0; i = n; while i != 0: sum += i; i -= 1; return sum"""
    func, fb, (n,) = _new([I32], [I32])
    i_var, sum_var = fb.declare_var(I32), fb.declare_var(I32)
    fb.def_var(i_var, n)
    fb.def_var(sum_var, fb.ins().iconst(I32, 0))
    header, body, exit_ = fb.create_block(), fb.create_block(), fb.create_block()
    fb.ins().jump(header)
    fb.switch_to_block(header)
    fb.ins().brif(fb.use_var(i_var), body, [], exit_, [])
    fb.switch_to_block(body)
    fb.seal_block(body)
    fb.def_var(sum_var, fb.ins().iadd(fb.use_var(sum_var), fb.use_var(i_var)))
    fb.def_var(i_var, fb.ins().iadd_imm(fb.use_var(i_var), -1))
    fb.ins().jump(header)
    fb.seal_block(header)  # the back edge is known now
    fb.switch_to_block(exit_)
    fb.seal_block(exit_)
    fb.ins().return_([fb.use_var(sum_var)])
    fb.finalize()
    return func


def test_loop_variables_become_header_params() -> None:
    func = _sum_loop()
    verify(func)
    text = print_function(func)
    assert text == (
        "function %t(i32) -> i32 {\n"
        "block0(v0: i32):\n"
        "    v1 = iconst.i32 0\n"
        "    jump block1(v0, v1)\n"
        "\n"
        "block1(v2: i32, v3: i32):\n"
        "    brif v2, block2, block3\n"
        "\n"
        "block2:\n"
        "    v4 = iadd v3, v2\n"
        "    v5 = iadd_imm v2, -1\n"
        "    jump block1(v5, v4)\n"
        "\n"
        "block3:\n"
        "    return v3\n"
        "}\n"
    )
    assert parse_function(text).canonical() == func.canonical()


def test_value_unchanged_in_loop_needs_no_param() -> None:
    # A variable the loop only reads: its header param is trivial and removed again.
    func, fb, (n, k) = _new([I32, I32], [I32])
    x_var, i_var = fb.declare_var(I32), fb.declare_var(I32)
    fb.def_var(x_var, k)
    fb.def_var(i_var, n)
    header, exit_ = fb.create_block(), fb.create_block()
    fb.ins().jump(header)
    fb.switch_to_block(header)
    x = fb.use_var(x_var)
    i = fb.ins().isub(fb.use_var(i_var), x)
    fb.def_var(i_var, i)
    fb.ins().brif(i, header, [], exit_, [])
    fb.seal_block(header)
    fb.switch_to_block(exit_)
    fb.seal_block(exit_)
    fb.ins().return_([fb.use_var(x_var)])
    fb.finalize()
    verify(func)
    params = func.dfg.block_params[header]
    assert len(params) == 1  # only i survives; x's param was trivial
    last = func.layout.last_inst(exit_)
    assert func.dfg.insts[last].arguments() == (k,)


def test_redefinition_in_unsealed_header_survives_sealing() -> None:
    # do { x = x + x } while (x ...): the header reads x (making a param while unsealed),
    # then redefines it. After sealing, code past the loop must see the redefinition, not
    # the param (wasm: local.tee inside a loop, read after it).
    func, fb, (n,) = _new([I32], [I32])
    x_var = fb.declare_var(I32)
    fb.def_var(x_var, n)
    header, exit_ = fb.create_block(), fb.create_block()
    fb.ins().jump(header)
    fb.switch_to_block(header)
    doubled = fb.ins().iadd(fb.use_var(x_var), fb.use_var(x_var))
    fb.def_var(x_var, doubled)
    fb.ins().brif(doubled, header, [], exit_, [])
    fb.seal_block(header)
    fb.switch_to_block(exit_)
    fb.seal_block(exit_)
    fb.ins().return_([fb.use_var(x_var)])
    fb.finalize()
    verify(func)
    last = func.layout.last_inst(exit_)
    assert func.dfg.insts[last].arguments() == (doubled,)
    (param,) = func.dfg.block_params[header]
    assert func.dfg.insts[func.layout.insts(header)[0]].arguments() == (param, param)


def test_diamond_merges_with_param_when_sealed_first() -> None:
    # The merge block is sealed before use: the lookup goes to both predecessors.
    func, fb, (c, a) = _new([I32, I32], [I32])
    var = fb.declare_var(I32)
    fb.def_var(var, a)
    then, else_, merge = fb.create_block(), fb.create_block(), fb.create_block()
    fb.ins().brif(c, then, [], else_, [])
    for block, value in ((then, 1), (else_, None)):
        fb.switch_to_block(block)
        fb.seal_block(block)
        if value is not None:
            fb.def_var(var, fb.ins().iconst(I32, value))
        fb.ins().jump(merge)
    fb.switch_to_block(merge)
    fb.seal_block(merge)
    result = fb.use_var(var)
    fb.ins().return_([result])
    fb.finalize()
    verify(func)
    assert func.dfg.block_params[merge] == [result]
    then_jump = func.dfg.insts[func.layout.last_inst(then)]
    else_jump = func.dfg.insts[func.layout.last_inst(else_)]
    assert func.dfg.iconst_value(then_jump.block_calls()[0].args[0]) == 1
    assert else_jump.block_calls()[0].args == (a,)


def test_unsealed_chain_of_single_predecessors() -> None:
    # Many blocks in a row, each sealed only at the end: no recursion-limit trouble and
    # every temporary param collapses to the entry definition.
    func, fb, (a,) = _new([I64], [I64])
    var = fb.declare_var(I64)
    fb.def_var(var, a)
    blocks = [fb.create_block() for _ in range(3000)]
    fb.ins().jump(blocks[0])
    for here, there in zip(blocks, blocks[1:], strict=False):
        fb.switch_to_block(here)
        fb.ins().jump(there)
    fb.switch_to_block(blocks[-1])
    value = fb.use_var(var)
    fb.ins().return_([value])
    fb.seal_all_blocks()
    fb.finalize()
    verify(func)
    last = func.dfg.insts[func.layout.last_inst(blocks[-1])]
    assert last.arguments() == (a,)
    assert all(not func.dfg.block_params[b] for b in blocks)


def test_sealed_long_chain() -> None:
    func, fb, (a,) = _new([I64], [I64])
    var = fb.declare_var(I64)
    fb.def_var(var, a)
    previous = None
    for _ in range(3000):
        block = fb.create_block()
        fb.ins().jump(block)
        fb.switch_to_block(block)
        fb.seal_block(block)
        previous = block
    fb.ins().return_([fb.use_var(var)])
    fb.finalize()
    verify(func)
    assert func.dfg.insts[func.layout.last_inst(previous)].arguments() == (a,)


def test_undefined_variable_reads_zero() -> None:
    func, fb, _ = _new([], [I32])
    var = fb.declare_var(I32)
    fb.ins().return_([fb.use_var(var)])
    fb.finalize()
    verify(func)
    assert "v0 = iconst.i32 0\n    return v0" in print_function(func)


def test_br_table_edge_is_split_for_variable_args() -> None:
    func, fb, (idx, a) = _new([I32, I32], [I32])
    var = fb.declare_var(I32)
    fb.def_var(var, a)
    case, merge = fb.create_block(), fb.create_block()
    fb.ins().br_table(idx, merge, [case, merge])
    fb.switch_to_block(case)
    fb.seal_block(case)
    fb.def_var(var, fb.ins().iconst(I32, 7))
    fb.ins().jump(merge)
    fb.switch_to_block(merge)
    fb.seal_block(merge)
    fb.ins().return_([fb.use_var(var)])
    fb.finalize()
    verify(func)
    table = func.dfg.insts[func.layout.last_inst(func.layout.entry)]
    assert merge not in table.successors()  # routed through a forwarding block
    assert len(func.dfg.block_params[merge]) == 1


def test_builder_rejects_bad_operands_and_terminated_blocks() -> None:
    func, fb, (a,) = _new([I32], [I32])
    with pytest.raises(TypingError):
        fb.ins().iadd(a, fb.ins().iconst(I64, 1))
    wide = fb.ins().uextend(I64, a)
    heap_func = parse_function(
        "function %h(i64 vmctx, i64) {\n    gv0 = vmctx\n"
        "    heap0 = dynamic base=gv0, bound=gv0, offset_guard=0, index_type=i64\n\n"
        "block0(v0: i64, v1: i64):\n    return\n}\n"
    )
    from pyjitwasm.ir.cursor import Cursor

    cur = Cursor(heap_func).goto_before(heap_func.layout.last_inst(0))
    with pytest.raises(TypingError, match="does not fit u32"):
        cur.heap_addr(0, 1, 1 << 32, 4)
    cur.heap_addr(0, 1, (1 << 32) - 1, 4)
    fb.ins().return_([a])
    with pytest.raises(ValueError, match="terminated"):
        fb.ins().iconst(I32, 1)
    with pytest.raises(TypeError):
        var = fb.declare_var(I32)
        fb.def_var(var, wide)
