"""Translate every function of every execution-scope module of the spec testsuite.

Execution scope: the top-level .wast files minus the proposals listed as out of scope in
spec-tests/manifest.toml, SIMD (``simd_*`` and the relaxed SIMD scripts). Each
function is translated, verified, printed and parsed back (the text round-trips), then
legalized and verified again; modules with a 32-bit memory are also translated and
legalized with static heaps. Modules that need an unsupported proposal
(UnsupportedFeatureError) are skipped; any other decode or validation error fails, as the
scripts' ``module`` commands are valid modules.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

import pytest

from pyjitwasm.ir.legalize import legalize
from pyjitwasm.ir.parser import parse_function
from pyjitwasm.ir.printer import print_function
from pyjitwasm.ir.verifier import verify
from pyjitwasm.translate.translator import HeapConfig, ModuleInfo, translate_function
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.errors import UnsupportedFeatureError
from pyjitwasm.wasm.module import WasmModule
from pyjitwasm.wasm.validator import validate_module

import wast as spec_scripts

MANIFEST = Path(__file__).resolve().parents[2] / "spec-tests" / "manifest.toml"
# The relaxed SIMD scripts also use integer SIMD (i*.eq, swizzle); the spec runner
# executes them on the JIT.
NOT_TRANSLATED = ("simd_*.wast", "*relaxed*.wast")


def _scope_files() -> list[Path]:
    suite = spec_scripts.testsuite_dir()
    if suite is None:
        return []
    with open(MANIFEST, "rb") as f:
        out_of_scope = tomllib.load(f)["out_of_scope"]
    return sorted(
        p for p in suite.glob("*.wast")
        if p.name not in out_of_scope
        and not any(fnmatch.fnmatch(p.name, pattern) for pattern in NOT_TRANSLATED)
    )


FILES = _scope_files()


def _modules(wast: Path) -> list[tuple[int, WasmModule]]:
    """(line, module) of each binary module the script defines, decoded and validated."""
    commands, wasm_dir = spec_scripts.convert(wast)
    modules = []
    for cmd in commands:
        if cmd["type"] not in ("module", "module_definition"):
            continue
        filename = (cmd.get("filename") if cmd.get("module_type", "binary") == "binary"
                    else cmd.get("binary_filename"))
        if filename is None:
            continue
        try:
            module = decode_module((wasm_dir / filename).read_bytes())
            validate_module(module)
        except UnsupportedFeatureError:
            continue
        modules.append((cmd["line"], module))
    return modules


def _check(module: WasmModule, config: HeapConfig, round_trip: bool) -> None:
    info = ModuleInfo(module, config)
    first = module.num_imported_funcs
    for index in range(first, first + len(module.codes)):
        func = translate_function(module, index, info=info)
        verify(func)
        if round_trip:
            assert parse_function(print_function(func)).canonical() == func.canonical()
        legalize(func)
        verify(func)


def test_testsuite_present() -> None:
    if spec_scripts.testsuite_dir() is None:
        pytest.skip(spec_scripts.missing_testsuite_message())
    assert len(FILES) > 100
    # The module filter keeps real work: call_indirect.wast alone defines 80+ functions.
    modules = _modules(next(p for p in FILES if p.name == "call_indirect.wast"))
    assert sum(len(module.codes) for _, module in modules) > 80


@pytest.mark.parametrize("wast", FILES, ids=[p.name for p in FILES])
def test_translate_spec_file(wast: Path) -> None:
    for line, module in _modules(wast):
        try:
            _check(module, HeapConfig("dynamic"), round_trip=True)
            if any(not m.is_64 for m in module.memory_types()):
                _check(module, HeapConfig("static"), round_trip=False)
        except Exception as e:
            raise AssertionError(f"{wast.name}:{line}: {type(e).__name__}: {e}") from e
