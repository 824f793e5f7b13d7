"""The JIT gives back what it allocates: compiling, instantiating, calling and dropping
modules in a loop keeps the process's memory flat.

Each measurement runs in a fresh interpreter (pytest's own allocations would blur it).
Growth is judged per module over two halves of the measured loop and the smaller slope
is checked: a leak shows in both halves, a one-time step (a pool filling up, the heap
growing once) in only one.  Measured on the dev machine (bench/jit_memory.py): ~0.1 KiB
per module after the fixes, 7.5 KiB before (llvmlite's pass managers and pass builders
were never freed); the bound of 2 KiB leaves room for a loaded machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from pyjitwasm.jit.codeload import CodeLoader, PassPipeline, host_target_machine, parse_ir

KIB_PER_MODULE_BOUND = 2.0

_MEASURE = textwrap.dedent("""
    import gc, json, sys
    from pyjitwasm import Engine, Instance, Module, Store, wat2wasm

    WAT = '''
    (module
      (memory 1)
      (table 2 funcref)
      (global $g (mut i32) (i32.const {k}))
      (func $add (export "add") (param i32 i32) (result i32)
        (i32.add (i32.add (local.get 0) (local.get 1)) (global.get $g)))
      (func $poke (export "poke") (param i32 i32)
        (i32.store (local.get 0) (local.get 1)))
      (elem (i32.const 0) $add $poke))
    '''

    def status(field):
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])

    warmup, half = int(sys.argv[1]), int(sys.argv[2])
    engine = Engine()
    binaries = [wat2wasm(WAT.format(k=k)) for k in range(16)]

    def one(k):
        store = Store(engine)
        module = Module(engine, binaries[k % 16])
        exports = Instance(store, module, []).exports(store)
        exports["poke"](store, 8, k)
        assert exports["add"](store, k, 1) == k + 1 + k % 16

    for k in range(warmup):
        one(k)
    gc.collect()
    rss, vm = [status("VmRSS")], [status("VmSize")]
    for _ in range(2):
        for k in range(half):
            one(k)
        gc.collect()
        rss.append(status("VmRSS"))
        vm.append(status("VmSize"))
    print(json.dumps({"rss": rss, "vm": vm}))
""")


def _measure(warmup: int, half: int) -> dict[str, list[int]]:
    out = subprocess.run([sys.executable, "-P", "-c", _MEASURE, str(warmup), str(half)],
                         check=True, capture_output=True, text=True, timeout=600)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_compile_instantiate_call_drop_keeps_memory_flat() -> None:
    half = 200
    m = _measure(warmup=150, half=half)
    rss = m["rss"]
    slopes = [(rss[1] - rss[0]) / half, (rss[2] - rss[1]) / half]
    assert min(slopes) < KIB_PER_MODULE_BOUND, f"RSS KiB per module by half: {slopes}"
    # Every instance reserved 6 GiB of address space for its memory (static heap): all of
    # it must be unmapped again, as must the compiled code.
    vm = m["vm"]
    assert vm[2] - vm[0] < 8 * 1024, f"VmSize grew by {vm[2] - vm[0]} KiB over {2 * half}"


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_pass_pipeline_runs_do_not_grow_memory() -> None:
    # The level-1 pipeline alone: 5.3 KiB per run before it was reused.
    tm = host_target_machine(2)
    pipeline = PassPipeline(tm, 1)
    text = ("define i32 @f(i32 %a, i32 %b) {\n  %p = alloca i32\n  store i32 %a, ptr %p\n"
            "  %x = load i32, ptr %p\n  %y = add i32 %x, %b\n  ret i32 %y\n}\n")
    for _ in range(200):
        pipeline.run(parse_ir(text))
    runs = 1500
    halves = []
    for _ in range(2):
        before = _rss_kib()
        for _ in range(runs // 2):
            pipeline.run(parse_ir(text))
        halves.append((_rss_kib() - before) / (runs // 2))
    assert min(halves) < 1.0, f"KiB per run by half: {halves}"
    optimized = parse_ir(text)
    pipeline.run(optimized)
    assert "alloca" not in str(optimized)  # the passes did run (SROA)


def test_standard_pipeline_can_run_repeatedly() -> None:
    # LLVM's O2 pipeline is single-use: the pipeline must build one per run.
    loader = CodeLoader(opt_level=2)
    for k in range(3):
        code = loader.load(f"define i64 @f(i64 %a) {{\n  %r = mul i64 %a, {k + 3}\n"
                           "  ret i64 %r\n}\n")
        assert code.address("f")
        code.release()


def test_optnone_functions_get_a_fresh_builder() -> None:
    loader = CodeLoader()
    text = ("define i32 @g(i32 %a) #0 {\n  %r = add i32 %a, 1\n  ret i32 %r\n}\n"
            'attributes #0 = { noinline optnone }\n')
    runs = loader.pipeline._runs
    loader.load(text).release()
    assert loader.pipeline._runs == runs  # the shared builder did not serve it


_ADDRESS_SPACE = textwrap.dedent("""
    import gc, resource
    from pyjitwasm import Engine, Instance, Module, Store, wat2wasm

    def vmsize():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024

    engine = Engine()
    module = Module(engine, wat2wasm('(module (memory 1) (func (export "f")))'))
    Instance(Store(engine), module, [])
    gc.collect()
    # Room for about three 6 GiB static heaps beyond what the process maps now.
    limit = vmsize() + 20 * 2**30
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    gc.disable()
    for _ in range(12):
        store = Store(engine)
        Instance(store, module, []).exports(store)["f"](store)
        del store
    print("ok")
""")


def test_dead_stores_reservations_are_reclaimed_when_address_space_runs_out() -> None:
    # Without the collector running, dead stores keep their 6 GiB reservations (they sit
    # in reference cycles); a failed reservation must collect them and try again.
    out = subprocess.run([sys.executable, "-P", "-c", _ADDRESS_SPACE], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
