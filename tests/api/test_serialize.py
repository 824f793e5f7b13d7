"""Serialized modules (Module.serialize/deserialize/deserialize_file, .cwasm) and the
code cache through the API (Config.cache) and the command line (pyjitwasm compile,
pyjitwasm run with a .cwasm, --no-cache, PYJITWASM_CACHE)."""

from __future__ import annotations

import hashlib
import json
import struct
import warnings
from pathlib import Path
from typing import Any

import pytest

import pyjitwasm
from pyjitwasm import (
    Config,
    CorruptArtifactError,
    Engine,
    IncompatibleArtifactError,
    Instance,
    Module,
    Store,
    Trap,
    TrapCode,
)
from pyjitwasm.artifact import ARTIFACT_MAGIC, read_artifact, write_artifact
from pyjitwasm.cli import main
from pyjitwasm.jit.codeload import CodeLoader
from pyjitwasm.runtime.jit import fingerprint
from pyjitwasm.runtime.jit.code_cache import CodeCacheWarning
from pyjitwasm.runtime.jit.precompile import chunk_functions, precompile_module
from pyjitwasm.wat import wat2wasm

from support.compile_counting import count_compiles

WAT = """(module
  (memory (export "mem") 1)
  (global $g (mut i32) (i32.const 7))
  (table 2 funcref)
  (elem (i32.const 0) $double $fact)
  (data (i32.const 16) "hello")
  (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $fact (export "fact") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0)) (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fact (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "indirect") (param i32 i32) (result i32)
    (call_indirect (param i32) (result i32) (local.get 1) (local.get 0)))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0)))
  (func (export "glob") (result i32) (global.get $g))
  (func $inner (param i32) (result i32) (i32.div_s (i32.const 1) (local.get 0)))
  (func (export "outer") (param i32) (result i32) (call $inner (local.get 0))))
"""


def _engine(**settings: Any) -> Engine:
    config = Config(**{k: v for k, v in settings.items() if k != "cache"})
    if "cache" in settings:
        config.cache = settings["cache"]
    return Engine(config)


def _check_instance(engine: Engine, module: Module) -> None:
    store = Store(engine)
    exports = Instance(store, module, []).exports(store)
    assert exports["fact"](store, 20) == 2432902008176640000
    assert exports["indirect"](store, 0, 21) == 42
    assert exports["load"](store, 16) == ord("h")
    assert exports["glob"](store) == 7
    with pytest.raises(Trap) as info:
        exports["outer"](store, 0)
    assert info.value.trap_code == TrapCode.INTEGER_DIVISION_BY_ZERO
    assert [frame.func_index for frame in info.value.frames] == [5, 6]
    with pytest.raises(Trap) as info:
        exports["load"](store, 1 << 20)  # past the memory: a guard-page fault
    assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS


@pytest.mark.parametrize("strategy", ["jit", "interp"])
def test_round_trip(strategy: str, tmp_path: Path) -> None:
    engine = _engine(strategy=strategy)
    data = Module(engine, WAT).serialize()
    assert data.startswith(ARTIFACT_MAGIC)
    _check_instance(engine, Module.deserialize(engine, data))
    path = tmp_path / "m.cwasm"
    path.write_bytes(data)
    with Module.deserialize_file(engine, path) as module:
        assert [e.name for e in module.exports] == ["mem", "fact", "indirect", "load", "glob",
                                                     "outer"]
        _check_instance(engine, module)


