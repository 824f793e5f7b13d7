"""Differential testing: the same modules under two engines must be indistinguishable.

Each pair in ENGINE_PAIRS runs a few hundred random modules (``wasm-tools smith`` with
fixed seeds) plus hand-written edge-case modules, comparing call results bit for bit, trap
codes, host calls, and the contents of every memory, global and table the host can see.

``PYJITWASM_DIFF_MODULES`` sets how many random modules run per pair (default 300) and
``PYJITWASM_DIFF_FIRST_SEED`` the first seed (default 0). A failure prints the seed and
saves the module to ``build/differential/failures/`` (binary, text and the report);
rerun one by its node id, e.g.
``pytest "tests/test_differential.py::test_random_module[seed42-interp-vs-wasmtime]"``.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import pytest

from support.decoder_wat import needs_wasm_tools, wat
from support.differential_edge_modules import EDGE_MODULES
from support.differential_engines import ENGINES, EngineKind, Outcome, PyjitwasmSession
from support.differential_modules import (
    FUEL,
    FUEL_EXPORT,
    canonicalize_conversion_nans,
    smith_module,
)
from support.differential_runner import Difference, RunStats, run_pair, save_failure
from support.differential_values import is_arithmetic_nan, values_match

# (reference, engine under test). Adding an engine: one entry in ENGINES and one here.
ENGINE_PAIRS = [("interp", "wasmtime"), ("interp", "jit"), ("interp", "jit-dynamic")]

MODULE_COUNT = int(os.environ.get("PYJITWASM_DIFF_MODULES", "300"))
FIRST_SEED = int(os.environ.get("PYJITWASM_DIFF_FIRST_SEED", "0"))
SEEDS = range(FIRST_SEED, FIRST_SEED + MODULE_COUNT)

pytestmark = needs_wasm_tools


@functools.cache
def pair_unavailable(pair: tuple[str, str]) -> str | None:
    """Why the pair cannot run here, or None. The JIT pair is skipped exactly while
    ``Engine(Config(strategy="jit"))`` raises."""
    for name in pair:
        reason = ENGINES[name].unavailable()
        if reason is not None:
            return reason
    return None


def _pair_id(pair: tuple[str, str]) -> str:
    return f"{pair[0]}-vs-{pair[1]}"


def _run_or_fail(wasm: bytes, seed: int, pair: tuple[str, str], label: str) -> RunStats:
    reason = pair_unavailable(pair)
    if reason is not None:
        pytest.skip(reason)
    try:
        return run_pair(wasm, seed, ENGINES[pair[0]], ENGINES[pair[1]])
    except Difference as diff:
        report = str(diff)
    # Outside the except block, so the report is not followed by a chained traceback.
    path = save_failure(seed, wasm, f"{_pair_id(pair)}-{label}", report)
    node = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
    pytest.fail(f"{report}\n  module: {label}; saved to {path} (and .wat, .txt)\n"
                f"  rerun: pytest '{node}'", pytrace=False)


@pytest.mark.parametrize("pair", ENGINE_PAIRS, ids=_pair_id)
@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"seed{s}")
def test_random_module(pair: tuple[str, str], seed: int) -> None:
    wasm = smith_module(seed)
    _run_or_fail(wasm, seed, pair, f"smith-seed{seed}")


@pytest.mark.parametrize("pair", ENGINE_PAIRS, ids=_pair_id)
@pytest.mark.parametrize("name", sorted(EDGE_MODULES))
def test_edge_module(pair: tuple[str, str], name: str) -> None:
    stats = _run_or_fail(wat(EDGE_MODULES[name]), 0, pair, f"edge-{name}")
    # Hand-written modules are valid and instantiate; every export runs.
    assert stats.instantiated and stats.calls >= 3


# --- the harness itself ----------------------------------------------------------------


def test_random_modules_exercise_the_engine() -> None:
    """The generated modules must do real work, not just trap on empty fuel: most
    instantiate, most calls return, several trap kinds and host calls occur. Run on the
    interpreter against itself, which also checks that it is deterministic."""
    total = RunStats()
    interp = ENGINES["interp"]
    for seed in range(40):
        wasm = smith_module(seed)
        stats = run_pair(wasm, seed, interp, interp)
        total.instantiated += stats.instantiated
        total.calls += stats.calls
        total.ok_calls += stats.ok_calls
        total.host_calls += stats.host_calls
        for code, n in stats.traps.items():
            total.traps[code] = total.traps.get(code, 0) + n
    assert total.instantiated >= 25
    assert total.calls >= 500 and total.ok_calls >= total.calls // 2
    assert total.host_calls >= 100
    assert {"MEMORY_OUT_OF_BOUNDS", "UNREACHABLE", "INTEGER_OVERFLOW"} <= set(total.traps)


def test_fuel_counter_is_exported() -> None:
    wasm = smith_module(0)
    session = ENGINES["interp"].session()
    assert session.compile(wasm).kind == "ok"
    assert (FUEL_EXPORT, ("global", "i32", True)) in session.exports()
    assert session.instantiate().kind == "ok"
    assert dict(session.state())[FUEL_EXPORT] == ("global", ("i32", FUEL))


def test_conversion_nans_are_canonicalised() -> None:
    wasm = canonicalize_conversion_nans(wat("""
        (module
          (func (export "promote") (param f32) (result f64) (f64.promote_f32 (local.get 0)))
          (func (export "demote") (param f64) (result f32) (f32.demote_f64 (local.get 0))))
    """))
    session = ENGINES["interp"].session()
    assert session.compile(wasm).kind == "ok"
    session.instantiate()
    assert session.call("promote", (("f32", 0xFFFFFFFB),)) == Outcome(
        "ok", (("f64", 0x7FF8000000000000),))
    assert session.call("promote", (("f32", 0x3FC00000),)) == Outcome(
        "ok", (("f64", 0x3FF8000000000000),))
    assert session.call("demote", (("f64", 0x7FF4000000000001),)) == Outcome(
        "ok", (("f32", 0x7FC00000),))
    assert session.call("demote", (("f64", 0xC004000000000000),)) == Outcome(
        "ok", (("f32", 0xC0200000),))


@pytest.mark.parametrize("engine", ["interp", "wasmtime"])
def test_float_bits_cross_the_api_exactly(engine: str) -> None:
    """A signalling NaN argument comes back unchanged (wasmtime-py's own call path would
    quiet it by converting through a C float)."""
    reason = ENGINES[engine].unavailable()
    if reason is not None:
        pytest.skip(reason)
    session = ENGINES[engine].session()
    session.compile(wat("""(module (func (export "id") (param f32 f64) (result f64 f32)
                             (local.get 1) (local.get 0)))"""))
    session.instantiate()
    out = session.call("id", (("f32", 0x7FA00001), ("f64", 0xFFF0000000000001)))
    assert out == Outcome("ok", (("f64", 0xFFF0000000000001), ("f32", 0x7FA00001)))


def test_nan_rules() -> None:
    canonical, arithmetic = ("f32", 0x7FC00000), ("f32", 0xFFC00123)
    signalling = ("f32", 0x7F800001)
    assert values_match(canonical, canonical)
    assert not values_match(canonical, arithmetic)  # exact: canonicalised modules
    assert values_match(canonical, arithmetic, "arithmetic")
    assert not values_match(canonical, signalling, "arithmetic")
    assert not values_match(("f32", 0x3F800000), canonical, "arithmetic")
    assert not values_match(("i32", 0x7FC00000), ("i32", 0x7FC00001), "arithmetic")
    assert is_arithmetic_nan(0x7FF8000000000000, "f64")
    assert not is_arithmetic_nan(0x7FF0000000000000, "f64")  # infinity


class _MutantSession(PyjitwasmSession):
    """The interpreter with one deliberate bug, to prove the harness notices."""

    def __init__(self, mutation: str) -> None:
        super().__init__({"strategy": "interp"})
        self.mutation = mutation

    def call(self, name: str, args: tuple[Any, ...]) -> Outcome:
        out = super().call(name, args)
        if self.mutation == "result" and out.kind == "ok" and out.values:
            ty, bits = out.values[0]
            return Outcome("ok", ((ty, bits ^ 1), *out.values[1:]))
        if self.mutation == "trap" and out.kind == "trap":
            return Outcome("trap", code="UNREACHABLE")
        if self.mutation == "memory":
            memory = self.instance_exports["mem"]
            memory.write(self.store, bytes([memory.read(self.store, 100, 101)[0] ^ 0x40]), 100)
        if self.mutation == "global":
            self.instance_exports["g"].set_value(self.store, 5)
        return out


class _MutantKind:
    def __init__(self, mutation: str) -> None:
        self.name = f"interp-with-{mutation}-bug"
        self.mutation = mutation

    def unavailable(self) -> str | None:
        return None

    def session(self) -> _MutantSession:
        return _MutantSession(self.mutation)


@pytest.mark.parametrize(("mutation", "expected"), [
    ("result", "interp-with-result-bug: ok(i32:"),
    ("trap", "trap INTEGER_DIVISION_BY_ZERO"),
    ("memory", "memory 'mem': bytes differ in [0x64, 0x64]"),
    ("global", "global 'g': i32:0"),
])
def test_harness_reports_differences(mutation: str, expected: str) -> None:
    wasm = wat("""
        (module
          (memory (export "mem") 1)
          (global (export "g") (mut i32) (i32.const 0))
          (func (export "div") (param i32 i32) (result i32)
            (i32.div_u (local.get 0) (local.get 1))))
    """)
    mutant: EngineKind = _MutantKind(mutation)
    with pytest.raises(Difference) as info:
        run_pair(wasm, 7, ENGINES["interp"], mutant)
    assert expected in str(info.value)
    assert "seed 7" in str(info.value)


def test_arguments_are_deterministic() -> None:
    from support.differential_runner import call_plan

    exports = [("f", ("func", ("i32", "f64", "funcref"), ())), ("g", ("func", (), ("i32",)))]
    plan = call_plan(3, exports)
    assert plan == call_plan(3, exports)
    assert plan != call_plan(4, exports)
    assert [name for name, _ in plan] == ["f", "f", "f", "g", "g", "g"]
    assert plan[0][1] == (("i32", 0), ("f64", 0), ("funcref", None))
    drawn = [args for seed in range(30) for name, args in call_plan(seed, exports) if name == "f"]
    f64_bits = {args[1][1] for args in drawn}
    assert any(bits >> 52 & 0x7FF == 0x7FF and bits & ((1 << 52) - 1) for bits in f64_bits)
    assert {0x80000000, 0xFFFFFFFF} <= {args[0][1] for args in drawn}
    assert any(args[2][1] == ("export", "g") for args in drawn)
