"""The embedding API tests again, with "auto" meaning the JIT.

Every test of the API modules is imported here and runs with an autouse fixture that
makes the default strategy "jit".  The few that assert interpreter-specific facts (frame
counts derived from ``max_call_depth``, code offsets in backtraces, "jit" being
unavailable) are replaced below by their JIT counterparts.
"""

from __future__ import annotations

import pytest
from test_api_host import *  # noqa: F403
from test_api_link import *  # noqa: F403
from test_api_objects import *  # noqa: F403
from test_api_traps import *  # noqa: F403
from test_api_traps import TRAPPING

from pyjitwasm import Config, Engine, Instance, Module, Store, Trap, TrapCode


@pytest.fixture(autouse=True)
def _jit_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_AUTO_STRATEGY", "jit")


def _exports(config: Config | None = None):
    store = Store(Engine(config))
    module = Module(store.engine, TRAPPING)
    return store, Instance(store, module, []).exports(store)


def test_config_strategies() -> None:
    assert Engine(Config(strategy="interp")).strategy == "interp"
    assert Engine(Config(strategy="jit")).strategy == "jit"
    assert Engine(Config()).strategy == "jit"
    with pytest.raises(ValueError):
        Config(strategy="turbo")
    with pytest.raises(ValueError):
        Config(memory_style="huge")


def test_deep_recursion_traps_without_recursion_error() -> None:
    store, ex = _exports(Config(max_wasm_stack=64 * 1024))
    with pytest.raises(Trap) as info:
        ex["rec"](store, 0)
    assert info.value.trap_code == TrapCode.STACK_OVERFLOW
    assert info.value.message == "call stack exhausted"
    frames = info.value.frames
    assert len(frames) > 100 and {f.func_name for f in frames} == {"rec"}
    # Still usable after exhaustion.
    assert ex["divide"](store, 9, 3) == 3


def test_max_wasm_stack_bytes_sets_the_depth() -> None:
    depths = []
    for budget in (32 * 1024, 128 * 1024):
        # One tier: a frame's size depends on the tier, and the recursion tiers up
        # while it runs.
        store, ex = _exports(Config(max_wasm_stack=budget, tiered_compilation=False))
        with pytest.raises(Trap) as info:
            ex["rec"](store, 0)
        depths.append(len(info.value.frames))
    # Four times the budget gives about four times the frames.
    assert 3 * depths[0] < depths[1] < 5 * depths[0]
