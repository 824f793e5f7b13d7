"""On-stack replacement in a module with a compile worker (``compile_worker.py``): the
OSR entry of a hot x64 tier-0 loop is compiled in the worker process (ahead of its
other jobs), linked in this one without LLVM, and the running frame moves into it; a
worker that is broken leaves the compile to this process.

The worker is forced on (``PYJITWASM_COMPILE_WORKER=1``): the test modules are far
below the size that gets one by default.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any

import pytest

from pyjitwasm import Config, Engine, Func, FuncType, Instance, Module, Store, Trap, ValType
from pyjitwasm.jit.compiler import ObjectCode
from pyjitwasm.runtime.jit import compile_events, compile_worker, module_code
from pyjitwasm.runtime.jit.compile_module import TIER0, TIER1, BatchObject, CompileOptions
from pyjitwasm.runtime.jit.compile_worker import CompileWorker, WorkerJob
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.native import last_trap_pcs, lazy_stubs_supported
from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.features import DEFAULT_FEATURES
from pyjitwasm.wasm.traps import TrapCode
from pyjitwasm.wat import wat2wasm
from pyjitwasm.x64 import tier0

pytestmark = pytest.mark.skipif(not (lazy_stubs_supported() and tier0.supported_host()),
                                reason="OSR entries are entered from x86-64 tier-0 code")

# The host call at the 100th outer iteration waits until the queued OSR entries are
# compiled and published, so the frame moves within the next iterations; a trap after
# the loops shows where the frame ran.  By then the inner loop has run 100,000 times: in
# a module with a worker a loop's entry is queued at its second ask, ``OSR_RECHECK_ASKED``
# (50,000) iterations after its first.
HOT_LOOPS = """
(module
  (import "host" "sync" (func $sync (param i32)))
  (func $helper (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func (export "run") (param $n i32) (param $trap i32) (result i64)
        (local $i i32) (local $j i32) (local $acc i64)
    (local.set $acc (i64.extend_i32_u (call $helper (local.get $n))))
    (loop $outer
      (if (i32.eq (local.get $i) (i32.const 100)) (then (call $sync (local.get $i))))
      (local.set $j (i32.const 0))
      (loop $inner
        (local.set $acc (i64.add (local.get $acc)
          (i64.extend_i32_u (i32.xor (local.get $i) (local.get $j)))))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get $j) (i32.const 1000))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $outer (i32.lt_u (local.get $i) (local.get $n))))
    (if (local.get $trap) (then unreachable))
    (local.get $acc))
  (func (export "call_helper") (result i32) (call $helper (i32.const 1))))