def test_deserialized_code_is_loaded_not_compiled(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine()
    data = Module(engine, WAT).serialize()
    monkeypatch.setattr(CodeLoader, "compile_object",
                        lambda self, ir: (_ for _ in ()).throw(AssertionError("compiled")))
    module = Module.deserialize(engine, data)
    _check_instance(engine, module)  # entry shims come from the artifact too


def test_serialize_is_deterministic_and_jobs_do_not_matter() -> None:
    engine = _engine()
    module = Module(engine, WAT)
    assert module.serialize(jobs=1) == module.serialize(jobs=2)


def test_parallel_workers_match_in_process(monkeypatch: pytest.MonkeyPatch) -> None:
    # Many chunks and a low threshold, so the worker processes really run.
    from pyjitwasm.runtime.jit import precompile
    from pyjitwasm.runtime.jit.compile_module import CompileOptions
    from pyjitwasm.wasm.decoder import decode_module
    from pyjitwasm.wasm.features import Features

    funcs = "".join(f"(func (export \"f{i}\") (param i32) (result i32) "
                    f"(i32.add (local.get 0) (i32.const {i})))" for i in range(12))
    wasm = wat2wasm(f"(module {funcs})")
    module = decode_module(wasm)
    monkeypatch.setattr(precompile, "CHUNK_INSTRUCTIONS", 12)
    monkeypatch.setattr(precompile, "PARALLEL_MIN_INSTRUCTIONS", 0)
    assert len(chunk_functions(module)) == 4  # 4 instructions per function
    seen: list[tuple[int, int]] = []
    options = CompileOptions()
    serial = precompile_module(module, wasm, options, Features(), jobs=1)
    parallel = precompile_module(module, wasm, options, Features(), jobs=2,
                                 progress=lambda done, total: seen.append((done, total)))
    assert [b.code.obj for b in serial] == [b.code.obj for b in parallel]
    assert seen[0] == (0, 12) and seen[-1] == (12, 12)


def _rewrite_header(data: bytes, **changes: str) -> bytes:
    artifact = read_artifact(data)
    return write_artifact({**artifact.header, **changes}, artifact.wasm, artifact.code)


@pytest.mark.parametrize("field", ["pyjitwasm", "build", "llvm", "cpu", "cpu_features",
                                   "option.heap_style", "option.opt_level", "engine"])
def test_mismatched_artifact_is_refused(field: str) -> None:
    engine = _engine()
    data = _rewrite_header(Module(engine, WAT).serialize(), **{field: "other"})
    with pytest.raises(IncompatibleArtifactError) as info:
        Module.deserialize(engine, data)
    assert info.value.field == field and info.value.artifact_value == "other"
    assert field in str(info.value) and isinstance(info.value, pyjitwasm.WasmError)


def test_artifact_from_other_options_or_engine_is_refused() -> None:
    data = Module(_engine(), WAT).serialize()
    with pytest.raises(IncompatibleArtifactError) as info:
        Module.deserialize(_engine(memory_style="dynamic"), data)
    assert info.value.field == "option.heap_style"
    with pytest.raises(IncompatibleArtifactError) as info:
        Module.deserialize(_engine(strategy="winch"), data)
    assert info.value.field == "option.opt_level"
    with pytest.raises(IncompatibleArtifactError) as info:
        Module.deserialize(_engine(strategy="interp"), data)
    assert info.value.field == "engine"


def test_artifact_for_another_cpu_or_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    data = Module(_engine(), WAT).serialize()
    real = fingerprint.host_target()
    monkeypatch.setattr(fingerprint, "host_target",
                        lambda memo_directory=None: {**real, "cpu": "pentium4"})
    with pytest.raises(IncompatibleArtifactError, match="cpu"):
        Module.deserialize(_engine(), data)
    monkeypatch.setattr(fingerprint, "host_target", lambda memo_directory=None: real)
    monkeypatch.setattr(pyjitwasm, "__version__", "99.0")
    with pytest.raises(IncompatibleArtifactError, match="pyjitwasm"):
        Module.deserialize(_engine(), data)


def test_other_format_version_is_refused() -> None:
    data = bytearray(Module(_engine(), WAT).serialize())
    struct.pack_into("<I", data, len(ARTIFACT_MAGIC), 99)
    with pytest.raises(IncompatibleArtifactError, match="format"):
        Module.deserialize(_engine(), bytes(data))


@pytest.mark.parametrize("damage", ["flip", "truncate", "append", "magic", "empty"])
def test_corrupted_artifact_is_detected(damage: str) -> None:
    engine = _engine()
    data = Module(engine, WAT).serialize()
    if damage == "flip":
        at = len(data) // 2
        data = data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]
    elif damage == "truncate":
        data = data[:-1000]
    elif damage == "append":
        data += b"\0"
    elif damage == "magic":
        data = b"\0asm" + data[4:]
    else:
        data = b""
    with pytest.raises(CorruptArtifactError):
        Module.deserialize(engine, data)


def test_artifact_with_a_module_not_matching_its_hash_is_refused() -> None:
    data = Module(_engine(), WAT).serialize()
    artifact = read_artifact(data)
    other = wat2wasm("(module)")
    forged = write_artifact(artifact.header, other, artifact.code)
    with pytest.raises(CorruptArtifactError, match="hash"):
        Module.deserialize(_engine(), forged)


