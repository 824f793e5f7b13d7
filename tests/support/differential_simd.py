"""SIMD-heavy random modules for differential testing, and the check that an engine runs
SIMD at all.

``smith_simd_module(seed)`` asks ``wasm-tools smith`` for a module with the SIMD and
relaxed SIMD proposals enabled. Two of every three seeds allow only vector, control,
variable, parametric and memory instructions (no scalar numeric ones), which roughly
doubles the share of vector instructions; the third allows everything, so vectors mix
with scalar code too.

Smith's ``--canonicalize-nans`` leaves out the operations whose NaN results the spec
leaves free and that this harness must therefore canonicalise itself: the scalar and
vector promote/demote conversions and the relaxed float operations (``relaxed_madd``,
``relaxed_nmadd``, ``relaxed_min``, ``relaxed_max``). After that, every result compares
bit for bit (``values_match(..., "exact")``), v128 values included.

The rewriting works on the text form (``wasm-tools print`` / ``parse``), not on the
binary through pyjitwasm's decoder, so it does not depend on the engine under test
decoding relaxed SIMD.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from support.decoder_wat import wat
from support.differential_engines import EngineKind, Outcome
from support.differential_modules import (
    FUEL,
    FUEL_EXPORT,
    SMITH_ATTEMPTS,
    SMITH_FLAGS,
    _run_wasm_tools,
    available_imports_path,
    seed_bytes,
)


def _simd_flags() -> list[str]:
    flags = list(SMITH_FLAGS)
    for switch in ("--simd-enabled", "--relaxed-simd-enabled"):
        flags[flags.index(switch) + 1] = "true"
    return flags


SIMD_SMITH_FLAGS = _simd_flags()

# Instruction categories of the vector-heavy seeds (smith's names, the spec's grouping).
VECTOR_HEAVY_INSTRUCTIONS = "vector,control,variable,parametric,memory"

# Operations with spec-free NaN results that smith does not canonicalise, by the shape
# of their result: "f32"/"f64" scalars, "f32x4"/"f64x2" vectors.
NAN_FREE_OPERATIONS = {
    "f64.promote_f32": "f64",
    "f32.demote_f64": "f32",
    "f64x2.promote_low_f32x4": "f64x2",
    "f32x4.demote_f64x2_zero": "f32x4",
    **{f"{shape}.relaxed_{op}": shape
       for shape in ("f32x4", "f64x2") for op in ("madd", "nmadd", "min", "max")},
}

# The scratch local each result shape is canonicalised through, and the instructions that
# do it: keep the value where it equals itself (not NaN), else take the canonical NaN.
_SCRATCH_TYPE = {"f32": "f32", "f64": "f64", "f32x4": "v128", "f64x2": "v128"}
_CANONICAL_NAN = {"f32": "f32.const nan", "f64": "f64.const nan",
                  "f32x4": "v128.const f32x4 nan nan nan nan",
                  "f64x2": "v128.const f64x2 nan nan"}
_SELECT = {"f32": "select", "f64": "select", "f32x4": "v128.bitselect",
           "f64x2": "v128.bitselect"}


def is_vector_heavy(seed: int) -> bool:
    """Whether ``seed``'s module is restricted to vector (and structural) instructions."""
    return seed % 3 != 0


@functools.cache
def smith_simd_module(seed: int) -> bytes:
    """The SIMD module for ``seed``: NaN-free operations canonicalised and the fuel global
    exported (see the module docstring). Retries like ``smith_module``."""
    args = ["smith", *SIMD_SMITH_FLAGS, "--available-imports", str(available_imports_path())]
    if is_vector_heavy(seed):
        args += ["--allowed-instructions", VECTOR_HEAVY_INSTRUCTIONS]
    for attempt in range(SMITH_ATTEMPTS):
        proc = _run_wasm_tools(*args, stdin=seed_bytes(seed, attempt))
        if proc.returncode == 0:
            return prepare_simd_module(proc.stdout)
        if proc.returncode != 2:
            break
    raise RuntimeError(f"wasm-tools smith failed for SIMD seed {seed}: {proc.stderr.decode()}")


def prepare_simd_module(wasm: bytes) -> bytes:
    """``wasm`` with NaN-free operations canonicalised and smith's fuel global exported."""
    proc = _run_wasm_tools("print", "-", stdin=wasm)
    if proc.returncode != 0:
        raise RuntimeError(f"wasm-tools print failed: {proc.stderr.decode()}")
    text = export_fuel_global_text(canonicalize_nans_text(proc.stdout.decode()))
    proc = _run_wasm_tools("parse", "-", stdin=text.encode())
    if proc.returncode != 0:
        raise RuntimeError(f"rewritten module does not parse: {proc.stderr.decode()}\n{text}")
    return proc.stdout


_FUNC_HEADER = re.compile(r"^\s*\(func \(;\d+;\)")
_GROUP = re.compile(r"\((param|local) ([^()]*)\)")


