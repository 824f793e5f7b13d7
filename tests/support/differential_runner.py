"""Runs one module in two engines in lockstep and reports the first observable difference.

Steps: compile; import and export lists; instantiate; then for each exported function and
each of a few seeded argument tuples: refill the fuel counter, call, and compare the
outcome (results bit for bit, or the trap code), the host calls made, and the state of
every memory, global and table the host can see (exported or imported).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.differential_engines import EngineKind, Outcome, Session
from support.differential_modules import FUEL, FUEL_EXPORT, WORK_DIR, to_wat
from support.differential_values import NeutralVal, argument_tuples, describe, values_match

CALLS_PER_FUNC = 3

# Trap codes that name the same failure in two vocabularies. pyjitwasm says
# UNDEFINED_ELEMENT for call_indirect past the table's end (the spec scripts' "undefined
# element"); wasmtime reports every out-of-range table index as TABLE_OUT_OF_BOUNDS.
_TRAP_SYNONYMS = {"UNDEFINED_ELEMENT": "TABLE_OUT_OF_BOUNDS"}


class Difference(AssertionError):
    """The engines disagreed; the message says where and how."""


@dataclass
class RunStats:
    """What a run exercised (for the test's summary and sanity checks)."""

    compiled: bool = False
    instantiated: bool = False
    calls: int = 0
    ok_calls: int = 0
    traps: dict[str, int] = field(default_factory=dict)
    host_calls: int = 0


def _trap_code(outcome: Outcome, normalise: bool) -> str | None:
    if normalise and outcome.code is not None:
        return _TRAP_SYNONYMS.get(outcome.code, outcome.code)
    return outcome.code


def outcomes_match(a: Outcome, b: Outcome, normalise_traps: bool, nan_rule: str) -> bool:
    """Same kind, same trap code, and results that match value by value."""
    if a.kind != b.kind:
        return False
    if a.kind == "trap":
        return _trap_code(a, normalise_traps) == _trap_code(b, normalise_traps)
    if len(a.values) != len(b.values):
        return False
    return all(values_match(x, y, nan_rule) for x, y in zip(a.values, b.values, strict=True))


def describe_state_difference(a: list[tuple[str, Any]], b: list[tuple[str, Any]]) -> str:
    """Where two state snapshots differ, readably (first differing bytes of a memory)."""
    if [n for n, _ in a] != [n for n, _ in b]:
        return f"different externs: {[n for n, _ in a]} vs {[n for n, _ in b]}"
    lines = []
    for (name, sa), (_, sb) in zip(a, b, strict=True):
        if sa == sb:
            continue
        if sa[0] == "memory":
            if sa[1] != sb[1]:
                lines.append(f"memory {name!r}: {sa[1]} pages vs {sb[1]} pages")
                continue
            da, db = sa[2], sb[2]
            first = next(i for i in range(len(da)) if da[i] != db[i])
            last = max(i for i in range(len(da)) if da[i] != db[i])
            lo = first - first % 16
            lines.append(
                f"memory {name!r}: bytes differ in [{first:#x}, {last:#x}]; at {lo:#x}:\n"
                f"    {bytes(da[lo:lo + 16]).hex(' ')}\n    {bytes(db[lo:lo + 16]).hex(' ')}"
            )
        elif sa[0] == "global":
            lines.append(f"global {name!r}: {describe(sa[1])} vs {describe(sb[1])}")
        else:
            diffs = [i for i, (x, y) in enumerate(zip(sa[1], sb[1], strict=False)) if x != y]
            lines.append(f"table {name!r}: sizes {len(sa[1])} vs {len(sb[1])}; entries differ "
                         f"at {diffs[:8]}: {[sa[1][i] for i in diffs[:8]]} vs "
                         f"{[sb[1][i] for i in diffs[:8]]}")
    return "\n  ".join(lines)


Call = tuple[str, tuple[NeutralVal, ...]]


def call_plan(seed: int, exports: list[tuple[str, Any]]) -> list[Call]:
    """The calls to make: every exported function with ``CALLS_PER_FUNC`` argument tuples
    drawn from a generator seeded by the module seed and the function's name."""
    funcs = [(name, desc) for name, desc in exports if desc[0] == "func"]
    names = [name for name, _ in funcs]
    plan = []
    for name, desc in funcs:
        rng = random.Random(f"{seed}/{name}")
        for args in argument_tuples(rng, desc[1], names, CALLS_PER_FUNC):
            plan.append((name, args))
    return plan


def _args_text(args: tuple[NeutralVal, ...]) -> str:
    return "(" + ", ".join(describe(a) for a in args) + ")"


def run_pair(
    wasm: bytes, seed: int, kind_a: EngineKind, kind_b: EngineKind, nan_rule: str = "exact"
) -> RunStats:
    """Run ``wasm`` in both engines step by step; raise Difference at the first mismatch."""
    a: Session = kind_a.session()
    b: Session = kind_b.session()
    names = f"{kind_a.name} vs {kind_b.name}"
    normalise = a.trap_vocabulary != b.trap_vocabulary
    stats = RunStats()

    def differ(step: str, what: str) -> Difference:
        return Difference(f"seed {seed}: {names} differ at {step}:\n  {what}")

    ca, cb = a.compile(wasm), b.compile(wasm)
    if ca.kind != cb.kind:
        raise differ("compile", f"{kind_a.name}: {ca}\n  {kind_b.name}: {cb}")
    if ca.kind != "ok":
        return stats
    stats.compiled = True
    if a.imports() != b.imports() or a.exports() != b.exports():
        raise differ("module imports/exports",
                     f"{a.imports()} {a.exports()}\n  vs {b.imports()} {b.exports()}")

    ia, ib = a.instantiate(), b.instantiate()
    if not outcomes_match(ia, ib, normalise, nan_rule):
        raise differ("instantiate", f"{kind_a.name}: {ia}\n  {kind_b.name}: {ib}")
    if ia.kind != "ok":
        return stats
    stats.instantiated = True
    check_state(a, b, differ, "after instantiation")
    if a.host.log != b.host.log:
        raise differ("instantiation host calls", f"{a.host.log}\n  vs {b.host.log}")

    exports = a.exports()
    has_fuel = any(name == FUEL_EXPORT for name, _ in exports)
    for step, (name, args) in enumerate(call_plan(seed, exports)):
        if has_fuel:
            a.set_global(FUEL_EXPORT, ("i32", FUEL))
            b.set_global(FUEL_EXPORT, ("i32", FUEL))
        logged = len(a.host.log), len(b.host.log)
        oa, ob = a.call(name, args), b.call(name, args)
        where = f"call #{step} {name!r}{_args_text(args)}"
        stats.calls += 1
        if oa.kind == "ok":
            stats.ok_calls += 1
        elif oa.kind == "trap":
            stats.traps[str(oa.code)] = stats.traps.get(str(oa.code), 0) + 1
        if not outcomes_match(oa, ob, normalise, nan_rule):
            raise differ(where, f"{kind_a.name}: {oa}\n  {kind_b.name}: {ob}")
        new_a, new_b = a.host.log[logged[0]:], b.host.log[logged[1]:]
        stats.host_calls += len(new_a)
        if new_a != new_b:
            raise differ(where + " (host calls)", f"{new_a}\n  vs {new_b}")
        check_state(a, b, differ, f"state after {where}")
    return stats


def check_state(a: Session, b: Session, differ: Any, where: str) -> None:
    sa, sb = a.state(), b.state()
    if len(sa) != len(sb) or any(
        not _state_match(x, y) for x, y in zip(sa, sb, strict=True)
    ):
        raise differ(where, describe_state_difference(sa, sb))


def _state_match(x: tuple[str, Any], y: tuple[str, Any]) -> bool:
    # Globals hold values: exact here too (canonicalised modules leave no NaN freedom).
    return x == y


def save_failure(seed: int, wasm: bytes, pair: str, message: str) -> Path:
    """Write the failing module (binary and text) and the report; return the .wasm path."""
    out = WORK_DIR / "failures"
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"seed{seed:05d}-{pair}"
    wasm_path = stem.with_suffix(".wasm")
    wasm_path.write_bytes(wasm)
    stem.with_suffix(".wat").write_text(to_wat(wasm))
    stem.with_suffix(".txt").write_text(message + "\n")
    return wasm_path
