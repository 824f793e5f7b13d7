"""Finding the official testsuite and converting its .wast scripts to JSON commands.

Conversion uses ``wasm-tools json-from-wast``; the output (a JSON command list plus one
.wasm file per module) is cached under ``spec-tests/.cache`` keyed by the script's content
and the wasm-tools version, so repeated runs do not convert again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = HERE / ".cache"
TESTSUITE_ENV = "PYJITWASM_TESTSUITE"


def testsuite_dir() -> Path | None:
    """The testsuite folder: $PYJITWASM_TESTSUITE, else ../shared/wasm-testsuite."""
    configured = os.environ.get(TESTSUITE_ENV)
    path = Path(configured) if configured else REPO.parent / "shared" / "wasm-testsuite"
    return path if path.is_dir() else None


def missing_testsuite_message() -> str:
    return (
        f"the WebAssembly spec testsuite was not found (looked in ${TESTSUITE_ENV}, "
        f"then {REPO.parent / 'shared' / 'wasm-testsuite'}); spec tests skipped"
    )


@cache
def wasm_tools() -> str:
    """Path of the wasm-tools binary (installed by the test extras)."""
    beside_python = Path(sys.executable).parent / "wasm-tools"
    if beside_python.exists():
        return str(beside_python)
    found = shutil.which("wasm-tools")
    if not found:
        raise RuntimeError("wasm-tools not found: install the test extras (make install)")
    return found


@cache
def _wasm_tools_version() -> str:
    return subprocess.run(
        [wasm_tools(), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()


def convert(wast: Path) -> tuple[list[dict], Path]:
    """The script's commands and the folder holding its module files."""
    digest = hashlib.sha256(wast.read_bytes() + _wasm_tools_version().encode()).hexdigest()[:16]
    out_dir = CACHE / f"{wast.stem}-{digest}"
    out_json = out_dir / "commands.json"
    if not out_json.exists():
        tmp_dir = out_dir.with_name(out_dir.name + f".tmp{os.getpid()}")
        shutil.rmtree(tmp_dir, ignore_errors=True)
        tmp_dir.mkdir(parents=True)
        subprocess.run(
            [wasm_tools(), "json-from-wast", str(wast), "-o", str(tmp_dir / "commands.json"),
             "--wasm-dir", str(tmp_dir)],
            check=True, capture_output=True,
        )
        try:
            tmp_dir.rename(out_dir)
        except OSError:  # another process converted the same script meanwhile
            shutil.rmtree(tmp_dir, ignore_errors=True)
    with open(out_json, encoding="utf-8") as f:
        return json.load(f)["commands"], out_dir
