"""Counting compiles in a test: a warm start or a loaded artifact must make none."""

from __future__ import annotations

from typing import Any

import pytest

from pyjitwasm.jit.codeload import CodeLoader
from pyjitwasm.runtime.jit import compile_module


def count_compiles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that gets one entry per compile from now until the test ends: each LLVM
    compile (``CodeLoader.compile_object``) and each tier-0 object the single-pass
    x86-64 compiler makes (``x64_tier0_object`` as ``emit_batch`` calls it)."""
    calls: list[int] = []
    real = CodeLoader.compile_object
    real_x64 = compile_module.x64_tier0_object

    def counting(self: CodeLoader, ir: Any) -> bytes:
        calls.append(1)
        return real(self, ir)

    def counting_x64(*args: Any, **kwargs: Any) -> Any:
        made = real_x64(*args, **kwargs)
        if made is not None:
            calls.append(1)
        return made

    monkeypatch.setattr(CodeLoader, "compile_object", counting)
    monkeypatch.setattr(compile_module, "x64_tier0_object", counting_x64)
    return calls
