"""``pyjitwasm validate FILE``: decode and validate a module, print OK or the error."""

from __future__ import annotations

import argparse
import sys

from ..wasm.decoder import decode_module
from ..wasm.errors import DecodeError, ValidationError
from ..wasm.validator import validate_module


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check that a .wasm file is well-formed and valid")
    p.add_argument("file", help="the .wasm module")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        with open(args.file, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"{args.file}: cannot read: {e.strerror}", file=sys.stderr)
        return 1
    try:
        validate_module(decode_module(data))
    except DecodeError as e:
        print(f"{args.file}: malformed: {e}")
        return 1
    except ValidationError as e:
        print(f"{args.file}: invalid: {e}")
        return 1
    print(f"{args.file}: OK")
    return 0
