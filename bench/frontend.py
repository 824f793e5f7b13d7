"""Front-end benchmark: time per wasm instruction and peak memory of each compiler stage.

The stages are the Python half of compiling a function, before LLVM: decode (bytes to
``WasmModule``, the whole module), translate (wasm to IR), legalize, and lower (legalized
IR to LLVM IR text, ``jit.lower_module.emit_module``).  Each defined function goes
through translate -> legalize -> lower on its own and is dropped, as a compile batch's
functions are; a stage's figure is its total time over the module divided by the
module's wasm instruction count (best of ``--repeat``); wall time, and the process's
CPU time beside it (the steadier figure when other jobs share the machine).  Each
checkout's compile driver policy for the cyclic garbage collector applies (see
``_gc_policy``).  Memory, in a second pass under
``tracemalloc``: the most Python memory one function's stage allocated at its peak
(over the module's functions) and the peak RSS of the measuring process.

Programs: the C programs of bench/programs/ (built as bench/run.py builds them), ``big``
(bench/startup.py's generated program, ``--big-functions`` functions) and ``huge``, a
generated module with ONE function of ``--huge-instructions`` wasm instructions
(``tests/support/huge_function.py``: arithmetic on locals, memory accesses, nested
blocks, branches, ``br_table`` and loops).

Every measurement runs in a fresh process.  ``--baseline DIR`` runs the same
measurements with another checkout's interpreter (``DIR/.venv/bin/python``, which imports
that checkout's pyjitwasm) and prints both side by side with the speed-up;
The x64 column: the default tier 0 (``x64/``, wasm straight to machine code, no IR and
no LLVM) per wasm instruction of the functions it covers, and their share.
``--compile`` also times a whole eager compile (``Module`` + ``Instance`` with
``lazy_compilation=False``: front end and LLVM) and its peak RSS in a fresh process.

    .venv/bin/python -P bench/frontend.py
    .venv/bin/python -P bench/frontend.py --baseline /work/main --programs huge,big
    .venv/bin/python -P bench/frontend.py --programs huge --huge-instructions 100000 --compile
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(REPO / "tests"))

from measure import run_json_child, status_kib  # noqa: E402 - a sibling script

STAGES = ("decode", "translate", "legalize", "lower")


# Measuring (in the child process, with the checkout under test) ------------------------


def _gc_policy() -> Any:
    """What the checkout's compile driver does with the cyclic collector while it
    compiles (``compile_module.cyclic_gc_paused`` where it exists, else nothing), so each
    checkout is measured as it runs in the product."""
    import contextlib

    try:
        from pyjitwasm.runtime.jit.compile_module import cyclic_gc_paused
    except ImportError:
        return contextlib.nullcontext()
    return cyclic_gc_paused()


def _pipeline(module: Any, info: Any, index: int, timings: dict[str, float] | None,
              peaks: dict[str, int] | None, cpu: dict[str, float] | None = None) -> None:
    """translate -> legalize -> lower one function; add stage seconds (wall, and CPU to
    ``cpu``) to ``timings`` or record each stage's tracemalloc peak (bytes above its
    start) in ``peaks``."""
    import tracemalloc

    from pyjitwasm.ir.legalize import legalize
    from pyjitwasm.jit.lower_module import emit_module
    from pyjitwasm.translate.translator import translate_function

    def stage(name: str, fn: Any) -> Any:
        if peaks is not None:
            start, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            result = fn()
            peaks[name] = max(peaks.get(name, 0), tracemalloc.get_traced_memory()[1] - start)
            return result
        assert timings is not None
        c0, t0 = time.process_time(), time.perf_counter()
        result = fn()
        timings[name] += time.perf_counter() - t0
        if cpu is not None:
            cpu[name] += time.process_time() - c0
        return result

    with _gc_policy():
        func = stage("translate", lambda: translate_function(module, index, info=info))
        stage("legalize", lambda: legalize(func))
        stage("lower", lambda: emit_module([(func, "")]))


def measure_frontend(wasm_path: str, repeat: int, memory: bool) -> dict[str, Any]:
    """The child's measurement of one module (this process's pyjitwasm)."""
    from pyjitwasm.translate.translator import HeapConfig, ModuleInfo
    from pyjitwasm.wasm.decoder import decode_module

    data = Path(wasm_path).read_bytes()
    best = {name: float("inf") for name in STAGES}
    best_cpu = {name: float("inf") for name in STAGES}
    module = None
    for _ in range(repeat):
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        module = decode_module(data)
        best["decode"] = min(best["decode"], time.perf_counter() - t0)
        best_cpu["decode"] = min(best_cpu["decode"], time.process_time() - c0)
    assert module is not None
    instructions = sum(len(code.instrs) for code in module.codes)
    first = module.num_imported_funcs
    info = ModuleInfo(module, HeapConfig())
    for _ in range(repeat):
        timings = dict.fromkeys(STAGES, 0.0)
        cpu = dict.fromkeys(STAGES, 0.0)
        gc.collect()
        for k in range(len(module.codes)):
            _pipeline(module, info, first + k, timings, None, cpu)
        for name in STAGES[1:]:
            best[name] = min(best[name], timings[name])
            best_cpu[name] = min(best_cpu[name], cpu[name])
    row: dict[str, Any] = {
        "instructions": instructions, "functions": len(module.codes),
        "seconds": best, "cpu_seconds": best_cpu, "peak_rss_kib": status_kib("VmHWM"),
    }
    x64 = _measure_x64(module, repeat)
    if x64 is not None:
        row["x64"] = x64
    if memory:
        import tracemalloc

        gc.collect()
        peaks: dict[str, int] = {}
        tracemalloc.start()
        start, _ = tracemalloc.get_traced_memory()
        decode_module(data)
        peaks["decode"] = tracemalloc.get_traced_memory()[1] - start
        for k in range(len(module.codes)):
            _pipeline(module, info, first + k, None, peaks)
        tracemalloc.stop()
        row["peak_bytes"] = peaks
    return row


def _measure_x64(module: Any, repeat: int) -> dict[str, Any] | None:
    """The single-pass x86-64 tier 0 (``x64/``, the default tier 0) on every defined
    function alone: wasm straight to a relocatable object of machine code, the work the
    four stages above plus LLVM do for the IR path.  Best of ``repeat``, seconds over
    the functions it covers (it declines the others, as a batch then takes the LLVM
    path), and how many wasm instructions those have.  None on a checkout without it or
    another host.  With the engine's default options (a static heap), as the product
    compiles; the stages above keep their own dynamic-heap configuration."""
    try:
        from pyjitwasm.runtime.jit.compile_module import CompileOptions
        from pyjitwasm.x64.tier0 import supported_host, x64_tier0_object
    except ImportError:
        return None
    if not supported_host():
        return None
    info = CompileOptions().module_info(module)
    first = module.num_imported_funcs
    best = best_cpu = float("inf")
    covered = 0
    for _ in range(repeat):
        gc.collect()
        covered = 0
        with _gc_policy():
            c0, t0 = time.process_time(), time.perf_counter()
            for k, code in enumerate(module.codes):
                if x64_tier0_object(info, [first + k]) is not None:
                    covered += code.instr_count
            best = min(best, time.perf_counter() - t0)
            best_cpu = min(best_cpu, time.process_time() - c0)
    return {"seconds": best, "cpu_seconds": best_cpu, "instructions": covered}


def measure_compile(wasm_path: str) -> dict[str, Any]:
    """Time and peak RSS of compiling the whole module eagerly (front end and LLVM)."""
    import pyjitwasm as api

    data = Path(wasm_path).read_bytes()
    engine = api.Engine(api.Config(strategy="jit", lazy_compilation=False))
    base = status_kib("VmRSS")
    cpu0, t0 = time.process_time(), time.perf_counter()
    module = api.Module(engine, data)
    api.Instance(api.Store(engine), module, [])
    return {"compile_s": time.perf_counter() - t0, "compile_cpu_s": time.process_time() - cpu0,
            "compile_peak_rss_kib": status_kib("VmHWM"), "base_rss_kib": base}


# Driving (the parent) ---------------------------------------------------------------------


def run_child(python: str, args: list[str], timeout: float) -> dict[str, Any]:
    cmd = [python, "-P", str(Path(__file__).resolve()), "--child", *args]
    return run_json_child(cmd, timeout)


def program_path(name: str, big_functions: int, huge_instructions: int) -> Path:
    from run import BUILD_DIR, build
    from startup import build_big

    if name == "big":
        return build_big(big_functions)
    if name == "huge":
        from support.huge_function import huge_function_module

        out = BUILD_DIR / f"huge{huge_instructions}.wasm"
        if not out.exists():
            BUILD_DIR.mkdir(parents=True, exist_ok=True)
            out.write_bytes(huge_function_module(huge_instructions))
        return out
    return build(name)


def _us(row: dict[str, Any], stage: str) -> float:
    return 1e6 * row["seconds"][stage] / max(row["instructions"], 1)


def _front_us(row: dict[str, Any]) -> float:
    return sum(_us(row, s) for s in STAGES)


def _front_cpu_us(row: dict[str, Any]) -> float:
    return 1e6 * sum(row["cpu_seconds"].values()) / max(row["instructions"], 1)


def _x64_cell(row: dict[str, Any]) -> str:
    x64 = row.get("x64")
    if not x64 or not x64["instructions"]:
        return "-"
    share = x64["instructions"] / max(row["instructions"], 1)
    count = x64["instructions"]
    return (f"{1e6 * x64['seconds'] / count:.2f} / {1e6 * x64['cpu_seconds'] / count:.2f}"
            f" ({share:.0%})")


def table(rows: list[dict[str, Any]], labels: list[str]) -> str:
    """Markdown: one line per program and checkout."""
    header = ("| program | wasm instrs | checkout | decode µs/instr | translate | legalize "
              "| lower | total µs/instr | speed-up | CPU µs/instr | CPU speed-up "
              "| largest stage peak MiB | peak RSS MiB "
              "| x64 tier 0 µs/instr, wall / CPU (share covered) |")
    compile_cols = any("compile_s" in r for r in rows)
    if compile_cols:
        header += " eager compile s | compile peak RSS MiB |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    by_program: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_program.setdefault(row["program"], {})[row["checkout"]] = row
    for program, runs in by_program.items():
        base = runs.get(labels[0])
        for label in labels:
            row = runs.get(label)
            if row is None:
                continue
            if "error" in row:
                lines.append(f"| {program} | - | {label} | {row['error']} |")
                continue
            speedup = cpu_speedup = ""
            if base is not None and "error" not in base and label != labels[0]:
                speedup = f"{_front_us(base) / _front_us(row):.2f}x"
                cpu_speedup = f"{_front_cpu_us(base) / _front_cpu_us(row):.2f}x"
            peak = max(row.get("peak_bytes", {}).values(), default=0) / 2**20
            line = (f"| {program} | {row['instructions']:,} | {label} "
                    + "".join(f"| {_us(row, s):.2f} " for s in STAGES)
                    + f"| {_front_us(row):.2f} | {speedup} | {_front_cpu_us(row):.2f} "
                    f"| {cpu_speedup} | {peak:.0f} | {row['peak_rss_kib'] / 1024:.0f} "
                    f"| {_x64_cell(row)} |")
            if compile_cols:
                if "compile_s" in row:
                    line += (f" {row['compile_s']:.1f} "
                             f"| {row['compile_peak_rss_kib'] / 1024:.0f} |")
                else:
                    line += f" {row.get('compile_error', '-')} | - |"
            lines.append(line)
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, wasm = sys.argv[2], sys.argv[3]
        if kind == "frontend":
            result = measure_frontend(wasm, int(sys.argv[4]), sys.argv[5] == "1")
        else:
            result = measure_compile(wasm)
        print(json.dumps(result))
        return
    from run import DEFAULT_N

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", default=",".join([*DEFAULT_N, "big", "huge"]))
    parser.add_argument("--big-functions", type=int, default=2000)
    parser.add_argument("--huge-instructions", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3,
                        help="best of this many runs (huge: always 1)")
    parser.add_argument("--baseline", type=Path,
                        help="another checkout to measure side by side (its .venv)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the tracemalloc pass")
    parser.add_argument("--compile", action="store_true",
                        help="also time a whole eager compile (front end + LLVM)")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    checkouts = [("this", sys.executable)]
    if args.baseline is not None:
        python = args.baseline / ".venv" / "bin" / "python"
        label = args.baseline.name
        checkouts.insert(0, (label, os.fspath(python)))
    rows: list[dict[str, Any]] = []
    for name in args.programs.split(","):
        wasm = program_path(name, args.big_functions, args.huge_instructions)
        repeat = 1 if name == "huge" else args.repeat
        for label, python in checkouts:
            row = run_child(python, ["frontend", str(wasm), str(repeat),
                                     "0" if args.no_memory else "1"], args.timeout)
            if args.compile and "error" not in row:
                compiled = run_child(python, ["compile", str(wasm)], args.timeout)
                if "error" in compiled:
                    row["compile_error"] = compiled["error"]
                else:
                    row.update(compiled)
            row.update(program=name, checkout=label)
            rows.append(row)
            done = "error" if "error" in row else f"{_front_us(row):.2f} µs/instr"
            print(f"{name:>10} {label:>12}: {done}", file=sys.stderr)
    print(table(rows, [label for label, _ in checkouts]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
