"""Call overhead: Python -> compiled code, compiled code -> Python host -> back, and
traps (guard-page faults) in a loop with RSS.  Numbers go to docs/jit-design.md.

    .venv/bin/python -P bench/jit_calls.py [--traps 1000000]
    .venv/bin/python -P bench/jit_calls.py --api     # public API paths only

``--api`` measures through the embedding API: a wasm loop calling an imported Python
host function ``(i32, i32) -> i32`` (per call, specialised entry vs the generic one), a
Python call of a 2-argument export, and a memcpy/memset-heavy wasm loop with
``memory.copy``/``memory.fill`` inlined vs through their libcalls.
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import time
from typing import Any

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
    parser.add_argument("--api", action="store_true", help="only the public API numbers")
    args = parser.parse_args()
    for label, us in api_numbers().items():
        print(f"{us:7.3f} us  {label}")
    if args.api:
        return
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


API_MODULE = """
(module
  (import "" "h" (func $h (param i32 i32) (result i32)))
  (memory 2)
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "host_loop") (param $n i32) (result i32) (local $acc i32)
    (block $done (loop $l
      (br_if $done (i32.eqz (local.get $n)))
      (local.set $acc (call $h (local.get $acc) (local.get $n)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (local.get $acc))
  ;; What C code compiled for wasm32 does all the time: memcpy/memset of 16..271 bytes.
  (func (export "memops") (param $n i32) (local $i i32) (local $len i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $len (i32.add (i32.const 16) (i32.and (local.get $i) (i32.const 255))))
      (memory.copy (i32.and (i32.mul (local.get $i) (i32.const 64)) (i32.const 0xFFFF))
                   (i32.add (i32.const 65536) (i32.and (local.get $i) (i32.const 0x7FFF)))
                   (local.get $len))
      (memory.fill (i32.add (i32.const 70000) (i32.and (local.get $i) (i32.const 0x3FFF)))
                   (local.get $i) (local.get $len))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))))
"""


def _loop_per_iteration(fn: Any, n: int) -> float:
    fn(n // 10)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t)
    return best / n * 1e6


def api_numbers() -> dict[str, float]:
    """Per-call costs through the public API (JIT engine)."""
    import pyjitwasm
    from pyjitwasm import jit_engine

    i32 = pyjitwasm.ValType.i32()
    sig = pyjitwasm.FuncType([i32, i32], [i32])

    def exports(host: Any = None, access_caller: bool = False, generic: bool = False,
                inline: bool = True) -> tuple[Any, dict[str, Any]]:
        store = pyjitwasm.Store(pyjitwasm.Engine(pyjitwasm.Config(strategy="jit")))
        fn = host or (lambda a, b: (a + b) & 0x7FFFFFFF)
        func = pyjitwasm.Func(store, sig, fn, access_caller=access_caller)
        if generic:
            # Hide the API adapter from the JIT: the generic, type-driven entry runs.
            adapter = func._rt.host
            func._rt.host = lambda instance, args: adapter(instance, args)
        if not inline:
            # This engine's modules compile memory.copy/fill to libcalls.
            backend = store.engine.backend
            assert isinstance(backend, jit_engine.JitBackend)
            backend.options = dataclasses.replace(backend.options, inline_bulk_memory=False)
        module = pyjitwasm.Module(store.engine, API_MODULE)
        ex = pyjitwasm.Instance(store, module, [func]).exports(store)
        return store, {name: (lambda *a, f=ex[name]: f(store, *a))
                       for name in ("host_loop", "memops")} | {"raw_add": ex["add"]}

    store, fast = exports()
    add = fast["raw_add"]
    _, with_caller = exports(host=lambda c, a, b: (a + b) & 0x7FFFFFFF, access_caller=True)
    _, generic = exports(generic=True)
    _, libcalls = exports(inline=False)
    return {
        "API: wasm -> Python host (i32, i32) -> i32 -> wasm, per call":
            _loop_per_iteration(fast["host_loop"], 300_000),
        "API: same, host function with access_caller=True":
            _loop_per_iteration(with_caller["host_loop"], 300_000),
        "API: same through the generic host entry (type-driven, before specialisation)":
            _loop_per_iteration(generic["host_loop"], 100_000),
        "API: Python -> wasm add(store, 1, 2)": per_call(lambda: add(store, 1, 2)),
        "API: memops loop iteration (memory.copy + memory.fill, 16..271 B), inlined":
            _loop_per_iteration(fast["memops"], 2_000_000),
        "API: memops loop iteration through libcall_memory_copy/fill":
            _loop_per_iteration(libcalls["memops"], 200_000),
    }


if __name__ == "__main__":
    main()
