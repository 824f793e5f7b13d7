"""Startup benchmark: time from module bytes to the first export result, and peak RSS.

For each program, each engine runs in a fresh process: the module's bytes are read
first, then the clock runs over ``Module(engine, bytes)``, ``Instance(...)`` and the
first call of the export ``run(n)`` with a small ``n`` (the work itself is negligible,
so this is what a user waits for before a program does anything).  Engines:

* ``lazy``: pyjitwasm's JIT with lazy compilation and two tiers (the default);
* ``lazy-t1``: lazy compilation straight to tier 1 (``PYJITWASM_TIERS=0``, what lazy
  compilation was before tiers);
* ``eager``: the same with ``PYJITWASM_LAZY=0`` (every function compiled up front);
* ``wasmtime``: wasmtime-py (no code cache);
* ``warm``: pyjitwasm (lazy) with a code cache that a previous run of the same program
  filled (``Config.cache``), i.e. a second start;
* ``wasmtime-warm``: wasmtime-py with ``Config.cache`` filled by a previous run.

The warm engines' caches live in a temporary directory made per program and engine
(never the user's cache directory), filled by one unmeasured run in its own process that
does the same work (first call and, with ``--run-scale``, the run phase).

The machine may be shared: the CPU column (this process's user + system time over the
same interval; wasmtime compiles on several threads, so its CPU time can exceed the wall
time) is the steadier figure when other jobs run.

Programs: the real programs of ``realprograms.py`` (CPython and Graphviz from PyPI,
when the bench extra is installed; their own table: first result, total, peak RSS and
whether the output is wasmtime-py's), the C programs of bench/programs/ (built like
bench/run.py builds them) and
``big``, a generated C program (``--big-functions`` functions of a few shapes: float and
integer loops, switch statements, string hashing, calls through a function pointer
table, direct call chains) whose ``run`` calls through the table into a few dozen of
them (and on through their direct callees), like a large program that touches a small
part of its code at startup.

    .venv/bin/python -P bench/startup.py                      # everything
    .venv/bin/python -P bench/startup.py --programs big --big-functions 3000
    .venv/bin/python -P bench/startup.py --engines lazy,wasmtime --run-scale 0.5

The "engine library" column is the resident size, at the end of the run, of the
engine's shared library (LLVM's ``libllvmlite.so`` for pyjitwasm once LLVM is loaded,
``_libwasmtime.so`` for wasmtime-py), with its private written part in parentheses: the
rest is clean pages of the file, in the peak RSS but shared through the page cache.

``--run-scale S`` also times, in the same process after the first result, one call of
``run`` with S times bench/run.py's work count (the run phase: lazily compiled code
against eagerly compiled code).  Prints a markdown table; ``--json`` saves the rows.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import realprograms  # noqa: E402 - the sibling module: PyPI programs (the bench extra)
from measure import library_rss_kib, run_json_child, status_kib  # noqa: E402 - a sibling script
from run import BUILD_DIR, CFLAGS, DEFAULT_N, build  # noqa: E402 - the sibling script

ENGINES = ("lazy", "lazy-t1", "eager", "wasmtime", "warm", "wasmtime-warm")
WARM_ENGINES = {"warm": "lazy", "wasmtime-warm": "wasmtime"}
"""The warm engines and the engine each one is a second start of."""
CACHE_DIR_ENV = "BENCH_STARTUP_CACHE_DIR"
BIG_FIRST_N = 1


# The generated program ------------------------------------------------------------------


def _shape(i: int) -> str:
    """C source of generated function ``f{i}`` (signature ``int f(int *buf, int n)``)."""
    c = 3 + i % 29
    kind = i % 6
    if kind == 0:
        return f"""
NOINLINE int f{i}(int *buf, int n) {{
    double acc = {c}.5;
    for (int j = 0; j < n; j++) {{
        double t = buf[j & 255] * {c}.25 + acc;
        if (t > acc) acc = t / (1.0 + acc * {c}.0); else acc = acc - t * 0.125;
        buf[(j * {c}) & 255] = (int)acc ^ j;
    }}
    return (int)acc + n;
}}
"""
    if kind == 1:
        return f"""
