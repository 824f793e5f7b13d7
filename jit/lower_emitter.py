"""What a lowering written outside ``jit/lower.py`` may use of the function being lowered.

``lower.py``'s per-function lowering object satisfies this protocol structurally, so
lowering modules (``lower_simd.py`` ...) take an ``Emitter`` and stay free of an import
of ``lower.py``, which imports them to build its ``LOWERINGS`` table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pyjitwasm.ir import types as t
from pyjitwasm.ir.entities import Inst, Value
from pyjitwasm.ir.immediates import MemFlags


class IntrinsicDeclarer(Protocol):
    """Collects the ``declare`` lines of the intrinsics a module uses."""

    def intrinsic(self, name: str, ret: str, params: list[str]) -> str:
        """Declare intrinsic ``@name`` (once per module) and return ``@name``."""
        ...


class Emitter(Protocol):
    """The lowering state of one function, as lowerings see it."""

    @property
    def decls(self) -> IntrinsicDeclarer:
        """Where intrinsic declarations go."""
        ...

    @property
    def bools(self) -> dict[Value, str]:
        """The ``i1`` form of values that have one (a branch on them tests it directly)."""
        ...

    def fresh(self, hint: str = "t") -> str:
        """A new LLVM temporary name (``%hintN``)."""
        ...

    def emit(self, line: str) -> None:
        """Append one instruction line to the current LLVM block."""
        ...

    def type_of(self, v: Value) -> t.Type:
        """The IR type of ``v``."""
        ...

    def op(self, v: Value) -> str:
        """The operand spelling of ``v`` (a name or a literal)."""
        ...

    def typed(self, v: Value) -> str:
        """``v`` with its LLVM type in front (``<4 x i32> %v3``)."""
        ...

    def result(self, inst: Inst) -> Value:
        """The first result of ``inst``."""
        ...

    def simple(self, inst: Inst, expr: str) -> str:
        """Define ``inst``'s result as ``expr``; returns its LLVM name."""
        ...

    def address(self, base: Value, offset: int) -> str:
        """A ``ptr`` to ``base + offset``."""
        ...

    def access(self, flags: MemFlags, size: int) -> tuple[str, str]:
        """(alignment, metadata) of a memory access of ``size`` bytes."""
        ...

    def intrinsic_call(self, inst: Inst, base: str, args: Sequence[Value]) -> None:
        """Define ``inst``'s result as ``llvm.BASE.<type of args[0]>(args)``."""
        ...
