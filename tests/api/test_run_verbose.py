"""``pyjitwasm run -v``: compile events (``runtime/jit/compile_events.py``, the
``pyjitwasm.compile`` logger) printed by the CLI (``pyjitwasm/commands/compile_report.py``)
as batch lines, tier-up lines and a summary on stderr, and nothing without ``-v``."""

from __future__ import annotations

import logging
import re
import time
import types
from pathlib import Path

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store
from pyjitwasm.cli import main as cli_main
from pyjitwasm.commands import compile_report
from pyjitwasm.runtime.jit import compile_events
from pyjitwasm.runtime.jit.compile_events import CompiledFunction, CompileEvent
from pyjitwasm.runtime.jit.tiering import background_compiler
from pyjitwasm.runtime.native import lazy_stubs_supported
from pyjitwasm.wasi import poll

lazy_only = pytest.mark.skipif(not lazy_stubs_supported(),
                               reason="lazy compilation (and so tiers) is x86-64 only")

# Five defined functions (wasm indices 1..5 after the import); _start reaches four of
# them, $unused is never compiled lazily.  $pause sleeps 1 ms in poll_oneoff, where the
# tier-up test waits for the background compiler.
PROGRAM = """
(module
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $helper (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))
  (func $spin (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (call $helper (local.get 1)))
      (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
    (local.get 1))
  (func $unused (result i32) (i32.const 7))
  (func $pause
    (i32.store8 (i32.const 8) (i32.const 0))          ;; tag: clock
    (i32.store (i32.const 16) (i32.const 1))          ;; monotonic clock
    (i64.store (i32.const 24) (i64.const 1000000))    ;; 1 ms, relative
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128))))
  (func $main (export "_start")
    (drop (call $spin (i32.const 1000)))
    (call $pause)))
"""

SUMMARY = re.compile(r"^pyjitwasm: (\d+) of (\d+) functions compiled in (\d+) batch", re.M)


@pytest.fixture
def program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYJITWASM_LAZY", "1")  # also when the suite runs eagerly
    monkeypatch.delenv("PYJITWASM_TIERS", raising=False)
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "1000000")  # no tier-up by chance
    path = tmp_path / "prog.wat"
    path.write_text(PROGRAM)
    return path


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert cli_main(["run", *args]) == 0
    return capsys.readouterr().err


