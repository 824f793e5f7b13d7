"""The wasm-to-IR translator, on small WAT modules compiled with wasm-tools."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyjitwasm.commands import ir as ir_command
from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.parser import parse_function
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.verifier import verify
from pyjitwasm.translate import translator
from pyjitwasm.translate.dispatch import HANDLERS
from pyjitwasm.translate.libcalls import LIBCALLS, LIBCALLS_BY_SYMBOL, RESERVED_INDICES
from pyjitwasm.translate.module_info import InterruptChecks
from pyjitwasm.translate.translator import (
    HeapConfig,
    ModuleInfo,
    translate_function,
    translate_module,
)
from pyjitwasm.translate.vmctx import func_ref_indices, layout_for_module
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.opcodes import OPS_BY_NAME
from pyjitwasm.wasm.validator import validate_module

_TOOL = Path(sys.executable).parent / "wasm-tools"
WASM_TOOLS = str(_TOOL) if _TOOL.exists() else shutil.which("wasm-tools")
pytestmark = pytest.mark.skipif(WASM_TOOLS is None, reason="wasm-tools is not installed")

MODULE = """
(module
  (import "env" "f" (func $imp (param i32) (result i32)))
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (func $add (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
  (func $fac (param i64) (result i64) (local i64)
    i64.const 1 local.set 1
    block
      loop
        local.get 0 i64.eqz br_if 1
        local.get 1 local.get 0 i64.mul local.set 1
        local.get 0 i64.const 1 i64.sub local.set 0
        br 0
      end
    end
    local.get 1)
  (func $mem (param i32) (result i32)
    local.get 0 i32.load offset=8
    local.get 0 i32.load8_s
    i32.add
    local.get 0 i32.const 7 i32.store16 offset=2
    memory.size i32.add
    i32.const 1 memory.grow i32.add
    global.get $g i32.add
    global.set $g
    global.get $g)
  (func $sw (param i32) (result i32)
    block (result i32)
      block (result i32)
        i32.const 10 local.get 0 br_table 0 1 0
      end
      i32.const 20 i32.add return
    end
    i32.const 30 i32.add
    unreachable
    i32.const 5 drop)
  (func $sw0 (param i32) (result i32)
    block
      block
        local.get 0 br_table 0 1 1
      end
      i32.const 1 return
    end
    i32.const 2)
  (func $ifs (param i32 f64) (result i32 f64)
    local.get 0
    if (result i32)
      local.get 0 call $imp
    else
      i32.const 3 local.get 0 i32.div_s
    end
    local.get 1 local.get 1 f64.add
    local.get 1 local.get 0 select (result f64))
  (func $mv (param i32) (result i32 i32)
    local.get 0 local.get 0
    (if (param i32) (result i32) (i32.eqz (local.get 0)) (then i32.const 1 i32.add))
    (drop (i32.trunc_f32_s (f32.const 1.5)))
    (drop (i64.extend8_s (i64.const 300)))
    (drop (f64.convert_i64_u (i64.const 5))))
)
"""

MEMORY64 = """
(module
  (memory i64 1)
  (func (param i64) (result i32) local.get 0 i32.load offset=0x100000010))
"""


def _module(wat: str, tmp_path: Path) -> tuple[WasmModule, Path]:
    src, out = tmp_path / "m.wat", tmp_path / "m.wasm"
    src.write_text(wat)
    subprocess.run([WASM_TOOLS, "parse", str(src), "-o", str(out)], check=True)
    module = decode_module(out.read_bytes())
    validate_module(module)
    return module, out


@pytest.mark.parametrize("config", [HeapConfig(), HeapConfig("static")])
def test_every_function_translates_verifies_and_legalizes(tmp_path: Path,
                                                          config: HeapConfig) -> None:
    module, _ = _module(MODULE, tmp_path)
    funcs = translate_module(module, config)
    assert [f.name for f in funcs] == [f"wasm_func_{i}" for i in range(1, 8)]
    for func in funcs:
        verify(func)
        text = print_function(func)
        assert print_function(parse_function(text)) == text
        legalize(func)
        verify(func)
        legal = print_function(func)
        assert "heap_addr" not in legal and "global_value" not in legal
        assert print_function(parse_function(legal)) == legal


def test_add_translates_to_iadd(tmp_path: Path) -> None:
    module, _ = _module(MODULE, tmp_path)
    assert print_function(translate_function(module, 1)) == (
        "function %wasm_func_1(i64 vmctx, i32, i32) -> i32 {\n"
        "    gv0 = vmctx\n"
        "\n"
        "block0(v0: i64, v1: i32, v2: i32):\n"
        "    v4 = iadd v1, v2\n"
        "    jump block1(v4)\n"
        "\n"
        "block1(v3: i32):\n"
        "    return v3\n"
        "}\n"
    )


def test_loop_locals_become_block_params(tmp_path: Path) -> None:
    module, _ = _module(MODULE, tmp_path)
    func = translate_function(module, 2)
    headers = [b for b in func.layout.blocks
               if len(func.dfg.block_params[b]) == 2 and b != func.layout.entry]
    assert len(headers) == 1  # both locals live across the back edge
    assert "imul" in print_function(func)


def test_memory_ops_use_heap_addr_and_libcall(tmp_path: Path) -> None:
    module, _ = _module(MODULE, tmp_path)
    text = print_function(translate_function(module, 3))
    assert "heap_addr.i64 heap0, v1, 8, 4" in text
    assert "sload8.i32 little" in text
    assert "istore16 little" in text
    assert "fn0 = %libcall_memory_grow sig0" in text
    assert "sig0 = (i64 vmctx, i64, i64) -> i64" in text


def test_imported_call_goes_through_vmctx(tmp_path: Path) -> None:
    module, _ = _module(MODULE, tmp_path)
    text = print_function(translate_function(module, 6))
    assert "call_indirect sig0" in text
    assert "sdiv" in text and "select" in text


def test_br_table_with_values_uses_forwarding_blocks(tmp_path: Path) -> None:
    module, _ = _module(MODULE, tmp_path)
    func = translate_function(module, 4)
    for block in func.layout.blocks:
        last = func.dfg.insts[func.layout.last_inst(block)]
        if last.opcode == "br_table":
            for target in [last.default.block, *last.table]:
                assert not func.dfg.block_params[target]
            break
    else:
        pytest.fail("no br_table")


def test_memory64_large_offset(tmp_path: Path) -> None:
    module, _ = _module(MEMORY64, tmp_path)
    func = translate_function(module, 0)
    text = print_function(func)
    assert "v3 = iconst.i64 0x100000000" in text
    assert "v4 = uadd_overflow_trap v1, v3, memory_out_of_bounds" in text
    assert "heap_addr.i64 heap0, v4, 16, 4" in text
    legalize(func)
    verify(func)


def test_cli_prints_ir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, path = _module(MODULE, tmp_path)
    parser = argparse.ArgumentParser()
    ir_command.register(parser.add_subparsers())
    args = parser.parse_args(["ir", str(path), "--func", "3", "--legalized"])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert out.startswith("function %wasm_func_3(i64 vmctx, i32) -> i32 {")
    assert "trapnz" in out and "heap_addr" not in out
    args = parser.parse_args(["ir", str(path), "--func", "0"])
    assert args.func(args) == 1  # an import, not a defined function


def test_cli_static_heaps_drop_bounds_checks(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    _, path = _module(MODULE, tmp_path)
    parser = argparse.ArgumentParser()
    ir_command.register(parser.add_subparsers())
    outputs = {}
    for flags in ([], ["--static-heaps"]):
        args = parser.parse_args(["ir", str(path), "--func", "3", "--legalized", *flags])
        assert args.func(args) == 0
        outputs[bool(flags)] = capsys.readouterr().out
    assert "heap0 = dynamic" in outputs[False] and "icmp ugt" in outputs[False]
    assert "heap0 = static" in outputs[True] and "icmp ugt" not in outputs[True]


def test_cli_prints_every_function(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, path = _module(MODULE, tmp_path)
    parser = argparse.ArgumentParser()
    ir_command.register(parser.add_subparsers())
    args = parser.parse_args(["ir", str(path)])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    names = [line.split("(")[0] for line in out.splitlines() if line.startswith("function")]
    assert names == [f"function %wasm_func_{i}" for i in range(1, 8)]


UNSUPPORTED = """
(module
  (func $v (param v128) (result v128) local.get 0 local.get 0 i32x4.add)
  (func $t (param i32) (result i32) local.get 0 return_call $t)
  (func $dead (result i32) i32.const 1 return i32x4.splat drop i32.const 0))
"""


def test_simd_names_the_instruction_and_tail_calls_translate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An opcode without a handler (i32x4.add taken out of the table) names itself.
    add = OPS_BY_NAME["i32x4.add"].code
    monkeypatch.setattr(translator, "HANDLERS", {k: v for k, v in HANDLERS.items() if k != add})
    module, _ = _module(UNSUPPORTED, tmp_path)
    with pytest.raises(NotImplementedError, match=r"i32x4\.add: SIMD"):
        translate_function(module, 0)
    tail = translate_function(module, 1)
    verify(tail)
    assert "return_call fn0(v0, v1)" in print_function(tail)
    verify(translate_function(module, 2))  # unreachable SIMD code is skipped


BULK = """
(module
  (table $t 2 funcref)
  (memory 1)
  (data $d "xy")
  (elem $e func $f)
  (func $f (param i32)
    (memory.fill (local.get 0) (i32.const 1) (i32.const 2))
    (memory.copy (local.get 0) (i32.const 0) (i32.const 2))
    (memory.init $d (local.get 0) (i32.const 0) (i32.const 2))
    (data.drop $d)
    (drop (memory.grow (i32.const 1)))
    (drop (table.grow $t (ref.func $f) (i32.const 1)))
    (table.fill $t (local.get 0) (ref.null func) (i32.const 1))
    (table.copy $t $t (local.get 0) (i32.const 0) (i32.const 1))
    (table.init $t $e (local.get 0) (i32.const 0) (i32.const 1))
    (elem.drop $e)
    (drop (table.get $t (local.get 0)))))
"""


def test_libcalls_match_their_documented_signatures(tmp_path: Path) -> None:
    module, _ = _module(BULK, tmp_path)
    # Without inlining, memory.copy/fill are the memory_copy/memory_fill libcalls too;
    # with tier-up counters (tier 0), the function also calls tier_up; the interruption
    # checks call epoch_deadline_reached and out_of_fuel.
    info = ModuleInfo(module, HeapConfig(inline_bulk_memory=False),
                      InterruptChecks(epoch=True, fuel=True))
    func = translate_function(module, 0, info=info, tier_counters=True)
    used = {ext.name: func.signatures[ext.signature] for ext in func.ext_funcs}
    # The module uses every one IR may call (the others are x64 machine code's).
    assert set(used) == {lc.symbol for lc in LIBCALLS if lc.in_ir}
    assert {lc.name for lc in LIBCALLS if not lc.in_ir} == {"tier_up_loop"}
    for name, sig in used.items():
        expected = LIBCALLS_BY_SYMBOL[name].signature()
        assert (sig.params, sig.returns) == (expected.params, expected.returns), name
    indices = [lc.index for lc in LIBCALLS]
    assert len(set(indices)) == len(indices)
    assert not set(indices) & set(RESERVED_INDICES)
    # Every status-returning libcall is followed by a trap on a nonzero status.
    text = print_function(func)
    for lc in LIBCALLS:
        if lc.trap is not None:
            fn = [i for i, ext in enumerate(func.ext_funcs) if ext.name == lc.symbol][0]
            result = text.split(f" = call fn{fn}(")[0].rsplit("\n", 1)[1].strip()
            assert f"trapnz {result}, {lc.trap.name.lower()}" in text


def test_ref_func_is_the_vmfuncref_address(tmp_path: Path) -> None:
    module, _ = _module(BULK, tmp_path)
    layout = layout_for_module(module)
    record = func_ref_indices(module)[0]
    text = print_function(translate_function(module, 0))
    assert f"iadd_imm v0, {layout.func_ref(record)}\n" in text
