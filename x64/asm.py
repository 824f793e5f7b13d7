"""Just enough of an x86-64 encoder for the single-pass tier 0 (``emitter``).

Every helper returns the bytes of one instruction; memory operands are ``[base + disp]``
with the smallest displacement that fits (``mem``), or the heap form
``[r12 + rax + disp32]`` (``heap``).  Register numbers are the hardware ones (``RAX`` = 0
... ``R15`` = 15); REX prefixes are added when an operand needs them or ``w`` asks for a
64-bit operation.  Mandatory prefixes (``66``/``F2``/``F3``) go before the REX byte, as the
Intel manual requires.
"""

from __future__ import annotations

from collections.abc import Callable

RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI = range(8)
R8, R9, R10, R11, R12, R13, R14, R15 = range(8, 16)


def _rex(w: int, reg: int, index: int, base: int) -> int:
    return 0x40 | (w << 3) | ((reg >> 3) << 2) | ((index >> 3) << 1) | (base >> 3)


def _modrm_mem(reg: int, base: int, disp: int) -> bytes:
    r = (reg & 7) << 3
    b = base & 7
    sib = b"\x24" if b == 4 else b""
    if disp == 0 and b != 5:
        return bytes((r | b,)) + sib
    if -128 <= disp < 128:
        return bytes((0x40 | r | b,)) + sib + bytes((disp & 0xFF,))
    return bytes((0x80 | r | b,)) + sib + disp.to_bytes(4, "little", signed=True)


_MEM_CACHE: dict[tuple[bytes, int, int, int, int, bytes], bytes] = {}


def mem(op: bytes, reg: int, base: int, disp: int, w: int = 0, pre: bytes = b"") -> bytes:
    """``op reg, [base + disp]`` (or the store direction, as ``op`` says); ``reg`` may be
    an opcode extension (``/digit``).  Cached: the same few shapes recur constantly."""
    key = (op, reg, base, disp, w, pre)
    found = _MEM_CACHE.get(key)
    if found is not None:
        return found
    rex = _rex(w, reg, 0, base)
    out = pre + (bytes((rex,)) if rex != 0x40 else b"") + op + _modrm_mem(reg, base, disp)
    if len(_MEM_CACHE) < 100_000:
        _MEM_CACHE[key] = out
    return out


def heap(op: bytes, reg: int, disp: int, w: int = 0, pre: bytes = b"",
         byte_reg: bool = False) -> bytes:
    """``op reg, [r12 + rax + disp32]`` (a heap access: r12 holds the heap base, rax
    the zero-extended index).  ``byte_reg``: ``reg`` is a byte register (REX is always
    present here, so 4-7 are spl..dil, never ah..bh)."""
    rex = _rex(w, reg, 0, R12)
    return (pre + bytes((rex,)) + op + bytes((0x84 | ((reg & 7) << 3), 0x04))
            + disp.to_bytes(4, "little", signed=True))


def rr(op: bytes, reg: int, rm: int, w: int = 0, pre: bytes = b"") -> bytes:
    """``op reg, rm`` with both operands registers (ModRM mod = 11)."""
    rex = _rex(w, reg, 0, rm)
    return (pre + (bytes((rex,)) if rex != 0x40 else b"") + op
            + bytes((0xC0 | ((reg & 7) << 3) | (rm & 7),)))


def mov_rr(dst: int, src: int, w: int = 1) -> bytes:
    """``mov dst, src``."""
    return rr(b"\x89", src, dst, w)


def mov_imm32(reg: int, value: int) -> bytes:
    """``mov r32, imm32`` (zero-extends into the 64-bit register)."""
    rex = b"\x41" if reg >= 8 else b""
    return rex + bytes((0xB8 + (reg & 7),)) + (value & 0xFFFFFFFF).to_bytes(4, "little")


def movabs(reg: int, value: int) -> bytes:
    """``movabs r64, imm64``; its immediate is at byte 2 (where a relocation goes)."""
    return bytes((0x48 | (reg >> 3), 0xB8 + (reg & 7))) + (value & (2**64 - 1)).to_bytes(
        8, "little")


def push(reg: int) -> bytes:
    return (b"\x41" if reg >= 8 else b"") + bytes((0x50 + (reg & 7),))


