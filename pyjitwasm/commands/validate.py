"""``pyjitwasm validate FILE``: decode and validate a module, print OK or the error."""

from __future__ import annotations

import argparse

from pyjitwasm.commands.loading import CommandError, load_module


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check that a .wasm file is well-formed and valid")
    p.add_argument("file", help="the .wasm module")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        load_module(args.file)
    except CommandError as e:
        print(e)
        return 1
    print(f"{args.file}: OK")
    return 0
