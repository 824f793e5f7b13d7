"""Stopping and bounding guests: epoch deadlines, fuel and Ctrl-C, on both engines, and the
``pyjitwasm run`` options that drive them."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pyjitwasm import (
    Config,
    Engine,
    Func,
    FuncType,
    Instance,
    Module,
    Store,
    Trap,
    TrapCode,
    ValType,
)
from pyjitwasm.cli import main as cli_main
from pyjitwasm.commands.loading import CommandError
from pyjitwasm.commands.run import parse_duration
from pyjitwasm.wat import wat2wasm

ENGINES = ["interp", "jit"]

GUEST = """
(module
  (global $iterations (export "iterations") (mut i32) (i32.const 0))
  (func (export "spin") (loop br 0))
  (func (export "one") (result i32) i32.const 1)
  ;; Counts to n: 8 units of fuel per iteration plus 1 (Wasmtime's accounting).
  (func (export "count") (param i32) (result i32) (local i32)
    (loop
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if 0 (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1))
  ;; Forever around a short counted loop (the JIT leaves that one without a check).
  (func (export "nested") (local i32 i32)
    (loop $outer
      (local.set 1 (i32.const 0))
      (loop $inner
        (local.set 0 (i32.add (local.get 0) (local.get 1)))
        (local.set 1 (i32.add (local.get 1) (i32.const 1)))
        (br_if $inner (i32.lt_u (local.get 1) (i32.const 64))))
      (br $outer)))
  ;; Counts its iterations in a global, forever.
  (func (export "tally")
    (loop
      (global.set $iterations (i32.add (global.get $iterations) (i32.const 1)))
      (br 0))))
"""


def _guest(engine: str, **settings: Any) -> tuple[Store, dict[str, Any]]:
    config = Config(strategy=engine)
    for name, value in settings.items():
        setattr(config, name, value)
    store = Store(Engine(config))
    instance = Instance(store, Module(store.engine, GUEST), [])
    return store, instance.exports(store)


def _trap_code(call: Any) -> TrapCode:
    with pytest.raises(Trap) as info:
        call()
    code = info.value.trap_code
    assert code is not None
    return code


# Epochs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_an_epoch_deadline_reached_from_another_thread_stops_a_runaway_loop(engine: str) -> None:
    store, ex = _guest(engine, epoch_interruption=True)
    for _ in range(2):  # and the store stays usable: stop it once more
        _stopped_by_an_epoch_from_another_thread(store, lambda: ex["spin"](store))
    store.set_epoch_deadline(1)
    assert ex["count"](store, 1000) == 1000


@pytest.mark.parametrize("engine", ENGINES)
def test_a_runaway_loop_around_an_unchecked_counted_loop_is_stopped(engine: str) -> None:
    store, ex = _guest(engine, epoch_interruption=True)
    _stopped_by_an_epoch_from_another_thread(store, lambda: ex["nested"](store))


def _stopped_by_an_epoch_from_another_thread(store: Store, run: Callable[[], object]) -> None:
    """``run()`` (a loop that never ends) traps with INTERRUPT soon after another thread
    moves the epoch past the store's deadline."""
    store.set_epoch_deadline(1)
    timer = threading.Timer(0.2, store.engine.increment_epoch)
    timer.start()
    started = time.monotonic()
    assert _trap_code(run) == TrapCode.INTERRUPT
    assert time.monotonic() - started < 10
    timer.join()


@pytest.mark.parametrize("engine", ENGINES)
def test_the_deadline_is_relative_to_the_current_epoch(engine: str) -> None:
    store, ex = _guest(engine, epoch_interruption=True)
    # A store starts with deadline 0: its code traps at the first check (as in Wasmtime).
    assert _trap_code(lambda: ex["one"](store)) == TrapCode.INTERRUPT
    for _ in range(3):
        store.engine.increment_epoch()
    store.set_epoch_deadline(2)  # epoch 3, deadline 5
    assert ex["one"](store) == 1
    store.engine.increment_epoch()
    assert ex["count"](store, 10) == 10
    store.engine.increment_epoch()
    assert _trap_code(lambda: ex["one"](store)) == TrapCode.INTERRUPT


@pytest.mark.parametrize("engine", ENGINES)
def test_without_epoch_interruption_the_deadline_does_nothing(engine: str) -> None:
    store, ex = _guest(engine)
    store.engine.increment_epoch()
    store.set_epoch_deadline(0)
    assert ex["count"](store, 100) == 100


@pytest.mark.parametrize("engine", ENGINES)
def test_a_host_function_can_move_the_epoch_past_the_deadline(engine: str) -> None:
    config = Config(strategy=engine)
    config.epoch_interruption = True
    store = Store(Engine(config))
    store.set_epoch_deadline(1)
    module = Module(store.engine, """
        (module (import "" "tick" (func $tick))
          (func (export "run") (call $tick) (loop br 0)))""")
    tick = Func(store, FuncType([], []), store.engine.increment_epoch)
    run = Instance(store, module, [tick]).exports(store)["run"]
    assert _trap_code(lambda: run(store)) == TrapCode.INTERRUPT


# Fuel -----------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ENGINES)
def test_fuel_stops_a_runaway_loop_and_can_be_refilled(engine: str) -> None:
    store, ex = _guest(engine, consume_fuel=True)
    assert store.get_fuel() == 0
    assert _trap_code(lambda: ex["one"](store)) == TrapCode.OUT_OF_FUEL  # none given yet
    store.set_fuel(100_000)
    assert _trap_code(lambda: ex["spin"](store)) == TrapCode.OUT_OF_FUEL
    assert store.get_fuel() == 0
    store.set_fuel(10_000)
    assert ex["one"](store) == 1
    assert store.get_fuel() == 10_000 - 1
    assert ex["count"](store, 1000) == 1000
    assert store.get_fuel() == 10_000 - 1 - (8 * 1000 + 1)


@pytest.mark.parametrize("engine", ENGINES)
def test_fuel_stops_at_the_same_check_on_both_engines(engine: str) -> None:
    store, ex = _guest(engine, consume_fuel=True)
    store.set_fuel(100)
    assert _trap_code(lambda: ex["tally"](store)) == TrapCode.OUT_OF_FUEL
    # 5 units an iteration (global.get, i32.const, i32.add, global.set, br), checked at
    # the loop header: the 20th iteration brings the total to 100.
    assert ex["iterations"].value(store) == 20


PROGRAM = """
(module
  (import "" "probe" (func $probe (param i32)))
  (table 2 funcref)
  (elem (i32.const 0) $double $half)
  (type $unary (func (param i32) (result i32)))
  (func $double (param i32) (result i32) (i32.shl (local.get 0) (i32.const 1)))
  (func $half (param i32) (result i32) (i32.shr_u (local.get 0) (i32.const 1)))
  (func (export "run") (param $n i32) (result i32) (local $acc i32) (local $i i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.and (local.get $i) (i32.const 1))
          (then (local.set $acc (call_indirect (type $unary)
                                  (local.get $acc) (i32.const 0))))
          (else (local.set $acc (i32.add (local.get $acc) (local.get $i)))))
        (block $a (block $b (block $c
          (br_table $a $b $c (i32.rem_u (local.get $i) (i32.const 3))))
          (local.set $acc (i32.xor (local.get $acc) (i32.const 7))))
          (call $probe (local.get $i)))
        (nop) (drop (i32.const 0))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $acc)))
"""


def _fuel_trace(engine: str) -> tuple[int, list[int], int]:
    config = Config(strategy=engine)
    config.consume_fuel = True
    store = Store(Engine(config))
    seen: list[int] = []
    probe_func = Func(store, FuncType([ValType.i32()], []),
                      lambda i: seen.append(store.get_fuel()))
    run = Instance(store, Module(store.engine, PROGRAM), [probe_func]).exports(store)["run"]
    store.set_fuel(1_000_000)
    result = run(store, 50)
    return result, seen, store.get_fuel()


def test_both_engines_consume_the_same_fuel() -> None:
    # Same result, same fuel left, and the host sees the same fuel at every call.
    interp, jit = _fuel_trace("interp"), _fuel_trace("jit")
    assert interp == jit
    assert jit[2] < 1_000_000 - 50 * 10


# Ctrl-C ---------------------------------------------------------------------------------

SIGINT_SCRIPT = """
import os, signal, sys, threading, time
from pyjitwasm import Config, Engine, Instance, Module, Store
config = Config(strategy=sys.argv[1])
config.epoch_interruption = sys.argv[2] == "epoch"
store = Store(Engine(config))
store.set_epoch_deadline(1 << 40)
wat = '''(module (func (export "spin") (loop br 0))
                  (func (export "one") (result i32) i32.const 1))'''
ex = Instance(store, Module(store.engine, wat), []).exports(store)
for _ in range(2):
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)).start()
    started = time.monotonic()
    try:
        ex["spin"](store)
    except KeyboardInterrupt:
        print("interrupted after", round(time.monotonic() - started, 1))
print("store usable:", ex["one"](store))
"""


@pytest.mark.parametrize("engine,checks", [("interp", "none"), ("jit", "none"),
                                           ("jit", "epoch")])
def test_ctrl_c_raises_keyboard_interrupt_while_wasm_runs(engine: str, checks: str) -> None:
    # In a child process: the signal goes to the whole process, and a failure to stop
    # the loop must not hang the test run.
    proc = subprocess.run([sys.executable, "-c", SIGINT_SCRIPT, engine, checks],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 3, proc.stdout
    for line in lines[:2]:
        assert line.startswith("interrupted after")
        assert float(line.split()[-1]) < 5
    assert lines[2] == "store usable: 1"


# pyjitwasm run --------------------------------------------------------------------------


@pytest.fixture
def spin_file(tmp_path: Path) -> Path:
    path = tmp_path / "spin.wat"
    path.write_text('(module (func (export "_start") (loop br 0)))')
    return path


@pytest.mark.parametrize("engine", ENGINES)
def test_run_with_a_timeout(engine: str, spin_file: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    started = time.monotonic()
    assert cli_main(["run", "--engine", engine, "-W", "timeout=200ms", str(spin_file)]) == 134
    assert time.monotonic() - started < 30
    assert "interrupt" in capsys.readouterr().err


@pytest.mark.parametrize("engine", ENGINES)
def test_run_with_fuel(engine: str, spin_file: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["run", "--engine", engine, "--fuel", "1000", str(spin_file)]) == 134
    assert "all fuel consumed" in capsys.readouterr().err


def test_run_options_are_checked(spin_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["run", "-W", "unknown=1", str(spin_file)]) == 1
    assert "unsupported option" in capsys.readouterr().err
    assert cli_main(["run", "-W", "timeout=soon", str(spin_file)]) == 1
    assert parse_duration("2s") == 2.0
    assert parse_duration("500ms") == 0.5
    assert parse_duration("1.5m") == 90.0
    assert parse_duration("3") == 3.0
    with pytest.raises(CommandError):
        parse_duration("-1s")


def test_asm_shows_the_checks_when_asked(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spin.wasm"
    path.write_bytes(wat2wasm('(module (func (export "_start") (loop br 0)))'))
    outputs = {}
    for flags in ([], ["--epoch"], ["--fuel"]):
        assert cli_main(["asm", str(path), *flags]) == 0
        outputs[tuple(flags)] = capsys.readouterr().out
    assert "libcall_" not in outputs[()]
    assert "libcall_epoch_deadline_reached" in outputs[("--epoch",)]
    assert "libcall_out_of_fuel" not in outputs[("--epoch",)]
    assert "libcall_out_of_fuel" in outputs[("--fuel",)]
