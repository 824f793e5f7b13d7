"""The file tests: one pytest case per file under tests/filetests, dispatched on the
file's ``test`` line, as Cranelift's filetests are.

Files and directives
--------------------
A ``.clif`` file holds IR functions in the text format; its directives are ``;``
comments. A ``.wat`` file holds one wasm module; its directives are ``;;`` comments.
Below, ``;`` stands for either prefix. The folders group the files by kind, but the
``test`` line alone decides what runs.

* ``; test KIND`` is the first line. KIND picks what the test does (see below).
* Comment lines right after it form the header: ``; key: value`` lines set the options
  KIND understands, any other line describes the test.
* ``; check:`` on a line of its own starts the expected output, which runs to the end of
  the file, each line behind the comment prefix (``;`` alone for an empty line). It is
  compared exactly; a mismatch is reported as a unified diff. ``PYJITWASM_BLESS=1``
  rewrites every check block from the current output (then review the diff: blessed
  output is only right if the code is).
* ``; error: TEXT`` (verifier tests): TEXT is one of the verifier's messages, exactly.
* ``; run: %NAME(ARGS) == RESULT`` or ``!= RESULT`` (run tests): call function NAME with
  ARGS and compare what it returns. ARGS are comma-separated literals, one per parameter
  after the vmctx. RESULT is one literal, ``[A, B, ...]`` for several results (``[]``
  for none), or ``trap(CODE)`` with CODE a trap code as the IR writes it
  (``integer_division_by_zero``, ``integer_overflow``, ``bad_conversion_to_integer``,
  ``unreachable``...). Functions called this way take and return only i32, i64, f32,
  f64, v128 and r64 values (what the entry shims pass). Literals are typed by the
  function's signature: integers in decimal or ``0x`` hex (negative ones wrap to the
  type's width; results compare as bit patterns); floats as the IR writes them
  (``1.5``, ``-0.0``, ``inf``, ``-inf``, ``nan:0x7fc00001`` for exact NaN bits), and
  as results also ``nan:canonical`` (a quiet NaN without payload, either sign) or
  ``nan:arithmetic`` (any quiet NaN).

Test kinds
----------
Every ``.clif`` kind first parses the file and requires that the functions print back
exactly as written (the text format round-trips).

* ``roundtrip``: that, and every function verifies.
* ``verifier``: the first function fails verification with every ``error:`` message.
* ``legalize``: each function verifies, is legalized and verifies again; the printed
  result is the check block (and round-trips too).
* ``translate`` (``.wat``): the module's functions translated to IR are the check block.
  Options: ``heaps: static`` or ``heaps: dynamic`` (default), the heap style;
  ``legalize``, compare the IR after legalization; ``functions: N M ...``, only these
  function indices (default: every defined one).
* ``lower``: the functions (legalized IR, each with the vmctx first) verify and lower to
  LLVM IR; their definitions, then the declarations they need, are the check block; the
  whole LLVM module for them must pass LLVM's verifier.
* ``run``: the functions (vmctx first) verify, are legalized, verify again and are
  compiled together to machine code with the JIT (they may call each other); each
  ``run:`` line is then executed. All failing lines are reported together. Option:
  ``opt_levels: 0 1 2``, compile and run at each of these LLVM optimization levels
  (default 1; see ``jit/codeload.py``).

The compiler is reached through ``support.filetest_compiler`` only.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from support import filetest_compiler as compiler
from support.filetest import (
    FileTest,
    RunLine,
    bless,
    literal_bits,
    parse_run_line,
    read_filetest,
    result_matches,
    show_bits,
    text_mismatch,
)

ROOT = Path(__file__).resolve().parent
FILES = sorted(p for p in ROOT.rglob("*") if p.suffix in (".clif", ".wat"))


def expect_output(test: FileTest, actual: str) -> None:
    """Compare ``actual`` with the file's check block (or bless it)."""
    if os.environ.get("PYJITWASM_BLESS"):
        bless(test, actual)
        return
    problem = text_mismatch(test, actual)
    if problem is not None:
        pytest.fail(problem, pytrace=False)


