"""What epoch interruption and fuel metering cost on the bench/ programs.

One process holds three engines of the same strategy, without checks, with epoch checks
and with fuel (a deadline and fuel never reached), each with the program instantiated;
the runs alternate between them round after round and each is timed in CPU time of the
calling thread (the wasm code runs on it), so other work on the machine and drifting
load affect the three alike. Reports the best run of each and the cost relative to no
checks, as a markdown table.

    .venv/bin/python -P bench/interrupt_cost.py                 # the JIT, every program
    .venv/bin/python -P bench/interrupt_cost.py --engine interp --scale 0.002
    .venv/bin/python -P bench/interrupt_cost.py --programs sieve,nbody --rounds 7
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import INTERRUPTS, new_store, open_engine  # noqa: E402 - a sibling script
from run import DEFAULT_N, build, program_names  # noqa: E402


def _instances(engine_name: str, wasm: bytes) -> dict[str, tuple[Any, Any]]:
    """Per mode: (store, run export)."""
    out = {}
    for mode in INTERRUPTS:
        api, engine = open_engine(engine_name, mode)
        store = new_store(api, engine, mode)
        instance = api.Instance(store, api.Module(engine, wasm), [])
        out[mode] = (store, instance.exports(store)["run"])
    return out


def measure(engine_name: str, wasm: bytes, n: int, rounds: int) -> dict[str, float]:
    """Best thread CPU seconds of ``run(n)`` per mode; checksums must agree."""
    runs = _instances(engine_name, wasm)
    best = dict.fromkeys(INTERRUPTS, float("inf"))
    checksums = {mode: run(store, n) for mode, (store, run) in runs.items()}  # warm-up
    if len(set(checksums.values())) != 1:
        raise AssertionError(f"checksums differ between modes: {checksums}")
    for _ in range(rounds):
        for mode, (store, run) in runs.items():
            start = time.thread_time()
            run(store, n)
            best[mode] = min(best[mode], time.thread_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["jit", "interp", "wasmtime"], default="jit",
                        help="pyjitwasm strategy, or wasmtime-py for comparison")
    parser.add_argument("--scale", type=float, default=0.5,
                        help="multiply every program's work count (interp: e.g. 0.002)")
    parser.add_argument("--programs", default=",".join(DEFAULT_N),
                        help="comma-separated subset of: " + ", ".join(DEFAULT_N))
    parser.add_argument("--rounds", type=int, default=5, help="timed runs per mode (best)")
    args = parser.parse_args()

    print("| program | n | no checks s | epoch s | epoch cost | fuel s | fuel cost |\n"
          "|---|---|---|---|---|---|---|")
    for name in program_names(args.programs, DEFAULT_N):
        n = max(1, round(DEFAULT_N[name] * args.scale))
        best = measure(args.engine, build(name).read_bytes(), n, args.rounds)
        base = best["none"]
        cells = []
        for mode in ("epoch", "fuel"):
            cells += [f"{best[mode]:.3f}", f"{(best[mode] / base - 1) * 100:+.1f}%"]
        print(f"| {name} | {n} | {base:.3f} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{args.engine}, best of {args.rounds} runs per mode in thread CPU time, "
          "modes interleaved in one process.")


if __name__ == "__main__":
    main()
