"""Differential testing: the same modules under two engines must be indistinguishable.

Each pair in ENGINE_PAIRS runs a few hundred random modules (``wasm-tools smith`` with
fixed seeds) plus hand-written edge-case modules, comparing call results bit for bit, trap
codes, host calls, and the contents of every memory, global and table the host can see.

``PYJITWASM_DIFF_MODULES`` sets how many random modules run per pair (default 300) and
``PYJITWASM_DIFF_FIRST_SEED`` the first seed (default 0).

SIMD mode: ``PYJITWASM_DIFF_SIMD=N`` SIMD-heavy modules per pair run as well (default
100; ``support.differential_simd``: smith with SIMD and relaxed SIMD, wasmtime in
``relaxed_simd_deterministic`` mode, every NaN-free operation canonicalised so results,
v128 included, compare bit for bit). A pair whose engine cannot run a SIMD probe module
fails with that one-line reason (a pair whose engine is missing altogether is skipped, as
in the scalar mode); ``PYJITWASM_DIFF_SIMD=0`` turns the mode off (one
skipped test per pair says so).

A failure prints the seed and
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
    to_wat,
)
from support.differential_runner import Difference, RunStats, run_pair, save_failure
from support.differential_simd import (
    NAN_FREE_OPERATIONS,
    is_vector_heavy,
    prepare_simd_module,
    simd_unsupported,
    smith_simd_module,
)
from support.differential_values import (
    V128_MASK,
    describe,
    is_arithmetic_nan,
    v128_match,
    values_match,
)

# (reference, engine under test). Adding an engine: one entry in ENGINES and one here.
ENGINE_PAIRS = [("interp", "wasmtime"), ("interp", "jit"), ("interp", "jit-dynamic")]

MODULE_COUNT = int(os.environ.get("PYJITWASM_DIFF_MODULES", "300"))
FIRST_SEED = int(os.environ.get("PYJITWASM_DIFF_FIRST_SEED", "0"))
SEEDS = range(FIRST_SEED, FIRST_SEED + MODULE_COUNT)
SIMD_MODULE_COUNT = int(os.environ.get("PYJITWASM_DIFF_SIMD", "100"))
SIMD_SEEDS: list[int | None] = list(range(FIRST_SEED, FIRST_SEED + SIMD_MODULE_COUNT)) or [None]

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


@functools.cache
def simd_unsupported_by(pair: tuple[str, str]) -> str | None:
    """Why an engine of the pair fails to run a SIMD probe module (one line), or None."""
    for name in pair:
        reason = simd_unsupported(ENGINES[name])
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
@pytest.mark.parametrize("seed", SIMD_SEEDS, ids=lambda s: "off" if s is None else f"seed{s}")
def test_random_simd_module(pair: tuple[str, str], seed: int | None) -> None:
    if seed is None:
        pytest.skip("SIMD differential testing is off: PYJITWASM_DIFF_SIMD=0")
    reason = pair_unavailable(pair)
    if reason is not None:
        pytest.skip(reason)
    reason = simd_unsupported_by(pair)
    if reason is not None:
        pytest.fail(reason)
    _run_or_fail(smith_simd_module(seed), seed, pair, f"smith-simd-seed{seed}")


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
    instantiated = 0
    interp = ENGINES["interp"]
    for seed in range(40):
        wasm = smith_module(seed)
        stats = run_pair(wasm, seed, interp, interp)
        instantiated += stats.instantiated
        total.calls += stats.calls
        total.ok_calls += stats.ok_calls
        total.host_calls += stats.host_calls
        for code, n in stats.traps.items():
            total.traps[code] = total.traps.get(code, 0) + n
    assert instantiated >= 25
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


# --- the SIMD mode's harness ------------------------------------------------------------


def _instruction_lines(wasm: bytes) -> list[str]:
    """The instruction lines of ``wasm``'s function bodies, one instruction each."""
    lines = to_wat(wasm).splitlines()
    return [line.strip() for line in lines
            if line.startswith("    ") and not line.strip().startswith(("(", ")"))]


_VECTOR_PREFIXES = ("v128.", "i8x16.", "i16x8.", "i32x4.", "i64x2.", "f32x4.", "f64x2.")


