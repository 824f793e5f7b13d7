"""Does the JIT give back what it allocates?  Memory growth per compiled module.

    .venv/bin/python -P bench/jit_memory.py [--rounds 2000] [--warmup 300] [--level all]
                                            [--tracemalloc] [--module small|memory]

Each level runs in a fresh subprocess: ``--warmup`` rounds, then ``--rounds`` measured
rounds; it prints RSS, VmSize and (with ``--tracemalloc``, in a second run because the
tracer's own bookkeeping inflates RSS) Python-level growth, per round.  Levels add one
pipeline stage each:

  ir      LLVM IR parse only
  opt     + optimize (the loader's pipeline at opt level 1)
  codegen + object emission (``CodeLoader.compile_object``)
  load    + ORC link of that object, symbol lookups, release
  module  full compile through the public API (``Module`` + its compiled code), dropped
  run     + Store, Instance, one call, then everything dropped

Every round compiles a new module (64 variants of a small module: a constant varies);
nothing in the JIT caches compiled code by content, so each round is a full compile.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

LEVELS = ("ir", "opt", "codegen", "load", "module", "run")

SMALL_WAT = """
(module
  (memory {mem})
  (table 4 funcref)
  (global $g (mut i32) (i32.const {k}))
  (func $add (export "add") (param i32 i32) (result i32)
    (i32.add (i32.add (local.get 0) (local.get 1)) (global.get $g)))
  (func $loop (export "sum") (param $n i32) (result i64)
    (local $i i32) (local $acc i64)
    (block $done
      (loop $top
        (br_if $done (i32.ge_s (local.get $i) (local.get $n)))
        (local.set $acc (i64.add (local.get $acc) (i64.extend_i32_s (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (i64.mul (local.get $acc) (i64.const {k})))
  (func $store (export "poke") (param i32 i32)
    {poke})
  (elem (i32.const 0) $add $loop)
)
"""


def small_wat(k: int, with_memory: bool) -> str:
    """A small module; ``k`` makes each one different."""
    if with_memory:
        return SMALL_WAT.format(mem="1", k=k,
                                poke="(i32.store (local.get 0) (local.get 1))")
    return SMALL_WAT.format(mem="0", k=k, poke="(drop (i32.add (local.get 0) (local.get 1)))")


def rss_kib() -> int:
    """Resident set size of this process."""
    return _status_kib("VmRSS")


def vmsize_kib() -> int:
    """Mapped address space of this process."""
    return _status_kib("VmSize")


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def make_round(level: str, with_memory: bool) -> Callable[[int], None]:
    """The work of one round at ``level``; its argument varies the module."""
    from pyjitwasm import Engine, Instance, Module, Store, wat2wasm

    engine = Engine()
    binaries: dict[int, bytes] = {}

    def binary(k: int) -> bytes:
        # The wat -> wasm conversion runs wasm-tools; keep it out of the measured rounds.
        data = binaries.get(k % 64)
        if data is None:
            data = binaries[k % 64] = wat2wasm(small_wat(k % 64, with_memory))
        return data

    if level == "run":
        def run(k: int) -> None:
            store = Store(engine)
            module = Module(engine, binary(k))
            inst = Instance(store, module, [])
            ex = inst.exports(store)
            assert ex["add"](store, 1, 2) == 3 + k % 64
            ex["sum"](store, 10)
        return run
    if level == "module":
        def compile_only(k: int) -> None:
            module = Module(engine, binary(k))
            module._code.compiled()
        return compile_only

    texts = _llvm_texts(binary, engine)
    from pyjitwasm.jit.codeload import parse_ir
    from pyjitwasm.jit.compiler import code_loader
    from pyjitwasm.libcalls import symbol_addresses

    loader = code_loader(1)
    symbols = symbol_addresses()

    def llvm_round(k: int) -> None:
        text = texts[k % len(texts)]
        if level == "ir":
            parse_ir(text)
        elif level == "opt":
            loader.pipeline.run(parse_ir(text))
        elif level == "codegen":
            loader.compile_object(text)
        else:
            code = loader.load_object(loader.compile_object(text), symbols)
            code.address(next(iter(code.addresses)))
            code.release()
    return llvm_round


def _llvm_texts(binary: Callable[[int], bytes], engine: Any) -> list[str]:
    """The LLVM IR the compiler emits for the benchmark's modules (64 variants)."""
    from pyjitwasm import Module
    from pyjitwasm.libcalls import symbol_addresses
    from pyjitwasm.runtime.jit.compile_module import CompileOptions, compile_module

    texts = []
    for k in range(64):
        wasm = Module(engine, binary(k))._wasm
        compiled = compile_module(wasm, CompileOptions(keep_ir=True), symbol_addresses())
        texts.append(compiled.llvm_ir)
        compiled.release()
    return texts


def measure(level: str, rounds: int, warmup: int, trace: bool, with_memory: bool) -> dict:
    """Run one level in this process; growth per round after the warm-up."""
    work = make_round(level, with_memory)
    for k in range(warmup):
        work(k)
    gc.collect()
    if trace:
        tracemalloc.start(8)
    snap0 = tracemalloc.take_snapshot() if trace else None
    rss0, vm0 = rss_kib(), vmsize_kib()
    half = rss0
    t0 = time.perf_counter()
    for k in range(warmup, warmup + rounds):
        work(k)
        if k == warmup + rounds // 2 - 1:
            gc.collect()
            half = rss_kib()
    gc.collect()
    elapsed = time.perf_counter() - t0
    rss1, vm1 = rss_kib(), vmsize_kib()
    out = {
        "level": level,
        "rounds": rounds,
        "ms_per_round": 1000 * elapsed / rounds,
        "rss_kib_per_round": (rss1 - rss0) / rounds,
        "rss_kib_per_round_first_half": (half - rss0) / (rounds // 2),
        "rss_kib_per_round_second_half": (rss1 - half) / (rounds - rounds // 2),
        "vmsize_kib_delta": vm1 - vm0,
    }
    if trace:
        assert snap0 is not None
        snap1 = tracemalloc.take_snapshot()
        stats = snap1.compare_to(snap0, "traceback")
        out["py_kib_per_round"] = sum(s.size_diff for s in stats) / 1024 / rounds
        out["py_top"] = [
            (s.size_diff / 1024 / rounds, s.count_diff, s.traceback.format()[-4:])
            for s in stats[:6] if s.size_diff > 0
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--level", default="all", choices=("all",) + LEVELS)
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also measure Python-level growth (second run per level)")
    parser.add_argument("--module", default="memory", choices=("small", "memory"),
                        help="'memory' gives every module a 1-page linear memory")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    with_memory = args.module == "memory"
    if args.child:
        result = measure(args.level, args.rounds, args.warmup, args.tracemalloc, with_memory)
        print(json.dumps(result))
        return
    levels = LEVELS if args.level == "all" else (args.level,)
    print(f"{'level':8} {'ms/round':>9} {'RSS KiB/round':>14} {'1st half':>9} "
          f"{'2nd half':>9} {'VmSize dKiB':>12} {'py KiB/round':>13}")
    for level in levels:
        results = [_child(args, level, trace=False)]
        if args.tracemalloc:
            results.append(_child(args, level, trace=True))
        r = results[0]
        py = f"{results[1]['py_kib_per_round']:13.3f}" if args.tracemalloc else ""
        print(f"{level:8} {r['ms_per_round']:9.2f} {r['rss_kib_per_round']:14.3f} "
              f"{r['rss_kib_per_round_first_half']:9.3f} "
              f"{r['rss_kib_per_round_second_half']:9.3f} {r['vmsize_kib_delta']:12d} {py}")
        if args.tracemalloc:
            for size, count, tb in results[1]["py_top"]:
                print(f"    {size:8.3f} KiB/round  {count:+6d} blocks  {' | '.join(tb)}")
        sys.stdout.flush()


def _child(args: argparse.Namespace, level: str, trace: bool) -> dict:
    cmd = [sys.executable, "-P", __file__, "--child", "--level", level,
           "--rounds", str(args.rounds), "--warmup", str(args.warmup), "--module", args.module]
    if trace:
        cmd.append("--tracemalloc")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
