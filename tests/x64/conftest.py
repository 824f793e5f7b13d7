"""Fixtures of the x86-64 tier 0's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def x64(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tier 0 by ``x64/`` where it covers a batch, and no tier-up."""
    monkeypatch.setenv("PYJITWASM_TIER0_X64", "1")
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "2000000000")
    monkeypatch.delenv("PYJITWASM_TIERS", raising=False)


@pytest.fixture
def x64_everywhere(x64: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """As ``x64``, small batches with nested loops included (``x64/tier0.py``'s rule)."""
    monkeypatch.setenv("PYJITWASM_TIER0_X64_NESTED_LOOPS", "1")
