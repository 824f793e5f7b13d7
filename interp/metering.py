"""The interpreter's interruption checks and fuel metering (``Config.epoch_interruption``,
``Config.consume_fuel``), the counterpart of the JIT's ``translate/interrupts.py``.

Compiled bodies get ``METER`` entries only when the engine asks for metering
(``Metering``), so the code of an engine without it is unchanged. ``METER a, b``:
add ``a`` to the store's consumed fuel, then make the checks of ``b`` (``CHECK_FUEL``,
``CHECK_EPOCH``). The compiler puts a check entry first in every body and at every loop
label (so every back-edge runs it), and, with fuel, one charge entry at the start of each
straight-line run of instructions, holding the cost of the run, which ends before the
instructions of ``wasm.fuel.CHARGE_BEFORE``: the JIT adds the same costs at the end of
the same runs, so checks see the same totals on both engines.
"""

from __future__ import annotations

from dataclasses import dataclass

CHECK_FUEL = 1
CHECK_EPOCH = 2


@dataclass(frozen=True, slots=True)
class Metering:
    """Which checks the interpreter's compiled bodies make."""

    fuel: bool = False
    epoch: bool = False

    @property
    def checks(self) -> int:
        """The ``b`` operand of a check entry (0: no checks at all)."""
        return (CHECK_FUEL if self.fuel else 0) | (CHECK_EPOCH if self.epoch else 0)