def parse_roundtrip(test: FileTest) -> list[compiler.Function]:
    """The file's functions; they must print back exactly as written."""
    # The parser skips comments: reading the whole text keeps its line numbers the file's.
    try:
        funcs = compiler.parse_functions(test.head)
    except compiler.ParseError as error:
        pytest.fail(f"{test.path.name}:{error.line}: {error.message}", pytrace=False)
    assert funcs, f"{test.path.name}: no functions"
    printed = "\n".join(compiler.print_function(f) for f in funcs)
    assert printed == test.source, "printing the parsed text does not reproduce it"
    for func in funcs:
        again = compiler.parse_functions(compiler.print_function(func))[0]
        assert compiler.same_function(again, func)
    return funcs


def assert_reads_back(text: str) -> None:
    """Printed IR is valid text: it parses and prints back unchanged."""
    reprinted = "\n".join(compiler.print_function(f) for f in compiler.parse_functions(text))
    assert reprinted == text, "the output does not read back as the same IR"


def run_roundtrip(test: FileTest) -> None:
    for func in parse_roundtrip(test):
        compiler.verify(func)


def run_verifier(test: FileTest) -> None:
    funcs = parse_roundtrip(test)
    assert test.errors, "verifier test without 'error:' lines"
    found = compiler.verify_errors(funcs[0])
    missing = [e for e in test.errors if e not in found]
    assert not missing, f"missing verifier errors {missing}; got {found}"


def run_legalize(test: FileTest) -> None:
    outputs = []
    for func in parse_roundtrip(test):
        compiler.verify(func)
        compiler.legalize(func)
        compiler.verify(func)
        outputs.append(compiler.print_function(func))
    actual = "\n".join(outputs)
    expect_output(test, actual)
    assert_reads_back(actual)


def run_translate(test: FileTest) -> None:
    if compiler.WASM_TOOLS is None:
        pytest.skip("wasm-tools is not installed")
    options = test.options
    indices = [int(n) for n in options["functions"].split()] if "functions" in options else None
    texts = []
    for func in compiler.translate_wat(test.source, options.get("heaps", "dynamic"), indices):
        compiler.verify(func)
        if "legalize" in options:
            compiler.legalize(func)
            compiler.verify(func)
        texts.append(compiler.print_function(func))
    actual = "\n".join(texts)
    expect_output(test, actual)
    assert_reads_back(actual)


def run_lower(test: FileTest) -> None:
    funcs = parse_roundtrip(test)
    for func in funcs:
        compiler.verify(func)
    expect_output(test, compiler.lower_to_llvm(funcs))
    compiler.verify_llvm_module(funcs)


def run_run(test: FileTest) -> None:
    funcs = parse_roundtrip(test)
    assert test.runs, "run test without 'run:' lines"
    for func in funcs:
        compiler.verify(func)
        compiler.legalize(func)
        compiler.verify(func)
    signatures = {func.name: compiler.signature_types(func) for func in funcs}
    levels = [int(n) for n in test.options.get("opt_levels", "1").split()]
    failures = []
    for level in levels:
        compiled = compiler.CompiledFunctions(funcs, opt_level=level)
        at_level = f" (opt level {level})" if len(levels) > 1 else ""
        failures += [problem + at_level for run in test.runs
                     if (problem := check_run_line(compiled, signatures, run)) is not None]
    if failures:
        total = len(test.runs) * len(levels)
        pytest.fail(f"{test.path.name}: {len(failures)} of {total} runs failed\n"
                    + "\n".join(failures), pytrace=False)


def check_run_line(compiled: compiler.CompiledFunctions,
                   signatures: dict[str, tuple[list[str], list[str]]],
                   run: RunLine) -> str | None:
    """None when ``run`` holds, else what went wrong (with the line number)."""
    where = f"line {run.line}: {run.text}"
    if run.function not in signatures:
        return f"{where}: no function %{run.function}"
    params, results = signatures[run.function]
    if len(run.args) != len(params):
        return f"{where}: %{run.function} takes {len(params)} arguments"
    args = [literal_bits(a, ty) for a, ty in zip(run.args, params, strict=True)]
    outcome = compiled.call_outcome(run.function, *args)
    if run.trap is not None:
        holds = outcome == run.trap
        expected = f"trap({run.trap})"
    else:
        assert run.expected is not None
        if len(run.expected) != len(results):
            return f"{where}: %{run.function} returns {len(results)} values"
        holds = isinstance(outcome, list) and all(
            result_matches(e, ty, bits)
            for e, ty, bits in zip(run.expected, results, outcome, strict=True))
        expected = _values(run.expected)
    if holds == run.equal:
        return None
    if isinstance(outcome, str):
        got = f"trap({outcome})"
    else:
        got = _values([show_bits(bits, ty) for bits, ty in zip(outcome, results, strict=True)])
    relation = "expected" if run.equal else "expected anything but"
    return f"{where}: {relation} {expected}, got {got}"