def test_simd_modules_are_vector_heavy() -> None:
    """SIMD seeds give valid modules full of vector instructions (relaxed ones included
    over a few seeds), with every NaN-free operation canonicalised and the fuel global
    exported. (Exported functions with v128 in their signature are rare, about 1 in 100:
    smith draws function types before instructions; v128 values mostly come from
    constants, memory and globals.)"""
    heavy_share, relaxed, exports = [], 0, []
    for seed in range(9):
        wasm = smith_simd_module(seed)
        ops = _instruction_lines(wasm)
        vector = [op for op in ops if op.startswith(_VECTOR_PREFIXES)]
        if is_vector_heavy(seed):
            heavy_share.append(len(vector) / len(ops))
        relaxed += sum(".relaxed_" in op for op in vector)
        for i, op in enumerate(ops):
            if op in NAN_FREE_OPERATIONS:
                assert ops[i + 1].startswith("local.tee"), (seed, ops[i:i + 7])
                assert ops[i + 5] in (f"{NAN_FREE_OPERATIONS[op]}.eq",), (seed, ops[i:i + 7])
        session = ENGINES["wasmtime"].session()
        assert session.compile(wasm).kind == "ok"
        exports += session.exports()
    assert sum(heavy_share) / len(heavy_share) >= 0.2, heavy_share
    assert relaxed >= 3
    assert any(desc == ("global", "v128", True) for _, desc in exports)
    assert (FUEL_EXPORT, ("global", "i32", True)) in exports


def test_simd_modules_exercise_wasmtime() -> None:
    """The SIMD modules do real work on the peer engine (run against itself, which also
    checks that relaxed SIMD in deterministic mode is deterministic and that v128 values
    cross the harness's wasmtime adapter)."""
    total = RunStats()
    instantiated = 0
    wasmtime = ENGINES["wasmtime"]
    for seed in range(12):
        stats = run_pair(smith_simd_module(seed), seed, wasmtime, wasmtime)
        instantiated += stats.instantiated
        total.calls += stats.calls
        total.ok_calls += stats.ok_calls
    assert instantiated >= 9
    assert total.calls >= 150 and total.ok_calls >= total.calls // 3


def test_simd_nan_free_operations_are_canonicalised() -> None:
    """Vector promote/demote and relaxed float operations give the canonical NaN after
    the rewrite, whatever NaN the engine computes (checked on wasmtime)."""
    wasm = prepare_simd_module(wat("""
        (module
          (func (export "demote") (param v128) (result v128)
            (f32x4.demote_f64x2_zero (local.get 0)))
          (func (export "promote") (param v128) (result v128) (local i32)
            (f64x2.promote_low_f32x4 (local.get 0)))
          (func (export "min") (param v128 v128) (result v128)
            (f32x4.relaxed_min (local.get 0) (local.get 1)))
          (func (export "scalar") (param f32) (result f64) (f64.promote_f32 (local.get 0)))
          (global (mut i32) (i32.const 200)))
    """))
    session = ENGINES["wasmtime"].session()
    assert session.compile(wasm).kind == "ok"
    assert session.instantiate().kind == "ok"
    snan64 = 0x7FF4000000000001
    assert session.call("demote", (("v128", snan64 << 64 | 0x3FF8000000000000),)) == Outcome(
        "ok", (("v128", 0x7FC00000_3FC00000),))
    assert session.call("promote", (("v128", 0x3FC00000_FFA00001),)) == Outcome(
        "ok", (("v128", 0x3FF8000000000000_7FF8000000000000),))
    assert session.call("min", (("v128", 0x7FC12345), ("v128", 0x3F800000))) == Outcome(
        "ok", (("v128", 0x7FC00000),))
    assert session.call("scalar", (("f32", 0xFFA00001),)) == Outcome(
        "ok", (("f64", 0x7FF8000000000000),))
    assert (FUEL_EXPORT, ("global", "i32", True)) in session.exports()


