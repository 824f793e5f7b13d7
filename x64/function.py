"""The state of one function's single-pass compilation (``FunctionCompiler``) and what
the handlers (``control``, ``integer``, ``floats``, ``memory``) share.

The frame (every offset from rbp, which stays the frame pointer: backtraces walk the
rbp chain)::

    [rbp + 16 + 8k]        incoming stack arguments (SysV)
    [rbp + 8]              return address
    [rbp]                  caller's rbp
    [rbp - 8], [rbp - 16]  saved rbx (this instance's vmctx), r12 (heap base)
    [rbp - 24]             the tier-up count (``translate/tiering.py``)
    [rbp - 32 - 8i]        local i
    [sbase - 8j]           operand stack slot j (8 bytes each)
    [rsp + 8k]             outgoing stack arguments

Every wasm value has an operand stack slot, but a value just computed need not be
there yet: an instruction loads its operands into scratch registers (rax, rcx, rdx,
xmm0, xmm1), computes, and leaves its result in a register, noting which operand the
register holds (``rax``, ``xmm``, ``xmm1``) and whether only the register holds it
(``rax_dirty``, ``xmm_dirty``, ``xmm1_dirty``).  The next instructions take it from
there; when the register is needed for another value while this one is alive, a float
moves to a free register of xmm2-xmm7 (``fpool``) or its slot, an integer to its slot;
before an instruction not written for this (not in ``LAZY_AWARE``: calls, branches,
block ends, ...) every such value is stored, so at control-flow joins and calls all
values are in their slots.  An i32 or f32 occupies the low 4 bytes of a slot (the high
ones are never read as part of it), so copies between slots and locals move 8 bytes
whatever the type.  Block results need no moves at a fallthrough (they are already in
the slots the block's end expects); a branch copies them down to the target's height.
rbx holds the vmctx, r12 the base of a static heap (it never moves), both callee-saved,
so they survive calls.  A ``br_if``/``if`` right after an integer comparison jumps on
its flags (``fuse_condition``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pyjitwasm.jit import abi
from pyjitwasm.translate import libcalls as lc
from pyjitwasm.translate.module_info import ModuleInfo
from pyjitwasm.translate.tier_table import (
    COUNTER_PARKED,
    COUNTER_SIZE,
    OSR_ELSEWHERE,
    OSR_NEVER,
    OSR_RECHECK,
    OSR_RECHECK_ASKED,
    OSR_SLOT_SIZE,
    OSR_SLOTS_PER_FUNCTION,
    osr_slot_offset,
)
from pyjitwasm.translate.vmctx import MEMORY_DEF_BASE
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.opcodes import BLOCKTYPE_EMPTY
from pyjitwasm.x64.asm import (
    CC_A,
    CC_B,
    CC_E,
    CC_NE,
    CC_NS,
    CC_S,
    JMP32,
    LOAD32_RAX,
    LOAD64_RAX,
    LOAD64_RCX,
    MOV32_IMM,
    MOV64_IMM,
    MOV_RDI_RBX,
    R8,
    R9,
    R12,
    RAX,
    RBP,
    RBX,
    RCX,
    RDI,
    RDX,
    RSI,
    STORE64_RAX,
    STORE64_RCX,
    call_reg,
    jcc32,
    mem,
    mov_imm32,
    mov_rr,
    movabs,
    push,
    rbp_table,
)

# wasm value type -> the letter the compile-time stack keeps for it.
TYPE_LETTER = {0x7F: "i", 0x7E: "l", 0x7D: "f", 0x7C: "d"}
INT_ARG_REGS = (RDX, RCX, R8, R9)  # after vmctx (rdi) and caller vmctx (rsi)
FLOAT_ARG_REGS = 8  # xmm0..xmm7

LAZY_LOCAL, LAZY_I32, LAZY_I64 = range(3)

POOL_XMMS = (2, 3, 4, 5, 6, 7)
"""Caller-saved registers where float operands wait (``FunctionCompiler.fpool``)."""
MOVSD_STORE_XMM0 = rbp_table(b"\x0f\x11", 0, 0, b"\xf2")
MOVSD_STORE_XMM1 = rbp_table(b"\x0f\x11", 1, 0, b"\xf2")
"""``movsd [rbp + disp], xmm0/xmm1``."""

MAX_FRAME = 1 << 24
"""The largest frame (bytes) compiled here: its displacements stay well inside a
signed 32-bit field; a function with more locals and operands takes the LLVM path."""

LAZY_AWARE: set[int] = set()
"""Opcodes whose handlers take deferred operands (``FunctionCompiler.lazy``) as they
are; the handler modules add theirs."""

COUNT_DISP = -24
LOCALS_DISP = -32

EPILOGUE = b"\x4c\x8b\x65\xf0" b"\x48\x8b\x5d\xf8" b"\xc9\xc3"
"""mov r12, [rbp-16]; mov rbx, [rbp-8]; leave; ret."""


class Unsupported(Exception):
    """The function uses something this compiler does not cover (its batch takes the
    LLVM path)."""


def letter(valtype: int) -> str:
    found = TYPE_LETTER.get(valtype)
    if found is None:
        raise Unsupported(f"value type 0x{valtype:x}")
    return found


class Frame:
    """One open control construct.  ``height``: the operand stack depth below its
    params; ``fixups``: rel32 fields to patch with its end's address."""

    __slots__ = ("kind", "height", "params", "results", "fixups", "header", "else_fixup")

    def __init__(self, kind: str, height: int, params: str, results: str) -> None:
        self.kind = kind  # "block", "loop", "if", "else", "function"
        self.height = height
        self.params = params  # type letters
        self.results = results
        self.fixups: list[int] = []
        self.header = -1  # a loop's start
        self.else_fixup = -1  # an if's branch to its else (or end)