def call_reg(reg: int) -> bytes:
    """``call reg``."""
    return (b"\x41" if reg >= 8 else b"") + bytes((0xFF, 0xD0 + (reg & 7)))


JMP32 = b"\xe9"
"""``jmp rel32`` (the 4-byte displacement follows)."""


def jcc32(cc: int) -> bytes:
    """``jcc rel32``'s opcode bytes for condition code ``cc`` (0x0-0xF); the 4-byte
    displacement follows."""
    return bytes((0x0F, 0x80 + cc))


# Condition codes (the low nibble of jcc/setcc/cmovcc).
CC_O, CC_NO, CC_B, CC_AE, CC_E, CC_NE, CC_BE, CC_A = range(8)
CC_S, CC_NS, CC_P, CC_NP, CC_L, CC_GE, CC_LE, CC_G = range(8, 16)


def setcc(cc: int, reg: int) -> bytes:
    """``setcc r8`` for ``reg`` in al..bl (no REX)."""
    return bytes((0x0F, 0x90 + cc, 0xC0 + reg))


class Encodings(dict[int, bytes]):
    """displacement -> the bytes of one instruction shape with an ``[rbp + disp]``
    operand, encoded on first use: the hot handlers index these instead of encoding
    (a dict subscript is the cheapest thing Python does per instruction)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[int], bytes]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, disp: int) -> bytes:
        encoded = self[disp] = self.make(disp)
        return encoded


def rbp_table(op: bytes, reg: int, w: int = 0, pre: bytes = b"",
              tail: bytes = b"") -> Encodings:
    """The :class:`Encodings` of ``op reg, [rbp + disp]`` (then ``tail``, e.g. an
    immediate's first bytes)."""
    return Encodings(lambda disp: mem(op, reg, RBP, disp, w, pre) + tail)


LOAD32_RAX = rbp_table(b"\x8b", RAX)
LOAD64_RAX = rbp_table(b"\x8b", RAX, 1)
STORE32_RAX = rbp_table(b"\x89", RAX)
STORE64_RAX = rbp_table(b"\x89", RAX, 1)
LOAD32_RCX = rbp_table(b"\x8b", RCX)
LOAD64_RCX = rbp_table(b"\x8b", RCX, 1)
STORE32_RCX = rbp_table(b"\x89", RCX)
STORE64_RCX = rbp_table(b"\x89", RCX, 1)
CMP32_ZERO = rbp_table(b"\x83", 7, 0, b"", b"\x00")
"""``cmp dword [rbp + disp], 0``."""
MOV32_IMM = rbp_table(b"\xc7", 0)
"""``mov dword [rbp + disp], imm32`` (the immediate follows)."""
MOV64_IMM = rbp_table(b"\xc7", 0, 1)
"""``mov qword [rbp + disp], simm32`` (the immediate follows)."""


MOV_RDI_RBX = mov_rr(RDI, RBX)
"""``mov rdi, rbx``: the vmctx as a call's first argument."""
MOV_RSI_RBX = mov_rr(RSI, RBX)
"""``mov rsi, rbx``: the vmctx as a wasm call's caller vmctx."""


__all__ = ["MOV_RDI_RBX", "MOV_RSI_RBX", "CC_A", "CC_AE", "CC_B", "CC_BE", "CC_E", "CC_G",
           "CC_GE", "CC_L", "CC_LE", "CC_NE",
           "CC_NP", "CC_NS", "CC_O", "CC_P", "CC_S", "CMP32_ZERO", "JMP32", "LOAD32_RAX",
           "LOAD32_RCX", "LOAD64_RAX", "LOAD64_RCX", "MOV32_IMM", "MOV64_IMM", "R8", "R9",
           "R10", "R11", "R12", "RAX", "RBP", "RBX", "RCX", "RDI", "RDX", "RSI", "RSP",
           "STORE32_RAX", "STORE32_RCX", "STORE64_RAX", "STORE64_RCX", "Encodings", "call_reg",
           "heap", "jcc32", "mem", "mov_imm32", "mov_rr", "movabs", "push", "rbp_table", "rr",
           "setcc"]
