"""The compile worker (``runtime/jit/compile_worker.py``): tier-ups and compiles ahead
in a worker process, published into the code slots of the program's process; a worker
that breaks leaves compilation to this process.

The worker is forced on (``worker_source`` given, or ``PYJITWASM_COMPILE_WORKER=1``)
since the test modules are far below the size that gets one by default.
"""

from __future__ import annotations

import gc
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime.instance import FuncInstance
from pyjitwasm.runtime.jit import compile_events
from pyjitwasm.runtime.jit.call import invoke
from pyjitwasm.runtime.jit.compile_module import TIER0, TIER1, CompileOptions
from pyjitwasm.runtime.jit.compile_worker import (
    WORKER_MIN_CODE_BYTES,
    close_all_workers,
    worker_wanted,
)
from pyjitwasm.runtime.jit.instance import instantiate
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.jit.store import JitStoreContext
from pyjitwasm.runtime.native import lazy_stubs_supported
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.features import DEFAULT_FEATURES
from pyjitwasm.wasm.validator import validate_module
from pyjitwasm.wat import wat2wasm

pytestmark = pytest.mark.skipif(not lazy_stubs_supported(),
                                reason="lazy compilation (and so tiers) is x86-64 only")

PROGRAM = """
(module
  (func $leaf (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func $other (param i32) (result i32) (i32.add (local.get 0) (i32.const 7)))
  (func $never (param i32) (result i32) (i32.sub (local.get 0) (i32.const 1)))
  (func $pick (export "pick") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (call $never (local.get 0)))
      (else (i32.add (call $leaf (local.get 0)) (call $other (local.get 0))))))
  (func $sum_to (export "sum_to") (param i32) (result i64) (local i64)
    (loop $l
      (local.set 1 (i64.add (local.get 1) (i64.extend_i32_u (call $leaf (local.get 0)))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $l (local.get 0)))
    (local.get 1)))
"""
LEAF, OTHER, NEVER, PICK, SUM_TO = range(5)


def _code(threshold: int = 1000) -> ModuleCode:
    wasm = wat2wasm(PROGRAM)
    module = decode_module(wasm)
    validate_module(module)
    options = CompileOptions(lazy=True, tiers=True, lazy_batch_instructions=0,
                             tier_up_threshold=threshold)
    return ModuleCode(module, options, symbol_addresses(),
                      worker_source=(wasm, DEFAULT_FEATURES))


def _call(code: ModuleCode, name: str, *args: int) -> Any:
    instance = instantiate(code, [], JitStoreContext(), invoke)
    func = instance.exports[name]
    assert isinstance(func, FuncInstance)
    return invoke(func, list(args))


@pytest.fixture
def events() -> Iterator[list[Any]]:
    seen: list[Any] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.compile_event)  # type: ignore[attr-defined]

    handler = Collect()
    logger = compile_events.logger
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield seen
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_callees_of_a_compiled_function_are_compiled_ahead(events: list[Any]) -> None:
    code = _code()
    # pick(0) calls $never only: pick and $never compile here (budget 0: a batch is one
    # function), $leaf and $other, never called, come from the worker.
    assert _call(code, "pick", 0) == [-1 & 0xFFFFFFFF]
    assert code.wait_for_worker(60)
    assert code.worker_running
    for callee in (LEAF, OTHER, NEVER):
        assert code.tier_of(callee) == TIER0
    ahead = [f.index for e in events if getattr(e, "kind", None) == "ahead"
             for f in e.functions]
    lazy = [f.index for e in events if getattr(e, "kind", None) == "lazy"
            for f in e.functions]
    assert {LEAF, OTHER} <= set(ahead) and PICK in lazy
    # $never raced: compiled here, or by the worker while this thread waited; once.
    assert sorted(ahead + lazy) == [LEAF, OTHER, NEVER, PICK]
    assert all(e.error is None and e.tier == TIER0 for e in events
               if getattr(e, "kind", None) == "ahead")
    # The worker's code runs like code compiled here.
    assert _call(code, "pick", 9) == [9 * 3 + 9 + 7]
    assert len([e for e in events if getattr(e, "kind", None) == "lazy"]) == len(lazy)


def test_tier_up_is_compiled_in_the_worker(events: list[Any]) -> None:
    code = _code(threshold=50)
    assert _call(code, "sum_to", 200) == [sum(3 * i for i in range(1, 201))]
    assert code.wait_for_tier_ups(60)
    assert code.tier_of(SUM_TO) == TIER1
    ups = [e for e in events if getattr(e, "kind", None) == "tier-up"]
    assert ups and all(e.error is None for e in ups)
    upped = {f.index for e in ups for f in e.functions}
    # $leaf ran (its counter moved), so sum_to's tier-1 batch took it along.
    assert SUM_TO in upped and LEAF in upped
    assert code.tier_ups >= 1 and not code.tier_up_errors
    assert _call(code, "sum_to", 300) == [sum(3 * i for i in range(1, 301))]


