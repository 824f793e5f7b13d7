"""Run the translation file tests in tests/filetests/translate.

Each ``.wat`` file is a module followed by the IR it must translate to. Header comment
lines (before the module) set the test up:

* ``;; test translate`` (required first line);
* ``;; heaps: static`` or ``;; heaps: dynamic`` (the default): the HeapConfig style;
* ``;; legalize``: compare the IR after legalization (each function verifies before and
  after);
* ``;; functions: N M ...``: only these function indices (default: every defined one);
* any other ``;;`` line there describes the test.

The expected output follows a ``;; check:`` line, each line prefixed with ``;; `` (the
functions' text separated by empty lines, as ``pyjitwasm ir`` prints it). The expected
text must also parse and print back unchanged.

Set PYJITWASM_BLESS=1 to rewrite the ``;; check:`` blocks from the current output (then
review the diff: blessed output is only right if the code is).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.parser import parse_functions
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.verifier import verify
from pyjitwasm.translate.translator import HeapConfig, ModuleInfo, translate_function
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.validator import validate_module

ROOT = Path(__file__).resolve().parents[1] / "filetests" / "translate"
FILES = sorted(ROOT.glob("*.wat"))
CHECK = ";; check:"
OPTIONS = ("heaps", "legalize", "functions")  # other header comment lines are free text

_TOOL = Path(sys.executable).parent / "wasm-tools"
WASM_TOOLS = str(_TOOL) if _TOOL.exists() else shutil.which("wasm-tools")
pytestmark = pytest.mark.skipif(WASM_TOOLS is None, reason="wasm-tools is not installed")


def _split(path: Path) -> tuple[dict[str, str], str, str | None]:
    lines = path.read_text().splitlines()
    assert lines and lines[0] == ";; test translate", f"{path}: missing ';; test translate'"
    options: dict[str, str] = {}
    for line in lines[1:]:
        if not line.startswith(";; ") or line == CHECK:
            break
        key, _, value = line[3:].partition(":")
        if key.strip() in OPTIONS:
            options[key.strip()] = value.strip()
    end = lines.index(CHECK) if CHECK in lines else len(lines)
    source = "\n".join(lines[:end]) + "\n"
    check = None
    if end < len(lines):
        body = [ln[3:] if ln.startswith(";; ") else ln[2:] for ln in lines[end + 1:]]
        check = "\n".join(body).strip("\n") + "\n"
    return options, source, check


def _translate(options: dict[str, str], source: str, tmp_path: Path) -> str:
    wat, wasm = tmp_path / "m.wat", tmp_path / "m.wasm"
    wat.write_text(source)
    subprocess.run([WASM_TOOLS, "parse", str(wat), "-o", str(wasm)], check=True)  # type: ignore[list-item]
    module = decode_module(wasm.read_bytes())
    validate_module(module)
    info = ModuleInfo(module, HeapConfig(options.get("heaps", "dynamic")))
    first = module.num_imported_funcs
    if "functions" in options:
        indices = [int(n) for n in options["functions"].split()]
    else:
        indices = list(range(first, first + len(module.codes)))
    texts = []
    for index in indices:
        func = translate_function(module, index, info=info)
        verify(func)
        if "legalize" in options:
            legalize(func)
            verify(func)
        texts.append(print_function(func))
    return "\n".join(texts)


def test_filetests_exist() -> None:
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_translate_filetest(path: Path, tmp_path: Path) -> None:
    options, source, check = _split(path)
    actual = _translate(options, source, tmp_path)
    if os.environ.get("PYJITWASM_BLESS"):
        _bless(path, source, actual)
        return
    assert check is not None, f"{path.name}: no '{CHECK}' block"
    assert actual == check
    # What the translator prints is valid text: it reads back to the same functions.
    assert "\n".join(print_function(f) for f in parse_functions(actual)) == actual


def _bless(path: Path, source: str, actual: str) -> None:
    lines = source.rstrip("\n").split("\n")
    lines.append(CHECK)
    lines.extend((";; " + ln) if ln else ";;" for ln in actual.rstrip("\n").split("\n"))
    path.write_text("\n".join(lines) + "\n")