"""
HELPER, RUN = 1, 2  # wasm indices
SYNC_AT = 100


def _expected(n: int) -> int:
    return 3 * n + sum(i ^ j for i in range(n) for j in range(1000))


@pytest.fixture
def osr_in_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_COMPILE_WORKER", "1")
    monkeypatch.setenv("PYJITWASM_TIER0_X64", "1")
    monkeypatch.setenv("PYJITWASM_TIER0_X64_NESTED_LOOPS", "1")
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "50")
    for name in ("PYJITWASM_TIERS", "PYJITWASM_OSR", "PYJITWASM_OSR_SYNC"):
        monkeypatch.delenv(name, raising=False)


def _run_module(strategy: str = "auto") -> tuple[Store, Any, Any, list[bool]]:
    """HOT_LOOPS' exports, its ``ModuleCode`` (None for the interpreter) and what its
    ``host.sync`` saw: each call waits for the queued OSR compiles (True: in time)."""
    store = Store(Engine(Config(strategy=strategy, lazy_compilation=True)))
    module = Module(store.engine, HOT_LOOPS)
    code = module._prepared.compiled() if strategy == "auto" else None  # noqa: SLF001
    synced: list[bool] = []

    def sync(_: int) -> None:
        synced.append(code is None or code.wait_for_osr(120))

    instance = Instance(store, module, [Func(store, FuncType([ValType.i32()], []), sync)])
    return store, instance.exports(store), code, synced


def _interpreted(n: int) -> int:
    store, exports, _, _ = _run_module("interp")
    result = exports["run"](store, n, 0)
    assert isinstance(result, int)
    return result


def test_a_hot_loop_moves_into_an_entry_compiled_in_the_worker(osr_in_worker: None) -> None:
    store, exports, code, synced = _run_module()
    assert isinstance(code, ModuleCode) and code.osr_enabled
    result = exports["run"](store, 200, 0)
    assert result == _interpreted(200) == _expected(200)
    assert synced == [True] and code.worker_running and not code.osr_errors
    # Every entry came from the worker; this process linked them.
    assert code.osr_compiles >= 1 and code.osr_worker_compiles == code.osr_compiles
    entries = code._osr_entries  # noqa: SLF001 - the test looks inside
    assert {k for k, _ in entries} == {RUN - code.first} and len(entries) == code.osr_compiles
    assert all(c.osr_entry and c.tier == TIER1 for c in code._osr_code)  # noqa: SLF001
    # The tier-up went to the worker too; the next call runs tier-1 code from the start.
    assert code.wait_for_tier_ups(60) and code.tier_of(RUN) == TIER1
    assert exports["run"](store, 120, 0) == _expected(120)


def test_a_trap_in_a_worker_compiled_entry_has_a_wasm_backtrace(osr_in_worker: None) -> None:
    store, exports, code, synced = _run_module()
    with pytest.raises(Trap) as info:
        exports["run"](store, 200, 1)
    assert synced == [True] and code.osr_worker_compiles >= 1
    assert info.value.trap_code == TrapCode.UNREACHABLE
    # "run" once: the x64 frame that moved into the entry is not shown again below it.
    frames = info.value.frames
    assert [frame.func_index for frame in frames] == [RUN]
    unreachable = next(i.offset for i in code.module.codes[RUN - code.first].instrs
                       if i.op == op.UNREACHABLE)
    assert frames[0].module_offset == unreachable  # found by compiling the entry again
    # The trap was in an entry's code, which the worker compiled.
    pc = last_trap_pcs()[0]
    assert any(c.func_index_at(pc) == RUN for c in code._osr_code)  # noqa: SLF001


def test_the_first_ask_queues_the_tier_up_and_the_second_the_entry(
        osr_in_worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # In a module with a worker the loop's first ask queues the function's tier-up (for
    # its next calls) and its second, 50,000 iterations on, the entry: a loop that
    # stops before then costs no entry (a large program's start-up runs many such).
    finished: list[tuple[str, float, tuple[int, ...]]] = []
    emit = compile_events.emit

    def record(event: Any) -> None:
        if getattr(event, "kind", None) in ("osr", "tier-up"):
            finished.append((event.kind, event.finished_at,
                             tuple(f.index for f in event.functions)))
        emit(event)

    monkeypatch.setattr(compile_events, "emit", record)
    monkeypatch.setattr(compile_events, "listening", lambda: True)
    store, exports, code, synced = _run_module()
    assert exports["call_helper"](store) == 3
    code.request_tier_up(HELPER - code.first)
    assert code.wait_for_tier_ups(60) and code.worker_running
    finished.clear()
    assert exports["run"](store, 200, 0) == _expected(200)
    assert code.wait_for_tier_ups(60) and synced == [True]
    kinds = [kind for kind, _, indices in sorted(finished, key=lambda e: e[1])
             if RUN in indices]
    # Which finishes first depends on the worker (an entry queued while the tier-up
    # still waits goes before it); that every entry's loop had asked once before does not.
    assert {"tier-up", "osr"} <= set(kinds)
    assert code.osr_worker_compiles == code.osr_compiles >= 1
    assert set(code._osr_entries) <= code._osr_asked_once  # noqa: SLF001


def test_no_entry_in_a_warm_starts_first_seconds(
        osr_in_worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # A warm start holds its worker back for its first seconds (tier-ups wait), and a
    # hot loop's entry waits too: neither the worker's start nor LLVM in this process,
    # for a run that may be short.  After them, the loop asks again and gets one.
    in_delay = [True]
    monkeypatch.setattr(ModuleCode, "_in_warm_start_delay", lambda self: in_delay[0])
    # The held tier-up stays held (its timer would tier the function up, and the next
    # call would not run the loop at tier 0, on a machine slow enough).
    monkeypatch.setattr(module_code, "WARM_START_WORKER_DELAY", 600.0)
    store, exports, code, synced = _run_module()
    assert exports["run"](store, 200, 0) == _expected(200)
    assert code._worker is None and code.osr_compiles == 0  # noqa: SLF001
    in_delay[0] = False
    assert exports["run"](store, 200, 0) == _expected(200)
    assert synced == [True, True] and code.osr_worker_compiles >= 1 and code.worker_running


def test_a_killed_worker_leaves_the_entry_to_this_process(osr_in_worker: None) -> None:
    store, exports, code, synced = _run_module()
    assert exports["call_helper"](store) == 3
    code.request_tier_up(HELPER - code.first)  # compiled in the worker: starts it
    assert code.wait_for_tier_ups(60) and code.tier_of(HELPER) == TIER1
    worker = code._worker  # noqa: SLF001 - the test breaks it on purpose
    assert worker is not None and worker._process is not None  # noqa: SLF001
    worker._process.kill()  # noqa: SLF001
    worker._process.wait()  # noqa: SLF001
    with pytest.raises(Trap) as info:
        exports["run"](store, 200, 1)  # the entry compiles on this process's thread
    assert synced == [True] and info.value.trap_code == TrapCode.UNREACHABLE
    assert worker.broken is not None and not code.worker_running
    assert code.osr_compiles >= 1 and code.osr_worker_compiles == 0 and not code.osr_errors
    pc = last_trap_pcs()[0]
    assert any(c.func_index_at(pc) == RUN for c in code._osr_code)  # noqa: SLF001
    assert exports["run"](store, 150, 0) == _expected(150)


def test_a_worker_that_cannot_start_leaves_the_entry_to_this_process(
        osr_in_worker: None, monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot_start() -> Any:
        raise OSError("no worker today")

    monkeypatch.setattr(compile_worker, "start_worker", cannot_start)
    store, exports, code, synced = _run_module()
    assert exports["run"](store, 200, 0) == _expected(200)
    assert synced == [True] and not code.osr_errors
    assert code.osr_compiles >= 1 and code.osr_worker_compiles == 0
    assert not code.worker_running


def test_a_failed_compile_in_the_worker_marks_the_entry_failed(osr_in_worker: None) -> None:
    store, exports, code, _ = _run_module()
    assert exports["call_helper"](store) == 3
    k = RUN - code.first
    # An offset that is no loop: the worker's translate refuses it; remembered, and
    # nothing hangs.
    branch = next(i.offset for i in code.module.codes[k].instrs if i.op == op.IF)
    code.request_osr(k, branch)
    assert code.wait_for_osr(60)
    assert code.osr_failed(k, branch) and code.osr_entry(k, branch) is None
    assert "no loop instruction at offset" in str(code.osr_errors[(k, branch)])
    assert code.worker_running  # a failed compile does not break the worker
    assert code.osr_worker_compiles == 0
    code.request_osr(k, branch)  # asked again: remembered, not sent again
    assert code.wait_for_osr(60) and code.osr_compiles == 0


def test_a_synchronous_entry_waits_for_the_worker(osr_in_worker: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # PYJITWASM_OSR_SYNC=1 with a worker: the first ask waits for the worker's entry, so
    # the frame moves at once.
    monkeypatch.setenv("PYJITWASM_OSR_SYNC", "1")
    store, exports, code, _ = _run_module()
    with pytest.raises(Trap):
        exports["run"](store, 60, 1)
    assert code.osr_worker_compiles >= 1 and not code.osr_errors
    pc = last_trap_pcs()[0]
    assert any(c.func_index_at(pc) == RUN for c in code._osr_code)  # noqa: SLF001


CHILD = r"""
import json, sys
import pyjitwasm as w
store = w.Store(w.Engine(w.Config(lazy_compilation=True)))
module = w.Module(store.engine, sys.argv[1])
code = module._prepared.compiled()
sync = w.Func(store, w.FuncType([w.ValType.i32()], []), lambda i: [code.wait_for_osr(120)] and None)
instance = w.Instance(store, module, [sync])
result = instance.exports(store)["run"](store, 200, 0)
print(json.dumps({"result": result, "osr": code.osr_compiles,
                  "osr_in_worker": code.osr_worker_compiles,
                  # llvmlite.binding loads LLVM; the bare package (its version) does not
                  "llvm": sorted(m for m in sys.modules if m.startswith("llvmlite.binding"))}))
