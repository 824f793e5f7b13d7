"""``pyjitwasm compile MODULE [-o OUT.cwasm]``: compile every function of a module ahead
of time into a ``.cwasm`` file, which ``pyjitwasm run`` and ``Module.deserialize_file``
load without compiling anything.

Functions are compiled in chunks on every CPU (``--jobs`` to choose; worker processes,
see ``runtime/jit/precompile.py``), with a progress bar when stderr is a terminal.  The
``.cwasm`` loads only into the same pyjitwasm build, on the same CPU, with the same
code-affecting options (``--engine``, ``--memory-style``, ``--opt-level``); anything else
is refused with a message naming what differs.

Also here: :func:`open_module`, how ``run`` reads a ``.wasm``, ``.wat`` or ``.cwasm``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import TextIO

from pyjitwasm.artifact import ARTIFACT_MAGIC
from pyjitwasm.commands.loading import CommandError
from pyjitwasm.config import MEMORY_STYLES, OPT_LEVELS, Config
from pyjitwasm.engine import Engine
from pyjitwasm.module import Module
from pyjitwasm.wasm.errors import WasmError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compile", help="compile a module ahead of time to a .cwasm file",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("module", help="the .wasm (or .wat) module")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="the .cwasm to write (default: MODULE with the suffix .cwasm)")
    p.add_argument("-j", "--jobs", type=int, default=None,
                   help="worker processes (default: every CPU; 1 compiles in this process)")
    p.add_argument("--memory-style", choices=MEMORY_STYLES, default="static",
                   help="how 32-bit memories are bounds-checked (default: static)")
    p.add_argument("--opt-level", choices=tuple(OPT_LEVELS), default="speed",
                   help="optimisation level (cranelift_opt_level's names; default: speed)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=compile_command)


def open_module(engine: Engine, path: str) -> Module:
    """The module in ``path``: a ``.cwasm`` (recognized by its magic, whatever its name)
    is deserialized; anything else is read as a ``.wasm`` or ``.wat``."""
    with open(path, "rb") as f:
        head = f.read(len(ARTIFACT_MAGIC))
    if head == ARTIFACT_MAGIC:
        return Module.deserialize_file(engine, path)
    return Module.from_file(engine, path)


class ProgressBar:
    """``[######    ] done/total functions  elapsed`` redrawn in place on a terminal."""

    width = 30

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        bar = "#" * filled + " " * (self.width - filled)
        elapsed = time.perf_counter() - self.start
        print(f"\rcompiling [{bar}] {done}/{total} functions  {elapsed:.1f} s", end="",
              file=self.stream, flush=True)
        self.shown = True

    def close(self) -> None:
        if self.shown:
            print(file=self.stream)


def compile_command(args: argparse.Namespace) -> int:
    output = args.output or str(Path(args.module).with_suffix(".cwasm"))
    config = Config(memory_style=args.memory_style)
    config.cranelift_opt_level = args.opt_level
    engine = Engine(config)
    if engine.strategy != "jit":
        raise CommandError("compile: the JIT is not available (nothing to compile for "
                           "the interpreter)")
    t0 = time.perf_counter()
    try:
        module = Module.from_file(engine, args.module)
    except OSError as e:
        raise CommandError(f"{args.module}: cannot read: {e.strerror}") from e
    except WasmError as e:
        raise CommandError(f"{args.module}: {e}") from e
    bar = ProgressBar() if not args.quiet and sys.stderr.isatty() else None
    try:
        data = module.serialize(jobs=args.jobs, progress=bar)
    finally:
        if bar is not None:
            bar.close()
    tmp = output + ".tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, output)
    except OSError as e:
        raise CommandError(f"{output}: cannot write: {e.strerror}") from e
    if not args.quiet:
        print(f"{args.module} -> {output}: {len(data):,} bytes in "
              f"{time.perf_counter() - t0:.2f} s", file=sys.stderr)
    return 0
