"""The command line: validate, objdump, and ``python -m pyjitwasm``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyjitwasm.cli import main

from support.decoder_wat import HEADER, wat

MODULE_WAT = """(module
  (memory (export "mem") 1 2)
  (func $add (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)
  (data (i32.const 8) "hi"))"""


@pytest.fixture
def module_file(tmp_path: Path) -> Path:
    path = tmp_path / "m.wasm"
    path.write_bytes(wat(MODULE_WAT))
    return path


def test_validate_ok(module_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(module_file)]) == 0
    assert capsys.readouterr().out.strip() == f"{module_file}: OK"


def test_validate_reports_malformed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.wasm"
    path.write_bytes(HEADER + b"\x01\x05\x01")  # a type section cut short
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "malformed" in out and "offset" in out


def test_validate_reports_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "invalid.wasm"
    path.write_bytes(wat("(module (func (result i32) i64.const 1))"))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "invalid: type mismatch" in out and "function 0" in out


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.wasm")]) == 1
    assert "cannot read" in capsys.readouterr().out
    assert main(["objdump", str(tmp_path / "nope.wasm")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_objdump(module_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["objdump", str(module_file)]) == 0
    out = capsys.readouterr().out
    for expected in ("sections:", "code", "[i32 i32] -> [i32]", "'add'",
                     "memory 0: pages min 1 max 2", "data 0: active memory 0, 2 bytes"):
        assert expected in out, expected
    # The function table: index, type, locals, instruction count (3 + end), size.
    assert any(line.split()[:4] == ["0", "0", "0", "4"] for line in out.splitlines())


def test_python_dash_m_runs_from_the_checkout(module_file: Path) -> None:
    # From the repo root, ``python -m`` puts the checkout first on sys.path: the package
    # must still find its component subpackages.
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "pyjitwasm", "validate", str(module_file)],
                          cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith(": OK")
