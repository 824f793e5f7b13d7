"""wasmtime-py's own test suite, run with ``wasmtime`` resolving to pyjitwasm and judged
against tests/compat/manifest.toml (see compat_suite.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from compat_suite import (  # noqa: E402
    ENGINES,
    SHIM,
    judge,
    load_manifest,
    missing_suite_message,
    parse_junit,
    run_suite,
    suite_dir,
)


@pytest.mark.parametrize("engine", ENGINES)
def test_wasmtime_py_suite(engine: str) -> None:
    suite = suite_dir()
    if suite is None:
        pytest.skip(missing_suite_message())
    result = run_suite(suite, engine)
    assert result.count("passed") > 0, "no test of the suite passed: is the shim importable?"
    problems = judge(result, load_manifest(engine))
    assert not problems, "\n".join(problems)


def test_shim_reexports_pyjitwasm() -> None:
    # The alias must be pyjitwasm itself, not the real wasmtime-py installed beside it.
    sys.path.insert(0, str(SHIM))
    saved = sys.modules.pop("wasmtime", None)
    try:
        import wasmtime

        import pyjitwasm

        assert wasmtime.Engine is pyjitwasm.Engine
        assert set(wasmtime.__all__) == set(pyjitwasm.__all__)
    finally:
        sys.path.remove(str(SHIM))
        sys.modules.pop("wasmtime", None)
        if saved is not None:
            sys.modules["wasmtime"] = saved


def test_judge_reports_unlisted_failures_and_listed_passes(tmp_path: Path) -> None:
    report = tmp_path / "r.xml"
    report.write_text(
        '<testsuites><testsuite>'
        '<testcase classname="test_a.T" name="test_ok"/>'
        '<testcase classname="test_a.T" name="test_bad"><failure message="boom"/></testcase>'
        '<testcase classname="test_a.T" name="test_fixed"/>'
        '</testsuite></testsuites>')
    result = parse_junit(report)
    problems = judge(result, {"test_a.py::T::test_fixed": "why",
                              "test_a.py::T::test_gone": "why"})
    assert any("test_bad fails and is not listed: boom" in p for p in problems)
    assert any("test_fixed passes but is listed" in p for p in problems)
    assert any("test_gone is listed but the suite has no such test" in p for p in problems)
    assert len(problems) == 3
