"""Two tiers (``runtime/jit/module_code.py``, ``runtime/jit/tiering.py``,
``translate/tiering.py``): lazily compiled functions start at tier 0 with counters,
hot ones are recompiled at tier 1 on the background thread and swapped into their code
slots while tier-0 frames may still be running.

Most tests set the tier-up threshold low (``PYJITWASM_TIER_UP_THRESHOLD``) so that a
few calls make a function hot.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from typing import Any

import pytest

from pyjitwasm import Config, Engine, Func, FuncType, Instance, Module, Store, Trap, ValType
from pyjitwasm.runtime.jit.compile_module import TIER0, TIER1, CompileOptions
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.jit.tiering import background_compiler
from pyjitwasm.runtime.native import lazy_stubs_supported

from support.hot_loop_run import SCRIPT as HOT_LOOP_RUN

pytestmark = pytest.mark.skipif(not lazy_stubs_supported(),
                                reason="lazy compilation (and so tiers) is x86-64 only")

PROGRAM = """
(module
  (import "host" "probe" (func $probe (param i32)))
  (memory 1)
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  ;; Recursion that calls the host at depth 0 (probe) and can trap at depth 0.
  (func $dive (export "dive") (param i32 i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then
        (call $probe (local.get 1))
        (if (i32.eq (local.get 1) (i32.const 2)) (then unreachable))
        (i32.const 1))
      (else (i32.add (call $dive (i32.sub (local.get 0) (i32.const 1)) (local.get 1))
                     (i32.const 1)))))
  (func $sum_to (export "sum_to") (param i32) (result i64) (local i64)
    (loop $l
      (local.set 1 (i64.add (local.get 1) (i64.extend_i32_u (local.get 0))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $l (local.get 0)))
    (local.get 1))
  (func $mix (export "mix") (param i32) (result f64) (local f64 i32)
    (loop $l
      (i32.store (i32.and (i32.mul (local.get 2) (i32.const 4)) (i32.const 0xfffc))
                 (i32.xor (local.get 2) (i32.rotl (local.get 0) (local.get 2))))
      (local.set 1 (f64.add (local.get 1)
        (f64.div (f64.convert_i32_s (i32.load (i32.and (i32.mul (local.get 2) (i32.const 12))
                                                       (i32.const 0xfffc))))
                 (f64.add (f64.convert_i32_u (local.get 2)) (f64.const 1.5)))))
      (local.set 2 (i32.add (local.get 2) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 2) (local.get 0))))
    (f64.sqrt (f64.abs (local.get 1)))))
