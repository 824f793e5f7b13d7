"""Entry and host shims written as x86-64 machine code (``x64/shims.py``) against the
LLVM shims of ``jit/abi.py``, which they replace for scalar signatures
(``runtime/jit/shims.py``; ``PYJITWASM_X64_SHIMS=0`` keeps LLVM's).

At the machine level every pairing of an entry shim and a host shim (x64 or LLVM each)
runs one signature: ``pyjitwasm_invoke`` enters the entry shim, whose callee is the host
shim, whose ``pyjitwasm_host_call`` is a recorder written here in machine code (it copies
the values array the host shim built, the registers it was given and its stack, and
writes a prepared result).  The two kinds must agree with each other and with the input
bits: NaN payloads (signalling ones too), -0.0, and 32-bit values whose slots carry
garbage above them.  Through the public API, a wasm export that passes its parameters
to a host import and returns the host's result runs with both shim kinds, under both
the x64 tier 0 and LLVM's code, and traps and host exceptions keep their backtraces.
"""

from __future__ import annotations

import ctypes
import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

import pyjitwasm as w
from pyjitwasm.ir.types import F32, F64, I32, I64, R64, V128, Type
from pyjitwasm.jit.compiler import code_loader, link_objects
from pyjitwasm.jit.loaded import LoadedCode
from pyjitwasm.runtime.jit import shims
from pyjitwasm.runtime.native import lazy_stubs_supported, lib, runtime_symbols
from pyjitwasm.x64 import shims as x64_shims
from pyjitwasm.x64.asm import RAX, RBP, RCX, RDI, RDX, RSI, RSP, mem, movabs
from pyjitwasm.x64.elf import ObjectFunction, write_object
from pyjitwasm.x64.tier0 import supported_host

pytestmark = pytest.mark.skipif(not (lazy_stubs_supported() and supported_host()),
                                reason="machine-code shims are for x86-64 Linux")

# Signatures (IR types): registers only, then more than fit (6 general registers with
# the two vmctx ones, 8 xmm ones), interleaved so stacked ones alternate kinds.
SIGNATURES: list[tuple[tuple[Type, ...], tuple[Type, ...]]] = [
    ((), ()),
    ((I32,), (I32,)),
    ((I64,), (I64,)),
    ((F32,), (F32,)),
    ((F64,), (F64,)),
    ((I32, I64, F32, F64), (F64,)),
    ((I32, I64) * 4, (I32,)),
    ((F32, F64) * 5, (F32,)),
    ((I32, F32, I64, F64, I32, F32, I64) * 3, (I64,)),
    ((R64, I32), (R64,)),
    ((F64,) * 9 + (I32,) * 5 + (F32,), ()),
    ((I64,) * 3, (F32,)),
    # slots and stack arguments past a signed byte's displacement
    ((F32, I32, F64, I64, F32, I64, I32, F64, F64, I64) * 6, (F64,)),
]

# Bit patterns each type cycles through.
PATTERNS = {
    I32: [0xFFFFFFFF, 0x80000000, 0x7FFFFFFF, 0x00000001, 0x12345678],
    I64: [0xFFFFFFFFFFFFFFFF, 0x8000000000000000, 0x7FFFFFFFFFFFFFFF, 0x0123456789ABCDEF],
    # -0.0, a signalling NaN with payload, a negative quiet NaN with payload, inf, 1.5
    F32: [0x80000000, 0x7FA00001, 0xFFC12345, 0x7F800000, 0x3FC00000],
    F64: [0x8000000000000000, 0x7FF0000000000001, 0xFFF8123456789ABC, 0x3FF8000000000000],
    R64: [0xDEADBEEFCAFEF00D, 0],
}
GARBAGE = 0xA5A5A5A5A5A5A5A5  # above a value in its slot
HOST_INDEX = 0x0ABCD123
MAX_SLOTS = 64


def _width(ty: Type) -> int:
    return 4 if ty in (I32, F32) else 8


def _slot(ty: Type, bits: int) -> bytes:
    """A 16-byte slot holding ``bits`` of type ``ty``, garbage above."""
    width = _width(ty)
    low = bits.to_bytes(width, "little")
    return low + GARBAGE.to_bytes(8, "little")[:8 - width] + GARBAGE.to_bytes(8, "little")


