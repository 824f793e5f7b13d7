"""SIMD benchmarks: the bench/programs/simd_*.c programs built with and without
``-msimd128``, on pyjitwasm and wasmtime-py side by side.

Each program exports ``run(n)`` and returns a checksum; with ``-msimd128`` it takes a
``wasm_simd128.h`` path, without it a scalar path that computes the same integers (and
adds floats in the same order), so both builds of a program must return the same
checksum on every engine. ``n`` is sized so the scalar build takes roughly 0.3-0.5 s on
wasmtime at scale 1. Each program and build is measured in a fresh process that runs it on
both engines, their runs alternating (bench/measure_paired.py), so the load of a shared
machine falls on both alike; ``--separate`` gives each engine a fresh process of its own
(bench/measure.py) instead.

A relaxed-SIMD program (``simd_relaxed_dot``) also has a ``-mrelaxed-simd`` build, run
twice: with relaxed SIMD's native results (the default of both engines: the host's own
instructions) and in deterministic mode on both engines (``relaxed-deterministic``);
the two rows show what the native instructions gain.

    .venv/bin/python -P bench/simd.py                          # the JIT when available
    .venv/bin/python -P bench/simd.py --interp-scale 0.002     # plus interpreter rows
    .venv/bin/python -P bench/simd.py --programs simd_dot --repeat 3 --json out.json

An engine that cannot run a build (pyjitwasm without SIMD support, say) gets its error
in the table's error column; the script only fails (exit status 1) when two successful
runs disagree on a checksum.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# bench/ is not a package and ``python -P`` leaves the script's folder off sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import run_json_child  # noqa: E402 - a sibling script
from run import _ratio, _s, build, measure, program_names, resolve_engine  # noqa: E402

PAIRED = Path(__file__).resolve().parent / "measure_paired.py"

# Work count per program at scale 1 (scalar build on wasmtime: ~0.3-0.5 s).
DEFAULT_N = {
    "simd_dot": 80_000,
    "simd_conv3x3": 1600,
    "simd_histogram": 6000,
    "simd_strsearch": 6000,
    "simd_base64": 10_000,
    "simd_relaxed_dot": 4000,
}


@dataclass(frozen=True)
class Build:
    """One way to build and run a program: compiler flags, and relaxed SIMD's mode on
    both engines (native, the default of both, or deterministic)."""

    flags: tuple[str, ...]
    relaxed_simd_deterministic: bool = False


BUILDS = {"simd": Build(("-msimd128",)), "scalar": Build(())}
# A relaxed-SIMD program runs its -mrelaxed-simd build in both modes (the gain of the
# native instructions), then the plain SIMD and the scalar builds.
RELAXED = ("-msimd128", "-mrelaxed-simd")
RELAXED_BUILDS = {"relaxed": Build(RELAXED),
                  "relaxed-deterministic": Build(RELAXED, relaxed_simd_deterministic=True),
                  **BUILDS}
PROGRAM_BUILDS = {"simd_relaxed_dot": RELAXED_BUILDS}


def measure_paired(engine: str, extra: list[str], timeout: float
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """One bench/measure_paired.py process: ``engine`` and wasmtime, runs alternating."""
    cmd = [sys.executable, "-P", str(PAIRED), engine, *extra]
    both = run_json_child(cmd, timeout)
    if "error" in both:
        return both, both
    return both["ours"], both["wasmtime"]


def measure_program(name: str, n: int, engine: str, repeat: int, timeout: float,
                    paired: bool = True) -> list[dict[str, Any]]:
    """Every build of ``name`` on ``engine`` and on wasmtime: one row per build. Paired:
    both engines in one process, runs alternating (both see the same machine load);
    else each engine in a fresh process of its own (bench/measure.py)."""
    rows = []
    for build_name, how in PROGRAM_BUILDS.get(name, BUILDS).items():
        wasm = build(name, how.flags)
        extra = ["--wasm", str(wasm), "--n", str(n), "--repeat", str(repeat)]
        if how.relaxed_simd_deterministic:
            extra.append("--relaxed-simd-deterministic")
        if paired:
            ours, ref = measure_paired(engine, extra, timeout)
        else:
            ours = measure(engine, extra, timeout)
            ref = measure("wasmtime", extra, timeout)
        rows.append({"program": name, "build": build_name, "n": n, "engine": engine,
                     "ours": ours, "wasmtime": ref})
        print(f"{name} ({build_name}): n={n} {engine} {ours.get('run_s', ours.get('error'))}"
              f" wasmtime {ref.get('run_s', ref.get('error'))}", file=sys.stderr)
    return rows


def _time(result: dict[str, Any]) -> float | None:
    return float(result["run_s"]) if "error" not in result else None


def _speedup(rows: list[dict[str, Any]], row: dict[str, Any], who: str) -> str:
    """Scalar build's time / ``row``'s time of its program on ``who`` ("ours" or
    "wasmtime"); empty on the scalar row itself."""
    if row["build"] == "scalar":
        return ""
    scalar = next((_time(r[who]) for r in rows
                   if r["program"] == row["program"] and r["build"] == "scalar"), None)
    this = _time(row[who])
    if this is None or scalar is None or this <= 0:
        return "-"
    return f"{scalar / this:.2f}x"


def checksum_problems(rows: list[dict[str, Any]]) -> list[str]:
    """Every disagreement between successful runs of one program (both builds, both
    engines must return one checksum)."""
    problems = []
    for program in dict.fromkeys(r["program"] for r in rows):
        seen = {f"{r['build']}/{who_name}": r[who]["checksum"]
                for r in rows if r["program"] == program
                for who, who_name in (("ours", r["engine"]), ("wasmtime", "wasmtime"))
                if "checksum" in r[who]}
        if len(set(seen.values())) > 1:
            problems.append(f"{program}: {seen}")
    return problems


def table(rows: list[dict[str, Any]], engine: str) -> str:
    lines = [f"| program | build | n | pyjitwasm ({engine}) s | wasmtime s | ratio | "
             f"SIMD speed-up pyjitwasm | SIMD speed-up wasmtime | checksum | error |",
             "|" + "---|" * 10]
    bad = {p.split(":")[0] for p in checksum_problems(rows)}
    for row in rows:
        ours, ref = row["ours"], row["wasmtime"]
        t_ours, t_ref = _time(ours), _time(ref)
        ratio = _ratio(t_ours / t_ref) if t_ours is not None and t_ref and t_ref > 0 else "-"
        errors = [f"pyjitwasm: {ours['error']}" if "error" in ours else "",
                  f"wasmtime: {ref['error']}" if "error" in ref else ""]
        checksum = "DIFFERENT" if row["program"] in bad else (
            "same" if "checksum" in ours or "checksum" in ref else "-")
        lines.append(
            f"| {row['program']} | {row['build']} | {row['n']} | "
            f"{_s(t_ours) if t_ours is not None else '-'} | "
            f"{_s(t_ref) if t_ref is not None else '-'} | {ratio} | "
            f"{_speedup(rows, row, 'ours')} | {_speedup(rows, row, 'wasmtime')} | "
            f"{checksum} | {'; '.join(e for e in errors if e).replace('|', '/')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["auto", "jit", "interp"], default="auto",
                        help="pyjitwasm strategy of the main table (auto: jit when available)")
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every program's work count")
    parser.add_argument("--interp-scale", type=float, default=0.0,
                        help="also run the interpreter (and wasmtime again) at this scale, "
                             "e.g. 0.002; 0 (the default) skips it")
    parser.add_argument("--programs", default=",".join(DEFAULT_N),
                        help="comma-separated subset of: " + ", ".join(DEFAULT_N))
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (best)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per measurement")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--separate", action="store_true",
                        help="run each engine in a fresh process of its own (default: both "
                             "in one process, runs alternating, so a shared machine's load "
                             "falls on both alike)")
    args = parser.parse_args()

    engine = resolve_engine(args.engine)
    names = program_names(args.programs, DEFAULT_N)

    runs = [(engine, args.scale)]
    if args.interp_scale > 0 and engine != "interp":
        runs.append(("interp", args.interp_scale))
    results: dict[str, list[dict[str, Any]]] = {}
    for who, scale in runs:
        rows = []
        for name in names:
            n = max(1, round(DEFAULT_N[name] * scale))
            rows.extend(measure_program(name, n, who, args.repeat, args.timeout,
                                        paired=not args.separate))
        results[who] = rows
        print(f"\n### SIMD programs: pyjitwasm ({who}) vs wasmtime-py, scale {scale:g}\n")
        print(table(rows, who))
    where = ("in a fresh process per engine, program and build" if args.separate else
             "both engines in one process per program and build, their runs alternating")
    print(f"\nTimes are one call of run(n) (best of --repeat), {where}; ratio = pyjitwasm / "
          "wasmtime; SIMD speed-up = scalar build's time / that row's time on that engine.")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    problems = [p for rows in results.values() for p in checksum_problems(rows)]
    if problems:
        raise SystemExit("checksums differ:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
