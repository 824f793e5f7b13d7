"""Collects the spec-test results so the session ends with the per-file table."""

from __future__ import annotations

import pytest

from runner import format_table

_ROWS: dict[str, list] = {}


@pytest.fixture(scope="session")
def spec_rows() -> dict[str, list]:
    """engine -> the (FileResult, Verdict) of each file it ran, for the closing tables."""
    return _ROWS


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    for engine, rows in _ROWS.items():
        terminalreporter.write_sep("=", f"WebAssembly spec testsuite, engine {engine}")
        table = format_table(sorted(rows, key=lambda r: r[0].name))
        terminalreporter.write_line(table.replace("\nspec: ", f"\nspec ({engine}): "))