Handler = Callable[["FunctionCompiler", Any], None]


class FunctionCompiler:
    """Compiles one function into a batch's code buffer (``code``), adding to the
    batch's relocations.  :meth:`compile` raises :class:`Unsupported` for what
    ``handlers`` does not cover."""

    def __init__(self, info: ModuleInfo, func_index: int, code: bytearray,
                 relocations: list[tuple[int, str]], with_lines: bool) -> None:
        self.info = info
        self.layout = info.layout
        self.func_index = func_index
        self.c = code
        self.relocations = relocations
        self.with_lines = with_lines
        self.lines: list[tuple[int, int]] = []  # (code offset, wasm offset)
        self.st: list[str] = []  # the compile-time operand stack: type letters
        self.frames: list[Frame] = []
        self.traps: list[tuple[int, int, int]] = []  # (rel32 fixup, operand, wasm offset)
        # Loop headers' out-of-line OSR paths: (rel32 fixup, resume at, loop's offset,
        # its OSR slot number).
        self.osr_stubs: list[tuple[int, int, int, int]] = []
        self.offset = 0  # wasm offset of the instruction being compiled
        self.reachable = True
        self.dead_depth = 0
        self.max_depth = 0
        self.max_outgoing = 0
        # Deferred operands: stack index -> (kind, value) for a value not yet in its
        # slot: a local (LAZY_LOCAL, its displacement) or a constant (LAZY_I32: the
        # unsigned 32 bits; LAZY_I64: a value that fits a sign-extended imm32).  Only
        # the handlers in ``LAZY_AWARE`` see them; before any other the compile loop
        # stores them (``flush``).
        self.lazy: dict[int, tuple[int, int]] = {}
        # The operand stack index whose value rax also holds (an i32 or f32 one
        # zero-extended: a heap access takes rax as its index) after the previous
        # instruction (-1: none), and the same for xmm0 (a float result).  The handlers
        # in ``LAZY_AWARE`` keep them up to date; before any other the compile loop
        # forgets them, leaving their last values in ``rax_prev``/``xmm_prev`` (a branch
        # on a condition just computed tests rax).
        self.rax = -1
        self.xmm = -1
        # The operand stack index whose f32/f64 value xmm1 holds (-1: none): a float
        # heap load leaves its value there, so its consumer (arithmetic, a store,
        # local.set) reads a register, not a slot just written (a store-to-load
        # forwarding hop on a loop's critical path).  Kept like ``xmm``.
        self.xmm1 = -1
        # Whether xmm0 (xmm1) is the only holder of operand ``xmm`` (``xmm1``): a float
        # result is not stored into its slot while the next instructions take it from
        # the register (most die there: an operand of arithmetic, a stored value).
        # Before a register is reused for another value, or an instruction reads
        # slots, ``spill_xmm`` writes it.  Meaningful only while ``xmm`` (``xmm1``) is
        # not -1; the handlers drop the index once the value is popped (dead).
        self.xmm_dirty = False
        self.xmm1_dirty = False
        # The same for rax and an integer result (arithmetic, a heap load): its slot is
        # written by ``spill_rax`` only when rax is reused while it is alive, or before
        # an instruction that reads slots.
        self.rax_dirty = False
        # The rbp displacement of a local whose value xmm0 also holds (0: none): set by
        # a local.set/tee from xmm0, forgotten when xmm0 or the local changes, so that
        # ``local.tee x; local.get x; f64.mul`` squares in the register.
        self.xmm_local = 0
        # Float operands parked in xmm2-xmm7 instead of their slots when xmm0/xmm1 are
        # needed for something else: stack index -> register.  Read (and removed) by
        # the float handlers; ``place`` stores a parked operand into its slot first; the
        # compile loop drops popped ones after each instruction and stores them all
        # before an instruction that reads slots.
        self.fpool: dict[int, int] = {}
        self.rax_prev = -1
        self.xmm_prev = -1
        # An i32 comparison whose flags are still live: (its result's stack index, code
        # offset where its setcc starts, code length after it, condition code).  A
        # ``br_if``/``if`` right after it (no code between) cuts the 0/1 result and
        # jumps on the flags (``fuse_condition``); block boundaries forget it.
        self.condition: tuple[int, int, int, int] | None = None
        self.uses_heap = False
        self.heap_slack = 0  # once memory 0 is known static: the largest end unchecked
        self.sbase = 0
        self.local_types: list[str] = []
        self.results = ""

    # Slots --------------------------------------------------------------------------

    def slot(self, j: int) -> int:
        """rbp displacement of operand stack slot ``j``."""
        if j >= self.max_depth:
            self.max_depth = j + 1
        return self.sbase - 8 * j

    def top(self, k: int = 0) -> int:
        """rbp displacement of the slot ``k`` below the top of the operand stack."""
        return self.sbase - 8 * (len(self.st) - 1 - k)

    def discard_top(self) -> None:
        """Pop the top operand, forgetting its lazy form and the registers that held it."""
        self.st.pop()
        j = len(self.st)
        self.lazy.pop(j, None)
        if self.rax >= j:
            self.rax = -1
        if self.xmm >= j:
            self.xmm = -1
        if self.xmm1 >= j:
            self.xmm1 = -1

    def materialize(self, j: int) -> None:
        """Store deferred operand ``j`` into its slot (through rcx: rax keeps its value)."""
        kind, value = self.lazy.pop(j)
        d = self.sbase - 8 * j
        c = self.c
        if kind == LAZY_LOCAL:
            c += LOAD64_RCX[value]
            c += STORE64_RCX[d]
        elif kind == LAZY_I32:
            c += MOV32_IMM[d]
            c += value.to_bytes(4, "little")
        else:
            c += MOV64_IMM[d]
            c += (value & 0xFFFFFFFF).to_bytes(4, "little")

    def flush(self) -> None:
        """Store every deferred operand."""
        for j in sorted(self.lazy):
            self.materialize(j)

    def place(self, j: int) -> int:
        """rbp displacement holding operand ``j``'s value: its slot, or the local it
        defers (a deferred constant is stored into its slot first)."""
        lazy = self.lazy.get(j)
        if lazy is None:
            if j in self.fpool:
                self.settle(j)
            return self.sbase - 8 * j
        if lazy[0] == LAZY_LOCAL:
            del self.lazy[j]
            return lazy[1]
        self.materialize(j)
        return self.sbase - 8 * j

    def load_rax(self, j: int, w: int) -> None:
        """rax = operand ``j`` (32-bit loads zero-extend), wherever it is."""
        if self.rax_dirty and self.rax != j:
            self.spill_rax()  # another value, still alive
        if self.fpool and j in self.fpool:
            self.settle(j)
        lazy = self.lazy.pop(j, None)
        c = self.c
        if lazy is None:
            if self.rax != j:
                c += (LOAD64_RAX if w else LOAD32_RAX)[self.sbase - 8 * j]
        elif lazy[0] == LAZY_LOCAL:
            c += (LOAD64_RAX if w else LOAD32_RAX)[lazy[1]]
        elif lazy[0] == LAZY_I32:
            c += b"\xb8" + lazy[1].to_bytes(4, "little")
        else:
            c += b"\x48\xc7\xc0" + (lazy[1] & 0xFFFFFFFF).to_bytes(4, "little")

    def load_heap_index(self, j: int) -> None:
        """rax = operand ``j``, an i32 heap index, zero-extended whatever rax held: a
        heap access adds rax as 64 bits, so the zero upper half is what keeps it inside
        the reservation.  Not left to the invariant that a cached i32 in rax has it
        (``load_rax``): one ``mov eax, eax`` per access is cheap insurance."""
        cached = self.rax == j and j not in self.lazy
        self.load_rax(j, 0)
        if cached:
            self.c += b"\x89\xc0"  # mov eax, eax

    def park(self, index: int, src: int) -> None:
        """Move operand ``index``'s value, which only xmm ``src`` holds, into a free
        register of ``POOL_XMMS``, or into its slot when none is free."""
        used = self.fpool.values()
        for reg in POOL_XMMS:
            if reg not in used:
                self.c += bytes((0x0F, 0x28, 0xC0 | (reg << 3) | src))  # movaps reg, src
                self.fpool[index] = reg
                return
        self.c += (MOVSD_STORE_XMM0 if src == 0 else MOVSD_STORE_XMM1)[self.sbase - 8 * index]

    def settle(self, index: int) -> None:
        """Store parked operand ``index`` into its slot (it leaves the pool)."""
        reg = self.fpool.pop(index)
        self.c += mem(b"\x0f\x11", reg, RBP, self.sbase - 8 * index, 0, b"\xf2")

    def store_floats(self) -> None:
        """Write every float value only a register holds into its slot (before an
        instruction that reads slots or clobbers registers)."""
        if self.xmm_dirty:
            self.xmm_dirty = False
            if self.xmm >= 0:
                self.c += MOVSD_STORE_XMM0[self.sbase - 8 * self.xmm]
        if self.xmm1_dirty:
            self.xmm1_dirty = False
            if self.xmm1 >= 0:
                self.c += MOVSD_STORE_XMM1[self.sbase - 8 * self.xmm1]
        for index in sorted(self.fpool):
            self.settle(index)

    def spill_rax(self) -> None:
        """Store rax into its operand's slot if only rax holds it (8 bytes: an i32's
        zero-extended high half is no part of its value)."""
        if self.rax_dirty:
            self.rax_dirty = False
            if self.rax >= 0:
                self.c += STORE64_RAX[self.sbase - 8 * self.rax]

    def spill_xmm(self) -> None:
        """Park xmm0's value if only xmm0 holds it (``park``: into a free register of
        ``POOL_XMMS`` or its slot; 8 bytes, an f32 slot's high half being no part of
        its value)."""
        if self.xmm_dirty:
            self.xmm_dirty = False
            if self.xmm >= 0:
                self.park(self.xmm, 0)
                self.xmm = -1  # one holder per value: the pool's register now

    def spill_xmm1(self) -> None:
        """Park xmm1's value if only xmm1 holds it (``park``)."""
        if self.xmm1_dirty:
            self.xmm1_dirty = False
            if self.xmm1 >= 0:
                self.park(self.xmm1, 1)
                self.xmm1 = -1

    def fuse_condition(self) -> int | None:
        """For a branch on the top of the stack (already popped): when it is the
        comparison just compiled, remove that comparison's 0/1 materialization and
        return its condition code (the flags are still set); else None."""
        condition = self.condition
        if condition is None:
            return None
        self.condition = None
        index, start, end, cc = condition
        c = self.c
        if end != len(c) or index != len(self.st):
            return None
        del c[start:]
        lines = self.lines
        k = len(lines) - 1
        while k >= 0 and lines[k][0] > start:  # this branch's row (and empty ones)
            lines[k] = (start, lines[k][1])
            k -= 1
        return cc

    def push(self, ty: str) -> int:
        """Push a value of type ``ty``; its slot's displacement."""
        st = self.st
        j = len(st)
        st.append(ty)
        if j >= self.max_depth:
            self.max_depth = j + 1
        return self.sbase - 8 * j

    def local_type(self, index: int) -> str:
        return self.local_types[index]

    # Code helpers -------------------------------------------------------------------

    def here(self) -> int:
        return len(self.c)

    def patch(self, fixup: int, target: int) -> None:
        """Point the rel32 field at ``fixup`` to ``target``."""
        self.c[fixup:fixup + 4] = (target - fixup - 4).to_bytes(4, "little", signed=True)

    def jump_forward(self, cc: int | None = None) -> int:
        """A jmp (``cc`` None) or jcc with a rel32 to be patched; the field's offset."""
        c = self.c
        c += JMP32 if cc is None else jcc32(cc)
        c += b"\0\0\0\0"
        return len(c) - 4

    def jump_to(self, target: int, cc: int | None = None) -> None:
        c = self.c
        c += JMP32 if cc is None else jcc32(cc)
        c += (target - len(c) - 4).to_bytes(4, "little", signed=True)

    def call_symbol(self, symbol: str) -> None:
        """``movabs rax, symbol; call rax`` (R_X86_64_64: any distance)."""
        c = self.c
        self.relocations.append((len(c) + 2, symbol))
        c += movabs(RAX, 0)
        c += call_reg(RAX)

    def trap_if(self, cc: int, code: int) -> None:
        """Trap with ``code`` when condition ``cc`` holds (a cold stub at the end)."""
        fixup = self.jump_forward(cc)
        self.traps.append((fixup, abi.trap_operand(code, len(self.traps) + 1), self.offset))

    def trap(self, code: int) -> None:
        fixup = self.jump_forward()
        self.traps.append((fixup, abi.trap_operand(code, len(self.traps) + 1), self.offset))
        self.reachable = False

    def load_vmctx_field(self, reg: int, offset: int) -> None:
        """``mov reg, [rbx + offset]`` (64-bit)."""
        self.c += mem(b"\x8b", reg, RBX, offset, 1)

    def block_types(self, blocktype: int) -> tuple[str, str]:
        if blocktype == BLOCKTYPE_EMPTY:
            return "", ""
        if blocktype < 0:
            return "", letter(blocktype & 0x7F)
        ftype = self.info.module.types[blocktype]
        return ("".join(letter(p) for p in ftype.params),
                "".join(letter(r) for r in ftype.results))

    def copy_slot(self, src: int, dst: int) -> None:
        """Copy 8 bytes between two rbp-relative places."""
        c = self.c
        c += LOAD64_RAX[src]
        c += STORE64_RAX[dst]

    def branch(self, depth: int) -> None:
        """An unconditional branch to the frame ``depth`` levels out, its values on top
        of the stack."""
        frame = self.frames[-1 - depth]
        if frame.kind == "function":
            self.return_()
            return
        loop = frame.kind == "loop"
        count = len(frame.params if loop else frame.results)
        src = len(self.st) - count
        if src != frame.height:
            sbase = self.sbase
            for i in range(count):
                self.copy_slot(sbase - 8 * (src + i), sbase - 8 * (frame.height + i))
        if loop:
            self.jump_to(frame.header)
        else:
            frame.fixups.append(self.jump_forward())

    def return_(self) -> None:
        results = self.results
        c = self.c
        if results:
            ty = results[0]
            d = self.top()
            if ty == "i":
                c += mem(b"\x8b", RAX, RBP, d)
            elif ty == "l":
                c += mem(b"\x8b", RAX, RBP, d, 1)
            elif ty == "f":
                c += mem(b"\x0f\x10", 0, RBP, d, 0, b"\xf3")
            else:
                c += mem(b"\x0f\x10", 0, RBP, d, 0, b"\xf2")
        c += EPILOGUE

    def count_down(self, osr_loop: int | None = None) -> None:
        """Store count - 1 (the count in ecx) as the function's counter and the local
        count; call ``tier_up`` once when it goes negative (``translate/tiering.py``).
        ``osr_loop``: at the header of the loop at this wasm offset, where on-stack
        replacement may continue the function in tier-1 code (the slow path is an
        out-of-line stub instead, :meth:`osr_stub`)."""
        c = self.c
        number = self.func_index - self.info.num_imported_funcs
        c += b"\x83\xe9\x01"  # sub ecx, 1
        self.load_vmctx_field(RAX, self.layout.tier_counters)
        c += mem(b"\x89", RCX, RAX, COUNTER_SIZE * number)
        c += mem(b"\x89", RCX, RBP, COUNT_DISP)
        if osr_loop is not None:
            fixup = self.jump_forward(CC_S)
            self.osr_stubs.append((fixup, len(c), osr_loop,
                                   len(self.osr_stubs) % OSR_SLOTS_PER_FUNCTION))
            return
        skip = self.jump_forward(CC_NS)
        # Not when a loop of this function has asked for OSR (its tag in the slot): the
        # tier-up is requested already, and the loop's looks at a pending slot keep
        # writing small counts, which would bring every new frame here (a call into
        # Python, which waits for the GIL while a compile holds it).
        first = osr_slot_offset(len(self.info.module.codes), number, 0)
        c += mem(b"\x8b", RDX, RAX, first + 8, 1)  # mov rdx, [slot 0's tag]
        for slot in range(1, OSR_SLOTS_PER_FUNCTION):  # or rdx, [slot's tag]
            c += mem(b"\x0b", RDX, RAX, first + OSR_SLOT_SIZE * slot + 8, 1)
        asked = self.jump_forward(CC_NE)
        c += MOV_RDI_RBX
        c += mov_imm32(RSI, number)
        self.call_symbol(lc.TIER_UP.symbol)
        self.patch(asked, len(c))
        c += self.count_store(COUNTER_PARKED)
        self.patch(skip, len(c))

    def osr_stub(self, fixup: int, resume: int, loop_offset: int, slot_number: int) -> None:
        """The slow path of the count at the header of the loop at ``loop_offset``: look
        at the loop's OSR slot (``translate/tiering.py``) and, when it holds this
        loop's tier-1 entry, call it with the locals and return what it returns (this
        frame stays below it: the entry runs the rest of the function); ask the runtime
        (``tier_up_loop``) when the slot is not this loop's; otherwise count
        ``OSR_RECHECK`` more iterations (pending; ``OSR_RECHECK_ASKED`` when the runtime
        says ``OSR_ELSEWHERE``) or park the count (never)."""
        c = self.c
        self.patch(fixup, len(c))
        if self.with_lines:
            self.lines.append((len(c), loop_offset))
        number = self.func_index - self.info.num_imported_funcs
        slot = osr_slot_offset(len(self.info.module.codes), number, slot_number)
        # The tag, the entry, the tag again (``ModuleCode._write_osr_slot`` clears the
        # tag before an entry changes hands): never another loop's entry.
        self.load_vmctx_field(RCX, self.layout.tier_counters)
        tag = mem(b"\x81", 7, RCX, slot + 8, 1) + (loop_offset + 1).to_bytes(4, "little")
        c += tag
        ask = self.jump_forward(CC_NE)  # cmp qword [slot's tag], offset + 1
        c += mem(b"\x8b", RAX, RCX, slot, 1)  # mov rax, [slot's entry]
        c += tag
        ask_too = self.jump_forward(CC_NE)
        decide = len(c)  # rax: this loop's slot entry, or the runtime's answer
        c += b"\x48\x83\xf8" + bytes((OSR_NEVER,))  # cmp rax, OSR_NEVER
        enter = self.jump_forward(CC_A)
        never = self.jump_forward(CC_E)
        c += self.count_store(OSR_RECHECK)
        self.jump_to(resume)
        self.patch(never, len(c))
        c += self.count_store(COUNTER_PARKED)
        self.jump_to(resume)
        self.patch(enter, len(c))
        c += MOV_RDI_RBX
        c += mem(b"\x8d", RSI, RBP, LOCALS_DISP, 1)  # lea rsi, [local 0]
        c += call_reg(RAX)
        c += EPILOGUE  # the entry's result is in rax / xmm0 already
        self.patch(ask, len(c))
        self.patch(ask_too, len(c))
        c += MOV_RDI_RBX + mov_imm32(RSI, number) + mov_imm32(RDX, loop_offset)
        c += mov_imm32(RCX, slot_number)
        self.call_symbol(lc.TIER_UP_LOOP.symbol)
        c += b"\x48\x83\xf8" + bytes((OSR_ELSEWHERE,))  # cmp rax, OSR_ELSEWHERE
        self.jump_to(decide, CC_NE)  # an entry, pending or never: as a slot's value
        # The slot is another loop's: every look would be a call, so look less often.
        c += self.count_store(OSR_RECHECK_ASKED)
        self.jump_to(resume)

    def count_store(self, value: int) -> bytes:
        """``mov dword [rbp + COUNT_DISP], value``: the frame's tier-up count."""
        return mem(b"\xc7", 0, RBP, COUNT_DISP) + value.to_bytes(4, "little")

    # The function ------------------------------------------------------------------

    def compile(self, handlers: Mapping[int, Handler]) -> int:
        """Compile the function at the end of the code buffer; returns its start."""
        info = self.info
        module = info.module
        first = info.num_imported_funcs
        body = module.codes[self.func_index - first]
        ftype = info.func_types[self.func_index]
        if len(ftype.results) > 1:
            raise Unsupported("multi-value results")
        params = [letter(p) for p in ftype.params]
        results = "".join(letter(r) for r in ftype.results)
        self.results = results
        local_types = params + [letter(t) for t in body.locals]
        self.local_types = local_types
        nlocals = len(local_types)
        self.sbase = LOCALS_DISP - 8 * nlocals
        c = self.c
        c.extend(bytes((-len(c)) % 16))
        start = len(c)
        instrs = body.instrs
        self.offset = instrs[0].offset if instrs else 0
        if self.with_lines:
            self.lines.append((start, self.offset))
        # Prologue: saved registers, then the frame, allocated only once the stack limit
        # allows it: rsp never goes below the limit (the limit may be 64 KiB above the
        # thread stack's end, and a frame may be larger), so the overflow trap's call,
        # and any signal delivered meanwhile, still land on mapped stack.  The frame
        # size is patched in at the end.
        c += push(RBP) + mov_rr(RBP, 0x4) + push(RBX) + push(R12)
        c += mov_rr(RBX, RDI)
        # The stack limit: a thread-local word at fs:[pyjitwasm_stack_limit_tls].
        self.relocations.append((len(c) + 2, abi.STACK_LIMIT_TLS_SYMBOL))
        c += movabs(RAX, 0)
        c += b"\x64\x48\x8b\x00"  # mov rax, fs:[rax]
        c += b"\x4c\x8d\x9c\x24\0\0\0\0"  # lea r11, [rsp - frame] (r11: no argument)
        frame_size_at = len(c) - 4
        c += b"\x49\x39\xc3"  # cmp r11, rax
        overflow = self.jump_forward(CC_B)
        self.traps.append((overflow, 0, self.offset))
        c += b"\x4c\x89\xdc"  # mov rsp, r11
        # Parameters into their locals (SysV: integers in rdx, rcx, r8, r9 after the
        # two vmctx arguments, floats in xmm0-7, the rest on the stack in order).
        ints = floats = stacked = 0
        for i, ty in enumerate(params):
            d = LOCALS_DISP - 8 * i
            if ty in "il":
                if ints < len(INT_ARG_REGS):
                    c += mem(b"\x89", INT_ARG_REGS[ints], RBP, d, 1)
                    ints += 1
                    continue
            elif floats < FLOAT_ARG_REGS:
                c += mem(b"\x0f\x11", floats, RBP, d, 0, b"\xf2")  # movsd [d], xmmN
                floats += 1
                continue
            c += mem(b"\x8b", RAX, RBP, 16 + 8 * stacked, 1)
            c += mem(b"\x89", RAX, RBP, d, 1)
            stacked += 1
        zeroed = nlocals - len(params)
        if zeroed > 6:
            # lea rdi, [lowest local]; xor eax, eax; mov ecx, count; rep stosq
            c += mem(b"\x8d", RDI, RBP, LOCALS_DISP - 8 * (nlocals - 1), 1)
            c += b"\x31\xc0" + mov_imm32(RCX, zeroed) + b"\xf3\x48\xab"
        else:
            for i in range(len(params), nlocals):
                c += mem(b"\xc7", 0, RBP, LOCALS_DISP - 8 * i, 1) + b"\0\0\0\0"
        heap_at = len(c)  # the heap base load goes here if the body uses memory
        # The entry count (translate/tiering.count_function_entry).
        self.load_vmctx_field(RAX, self.layout.tier_counters)
        number = self.func_index - first
        c += mem(b"\x8b", RCX, RAX, COUNTER_SIZE * number)
        self.count_down()
        self.frames.append(Frame("function", 0, "", results))
        lines = self.lines if self.with_lines else None
        get = handlers.get
        aware = LAZY_AWARE
        for instr in instrs:
            code, imm, offset = instr
            if self.reachable:
                handler = get(code)
                if handler is None:
                    raise Unsupported(op.OPS[code].name if code in op.OPS else str(code))
                self.offset = offset
                if lines is not None:
                    lines.append((len(c), offset))
                if code not in aware:
                    if self.lazy:
                        self.flush()
                    self.rax_prev = self.rax
                    self.xmm_prev = self.xmm
                    if self.rax_dirty:
                        self.spill_rax()
                    if self.xmm_dirty or self.xmm1_dirty or self.fpool:
                        self.store_floats()
                    self.rax = self.xmm = self.xmm1 = -1
                    self.xmm_local = 0
                handler(self, imm)
                pool = self.fpool
                if pool:
                    depth = len(self.st)
                    for index in [k for k in pool if k >= depth]:
                        del pool[index]  # popped: dead
            else:
                self.skip(instr, handlers)
        for fixup, resume, loop_offset, slot_number in self.osr_stubs:
            self.osr_stub(fixup, resume, loop_offset, slot_number)
        # Trap stubs (cold, one per site so each keeps its own wasm offset).
        for fixup, operand, offset in self.traps:
            self.patch(fixup, len(c))
            if lines is not None:
                lines.append((len(c), offset))
            c += MOV_RDI_RBX + mov_imm32(RSI, operand)
            self.call_symbol(abi.TRAP_SYMBOL)
            c += b"\xcc"  # never returns; keeps the return address inside this stub
        if self.uses_heap:
            base_code = self.heap_base_code()
            c[heap_at:heap_at] = base_code
            shift = len(base_code)
            # Everything after heap_at moved: relocations, lines (jumps are relative and
            # all within the function, or backward into it from after heap_at).
            self.relocations[:] = [(at + shift if at >= heap_at else at, name)
                                   for at, name in self.relocations]
            if lines is not None:
                self.lines = [(at + shift if at > heap_at else at, off) for at, off in lines]
            self.fix_moved_jumps(heap_at, shift)
        size = (8 + 8 * nlocals + 8 * self.max_depth + 8 * self.max_outgoing + 15) & ~15
        if size > MAX_FRAME:
            raise Unsupported("frame too large")
        c[frame_size_at:frame_size_at + 4] = (-size).to_bytes(4, "little", signed=True)
        return start

    def heap_base_code(self) -> bytes:
        """``mov r12, [heap base]`` for memory 0 (a static heap: it never moves)."""
        layout = self.layout
        if layout.num_imported_memories:
            code = mem(b"\x8b", RAX, RBX, layout.imported_memory(0), 1)
            code += mem(b"\x8b", R12, RAX, MEMORY_DEF_BASE, 1)
            return code
        return mem(b"\x8b", R12, RBX, layout.memory(0) + MEMORY_DEF_BASE, 1)

    def fix_moved_jumps(self, at: int, shift: int) -> None:
        """After inserting ``shift`` bytes at ``at``: the prologue's stack-overflow jcc
        (the only rel32 before ``at`` that points past it) must grow by ``shift``."""
        fixup = self.traps[0][0]
        old = int.from_bytes(self.c[fixup:fixup + 4], "little", signed=True)
        self.c[fixup:fixup + 4] = (old + shift).to_bytes(4, "little", signed=True)

    def skip(self, instr: Any, handlers: Mapping[int, Handler]) -> None:
        """Dead code: track nesting until the construct that made it dead ends."""
        code = instr.op
        if code == op.BLOCK or code == op.LOOP or code == op.IF:
            self.dead_depth += 1
        elif code == op.END:
            if self.dead_depth:
                self.dead_depth -= 1
            else:
                self.offset = instr.offset
                handlers[op.END](self, None)
        elif code == op.ELSE and not self.dead_depth:
            self.offset = instr.offset
            handlers[op.ELSE](self, None)


__all__ = ["EPILOGUE", "FLOAT_ARG_REGS", "INT_ARG_REGS", "LAZY_AWARE", "LAZY_I32", "LAZY_I64",
           "LAZY_LOCAL", "Frame", "FunctionCompiler", "Handler", "Unsupported", "letter"]