class Recorder:
    """A machine-code ``pyjitwasm_host_call`` that records what it is called with."""

    CALLER, INDEX, RSP_AT, RET, FRAME_RET, RESULT, VALUES = 0, 8, 16, 24, 32, 48, 64

    def __init__(self) -> None:
        self.buffer = ctypes.create_string_buffer(self.VALUES + 16 * MAX_SLOTS)
        base = ctypes.addressof(self.buffer)
        c = bytearray(movabs(RAX, base))
        c += mem(b"\x89", RDI, RAX, self.CALLER, 1)
        c += mem(b"\x89", RSI, RAX, self.INDEX, 1)
        c += mem(b"\x89", RSP, RAX, self.RSP_AT, 1)
        c += mem(b"\x8b", RCX, RSP, 0, 1) + mem(b"\x89", RCX, RAX, self.RET, 1)
        # The host shim's frame: [rbp + 8] is its return address (into its caller).
        c += mem(b"\x8b", RCX, RBP, 8, 1) + mem(b"\x89", RCX, RAX, self.FRAME_RET, 1)
        for k in range(2 * MAX_SLOTS):
            c += mem(b"\x8b", RCX, RDX, 8 * k, 1) + mem(b"\x89", RCX, RAX, self.VALUES + 8 * k, 1)
        c += mem(b"\x8b", RCX, RAX, self.RESULT, 1) + mem(b"\x89", RCX, RDX, 0, 1)
        c += mem(b"\x8b", RCX, RAX, self.RESULT + 8, 1) + mem(b"\x89", RCX, RDX, 8, 1)
        c += b"\xc3"
        obj = write_object(bytes(c), [ObjectFunction("recorder", 0, len(c), True)], [])
        self.code = link_objects([obj], 1, {})[0]
        self.address = self.code.address("recorder")

    def word(self, at: int) -> int:
        return int.from_bytes(self.buffer.raw[at:at + 8], "little")

    def values(self) -> bytes:
        return self.buffer.raw[self.VALUES:]

    def set_result(self, slot: bytes) -> None:
        ctypes.memmove(ctypes.addressof(self.buffer) + self.RESULT, slot, 16)


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


def _llvm_object(kind: str, params: Sequence[Type], results: Sequence[Type]) -> bytes:
    name = f"{kind}_" + "_".join(p.name for p in params) + "__" \
        + "_".join(r.name for r in results)
    return code_loader(1).compile_object(shims._llvm_text(kind, name, (tuple(params),
                                                                       tuple(results))))


def _shim(kind: str, x64: bool, params: Sequence[Type], results: Sequence[Type],
          recorder: Recorder, orc: bool = False) -> tuple[int, LoadedCode]:
    """A shim of one kind, linked with ``recorder`` as its ``pyjitwasm_host_call`` (by
    the native loader, or ``orc``: by LLVM's ORC, the fallback)."""
    name = (x64_shims.entry_shim_name if kind == "entry" else x64_shims.host_shim_name)(
        params, results)
    if x64:
        sig = [(tuple(params), tuple(results))]
        obj, names = x64_shims.shims_object(sig if kind == "entry" else [],
                                            sig if kind == "host" else [])
        assert names == [name]
    else:
        obj = _llvm_object(kind, params, results)
    symbols = {**runtime_symbols(), "pyjitwasm_host_call": recorder.address}
    code = (code_loader(1).load_objects([obj], symbols) if orc
            else link_objects([obj], 1, symbols))[0]
    return code.address(name), code


def _in(code: LoadedCode, address: int) -> bool:
    return any(r.start <= address < r.end for r in code.code_ranges)


