"""Store creation speed: a new Store plus an Instance of a small module (one memory,
one table, one data segment), dropped again, side by side with wasmtime-py in one run.

    .venv/bin/python -P bench/store_create.py                 # every engine
    .venv/bin/python -P bench/store_create.py --engines jit,jit-pooling --iterations 20000

Engines: ``jit`` (on-demand allocation), ``jit-pooling`` (``allocation_strategy =
"pooling"``), ``interp``, ``interp-pooling``, ``wasmtime`` (wasmtime-py, default
on-demand allocation). The module is compiled once; each iteration creates a store,
instantiates, reads one byte the data segment wrote (so the work is not skipped) and
drops both. Prints a markdown table of the best of ``--repeat`` runs in microseconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

MODULE_WAT = """
(module
  (memory (export "memory") 1)
  (table (export "table") 4 funcref)
  (data (i32.const 16) "hello, pooling allocator")
  (func $get (export "get") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (elem (i32.const 0) $get))
"""

ENGINES = ("jit", "jit-pooling", "interp", "interp-pooling", "wasmtime")


def _pyjitwasm_loop(engine_name: str) -> Callable[[int], None]:
    import pyjitwasm

    config = pyjitwasm.Config(strategy="interp" if engine_name.startswith("interp") else "jit")
    if engine_name.endswith("-pooling"):
        config.allocation_strategy = "pooling"
    engine = pyjitwasm.Engine(config)
    module = pyjitwasm.Module(engine, MODULE_WAT)
    Store, Instance = pyjitwasm.Store, pyjitwasm.Instance

    def loop(n: int) -> None:
        for _ in range(n):
            store = Store(engine)
            Instance(store, module, [])

    # Correctness once: the data segment is in place.
    store = Store(engine)
    memory = Instance(store, module, []).exports(store)["memory"]
    assert memory.read(store, 16, 21) == b"hello"
    return loop


def _wasmtime_loop() -> Callable[[int], None]:
    import wasmtime

    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, MODULE_WAT)
    Store, Instance = wasmtime.Store, wasmtime.Instance

    def loop(n: int) -> None:
        for _ in range(n):
            store = Store(engine)
            Instance(store, module, [])

    store = Store(engine)
    memory = Instance(store, module, []).exports(store)["memory"]
    assert memory.read(store, 16, 21) == b"hello"
    return loop


def measure(engine_name: str, iterations: int, repeat: int) -> float:
    """Best-of-``repeat`` microseconds per store + instance on ``engine_name``."""
    loop = _wasmtime_loop() if engine_name == "wasmtime" else _pyjitwasm_loop(engine_name)
    loop(min(iterations, 200))  # warm up (first instantiation, allocator pools)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        loop(iterations)
        best = min(best, (time.perf_counter() - start) / iterations)
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--iterations", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    for name in args.engines.split(","):
        if name not in ENGINES:
            parser.error(f"unknown engine {name!r}; expected some of {ENGINES}")
        try:
            results[name] = measure(name, args.iterations, args.repeat)
        except ImportError as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
    print("| engine | µs per new Store + Instance |")
    print("|---|---|")
    for name, micros in results.items():
        print(f"| {name} | {micros:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
