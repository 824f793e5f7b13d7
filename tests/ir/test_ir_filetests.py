"""Run the IR file tests in tests/filetests.

Each ``.clif`` file starts with ``; test KIND``. The non-comment lines are IR functions,
which must print back exactly as written (the text format round-trips). Then:

* ``legalize``: each function verifies, is legalized, verifies again, and the printed
  result must equal the ``; check:`` block (the comment lines after it, without "; ").
* ``verifier``: verification fails and every ``; error: TEXT`` line is one of the
  verifier's messages (exact match).
* ``roundtrip``: only the round trip.

Set PYJITWASM_BLESS=1 to rewrite ``; check:`` blocks from the current output (then
review the diff: blessed output is only right if the code is).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.parser import parse_functions
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.verifier import verify, verify_errors

ROOT = Path(__file__).resolve().parents[1] / "filetests"
FILES = sorted(ROOT.rglob("*.clif"))


def _split(path: Path) -> tuple[str, str, list[str], str | None]:
    lines = path.read_text().splitlines()
    assert lines and lines[0].startswith("; test "), f"{path}: missing '; test' header"
    kind = lines[0][len("; test "):].strip()
    source = [ln for ln in lines if not ln.startswith(";")]
    errors = [ln[len("; error: "):] for ln in lines if ln.startswith("; error: ")]
    check = None
    if "; check:" in lines:
        start = lines.index("; check:") + 1
        check = "\n".join(ln[2:] if ln.startswith("; ") else ln[1:] for ln in lines[start:])
        check = check.strip("\n") + "\n"
    return kind, "\n".join(source).strip("\n") + "\n", errors, check


def test_filetests_exist() -> None:
    kinds = {_split(p)[0] for p in FILES}
    assert {"legalize", "verifier", "roundtrip"} <= kinds


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT)) for p in FILES])
def test_filetest(path: Path) -> None:
    kind, source, errors, check = _split(path)
    funcs = parse_functions(source)
    assert funcs, "no functions"
    printed = "\n".join(print_function(f) for f in funcs)
    assert printed == source, "printing the parsed text does not reproduce it"
    for func in funcs:
        assert parse_functions(print_function(func))[0].canonical() == func.canonical()

    if kind == "legalize":
        outputs = []
        for func in funcs:
            verify(func)
            legalize(func)
            verify(func)
            outputs.append(print_function(func))
        actual = "\n".join(outputs)
        if os.environ.get("PYJITWASM_BLESS"):
            _bless(path, actual)
            return
        assert check is not None, "legalize test without '; check:' block"
        assert actual == check
        # The legalized text round-trips as well.
        assert "\n".join(print_function(f) for f in parse_functions(actual)) == actual
    elif kind == "verifier":
        assert errors, "verifier test without '; error:' lines"
        found = verify_errors(funcs[0])
        for expected in errors:
            assert expected in found, f"missing error {expected!r}; got {found}"
    elif kind == "roundtrip":
        for func in funcs:
            verify(func)
    else:
        pytest.fail(f"unknown test kind {kind!r}")


def _bless(path: Path, actual: str) -> None:
    lines = path.read_text().splitlines()
    if "; check:" in lines:
        lines = lines[: lines.index("; check:")]
    while lines and not lines[-1].strip():
        lines.pop()
    lines.append("; check:")
    lines.extend(("; " + ln) if ln else ";" for ln in actual.rstrip("\n").split("\n"))
    path.write_text("\n".join(lines) + "\n")