def _run_pair(entry_x64: bool, host_x64: bool, params: Sequence[Type],
              results: Sequence[Type], recorder: Recorder, seed: int,
              orc: bool = False) -> dict[str, Any]:
    entry, entry_code = _shim("entry", entry_x64, params, results, recorder, orc)
    host, host_code = _shim("host", host_x64, params, results, recorder, orc)
    counters = {ty: seed for ty in PATTERNS}
    bits = []
    for ty in params:
        bits.append(PATTERNS[ty][counters[ty] % len(PATTERNS[ty])])
        counters[ty] += 1
    values_in = b"".join(_slot(ty, b) for ty, b in zip(params, bits, strict=True))
    values_in = values_in.ljust(16 * max(len(params), 1), b"\x5a")
    values = ctypes.create_string_buffer(values_in, len(values_in))
    # The "vmctx" is a host-function context: word 0 the limits record (budget 0: the
    # default), the host index at HOST_INDEX_OFFSET.
    limits = ctypes.create_string_buffer(16)
    context = ctypes.create_string_buffer(24)
    struct.pack_into("<QI", context, 0, ctypes.addressof(limits), HOST_INDEX)
    result_bits = PATTERNS[results[0]][seed % len(PATTERNS[results[0]])] if results else 0
    recorder.set_result(_slot(results[0], result_bits) if results else bytes(16))
    ctypes.memset(ctypes.addressof(recorder.buffer) + Recorder.VALUES, 0x33, 16 * MAX_SLOTS)
    status = lib.pyjitwasm_invoke(entry, host, ctypes.addressof(context),
                                  ctypes.addressof(values))
    assert status == 0
    recorded = recorder.values()
    return {
        "caller": recorder.word(Recorder.CALLER) == ctypes.addressof(context),
        "index": recorder.word(Recorder.INDEX) & 0xFFFFFFFF,
        # 16-byte aligned at the call: 8 past a boundary at the callee's first instruction
        "aligned": recorder.word(Recorder.RSP_AT) % 16 == 8,
        "returns into host shim": _in(host_code, recorder.word(Recorder.RET)),
        "host shim frame returns into entry shim":
            _in(entry_code, recorder.word(Recorder.FRAME_RET)),
        "params": [recorded[16 * i:16 * i + _width(ty)] for i, ty in enumerate(params)],
        "expected params": [b.to_bytes(_width(ty), "little")
                            for ty, b in zip(params, bits, strict=True)],
        "values out": values.raw,
        "expected out": (result_bits.to_bytes(_width(results[0]), "little")
                         + values_in[_width(results[0]):]) if results else values_in,
    }


@pytest.mark.parametrize("params,results", SIGNATURES,
                         ids=lambda s: "_".join(t.name for t in s) or "none")
def test_every_pairing_of_x64_and_llvm_shims_agrees(params: tuple[Type, ...],
                                                    results: tuple[Type, ...],
                                                    recorder: Recorder) -> None:
    assert x64_shims.covers(params, results)
    for seed in range(2):
        runs = {(e, h): _run_pair(e, h, params, results, recorder, seed)
                for e in (True, False) for h in (True, False)}
        for (entry_x64, host_x64), run in runs.items():
            where = f"entry {'x64' if entry_x64 else 'LLVM'}, host {'x64' if host_x64 else 'LLVM'}"
            assert run["caller"] and run["index"] == HOST_INDEX, where
            assert run["aligned"], where
            assert run["returns into host shim"], where
            assert run["host shim frame returns into entry shim"], where
            assert run["params"] == run["expected params"], where
            assert run["values out"] == run["expected out"], where


def test_x64_shims_linked_by_orc_run_the_same(recorder: Recorder) -> None:
    # PYJITWASM_NATIVE_LOADER=0, or an object the native loader refuses in a group
    for params, results in SIGNATURES[5:9]:
        native = _run_pair(True, True, params, results, recorder, 1)
        orc = _run_pair(True, True, params, results, recorder, 1, orc=True)
        assert orc["params"] == orc["expected params"]
        assert orc["values out"] == orc["expected out"] == native["values out"]
        assert orc["aligned"] and orc["returns into host shim"]


def test_coverage_is_scalars_with_at_most_one_result() -> None:
    assert x64_shims.covers((I32, I64, F32, F64, R64), (F64,))
    assert x64_shims.covers((), ())
    assert not x64_shims.covers((V128,), ())
    assert not x64_shims.covers((I32,), (V128,))
    assert not x64_shims.covers((), (I32, I32))
    with pytest.raises(ValueError):
        x64_shims.shims_object([((), (I32, I64))], [])


def test_a_shim_object_holds_many_shims(recorder: Recorder) -> None:
    entry = [((I32,), (I32,)), ((F64,) * 10, ())]
    host = [((I64, F32), (F32,))]
    obj, names = x64_shims.shims_object(entry, host)
    assert names == ["entry_i32__i32", "entry_" + "_".join(["f64"] * 10) + "__",
                     "host_i64_f32__f32"]
    code = link_objects([obj], 1, {**runtime_symbols(), "pyjitwasm_host_call": recorder.address})
    addresses = [code[0].address(name) for name in names]
    assert len(set(addresses)) == 3 and all(a % 16 == 0 for a in addresses)


# Through the public API ------------------------------------------------------------------

VALTYPES = {"i32": w.ValType.i32(), "i64": w.ValType.i64(), "f32": w.ValType.f32(),
            "f64": w.ValType.f64()}