def test_header_is_readable_json() -> None:
    data = Module(_engine(), WAT).serialize()
    (size,) = struct.unpack_from("<I", data, len(ARTIFACT_MAGIC) + 12)
    header = json.loads(data[len(ARTIFACT_MAGIC) + 16:len(ARTIFACT_MAGIC) + 16 + size])
    assert header["engine"] == "jit" and header["cpu"] and header["llvm"]
    assert header["module_sha256"] == hashlib.sha256(wat2wasm(WAT)).hexdigest()


# Config.cache --------------------------------------------------------------------------


def _use(engine: Engine) -> None:
    module = Module(engine, WAT)
    store = Store(engine)
    exports = Instance(store, module, []).exports(store)
    assert exports["fact"](store, 5) == 120
    assert exports["indirect"](store, 0, 4) == 8


@pytest.mark.parametrize("lazy", [True, False])
def test_config_cache_directory_warm_start_compiles_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, lazy: bool) -> None:
    compiles = count_compiles(monkeypatch)
    _use(_engine(cache=str(tmp_path), lazy_compilation=lazy))
    cold = len(compiles)
    assert cold > 0
    _use(_engine(cache=str(tmp_path), lazy_compilation=lazy))
    assert len(compiles) == cold
    _use(_engine(lazy_compilation=lazy))  # no cache: compiles again
    assert len(compiles) > cold


def test_config_cache_true_uses_pyjitwasm_cache_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_CACHE", str(tmp_path / "env-cache"))
    config = Config()
    config.cache = True
    assert config.cache_directory == str(tmp_path / "env-cache")
    _use(Engine(config))
    assert any((tmp_path / "env-cache").rglob("*"))


def test_config_cache_true_honours_xdg_and_the_off_switch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYJITWASM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    config = Config()
    config.cache = True
    assert config.cache_directory == str(tmp_path / "pyjitwasm")
    monkeypatch.setenv("PYJITWASM_CACHE", "0")
    config = Config()
    config.cache = True
    assert config.cache_directory is None


def test_config_cache_toml_file(tmp_path: Path) -> None:
    toml = tmp_path / "cache.toml"
    toml.write_text('[cache]\nenabled = true\ndirectory = "entries"\n')
    config = Config()
    config.cache = str(toml)
    assert config.cache_directory == str(tmp_path / "entries")
    toml.write_text("[cache]\nenabled = false\n")
    config = Config()
    config.cache = str(toml)
    assert config.cache_directory is None
    toml.write_text("[cache\n")
    with pytest.raises(pyjitwasm.WasmError):
        Config().cache = str(toml)


