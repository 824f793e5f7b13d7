"""The front end's fast paths do what the plain ones did: instruction formats built
through slot setters, the legalizer rebuilding block lists, SSA lookups walking chains of
single-predecessor blocks, insertion of operands that are aliases."""

from __future__ import annotations

import dataclasses

import pytest

from pyjitwasm.ir.frontend import FunctionBuilder
from pyjitwasm.ir.function import AbiParam, Function, InstResult, Signature
from pyjitwasm.ir.immediates import MemFlags
from pyjitwasm.ir.instructions import FORMATS, Binary, BlockCall, Load
from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.parser import parse_function
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.types import I32, I64
from pyjitwasm.ir.verifier import verify


def test_formats_keep_their_dataclass_behaviour() -> None:
    data = Load("load", I32, MemFlags(), 3, 8)
    assert data == Load(opcode="load", ctrl_type=I32, flags=MemFlags(), address=3, offset=8)
    assert hash(data) == hash(Load("load", I32, MemFlags(), 3, 8))
    assert dataclasses.replace(data, offset=16).offset == 16
    assert BlockCall(2).args == () and BlockCall(2, (5,)).args == (5,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(data, "offset", 4)  # noqa: B010 - the assignment itself is tested
    with pytest.raises(TypeError):
        Binary(*["iadd"])  # a missing field still fails
    for cls in FORMATS.values():
        assert cls.__init__.__qualname__ == f"{cls.__qualname__}.__init__"


LEGALIZE_SOURCE = """function %f(i64 vmctx, i32, i32) -> i64, i32 {
    gv0 = vmctx
    gv1 = load.i64 notrap aligned readonly gv0+8
    heap0 = static base=gv1, bound=0x10000, offset_guard=0, index_type=i32

block0(v0: i64, v1: i32, v2: i32):
    v3 = global_value.i64 gv0
    v4 = uadd_overflow_trap v1, v2, integer_overflow
    v5 = heap_addr.i64 heap0, v4, 4, 4
    v6 = load.i32 v5
    v7 = iadd_imm v3, 16
    jump block1(v7, v6)

block1(v8: i64, v9: i32):
    v10 = heap_addr.i64 heap0, v9, 0, 4
    return v8, v9
}
"""

LEGALIZED = """block0(v0: i64, v1: i32, v2: i32):
    v14 = load.i64 notrap aligned readonly v0+8
    v4 = iadd v1, v2
    v11 = icmp ult v4, v1
    trapnz v11, integer_overflow
    v12 = uextend.i64 v4
    v13 = icmp_imm ugt v12, 65528
    trapnz v13, memory_out_of_bounds
    v15 = iadd v14, v12
    v5 = iadd_imm v15, 4
    v6 = load.i32 v5
    v7 = iadd_imm v0, 16
    jump block1(v7, v6)

block1(v8: i64, v9: i32):
    v16 = uextend.i64 v9
    v17 = icmp_imm ugt v16, 65532
    trapnz v17, memory_out_of_bounds
    v10 = iadd v14, v16
    return v8, v9
}
"""


def test_legalizer_rebuilds_blocks_in_order() -> None:
    """Rewrites that insert before (heap_addr), after (uadd_overflow_trap) and at the top
    of the entry block (the invariant heap base), and one that removes its instruction
    (a vmctx global value, aliased to the parameter), all in the middle of a block."""
    func = parse_function(LEGALIZE_SOURCE)
    legalize(func)
    verify(func)
    text = print_function(func)
    assert text[text.index("block0("):] == LEGALIZED
    assert all(func.layout.inst_block[inst] == block
               for block in func.layout.blocks for inst in func.layout.insts(block))


def _builder() -> tuple[Function, FunctionBuilder, int]:
    func = Function("t", Signature([AbiParam(I64, "vmctx"), AbiParam(I32)], [I32]))
    fb = FunctionBuilder(func)
    entry = fb.create_block()
    (_, n) = fb.append_block_params_for_function_params(entry)
    fb.switch_to_block(entry)
    fb.seal_block(entry)
    return func, fb, n


def _br_if_chain(fb: FunctionBuilder, length: int, cond: int, side: int) -> list[int]:
    """``length`` blocks each reached from the previous by a brif (the code after a wasm
    br_if): one predecessor each, sealed at once; the side exits go to ``side``."""
    chain = []
    for _ in range(length):
        following = fb.create_block()
        fb.ins().brif(cond, side, [], following, [])
        fb.seal_block(following)
        fb.switch_to_block(following)
        chain.append(following)
    return chain


def test_lookup_through_a_chain_caches_the_value_in_every_block() -> None:
    func, fb, n = _builder()
    var, other = fb.declare_var(I32), fb.declare_var(I32)
    fb.def_var(var, n)
    fb.def_var(other, fb.ins().iconst(I32, 7))
    chain = _br_if_chain(fb, 50, n, fb.create_block())
    assert fb.use_var(var) == n
    assert all(fb._defs[block][var] == n for block in chain)  # cached on the way
    assert all(other not in fb._defs[block] for block in chain)
    assert not any(func.dfg.block_params[block] for block in chain)


def test_chain_ending_in_a_loop_header_gets_one_parameter_that_is_removed() -> None:
    """The chain walk stops at the unsealed loop header: a parameter there, which turns
    out trivial when the header is sealed and becomes an alias of the entry value."""
    func, fb, n = _builder()
    var = fb.declare_var(I32)
    fb.def_var(var, n)
    header, exit_ = fb.create_block(), fb.create_block()
    fb.ins().jump(header)
    fb.switch_to_block(header)
    _br_if_chain(fb, 5, n, exit_)
    inside = fb.use_var(var)
    assert inside == func.dfg.block_params[header][0]
    total = fb.ins().iadd(inside, inside)  # an operand that will be an alias
    fb.ins().jump(header)
    fb.seal_block(header)
    assert func.dfg.block_params[header] == []
    assert fb.use_var(var) == n
    fb.seal_block(exit_)
    fb.switch_to_block(exit_)
    fb.ins().return_([n])
    fb.seal_all_blocks()
    fb.finalize()
    verify(func)
    definition = func.dfg.value_def(total)
    assert isinstance(definition, InstResult)
    assert func.dfg.insts[definition.inst] == Binary("iadd", (n, n))  # resolved at finalize
