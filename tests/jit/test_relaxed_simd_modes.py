"""Relaxed SIMD's two modes on the JIT: native (``Config.relaxed_simd_deterministic =
False``, the default as in Wasmtime) emits the host's own instruction for each relaxed
opcode, deterministic reproduces Wasmtime's deterministic results; the interpreter is
deterministic in both. The inputs below are ones where the two modes' allowed results
differ, so each assertion tells the modes apart."""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest

import pyjitwasm
from pyjitwasm import wat2wasm
from pyjitwasm.cli import main as cli_main

WAT = """
(module
  (func (export "swizzle") (param v128 v128) (result v128)
    (i8x16.relaxed_swizzle (local.get 0) (local.get 1)))
  (func (export "trunc") (param v128) (result v128)
    (i32x4.relaxed_trunc_f32x4_s (local.get 0)))
  (func (export "madd") (param v128 v128 v128) (result v128)
    (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2)))
  (func (export "laneselect") (param v128 v128 v128) (result v128)
    (i32x4.relaxed_laneselect (local.get 0) (local.get 1) (local.get 2)))
  (func (export "min") (param v128 v128) (result v128)
    (f32x4.relaxed_min (local.get 0) (local.get 1)))
  (func (export "max") (param v128 v128) (result v128)
    (f64x2.relaxed_max (local.get 0) (local.get 1)))
  (func (export "q15mulr") (param v128 v128) (result v128)
    (i16x8.relaxed_q15mulr_s (local.get 0) (local.get 1)))
  (func (export "dot") (param v128 v128) (result v128)
    (i16x8.relaxed_dot_i8x16_i7x16_s (local.get 0) (local.get 1)))
  (func (export "dot_add") (param v128 v128 v128) (result v128)
    (i32x4.relaxed_dot_i8x16_i7x16_add_s (local.get 0) (local.get 1) (local.get 2))))
"""


def _v(fmt: str, *lanes: float | int) -> int:
    return int.from_bytes(struct.pack("<" + fmt, *lanes), "little")


def _lanes(fmt: str, value: int) -> tuple[float | int, ...]:
    return struct.unpack("<" + fmt, value.to_bytes(16, "little"))


F32_NAN = struct.unpack("<f", struct.pack("<I", 0x7FC00000))[0]
BYTES = _v("16B", *range(100, 116))

# (export, args, lane format, deterministic result, native result): inputs where the
# proposal allows both results and the two modes pick different ones.
CASES = [
    # An index of 17: 0 deterministically, byte 17 & 15 with pshufb.
    ("swizzle", [BYTES, _v("16B", 17, *range(15))], "16B",
     (0, *range(100, 115)), (101, *range(100, 115))),
    # NaN and an out-of-range lane: 0 and INT32_MAX saturating, INT32_MIN with cvttps2dq.
    ("trunc", [_v("4f", F32_NAN, 3e9, -2.5, 7.9)], "4i",
     (0, 2**31 - 1, -2, 7), (-(2**31), -(2**31), -2, 7)),
    # Mask lane 0x80000000: bit by bit (only the top bit from a, here 0) or the whole lane
    # from a.
    ("laneselect", [_v("4I", 0x11111111, 0, 0, 0), _v("4I", 0x22222222, 0, 0, 0),
                    _v("4I", 0x80000000, 0, 0, 0)], "4I",
     (0x22222222, 0, 0, 0), (0x11111111, 0, 0, 0)),
    # NaN operand: NaN (wasm min) or b (minps).
    ("min", [_v("4f", F32_NAN, 1.0, 1.0, 1.0), _v("4f", 5.0, 2.0, 2.0, 2.0)], "4I",
     (0x7FC00000, *[0x3F800000] * 3), (0x40A00000, *[0x3F800000] * 3)),
    # -0 and +0: the larger zero (+0) or b (maxpd).
    ("max", [_v("2d", 0.0, 1.0), _v("2d", -0.0, 2.0)], "2Q",
     (0, 0x4000000000000000), (0x8000000000000000, 0x4000000000000000)),
    # MIN * MIN: saturated to MAX or wrapped to MIN (pmulhrsw).
    ("q15mulr", [_v("8h", -32768, *[0] * 7), _v("8h", -32768, *[0] * 7)], "8h",
     (32767, *[0] * 7), (-32768, *[0] * 7)),
    # b lanes of -127 (outside i7): signed products wrapping (32512) or b unsigned with
    # the sum saturated (-32768, pmaddubsw).
    ("dot", [_v("16b", -128, -128, *[0] * 14), _v("16b", -127, -127, *[0] * 14)], "8h",
     (32512, *[0] * 7), (-32768, *[0] * 7)),
    ("dot_add", [_v("16b", *[-128] * 4, *[0] * 12), _v("16b", *[-127] * 4, *[0] * 12),
                 _v("4i", 1, 2, 3, 4)], "4i",
     (65025, 2, 3, 4), (-65535, 2, 3, 4)),
]


