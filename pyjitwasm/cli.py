"""The ``pyjitwasm`` command line (placeholder until the subcommands land)."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``pyjitwasm`` console script."""
    print("pyjitwasm: no subcommands yet")
    return 2
