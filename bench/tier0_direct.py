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

``--run PROGRAMS`` instead measures the run speed of tier-0 code: each ``bench/``
program's ``run(n)`` (n = bench/run.py's count times ``--scale``) once, lazily compiled
with a tier-up threshold no loop reaches (so the whole call runs tier-0 code, the "hot
loop that runs once" case), in a fresh process per measurement, CPU seconds of the call
(compilation excluded); configurations ``--configs`` (``ir``, ``direct``, or
``direct:PIPELINE``) alternate, ``--repeat`` rounds.

    .venv/bin/python -P bench/tier0_direct.py --repeat 3 --llvm
    .venv/bin/python -P bench/tier0_direct.py --run sieve,nbody --scale 0.2 --repeat 2
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
    parser.add_argument("--pipelines", default="minimal,0,regalloc;large,0,regalloc",
                        help="LLVM configurations for --llvm's batches with a loop, "
                             "separated by ';'")
    parser.add_argument("--wasm", type=Path, default=None)
    parser.add_argument("--run", default="", help="bench/ programs: tier-0 run speed")
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--configs", default="ir;direct", help="separated by ';'")
    args = parser.parse_args()
    if args.run:
        run_speed(args.run.split(","), args.configs.split(";"), args.scale, args.repeat)
        return

    from pyjitwasm.baseline import tier0
    from pyjitwasm.baseline.emitter import emit_function
    from pyjitwasm.jit import compiler
    from pyjitwasm.jit.codeload import CodeLoader
    from pyjitwasm.jit.pipelines import LLVMPipeline
    from pyjitwasm.runtime.jit import compile_module
    from pyjitwasm.translate.module_info import function_name
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
    all_instrs = sum(b.instr_count for b in bodies.values())
    print(f"coverage: {len(covered)}/{len(bodies)} functions "
          f"({100 * len(covered) / len(bodies):.1f}%), {covered_instrs}/{all_instrs} "
          f"instructions ({100 * covered_instrs / max(1, all_instrs):.1f}%)")
    print(f"front end, CPU us/instr (best of {args.repeat}): "
          f"IR path {1e6 * ir_cpu / instructions:.2f}, "
          f"with the direct emitter {1e6 * direct_cpu / instructions:.2f} "
          f"({ir_cpu / direct_cpu:.2f}x); emitter alone on what it covers "
          f"{1e6 * emitter_cpu / max(1, covered_instrs):.2f}")
    if not args.llvm:
        return
    ir_texts = front_end(False)
    direct_texts = front_end(True)
    print(f"LLVM text bytes per instruction: IR path {sum(map(len, ir_texts)) / instructions:.0f}, "
          f"direct {sum(map(len, direct_texts)) / instructions:.0f}")
    has_loop = [any(compile_module._has_loop(module.codes[i - first].instrs) for i in batch)
                for batch in batches]
    loop_free = LLVMPipeline.parse("none,0")
    print(f"{sum(has_loop)} of {len(batches)} batches have a loop; loop-free batches at "
          f"{loop_free} (as the runtime), batches with a loop at each of --pipelines")
    loaders: dict[LLVMPipeline, CodeLoader] = {}

    def loader(pipeline: LLVMPipeline) -> CodeLoader:
        if pipeline not in loaders:
            loaders[pipeline] = CodeLoader(pipeline)
        return loaders[pipeline]

    for setting in args.pipelines.split(";"):
        with_loop = LLVMPipeline.parse(setting)
        runs: dict[str, list[tuple[float, float]]] = {"IR path": [], "direct": []}
        for _ in range(args.repeat):  # alternating, to share the machine's moods
            for name, texts in (("IR path", ir_texts), ("direct", direct_texts)):
                t0 = time.process_time()
                loop_cpu = 0.0
                for text, looping in zip(texts, has_loop, strict=True):
                    t1 = time.process_time()
                    loader(with_loop if looping else loop_free).compile_object(text)
                    if looping:
                        loop_cpu += time.process_time() - t1
                runs[name].append((time.process_time() - t0, loop_cpu))
        for name, results in runs.items():
            cpus = sorted(1e6 * cpu / instructions for cpu, _ in results)
            loops = min(results)[1] / min(results)[0]
            print(f"LLVM, loops at {setting:22} {name:8}: {cpus[0]:6.2f} CPU us/instr "
                  f"(best of {len(cpus)}; worst {cpus[-1]:.2f}; {100 * loops:.0f}% in "
                  f"batches with a loop)")


_CHILD = """
import json, sys, time
from pyjitwasm import Config, Engine, Instance, Module, Store
store = Store(Engine(Config(lazy_compilation=True)))
module = Module(store.engine, open(sys.argv[1], "rb").read())
run = Instance(store, module, []).exports(store)["run"]
run(store, 1)  # compiles run (and what it calls first) at tier 0
t0, w0 = time.process_time(), time.perf_counter()
checksum = run(store, int(sys.argv[2]))
print(json.dumps({"cpu": time.process_time() - t0, "wall": time.perf_counter() - w0,
                  "checksum": checksum}))
"""


def run_speed(programs: list[str], configs: list[str], scale: float, rounds: int) -> None:
    """Tier-0 run speed per configuration (see the module docstring)."""
    import json
    import subprocess

    from run import DEFAULT_N, build

    results: dict[tuple[str, str], list[float]] = {}
    checksums: dict[str, set[int]] = {}
    for _ in range(rounds):
        for program in programs:
            wasm = build(program)
            n = max(1, int(DEFAULT_N[program] * scale))
            for config in configs:
                env = dict(os.environ, PYJITWASM_TIER_UP_THRESHOLD="2000000000",
                           PYJITWASM_CACHE="0")
                env["PYJITWASM_TIER0_DIRECT"] = "0" if config == "ir" else "1"
                env.pop("PYJITWASM_TIER0_DIRECT_PIPELINE", None)
                if config.startswith("direct:"):
                    env["PYJITWASM_TIER0_DIRECT_PIPELINE"] = config.split(":", 1)[1]
                out = subprocess.run([sys.executable, "-P", "-c", _CHILD, str(wasm), str(n)],
                                     capture_output=True, text=True, env=env)
                if out.returncode:
                    sys.exit(f"{program} {config}: {out.stderr}")
                row = json.loads(out.stdout)
                results.setdefault((program, config), []).append(row["cpu"])
                checksums.setdefault(program, set()).add(row["checksum"])
    print("| program | " + " | ".join(f"{c} CPU s (min-max)" for c in configs)
          + " | " + " | ".join(f"{c} / {configs[0]}" for c in configs[1:]) + " |")
    print("|---" * (1 + 2 * len(configs) - 1) + "|")
    for program in programs:
        cells = []
        for config in configs:
            times = results[(program, config)]
            cells.append(f"{min(times):.3f}-{max(times):.3f}")
        base = min(results[(program, configs[0])])
        ratios = [f"{min(results[(program, c)]) / base:.2f}x" for c in configs[1:]]
        same = "" if len(checksums[program]) == 1 else " (CHECKSUMS DIFFER)"
        print(f"| {program}{same} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")


if __name__ == "__main__":
    main()
