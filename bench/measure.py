"""One measurement in a fresh process (bench/run.py starts one per engine and workload, so
peak RSS belongs to that engine and run alone). Prints one JSON line on stdout.

    python -P bench/measure.py ENGINE --wasm build/bench/sieve-....wasm --n 40 [--repeat 3]
    python -P bench/measure.py ENGINE --calls 100000

ENGINE is ``interp`` or ``jit`` (pyjitwasm with that ``Config(strategy=...)``) or
``wasmtime`` (wasmtime-py). Both APIs share their shapes, so one code path drives both.
``--interrupts epoch`` / ``fuel`` turns on epoch interruption / fuel metering (with a
deadline and fuel that are never reached), to measure what the checks cost.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

CALLS_WAT = """
(module
  (import "host" "inc" (func $inc (param i32) (result i32)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "call_host") (param i32) (result i32) (local i32)
    (loop $again
      (local.set 1 (call $inc (local.get 1)))
      (br_if $again (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1)))
"""


def run_json_child(cmd: list[str], timeout: float | None = None,
                   env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a benchmark child process that prints its result as JSON on its last stdout
    line; that result, or ``{"error": ...}`` when it timed out, failed or printed none."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              check=False, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        why = proc.stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return {"error": f"crashed: {why[0][:200]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmHWM = peak RSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


INTERRUPTS = ("none", "epoch", "fuel")
"""What ``--interrupts`` accepts."""


def open_engine(name: str, interrupts: str = "none", relaxed_simd_deterministic: bool = False
                ) -> tuple[ModuleType, Any]:
    """The API module (pyjitwasm or wasmtime) and an engine for ``name``: with the
    interruption checks ``interrupts`` names, and relaxed SIMD in deterministic mode when
    asked (both default to the host's native results)."""
    if name == "wasmtime":
        import wasmtime

        api: ModuleType = wasmtime
        config = wasmtime.Config()
        config.wasm_relaxed_simd_deterministic = relaxed_simd_deterministic
    else:
        import pyjitwasm

        api = pyjitwasm
        config = pyjitwasm.Config(strategy=name)
        config.relaxed_simd_deterministic = relaxed_simd_deterministic
    config.epoch_interruption = interrupts == "epoch"
    config.consume_fuel = interrupts == "fuel"
    return api, api.Engine(config)


def wait_for_background_compiles() -> None:
    """pyjitwasm: wait until the tier-up compiles queued so far are done."""
    from pyjitwasm.runtime.jit.tiering import background_compiler

    background_compiler().wait_idle(600)


def new_store(api: ModuleType, engine: Any, interrupts: str) -> Any:
    """A store whose epoch deadline or fuel (if on) is never reached."""
    store = api.Store(engine)
    if interrupts == "epoch":
        store.set_epoch_deadline(1 << 62)
    elif interrupts == "fuel":
        store.set_fuel(1 << 62)
    return store


def measure_program(api: ModuleType, engine: Any, wasm: bytes, n: int, repeat: int,
                    interrupts: str = "none", warmup: bool = False) -> dict:
    store = new_store(api, engine, interrupts)
    start = time.perf_counter()
    module = api.Module(engine, wasm)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    instance = api.Instance(store, module, [])
    instantiate_s = time.perf_counter() - start
    run = instance.exports(store)["run"]
    warmup_s = 0.0
    if warmup:
        # Hot loops reach tier 1 here; the timed calls below then run optimized code.
        start = time.perf_counter()
        run(store, max(1, n // 20))
        if api.__name__ == "pyjitwasm":
            wait_for_background_compiles()
        warmup_s = time.perf_counter() - start
    times, checksum = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = run(store, n)
        times.append(time.perf_counter() - start)
        if checksum is not None and result != checksum:
            raise AssertionError(f"run({n}) returned {result}, then {checksum}")
        checksum = result
    return {"compile_s": compile_s, "instantiate_s": instantiate_s, "run_s": min(times),
            "first_run_s": times[0], "warmup_s": warmup_s, "checksum": checksum}


def measure_calls(api: ModuleType, engine: Any, calls: int, interrupts: str = "none") -> dict:
    """Microseconds per call: Python -> a two-argument i32 export, and wasm -> a Python
    host function (a wasm loop calling it ``calls`` times; the loop's own few
    instructions are included)."""
    from pyjitwasm import wat2wasm

    store = new_store(api, engine, interrupts)
    module = api.Module(engine, wat2wasm(CALLS_WAT))
    i32 = api.ValType.i32()
    inc = api.Func(store, api.FuncType([i32], [i32]), lambda x: x + 1)
    exports = api.Instance(store, module, [inc]).exports(store)
    add, call_host = exports["add"], exports["call_host"]
    add(store, 1, 2)
    best_in = best_out = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(calls):
            add(store, i, 1)
        best_in = min(best_in, time.perf_counter() - start)
        start = time.perf_counter()
        result = call_host(store, calls)
        best_out = min(best_out, time.perf_counter() - start)
        if result != calls:
            raise AssertionError(f"call_host({calls}) returned {result}")
    return {"py_to_wasm_us": best_in / calls * 1e6, "wasm_to_py_us": best_out / calls * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", choices=["interp", "jit", "wasmtime"])
    parser.add_argument("--wasm", type=Path)
    parser.add_argument("--n", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--calls", type=int)
    parser.add_argument("--relaxed-simd-deterministic", action="store_true",
                        help="relaxed SIMD in deterministic mode (default: native)")
    parser.add_argument("--warmup", action="store_true",
                        help="call run(n / 20) first (and let pyjitwasm's tier-up finish)")
    parser.add_argument("--interrupts", choices=INTERRUPTS, default="none")
    args = parser.parse_args()
    out: dict[str, Any] = {"engine": args.engine}
    try:
        api, engine = open_engine(args.engine, args.interrupts,
                                  args.relaxed_simd_deterministic)
        out["base_rss_kib"] = status_kib("VmRSS")
        if args.calls:
            out.update(measure_calls(api, engine, args.calls, args.interrupts))
        else:
            out.update(measure_program(api, engine, args.wasm.read_bytes(), args.n, args.repeat,
                                       args.interrupts, args.warmup))
    except Exception as exc:  # noqa: BLE001 - reported in the table, not a crash
        out["error"] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        traceback.print_exc(file=sys.stderr)
    out["peak_rss_kib"] = status_kib("VmHWM")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
