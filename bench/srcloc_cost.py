"""Compile-time cost of wasm instruction offsets in JIT backtraces.

Machine code maps back to wasm offsets through a line table that LLVM writes when the
IR carries debug locations (``jit/lower_debug.py``).  Compiled code is emitted with
*trap sites* (a trap block per trapping instruction, ``jit/lower.py``) but without
debug locations; the first backtrace through a batch compiles it again with them
(``jit.compiler.locate_functions``).  This measures, on the same legalized IR, the
CPU time of lowering + LLVM (parse, optimize, emit) for the three ways to compile:

* ``before``: one trap block per trap code (what the JIT did without offsets);
* ``sites``: per-site trap blocks, no debug locations (what every compile now pays);
* ``located``: per-site trap blocks and debug locations (a backtrace's recompile).

    .venv/bin/python -P bench/srcloc_cost.py build/bench/*.wasm [--repeat 3] [--functions N]

CPU time (``time.process_time``) because the machine may be shared.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pyjitwasm.ir.legalize import legalize
from pyjitwasm.jit.compiler import code_loader
from pyjitwasm.jit.lower_module import emit_module
from pyjitwasm.translate.translator import HeapConfig, ModuleInfo, translate_function
from pyjitwasm.wasm.decoder import decode_module

VARIANTS = {"before": (False, False), "sites": (True, False), "located": (True, True)}


def measure(path: Path, repeat: int, count: int) -> None:
    module = decode_module(path.read_bytes())
    first = module.num_imported_funcs
    indices = list(range(first, first + min(count or len(module.codes), len(module.codes))))
    info = ModuleInfo(module, HeapConfig())
    funcs = [translate_function(module, i, info=info, direct_callees=frozenset(indices))
             for i in indices]
    for func in funcs:
        legalize(func)
    units = [(func, "internal" if n else "") for n, func in enumerate(funcs)]
    loader = code_loader(1)
    best = {name: float("inf") for name in VARIANTS}
    for _ in range(repeat):
        for name, (sites, located) in VARIANTS.items():
            t0 = time.process_time()
            text = emit_module(units, source_locations=located, trap_sites=sites)
            loader.compile_object(text)
            best[name] = min(best[name], time.process_time() - t0)
    base = best["before"]
    print(f"| {path.stem.split('-')[0]} | {len(indices)} | {base * 1e3:.0f} | "
          f"{best['sites'] * 1e3:.0f} ({(best['sites'] / base - 1) * 100:+.1f}%) | "
          f"{best['located'] * 1e3:.0f} ({(best['located'] / base - 1) * 100:+.1f}%) |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="+", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--functions", type=int, default=0,
                        help="compile only the first N defined functions (0: all)")
    args = parser.parse_args()
    print("| module | functions | before ms | sites ms | located ms |")
    print("|---|---|---|---|---|")
    for path in args.modules:
        measure(path, args.repeat, args.functions)


if __name__ == "__main__":
    main()
