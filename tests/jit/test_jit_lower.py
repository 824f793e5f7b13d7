"""IR -> LLVM lowering, on hand-written IR (operations the wasm translator does not emit
yet included): each function is lowered, compiled and run through an entry shim."""

from __future__ import annotations

import ctypes
import struct

import pytest

from pyjitwasm.ir.instructions import OPCODES
from pyjitwasm.ir.parser import parse_function
from pyjitwasm.ir.types import F32, F64, I32, I64, V128
from pyjitwasm.jit import abi, lower
from pyjitwasm.jit.lower_module import emit_module
from pyjitwasm.runtime.errors import Trap
from pyjitwasm.wasm.traps import TrapCode

from support.filetest_compiler import compile_ir


def test_mul_high_halves() -> None:
    f = compile_ir("""
function %f(i64 vmctx, i64, i64, i32, i32) -> i64, i64, i32, i32 {
block0(v0: i64, v1: i64, v2: i64, v3: i32, v4: i32):
    v5 = umulhi v1, v2
    v6 = smulhi v1, v2
    v7 = umulhi v3, v4
    v8 = smulhi v3, v4
    return v5, v6, v7, v8
}""")
    for a, b, c, d in [(3, 5, 7, 9), (-1, -1, -1, -1), (1 << 63, 3, 1 << 31, 3),
                       (0x123456789ABCDEF, -987654321, 0x7FFFFFFF, -2)]:
        ua, ub, uc, ud = a % 2**64, b % 2**64, c % 2**32, d % 2**32
        sa, sb, sc, sd = (_signed(ua, 64), _signed(ub, 64), _signed(uc, 32), _signed(ud, 32))
        assert f(a, b, c, d) == [
            (ua * ub) >> 64, ((sa * sb) >> 64) % 2**64, (uc * ud) >> 32,
            ((sc * sd) >> 32) % 2**32]


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def test_bit_ops_rotates_and_immediates() -> None:
    f = compile_ir("""
function %f(i64 vmctx, i32, i32, i64) -> i32, i32, i32, i32, i32, i32, i32 {
block0(v0: i64, v1: i32, v2: i32, v3: i64):
    v4 = band_not v1, v2
    v5 = bnot v1
    v6 = ineg v1
    v7 = rotl v1, v3
    v8 = rotr v1, v3
    v9 = ishl_imm v1, 33
    v10 = sshr_imm v1, -1
    return v4, v5, v6, v7, v8, v9, v10
}""")
    a, b, n = 0x80F0_0F01, 0x0FF0_F00F, 36
    rot = n % 32
    rotl = ((a << rot) | (a >> (32 - rot))) % 2**32
    rotr = ((a >> rot) | (a << (32 - rot))) % 2**32
    assert f(a, b, n) == [a & ~b % 2**32, ~a % 2**32, -a % 2**32, rotl, rotr,
                          (a << 1) % 2**32, 0xFFFFFFFF]


def test_references_null_select_and_compare() -> None:
    f = compile_ir("""
function %f(i64 vmctx, r64, i32) -> i32, r64, i32 {
block0(v0: i64, v1: r64, v2: i32):
    v3 = null.r64
    v4 = is_null v1
    v5 = uextend.i32 v4
    v6 = select v2, v1, v3
    v7 = icmp eq v6, v1
    v8 = icmp_imm ne v1, 4096
    v9 = band v7, v8
    v10 = uextend.i32 v9
    return v5, v6, v10
}""")
    assert f(0, 1) == [1, 0, 1]
    assert f(0x5000, 1) == [0, 0x5000, 1]
    assert f(0x5000, 0) == [0, 0, 0]
    assert f(4096, 1) == [0, 4096, 0]


