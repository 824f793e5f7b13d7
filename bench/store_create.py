"""Store creation speed: a new Store plus an Instance of a small module (one memory,
one table, one data segment), dropped again, side by side with wasmtime-py in one run.

    .venv/bin/python -P bench/store_create.py                 # every engine
    .venv/bin/python -P bench/store_create.py --engines jit,jit-pooling --iterations 20000
    .venv/bin/python -P bench/store_create.py --engines jit-pooling --data-kib 1024 \
        --images cow          # how data segments are applied (docs/pooling.md)

Engines: ``jit`` (on-demand allocation), ``jit-pooling`` (``allocation_strategy =
"pooling"``), ``interp``, ``interp-pooling``, ``wasmtime`` (wasmtime-py, default
on-demand allocation). The module is compiled once; each iteration creates a store,
instantiates, reads one byte the data segment wrote (so the work is not skipped) and
drops both. Prints a markdown table of the best of ``--repeat`` runs in microseconds.

``--call`` also calls the module's exported function once per store (then the store
was used: a pooling allocator must reset its instance before the next store; without
it a store nothing touched is parked without a reset, docs/pooling.md).

``--funcs N`` exports N more (trivial) functions from the module.

``--data-kib N`` adds a data segment of N KiB (the memory grows to fit) to compare how
data segments are applied: ``--images auto`` (the default: one copy of the module's
image, copy-on-write mapping from 64 KiB), ``copy`` (always copy the image), ``cow``
(always map it), ``segments`` (no image: one write per segment). ``--keep-resident``
sets the pooling allocator's ``linear_memory_keep_resident``.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

MODULE_WAT = """
(module
  (memory (export "memory") {pages})
  (table (export "table") 4 funcref)
  (data (i32.const 16) "hello, pooling allocator")
  {extra}
  (func $get (export "get") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (elem (i32.const 0) $get))
"""
IMAGE_MODES = ("auto", "copy", "cow", "segments")


def module_text(data_kib: int, funcs: int = 0) -> str:
    """The benchmark module, with a ``data_kib`` KiB data segment from 64 KiB and
    ``funcs`` more exported functions if asked."""
    extra = "".join(f'(func (export "f{n}") (result i32) (i32.const {n}))'
                    for n in range(funcs))
    if not data_kib:
        return MODULE_WAT.format(pages=1, extra=extra)
    pages = 1 + (data_kib * 1024 + 65535) // 65536
    data = "\\5a" * (data_kib * 1024)
    return MODULE_WAT.format(pages=pages, extra=extra + f'(data (i32.const 65536) "{data}")')

ENGINES = ("jit", "jit-pooling", "interp", "interp-pooling", "wasmtime")


def _pyjitwasm_loop(engine_name: str, data_kib: int = 0, images: str = "auto",
                    keep_resident: int | None = None,
                    call: bool = False, funcs: int = 0) -> Callable[[int], None]:
    import pyjitwasm

    config = pyjitwasm.Config(strategy="interp" if engine_name.startswith("interp") else "jit")
    if engine_name.endswith("-pooling"):
        pooling = pyjitwasm.PoolingAllocationConfig()
        if keep_resident is not None:
            pooling.linear_memory_keep_resident = keep_resident
        config.allocation_strategy = pooling
    engine = pyjitwasm.Engine(config)
    module = pyjitwasm.Module(engine, module_text(data_kib, funcs))
    # Internal switches, for this measurement only.
    if images in ("copy", "cow"):
        from pyjitwasm.runtime import images as image_module

        image_module.COW_THRESHOLD = 1 << 62 if images == "copy" else 0
    if images == "segments":
        module._prepared.images = ()  # type: ignore[attr-defined]  # measuring the old path
    return _checked_loop(pyjitwasm, engine, module, call)


def _checked_loop(api: Any, engine: Any, module: Any,
                  call: bool = False) -> Callable[[int], None]:
    """``loop(n)``: ``n`` new stores, each with an instance of ``module`` (whose ``get``
    is called once if ``call``), dropped (the same code for either API); first checked
    once that the data segment is in place."""
    Store, Instance = api.Store, api.Instance

    def loop(n: int) -> None:
        for _ in range(n):
            store = Store(engine)
            Instance(store, module, [])

    def calling_loop(n: int) -> None:
        for _ in range(n):
            store = Store(engine)
            Instance(store, module, []).exports(store)["get"](store, 16)

    store = Store(engine)
    memory = Instance(store, module, []).exports(store)["memory"]
    assert memory.read(store, 16, 21) == b"hello"
    return calling_loop if call else loop


def _wasmtime_loop(data_kib: int = 0, call: bool = False,
                   funcs: int = 0) -> Callable[[int], None]:
    import wasmtime

    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, module_text(data_kib, funcs))
    return _checked_loop(wasmtime, engine, module, call)


def measure(engine_name: str, iterations: int, repeat: int, data_kib: int = 0,
            images: str = "auto", keep_resident: int | None = None,
            call: bool = False, funcs: int = 0) -> float:
    """Best-of-``repeat`` microseconds per store + instance on ``engine_name``."""
    loop = _wasmtime_loop(data_kib, call, funcs) if engine_name == "wasmtime" else \
        _pyjitwasm_loop(engine_name, data_kib, images, keep_resident, call, funcs)
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
    parser.add_argument("--data-kib", type=int, default=0)
    parser.add_argument("--images", choices=IMAGE_MODES, default="auto")
    parser.add_argument("--keep-resident", type=int, default=None)
    parser.add_argument("--funcs", type=int, default=0,
                        help="export this many more functions from the module")
    parser.add_argument("--call", action="store_true",
                        help="call the instance's function once per store")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {}
    for name in args.engines.split(","):
        if name not in ENGINES:
            parser.error(f"unknown engine {name!r}; expected some of {ENGINES}")
        try:
            results[name] = measure(name, args.iterations, args.repeat, args.data_kib,
                                    args.images, args.keep_resident, args.call,
                                    args.funcs)
        except ImportError as exc:
            print(f"{name}: skipped ({exc})", file=sys.stderr)
    what = "new Store + Instance + one call" if args.call else "new Store + Instance"
    print(f"| engine | µs per {what} |")
    print("|---|---|")
    for name, micros in results.items():
        print(f"| {name} | {micros:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
