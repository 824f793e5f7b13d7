"""Reading file tests: their header, directives, expected output and run lines.

The syntax is described in ``tests/filetests/test_filetests.py``. This module knows the
file format only; it does not call the compiler.
"""

from __future__ import annotations

import difflib
import math
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

# Comment prefix of each kind of file: the directives live in comments.
COMMENT = {".clif": ";", ".wat": ";;"}

# Header options each test kind understands (other header comments are free text).
OPTIONS: dict[str, tuple[str, ...]] = {"translate": ("heaps", "legalize", "functions"),
                                       "run": ("opt_levels",)}

BLESS_HINT = ("PYJITWASM_BLESS=1 rewrites check blocks from the current output; review the "
              "diff then: blessed output is only right if the code is")


@dataclass(frozen=True)
class RunLine:
    """One ``run:`` directive: call ``function`` with ``args`` and compare with
    ``expected`` (``==``) or require a different outcome (``!=``)."""

    line: int
    text: str
    function: str
    args: list[str]
    equal: bool
    expected: list[str] | None  # result literals; None when a trap is expected
    trap: str | None


@dataclass
class FileTest:
    """One test file, split into its parts."""

    path: Path
    kind: str
    source: str
    """The text under test: a .clif file's IR lines (comments dropped), a .wat file's
    whole text before the expected output."""
    options: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    runs: list[RunLine] = field(default_factory=list)
    expected: str | None = None
    """The text after the ``check:`` line, comment prefixes removed (None: no block)."""
    head: str = ""
    """Everything before the ``check:`` line, verbatim (blessing keeps it)."""


def read_filetest(path: Path) -> FileTest:
    """Split the file at ``path`` (``.clif`` or ``.wat``) into its parts."""
    comment = COMMENT[path.suffix]
    lines = path.read_text().splitlines()
    header = f"{comment} test "
    if not lines or not lines[0].startswith(header):
        raise ValueError(f"{path}: the first line must be '{header}KIND'")
    kind = lines[0][len(header):].strip()
    check = f"{comment} check:"
    end = lines.index(check) if check in lines else len(lines)
    test = FileTest(path, kind, source="", head="\n".join(lines[:end]) + "\n")
    if end < len(lines):
        test.expected = _strip_block(lines[end + 1:], comment)

    known = OPTIONS.get(kind, ())
    in_header = True
    for number, line in enumerate(lines[1:end], start=2):
        if not line.startswith(comment):
            in_header = False
            continue
        body = line[len(comment):].strip()
        if body.startswith("error:"):
            test.errors.append(body[len("error:"):].strip())
        elif body.startswith("run:"):
            test.runs.append(parse_run_line(number, body[len("run:"):].strip()))
        elif in_header:
            key, _, value = body.partition(":")
            if key.strip() in known:
                test.options[key.strip()] = value.strip()
    if path.suffix == ".clif":
        ir_lines = [ln for ln in lines[:end] if not ln.startswith(comment)]
        test.source = "\n".join(ir_lines).strip("\n") + "\n"
    else:
        test.source = test.head
    return test


def _strip_block(lines: list[str], comment: str) -> str:
    body = []
    for line in lines:
        if line.startswith(comment + " "):
            body.append(line[len(comment) + 1:])
        elif line.startswith(comment):
            body.append(line[len(comment):])
        else:
            body.append(line)
    return "\n".join(body).strip("\n") + "\n"


def bless(test: FileTest, actual: str) -> None:
    """Rewrite ``test``'s file with ``actual`` as its expected output."""
    comment = COMMENT[test.path.suffix]
    lines = test.head.rstrip("\n").split("\n")
    lines.append(f"{comment} check:")
    lines.extend(f"{comment} {ln}" if ln else comment for ln in actual.rstrip("\n").split("\n"))
    test.path.write_text("\n".join(lines) + "\n")


def text_mismatch(test: FileTest, actual: str) -> str | None:
    """None when ``actual`` is the expected output, else a report with a unified diff."""
    if test.expected is None:
        return f"{test.path.name}: no 'check:' block; {BLESS_HINT}"
    if actual == test.expected:
        return None
    diff = difflib.unified_diff(test.expected.splitlines(), actual.splitlines(),
                                "expected", "actual", lineterm="")
    return f"{test.path.name}: output differs from the check block\n" + "\n".join(diff) + (
        f"\n({BLESS_HINT})")


