"""What the x86-64 tier 0's tests share: the direct tier 0's differential cases
(``tests/baseline/test_direct_tier0.py``: a module compiled at tier 0 and run against
the interpreter), loaded once, and the tier-0 coverage counts."""

from __future__ import annotations

from typing import Any

from pyjitwasm.x64 import tier0

from support.module_files import ROOT, load_module_file

CASES: Any = load_module_file(ROOT / "tests" / "baseline" / "test_direct_tier0.py",
                              "direct_tier0_cases")


def x64_counts() -> tuple[int, int]:
    """(functions compiled by ``x64/``, functions that fell back to LLVM) so far."""
    return tier0.STATS.functions, tier0.STATS.fallback_functions
