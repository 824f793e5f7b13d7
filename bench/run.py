"""Benchmarks: pyjitwasm against wasmtime-py on the C programs in bench/programs/.

Each program is a library exporting ``run(n)`` (no WASI) that returns a checksum; ``n``
is a work count linear in time, sized so wasmtime takes roughly 0.3-0.5 s at scale 1.
Both engines run the same ``n`` and must return the same checksum. Every measurement runs
in its own process, so the peak RSS column is that engine's alone (Python included).

    .venv/bin/python -P bench/run.py                      # the JIT when available
    .venv/bin/python -P bench/run.py --engine interp --scale 0.002
    .venv/bin/python -P bench/run.py --programs sieve,nbody --repeat 3 --json out.json

Programs are compiled with ``python -m ziglang cc --target=wasm32-wasi -O2`` into
build/bench/ (cached by a hash of source and flags). Prints markdown tables.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PROGRAMS_DIR = BENCH / "programs"
BUILD_DIR = REPO / "build" / "bench"
MEASURE = BENCH / "measure.py"

# bench/ is not a package and ``python -P`` leaves the script's folder off sys.path.
sys.path.insert(0, str(BENCH))

from measure import run_json_child  # noqa: E402 - a sibling script

# Work count per program at scale 1 (wasmtime: ~0.3-0.5 s on the development machine).
DEFAULT_N = {
    "sieve": 4000,
    "nbody": 8_000_000,
    "fannkuch": 250,
    "sha256": 1_500_000,
    "matmul": 4000,
    "quicksort": 800,
    "hashmap": 5000,
    "memops": 150_000,
}

CFLAGS = [
    "--target=wasm32-wasi", "-O2",
    # A library: no libc, no WASI imports, no _start; run() is exported by attribute.
    "-nostdlib", "-Wl,--no-entry", "-Wl,-z,stack-size=65536",
]


def build(name: str, extra_flags: Sequence[str] = ()) -> Path:
    """Compile bench/programs/NAME.c (once per source and flags) and return the .wasm.
    ``extra_flags`` follow CFLAGS (bench/simd.py builds with and without -msimd128)."""
    source = PROGRAMS_DIR / f"{name}.c"
    flags = [*CFLAGS, *extra_flags]
    digest = hashlib.sha256(source.read_bytes() + " ".join(flags).encode()).hexdigest()[:12]
    out = BUILD_DIR / f"{name}-{digest}.wasm"
    if not out.exists():
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "ziglang", "cc", *flags, "-o", str(out), str(source)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"compiling {source.name} failed:\n{proc.stderr}")
    return out


def jit_available() -> bool:
    import pyjitwasm

    try:
        pyjitwasm.Engine(pyjitwasm.Config(strategy="jit"))
    except Exception:  # noqa: BLE001 - any failure means the JIT cannot be used
        return False
    return True


def measure(engine: str, extra: list[str], timeout: float) -> dict[str, Any]:
    """Run bench/measure.py in a fresh process and return its JSON result."""
    cmd = [sys.executable, "-P", str(MEASURE), engine, *extra]
    result = run_json_child(cmd, timeout)
    return {"engine": engine, **result} if "error" in result else result


def resolve_engine(engine: str) -> str:
    """The pyjitwasm strategy to measure: "auto" is the JIT when it is available."""
    if engine == "auto":
        return "jit" if jit_available() else "interp"
    return engine


def program_names(spec: str, known: dict[str, int]) -> list[str]:
    """The programs a comma-separated ``--programs`` value names; exits on unknown ones."""
    names = [n.strip() for n in spec.split(",") if n.strip()]
    unknown = set(names) - set(known)
    if unknown:
        raise SystemExit(f"unknown programs: {', '.join(sorted(unknown))}")
    return names


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}"


def _s(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds >= 0.01 else f"{seconds:.5f}"


def _ratio(x: float) -> str:
    return f"{x:.2f}x" if x < 10 else f"{x:,.0f}x"


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def _load_s(result: dict[str, Any]) -> float:
    # The JIT compiles on a module's first instantiation, wasmtime in Module(): compare
    # Module() + Instance() so both include compilation.
    return float(result["compile_s"] + result["instantiate_s"])


def program_table(rows: list[dict[str, Any]], engine: str) -> str:
    head = (f"| program | n | pyjitwasm ({engine}) s | wasmtime s | ratio | "
            "load ms (pyjitwasm / wasmtime) | peak RSS MiB (pyjitwasm / wasmtime) | "
            "checksum |")
    lines = [head, "|" + "---|" * 8]
    for row in rows:
        ours, ref = row["ours"], row["wasmtime"]
        if "error" in ours or "error" in ref:
            err = ours.get("error") or f"wasmtime: {ref.get('error')}"
            lines.append(f"| {row['program']} | {row['n']} | {err} | | | | | |")
            continue
        ok = "same" if ours["checksum"] == ref["checksum"] else (
            f"DIFFERENT: {ours['checksum']} vs {ref['checksum']}")
        ratio = ours["run_s"] / ref["run_s"] if ref["run_s"] > 0 else float("inf")
        lines.append(
            f"| {row['program']} | {row['n']} | {_s(ours['run_s'])} | {_s(ref['run_s'])} | "
            f"{_ratio(ratio)} | {_ms(_load_s(ours))} / {_ms(_load_s(ref))} | "
            f"{_mib(ours['peak_rss_kib'])} / {_mib(ref['peak_rss_kib'])} | {ok} |"
        )
    return "\n".join(lines)


def calls_table(results: dict[str, dict[str, Any]]) -> str:
    lines = ["| engine | Python -> wasm call, 2 x i32 (µs) | wasm -> Python host call (µs) |",
             "|---|---|---|"]
    for engine, r in results.items():
        if "error" in r:
            lines.append(f"| {engine} | {r['error']} | |")
        else:
            lines.append(f"| {engine} | {r['py_to_wasm_us']:.2f} | {r['wasm_to_py_us']:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["auto", "jit", "interp"], default="auto",
                        help="pyjitwasm strategy (auto: jit when available, else interp)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every program's work count (e.g. 0.002 for interp)")
    parser.add_argument("--programs", default=",".join(DEFAULT_N),
                        help="comma-separated subset of: " + ", ".join(DEFAULT_N))
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best)")
    parser.add_argument("--calls", type=int, default=100_000,
                        help="calls for the call-overhead measurement (interp: a tenth)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    parser.add_argument("--no-warmup", action="store_true",
                        help="time the first run(n) (tier 0 for pyjitwasm's hot loops) "
                             "instead of one after a short warm-up call and tier-up")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--interrupts", choices=["none", "epoch", "fuel"], default="none",
                        help="run both engines with epoch interruption or fuel metering on")
    parser.add_argument("--no-wasmtime", action="store_true",
                        help="measure pyjitwasm only")
    args = parser.parse_args()

    engine = resolve_engine(args.engine)
    names = program_names(args.programs, DEFAULT_N)

    rows = []
    for name in names:
        wasm = build(name)
        n = max(1, round(DEFAULT_N[name] * args.scale))
        extra = ["--wasm", str(wasm), "--n", str(n), "--repeat", str(args.repeat),
                 "--interrupts", args.interrupts]
        if not args.no_warmup:
            extra.append("--warmup")
        ours = measure(engine, extra, args.timeout)
        ref = ({"engine": "wasmtime", "error": "not measured"} if args.no_wasmtime
               else measure("wasmtime", extra, args.timeout))
        rows.append({"program": name, "n": n, "ours": ours, "wasmtime": ref})
        print(f"{name}: n={n} {engine} {ours.get('run_s', ours.get('error'))} "
              f"wasmtime {ref.get('run_s', ref.get('error'))}", file=sys.stderr)

    calls = {}
    for who in (engine,) if args.no_wasmtime else (engine, "wasmtime"):
        count = args.calls // 10 if who == "interp" else args.calls
        calls[who] = measure(who, ["--calls", str(count), "--interrupts", args.interrupts],
                             args.timeout)

    checks = "" if args.interrupts == "none" else f", {args.interrupts} checks on"
    print(f"\n### pyjitwasm ({engine}) vs wasmtime-py, scale {args.scale:g}{checks}\n")
    print(program_table(rows, engine))
    print("\n### Call overhead\n")
    print(calls_table(calls))
    print("\nTimes are one call of run(n) (best of --repeat; unless --no-warmup, after "
          "one call of run(n / 20) and, for pyjitwasm, waiting for its background tier-up "
          "compiles), in a fresh process per engine and program; load = Module() + "
          "Instance() (compilation included: the JIT compiles on first instantiation); "
          "peak RSS = VmHWM of that process, the Python interpreter included; "
          "ratio = pyjitwasm / wasmtime.")
    if args.json:
        args.json.write_text(json.dumps({"engine": engine, "scale": args.scale,
                                         "programs": rows, "calls": calls}, indent=2))
    mismatched = [r["program"] for r in rows
                  if "checksum" in r["ours"] and "checksum" in r["wasmtime"]
                  and r["ours"]["checksum"] != r["wasmtime"]["checksum"]]
    if mismatched:
        raise SystemExit(f"checksums differ for: {', '.join(mismatched)}")


if __name__ == "__main__":
    main()
