"""Running wasmtime-py's own test suite against pyjitwasm, and judging the outcome.

The suite (``../shared/wasmtime-py-tests``, or ``$PYJITWASM_WASMTIME_PY_TESTS``) runs
unmodified in a child pytest whose ``sys.path`` starts with ``shim/``: there ``wasmtime``
is a package re-exporting pyjitwasm. The child's working directory is ``shim/`` too,
because one test preopens the relative directory ``wasmtime`` (in wasmtime-py's checkout
that is its package folder). The ``component/`` folder is out of scope (pyjitwasm has no
component model).

The suite runs once per engine (``Config()``'s ``"auto"`` strategy picks the engine
named by ``$PYJITWASM_AUTO_STRATEGY``). ``manifest.toml`` lists every test expected to
fail, grouped by reason (a group may name the ``engines`` it applies to; by default
both); a failure not listed, or a listed test that passes, is a problem the caller
reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import tomllib
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SHIM = HERE / "shim"
MANIFEST = HERE / "manifest.toml"
SUITE_ENV = "PYJITWASM_WASMTIME_PY_TESTS"
OUT_OF_SCOPE = ("component",)
ENGINES = ("jit", "interp")


def suite_dir() -> Path | None:
    """The wasmtime-py test folder: $PYJITWASM_WASMTIME_PY_TESTS, else ../shared/..."""
    configured = os.environ.get(SUITE_ENV)
    path = Path(configured) if configured else REPO.parent / "shared" / "wasmtime-py-tests"
    return path if path.is_dir() else None


def missing_suite_message() -> str:
    return (
        f"wasmtime-py's test suite was not found (looked in ${SUITE_ENV}, then "
        f"{REPO.parent / 'shared' / 'wasmtime-py-tests'}); compat tests skipped"
    )


def load_manifest(engine: str, path: Path = MANIFEST) -> dict[str, str]:
    """Expected failures on ``engine``: test id (``file.py::Class::test``) -> reason."""
    with open(path, "rb") as f:
        data = tomllib.load(f)
    expected: dict[str, str] = {}
    for group in data.get("expected_failure", []):
        engines = group.get("engines", list(ENGINES))
        if not set(engines) <= set(ENGINES):
            raise ValueError(f"unknown engine in {engines} ({path.name})")
        if engine not in engines:
            continue
        reason = group["reason"]
        for test_id in group["tests"]:
            if test_id in expected:
                raise ValueError(f"{test_id} is listed twice for {engine} in {path.name}")
            expected[test_id] = reason
    return expected


@dataclass
class SuiteResult:
    """Outcome of every test of the suite: test id -> "passed", "failed" or "skipped",
    with the failure text of each failed test."""

    outcomes: dict[str, str] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


def run_suite(suite: Path, engine: str, python: str = sys.executable) -> SuiteResult:
    """Run the suite in a child pytest with ``wasmtime`` aliased to pyjitwasm, on
    ``engine``."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.xml"
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")  # none of our pytest settings apply to their suite
        args = [python, "-P", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "-c", str(ini), "--rootdir", str(suite), f"--junitxml={report}",
                str(suite)]
        args += [f"--ignore={suite / name}" for name in OUT_OF_SCOPE]
        env = dict(os.environ, PYJITWASM_AUTO_STRATEGY=engine, PYTHONPATH=os.pathsep.join(
            [str(SHIM), *filter(None, [os.environ.get("PYTHONPATH")])]))
        proc = subprocess.run(args, cwd=SHIM, env=env, capture_output=True, text=True,
                              check=False)
        if not report.exists():
            raise RuntimeError(f"the compat suite did not run:\n{proc.stdout}\n{proc.stderr}")
        return parse_junit(report)


def parse_junit(report: Path) -> SuiteResult:
    result = SuiteResult()
    for case in ET.parse(report).getroot().iter("testcase"):
        module, _, cls = case.get("classname", "").partition(".")
        test_id = f"{module}.py::{cls}::{case.get('name')}" if cls else \
            f"{module}.py::{case.get('name')}"
        problem = case.find("failure")
        if problem is None:
            problem = case.find("error")
        if problem is not None:
            result.outcomes[test_id] = "failed"
            result.details[test_id] = (problem.get("message") or "").strip()
        elif case.find("skipped") is not None:
            result.outcomes[test_id] = "skipped"
        else:
            result.outcomes[test_id] = "passed"
    return result


def judge(result: SuiteResult, expected: dict[str, str]) -> list[str]:
    """Problems: unlisted failures, listed tests that pass, listed tests that vanished."""
    problems = []
    for test_id, outcome in sorted(result.outcomes.items()):
        if outcome == "failed" and test_id not in expected:
            problems.append(f"{test_id} fails and is not listed: {result.details[test_id]}")
        elif outcome == "passed" and test_id in expected:
            problems.append(f"{test_id} passes but is listed as failing ({expected[test_id]})")
        elif outcome == "skipped":
            problems.append(f"{test_id} was skipped")
    for test_id in sorted(set(expected) - set(result.outcomes)):
        problems.append(f"{test_id} is listed but the suite has no such test")
    return problems


def main() -> int:
    """``make compat``: run, print the summary and every problem; exit 1 on problems."""
    suite = suite_dir()
    if suite is None:
        print(missing_suite_message())
        return 0
    status = 0
    for engine in ENGINES:
        result = run_suite(suite, engine)
        expected = load_manifest(engine)
        problems = judge(result, expected)
        total = len(result.outcomes)
        print(f"wasmtime-py suite on {engine} ({suite}): {result.count('passed')} of {total} "
              f"pass, {result.count('failed')} fail ({len(expected)} listed as expected)")
        for problem in problems:
            print("  " + problem)
        status |= bool(problems)
    return status


if __name__ == "__main__":
    sys.exit(main())
