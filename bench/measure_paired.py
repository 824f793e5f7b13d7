"""Run times of one program on pyjitwasm and on wasmtime-py in one process, the two
engines' runs alternating after a warm-up call each (pyjitwasm's tier-up finished), so
both see the same machine load (bench/simd.py's default).
Prints one JSON line: ``{"ours": {...}, "wasmtime": {...}}`` with bench/measure.py's
fields per engine (``run_s`` the best of ``--repeat``, ``checksum``...).

    python -P bench/measure_paired.py jit --wasm build/bench/simd_dot-....wasm --n 80000 \\
        --repeat 5 [--relaxed-simd-deterministic]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import open_engine, wait_for_background_compiles  # noqa: E402


def _prepare(name: str, wasm: bytes, deterministic: bool) -> tuple[Any, Any, float]:
    """(run function, store, compile seconds) of ``wasm`` on engine ``name``."""
    api, engine = open_engine(name, deterministic)
    store = api.Store(engine)
    start = time.perf_counter()
    module = api.Module(engine, wasm)
    compile_s = time.perf_counter() - start
    run = api.Instance(store, module, []).exports(store)["run"]
    return run, store, compile_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", choices=["interp", "jit"])
    parser.add_argument("--wasm", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--relaxed-simd-deterministic", action="store_true")
    args = parser.parse_args()
    wasm = args.wasm.read_bytes()
    out: dict[str, dict[str, Any]] = {}
    runs = {}
    for who, name in (("ours", args.engine), ("wasmtime", "wasmtime")):
        out[who] = {"engine": name}
        try:
            runs[who] = _prepare(name, wasm, args.relaxed_simd_deterministic)
            out[who]["compile_s"] = runs[who][2]
        except Exception as exc:  # noqa: BLE001 - reported in the table, not a crash
            out[who]["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            traceback.print_exc(file=sys.stderr)
    # Warm-up: hot loops reach pyjitwasm's tier 1 (bench/measure.py --warmup does the same).
    for who, (run, store, _compile) in list(runs.items()):
        try:
            run(store, max(1, args.n // 20))
            if who == "ours":
                wait_for_background_compiles()
        except Exception as exc:  # noqa: BLE001
            out[who]["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            del runs[who]
    times: dict[str, list[float]] = {who: [] for who in runs}
    for _ in range(args.repeat):
        for who, (run, store, _compile) in list(runs.items()):
            try:
                start = time.perf_counter()
                result = run(store, args.n)
                times[who].append(time.perf_counter() - start)
            except Exception as exc:  # noqa: BLE001
                out[who]["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
                del runs[who]
                continue
            previous = out[who].setdefault("checksum", result)
            if previous != result:
                out[who]["error"] = f"run({args.n}) returned {previous}, then {result}"
                del runs[who]
    for who, measured in times.items():
        if measured and "error" not in out[who]:
            out[who].update(run_s=min(measured), first_run_s=measured[0])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
