"""Instruction immediates that are more than a number: condition codes and memory flags."""

from __future__ import annotations

from dataclasses import dataclass

INT_CONDS = ("eq", "ne", "slt", "sge", "sgt", "sle", "ult", "uge", "ugt", "ule")
"""``icmp`` condition codes."""

FLOAT_CONDS = ("eq", "ne", "lt", "le", "gt", "ge", "ord", "uno", "one", "ueq", "ult", "ule",
               "ugt", "uge")
"""``fcmp`` condition codes. ``eq``, ``lt``, ``le``, ``gt``, ``ge``, ``one`` and ``ord`` are
false when an operand is NaN; ``ne``, ``uno``, ``ueq`` and the ``u*`` orderings are true."""


def eval_int_cond(cond: str, a: int, b: int, bits: int) -> bool:
    """Evaluate an integer condition on two values given as unsigned bit patterns."""
    sign = 1 << (bits - 1)
    sa, sb = (a ^ sign) - sign, (b ^ sign) - sign
    return {
        "eq": a == b, "ne": a != b,
        "slt": sa < sb, "sge": sa >= sb, "sgt": sa > sb, "sle": sa <= sb,
        "ult": a < b, "uge": a >= b, "ugt": a > b, "ule": a <= b,
    }[cond]


_FLAG_ORDER = ("notrap", "aligned", "readonly", "little", "atomic")


@dataclass(frozen=True, slots=True)
class MemFlags:
    """Facts about a memory access.

    ``notrap``: the address is known valid (no fault handling needed); ``aligned``: the
    address is naturally aligned; ``readonly``: the location never changes while the
    function runs (a back end may mark the load invariant); ``little``: little-endian
    (wasm memory) rather than native byte order (identical on x86-64, kept for clarity);
    ``atomic``: another thread may write the location at any time, so every execution
    of the access reads (writes) it afresh, never a value a back end kept from an
    earlier one (a relaxed, unordered-with-other-accesses atomic access; aligned).
    """

    notrap: bool = False
    aligned: bool = False
    readonly: bool = False
    little: bool = False
    atomic: bool = False

    def names(self) -> list[str]:
        """The set flags in their canonical text order."""
        return [name for name in _FLAG_ORDER if getattr(self, name)]

    def __str__(self) -> str:
        return " ".join(self.names())

    @staticmethod
    def flag_names() -> tuple[str, ...]:
        return _FLAG_ORDER


TRUSTED = MemFlags(notrap=True, aligned=True)
"""Flags for accesses to runtime-owned data (vmctx fields)."""
WASM_HEAP = MemFlags(little=True)
"""Flags for a wasm linear-memory access: may fault, any alignment, little-endian."""
