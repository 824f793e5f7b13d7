"""Traps through the public API: codes, messages, backtraces, stack exhaustion."""

from __future__ import annotations

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store, Trap, TrapCode

TRAPPING = """
(module $demo
  (memory 1)
  (table 2 funcref)
  (func $divide (export "divide") (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func $middle (export "middle") (param i32) (result i32)
    (call $divide (i32.const 1) (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "indirect") (param i32) (call_indirect (local.get 0)))
  (func (export "trunc") (param f32) (result i32) (i32.trunc_f32_s (local.get 0)))
  (func $rec (export "rec") (param i32) (result i32)
    (i32.add (call $rec (local.get 0)) (i32.const 1))))
"""


def _exports(config: Config | None = None):
    store = Store(Engine(config))
    module = Module(store.engine, TRAPPING)
    return store, Instance(store, module, []).exports(store)


ENGINES = ["interp", "jit"]


@pytest.mark.parametrize("engine", ENGINES)
def test_trap_codes_and_messages(engine: str) -> None:
    store, ex = _exports(Config(strategy=engine))
    cases = [
        (lambda: ex["divide"](store, 1, 0), TrapCode.INTEGER_DIVISION_BY_ZERO),
        (lambda: ex["divide"](store, -(2**31), -1), TrapCode.INTEGER_OVERFLOW),
        (lambda: ex["load"](store, 65533), TrapCode.MEMORY_OUT_OF_BOUNDS),
        (lambda: ex["load"](store, -1), TrapCode.MEMORY_OUT_OF_BOUNDS),
        (lambda: ex["indirect"](store, 0), TrapCode.INDIRECT_CALL_TO_NULL),
        (lambda: ex["indirect"](store, 2), TrapCode.UNDEFINED_ELEMENT),
        (lambda: ex["trunc"](store, float("nan")), TrapCode.BAD_CONVERSION_TO_INTEGER),
        (lambda: ex["trunc"](store, 3e9), TrapCode.INTEGER_OVERFLOW),
    ]
    for call, code in cases:
        with pytest.raises(Trap) as info:
            call()
        assert info.value.trap_code == code
        assert info.value.message == code.message


@pytest.mark.parametrize("engine", ENGINES)
def test_backtrace_names_functions_from_the_name_section(engine: str) -> None:
    store, ex = _exports(Config(strategy=engine))
    with pytest.raises(Trap) as info:
        ex["middle"](store, 0)
    frames = info.value.frames
    assert [f.func_name for f in frames] == ["divide", "middle"]
    assert [f.func_index for f in frames] == [0, 1]
    assert all(f.module_name == "demo" for f in frames)
    assert "divide" in str(info.value)
    if engine == "interp":
        # The innermost frame points at the i32.div_s instruction. (The JIT does not map
        # machine code back to wasm offsets yet: its frames carry None there.)
        assert frames[0].module_offset is not None and frames[0].func_offset > 0


def test_deep_recursion_traps_without_recursion_error() -> None:
    # max_call_depth counts interpreter frames; the JIT's budget is stack bytes (below).
    store, ex = _exports(Config(strategy="interp", max_call_depth=500))
    with pytest.raises(Trap) as info:
        ex["rec"](store, 0)
    assert info.value.trap_code == TrapCode.STACK_OVERFLOW
    assert info.value.message == "call stack exhausted"
    assert len(info.value.frames) == 500
    # The text keeps both ends of a runaway backtrace, not all 500 frames.
    lines = str(info.value).splitlines()
    assert lines[0] == "error while executing at wasm backtrace:"
    assert len(lines) == 1 + 2 * 20 + 1 + 3
    assert "460 more frames" in lines[21] and lines[41].startswith("  499: ")
    assert lines[-2:] == ["Caused by:", "    wasm trap: call stack exhausted"]
    # Still usable after exhaustion.
    assert ex["divide"](store, 9, 3) == 3


def test_default_depth_is_far_beyond_the_python_recursion_limit() -> None:
    store, ex = _exports(Config(strategy="interp"))
    with pytest.raises(Trap) as info:
        ex["rec"](store, 0)
    assert info.value.trap_code == TrapCode.STACK_OVERFLOW
    assert len(info.value.frames) > 5000


def test_max_wasm_stack_bytes_sets_the_depth() -> None:
    config = Config(strategy="interp", max_wasm_stack=64 * 100)
    assert config.max_call_depth == 100
    store, ex = _exports(config)
    with pytest.raises(Trap) as info:
        ex["rec"](store, 0)
    assert len(info.value.frames) == 100


def test_jit_stack_budget_is_max_wasm_stack_bytes() -> None:
    depths = []
    for budget in (128 * 1024, 512 * 1024):
        # One tier: a frame's size depends on the tier, and the recursion tiers up
        # part-way through (at a moment that depends on the background compile).
        store, ex = _exports(Config(strategy="jit", max_wasm_stack=budget,
                                    tiered_compilation=False))
        with pytest.raises(Trap) as info:
            ex["rec"](store, 0)
        assert info.value.trap_code == TrapCode.STACK_OVERFLOW
        assert {f.func_name for f in info.value.frames} == {"rec"}
        depths.append(len(info.value.frames))
        assert ex["divide"](store, 9, 3) == 3  # still usable after exhaustion
    # Four times the bytes, about four times the frames.
    assert 3 * depths[0] < depths[1] < 5 * depths[0]
