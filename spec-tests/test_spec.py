"""The official WebAssembly testsuite, judged against spec-tests/manifest.toml."""

from __future__ import annotations

import pytest

import wast as spec_scripts
from runner import Manifest, judge, run_file, scope_files, script_name
from wast import missing_testsuite_message

MANIFEST = Manifest.load()
FILES = scope_files(MANIFEST)
ENGINES = ["interp", "jit", "jit-dynamic", "jit-ir-tier0", "jit-llvm-tier0"]
# Relaxed SIMD has two modes on the JIT: "jit" runs the native one (the default), this
# variant the deterministic one; both must give results the scripts' ``either`` allows.
RELAXED_SIMD_ENGINES = ["jit-relaxed-deterministic"]
CASES = [(engine, path) for engine in ENGINES for path in FILES]
CASES += [(engine, path) for engine in RELAXED_SIMD_ENGINES for path in FILES
          if "relaxed" in path.name]


def test_testsuite_present() -> None:
    if spec_scripts.testsuite_dir() is None:
        pytest.skip(missing_testsuite_message())
    assert FILES, "the testsuite folder holds no in-scope .wast files"


@pytest.mark.parametrize(("engine", "path"), CASES,
                         ids=[f"{e}-{script_name(p)}" for e, p in CASES])
def test_spec_file(engine, path, spec_rows) -> None:
    result = run_file(path, MANIFEST, engine)
    verdict = judge(result, MANIFEST)
    spec_rows.setdefault(engine, []).append((result, verdict))
    problems = [f"line {o.line} [{o.phase}] {o.command}: {o.detail}" for o in verdict.unexpected]
    problems += [f"line {line} [{phase}] is listed as failing ({why}) but passes"
                 for phase, line, why in verdict.fixed]
    assert not problems, f"{script_name(path)} ({engine}):\n" + "\n".join(problems[:50])
