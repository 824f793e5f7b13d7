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
import os
import subprocess
import sys
import threading
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
                   env: dict[str, str] | None = None,
                   sample_memory: bool = False) -> dict[str, Any]:
    """Run a benchmark child process that prints its result as JSON on its last stdout
    line; that result, or ``{"error": ...}`` when it timed out, failed or printed none.

    With ``sample_memory``, the result also has ``peak_pss_total_kib``: the highest sum
    of the proportional set sizes of the child and its descendants (pyjitwasm's compile
    worker), sampled from here every ``PSS_SAMPLE_SECONDS``.  Summing their peak RSS
    instead counts the pages they share (the LLVM library's code, mapped by both) once
    per process."""
    sampler = None
    try:
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) as proc:
            if sample_memory:
                sampler = PssSampler(proc.pid)
                sampler.start()
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                return {"error": f"timed out after {timeout:.0f} s"}
    finally:
        if sampler is not None:
            sampler.stop()
    lines = stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        why = stderr.strip().splitlines()[-1:] or [f"exit status {proc.returncode}"]
        return {"error": f"crashed: {why[0][:200]}"}
    result: dict[str, Any] = json.loads(lines[-1])
    if sampler is not None:
        result["peak_pss_total_kib"] = sampler.peak_kib
    return result


PSS_SAMPLE_SECONDS = float(os.environ.get("BENCH_PSS_SAMPLE_SECONDS", "0.02"))
"""How often ``PssSampler`` reads the processes' memory (``$BENCH_PSS_SAMPLE_SECONDS``): each
read costs ~0.35 ms of the other core, which wasmtime-py's compile threads use too."""


class PssSampler(threading.Thread):
    """Samples the summed PSS (``/proc/PID/smaps_rollup``) of a process tree."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_kib = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(PSS_SAMPLE_SECONDS):
            total = sum(_pss_kib(pid) for pid in _process_tree(self.pid))
            self.peak_kib = max(self.peak_kib, total)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its live descendants."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as f:
                    todo.extend(int(child) for child in f.read().split())
        except OSError:
            continue  # it ended meanwhile
    return tree


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass  # ended, or not ours to read
    return 0


def status_kib(field: str) -> int:
    """A memory figure of this process from /proc/self/status (VmHWM = peak RSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


ENGINE_LIBRARIES = ("libllvmlite", "_libwasmtime")
"""Shared libraries whose resident pages :func:`library_rss_kib` counts: LLVM's (the JIT's
code generator) and wasmtime-py's runtime."""


def library_rss_kib() -> dict[str, int]:
    """Resident KiB of this process's mappings of each of :data:`ENGINE_LIBRARIES` that is
    loaded (from /proc/self/smaps), and the part of it that is private and written to
    (``NAME:dirty``); the rest is clean pages of the file, which the page cache shares
    with every process mapping it."""
    found: dict[str, int] = {}
    current = None
    with open("/proc/self/smaps") as f:
        for line in f:
            fields = line.split()
            if not line[0].isupper():  # a mapping's first line: address range ... path
                path = fields[5] if len(fields) > 5 else ""
                current = next((name for name in ENGINE_LIBRARIES if name in path), None)
            elif current is not None and fields[0] in ("Rss:", "Private_Dirty:"):
                key = current if fields[0] == "Rss:" else current + ":dirty"
                found[key] = found.get(key, 0) + int(fields[1])
    return found


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