# Run lines -----------------------------------------------------------------------------

_RUN = re.compile(r"%(?P<name>[\w.-]+)\((?P<args>[^()]*)\)\s*(?P<op>==|!=)\s*(?P<result>.+)$")
_TRAP = re.compile(r"trap\((?P<code>\w+)\)$")


def parse_run_line(line: int, text: str) -> RunLine:
    """Parse ``%f(1, 2) == 3``, ``%f(1) == [1, 2]``, ``%f(0) == trap(CODE)``."""
    match = _RUN.match(text)
    if match is None:
        raise ValueError(f"line {line}: cannot read run line {text!r}")
    args = _list(match["args"])
    result = match["result"].strip()
    trap = _TRAP.match(result)
    if trap is not None:
        return RunLine(line, text, match["name"], args, match["op"] == "==", None,
                       trap["code"])
    if result.startswith("[") and result.endswith("]"):
        expected = _list(result[1:-1])
    else:
        expected = [result]
    return RunLine(line, text, match["name"], args, match["op"] == "==", expected, None)


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",")] if text.strip() else []


_FLOAT_FORMAT = {"f32": ("<f", "<I"), "f64": ("<d", "<Q")}
_INT_BITS = {"i8": 8, "i16": 16, "i32": 32, "i64": 64, "r64": 64, "v128": 128}


def literal_bits(text: str, ty: str) -> int:
    """The bit pattern of literal ``text`` as a value of IR type ``ty``.

    Integers (and r64, v128): decimal or ``0x`` hex, ``_`` allowed, negative ones in
    two's complement. Floats: as in the IR text format, a decimal literal, ``inf``,
    ``-inf`` or ``nan:0xBITS`` (the exact pattern, sign and payload included)."""
    if ty in _INT_BITS:
        return int(text.replace("_", ""), 0) % (1 << _INT_BITS[ty])
    if ty in _FLOAT_FORMAT:
        if text.startswith("nan:0x"):
            return int(text.split(":")[1], 16)
        pack, unpack = _FLOAT_FORMAT[ty]
        return int(struct.unpack(unpack, struct.pack(pack, float(text)))[0])
    raise ValueError(f"no literals of type {ty}")


def result_matches(text: str, ty: str, bits: int) -> bool:
    """Whether result ``bits`` of type ``ty`` is what literal ``text`` expects. Besides
    exact literals, a float result may be expected as ``nan:canonical`` (a quiet NaN
    with no payload, either sign) or ``nan:arithmetic`` (any quiet NaN), as in the wasm
    spec tests."""
    if text in ("nan:canonical", "nan:arithmetic"):
        if ty not in _FLOAT_FORMAT:
            raise ValueError(f"{text} expected of a {ty} result")
        mantissa, exponent_bits = (23, 8) if ty == "f32" else (52, 11)
        all_ones = (1 << exponent_bits) - 1
        quiet = 1 << (mantissa - 1)
        payload = bits & ((1 << mantissa) - 1)
        if (bits >> mantissa) & all_ones != all_ones or not payload & quiet:
            return False
        return text == "nan:arithmetic" or payload == quiet
    return literal_bits(text, ty) == bits


def show_bits(bits: int, ty: str) -> str:
    """A result for a report: the value as the IR would write it, and its bits."""
    if ty in _FLOAT_FORMAT:
        pack, unpack = _FLOAT_FORMAT[ty]
        value = struct.unpack(pack, struct.pack(unpack, bits))[0]
        if math.isnan(value):
            return f"nan:0x{bits:0{struct.calcsize(unpack) * 2}x}"
        return f"{value!r} (0x{bits:0{struct.calcsize(unpack) * 2}x})"
    width = _INT_BITS[ty]
    signed = bits - (1 << width) if bits >> (width - 1) else bits
    return f"{signed} (0x{bits:x})" if signed < 0 or bits > 9 else str(bits)
