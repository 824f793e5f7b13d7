"""Which LLVM configuration should tier 0 be?  Compile time against code speed.

For each program and each LLVM configuration (``jit/pipelines.py``'s ``LLVMPipeline``:
a pass set, the code generator's level, ``-optimize-regalloc`` at level 0, and
optionally ``-fast-isel`` at levels 1-2), a fresh process compiles the whole module
eagerly with that configuration (no tiers), reports the LLVM seconds (passes + code
generation, wall) and the CPU seconds of the whole compile, then the CPU seconds of
``run(n)`` (best of two calls; CPU time because the machine is shared).  Programs: the C
programs of bench/programs/ at ``--scale`` times bench/run.py's work count, and
bench/startup.py's generated ``big`` program (compile time only).

    .venv/bin/python -P bench/tier_configs.py
    .venv/bin/python -P bench/tier_configs.py --programs sieve,nbody --configs none,0 standard,2

A configuration is ``PASSES,LEVEL[,regalloc][,fastisel]``; PASSES is ``none``,
``minimal``, ``standard`` (tier 1 today) or ``O2``.  Prints a markdown table of LLVM
seconds summed over the programs and the run time of each program relative to tier 1
(``standard,2``); ``--json`` saves the raw rows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from run import DEFAULT_N, build  # noqa: E402 - the sibling script
from startup import build_big  # noqa: E402

CONFIGS = (
    "none,0", "none,0,regalloc", "minimal,0", "minimal,0,regalloc", "standard,0,regalloc",
    "minimal,1", "minimal,2,fastisel", "minimal,2", "standard,2",
)
BASELINE = "standard,2"


def measure_child(config: str, wasm_path: str, n: int) -> dict[str, Any]:
    """In the child process: compile ``wasm_path`` eagerly with ``config``, run it."""
    from dataclasses import replace

    import llvmlite.binding as llvm

    import pyjitwasm
    from pyjitwasm.jit.codeload import ensure_llvm_initialized
    from pyjitwasm.jit.pipelines import LLVMPipeline

    parts = config.split(",")
    if "fastisel" in parts:
        ensure_llvm_initialized()
        llvm.set_option("pyjitwasm", "-fast-isel")
        parts.remove("fastisel")
    pipeline = LLVMPipeline.parse(",".join(parts))
    engine = pyjitwasm.Engine(pyjitwasm.Config(lazy_compilation=False))
    backend: Any = engine.backend
    backend.options = replace(backend.options, llvm_pipeline=pipeline, tiers=False)
    wasm = Path(wasm_path).read_bytes()
    store = pyjitwasm.Store(engine)
    t0 = time.process_time()
    module = pyjitwasm.Module(engine, wasm)
    instance = pyjitwasm.Instance(store, module, [])
    compile_s = time.process_time() - t0
    code: Any = module._prepared.compiled()  # noqa: SLF001 - a benchmark looks inside
    llvm_s = sum(batch.timings.llvm for batch in code.batches)
    run = instance.exports(store)["run"]
    run_s = float("inf")
    for _ in range(2):
        t0 = time.process_time()
        checksum = run(store, n)
        run_s = min(run_s, time.process_time() - t0)
    return {"config": config, "compile_s": compile_s, "llvm_s": llvm_s, "run_s": run_s,
            "checksum": checksum}


def measure(config: str, wasm: Path, n: int) -> dict[str, Any]:
    cmd = [sys.executable, "-P", __file__, "--child", config, str(wasm), str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        why = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return {"config": config, "error": why[0][:200]}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def table(rows: dict[str, dict[str, dict[str, Any]]], programs: list[str],
          configs: list[str]) -> str:
    timed = [p for p in programs if p != "big"]
    head = ("| configuration | LLVM s (all programs) | compile s (all) | "
            + " | ".join(f"{p} run" for p in timed) + " | run geomean |")
    lines = [head, "|" + "---|" * (4 + len(timed))]
    for config in configs:
        cells, ratios = [], []
        llvm_total = compile_total = 0.0
        for program in programs:
            row = rows[program][config]
            if "error" in row:
                if program != "big":
                    cells.append("error")
                continue
            llvm_total += row["llvm_s"]
            compile_total += row["compile_s"]
            if program == "big":
                continue
            base = rows[program].get(BASELINE, {})
            if "run_s" in base and base["run_s"] > 0:
                ratio = row["run_s"] / base["run_s"]
                ratios.append(ratio)
                cells.append(f"{ratio:.2f}x")
            else:
                cells.append(f"{row['run_s']:.3f} s")
        geo = 1.0
        for r in ratios:
            geo *= r
        geo = geo ** (1 / len(ratios)) if ratios else float("nan")
        lines.append(f"| `{config}` | {llvm_total:.2f} | {compile_total:.2f} | "
                     + " | ".join(cells) + f" | {geo:.2f}x |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        config, wasm_path, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
        print(json.dumps(measure_child(config, wasm_path, n)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", default=",".join([*DEFAULT_N, "big"]))
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS))
    parser.add_argument("--scale", type=float, default=0.5)
    parser.add_argument("--big-functions", type=int, default=300)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    programs = [p.strip() for p in args.programs.split(",") if p.strip()]
    configs = list(args.configs)
    if BASELINE not in configs:
        configs.append(BASELINE)
    rows: dict[str, dict[str, dict[str, Any]]] = {}
    for program in programs:
        if program == "big":
            wasm, n = build_big(args.big_functions), 1
        else:
            wasm, n = build(program), max(1, int(DEFAULT_N[program] * args.scale))
        rows[program] = {}
        for config in configs:
            row = measure(config, wasm, n)
            rows[program][config] = row
            print(program, config, row, file=sys.stderr, flush=True)
        sums = {r.get("checksum") for r in rows[program].values() if "checksum" in r}
        if len(sums) > 1:
            raise SystemExit(f"{program}: configurations disagree on the checksum: {sums}")
    print(table(rows, programs, configs))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