API_SIGNATURES = [
    ("", ""),
    ("i32", "i32"),
    ("i64", "i64"),
    ("f32", "f32"),
    ("f64", "f64"),
    ("i32 i64 f32 f64 i32 i32 i32 i32 f32 f32 f32 f32 f32 f64 f64 i64 f64", "f64"),
    ("i64 i32 i64 i32 i64 i32 i64", "i32"),
    ("f32 f64 f32 f64 f32 f64 f32 f64 f32 f64", "f32"),
]

API_VALUES = {
    "i32": [-1, -2**31, 2**31 - 1, 0x12345678],
    "i64": [-1, -2**63, 2**63 - 1, 0x0123456789ABCDEF],
    # f32s as Python floats: quiet NaNs keep their payloads through the double
    "f32": [struct.unpack("<f", struct.pack("<I", b))[0]
            for b in (0x80000000, 0xFFC12345, 0x7FC00001, 0x3FC00000)],
    "f64": [struct.unpack("<d", struct.pack("<Q", b))[0]
            for b in (0x8000000000000000, 0x7FF0000000000001, 0xFFF8123456789ABC,
                      0x3FF8000000000000)],
}


def _bits(ty: str, value: Any) -> int:
    if ty == "f32":
        return struct.unpack("<I", struct.pack("<f", value))[0]
    if ty == "f64":
        return struct.unpack("<Q", struct.pack("<d", value))[0]
    return int(value)


