"""Counting LLVM compiles in a test: a warm start or a loaded artifact must make none."""

from __future__ import annotations

from typing import Any

import pytest

from pyjitwasm.jit.codeload import CodeLoader


def count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that gets one entry per LLVM compile (``CodeLoader.compile_object``) from
    now until the test ends."""
    calls: list[int] = []
    real = CodeLoader.compile_object

    def counting(self: CodeLoader, ir: Any) -> bytes:
        calls.append(1)
        return real(self, ir)

    monkeypatch.setattr(CodeLoader, "compile_object", counting)
    return calls