def test_uadd_overflow_trap_and_sized_memory_access() -> None:
    buf = ctypes.create_string_buffer(bytes(range(1, 17)))
    f = compile_ir("""
function %f(i64 vmctx, i64, i64) -> i64, i32 {
block0(v0: i64, v1: i64, v2: i64):
    v3 = uadd_overflow_trap v1, v2, memory_out_of_bounds
    v4 = sload16.i64 notrap aligned v3+2
    v5 = uload8.i32 little v3-1
    istore16 notrap v5, v3+4
    v6 = load.i32 notrap v3+4
    return v4, v6
}""")
    base = ctypes.addressof(buf)
    # v3 = base + 1: bytes 4,5 -> 0x0504; byte 1 stored as 01 00 at base + 5.
    assert f(base, 1) == [0x0504, 0x09080001]
    assert buf.raw[5:7] == b"\x01\x00"
    with pytest.raises(Trap) as info:
        f(-1, 2)
    assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS


def test_vectors_lane_views_and_constants() -> None:
    f = compile_ir("""
function %f(i64 vmctx, v128, v128, i32) -> v128, v128, v128, v128 {
block0(v0: i64, v1: v128, v2: v128, v3: i32):
    v4 = bitcast.i32x4 v1
    v5 = bitcast.i32x4 v2
    v6 = iadd v4, v5
    v7 = ishl v6, v3
    v8 = bitcast.v128 v7
    v9 = bitcast.f32x4 v1
    v10 = bitcast.f32x4 v2
    v11 = fmin v9, v10
    v12 = bitcast.v128 v11
    v13 = vconst.i16x8 0x0001000200030004000500060007ffff
    v14 = bitcast.i16x8 v1
    v15 = popcnt v14
    v16 = iadd v15, v13
    v17 = bitcast.v128 v16
    v18 = vconst.f64x2 0x7ff40000000000013ff0000000000000
    v19 = bitcast.v128 v18
    return v8, v12, v17, v19
}""")

    def lanes(value: int, bits: int) -> list[int]:
        return [(value >> (bits * i)) % 2**bits for i in range(128 // bits)]

    def pack(values: list[int], bits: int) -> int:
        return sum(v % 2**bits << (bits * i) for i, v in enumerate(values))

    def f32(x: float) -> int:
        return struct.unpack("<I", struct.pack("<f", x))[0]

    a = pack([1, 2, 0x7FFFFFFF, f32(-1.5)], 32)
    b = pack([10, 20, 1, f32(2.0)], 32)
    shifted, mins, counts, consts = f(a, b, 1)
    assert lanes(shifted, 32) == [(x + y) * 2 % 2**32 for x, y in zip(lanes(a, 32),
                                                                       lanes(b, 32), strict=True)]
    # Lanes as f32: two denormals, a quiet NaN (kept), -1.5 vs 2.0.
    assert lanes(mins, 32) == [1, 2, 0x7FFFFFFF, f32(-1.5)]
    const16 = [0xFFFF, 7, 6, 5, 4, 3, 2, 1]
    assert lanes(counts, 16) == [(bin(x).count("1") + c) % 2**16
                                 for x, c in zip(lanes(a, 16), const16, strict=True)]
    assert lanes(consts, 64) == [0x3FF0000000000000, 0x7FF4000000000001]


def test_tail_calls_run_in_constant_stack() -> None:
    f = compile_ir("""
function %count(i64 vmctx, i64, i64) -> i64 {
    sig0 = (i64 vmctx, i64, i64) -> i64
    fn0 = %count sig0
block0(v0: i64, v1: i64, v2: i64):
    brif v1, block1, block2

block1:
    v3 = iadd_imm v1, -1
    v4 = iadd_imm v2, 1
    return_call fn0(v0, v3, v4)

block2:
    return v2
}""")
    # Far deeper than the 1 MiB wasm stack allows for real calls.
    assert f(3_000_000, 5) == [3_000_005]


def test_indirect_call_through_func_addr_and_br_table() -> None:
    f = compile_ir("""
function %f(i64 vmctx, i64) -> i32 {
    sig0 = (i64 vmctx, i32) -> i32
    fn0 = %double sig0
block0(v0: i64, v1: i64):
    br_table v1, block3, [block1, block2, block1]

block1:
    v2 = func_addr.i64 fn0
    v3 = iconst.i32 21
    v4 = call_indirect sig0, v2(v0, v3)
    return v4

block2:
    v5 = iconst.i32 7
    jump block4(v5)

block3:
    trap unreachable

block4(v6: i32):
    return v6
}
function %double(i64 vmctx, i32) -> i32 {
block0(v0: i64, v1: i32):
    v2 = iadd v1, v1
    return v2
}""")
    assert f(0) == [42] and f(2) == [42] and f(1) == [7]
    with pytest.raises(Trap) as info:
        f(3)
    assert info.value.trap_code == TrapCode.UNREACHABLE


def test_brif_to_one_block_with_different_arguments() -> None:
    f = compile_ir("""
function %f(i64 vmctx, i32) -> i32 {
block0(v0: i64, v1: i32):
    v2 = iconst.i32 10
    v3 = iconst.i32 20
    brif v1, block1(v2), block1(v3)

block1(v4: i32):
    return v4
}""")
    assert f(1) == [10] and f(0) == [20]


def test_unlegalized_ir_is_rejected() -> None:
    func = parse_function("""
function %f(i64 vmctx, i32) -> i64 {
    gv0 = vmctx
    heap0 = static base=gv0, bound=0x10000, offset_guard=0, index_type=i32
block0(v0: i64, v1: i32):
    v2 = heap_addr.i64 heap0, v1, 0, 4
    return v2
}""")
    with pytest.raises(lower.LoweringError, match="heap_addr must be legalized"):
        lower.lower_function(func)


def test_every_opcode_has_a_lowering() -> None:
    # Every opcode is in the dispatch table, except those the legalizer removes.
    missing = [op for op in OPCODES if op not in lower.LOWERINGS]
    assert sorted(missing) == sorted(lower._NOT_LEGALIZED)


def test_module_text_declares_only_what_it_uses() -> None:
    func = parse_function("""
function %f(i64 vmctx, i64) -> i64 {
    sig0 = (i64 vmctx, i64, i64) -> i64
    fn0 = %libcall_memory_grow sig0
block0(v0: i64, v1: i64):
    v2 = iconst.i64 0
    v3 = call fn0(v0, v2, v1)
    v4 = clz v3
    return v4
}""")
    text = emit_module([(func, "internal")])
    assert "define internal i64 @f(ptr %vmctx, ptr %caller_vmctx, i64 %v1) #0" in text
    # Libcalls take the C ABI: no caller_vmctx.
    assert "declare i64 @libcall_memory_grow(ptr, i64, i64)" in text
    assert "call i64 @libcall_memory_grow(ptr %vmctx, i64 0, i64 %v1)" in text
    assert "@llvm.ctlz.i64(i64 %v3, i1 false)" in text
    assert '"frame-pointer"="all"' in text and '"disable-tail-calls"="true"' in text


def test_float_results_never_use_the_x87_stack() -> None:
    # LLVM returns a struct's third and fourth float in ST0/ST1 (quieting signalling
    # NaNs): beyond two floats or vectors, float results travel as integers.
    assert abi.result_carriers([F32]) == (F32,)
    assert abi.result_carriers([F32, F64]) == (F32, F64)
    assert abi.result_carriers([F64, I32, I64]) == (F64, I32, I64)
    assert abi.result_carriers([V128, F32]) == (V128, F32)
    assert abi.result_carriers([F32, F64, F32]) == (I32, I64, I32)
    assert abi.result_carriers([F32, V128, V128]) == (I32, V128, V128)
    assert lower.return_type([F32, F64, F32]) == "{ i32, i64, i32 }"
    assert abi.return_type([F32, F32, F32, F32]) == "{ i32, i32, i32, i32 }"
    assert "load i32" in abi.host_shim_ir("h", [F32], [F32, F32, F32])
    assert "store i64" in abi.entry_shim_ir("e", [F64], [F64, F64, F64])
    # musttail stays where the carriers come back in registers.
    assert lower.returns_in_registers([F32, V128, V128])
    assert lower.returns_in_registers([F32, F32])
    assert not lower.returns_in_registers([F32, F32, F32])
    assert not lower.returns_in_registers([V128, V128, V128])
