"""No leak: 10,000 cycles of new Store + Instance + a memory write + drop leave RSS flat,
on-demand and pooled, with the cyclic collector off (reference counting alone frees a
dropped store and gives its slots back); also without the write (a pooled store nothing
touched is parked without a reset, runtime/jit/pool.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store
from pyjitwasm.runtime.jit.tiering import background_compiler

MIB = 1 << 20
CYCLES = 10_000
# Growth allowed over CYCLES (allocator noise); one leaked instance per cycle would be
# more (its vmctx and objects), one leaked memory page per cycle 40x more.
BOUND_MIB = 8

WAT = """(module
  (memory (export "m") 1)
  (table 4 funcref)
  (data (i32.const 16) "hello, pooling allocator")
  (func $touch (export "touch") (i32.store (i32.const 4096) (i32.const 7)))
  (elem (i32.const 0) $touch))"""


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / MIB


@pytest.fixture
def no_cyclic_gc() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("touch", [True, False], ids=["write", "untouched"])
@pytest.mark.parametrize("engine_name", ["jit", "jit-pooling", "interp", "interp-pooling"])
def test_rss_is_flat_over_ten_thousand_instantiations(engine_name: str, touch: bool,
                                                      no_cyclic_gc: None) -> None:
    config = Config(strategy="interp" if engine_name.startswith("interp") else "jit")
    if engine_name.endswith("pooling"):
        config.allocation_strategy = "pooling"
    engine = Engine(config)
    module = Module(engine, WAT)

    def cycle() -> None:
        store = Store(engine)
        instance = Instance(store, module, [])
        if touch:
            instance.exports(store)["touch"](store)

    # Warm-up: caches, code, the pool's first slot, and ``touch``'s tier-up (1,000 calls
    # with the default threshold), whose compile (LLVM loading, ~40 MiB) must not land
    # inside the measured cycles, as it did on a loaded machine.
    for _ in range(1500):
        cycle()
    background_compiler().wait_idle(120)
    before = rss_mib()
    for _ in range(CYCLES):
        cycle()
    grown = rss_mib() - before
    assert grown < BOUND_MIB, f"RSS grew {grown:.1f} MiB over {CYCLES} instantiations"