def test_a_tier_1_batch_leaves_out_callees_that_never_ran() -> None:
    code = _code(threshold=20)
    for _ in range(30):
        assert _call(code, "pick", 4) == [4 * 3 + 4 + 7]
    assert code.wait_for_tier_ups(60) and code.wait_for_worker(60)
    assert code.tier_of(PICK) == TIER1
    assert code.tier_of(NEVER) == TIER0  # compiled ahead, never called: not optimized


def test_a_broken_worker_leaves_compilation_to_this_process() -> None:
    code = _code(threshold=50)
    assert _call(code, "pick", 1) == [1 * 3 + 1 + 7]
    assert code.wait_for_worker(60)
    worker = code._worker  # noqa: SLF001 - the test breaks it on purpose
    assert worker is not None and worker._process is not None  # noqa: SLF001
    worker._process.kill()  # noqa: SLF001
    worker._process.wait()  # noqa: SLF001
    # The next jobs find the pipe closed: the worker breaks, the tier-up goes to the
    # background thread, and everything still compiles.
    assert _call(code, "sum_to", 500) == [sum(3 * i for i in range(1, 501))]
    assert code.wait_for_tier_ups(60)
    assert worker.broken is not None and not code.worker_running
    assert code.tier_of(SUM_TO) == TIER1 and not code.tier_up_errors
    assert _call(code, "sum_to", 10) == [sum(3 * i for i in range(1, 11))]


def test_the_worker_process_ends_with_its_module_code() -> None:
    code = _code()
    _call(code, "pick", 2)
    assert code.wait_for_worker(60)
    worker = code._worker  # noqa: SLF001
    assert worker is not None
    process = worker._process  # noqa: SLF001
    assert process is not None and process.poll() is None
    del code
    gc.collect()  # instances of the test's own helpers may sit in cycles
    assert process.wait(timeout=30) is not None


def test_when_a_module_gets_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    small = decode_module(wat2wasm(PROGRAM))
    monkeypatch.delenv("PYJITWASM_COMPILE_WORKER", raising=False)
    assert sum(b.size for b in small.codes) < WORKER_MIN_CODE_BYTES
    assert not worker_wanted(small)
    monkeypatch.setenv("PYJITWASM_COMPILE_WORKER", "1")
    assert worker_wanted(small)
    assert not worker_wanted(small, parallel_compilation=False)
    monkeypatch.setenv("PYJITWASM_COMPILE_WORKER", "0")
    assert not worker_wanted(small, parallel_compilation=True)


def test_the_api_runs_tiers_in_a_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_COMPILE_WORKER", "1")
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "30")
    store = Store(Engine(Config(lazy_compilation=True, tiered_compilation=True)))
    module = Module(store.engine, PROGRAM)
    sum_to = Instance(store, module, []).exports(store)["sum_to"]
    assert sum_to(store, 100) == sum(3 * i for i in range(1, 101))
    code = module._prepared.compiled()  # noqa: SLF001 - the test looks inside
    assert isinstance(code, ModuleCode)
    assert code.wait_for_tier_ups(60) and code.worker_running
    assert code.tier_of(SUM_TO) == TIER1
    config = Config(lazy_compilation=True)
    config.parallel_compilation = False
    store = Store(Engine(config))
    module = Module(store.engine, PROGRAM)
    assert Instance(store, module, []).exports(store)["pick"](store, 3) == 19
    code = module._prepared.compiled()  # noqa: SLF001
    assert isinstance(code, ModuleCode) and code._worker is None  # noqa: SLF001


def test_a_forked_child_leaves_the_parents_worker_alone() -> None:
    code = _code()
    assert _call(code, "pick", 0) == [-1 & 0xFFFFFFFF]
    assert code.wait_for_worker(60)
    worker = code._worker  # noqa: SLF001 - the test looks inside
    assert worker is not None and worker._process is not None  # noqa: SLF001
    pid = os.fork()
    if pid == 0:  # the child: compiles on its own, then exits as a program does
        status = 0
        try:
            if code.worker_running or _call(code, "pick", 9) != [9 * 3 + 9 + 7]:
                status = 3
        except BaseException:  # noqa: BLE001 - any failure is the child's exit status
            status = 4
        finally:
            close_all_workers()  # what the child's exit runs
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's worker process survived the child's exit and still compiles.
    assert worker._process.poll() is None  # noqa: SLF001
    assert code.worker_running
    assert _call(code, "sum_to", 3) == [18]
