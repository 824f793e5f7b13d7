"""Collects the spec-test results so the session ends with the per-file table."""

from __future__ import annotations

import pytest

from runner import format_table

_ROWS: list = []


@pytest.fixture(scope="session")
def spec_rows() -> list:
    """Where each spec test appends its (FileResult, Verdict) for the closing table."""
    return _ROWS


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if _ROWS:
        terminalreporter.write_sep("=", "WebAssembly spec testsuite")
        terminalreporter.write_line(format_table(sorted(_ROWS, key=lambda r: r[0].name)))
