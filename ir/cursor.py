"""Inserting instructions at a position in a function, with one helper per instruction
format so callers never assemble ``InstData`` by hand."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pyjitwasm.ir.function import Block, BlockCall, Function, Inst, InstData, Value
from pyjitwasm.ir.immediates import MemFlags
from pyjitwasm.ir.instructions import OPCODES, spec
from pyjitwasm.ir.types import F32, F64, POINTER, Type
from pyjitwasm.ir.typing import result_types
from pyjitwasm.wasm.traps import TrapCode


class Cursor:
    """A position in a function: before ``index`` in ``block`` (at its end when None).

    Each insertion computes the result types from the operands (TypingError when they do
    not fit) and advances the position past the new instruction.
    """

    def __init__(self, func: Function, block: Block | None = None,
                 index: int | None = None) -> None:
        self.func = func
        self.block = block
        self.index = index
        self.on_insert: Callable[[Inst], None] | None = None

    def goto_end(self, block: Block) -> Cursor:
        self.block, self.index = block, None
        return self

    def goto_before(self, inst: Inst) -> Cursor:
        self.block = self.func.layout.inst_block[inst]
        self.index = self.func.layout.insts(self.block).index(inst)
        return self

    def goto_after(self, inst: Inst) -> Cursor:
        self.goto_before(inst)
        self.index += 1  # type: ignore[operator]
        return self

    # Generic insertion ----------------------------------------------------------------

    def ins(self, data: InstData) -> Inst:
        """Insert ``data`` and give it typed results."""
        if self.block is None:
            raise ValueError("cursor has no position")
        dfg = self.func.dfg
        data.map_values(dfg.resolve)
        types = result_types(self.func, data, [dfg.value_type(v) for v in data.args])
        inst = dfg.make_inst(data)
        for ty in types:
            dfg.add_result(inst, ty)
        self.func.layout.insert_inst(inst, self.block, self.index)
        if self.index is not None:
            self.index += 1
        if self.on_insert is not None:
            self.on_insert(inst)
        return inst

    def value(self, data: InstData) -> Value:
        """Insert an instruction with one result and return that result."""
        results = self.func.dfg.inst_results(self.ins(data))
        if len(results) != 1:
            raise ValueError(f"{data.opcode} has {len(results)} results, not one")
        return results[0]

    # Helpers per format ----------------------------------------------------------------

    def iconst(self, ty: Type, value: int) -> Value:
        """An integer constant; negative values are stored as their bit pattern."""
        return self.value(InstData("iconst", ctrl_type=ty, imm=value & ((1 << ty.bits) - 1)))

    def f32const(self, bits: int) -> Value:
        return self.value(InstData("f32const", imm=bits))

    def f64const(self, bits: int) -> Value:
        return self.value(InstData("f64const", imm=bits))

    def vconst(self, ty: Type, value: int) -> Value:
        return self.value(InstData("vconst", ctrl_type=ty, imm=value))

    def null(self, ty: Type) -> Value:
        return self.value(InstData("null", ctrl_type=ty))

    def zero(self, ty: Type) -> Value:
        """The zero (or null) value of any type."""
        if ty.is_int:
            return self.iconst(ty, 0)
        if ty == F32:
            return self.f32const(0)
        if ty == F64:
            return self.f64const(0)
        if ty.is_ref:
            return self.null(ty)
        return self.vconst(ty, 0)

    def unary(self, opcode: str, arg: Value, ty: Type | None = None) -> Value:
        return self.value(InstData(opcode, [arg], ctrl_type=ty))

    def binary(self, opcode: str, a: Value, b: Value) -> Value:
        return self.value(InstData(opcode, [a, b]))

    def binary_imm(self, opcode: str, a: Value, imm: int) -> Value:
        return self.value(InstData(opcode, [a], imm=imm))

    def icmp(self, cond: str, a: Value, b: Value) -> Value:
        return self.value(InstData("icmp", [a, b], cond=cond))

    def icmp_imm(self, cond: str, a: Value, imm: int) -> Value:
        return self.value(InstData("icmp_imm", [a], cond=cond, imm=imm))

    def fcmp(self, cond: str, a: Value, b: Value) -> Value:
        return self.value(InstData("fcmp", [a, b], cond=cond))

    def select(self, cond: Value, a: Value, b: Value) -> Value:
        return self.value(InstData("select", [cond, a, b]))

    def load(self, ty: Type, flags: MemFlags, addr: Value, offset: int = 0,
             opcode: str = "load") -> Value:
        return self.value(InstData(opcode, [addr], ctrl_type=ty, flags=flags, imm=offset))

    def store(self, flags: MemFlags, value: Value, addr: Value, offset: int = 0,
              opcode: str = "store") -> Inst:
        return self.ins(InstData(opcode, [value, addr], flags=flags, imm=offset))

    def heap_addr(self, heap: int, index: Value, offset: int, size: int) -> Value:
        return self.value(InstData("heap_addr", [index], ctrl_type=POINTER, entity=heap,
                                   imm=offset, size=size))

    def table_addr(self, table: int, index: Value, offset: int = 0) -> Value:
        return self.value(InstData("table_addr", [index], ctrl_type=POINTER, entity=table,
                                   imm=offset))

    def global_value(self, gv: int) -> Value:
        ty = self.func.global_values[gv].type
        return self.value(InstData("global_value", ctrl_type=ty, entity=gv))

    def func_addr(self, fn: int) -> Value:
        return self.value(InstData("func_addr", ctrl_type=POINTER, entity=fn))

    def call(self, fn: int, args: Sequence[Value]) -> list[Value]:
        return list(self.func.dfg.inst_results(self.ins(InstData("call", list(args),
                                                                 entity=fn))))

    def call_indirect(self, sig: int, callee: Value, args: Sequence[Value]) -> list[Value]:
        data = InstData("call_indirect", [callee, *args], entity=sig)
        return list(self.func.dfg.inst_results(self.ins(data)))

    def return_call(self, fn: int, args: Sequence[Value]) -> Inst:
        return self.ins(InstData("return_call", list(args), entity=fn))

    def return_call_indirect(self, sig: int, callee: Value, args: Sequence[Value]) -> Inst:
        return self.ins(InstData("return_call_indirect", [callee, *args], entity=sig))

    def jump(self, block: Block, args: Sequence[Value] = ()) -> Inst:
        return self.ins(InstData("jump", dests=[BlockCall(block, list(args))]))

    def brif(self, cond: Value, then_block: Block, then_args: Sequence[Value],
             else_block: Block, else_args: Sequence[Value]) -> Inst:
        dests = [BlockCall(then_block, list(then_args)), BlockCall(else_block, list(else_args))]
        return self.ins(InstData("brif", [cond], dests=dests))

    def br_table(self, index: Value, default: Block, table: Sequence[Block]) -> Inst:
        return self.ins(InstData("br_table", [index], dests=[BlockCall(default)],
                                 table=list(table)))

    def return_(self, values: Sequence[Value] = ()) -> Inst:
        return self.ins(InstData("return", list(values)))

    def trap(self, code: TrapCode) -> Inst:
        return self.ins(InstData("trap", trap=code))

    def trapz(self, cond: Value, code: TrapCode) -> Inst:
        return self.ins(InstData("trapz", [cond], trap=code))

    def trapnz(self, cond: Value, code: TrapCode) -> Inst:
        return self.ins(InstData("trapnz", [cond], trap=code))

    def uadd_overflow_trap(self, a: Value, b: Value, code: TrapCode) -> Value:
        return self.value(InstData("uadd_overflow_trap", [a, b], trap=code))

    def __getattr__(self, name: str) -> Callable[..., Value]:
        """``cur.iadd(a, b)``, ``cur.uextend(I64, x)``, ``cur.iadd_imm(a, 4)``, ...: the
        plain unary, binary and binary-immediate opcodes by name."""
        info = OPCODES.get(name)
        if info is None:
            raise AttributeError(name)
        if info.format == "binary":
            return lambda a, b: self.binary(name, a, b)
        if info.format == "binary_imm":
            return lambda a, imm: self.binary_imm(name, a, imm)
        if info.format == "unary":
            if spec(name).ctrl:
                return lambda ty, a: self.unary(name, a, ty)
            return lambda a: self.unary(name, a)
        raise AttributeError(f"{name} has its own helper")
