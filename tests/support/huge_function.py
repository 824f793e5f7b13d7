"""A generated wasm module with one very large function, emitted as binary directly.

``huge_function_module(n)`` returns a module exporting ``run(a: i32, b: i32) -> i32``
(and a one-page ``memory``) whose body has about ``n`` instructions: straight-line i32,
i64 and f64 arithmetic on eight locals, memory loads and stores, ``block``/``br_if``,
``if``/``else``, ``br_table`` and short counted loops, with every few chunks wrapped in
another enclosing ``block`` (nesting up to ``MAX_DEPTH``), like the one giant function
of a generated parser or an unrolled interpreter.  Every instruction runs (the loops a
few times each), so the result checks the whole body; the body depends on ``a`` and
``b`` so nothing folds to a constant.

Used by ``bench/frontend.py`` (a million instructions) and the JIT test of large
functions (``tests/jit/test_large_function.py``, 100k).  No wasm-tools needed: the
bytes are written here, the decoder and validator of both engines check them.
"""

from __future__ import annotations

import struct

from support.wasm_bytes import section, sleb, uleb

HEADER = b"\x00asm\x01\x00\x00\x00"
MAX_DEPTH = 12

I32, I64, F64 = 0x7F, 0x7E, 0x7C
# Locals: 0, 1 the i32 parameters; 2..5 i32; 6 i64; 7 f64.
_LOCALS = [(4, I32), (1, I64), (1, F64)]

# Opcodes used (one byte each unless noted).
BLOCK, LOOP, IF, ELSE, END, BR, BR_IF, BR_TABLE = 0x02, 0x03, 0x04, 0x05, 0x0B, 0x0C, 0x0D, 0x0E
LOCAL_GET, LOCAL_SET, LOCAL_TEE = 0x20, 0x21, 0x22
I32_LOAD, I32_STORE = 0x28, 0x36
I32_CONST, I64_CONST, F64_CONST = 0x41, 0x42, 0x44
I32_EQZ = 0x45
I32_ADD, I32_SUB, I32_MUL, I32_AND, I32_OR, I32_XOR, I32_SHL, I32_SHR_U, I32_ROTL = (
    0x6A, 0x6B, 0x6C, 0x71, 0x72, 0x73, 0x74, 0x76, 0x77)
I64_ADD, I64_MUL, I64_XOR, I64_SHR_U = 0x7C, 0x7E, 0x85, 0x88
F64_ADD, F64_MUL = 0xA0, 0xA2
I32_WRAP_I64, I64_EXTEND_I32_U, F64_CONVERT_I32_S = 0xA7, 0xAD, 0xB7
I32_TRUNC_SAT_F64_S = b"\xfc\x02"
VOID = 0x40


def _vec(items: list[bytes]) -> bytes:
    return uleb(len(items)) + b"".join(items)


class _Body:
    """Instruction bytes with a running instruction count."""

    def __init__(self) -> None:
        self.code = bytearray()
        self.count = 0

    def op(self, opcode: int, *immediates: bytes) -> None:
        self.code.append(opcode)
        for imm in immediates:
            self.code += imm
        self.count += 1

    def get(self, local: int) -> None:
        self.op(LOCAL_GET, uleb(local))

    def set(self, local: int) -> None:
        self.op(LOCAL_SET, uleb(local))

    def i32(self, value: int) -> None:
        self.op(I32_CONST, sleb(value))