"""


def _setup(monkeypatch: pytest.MonkeyPatch, threshold: int | None = 5,
           **config: Any) -> tuple[Store, dict[str, Any], ModuleCode, list[Any]]:
    if threshold is not None:
        monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", str(threshold))
    monkeypatch.delenv("PYJITWASM_TIERS", raising=False)
    config.setdefault("lazy_compilation", True)  # also when the suite runs eagerly
    store = Store(Engine(Config(**config)))
    module = Module(store.engine, PROGRAM)
    # probe[0] is what the wasm import "probe" runs.
    probe: list[Any] = [lambda arg: None]
    func = Func(store, FuncType([ValType.i32()], []), lambda arg: probe[0](arg))
    exports = Instance(store, module, [func]).exports(store)
    code = module._prepared.compiled()  # noqa: SLF001 - the test looks inside
    assert isinstance(code, ModuleCode)
    return store, exports, code, probe


def _index(code: ModuleCode, name: str) -> int:
    return next(e.index for e in code.module.exports if e.name == name)


def test_a_loop_drives_tier_up(monkeypatch: pytest.MonkeyPatch) -> None:
    store, exports, code, _ = _setup(monkeypatch, threshold=1000)
    sum_to = _index(code, "sum_to")
    assert exports["sum_to"](store, 10) == 55  # 11 counts: stays cold
    assert code.tier_of(sum_to) == TIER0
    assert code.wait_for_tier_ups(30) and code.tier_of(sum_to) == TIER0
    # One call whose loop runs past the threshold: queued during the call, tier 1 next.
    assert exports["sum_to"](store, 5000) == 5000 * 5001 // 2
    assert code.wait_for_tier_ups(60)
    assert code.tier_of(sum_to) == TIER1
    assert code.tier_ups == 1 and not code.tier_up_errors
    assert exports["sum_to"](store, 5000) == 5000 * 5001 // 2


def test_tier_up_while_the_function_is_on_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    store, exports, code, probe = _setup(monkeypatch, threshold=10)
    dive = _index(code, "dive")
    seen: list[int | None] = []
    # The tier-up job queues behind this one, so it cannot finish before the probe
    # (on a loaded machine it otherwise could, and the probe would see tier 1).
    release = threading.Event()
    assert background_compiler().submit(lambda: release.wait(60))

    def probe_waits(arg: int) -> None:
        # 40 tier-0 frames of $dive are below us: let the tier-up finish now, so the
        # slot changes under them.
        seen.append(code.tier_of(dive))
        release.set()
        assert code.wait_for_tier_ups(60)
        seen.append(code.tier_of(dive))

    probe[0] = probe_waits
    try:
        assert exports["dive"](store, 40, 0) == 41
    finally:
        release.set()
    assert seen == [TIER0, TIER1]
    # The frames that were running tier-0 code returned through it correctly; new
    # calls run tier 1 (and take no counts: tier-1 code has none).
    probe[0] = lambda arg: None
    counter = code.counter(dive)
    assert exports["dive"](store, 40, 0) == 41
    assert code.counter(dive) == counter


def test_traps_and_backtraces_through_both_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    store, exports, code, _ = _setup(monkeypatch, threshold=10)
    dive = _index(code, "dive")
    with pytest.raises(Trap) as cold:
        exports["dive"](store, 3, 2)  # tier 0 all the way down
    assert [f.func_name for f in cold.value.frames] == ["dive"] * 4
    assert exports["dive"](store, 30, 0) == 31  # hot now
    assert code.wait_for_tier_ups(60) and code.tier_of(dive) == TIER1
    with pytest.raises(Trap) as hot:
        exports["dive"](store, 3, 2)  # tier 1 all the way down
    assert [f.func_name for f in hot.value.frames] == ["dive"] * 4
    assert hot.value.trap_code == cold.value.trap_code


def test_trap_in_tier1_frames_above_tier0_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    store, exports, code, probe = _setup(monkeypatch, threshold=1000)
    dive = _index(code, "dive")
    assert exports["fib"](store, 10) == 55  # compiles everything at tier 0
    outcome: list[BaseException] = []

    def probe_traps(arg: int) -> None:
        if arg == 1 and not outcome:
            # Under tier-0 frames: make $dive tier 1, then trap inside tier-1 frames.
            code.request_tier_up(dive - code.first)
            assert code.wait_for_tier_ups(60)
            assert code.tier_of(dive) == TIER1
            try:
                exports["dive"](store, 5, 2)
            except Trap as exc:
                outcome.append(exc)

    probe[0] = probe_traps
    assert exports["dive"](store, 3, 1) == 4
    assert code.tier_of(dive) == TIER1
    assert [f.func_name for f in outcome[0].frames] == ["dive"] * 6


def test_results_are_the_same_at_both_tiers(monkeypatch: pytest.MonkeyPatch) -> None:
    store, exports, code, _ = _setup(monkeypatch, threshold=0)
    eager_store, eager, eager_code, _ = _setup(monkeypatch, None, lazy_compilation=False)
    assert eager_code.tier_of(_index(eager_code, "mix")) == TIER1
    args = [("mix", 3), ("mix", 777), ("sum_to", 9999), ("fib", 17), ("mix", 20000)]
    first = [exports[name](store, arg) for name, arg in args]  # tier 0
    assert code.tier_of(_index(code, "mix")) in (TIER0, TIER1)
    assert code.wait_for_tier_ups(60)
    assert all(code.tier_of(_index(code, n)) == TIER1 for n, _ in args)
    second = [exports[name](store, arg) for name, arg in args]  # tier 1
    # $mix reads memory the earlier calls wrote: replay the same sequence eagerly.
    reference = [eager[name](eager_store, arg) for name, arg in args * 2]
    assert first + second == reference


def test_concurrent_first_calls_from_two_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    store, exports, code, _ = _setup(monkeypatch, threshold=50)
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]

    def worker(i: int) -> None:
        barrier.wait()
        results[i] = [exports["fib"](store, 18), exports["sum_to"](store, 3000)]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [[2584, 4501500]] * 2
    assert code.wait_for_tier_ups(60)
    fib, sum_to = _index(code, "fib"), _index(code, "sum_to")
    assert code.tier_of(fib) == code.tier_of(sum_to) == TIER1
    # Each function got tier-0 code once (one batch each) and tier 1 once.
    tiers = sorted((b.tier, i) for b in code.batches for i in b.functions
                   if i in (fib, sum_to))
    assert tiers == sorted([(TIER0, fib), (TIER0, sum_to), (TIER1, fib), (TIER1, sum_to)])


def test_knobs_turn_tiers_off(monkeypatch: pytest.MonkeyPatch) -> None:
    store, exports, code, _ = _setup(monkeypatch, tiered_compilation=False)
    assert exports["sum_to"](store, 100) == 5050
    assert not code.tiered and code.tier_of(_index(code, "sum_to")) == TIER1
    store, exports, code, _ = _setup(monkeypatch, lazy_compilation=False)
    assert not code.tiered and code.tier_of(_index(code, "fib")) == TIER1
    monkeypatch.setenv("PYJITWASM_TIERS", "0")
    assert not CompileOptions().tiers
    monkeypatch.setenv("PYJITWASM_TIERS", "1")
    assert CompileOptions().tiers and CompileOptions(lazy=True).tiered


def test_a_failed_tier_up_leaves_tier_0_running(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm.runtime.jit import module_code

    # The compile fails in this process: the background thread's, not a worker's.
    monkeypatch.setenv("PYJITWASM_COMPILE_WORKER", "0")
    store, exports, code, _ = _setup(monkeypatch, threshold=5)
    real = module_code.compile_batch

    def failing(*args: Any, tier: int = TIER1, **kwargs: Any) -> Any:
        if tier == TIER1:
            raise MemoryError("injected")
        return real(*args, tier=tier, **kwargs)

    monkeypatch.setattr(module_code, "compile_batch", failing)
    assert exports["sum_to"](store, 100) == 5050
    assert code.wait_for_tier_ups(60)
    sum_to = _index(code, "sum_to")
    assert code.tier_of(sum_to) == TIER0
    assert isinstance(code.tier_up_errors[sum_to - code.first], MemoryError)
    assert exports["sum_to"](store, 100) == 5050


def test_a_loop_with_parameters_counts_at_tier_0(monkeypatch: pytest.MonkeyPatch) -> None:
    # The counter's SSA variable adds a parameter to the loop header; the loop's own
    # parameters (the wasm operand stack) must not see it.
    wat = """(module (func (export "f") (param i64) (result i64) (local i32)
      (local.get 0)
      (loop (param i64) (result i64)
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (i64.add (i64.const 1))
        (br_if 0 (i32.lt_u (local.get 1) (i32.const 100))))))"""
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "10")
    store = Store(Engine(Config(tiered_compilation=True, lazy_compilation=True)))
    module = Module(store.engine, wat)
    f = Instance(store, module, []).exports(store)["f"]
    assert f(store, 5) == 105
    code = module._prepared.compiled()  # noqa: SLF001 - the test looks inside
    assert code.wait_for_tier_ups(60) and code.tier_of(0) == TIER1
    assert f(store, 5) == 105



def test_exiting_during_a_tier_up_prints_nothing() -> None:
    # The loop's tier-up is the process's first LLVM compile, on the background thread,
    # still running when the interpreter exits: LLVM's objects must be freed before
    # llvmlite's teardown, or each prints an ignored AttributeError.
    result = subprocess.run([sys.executable, str(HOT_LOOP_RUN), "200000"], capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == str((200000 * 200001 // 2 + 2**31) % 2**32 - 2**31)
    assert "Exception ignored" not in result.stderr, result.stderr