@pytest.fixture
def fresh_shims(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Shim tables of their own, so each run makes its shims again."""
    monkeypatch.setattr(shims, "_entry", {})
    monkeypatch.setattr(shims, "_host", {})
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "2000000000")
    yield


def _engine(code: str) -> w.Engine:
    if code == "x64 tier 0":
        return w.Engine(w.Config(lazy_compilation=True, tiered_compilation=True,
                                 tier0_x64=True))
    return w.Engine(w.Config(lazy_compilation=True, tiered_compilation=False))


def _pass_through(code: str, params: list[str], results: list[str],
                  args: list[Any]) -> tuple[list[int], list[int]]:
    """Run an export that passes its params to a host import and returns its result;
    the bits the host saw and the bits the caller got back."""
    decl = (f"(param {' '.join(params)})" if params else "") + \
        (f" (result {' '.join(results)})" if results else "")
    gets = " ".join(f"(local.get {i})" for i in range(len(params)))
    wat = (f'(module (import "host" "h" (func $h {decl}))'
           f' (func (export "f") {decl} (call $h {gets})))')
    engine = _engine(code)
    store = w.Store(engine)
    seen: list[tuple[Any, ...]] = []
    result = [API_VALUES[r][2] for r in results]

    def host(*values: Any) -> Any:
        seen.append(values)
        return result[0] if result else None

    ftype = w.FuncType([VALTYPES[p] for p in params], [VALTYPES[r] for r in results])
    instance = w.Instance(store, w.Module(engine, wat), [w.Func(store, ftype, host)])
    got = instance.exports(store)["f"](store, *args)
    assert len(seen) == 1
    got_bits = [_bits(results[0], got)] if results else []
    return [_bits(p, v) for p, v in zip(params, seen[0], strict=True)], got_bits


@pytest.mark.parametrize("code", ["x64 tier 0", "LLVM tier 1"])
@pytest.mark.parametrize("signature", API_SIGNATURES, ids=lambda s: f"{s[0]}->{s[1]}")
def test_export_to_host_round_trip_with_both_shim_kinds(
        monkeypatch: pytest.MonkeyPatch, fresh_shims: None, code: str,
        signature: tuple[str, str]) -> None:
    params, results = signature[0].split(), signature[1].split()
    counters = dict.fromkeys(API_VALUES, 0)
    args = []
    for p in params:
        args.append(API_VALUES[p][counters[p] % len(API_VALUES[p])])
        counters[p] += 1
    runs = {}
    for kind in ("1", "0"):
        monkeypatch.setenv("PYJITWASM_X64_SHIMS", kind)
        monkeypatch.setattr(shims, "_entry", {})
        monkeypatch.setattr(shims, "_host", {})
        runs[kind] = _pass_through(code, params, results, args)
    assert runs["1"] == runs["0"]
    seen, got = runs["1"]
    assert seen == [_bits(p, a) for p, a in zip(params, args, strict=True)]
    assert got == [_bits(r, API_VALUES[r][2]) for r in results]


# Backtraces through host calls -------------------------------------------------------------

TRAPS = """
(module
  (import "host" "call_back" (func $call_back (param i32 f64) (result i32)))
  (func $divide (export "divide") (param i32) (result i32)
    (i32.div_u (i32.const 1) (local.get 0)))
  (func $middle (param i32) (result i32)
    (call $call_back (local.get 0) (f64.const 1.5)))
  (func (export "outer") (param i32) (result i32)
    (i32.add (call $middle (local.get 0)) (i32.const 1))))
"""


def _backtraces(code: str) -> tuple[list[int], str, list[int]]:
    """A host exception's wasm frames; a wasm trap's text and frames below a host
    call (the host calls back into wasm, which divides by zero)."""
    engine = _engine(code)
    store = w.Store(engine)
    holder: dict[str, Any] = {}

    class Boom(Exception):
        pass

    def call_back(x: int, y: float) -> int:
        assert y == 1.5
        if x == 0:
            raise Boom("from the host")
        return int(holder["divide"](store, x - 1))

    ftype = w.FuncType([w.ValType.i32(), w.ValType.f64()], [w.ValType.i32()])
    instance = w.Instance(store, w.Module(engine, TRAPS), [w.Func(store, ftype, call_back)])
    exports = instance.exports(store)
    holder["divide"] = exports["divide"]
    assert exports["outer"](store, 3) == 1 + 1 // 2
    with pytest.raises(Boom) as raised:
        exports["outer"](store, 0)
    host_frames = [f.func_index for f in raised.value.wasm_frames]
    with pytest.raises(w.Trap) as trapped:
        exports["outer"](store, 1)
    return host_frames, str(trapped.value), [f.func_index for f in trapped.value.frames]


@pytest.mark.parametrize("code", ["x64 tier 0", "LLVM tier 1"])
def test_backtraces_through_host_calls_match(monkeypatch: pytest.MonkeyPatch,
                                             fresh_shims: None, code: str) -> None:
    runs = {}
    for kind in ("1", "0"):
        monkeypatch.setenv("PYJITWASM_X64_SHIMS", kind)
        monkeypatch.setattr(shims, "_entry", {})
        monkeypatch.setattr(shims, "_host", {})
        runs[kind] = _backtraces(code)
    assert runs["1"] == runs["0"]
    host_frames, text, frames = runs["1"]
    assert host_frames == [2, 3]  # middle (which called the host), then outer
    assert "divide by zero" in text
    # divide, then through the host call the frames that called it: middle, outer
    assert frames == [1, 2, 3]


# A cold start without LLVM -------------------------------------------------------------

COLD_START = r"""
import json, sys
import pyjitwasm as w
from pyjitwasm.x64 import tier0
engine = w.Engine(w.Config(lazy_compilation=True, tier0_x64=True))
store = w.Store(engine)
wasi = w.WasiConfig()
wasi.argv = ["prog"]
wasi.inherit_stdout()
store.set_wasi(wasi)
linker = w.Linker(engine)
linker.define_wasi()
module = w.Module(engine, '''(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "cold\\n")
  (func $square (param f64) (result f64) (f64.mul (local.get 0) (local.get 0)))
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 5))
    (drop (call $sizes (i32.const 16) (i32.const 20)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func (export "square") (param f64) (result f64) (call $square (local.get 0))))''')
instance = linker.instantiate(store, module)
exports = instance.exports(store)
exports["_start"](store)
print(json.dumps({"square": exports["square"](store, 1.5),
                  "x64 functions": tier0.STATS.functions,
                  "fallbacks": tier0.STATS.fallback_functions,
                  "llvm": sorted(m for m in sys.modules if m.startswith("llvmlite.binding"))}))
"""


def _cold_start(env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-c", COLD_START], capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYJITWASM_COMPILE_WORKER": "0",
             "PYJITWASM_TIER_UP_THRESHOLD": "2000000000", **env})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0] == "cold"
    return dict(json.loads(lines[-1]))


def test_a_cold_wasi_start_with_x64_code_loads_no_llvm() -> None:
    cold = _cold_start({})
    assert cold["square"] == 2.25 and cold["x64 functions"] >= 2 and cold["fallbacks"] == 0
    assert cold["llvm"] == []
    # With LLVM's shims the same start loads LLVM (to compile them).
    llvm = _cold_start({"PYJITWASM_X64_SHIMS": "0"})
    assert llvm["square"] == 2.25 and llvm["llvm"]