def _values(texts: list[str]) -> str:
    """One result as itself, several (or none) as ``[a, b]``, as run lines write them."""
    return texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]"


# One runner per test kind: the file's ``test`` line picks it.
RUNNERS: dict[str, Callable[[FileTest], None]] = {
    "roundtrip": run_roundtrip,
    "verifier": run_verifier,
    "legalize": run_legalize,
    "translate": run_translate,
    "lower": run_lower,
    "run": run_run,
}


def test_every_kind_has_files() -> None:
    kinds = [read_filetest(p).kind for p in FILES]
    assert set(kinds) == set(RUNNERS)
    assert kinds.count("translate") >= 10


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_filetest(path: Path) -> None:
    test = read_filetest(path)
    runner = RUNNERS.get(test.kind)
    assert runner is not None, f"unknown test kind {test.kind!r}"
    runner(test)


# The runner itself: what it reads, and that it reports what is wrong. -----------------

_ADD = """function %add(i64 vmctx, i32, i32) -> i32 {
block0(v0: i64, v1: i32, v2: i32):
    v3 = iadd v1, v2
    return v3
}
"""


def test_run_line_syntax() -> None:
    run = parse_run_line(3, "%f(1, -2.5) == [0x10, nan:canonical]")
    assert (run.function, run.args, run.equal, run.expected, run.trap) == (
        "f", ["1", "-2.5"], True, ["0x10", "nan:canonical"], None)
    trap = parse_run_line(4, "%g() != trap(integer_overflow)")
    assert (trap.args, trap.equal, trap.expected, trap.trap) == ([], False, None,
                                                                 "integer_overflow")
    with pytest.raises(ValueError, match="line 5"):
        parse_run_line(5, "f(1) == 2")


def test_literals_and_nan_classes() -> None:
    assert literal_bits("-1", "i32") == 0xFFFFFFFF
    assert literal_bits("0x8000_0000", "i64") == 0x80000000
    assert literal_bits("-0.0", "f32") == 0x80000000
    assert literal_bits("nan:0x7ff4000000000000", "f64") == 0x7FF4000000000000
    assert result_matches("nan:canonical", "f32", 0xFFC00000)
    assert not result_matches("nan:canonical", "f32", 0x7FC00001)
    assert result_matches("nan:arithmetic", "f64", 0x7FF8000000000001)
    assert not result_matches("nan:arithmetic", "f64", 0x7FF0000000000001)  # signaling
    assert not result_matches("nan:arithmetic", "f32", 0x7F800000)  # infinity


def test_failing_run_lines_are_all_reported(tmp_path: Path) -> None:
    path = tmp_path / "add.clif"
    path.write_text(f"; test run\n{_ADD}; run: %add(1, 2) == 3\n; run: %add(1, 2) == 4\n"
                    "; run: %add(-1, 1) == trap(integer_overflow)\n")
    with pytest.raises(pytest.fail.Exception) as failure:
        run_run(read_filetest(path))
    message = str(failure.value)
    assert "2 of 3 runs failed" in message
    assert "line 8: %add(1, 2) == 4: expected 4, got 3" in message
    assert "line 9: %add(-1, 1) == trap(integer_overflow): expected trap(integer_overflow)" \
        ", got 0" in message


def test_check_mismatch_is_a_diff_and_bless_fixes_it(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYJITWASM_BLESS", raising=False)
    path = tmp_path / "add.clif"
    wrong = _ADD.replace("iadd", "isub")
    path.write_text("; test legalize\n" + _ADD + "; check:\n"
                    + "".join(f"; {ln}\n" for ln in wrong.splitlines()))
    with pytest.raises(pytest.fail.Exception) as failure:
        run_legalize(read_filetest(path))
    assert "-    v3 = isub v1, v2\n+    v3 = iadd v1, v2" in str(failure.value)
    monkeypatch.setenv("PYJITWASM_BLESS", "1")
    run_legalize(read_filetest(path))
    monkeypatch.delenv("PYJITWASM_BLESS")
    assert read_filetest(path).expected == _ADD
    run_legalize(read_filetest(path))