@lazy_only
def test_verbose_prints_each_lazy_batch_and_a_summary(
        program: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _run(capsys, "-v", "--no-cache", str(program))
    batches = [line for line in err.splitlines() if "lazy tier 0:" in line]
    assert len(batches) == 1, err
    line = batches[0]
    # _start (no name-section name of its own but $main) first, then its callees.
    assert "4 functions [5 <main>, 2 <spin>, 4 <pause>, 1 <helper>]" in line
    assert re.search(r"\b3\d instrs\b", line)
    assert re.search(r"front end \d+\.\d{3}s, LLVM \d+\.\d{3}s, link \d+\.\d{3}s", line)
    assert "cache" not in line  # --no-cache: no hit or miss to tell
    summary = SUMMARY.search(err)
    assert summary is not None and summary.groups() == ("4", "5", "1"), err
    last = err.splitlines()[-1]
    assert last.startswith("pyjitwasm: 4 of 5") and "no tier-ups" in last
    assert re.search(r"first wasm instruction at \d+\.\d{3}s", last)
    assert re.search(r"load \d+\.\d{3}s; instantiate \d+\.\d{3}s", last)
    assert not compile_events.listening()  # the CLI took its listener away


@lazy_only
def test_nothing_extra_without_verbose(program: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--no-cache", str(program)) == ""


@lazy_only
def test_verbose_shows_a_tier_up(program: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "0")  # every call asks for tier 1
    # On the background thread, which the program's pause below waits for (a small
    # module gets no compile worker unless forced: not here).
    monkeypatch.setenv("PYJITWASM_COMPILE_WORKER", "0")

    def sleep_until_tiered(seconds: float) -> None:
        # $pause's poll_oneoff: the program's tier-ups finish before it goes on.
        assert background_compiler().wait_idle(120)

    monkeypatch.setattr(poll, "time", types.SimpleNamespace(
        monotonic_ns=time.monotonic_ns, sleep=sleep_until_tiered))
    err = _run(capsys, "-v", "--no-cache", str(program))
    tier_ups = [line for line in err.splitlines() if "tier-up tier 1:" in line]
    # A tier-1 batch takes along the callees that ran by then (again if they are tier 1
    # already, for inlining): one batch or several, every function of the program.
    upped = {name for line in tier_ups for name in re.findall(r"\d+ <(\w+)>", line)}
    assert upped == {"helper", "main", "pause", "spin"}, err
    for line in tier_ups:
        assert re.search(r"requested at \d+\.\d{3}s \(waited \d+\.\d{3}s\)", line)
    assert "tier-up requested" not in err  # only -vv shows requests
    count = len(tier_ups)
    assert re.search(rf"; {count} tier-ups? \(\d+\.\d{{3}}s in the background\)", err), err


@lazy_only
def test_very_verbose_names_every_function_and_each_request(
        program: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "0")
    monkeypatch.setattr(compile_report, "FUNCTIONS_PER_LINE", 2)
    err = _run(capsys, "-vv", "--no-cache", str(program))
    assert "[5 <main>, 2 <spin>, 4 <pause>, 1 <helper>]" in err
    assert "tier-up requested: function 5 <main>" in err
    # With -v the same batch line names two and counts the rest.
    err = _run(capsys, "-v", "--no-cache", str(program))
    assert "[5 <main>, 2 <spin>, +2 more]" in err


@lazy_only
def test_verbose_tells_cache_misses_from_hits(program: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv("PYJITWASM_CACHE", str(cache))
    first = _run(capsys, "-v", str(program))
    assert "lazy tier 0: 4 functions" in first and ", cache miss" in first
    assert "; cache 0 hits, 1 miss;" in first
    second = _run(capsys, "-v", str(program))
    assert ", cache hit" in second and "; cache 1 hit, 0 misses;" in second
    # Loaded, not compiled: no LLVM time (by the first call, or preloaded before it).
    hit = next(line for line in second.splitlines()
               if re.search(r"(lazy|preloaded) tier 0:", line))
    assert "LLVM 0.000s" in hit


def test_verbose_eager_and_precompiled(program: Path, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PYJITWASM_LAZY", "0")
    err = _run(capsys, "-v", "--engine", "jit", "--no-cache", str(program))
    assert re.search(r"eager tier 1: 5 functions \[1 <helper>, 2 <spin>", err), err
    assert SUMMARY.search(err) is not None and "5 of 5 functions" in err
    cwasm = tmp_path / "prog.cwasm"
    assert cli_main(["compile", str(program), "-o", str(cwasm)]) == 0
    capsys.readouterr()
    err = _run(capsys, "-v", "--engine", "jit", str(cwasm))
    assert "precompiled tier 1: 5 functions" in err and "; 1 precompiled;" in err


def test_interpreter_compiles_nothing(program: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = _run(capsys, "-v", "--engine", "interp", str(program))
    assert err.startswith("pyjitwasm: nothing compiled; no tier-ups;"), err


# The seam embedders use -----------------------------------------------------------

class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.events: list[object] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.events.append(getattr(record, "compile_event", None))


@lazy_only
def test_an_embedder_receives_compile_events(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "1000000")
    wat = """(module (func $twice (export "twice") (param i32) (result i32)
                        (call $add (local.get 0) (local.get 0)))
                      (func $add (param i32 i32) (result i32)
                        (i32.add (local.get 0) (local.get 1))))"""
    collect = Collect()
    logger = logging.getLogger(compile_events.LOGGER_NAME)
    previous_level = logger.level
    logger.setLevel(logging.INFO)  # setLevel, not the attribute: it resets the cache
    logger.addHandler(collect)
    try:
        store = Store(Engine(Config(lazy_compilation=True)))
        instance = Instance(store, Module(store.engine, wat), [])
        assert collect.events == []  # lazy: nothing compiled before the first call
        assert instance.exports(store)["twice"](store, 21) == 42
    finally:
        logger.removeHandler(collect)
        logger.setLevel(previous_level)
    assert len(collect.events) == 1
    event = collect.events[0]
    assert isinstance(event, CompileEvent)
    assert event.kind == "lazy" and event.tier == 0 and event.cache is None
    assert event.functions == (CompiledFunction(0, "twice", 4), CompiledFunction(1, "add", 4))
    assert event.defined_functions == 2 and event.instructions == 8
    assert 0 <= event.front_end_seconds + event.llvm_seconds + event.link_seconds
    assert event.front_end_seconds + event.llvm_seconds + event.link_seconds <= event.seconds
    # Tier 0 is x86-64 code made without LLVM (x64/), or LLVM's when that is off.
    assert event.front_end_seconds + event.llvm_seconds > 0


def test_describe_limits_the_names() -> None:
    functions = tuple(CompiledFunction(i, f"f{i}" if i % 2 else None, 10) for i in range(6))
    event = CompileEvent(kind="lazy", tier=0, functions=functions, seconds=0.5,
                         front_end_seconds=0.1, llvm_seconds=0.3, link_seconds=0.05,
                         cache="miss", finished_at=0.0, defined_functions=9)
    assert event.describe(3) == (
        "lazy tier 0: 6 functions [0, 1 <f1>, 2, +3 more], 60 instrs, 0.500s "
        "(front end 0.100s, LLVM 0.300s, link 0.050s), cache miss")
    assert "5 <f5>]" in event.describe(None)