def test_v128_nan_rules() -> None:
    f32_nan, f32_other_nan, f32_snan = 0x7FC00000, 0xFFC00123, 0x7F800001
    f64_nan, f64_other_nan = 0x7FF8000000000000, 0xFFF8000000000ABC
    one = 0x3F800000
    lanes32 = lambda *xs: sum(x << (32 * i) for i, x in enumerate(xs))  # noqa: E731
    lanes64 = lambda *xs: sum(x << (64 * i) for i, x in enumerate(xs))  # noqa: E731
    a = ("v128", lanes32(one, f32_nan, 2, 3))
    b = ("v128", lanes32(one, f32_other_nan, 2, 3))
    # Exact (canonicalised modules): bit for bit.
    assert values_match(a, a)
    assert not values_match(a, b)
    # Arithmetic: lanes that are quiet NaNs on both sides may differ...
    assert values_match(a, b, "arithmetic")
    assert values_match(("v128", lanes64(f64_nan, 7)), ("v128", lanes64(f64_other_nan, 7)),
                        "arithmetic")
    # ...in one lane shape across the whole vector; never a non-NaN lane, a NaN against a
    # number, or a signalling NaN (not an arithmetic result).
    assert not values_match(a, ("v128", lanes32(one, f32_other_nan, 2, 4)), "arithmetic")
    assert not values_match(a, ("v128", lanes32(one, one, 2, 3)), "arithmetic")
    assert not values_match(a, ("v128", lanes32(one, f32_snan, 2, 3)), "arithmetic")
    assert not v128_match(lanes64(f64_nan, 0), lanes64(f64_nan, 1))
    # f64 NaNs whose low halves differ are not f32 NaNs there, yet match as f64x2.
    assert v128_match(lanes64(0x7FF8000000000001, 0), lanes64(0x7FF8000000000002, 0))
    # Mixed shapes do not combine: an f32 NaN difference in lane 0 and an f64 NaN
    # difference in the upper half.
    mixed_a = lanes32(f32_nan, 0, 0, 0) | lanes64(0, f64_nan)
    mixed_b = lanes32(f32_other_nan, 0, 0, 0) | lanes64(0, f64_other_nan)
    assert not v128_match(mixed_a, mixed_b)
    assert not values_match(("v128", 1), ("i32", 1), "arithmetic")
    assert describe(("v128", V128_MASK)).startswith("v128:i32x4 ffffffff ffffffff")


@pytest.mark.parametrize("engine", ["interp", "wasmtime"])
def test_v128_bits_cross_the_api_exactly(engine: str) -> None:
    """A v128 argument (NaN lane patterns included) and a v128 global come back bit for
    bit; a pass-through needs no SIMD instruction, so this runs on every engine."""
    reason = ENGINES[engine].unavailable()
    if reason is not None:
        pytest.skip(reason)
    session = ENGINES[engine].session()
    session.compile(wat("""(module
        (global (export "g") (mut v128) (v128.const i32x4 0x7fa00001 2 0xffc00000 4))
        (func (export "id") (param v128 f32) (result f32 v128) (local.get 1) (local.get 0)))
    """))
    session.instantiate()
    value = 0xFFF0000000000001_7FA00001FFFFFFFF
    assert session.call("id", (("v128", value), ("f32", 1))) == Outcome(
        "ok", (("f32", 1), ("v128", value)))
    assert session.state() == [("g", ("global", ("v128", 4 << 96 | 0xFFC00000 << 64
                                                   | 2 << 32 | 0x7FA00001)))]


class _FlippedV128Session:
    """wasmtime with one deliberate v128 bug: bit 100 of every v128 result flipped."""

    def __init__(self) -> None:
        self.inner = ENGINES["wasmtime"].session()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def call(self, name: str, args: tuple[Any, ...]) -> Outcome:
        out = self.inner.call(name, args)
        values = tuple((ty, bits ^ (1 << 100)) if ty == "v128" else (ty, bits)
                       for ty, bits in out.values)
        return Outcome(out.kind, values, out.code, out.detail)


class _FlippedV128Kind:
    name = "wasmtime-with-v128-bug"

    def unavailable(self) -> str | None:
        return None

    def session(self) -> Any:
        return _FlippedV128Session()


def test_harness_reports_v128_differences() -> None:
    wasm = wat("""(module (func (export "add") (param v128 v128) (result v128)
                   (i32x4.add (local.get 0) (local.get 1))))""")
    with pytest.raises(Difference) as info:
        run_pair(wasm, 3, ENGINES["wasmtime"], _FlippedV128Kind())
    assert "wasmtime-with-v128-bug: ok(v128:i32x4 00000000 00000000 00000000 00000010" in str(
        info.value)


class _NoSimdKind:
    name = "no-simd"

    def unavailable(self) -> str | None:
        return None

    def session(self) -> Any:
        class Session:
            def compile(self, wasm: bytes) -> Outcome:
                return Outcome("compile-error", detail="UnsupportedFeatureError: v128.const\n"
                               "  requires the SIMD proposal")

        return Session()


def test_simd_probe_gives_one_line_reasons() -> None:
    assert simd_unsupported(ENGINES["wasmtime"]) is None
    reason = simd_unsupported(_NoSimdKind())
    assert reason is not None and "\n" not in reason
    assert reason.startswith("engine 'no-simd' does not run SIMD yet (compile")
    assert "UnsupportedFeatureError: v128.const" in reason
