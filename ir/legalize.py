"""Legalization: rewrite IR into the subset the LLVM back end takes directly.

After this pass the function contains no ``heap_addr``, ``table_addr``,
``global_value`` or ``uadd_overflow_trap``, and every implicit trap is explicit:

* ``heap_addr`` becomes address arithmetic, with a bounds check unless the heap is static
  and its reservation plus guard region covers every index (then out-of-bounds accesses
  fault in the guard pages and the runtime reports ``MEMORY_OUT_OF_BOUNDS``);
* ``sdiv``/``udiv``/``srem``/``urem`` get ``trapz`` on a zero divisor and ``sdiv`` a
  ``trapnz`` on ``INT_MIN / -1``; ``srem`` divides by 1 instead of -1 (the result is 0
  either way) so it never overflows;
* trapping ``fcvt_to_sint``/``fcvt_to_uint`` get a NaN check and a range check;
* ``ishl``/``ushr``/``sshr`` get their shift amount masked to the type's width.

Contract with the back end: in legalized IR the divisions, remainders and float-to-int
conversions above never see operands that would trap, so they may be emitted as the plain
(undefined-on-bad-input) LLVM instructions; shifts never see an amount >= the width.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from pyjitwasm.ir.cursor import Cursor
from pyjitwasm.ir.entities import GlobalValue, Inst, Value
from pyjitwasm.ir.function import NO_SRCLOC, Function
from pyjitwasm.ir.instructions import (
    Binary,
    BinaryImm,
    HeapAddr,
    InstructionData,
    IntAddTrap,
    Load,
    TableAddr,
    Unary,
    UnaryGlobalValue,
    UnaryImm,
)
from pyjitwasm.ir.trapcode import TrapCode
from pyjitwasm.ir.types import F32, I8, I64, Type


def legalize(func: Function) -> None:
    """Legalize ``func`` in place."""
    _Legalizer(func).run()


class _Legalizer:
    """Rewrites a function block by block.  Each block's instruction list is rebuilt as
    its instructions are visited (no insertion in the middle of a list, which would
    make a huge block quadratic): what a rewrite adds before the instruction being
    legalized is appended before the instruction itself is put back."""

    def __init__(self, func: Function) -> None:
        self.func = func
        self.dfg = func.dfg
        # The one cursor the rewrites insert with: at the end of the list being rebuilt,
        # so before the instruction being legalized (see ``before``).
        self._cursor = Cursor(func)
        self._placed = False  # the instruction being legalized is back in its block
        self._removed = False  # ... or it was removed
        self._vmctx: Value | None = None  # the vmctx parameter, once asked for
        # Readonly global values (a static heap's base, the code-slot table...) loaded
        # once at the top of the entry block, which dominates every use.
        self._invariants: dict[GlobalValue, Value] = {}
        self._entry_top = 0  # instructions inserted at the top of the entry block

    def run(self) -> None:
        dfg = self.dfg
        insts, srclocs = dfg.insts, dfg.srclocs
        block_insts = self.func.layout.block_insts
        handlers = HANDLERS
        cursor = self._cursor
        for block in list(self.func.layout.blocks):
            old = block_insts[block]
            rebuilt: list[Inst] = []
            block_insts[block] = rebuilt
            for inst in old:
                data = insts[inst]
                handler = handlers.get(data.opcode)
                if handler is not None:
                    # What legalizing an instruction adds comes from the same place.
                    dfg.srcloc = srclocs[inst]
                    cursor.block, cursor.index = block, None
                    self._placed = self._removed = False
                    handler(self, inst, data)
                    if self._placed or self._removed:
                        continue
                rebuilt.append(inst)
        dfg.srcloc = NO_SRCLOC
        dfg.resolve_all_aliases()

    # Helpers ---------------------------------------------------------------------------

    def before(self, inst: Inst) -> Cursor:
        """The cursor before ``inst``, the instruction being legalized (it is not back in
        its block yet: the end of the block so far)."""
        return self._cursor

    def after(self, inst: Inst) -> Cursor:
        """The cursor after ``inst``, the instruction being legalized (put back in its
        block now)."""
        cursor = self._cursor
        assert cursor.block is not None and not self._placed
        self.func.layout.block_insts[cursor.block].append(inst)
        self._placed = True
        return cursor

    def remove(self, inst: Inst) -> None:
        """Take ``inst``, the instruction being legalized, out of the layout."""
        del self.func.layout.inst_block[inst]
        self._removed = True

    def replace(self, inst: Inst, data: InstructionData) -> None:
        """Give ``inst`` new contents with the same results (aliases among its operands
        are resolved with all the others at the end of ``run``)."""
        self.dfg.insts[inst] = data

    def gv_value(self, cur: Cursor, gv: GlobalValue) -> Value:
        """Compute global value ``gv`` at the cursor (a readonly one: once per function,
        in the entry block)."""
        value = self._invariants.get(gv)
        if value is not None:
            return value
        data = self.func.global_values[gv]
        if data.kind == "vmctx":
            return self.vmctx_param()
        if self._invariant(gv):
            value = self._invariants[gv] = self._at_entry_top(cur, gv)
            return value
        return self._compute(cur, gv)

    def _compute(self, cur: Cursor, gv: GlobalValue) -> Value:
        """Insert the computation of load or offset ``gv`` from its base at ``cur``."""
        data = self.func.global_values[gv]
        base = self.gv_value(cur, self.gv_base(gv))
        if data.kind == "load":
            return cur.load(data.type, data.flags, base, data.offset)
        return cur.iadd_imm(base, data.offset)

    def _invariant(self, gv: GlobalValue) -> bool:
        """Whether ``gv`` is the same value throughout the function: a chain of readonly
        loads and offsets from the vmctx."""
        data = self.func.global_values[gv]
        while data.kind != "vmctx":
            if data.kind == "load" and not data.flags.readonly:
                return False
            if data.base is None:
                return False
            data = self.func.global_values[data.base]
        return True

    def _at_entry_top(self, cur: Cursor, gv: GlobalValue) -> Value:
        """Compute invariant ``gv`` at the top of the entry block; ``cur`` (where the
        value is wanted) stays before the same instruction."""
        entry = self.func.layout.entry_block()
        top = Cursor(self.func, entry, self._entry_top)
        value = self._compute(top, gv)
        inserted = top.index - self._entry_top if top.index is not None else 0
        self._entry_top += inserted
        if cur.block == entry and cur.index is not None:
            cur.index += inserted
        return value

    def gv_base(self, gv: GlobalValue) -> GlobalValue:
        base = self.func.global_values[gv].base
        if base is None:
            raise ValueError(f"%{self.func.name}: gv{gv} has no base")
        return base

    def vmctx_param(self) -> Value:
        if self._vmctx is None:
            index = self.func.vmctx_param_index()
            if index is None:
                raise ValueError(f"%{self.func.name} uses vmctx but has no vmctx parameter")
            self._vmctx = self.dfg.block_params[self.func.layout.entry_block()][index]
        return self._vmctx

    # Memory ----------------------------------------------------------------------------

    def global_value(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, UnaryGlobalValue)
        gv = self.func.global_values[data.global_value]
        cur = self.before(inst)
        if gv.kind == "vmctx":
            (result,) = self.dfg.inst_results(inst)
            self.dfg.make_alias(result, self.vmctx_param())
            self.remove(inst)
            return
        base = self.gv_value(cur, self.gv_base(data.global_value))
        if gv.kind == "load":
            self.replace(inst, Load("load", gv.type, gv.flags, base, gv.offset))
        else:
            self.replace(inst, BinaryImm("iadd_imm", base, gv.offset))

    def heap_addr(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, HeapAddr)
        heap = self.func.heaps[data.heap]
        offset, size = data.offset, data.size
        cur = self.before(inst)
        index = data.index
        index64 = index if heap.index_type == I64 else cur.uextend(I64, index)
        end = offset + size  # past the last byte accessed, relative to the index
        oob = TrapCode.MEMORY_OUT_OF_BOUNDS
        if heap.style == "static":
            max_index = (1 << heap.index_type.bits) - 1
            if max_index + end > heap.bound + heap.offset_guard:
                if end > heap.bound:
                    cur.trapnz(cur.iconst(I8, 1), oob)  # no index is in bounds
                else:
                    cur.trapnz(self.icmp_const(cur, "ugt", index64, heap.bound - end), oob)
        else:
            if heap.index_type == I64:
                limit = cur.iadd(index64, cur.iconst(I64, end))
                cur.trapnz(cur.icmp("ult", limit, index64), oob)  # the sum wrapped
            else:
                limit = cur.iadd_imm(index64, end)  # < 2**33: cannot overflow
            bound = self.gv_value(cur, GlobalValue(heap.bound))
            cur.trapnz(cur.icmp("ugt", limit, bound), oob)
        base = self.gv_value(cur, heap.base)
        if offset:
            addr = cur.iadd(base, index64)
            self.replace(inst, BinaryImm("iadd_imm", addr, offset))
        else:
            self.replace(inst, Binary("iadd", (base, index64)))

    @staticmethod
    def icmp_const(cur: Cursor, cond: str, a: Value, value: int) -> Value:
        if value < (1 << 63):
            return cur.icmp_imm(cond, a, value)
        return cur.icmp(cond, a, cur.iconst(cur.func.dfg.value_type(a), value))

    def table_addr(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, TableAddr)
        table = self.func.tables[data.table]
        cur = self.before(inst)
        index = data.index
        index64 = index if table.index_type == I64 else cur.uextend(I64, index)
        bound = self.gv_value(cur, table.bound)
        if self.dfg.value_type(bound) != I64:
            bound = cur.uextend(I64, bound)
        cur.trapnz(cur.icmp("uge", index64, bound), TrapCode.TABLE_OUT_OF_BOUNDS)
        size = table.element_size
        if size & (size - 1) == 0:
            scaled = cur.ishl_imm(index64, size.bit_length() - 1) if size > 1 else index64
        else:
            scaled = cur.imul_imm(index64, size)
        base = self.gv_value(cur, table.base)
        if data.offset:
            addr = cur.iadd(base, scaled)
            self.replace(inst, BinaryImm("iadd_imm", addr, data.offset))
        else:
            self.replace(inst, Binary("iadd", (base, scaled)))

    # Arithmetic ------------------------------------------------------------------------

    def check_divisor(self, cur: Cursor, divisor: Value) -> None:
        value = self.dfg.iconst_value(divisor)
        if value is None or value == 0:
            cur.trapz(divisor, TrapCode.INTEGER_DIVISION_BY_ZERO)

    def unsigned_div(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Binary)
        self.check_divisor(self.before(inst), data.args[1])

    def sdiv(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Binary)
        cur = self.before(inst)
        a, b = data.args
        self.check_divisor(cur, b)
        ty = self.dfg.value_type(a)
        divisor = self.dfg.iconst_value(b)
        if divisor is not None and divisor != (1 << ty.bits) - 1:
            return  # a constant divisor other than -1 cannot overflow
        is_min = cur.icmp_imm("eq", a, -(1 << (ty.bits - 1)))
        is_minus_one = cur.icmp_imm("eq", b, -1)
        cur.trapnz(cur.band(is_min, is_minus_one), TrapCode.INTEGER_OVERFLOW)

    def srem(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Binary)
        cur = self.before(inst)
        a, b = data.args
        self.check_divisor(cur, b)
        divisor = self.dfg.iconst_value(b)
        ty = self.dfg.value_type(a)
        if divisor is not None:
            if divisor == (1 << ty.bits) - 1:
                self.replace(inst, UnaryImm("iconst", ty, 0))
            return
        # x % -1 == x % 1 == 0, and the second form cannot overflow.
        safe = cur.select(cur.icmp_imm("eq", b, -1), cur.iconst(ty, 1), b)
        self.replace(inst, Binary("srem", (a, safe)))

    def shift(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Binary)
        value, amount = data.args
        width = self.dfg.value_type(value).lane_type.bits
        known = self.dfg.iconst_value(amount)
        if known is not None and known < width:
            return
        masked = self.before(inst).band_imm(amount, width - 1)
        self.replace(inst, Binary(data.opcode, (value, masked)))

    def uadd_overflow_trap(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, IntAddTrap)
        a, b = data.args
        self.replace(inst, Binary("iadd", (a, b)))
        (total,) = self.dfg.inst_results(inst)
        cur = self.after(inst)
        cur.trapnz(cur.icmp("ult", total, a), data.code)

    # Float to integer ------------------------------------------------------------------

    def fcvt_to_int(self, inst: Inst, data: InstructionData) -> None:
        assert isinstance(data, Unary) and data.ctrl_type is not None
        cur = self.before(inst)
        x = data.arg
        fty = self.dfg.value_type(x)
        bits = data.ctrl_type.bits
        cur.trapnz(cur.fcmp("uno", x, x), TrapCode.BAD_CONVERSION_TO_INTEGER)
        if data.opcode == "fcvt_to_sint":
            low = -(2 ** (bits - 1))
            if fty != F32 and bits == 32:
                # -2**31 - 1 is exact in f64: everything above it truncates into range.
                too_low = cur.fcmp("le", x, _float_const(cur, fty, low - 1))
            else:
                too_low = cur.fcmp("lt", x, _float_const(cur, fty, low))
            high = 2 ** (bits - 1)
        else:
            too_low = cur.fcmp("le", x, _float_const(cur, fty, -1))
            high = 2**bits
        too_high = cur.fcmp("ge", x, _float_const(cur, fty, high))
        cur.trapnz(cur.bor(too_low, too_high), TrapCode.INTEGER_OVERFLOW)


def _float_const(cur: Cursor, ty: Type, value: int) -> Value:
    if ty == F32:
        bits32: int = struct.unpack("<I", struct.pack("<f", float(value)))[0]
        return cur.f32const(bits32)
    bits64: int = struct.unpack("<Q", struct.pack("<d", float(value)))[0]
    return cur.f64const(bits64)


Handler = Callable[[_Legalizer, Inst, InstructionData], None]

HANDLERS: dict[str, Handler] = {
    "heap_addr": _Legalizer.heap_addr,
    "table_addr": _Legalizer.table_addr,
    "global_value": _Legalizer.global_value,
    "udiv": _Legalizer.unsigned_div,
    "urem": _Legalizer.unsigned_div,
    "sdiv": _Legalizer.sdiv,
    "srem": _Legalizer.srem,
    "fcvt_to_sint": _Legalizer.fcvt_to_int,
    "fcvt_to_uint": _Legalizer.fcvt_to_int,
    "ishl": _Legalizer.shift,
    "ushr": _Legalizer.shift,
    "sshr": _Legalizer.shift,
    "uadd_overflow_trap": _Legalizer.uadd_overflow_trap,
}
"""The rewrite of each opcode the back end does not take as it is; other instructions
stay unchanged."""