"""


def test_the_programs_process_never_loads_llvm(osr_in_worker: None) -> None:
    out = subprocess.run([sys.executable, "-P", "-c", CHILD, HOT_LOOPS], capture_output=True,
                         text=True, timeout=180, env=dict(os.environ))
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["result"] == _expected(200)
    assert seen["osr"] >= 1 and seen["osr_in_worker"] == seen["osr"]
    assert seen["llvm"] == []


# The worker's queue, without a process ----------------------------------------------


def _job(kind: str, log: list[str], osr_loop: int | None = None) -> WorkerJob:
    return WorkerJob(kind == "ahead", lambda: [0], lambda *_: log.append(f"{kind} finished"),
                     TIER1 if kind != "ahead" else TIER0, osr_loop=osr_loop,
                     dropped=lambda: log.append(f"{kind} dropped"))


def _idle_worker() -> CompileWorker:
    worker = CompileWorker(b"", CompileOptions(), DEFAULT_FEATURES)
    worker._thread = threading.Thread()  # noqa: SLF001 - no feeder: the test takes jobs
    return worker


def test_osr_entries_go_before_compiles_ahead_and_tier_ups() -> None:
    log: list[str] = []
    worker = _idle_worker()
    for job in (_job("tier-up", log), _job("ahead", log), _job("osr", log, osr_loop=12)):
        assert worker.submit(job)
    order = []
    for _ in range(3):
        job = worker._next_job()  # noqa: SLF001
        assert job is not None
        order.append("osr" if job.osr_loop is not None else "ahead" if job.ahead else "tier-up")
    assert order == ["osr", "ahead", "tier-up"]
    worker.close()


def test_a_tier_up_that_waited_long_goes_before_osr_entries(
        monkeypatch: pytest.MonkeyPatch) -> None:
    log: list[str] = []
    worker = _idle_worker()
    up = _job("tier-up", log)
    assert worker.submit(up)
    for loop in (1, 2):
        assert worker.submit(_job("osr", log, osr_loop=loop))
    first = worker._next_job()  # noqa: SLF001
    assert first is not None and first.osr_loop == 1
    up.queued_at -= compile_worker.TIER_UP_PATIENCE  # it has waited long enough now
    second = worker._next_job()  # noqa: SLF001
    third = worker._next_job()  # noqa: SLF001
    assert second is up and third is not None and third.osr_loop == 2
    worker.close()


def test_closing_drops_queued_osr_jobs_and_says_so() -> None:
    log: list[str] = []
    worker = _idle_worker()
    assert worker.submit(_job("osr", log, osr_loop=3))
    assert worker.submit(_job("tier-up", log))
    worker.close()
    assert log == ["osr dropped", "tier-up dropped"]
    assert not worker.submit(_job("osr", log, osr_loop=4))  # closed: compile elsewhere


def test_the_worker_sends_an_osr_entry_as_a_one_function_batch() -> None:
    # The worker's protocol end to end, in a real worker process.
    wasm = wat2wasm(HOT_LOOPS)
    got: list[tuple[BatchObject | None, BaseException | None]] = []
    done = threading.Event()
    worker = CompileWorker(wasm, CompileOptions(), DEFAULT_FEATURES)
    module = decode_module(wasm)
    outer = next(i.offset for i in module.codes[RUN - module.num_imported_funcs].instrs
                 if i.op == op.LOOP)

    def finish(batch: BatchObject | None, _: tuple[float, float],
               error: BaseException | None) -> None:
        got.append((batch, error))
        done.set()

    assert worker.submit(WorkerJob(False, lambda: [RUN], finish, TIER1, osr_loop=outer))
    assert done.wait(120)
    worker.close()
    ((batch, error),) = got
    assert error is None and batch is not None
    assert batch.indices == (RUN,) and batch.tier == TIER1 and not batch.shims
    assert isinstance(batch.code, ObjectCode) and batch.code.obj.startswith(b"\x7fELF")
    assert batch.code.functions == {RUN: f"wasm_osr_{RUN}_{outer}"}
