"""Stress the JIT's threads and lifetimes: modules made, called hot, trapped and dropped
while tier-ups and OSR entries compile in the background and a thread collects garbage.

What it drives (the interleavings the race hunt of session 9 looked for):

- ``churn``: several threads, each making its own stores, modules and instances (a new
  module most rounds, so a new ``ModuleCode``), calling recursion, counted and nested
  loops hot enough to tier up and ask for OSR entries, trapping on a guard page, and
  dropping them (a few kept a while), while another thread runs ``gc.collect()``;
- ``shared``: three threads calling the hot loops of one instance at once (tier-ups and
  OSR slots written while other threads read them), a new module every round;
- both end with work still queued, so the interpreter exits with tier-ups pending.

Run it under the settings that make tier-ups and OSR frequent, with core dumps on::

    ulimit -c unlimited
    PYJITWASM_TIER_UP_THRESHOLD=0 .venv/bin/python -P -X faulthandler \\
        tools/race_stress.py churn --seconds 40 --threads 3
    PYJITWASM_TIER_UP_THRESHOLD=3 PYJITWASM_OSR_SYNC=1 .venv/bin/python -P \\
        -X faulthandler tools/race_stress.py shared --seconds 30

A crash is the finding (``gdb -batch -ex bt -ex "thread apply all bt" python core``);
the script prints ``ok <rounds>`` otherwise.
"""

from __future__ import annotations

import argparse
import gc
import random
import threading
import time
from typing import Any

from pyjitwasm import Config, Engine, Instance, Module, Store, Trap

PROGRAM = """
(module
  (memory 1)
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func $sum_to (export "sum_to") (param i32) (result i64) (local i64)
    (loop $l
      (local.set 1 (i64.add (local.get 1) (i64.extend_i32_u (local.get 0))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $l (local.get 0)))
    (local.get 1))
  (func $oob (export "oob") (param i32) (result i32)
    (i32.load (i32.mul (local.get 0) (i32.const 65536))))
  (func $nest (export "nest") (param i32) (result i32) (local i32 i32)
    (loop $o
      (local.set 2 (i32.const 0))
      (loop $i
        (local.set 1 (i32.add (local.get 1) (call $sq (local.get 2))))
        (local.set 2 (i32.add (local.get 2) (i32.const 1)))
        (br_if $i (i32.lt_u (local.get 2) (i32.const 50))))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br_if $o (local.get 0)))
    (local.get 1))
  (func $sq (param i32) (result i32) (i32.mul (local.get 0) (local.get 0))))
"""

_counter = 0
_counter_lock = threading.Lock()


def _fresh_program(rng: random.Random) -> str:
    """The program, most times with a global of its own (a module never seen before)."""
    global _counter  # noqa: PLW0603 - one counter for every thread
    if rng.random() < 0.3:
        return PROGRAM
    with _counter_lock:
        _counter += 1
        salt = _counter
    return PROGRAM.replace("(memory 1)", f"(memory 1)(global i32 (i32.const {salt}))")


def _exercise(store: Store, exports: Any, rng: random.Random) -> None:
    """Call every export a few times: hot enough at low thresholds to tier up."""
    for _ in range(rng.randint(1, 6)):
        assert exports["fib"](store, 12) == 144
        n = rng.randint(1, 3000)
        assert exports["sum_to"](store, n) == n * (n + 1) // 2
        exports["nest"](store, rng.randint(1, 200))
        try:
            exports["oob"](store, 2)
        except Trap:
            pass
        else:
            raise AssertionError("oob did not trap")


def churn_round(engine: Engine, rng: random.Random, kept: list[Any]) -> None:
    """One store, module and instance, exercised and (mostly) dropped."""
    store = Store(engine)
    instance = Instance(store, Module(engine, _fresh_program(rng)), [])
    _exercise(store, instance.exports(store), rng)
    if rng.random() < 0.2:
        kept.append((store, instance))
        if len(kept) > 8:
            kept.pop(0)


def shared_round(engine: Engine, rng: random.Random) -> None:
    """Three threads calling one instance at once."""
    store = Store(engine)
    exports = Instance(store, Module(engine, _fresh_program(rng)), []).exports(store)
    errors: list[BaseException] = []

    def caller(seed: float) -> None:
        try:
            _exercise(store, exports, random.Random(seed))
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            errors.append(exc)

    threads = [threading.Thread(target=caller, args=(rng.random(),)) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["churn", "shared"])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=2, help="churn threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.seconds
    rounds = [0]
    errors: list[BaseException] = []

    def collector() -> None:
        while time.monotonic() < deadline:
            gc.collect()
            time.sleep(0.001)

    def churner(seed: int) -> None:
        rng = random.Random(seed)
        kept: list[Any] = []
        engine = Engine(Config(strategy="jit"))
        try:
            while time.monotonic() < deadline:
                churn_round(engine if rng.random() < 0.7 else Engine(Config(strategy="jit")),
                            rng, kept)
                rounds[0] += 1
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threading.Thread(target=collector, daemon=True).start()
    if args.mode == "churn":
        workers = [threading.Thread(target=churner, args=(args.seed + i,))
                   for i in range(args.threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    else:
        engine = Engine(Config(strategy="jit"))
        rng = random.Random(args.seed)
        while time.monotonic() < deadline:
            shared_round(engine, rng)
            rounds[0] += 1
    if errors:
        raise errors[0]
    # Exit with work queued: a last round whose tier-ups are still pending.
    churn_round(Engine(Config(strategy="jit")), random.Random(args.seed), [])
    print("ok", rounds[0])


if __name__ == "__main__":
    main()
