"""Measure how fast a module with over 1 MB of code decodes and validates.

The module is compiled from generated C (many varied functions: integer and float
arithmetic, loops, switches, memory traffic, indirect calls) with
``python -m ziglang cc --target=wasm32-wasi -O2`` and cached under ``build/``.

Usage: python -P bench/decode_speed.py [--runs N] [--functions N] [--rebuild]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.validator import validate_module

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build"


def _function_source(rng: random.Random, index: int) -> str:
    """One C function whose shape varies with ``rng``."""
    kind = rng.randrange(4)
    k1, k2, k3 = rng.randrange(1, 1000), rng.randrange(1, 31), rng.randrange(2, 17)
    if kind == 0:
        return f"""
int f{index}(int *p, int n) {{
    int acc = {k1};
    for (int i = 0; i < n; i++) {{
        int v = p[i] ^ (acc << {k2 % 7 + 1});
        if (v & {k3}) acc += v * {k1}; else acc -= v >> {k2 % 5 + 1};
        switch (v & 7) {{
            case 0: acc ^= {k1 * 3}; break;
            case 1: acc += p[(i + {k3}) % (n ? n : 1)]; break;
            case 2: acc = acc * 31 + {k2}; break;
            case 3: acc -= i * {k3}; break;
            case 5: acc |= {k2}; break;
            default: acc += 1;
        }}
        p[i] = acc;
    }}
    return acc;
}}"""
    if kind == 1:
        return f"""
double f{index}(double *x, int n, double s) {{
    double acc = {k1}.5;
    for (int i = 0; i < n; i++) {{
        double t = x[i] * s + {k2}.25;
        if (t > acc) acc = t / (1.0 + acc * {k3}.0);
        else acc = acc - t * {k2}.125;
        x[i] = (float)(acc * 0.5) + (double)(long long)t;
    }}
    return acc + (double)n;
}}"""
    if kind == 2:
        return f"""
long long f{index}(long long a, long long b, unsigned char *buf, int len) {{
    unsigned long long h = {k1}ULL * (unsigned long long)a + (unsigned long long)b;
    for (int i = 0; i < len; i++) {{
        h ^= buf[i];
        h *= 1099511628211ULL;
        if ((h >> {k2}) & 1) buf[i] = (unsigned char)(h >> {k3});
        while (h > {k1}ULL * 1000000ULL && (h & {k3}) == 0) h >>= 3;
    }}
    return (long long)(h % {k1 * 7 + 1}ULL) - a / (b | 1);
}}"""
    return f"""
typedef int (*op{index}_t)(int, int);
static int add{index}(int a, int b) {{ return a + b * {k2}; }}
static int mul{index}(int a, int b) {{ return a * b - {k3}; }}
static int sub{index}(int a, int b) {{ return a - (b << {k2 % 9}); }}
int f{index}(int a, int b, int sel) {{
    static op{index}_t ops[3] = {{ add{index}, mul{index}, sub{index} }};
    int r = {k1};
    for (int i = 0; i < (b & 63); i++) {{
        r = ops[(sel + i) % 3](r, a + i);
        if (r < 0) r = -r / {k3};
    }}
    return r;
}}"""


def generate_c(functions: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    parts = ["#include <stdio.h>", "#include <stdlib.h>"]
    parts.extend(_function_source(rng, i) for i in range(functions))
    # Reference every function from main so the linker keeps them all.
    calls = []
    for i in range(functions):
        calls.append(f"    sink += (long long)(size_t)&f{i};")
    parts.append(
        "int main(int argc, char **argv) {\n    long long sink = argc;\n"
        + "\n".join(calls)
        + '\n    printf("%lld\\n", sink);\n    return 0;\n}\n'
    )
    return "\n".join(parts)


def build_module(functions: int, rebuild: bool = False) -> Path:
    """Compile (or reuse) the benchmark module and return its path."""
    BUILD.mkdir(exist_ok=True)
    wasm = BUILD / f"decode_bench_{functions}.wasm"
    if wasm.exists() and not rebuild:
        return wasm
    source = BUILD / f"decode_bench_{functions}.c"
    source.write_text(generate_c(functions))
    cmd = [sys.executable, "-m", "ziglang", "cc", "--target=wasm32-wasi", "-O2",
           "-o", str(wasm), str(source)]
    subprocess.run(cmd, check=True)
    return wasm


def code_section_size(data: bytes) -> int:
    module = decode_module(data)
    return sum(body.size for body in module.codes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--functions", type=int, default=6500)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args(argv)

    data = build_module(args.functions, args.rebuild).read_bytes()
    code_bytes = code_section_size(data)
    times, validate_times = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        module = decode_module(data)
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        validate_module(module)
        validate_times.append(time.perf_counter() - start)
    best = min(times)
    best_validate = min(validate_times)
    instrs = sum(len(body.instrs) for body in module.codes)
    print(f"module: {len(data) / 1e6:.2f} MB, code: {code_bytes / 1e6:.2f} MB, "
          f"{len(module.codes)} functions, {instrs} instructions")
    print(f"decode: best {best * 1000:.1f} ms, mean {sum(times) / len(times) * 1000:.1f} ms "
          f"over {args.runs} runs")
    print(f"speed: {len(data) / 1e6 / best:.2f} MB/s of module, "
          f"{code_bytes / 1e6 / best:.2f} MB/s of code, "
          f"{best * 1e6 / code_bytes * 1000:.0f} ms per MB of code")
    print(f"validate: best {best_validate * 1000:.1f} ms; decode + validate "
          f"{(best + best_validate) * 1e6 / code_bytes * 1000:.0f} ms per MB of code")
    if code_bytes < 1_000_000:
        print("warning: less than 1 MB of code; raise --functions", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
