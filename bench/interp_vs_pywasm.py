"""Benchmark: pyjitwasm's interpreter against pywasm on the same modules, in one run.

Usage: ``python bench/interp_vs_pywasm.py [--repeat N]`` (needs the ``bench`` extra for
pywasm, and wasm-tools; a C workload is added when ``python -m ziglang`` is available).
Prints seconds per workload for each engine and how many times faster pyjitwasm is.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import pyjitwasm

FIB = """
(module
  (func $fib (export "run") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2))))))))
"""

LOOP = """
(module
  (func (export "run") (param $n i32) (result i32) (local $acc i32) (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $acc (i32.add (local.get $acc)
                                 (i32.mul (local.get $i) (i32.xor (local.get $i) (i32.const 7)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc)))
"""

# Sieve of Eratosthenes over a byte array: loads and stores dominate.
SIEVE = """
(module
  (memory 2)
  (func (export "run") (param $n i32) (result i32) (local $i i32) (local $j i32) (local $count i32)
    (local.set $i (i32.const 2))
    (block $done (loop $outer
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (if (i32.eqz (i32.load8_u (local.get $i)))
        (then
          (local.set $count (i32.add (local.get $count) (i32.const 1)))
          (local.set $j (i32.mul (local.get $i) (local.get $i)))
          (block $inner_done (loop $inner
            (br_if $inner_done (i32.ge_u (local.get $j) (local.get $n)))
            (i32.store8 (local.get $j) (i32.const 1))
            (local.set $j (i32.add (local.get $j) (local.get $i)))
            (br $inner)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $outer)))
    (local.get $count)))
"""

C_SOURCE = r"""
unsigned int crc_table[256];
unsigned char buf[8192];
unsigned int run(int rounds) {
    for (unsigned int n = 0; n < 256; n++) {
        unsigned int c = n;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[n] = c;
    }
    for (int i = 0; i < 8192; i++) buf[i] = (unsigned char)(i * 31 + 7);
    unsigned int crc = 0;
    for (int r = 0; r < rounds; r++) {
        crc = ~crc;
        for (int i = 0; i < 8192; i++) crc = crc_table[(crc ^ buf[i]) & 0xFF] ^ (crc >> 8);
        crc = ~crc;
    }
    return crc;
}
"""

WORKLOADS: list[tuple[str, str, int]] = [
    ("fib(20) recursive calls", FIB, 20),
    ("loop 200k iterations", LOOP, 200_000),
    ("sieve 200k bytes (memory)", SIEVE, 100_000),
]


def wat(text: str) -> bytes:
    return pyjitwasm.wat2wasm(text)


def compile_c() -> bytes | None:
    """The CRC workload compiled with zig cc, or None when that is not possible."""
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "crc.c")
        out = os.path.join(tmp, "crc.wasm")
        with open(src, "w") as f:
            f.write(C_SOURCE)
        cmd = [sys.executable, "-m", "ziglang", "cc", "--target=wasm32-freestanding", "-O2",
               "-nostdlib", "-Wl,--no-entry", "-Wl,--export=run", src, "-o", out]
        try:
            subprocess.run(cmd, check=True, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError):
            return None
        with open(out, "rb") as f:
            return f.read()


def ours(binary: bytes) -> Callable[[int], int]:
    store = pyjitwasm.Store()
    module = pyjitwasm.Module(store.engine, binary)
    func = pyjitwasm.Instance(store, module, []).exports(store)["run"]
    return lambda arg: func(store, arg)


def theirs(binary: bytes) -> Callable[[int], int] | None:
    try:
        import pywasm
    except ImportError:
        return None
    runtime = pywasm.core.Runtime()
    with tempfile.NamedTemporaryFile(suffix=".wasm", delete=False) as f:
        f.write(binary)
        path = f.name
    try:
        inst = runtime.instance_from_file(path)
    finally:
        os.unlink(path)
    return lambda arg: runtime.invocate(inst, "run", [arg])[0]


def best_time(fn: Callable[[int], int], arg: int, repeat: int) -> tuple[float, int]:
    best = float("inf")
    result = 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn(arg)
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-c", action="store_true", help="skip the C workload")
    args = parser.parse_args()
    workloads = [(name, wat(text), arg) for name, text, arg in WORKLOADS]
    if not args.no_c:
        c = compile_c()
        if c is not None:
            workloads.append(("C crc32 8 KiB x 3 (zig cc -O2)", c, 3))
    print(f"{'workload':34} {'pyjitwasm':>10} {'pywasm':>10} {'speed-up':>9}")
    for name, binary, arg in workloads:
        t_ours, r_ours = best_time(ours(binary), arg, args.repeat)
        other = theirs(binary)
        if other is None:
            print(f"{name:34} {t_ours:10.3f} {'n/a':>10} {'':>9}")
            continue
        t_theirs, r_theirs = best_time(other, arg, args.repeat)
        if (r_ours & 0xFFFFFFFF) != (r_theirs & 0xFFFFFFFF):
            print(f"{name}: results differ ({r_ours} vs {r_theirs})", file=sys.stderr)
            return 1
        print(f"{name:34} {t_ours:10.3f} {t_theirs:10.3f} {t_theirs / t_ours:8.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