def _chunk(body: _Body, k: int) -> None:
    """One of several shapes of code (about 10-25 instructions), chosen by ``k``."""
    c = 1 + (k * 7919) % 1000
    a, b, x, y, z, w = 0, 1, 2, 3, 4, 5
    shape = k % 8
    if shape == 0:  # straight-line i32 arithmetic
        body.get(a), body.get(b), body.op(I32_ADD), body.i32(c), body.op(I32_MUL), body.set(x)
        body.get(x), body.i32(c % 31), body.op(I32_ROTL), body.get(y), body.op(I32_XOR)
        body.set(y)
    elif shape == 1:  # block + br_if
        body.op(BLOCK, bytes([VOID]))
        body.get(y), body.i32(c), body.op(I32_AND), body.op(BR_IF, uleb(0))
        body.get(z), body.i32(1), body.op(I32_ADD), body.set(z)
        body.op(END)
    elif shape == 2:  # if / else
        body.get(x), body.i32(1 << (c % 5)), body.op(I32_AND)
        body.op(IF, bytes([VOID]))
        body.get(w), body.get(x), body.op(I32_SUB), body.set(w)
        body.op(ELSE)
        body.get(w), body.get(y), body.op(I32_ADD), body.set(w)
        body.op(END)
    elif shape == 3:  # i64 arithmetic
        body.get(6), body.get(x), body.op(I64_EXTEND_I32_U), body.op(I64_ADD)
        body.op(I64_CONST, sleb(c * 2654435761)), body.op(I64_MUL)
        body.get(6), body.op(I64_CONST, sleb(29)), body.op(I64_SHR_U), body.op(I64_XOR)
        body.set(6)
    elif shape == 4:  # f64 arithmetic
        body.get(7), body.get(y), body.op(F64_CONVERT_I32_S), body.op(F64_ADD)
        body.op(F64_CONST, struct.pack("<d", 0.5 + (c % 7) / 16)), body.op(F64_MUL)
        body.set(7)
    elif shape == 5:  # memory store and load (a 1 KiB window of the page)
        body.get(x), body.i32(1020), body.op(I32_AND), body.get(y), body.op(I32_STORE, b"\x02",
                                                                               b"\x00")
        body.get(y), body.i32(c * 4 % 1024), body.op(I32_XOR), body.i32(1020), body.op(I32_AND)
        body.op(I32_LOAD, b"\x02", b"\x00"), body.get(z), body.op(I32_ADD), body.set(z)
    elif shape == 6:  # br_table out of nested blocks
        body.op(BLOCK, bytes([VOID])), body.op(BLOCK, bytes([VOID])), body.op(BLOCK, bytes([VOID]))
        body.get(x), body.i32(3), body.op(I32_AND)
        body.op(BR_TABLE, _vec([uleb(0), uleb(1), uleb(2)]) + uleb(1))
        body.op(END)
        body.get(z), body.i32(c), body.op(I32_XOR), body.set(z)
        body.op(END)
        body.get(w), body.i32(3), body.op(I32_SHL), body.get(z), body.op(I32_OR), body.set(w)
        body.op(END)
    else:  # a counted loop of 1-4 iterations
        body.get(y), body.i32(3), body.op(I32_AND), body.i32(1), body.op(I32_ADD), body.set(a)
        body.op(LOOP, bytes([VOID]))
        body.get(x), body.get(a), body.op(I32_ADD), body.i32(c), body.op(I32_XOR), body.set(x)
        body.get(a), body.i32(1), body.op(I32_SUB), body.op(LOCAL_TEE, uleb(a))
        body.op(BR_IF, uleb(0))
        body.op(END)
        # Keep local 0 (a) an input for later chunks.
        body.get(x), body.get(b), body.op(I32_XOR), body.set(a)


def huge_function_body(instructions: int) -> tuple[bytes, int]:
    """(code bytes of ``run``'s body including its locals and final ``end``, the number of
    instructions in it)."""
    body = _Body()
    locals_decl = _vec([uleb(count) + bytes([ty]) for count, ty in _LOCALS])
    depth = 0
    k = 0
    while body.count < instructions - 40:
        # Every 16 chunks open another enclosing block; close them all at MAX_DEPTH.
        if k % 16 == 0:
            if depth == MAX_DEPTH:
                for _ in range(depth):
                    body.op(END)
                depth = 0
            body.op(BLOCK, bytes([VOID]))
            depth += 1
        _chunk(body, k)
        k += 1
    for _ in range(depth):
        body.op(END)
    # The result mixes every local.
    body.get(2), body.get(3), body.op(I32_ADD), body.get(4), body.op(I32_XOR), body.get(5)
    body.op(I32_ADD), body.get(6), body.op(I32_WRAP_I64), body.op(I32_XOR)
    body.get(7), body.op(0xFC, I32_TRUNC_SAT_F64_S[1:]), body.op(I32_ADD)
    body.op(END)
    return locals_decl + bytes(body.code), body.count


def huge_function_module(instructions: int) -> bytes:
    """A module exporting ``run(i32, i32) -> i32`` with about ``instructions`` wasm
    instructions in it, and its ``memory``."""
    code, _ = huge_function_body(instructions)
    return module_with_bodies([code])


def module_with_bodies(bodies: list[bytes]) -> bytes:
    """A module with one memory page (exported as ``memory``) and one function of type
    ``(i32, i32) -> i32`` per body (made by ``huge_function_body``); the first is
    exported as ``run``."""
    functype = b"\x60" + _vec([bytes([I32]), bytes([I32])]) + _vec([bytes([I32])])
    exports = _vec([
        uleb(3) + b"run" + b"\x00" + uleb(0),
        uleb(6) + b"memory" + b"\x02" + uleb(0),
    ])
    return (HEADER
            + section(1, _vec([functype]))
            + section(3, _vec([uleb(0)] * len(bodies)))
            + section(5, _vec([b"\x00" + uleb(1)]))
            + section(7, exports)
            + section(10, _vec([uleb(len(code)) + code for code in bodies])))


__all__ = ["huge_function_body", "huge_function_module", "module_with_bodies"]
