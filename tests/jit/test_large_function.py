"""Large functions: a generated function of 100k wasm instructions compiles on the JIT
(lazily and eagerly) and computes what the interpreter computes; the size-based LLVM
rule and the eager batching that bound compile memory pick what they document."""

from __future__ import annotations

import pytest

import pyjitwasm as api
from pyjitwasm.jit.pipelines import LLVMPipeline
from pyjitwasm.runtime.jit import compile_module
from pyjitwasm.runtime.jit.compile_module import (
    EAGER_BATCH_INSTRUCTIONS,
    GIANT_FUNCTION_INSTRUCTIONS,
    HUGE_FUNCTION_INSTRUCTIONS,
    TIER0,
    TIER1,
    CompileOptions,
    codegen_options_for,
    eager_batches,
)
from pyjitwasm.wasm.decoder import decode_module

from support.huge_function import huge_function_body, huge_function_module, module_with_bodies

INSTRUCTIONS = 100_000
ARGS = [(12345, 678), (0, 0), (-1, 7), (2**31 - 1, -(2**31))]


@pytest.fixture(scope="module")
def large_module() -> bytes:
    return huge_function_module(INSTRUCTIONS)


@pytest.fixture(scope="module")
def expected(large_module: bytes) -> list[int]:
    engine = api.Engine(api.Config(strategy="interp"))
    store = api.Store(engine)
    run = api.Instance(store, api.Module(engine, large_module), []).exports(store)["run"]
    return [run(store, a, b) for a, b in ARGS]


def test_generator_makes_the_size_asked_for() -> None:
    _, count = huge_function_body(INSTRUCTIONS)
    assert INSTRUCTIONS - 50 <= count <= INSTRUCTIONS + 50
    module = decode_module(huge_function_module(INSTRUCTIONS))
    assert len(module.codes) == 1
    assert len(module.codes[0].instrs) == count


@pytest.mark.parametrize("lazy", [True, False], ids=["lazy", "eager"])
def test_large_function_runs_like_the_interpreter(large_module: bytes, expected: list[int],
                                                  lazy: bool) -> None:
    engine = api.Engine(api.Config(strategy="jit", lazy_compilation=lazy))
    store = api.Store(engine)
    instance = api.Instance(store, api.Module(engine, large_module), [])
    run = instance.exports(store)["run"]
    assert [run(store, a, b) for a, b in ARGS] == expected
    assert len(set(expected)) == len(expected)  # the arguments reach the result


def test_huge_functions_get_the_cheap_llvm_configuration(
        monkeypatch: pytest.MonkeyPatch, large_module: bytes) -> None:
    module = decode_module(large_module)
    options = CompileOptions(opt_level=1)
    size = len(module.codes[0].instrs)
    monkeypatch.setattr(compile_module, "GIANT_FUNCTION_INSTRUCTIONS", size)  # not giant
    assert HUGE_FUNCTION_INSTRUCTIONS < size
    # Tier 1: level-0 code generation with the greedy allocator; tier 0: the fast one.
    tier1 = codegen_options_for(module, [0], options)
    assert tier1.llvm_pipeline == LLVMPipeline("minimal", 0, optimize_regalloc=True)
    tier0 = codegen_options_for(module, [0], options, TIER0)
    assert tier0.llvm_pipeline == LLVMPipeline.for_level(0)
    small = decode_module(huge_function_module(2_000))
    assert codegen_options_for(small, [0], options).opt_level == 1


def test_giant_functions_get_the_cheapest_llvm_configuration_at_every_tier(
        large_module: bytes) -> None:
    module = decode_module(large_module)
    assert len(module.codes[0].instrs) > GIANT_FUNCTION_INSTRUCTIONS
    options = CompileOptions(opt_level=1)
    for tier in (TIER0, TIER1):
        chosen = codegen_options_for(module, [0], options, tier)
        assert chosen.llvm_pipeline == LLVMPipeline.for_level(0)


def test_eager_batches_are_bounded_and_cover_every_function() -> None:
    # Three small functions around one huge one: the huge one is a batch of its own.
    body, _ = huge_function_body(HUGE_FUNCTION_INSTRUCTIONS + 1000)
    small, _ = huge_function_body(EAGER_BATCH_INSTRUCTIONS // 2 + 100)  # two exceed one batch
    module = decode_module(module_with_bodies([small, small, body, small]))
    batches = eager_batches(module)
    assert [i for batch in batches for i in batch] == [0, 1, 2, 3]
    assert batches == [[0], [1], [2], [3]]
    for batch in batches:
        sizes = [len(module.codes[i].instrs) for i in batch]
        assert len(batch) == 1 or sum(sizes) <= EAGER_BATCH_INSTRUCTIONS


def test_a_giant_function_gets_tier0_code_at_every_tier_and_never_tiers_up(
        monkeypatch: pytest.MonkeyPatch, large_module: bytes, expected: list[int]) -> None:
    """Above GIANT_FUNCTION_INSTRUCTIONS, eager compilation writes the function with
    x64/ (not LLVM at opt level 0, which costs ~0.9 KB per instruction), and a hot call
    asks for no tier-up (LLVM's tier 1 for it would be opt level 0 too)."""
    from pyjitwasm.x64 import tier0 as x64_tier0

    if not x64_tier0.supported_host():
        pytest.skip("x64/ is for x86-64 Linux")
    module = decode_module(large_module)
    assert compile_module.tier0_only(module, [0])
    assert not compile_module.tier0_only(module, [0, 0])
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "2")
    monkeypatch.setenv("PYJITWASM_OSR_SYNC", "1")  # a loop's entry would compile at once
    # Eager: chunked for worker processes (one chunk: compiled here), or batch by batch
    # in ModuleCode; lazy.  All in this process, where STATS counts.
    for lazy, parallel in ((False, True), (False, False), (True, True)):
        before = x64_tier0.STATS.instructions
        config = api.Config(strategy="jit", lazy_compilation=lazy)
        config.parallel_compilation = parallel
        engine = api.Engine(config)
        store = api.Store(engine)
        jit_module = api.Module(engine, large_module)
        run = api.Instance(store, jit_module, []).exports(store)["run"]
        assert [run(store, a, b) for a, b in ARGS] == expected
        for a, b in ARGS * 2:  # hot: past the tier-up threshold
            run(store, a, b)
        assert x64_tier0.STATS.instructions - before == len(module.codes[0].instrs)
        code = jit_module._prepared.compiled()
        code.wait_for_tier_ups(30)
        assert code.tier_ups == 0
        assert code.osr_compiles == 0 and not code.osr_errors
        assert code.tier_of(0) == (TIER0 if lazy else TIER1)