def test_unwritable_cache_directory_warns_once_and_runs(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    toml = tmp_path / "cache.toml"
    toml.write_text(f'[cache]\ndirectory = "{blocker / "cache"}"\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _use(_engine(cache=str(toml)))
        _use(_engine(cache=str(toml)))
    assert [w.category for w in caught] == [CodeCacheWarning]


# The command line ----------------------------------------------------------------------

PROGRAM = """(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 8) "hi from cwasm\\n")
  (func $main (export "_start")
    (i32.store (i32.const 0) (i32.const 8))
    (i32.store (i32.const 4) (i32.const 14))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 100)))
    (call $exit (i32.const 3)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1))))
"""


@pytest.fixture
def program(tmp_path: Path) -> Path:
    path = tmp_path / "prog.wasm"
    path.write_bytes(wat2wasm(PROGRAM))
    return path


def test_cli_compile_then_run_cwasm(program: Path, tmp_path: Path,
                                    capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "prog.cwasm"
    assert main(["compile", str(program), "-o", str(out), "-j", "1"]) == 0
    assert "prog.cwasm" in capfd.readouterr().err
    assert out.read_bytes().startswith(ARTIFACT_MAGIC)
    assert main(["run", str(out)]) == 3
    assert capfd.readouterr().out == "hi from cwasm\n"
    assert main(["run", "--invoke", "div", str(out), "7", "2"]) == 0
    assert capfd.readouterr().out == "3\n"
    assert main(["run", "--invoke", "div", str(out), "7", "0"]) == 134
    assert "divide by zero" in capfd.readouterr().err


def test_cli_compile_default_output_name(program: Path) -> None:
    assert main(["compile", "-q", str(program)]) == 0
    assert program.with_suffix(".cwasm").read_bytes().startswith(ARTIFACT_MAGIC)


def test_cli_run_refuses_a_mismatched_cwasm(program: Path, tmp_path: Path,
                                            capfd: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "prog.cwasm"
    assert main(["compile", "-q", "--memory-style", "dynamic", str(program), "-o",
                 str(out)]) == 0
    assert main(["run", str(out)]) == 1
    err = capfd.readouterr().err
    assert "incompatible" in err and "heap_style" in err


def test_cli_run_uses_the_cache_unless_told_not_to(program: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("PYJITWASM_CACHE", str(cache))
    assert main(["run", "--no-cache", str(program)]) == 3
    assert not cache.exists()
    assert main(["run", str(program)]) == 3
    assert any(p.is_file() for p in cache.rglob("*"))
    monkeypatch.setenv("PYJITWASM_CACHE", "0")
    other = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(other))
    assert main(["run", str(program)]) == 3
    assert not other.exists()


def test_warm_start_skips_validation_but_cold_start_validates(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm import ValidationError, jit_engine

    _use(_engine(cache=str(tmp_path)))
    calls: list[int] = []
    real = jit_engine.validate_module
    monkeypatch.setattr(jit_engine, "validate_module",
                        lambda module, early=None: calls.append(1) or real(module, early))
    _use(_engine(cache=str(tmp_path)))
    assert calls == []
    with pytest.raises(ValidationError):  # an invalid module is never noted as valid
        Module(_engine(cache=str(tmp_path)), wat2wasm("(module (func (result i32)))"))
    with pytest.raises(ValidationError):
        Module(_engine(cache=str(tmp_path)), wat2wasm("(module (func (result i32)))"))
    assert calls == [1, 1]


def test_eager_compilation_of_a_large_module_uses_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    from pyjitwasm.runtime.jit import precompile

    funcs = "".join(f"(func (export \"f{i}\") (param i32) (result i32) "
                    f"(i32.add (local.get 0) (i32.const {i})))" for i in range(12))
    monkeypatch.setattr(precompile, "CHUNK_INSTRUCTIONS", 12)
    monkeypatch.setattr(precompile, "PARALLEL_MIN_INSTRUCTIONS", 0)
    monkeypatch.setattr(precompile, "default_jobs", lambda: 2)
    started: list[int] = []
    real = precompile.start_worker
    monkeypatch.setattr(precompile, "start_worker", lambda: started.append(1) or real())
    engine = _engine(lazy_compilation=False)
    module = Module(engine, f"(module {funcs})")
    store = Store(engine)
    exports = Instance(store, module, []).exports(store)
    assert started == [1, 1]
    assert [exports[f"f{i}"](store, 100) for i in (0, 5, 11)] == [100, 105, 111]
    prepared: Any = module._prepared
    assert len(prepared.compiled().batches) == 4  # 3 functions of 4 instructions each


def test_progress_bar_draws_in_place() -> None:
    import io

    from pyjitwasm.commands.compile import ProgressBar

    out = io.StringIO()
    bar = ProgressBar(out)
    bar(0, 4)
    bar(2, 4)
    bar(4, 4)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n")
    assert "2/4 functions" in text and "[" + "#" * ProgressBar.width + "]" in text


def test_workers_do_not_rerun_the_callers_script(tmp_path: Path) -> None:
    # multiprocessing's spawn would import this script again in every worker: it has no
    # __main__ guard, so each import would append a line.
    import subprocess
    import sys

    marks = tmp_path / "marks"
    script = tmp_path / "script.py"
    script.write_text(f"""
from pyjitwasm import Engine, Module
from pyjitwasm.runtime.jit import precompile
open({str(marks)!r}, "a").write("ran\\n")
precompile.CHUNK_INSTRUCTIONS = 4
precompile.PARALLEL_MIN_INSTRUCTIONS = 0
funcs = "".join(f'(func (export "f{{i}}") (result i32) (i32.const {{i}}))' for i in range(4))
data = Module(Engine(), f"(module {{funcs}})").serialize(jobs=2)
print(len(data))
""")
    proc = subprocess.run([sys.executable, "-P", str(script)], capture_output=True, text=True,
                          timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert marks.read_text() == "ran\n"
