"""The loop structure of a function body, as the tier-0 compilers' rules need it."""

from __future__ import annotations

from collections.abc import Sequence

from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import Instr


def has_nested_loop(instrs: Sequence[Instr]) -> bool:
    """Whether a function body has a ``loop`` inside another ``loop``."""
    kinds: list[bool] = []  # the open blocks: loop or not
    loops = 0
    for instr in instrs:
        code = instr.op
        if code == op.LOOP:
            if loops:
                return True
            loops += 1
            kinds.append(True)
        elif code == op.BLOCK or code == op.IF:
            kinds.append(False)
        elif code == op.END and kinds and kinds.pop():
            loops -= 1
    return False


__all__ = ["has_nested_loop"]
