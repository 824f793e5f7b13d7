"""A hot loop that runs once in a large module: on-stack replacement with a compile worker.

The module is ``startup.py``'s generated program (``--functions`` functions, over the
256 KiB of code that gets a compile worker) plus an export ``start(n, reps)`` that does
some start-up work through the function table and then runs a matrix-multiply loop nest
``reps`` times, in one call: a command-line program whose ``main`` holds the kernel.
Each configuration runs cold (no code cache) in a fresh process, interleaved, and the
time from module bytes to ``start``'s result is reported (median of ``--repeat``):

* ``osr-in-worker``: the default: the loop's entry compiled in the compile worker;
* ``no-osr``: ``PYJITWASM_OSR=0``, the frame stays in x64 tier-0 code;
* ``osr-in-process``: ``PYJITWASM_COMPILE_WORKER=0``, no worker: the entry is compiled
  on this process's background thread (LLVM loaded in the program's process).

    .venv/bin/python -P bench/osr_worker.py --reps 100,300 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

from startup import big_source, build_generated  # noqa: E402 - a sibling script

KERNEL = r"""
static double A[160*160], B[160*160], C[160*160];
static long long kernel(int n, int reps) {
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            A[i*n+j] = (double)((i * 7 + j) % 13) * 0.25;
            B[i*n+j] = (double)((i + j * 3) % 11) * 0.5;
            C[i*n+j] = 0.0;
        }
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                double s = C[i*n+j] * 0.5;
                for (int k = 0; k < n; k++) s += A[i*n+k] * B[k*n+j];
                C[i*n+j] = s;
            }
    double total = 0.0;
    for (int i = 0; i < n * n; i++) total += C[i];
    return (long long)total;
}
int run(int n);
__attribute__((export_name("start"))) long long start(int n, int reps) {
    long long a = run(2);
    return kernel(n, reps) + (a & 1);
}
"""

CONFIGS = {
    "osr-in-worker": {},
    "no-osr": {"PYJITWASM_OSR": "0"},
    "osr-in-process": {"PYJITWASM_COMPILE_WORKER": "0"},
}


def build(functions: int) -> Path:
    """The generated program with the kernel (compiled once per size)."""
    return build_generated(f"osrkernel{functions}", big_source(functions) + KERNEL)


def measure_one(wasm_path: str, n: int, reps: int) -> dict[str, Any]:
    """Module bytes -> ``start(n, reps)``'s result, in this process."""
    wasm = Path(wasm_path).read_bytes()
    t0 = time.perf_counter()
    import pyjitwasm

    store = pyjitwasm.Store(pyjitwasm.Engine(pyjitwasm.Config()))
    module = pyjitwasm.Module(store.engine, wasm)
    instance = pyjitwasm.Instance(store, module, [])
    result = instance.exports(store)["start"](store, n, reps)
    elapsed = time.perf_counter() - t0
    code = module._prepared.compiled()  # noqa: SLF001 - the benchmark looks inside
    return {"result": result, "seconds": elapsed, "osr": code.osr_compiles,
            "osr_in_worker": code.osr_worker_compiles,
            "llvm_in_process": "llvmlite.binding" in sys.modules}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(measure_one(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=3000)
    parser.add_argument("--n", type=int, default=160)
    parser.add_argument("--reps", default="100,300")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    wasm = build(args.functions)
    print(f"{wasm.name}: {wasm.stat().st_size / 1024:.0f} KiB", file=sys.stderr)
    rows: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for reps in map(int, args.reps.split(",")):
        for _ in range(args.repeat):
            for name, extra in CONFIGS.items():
                env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
                env.update(extra, PYJITWASM_CACHE="0")
                cmd = [sys.executable, "-P", __file__, "--child", str(wasm), str(args.n),
                       str(reps)]
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
                rows.setdefault((reps, name), []).append(
                    json.loads(out.stdout.strip().splitlines()[-1]))
    print("| reps | configuration | time to result s (median) | runs | OSR entries (in the"
          " worker) | LLVM in the program's process | result |")
    print("|---|---|---|---|---|---|---|")
    for (reps, name), runs in rows.items():
        seconds = [r["seconds"] for r in runs]
        print(f"| {reps} | {name} | {statistics.median(seconds):.2f} "
              f"| {', '.join(f'{s:.2f}' for s in seconds)} "
              f"| {runs[0]['osr']} ({runs[0]['osr_in_worker']}) "
              f"| {'yes' if any(r['llvm_in_process'] for r in runs) else 'no'} "
              f"| {', '.join(sorted({str(r['result']) for r in runs}))} |")


if __name__ == "__main__":
    main()
