"""The direct tier-0 emitter (``baseline/``) against the IR path, on CPython's start-up.

Takes the lazy tier-0 batches CPython 3.12 for WASI compiles first as it starts
(``bench/data/cpython_startup_batches.txt``, as ``bench/frontend_cpython.py``) and
measures, per wasm instruction:

- the front end: the IR path (translate + legalize + lower, through the compile driver's
  ``emit_batch`` with LLVM stubbed out) against the direct emitter (``emit_batch`` with
  ``PYJITWASM_TIER0_DIRECT=1``: direct functions, and the IR path for the functions it
  falls back on), CPU time, best of ``--repeat``; and the emitter alone on the
  functions it covers;
- coverage: the share of functions and instructions written directly;
- with ``--llvm``: LLVM's CPU time (parse, passes, code generation) for each path's
  text of every batch, under each configuration of ``--pipelines``.

    .venv/bin/python -P bench/tier0_direct.py --repeat 3 --llvm
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from frontend_cpython import BATCHES, cpython_wasm, read_batches  # noqa: E402


class _Capture:
    """Stands in for LLVM: keeps the module text."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def compile_object(self, text: Any) -> bytes:
        self.texts.append(str(text))
        return b""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--llvm", action="store_true", help="also time LLVM on the text")
    parser.add_argument("--pipelines", default="none,0;minimal,0,regalloc",
                        help="LLVM configurations for --llvm, separated by ';'")
    parser.add_argument("--wasm", type=Path, default=None)
    args = parser.parse_args()

    from pyjitwasm.baseline import tier0
    from pyjitwasm.baseline.emitter import emit_function
    from pyjitwasm.jit import compiler
    from pyjitwasm.jit.codeload import CodeLoader, LLVMPipeline
    from pyjitwasm.runtime.jit import compile_module
    from pyjitwasm.translate.env import function_name
    from pyjitwasm.wasm.decoder import decode_module

    wasm = args.wasm or cpython_wasm()
    module = decode_module(wasm.read_bytes(), decode_bodies=False)
    batches = read_batches(BATCHES, args.batches)
    options = compile_module.CompileOptions()
    info = options.module_info(module)
    first = module.num_imported_funcs
    bodies = {index: module.codes[index - first] for batch in batches for index in batch}
    for body in bodies.values():
        body.instrs  # noqa: B018 - decodes the body (decoding is not measured)
    instructions = sum(module.codes[i - first].instr_count for b in batches for i in b)

    capture = _Capture()
    compiler.code_loader = lambda pipeline: capture  # type: ignore[assignment]

    def front_end(direct: bool) -> list[str]:
        os.environ["PYJITWASM_TIER0_DIRECT"] = "1" if direct else "0"
        capture.texts = []
        for batch in batches:
            compile_module.emit_batch(module, batch, options, info, True, False,
                                      compile_module.TIER0)
        return capture.texts

    def best_cpu(fn: Any) -> float:
        best = float("inf")
        for _ in range(args.repeat):
            t0 = time.process_time()
            fn()
            best = min(best, time.process_time() - t0)
        return best

    ir_cpu = best_cpu(lambda: front_end(False))
    direct_cpu = best_cpu(lambda: front_end(True))
    covered = [i for i in bodies if emit_function(info, i, function_name(i), "", {})]
    covered_instrs = sum(bodies[i].instr_count for i in covered)

    def emitter_only() -> None:
        for i in covered:
            emit_function(info, i, function_name(i), "", {})

    emitter_cpu = best_cpu(emitter_only)
    tier0.STATS.functions = 0
    print(f"{len(batches)} batches, {len(bodies)} functions, {instructions} wasm instructions")
    print(f"coverage: {len(covered)}/{len(bodies)} functions "
          f"({100 * len(covered) / len(bodies):.1f}%), {covered_instrs}/{sum(b.instr_count for b in bodies.values())} "
          f"instructions ({100 * covered_instrs / max(1, sum(b.instr_count for b in bodies.values())):.1f}%)")
    print(f"front end, CPU us/instr (best of {args.repeat}): IR path {1e6 * ir_cpu / instructions:.2f}, "
          f"with the direct emitter {1e6 * direct_cpu / instructions:.2f} "
          f"({ir_cpu / direct_cpu:.2f}x); emitter alone on what it covers "
          f"{1e6 * emitter_cpu / max(1, covered_instrs):.2f}")
    if not args.llvm:
        return
    ir_texts = front_end(False)
    direct_texts = front_end(True)
    print(f"LLVM text bytes per instruction: IR path {sum(map(len, ir_texts)) / instructions:.0f}, "
          f"direct {sum(map(len, direct_texts)) / instructions:.0f}")
    for setting in args.pipelines.split(";"):
        loader = CodeLoader(LLVMPipeline.parse(setting))
        for name, texts in (("IR path", ir_texts), ("direct", direct_texts),
                            ("IR path", ir_texts), ("direct", direct_texts)):
            t0 = time.process_time()
            for text in texts:
                loader.compile_object(text)
            cpu = time.process_time() - t0
            print(f"LLVM {setting:22} {name:8}: {1e6 * cpu / instructions:6.2f} CPU us/instr")


if __name__ == "__main__":
    main()
