"""The ``pyjitwasm`` command line.

Each subcommand lives in its own module under ``pyjitwasm.commands`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the handler.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from pyjitwasm.commands.loading import CommandError

# Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ["validate", "objdump", "ir", "asm", "run", "compile"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="pyjitwasm", description="WebAssembly JIT compiler and runtime for Python hosts"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"pyjitwasm.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pyjitwasm`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CommandError as e:
        print(e, file=sys.stderr)
        return 1