NOINLINE int f{i}(int *buf, int n) {{
    int acc = {c * 7};
    for (int j = 0; j < n; j++) {{
        int v = buf[j & 255] ^ (acc << 3);
        switch (v & 7) {{
            case 0: acc ^= {c * 13}; break;
            case 1: acc += buf[(j + {c}) & 255]; break;
            case 2: acc = acc * 31 + {c}; break;
            case 3: acc -= j * {c}; break;
            case 5: acc |= {c}; break;
            default: acc += 1;
        }}
        buf[j & 255] = acc;
    }}
    return acc;
}}
"""
    if kind == 2:
        return f"""
static const char text{i}[] = "generated function {i} hashes this string {c} times";
NOINLINE int f{i}(int *buf, int n) {{
    unsigned h = 2166136261u ^ {c};
    for (int r = 0; r < n; r++)
        for (const char *p = text{i}; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
    buf[{c}] = (int)h;
    return (int)(h >> 1);
}}
"""
    if kind == 3:
        return f"""
NOINLINE static long long g{i}(long long a, int d) {{
    return d <= 0 ? a : g{i}(a * {c} + d, d - 1) ^ (a >> 3);
}}
NOINLINE int f{i}(int *buf, int n) {{
    return (int)g{i}(buf[{c}] + n, {c} % 7 + 2);
}}
"""
    if kind == 4 and i >= 8:
        return f"""
NOINLINE int f{i}(int *buf, int n) {{
    int a = f{i - 1}(buf, n & 3), b = f{i - 4}(buf, n & 1);
    return a * {c} + b - f{i - 7}(buf, 1);
}}
"""
    return f"""
NOINLINE int f{i}(int *buf, int n) {{
    int acc = {c};
    for (int j = 0; j < n; j++) acc = acc * {c} + table_call((acc + j + {i}) & 1023, buf);
    return acc;
}}
"""


def big_source(functions: int) -> str:
    """The generated C program: ``functions`` functions, a table of them, ``run``."""
    parts = [
        # Like separately compiled code: calls stay calls (clang -O2 would otherwise
        # inline most of these small functions into their callers).
        "#define NOINLINE __attribute__((noinline))",
        "typedef int (*fn_t)(int *, int);",
        f"extern fn_t table[{functions}];",
        "static int depth;",
        "static int table_call(int k, int *buf) {",
        "    if (depth > 2) return k;",
        "    depth++;",
        f"    int r = table[(k * 7919) % {functions}](buf, 1);",
        "    depth--;",
        "    return r;",
        "}",
    ]
    parts += [_shape(i) for i in range(functions)]
    parts.append(f"fn_t table[{functions}] = {{" + ", ".join(f"f{i}" for i in range(functions))
                 + "};")
    parts.append(f"""
static int buf[256];
__attribute__((export_name("run"))) int run(int n) {{
    int acc = 0;
    for (int r = 0; r < n; r++)
        for (int k = 0; k < 40; k++)
            acc += table[(k * 104729 + r) % {functions}](buf, 4);
    return acc;
}}
""")
    return "\n".join(parts)


def build_big(functions: int) -> Path:
    """Compile the generated program (once per size and flags) and return the .wasm."""
    return build_generated(f"big{functions}", big_source(functions))


def build_generated(name: str, source: str) -> Path:
    """Compile generated C ``source`` (once per source and flags) to
    ``BUILD_DIR/<name>-<digest>.wasm`` and return that path."""
    digest = hashlib.sha256(source.encode() + " ".join(CFLAGS).encode()).hexdigest()[:12]
    out = BUILD_DIR / f"{name}-{digest}.wasm"
    if not out.exists():
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        c_file = out.with_suffix(".c")
        c_file.write_text(source)
        cmd = [sys.executable, "-m", "ziglang", "cc", *CFLAGS, "-o", str(out), str(c_file)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise SystemExit(f"compiling the generated program failed:\n{proc.stderr}")
    return out


# One measurement (in a fresh process) ------------------------------------------------


def measure_one(engine: str, wasm_path: str, first_n: int, run_n: int) -> dict[str, Any]:
    """Time module bytes -> first ``run(first_n)`` result on ``engine`` (this process)."""
    api, eng = _engine_for(engine)
    wasm = Path(wasm_path).read_bytes()
    base_rss = status_kib("VmRSS")
    store = api.Store(eng)
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    module = api.Module(eng, wasm)
    t1 = time.perf_counter()
    instance = api.Instance(store, module, [])
    t2 = time.perf_counter()
    result = instance.exports(store)["run"](store, first_n)
    t3 = time.perf_counter()
    cpu = time.process_time() - cpu0
    row: dict[str, Any] = {
        "first_result_s": t3 - t0, "first_result_cpu_s": cpu, "module_s": t1 - t0,
        "instantiate_s": t2 - t1, "first_call_s": t3 - t2, "result": result,
        "base_rss_kib": base_rss,
    }
    if run_n:
        cpu4, t4 = time.process_time(), time.perf_counter()
        row["run_result"] = instance.exports(store)["run"](store, run_n)
        row["run_s"] = time.perf_counter() - t4
        row["run_cpu_s"] = time.process_time() - cpu4
    row["peak_rss_kib"] = status_kib("VmHWM")
    libraries = library_rss_kib()
    row["library_rss_kib"] = sum(v for k, v in libraries.items() if not k.endswith(":dirty"))
    row["library_dirty_kib"] = sum(v for k, v in libraries.items() if k.endswith(":dirty"))
    if not engine.startswith("wasmtime"):
        code = module._prepared.compiled()
        row["functions"] = len(code.module.codes)
        row["compiled_functions"] = code.compiled_functions
        row["batches"] = len(code.batches)
        row["tier_ups"] = code.tier_ups
    return row


def run_child(engine: str, wasm: Path, first_n: int, run_n: int,
              timeout: float) -> dict[str, Any]:
    """``measure_one`` in a fresh process (so peak RSS is this run's alone)."""
    env = dict(os.environ)
    env["PYJITWASM_LAZY"] = "0" if engine == "eager" else "1"
    env["PYJITWASM_TIERS"] = "0" if engine == "lazy-t1" else "1"
    if engine in WARM_ENGINES:
        with tempfile.TemporaryDirectory(prefix="pyjitwasm-bench-cache-") as cache_dir:
            env[CACHE_DIR_ENV] = cache_dir
            # The filling run does what the measured one does (a second start of the
            # same program): its tier-ups and the functions its run phase reached are
            # in the cache too.
            filled = _child(engine, wasm, first_n, run_n, timeout, env)
            if "error" in filled:
                return filled
            return _child(engine, wasm, first_n, run_n, timeout, env)
    return _child(engine, wasm, first_n, run_n, timeout, env)


def _child(engine: str, wasm: Path, first_n: int, run_n: int, timeout: float,
           env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, "-P", __file__, "--child", engine, str(wasm), str(first_n),
           str(run_n)]
    return run_json_child(cmd, timeout, env)


def _engine_for(engine: str) -> tuple[Any, Any]:
    """(the API module, an engine) for an engine name of :data:`ENGINES`; the warm ones
    cache in ``$BENCH_STARTUP_CACHE_DIR``."""
    cache_dir = os.environ.get(CACHE_DIR_ENV)
    if engine in ("wasmtime", "wasmtime-warm"):
        import wasmtime as api

        config = api.Config()
        if engine == "wasmtime-warm":
            assert cache_dir, CACHE_DIR_ENV
            toml = Path(cache_dir) / "wasmtime-cache.toml"
            toml.write_text(f'[cache]\ndirectory = "{cache_dir}/wasmtime"\n')
            config.cache = str(toml)
        return api, api.Engine(config)
    import pyjitwasm as api

    config = api.Config(strategy="jit")
    if engine == "warm":
        assert cache_dir, CACHE_DIR_ENV
        config.cache = cache_dir
    return api, api.Engine(config)


# The table ------------------------------------------------------------------------------


def _median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One row of ``runs`` (the same program and engine): each number the median over
    the runs; the first failed run instead, if one failed."""
    failed = [run for run in runs if "error" in run]
    if failed:
        return failed[0]
    row = dict(runs[0])
    for key, value in row.items():
        if isinstance(value, float) or (isinstance(value, int) and key.endswith("_kib")):
            row[key] = statistics.median(run[key] for run in runs)
    return row


def _cell(row: dict[str, Any], key: str, scale: float = 1.0, digits: int = 3) -> str:
    if "error" in row:
        return "error"
    value = row.get(key)
    return "-" if value is None else f"{value * scale:.{digits}f}"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        engine, wasm, first_n, run_n = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(
            sys.argv[5])
        print(json.dumps(measure_one(engine, wasm, first_n, run_n)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs",
                        default=",".join([*DEFAULT_N, "big", *realprograms.installed()]))
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--big-functions", type=int, default=2000)
    parser.add_argument("--first-n", type=int, default=1,
                        help="the n of the first call (bench programs)")
    parser.add_argument("--run-scale", type=float, default=0.0)
    parser.add_argument("--repeat", type=int, default=1,
                        help="fresh processes per program and engine, the engines taking "
                             "turns; the table shows each column's median")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    engines = args.engines.split(",")
    rows: list[dict[str, Any]] = []
    real_rows: list[dict[str, Any]] = []
    for name in args.programs.split(","):
        if name in realprograms.PROGRAMS:
            real_rows += realprograms.run_program(name, engines, args.timeout)
            continue
        wasm = build_big(args.big_functions) if name == "big" else build(name)
        first_n = BIG_FIRST_N if name == "big" else args.first_n
        run_n = int(DEFAULT_N.get(name, 20) * args.run_scale) if args.run_scale else 0
        label = f"big ({args.big_functions} fns)" if name == "big" else name
        runs: dict[str, list[dict[str, Any]]] = {engine: [] for engine in engines}
        for _ in range(args.repeat):
            for engine in engines:
                runs[engine].append(run_child(engine, wasm, first_n, run_n, args.timeout))
        for engine in engines:
            row = _median_row(runs[engine])
            row.update(program=label, engine=engine, wasm_kib=wasm.stat().st_size / 1024)
            rows.append(row)
            print(f"{label:>18} {engine:>8}: {_cell(row, 'first_result_s')} s", file=sys.stderr,
                  flush=True)
    header = ("| program | wasm KiB | engine | first result s | CPU s | module s "
              "| instantiate s | first call s | compiled fns | peak RSS MiB "
              "| engine library RSS MiB (private) |")
    if args.run_scale:
        header += " run s | run CPU s |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for row in rows:
        compiled = (f"{row['compiled_functions']}/{row['functions']}"
                    if "compiled_functions" in row else "-")
        line = (f"| {row['program']} | {row['wasm_kib']:.0f} | {row['engine']} "
                f"| {_cell(row, 'first_result_s', digits=4)} "
                f"| {_cell(row, 'first_result_cpu_s')} "
                f"| {_cell(row, 'module_s')} "
                f"| {_cell(row, 'instantiate_s')} | {_cell(row, 'first_call_s')} "
                f"| {compiled} | {_cell(row, 'peak_rss_kib', 1 / 1024, 0)} "
                f"| {_cell(row, 'library_rss_kib', 1 / 1024, 0)} "
                f"({_cell(row, 'library_dirty_kib', 1 / 1024, 0)}) |")
        if args.run_scale:
            line += f" {_cell(row, 'run_s')} | {_cell(row, 'run_cpu_s')} |"
        print(line)
    if real_rows:
        print()
        print(realprograms.table(real_rows))
    if args.json:
        args.json.write_text(json.dumps(rows + real_rows, indent=1))


if __name__ == "__main__":
    main()