def canonicalize_nans_text(wat: str) -> str:
    """Follow every operation of ``NAN_FREE_OPERATIONS`` with a canonicalisation of its
    result (smith's own pattern: ``local.tee $t; <canonical NaN>; local.get $t;
    local.get $t; <shape>.eq; select``), in ``wasm-tools print``'s layout: one
    instruction per line, a function's ``(local ...)`` lines right after its header.
    Each rewritten function gets three new scratch locals (f32, f64, v128) after its
    existing ones, so no other local index moves."""
    lines = wat.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not _FUNC_HEADER.match(line):
            out.append(line)
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not _FUNC_HEADER.match(lines[end]) and not (
                lines[end].startswith("  (") and not lines[end].startswith("  (local")):
            end += 1
        out.extend(_rewrite_function(lines[i:end]))
        i = end
    return "\n".join(out) + "\n"


def _rewrite_function(lines: list[str]) -> list[str]:
    header, body = lines[0], lines[1:]
    if not any(line.strip() in NAN_FREE_OPERATIONS for line in body):
        return lines
    n_params = sum(len(group.split()) for kind, group in _GROUP.findall(header)
                   if kind == "param")
    n_locals = 0
    first_code = 0
    for line in body:
        groups = _GROUP.findall(line.strip())
        if not line.strip().startswith("(local") or not groups:
            break
        n_locals += sum(len(group.split()) for _, group in groups)
        first_code += 1
    base = n_params + n_locals
    scratch = {"f32": base, "f64": base + 1, "v128": base + 2}
    indent = (body[first_code] if first_code < len(body) else "    ")
    indent = indent[: len(indent) - len(indent.lstrip())] or "    "
    out = [header, *body[:first_code], f"{indent}(local f32 f64 v128)"]
    for line in body[first_code:]:
        out.append(line)
        shape = NAN_FREE_OPERATIONS.get(line.strip())
        if shape is None:
            continue
        pad = line[: len(line) - len(line.lstrip())]
        local = scratch[_SCRATCH_TYPE[shape]]
        out += [f"{pad}{ins}" for ins in (
            f"local.tee {local}", _CANONICAL_NAN[shape], f"local.get {local}",
            f"local.get {local}", f"{shape}.eq", _SELECT[shape])]
    return out


_GLOBAL_DEF = re.compile(r"^\s*\(global \(;(\d+);\) (.*)\)$")


def export_fuel_global_text(wat: str) -> str:
    """Export smith's fuel counter (the module's last global: a mutable i32 initialised
    to the fuel amount) as ``__fuel``; see ``export_fuel_global``."""
    lines = wat.rstrip("\n").splitlines()
    defined = [(i, m) for i, line in enumerate(lines) if (m := _GLOBAL_DEF.match(line))]
    if not defined:
        raise AssertionError("smith --ensure-termination module without a fuel global")
    _, last = defined[-1]
    if last.group(2) != f"(mut i32) i32.const {FUEL}":
        raise AssertionError(f"the last global is not smith's fuel counter: {last.group(0)}")
    if f'(export "{FUEL_EXPORT}"' in wat:
        raise AssertionError(f"module already exports {FUEL_EXPORT!r}")
    if lines[-1] != ")":
        raise AssertionError(f"unexpected end of printed module: {lines[-1]!r}")
    return "\n".join([*lines[:-1], f'  (export "{FUEL_EXPORT}" (global {last.group(1)}))',
                      ")"]) + "\n"


# --- does an engine run SIMD? --------------------------------------------------------

# One function over the proposal's main groups (integer and float lanes, a shuffle, a
# lane access, memory, a relaxed operation): an engine that cannot run it is reported
# once, in one line, instead of failing every random module.
SIMD_PROBE_WAT = """
(module
  (memory 1)
  (func (export "probe") (param v128 v128) (result v128 i32)
    (v128.store (i32.const 16) (local.get 0))
    (f32x4.mul (f32x4.convert_i32x4_s (i32x4.add (local.get 0) (local.get 1)))
               (v128.load (i32.const 16)))
    (i8x16.shuffle 0 17 2 19 4 21 6 23 8 25 10 27 12 29 14 31 (local.get 1))
    (i8x16.relaxed_swizzle (local.get 0))
    (i16x8.extract_lane_s 3 (local.get 1))))
"""


def simd_unsupported(kind: EngineKind) -> str | None:
    """Why engine ``kind`` cannot run SIMD here, in one line, or None."""
    session = kind.session()
    steps: list[tuple[str, Callable[[], Outcome]]] = [
        ("compile", lambda: session.compile(wat(SIMD_PROBE_WAT))),
        ("instantiate", lambda: session.instantiate()),
        ("call", lambda: session.call("probe", (("v128", 1 << 100 | 7), ("v128", 3)))),
    ]
    for step, run in steps:
        try:
            outcome = run()
        except Exception as exc:  # noqa: BLE001 - reported as the reason
            return _one_line(kind.name, step, f"{type(exc).__name__}: {exc}")
        if outcome.kind != "ok":
            return _one_line(kind.name, step, str(outcome))
    return None


def _one_line(engine: str, step: str, detail: str) -> str:
    first = detail.strip().splitlines()[0] if detail.strip() else "(no detail)"
    return f"engine {engine!r} does not run SIMD yet ({step} of a SIMD probe module: {first[:160]})"
