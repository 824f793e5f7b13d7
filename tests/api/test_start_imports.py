"""What a process imports to start: a JIT engine, and a module whose code all comes from
``x64/``, import neither the IR and its translator and lowering, nor the interpreter,
nor WASI's host functions (~40 ms of a process's start; docs/jit-design.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

NOT_AT_START = (
    "pyjitwasm.ir.function",
    "pyjitwasm.ir.instructions",
    "pyjitwasm.translate.translator",
    "pyjitwasm.jit.lower",
    "pyjitwasm.baseline.tier0",
    "pyjitwasm.interp",
    "pyjitwasm.wasi.bindings",
    "llvmlite.binding",
    "tomllib",
    "subprocess",
)

# One function with a loop (x64 tier 0 covers it), called once: too few iterations
# to tier up.
WAT = """(module
  (func (export "sum") (param i32) (result i32) (local i32)
    (block (loop
      (br_if 1 (i32.eqz (local.get 0)))
      (local.set 1 (i32.add (local.get 1) (local.get 0)))
      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
      (br 0)))
    (local.get 1)))"""


def _modules_after(script: str) -> tuple[set[str], object]:
    """The modules a fresh process has imported after ``script``, and its ``result``."""
    program = (textwrap.dedent(script) + "\nimport json, sys\n"
               "print(json.dumps([sorted(sys.modules), result]))\n")
    # Lazy compilation (the default; the suite may run eagerly, which compiles with LLVM).
    env = {**os.environ, "PYJITWASM_LAZY": "1"}
    proc = subprocess.run([sys.executable, "-P", "-c", program], capture_output=True,
                          text=True, check=False, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    modules, result = json.loads(proc.stdout.strip().splitlines()[-1])
    return set(modules), result


def test_an_engine_starts_without_the_compilers_front_end_or_the_interpreter() -> None:
    loaded, strategy = _modules_after("""
        import pyjitwasm
        result = pyjitwasm.Engine().strategy
    """)
    assert strategy == "jit"
    assert not loaded & set(NOT_AT_START)


def test_running_x64_tier0_code_imports_no_ir() -> None:
    from pyjitwasm import wat2wasm

    wasm = wat2wasm(WAT)
    loaded, total = _modules_after(f"""
        import pyjitwasm
        engine = pyjitwasm.Engine()
        store = pyjitwasm.Store(engine)
        module = pyjitwasm.Module(engine, {wasm!r})
        instance = pyjitwasm.Instance(store, module, [])
        result = instance.exports(store)["sum"](store, 10)
    """)
    assert total == 55
    assert not loaded & set(NOT_AT_START)


def test_the_interpreter_and_wasi_still_load_when_asked() -> None:
    loaded, where = _modules_after("""
        import pyjitwasm
        from pyjitwasm.wasi import define_wasi
        linker = pyjitwasm.Linker(pyjitwasm.Engine(pyjitwasm.Config(strategy="interp")))
        linker.define_wasi()
        result = define_wasi.__module__
    """)
    assert where == "pyjitwasm.wasi.bindings"
    assert {"pyjitwasm.interp", "pyjitwasm.wasi.bindings"} <= loaded


def test_pyjitwasm_run_imports_only_its_own_command(tmp_path: Path) -> None:
    from pyjitwasm import wat2wasm

    program = tmp_path / "start.wasm"
    program.write_bytes(wat2wasm('(module (func (export "_start")))'))
    loaded, status = _modules_after(f"""
        from pyjitwasm.cli import main
        result = main(["run", {str(program)!r}])
    """)
    assert status == 0
    # WASI's host functions are linked for every module ``run`` starts.
    assert "pyjitwasm.wasi.bindings" in loaded
    assert not loaded & {"pyjitwasm.commands.ir", "pyjitwasm.commands.asm",
                         "pyjitwasm.commands.objdump",
                         *(set(NOT_AT_START) - {"pyjitwasm.wasi.bindings"})}