def _instance(strategy: str, deterministic: bool) -> tuple[Any, Any]:
    config = pyjitwasm.Config(strategy=strategy)
    config.relaxed_simd_deterministic = deterministic
    engine = pyjitwasm.Engine(config)
    store = pyjitwasm.Store(engine)
    module = pyjitwasm.Module(engine, wat2wasm(WAT))
    return store, pyjitwasm.Instance(store, module, []).exports(store)


def _call(store: Any, exports: Any, name: str, args: list[int]) -> int:
    vals = [pyjitwasm.Val.v128(a) for a in args]
    result = exports[name](store, *vals)
    return int(getattr(result, "value", result))


def test_native_is_the_default_as_in_wasmtime() -> None:
    assert pyjitwasm.Config().relaxed_simd_deterministic is False


@pytest.mark.parametrize(("strategy", "deterministic"),
                         [("jit", True), ("jit", False), ("interp", True), ("interp", False)])
def test_results_by_mode(strategy: str, deterministic: bool) -> None:
    store, exports = _instance(strategy, deterministic)
    native = strategy == "jit" and not deterministic  # the interpreter is deterministic
    for name, args, fmt, det_result, native_result in CASES:
        got = _lanes(fmt, _call(store, exports, name, args))
        assert got == (native_result if native else det_result), name


def test_madd_is_fused_in_both_modes_on_an_fma_host() -> None:
    """1 + 2**-23 squared minus 1 + 2**-22: 2**-46 fused, 0 with two roundings."""
    x = 1 + 2**-23
    args = [_v("4f", x, x, x, x), _v("4f", x, x, x, x),
            _v("4f", *[-(1 + 2**-22)] * 4)]
    for deterministic in (True, False):
        store, exports = _instance("jit", deterministic)
        got = _lanes("4f", _call(store, exports, "madd", args))
        if deterministic or _host_has_fma():
            assert got == (2**-46,) * 4
        else:
            assert got in ((2**-46,) * 4, (0.0,) * 4)


def _host_has_fma() -> bool:
    import llvmlite.binding as llvm

    return bool(llvm.get_host_cpu_features().get("fma", False))


def _asm(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> dict[str, str]:
    """``pyjitwasm asm`` of the module: machine code text by export name."""
    wasm = tmp_path / "relaxed.wasm"
    wasm.write_bytes(wat2wasm(WAT))
    assert cli_main(["asm", str(wasm), *flags]) == 0
    text = capsys.readouterr().out
    names = re.findall(r'\(export "(\w+)"\)', WAT)
    parts = re.split(r"^;; function \d+$", text, flags=re.M)[1:]
    return {name: part.split(";; machine code", 1)[1] for name, part in zip(names, parts,
                                                                              strict=True)}


# export -> the x86 instruction native mode must use (a leading "v" is the AVX form).
NATIVE_INSTRUCTIONS = {"swizzle": "pshufb", "trunc": "cvttps2dq", "min": "minps",
                       "max": "maxpd", "q15mulr": "pmulhrsw", "dot": "pmaddubsw",
                       "dot_add": "pmaddubsw"}


def _has(code: str, mnemonic: str) -> bool:
    return re.search(rf"^\s+[0-9a-f]+:\s+v?{mnemonic}\b", code, flags=re.M) is not None


def test_native_mode_emits_the_native_instructions(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = _asm(tmp_path, capsys)
    for name, mnemonic in NATIVE_INSTRUCTIONS.items():
        assert _has(code[name], mnemonic), f"{name}: no {mnemonic} in\n{code[name]}"
    # The swizzle is pshufb alone: no saturating add pushing indices out of range; min is
    # minps alone: no NaN fix-up.
    assert not _has(code["swizzle"], "paddusb")
    assert not _has(code["min"], "cmpunordps")
    # laneselect picks lanes by the mask's sign: blendvps, or an AVX-512 mask move.
    assert _has(code["laneselect"], "blendvps") or _has(code["laneselect"], "pmovd2m")
    if _host_has_fma():
        assert _has(code["madd"], r"fmadd\d+ps")


def test_deterministic_mode_emits_no_relaxed_only_instructions(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = _asm(tmp_path, capsys, "--relaxed-simd-deterministic")
    for name, mnemonic in (("q15mulr", "pmulhrsw"), ("dot", "pmaddubsw")):
        assert not _has(code[name], mnemonic), f"{name}: {mnemonic} in\n{code[name]}"
    assert _has(code["swizzle"], "paddusb")  # out-of-range indices forced to 0
    assert _has(code["min"], "cmpunordps")  # NaN lanes fixed up after minps
