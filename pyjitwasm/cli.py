"""The ``pyjitwasm`` command line.

Each subcommand lives in its own module under ``pyjitwasm.commands`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to the handler.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from pyjitwasm.commands.loading import CommandError

# Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ["validate", "objdump", "ir", "asm", "run", "compile"]


def build_parser(commands: Sequence[str] = COMMANDS) -> argparse.ArgumentParser:
    """The argument parser with ``commands`` (default: every subcommand) registered."""
    parser = argparse.ArgumentParser(
        prog="pyjitwasm", description="WebAssembly JIT compiler and runtime for Python hosts"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in commands:
        importlib.import_module(f"pyjitwasm.commands.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pyjitwasm`` console script; returns the exit status."""
    if argv is None:
        argv = sys.argv[1:]
    # Only the command asked for is imported: ``ir`` and ``asm`` bring in the IR and
    # the back end, ~50 ms that ``pyjitwasm run`` would pay on every start. Anything
    # else (``--help``, a mistyped command) gets the whole parser.
    chosen = [argv[0]] if argv and argv[0] in COMMANDS else COMMANDS
    args = build_parser(chosen).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CommandError as e:
        print(e, file=sys.stderr)
        return 1
