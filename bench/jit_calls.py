"""Call overhead: Python -> compiled code, compiled code -> Python host -> back, and
traps (guard-page faults) in a loop with RSS.  Numbers go to docs/jit-design.md.

    .venv/bin/python -P bench/jit_calls.py [--traps 1000000]
"""

from __future__ import annotations

import argparse
import ctypes
import time

from pyjitwasm.runtime import native
from pyjitwasm.runtime.errors import Trap
from pyjitwasm.runtime.native import invoke, lib, raise_for_status
from pyjitwasm.runtime.native.handwritten import ACCESSIBLE_BYTES, HandWrittenInstance

N = 300_000


def per_call(fn, n: int = N) -> float:
    fn()
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, time.perf_counter() - t)
    return best / n * 1e6


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--traps", type=int, default=1_000_000)
    args = parser.parse_args()
    inst = HandWrittenInstance(lambda x: x + 1)
    shim, callee = inst.shim("add"), inst.code.address("add")
    vmctx, values = inst.vmctx, inst.values
    i64, i32 = inst.i64, inst.i32
    pyjitwasm_invoke = lib.pyjitwasm_invoke

    def fast_add(a: int, b: int) -> int:
        # What a per-signature specialised Python wrapper would do.
        i64[0] = a
        i64[2] = b
        status = pyjitwasm_invoke(shim, callee, vmctx, values)
        if status:
            raise_for_status(status)
        return i32[0]

    def via_invoke() -> int:
        i64[0] = 1
        i64[2] = 2
        invoke(shim, callee, vmctx, values)
        return i32[0]

    bare = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                            ctypes.c_int32)(callee)
    results = {
        "ctypes, bare call into the compiled function (no trap handling)":
            per_call(lambda: bare(vmctx, vmctx, 1, 2)),
        "cffi pyjitwasm_invoke only (no argument marshalling)":
            per_call(lambda: pyjitwasm_invoke(shim, callee, vmctx, values)),
        "specialised wrapper: store 2 args + invoke + load result":
            per_call(lambda: fast_add(1, 2)),
        "generic native.invoke with stores/loads": per_call(via_invoke),
        "generic HandWrittenInstance.call (type-driven marshalling)":
            per_call(lambda: inst.call("add", 1, 2)),
        "wasm -> Python host -> wasm (call_import, whole round trip)":
            per_call(lambda: inst.call("call_import", 1), N // 3),
    }
    try:
        results.update(wasmtime_numbers())
    except ImportError:
        print("wasmtime not installed: `.venv/bin/pip install wasmtime` for the comparison")
    for label, us in results.items():
        print(f"{us:7.3f} us  {label}")

    def trap_once() -> None:
        try:
            inst.call("load_mem", ACCESSIBLE_BYTES + 8)
        except Trap:
            return
        raise AssertionError("expected a trap")

    print(f"{per_call(trap_once, 50_000):7.3f} us  guard-page trap -> Python Trap exception")
    start = rss_mib()
    t = time.perf_counter()
    for i in range(args.traps):
        trap_once()
        if (i + 1) % (args.traps // 4) == 0:
            print(f"  after {i + 1} traps: RSS {rss_mib() - start:+.2f} MiB")
    print(f"  {args.traps} traps in {time.perf_counter() - t:.1f} s; process fine: "
          f"add(2, 3) = {fast_add(2, 3)}, invoke depth {native.invoke_depth()}")
    inst.close()


def wasmtime_numbers() -> dict[str, float]:
    import wasmtime

    store = wasmtime.Store()
    module = wasmtime.Module(store.engine, """
      (module
        (import "" "h" (func $h (param i32) (result i32)))
        (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
        (func (export "call_import") (param i32) (result i32)
          local.get 0 call $h i32.const 1 i32.add))
    """)
    host = wasmtime.Func(store, wasmtime.FuncType([wasmtime.ValType.i32()],
                                                  [wasmtime.ValType.i32()]), lambda x: x + 1)
    instance = wasmtime.Instance(store, module, [host])
    add = instance.exports(store)["add"]
    call_import = instance.exports(store)["call_import"]
    return {
        "wasmtime-py: add(1, 2)": per_call(lambda: add(store, 1, 2), N // 10),
        "wasmtime-py: wasm -> Python host -> wasm": per_call(lambda: call_import(store, 1),
                                                             N // 10),
    }


if __name__ == "__main__":
    main()
