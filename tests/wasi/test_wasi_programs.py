"""WASI end to end: C programs (tests/wasi_programs, examples/hello.c) compiled with
zig's clang and run through the WASI API and ``pyjitwasm run`` on each engine."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyjitwasm import Config, Engine, Linker, Module, Store, Trap
from pyjitwasm.commands import run as run_command
from pyjitwasm.wasi import ExitTrap, WasiConfig, define_wasi, set_wasi

ROOT = Path(__file__).resolve().parents[2]
PROGRAMS = Path(__file__).resolve().parent / "wasi_programs"
CC_FLAGS = ["--target=wasm32-wasi", "-O2", "-Wl,--strip-debug"]
CACHE = ROOT / "build" / "test-wasi"


def compile_c(source: Path) -> Path:
    """Compile ``source`` to a WASI command, cached under build/ by a hash of its text."""
    digest = hashlib.sha256(source.read_bytes() + " ".join(CC_FLAGS).encode()).hexdigest()
    out = CACHE / f"{source.stem}-{digest[:16]}.wasm"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(f".{os.getpid()}.tmp")
        subprocess.run([sys.executable, "-m", "ziglang", "cc", *CC_FLAGS, "-o", str(tmp),
                        str(source)], check=True, capture_output=True)
        os.replace(tmp, out)
    return out


@pytest.fixture(scope="module")
def basics() -> Path:
    return compile_c(PROGRAMS / "basics.c")


@pytest.fixture(scope="module")
def files() -> Path:
    return compile_c(PROGRAMS / "files.c")


ENGINES = ["interp", "jit"]
_engine = ENGINES[0]


@pytest.fixture(params=ENGINES, autouse=True)
def engine(request: pytest.FixtureRequest) -> str:
    """Every program test runs on each engine."""
    global _engine
    _engine = request.param
    return _engine


def cli(argv: list[str]) -> int:
    """``pyjitwasm run --engine ENGINE ...`` in-process, on the current test's engine."""
    from pyjitwasm.cli import main

    if "--engine" not in argv:
        argv = ["--engine", _engine, *argv]
    return main(["run", *argv])


def run_api(wasm: Path, config: WasiConfig) -> int:
    """Run a command module through the embedding API; its exit code."""
    engine = Engine(Config(strategy=_engine))
    store = Store(engine)
    set_wasi(store, config)
    linker = Linker(engine)
    define_wasi(linker)
    instance = linker.instantiate(store, Module.from_file(engine, wasm))
    try:
        instance.exports(store)["_start"](store)
    except ExitTrap as e:
        return e.code
    return 0


def checks(output: str) -> tuple[list[str], list[str]]:
    lines = output.splitlines()
    return ([ln[3:] for ln in lines if ln.startswith("ok ")],
            [ln for ln in lines if ln.startswith("FAIL")])


def test_argv_env_clocks_random_through_api(basics: Path, tmp_path: Path) -> None:
    config = WasiConfig()
    config.argv = ["basics", "hello", "two words", "ünïcode"]
    config.env = {"GREETING": "bonjour", "OTHER": "x=y"}
    out = tmp_path / "out.txt"
    config.stdout_file = out
    assert run_api(basics, config) == 0
    text = out.read_text("utf-8")
    assert "argc=4\nargv[0]=basics\nargv[1]=hello\nargv[2]=two words\nargv[3]=ünïcode\n" in text
    assert "GREETING=bonjour\nenviron count=2\n" in text
    ok, failed = checks(text)
    assert failed == []
    for name in ("realtime after 2020", "nanosleep 20ms", "random differs", "process cputime",
                 "unknown clock is EINVAL", "proc_raise is ENOSYS", "poll stdout writable",
                 "stdout does not seek", "close of a closed fd"):
        assert name in ok


def test_stdin_file_and_exit_code_through_api(basics: Path, tmp_path: Path) -> None:
    config = WasiConfig()
    config.argv = ["basics", "stdin"]
    (tmp_path / "in.txt").write_bytes(b"some input\nlines\n")
    config.stdin_file = tmp_path / "in.txt"
    config.stdout_file = tmp_path / "out.txt"
    assert run_api(basics, config) == 0
    assert (tmp_path / "out.txt").read_text() == "read 17 bytes: SOME INPUT\nLINES\n"
    config.argv = ["basics", "exit", "42"]
    assert run_api(basics, config) == 42


def test_no_stdio_configured_reads_eof_and_discards(basics: Path) -> None:
    config = WasiConfig()
    config.argv = ["basics", "stdin"]
    assert run_api(basics, config) == 0  # writes go nowhere, stdin is empty


def test_run_hello_with_env(basics: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--env", "GREETING=hey", str(basics), "hello", "x"]) == 0
    out = capsys.readouterr().out
    assert f"argv[0]={basics}\nargv[1]=hello\nargv[2]=x\n" in out
    assert "GREETING=hey\nenviron count=1\n" in out
    assert checks(out)[1] == []


def test_run_env_inherits_named_variable(basics: Path, capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREETING", "from host")
    assert cli(["--env", "GREETING", str(basics)]) == 0
    assert "GREETING=from host\n" in capsys.readouterr().out


@pytest.mark.parametrize("code", [0, 3, 255])
def test_run_exit_codes(basics: Path, code: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli([str(basics), "exit", str(code)]) == code
    assert capsys.readouterr().out == f"exiting with {code}\n"


def test_run_stdin(basics: Path, capsys: pytest.CaptureFixture[str],
                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"piped text\n")))
    assert cli([str(basics), "stdin"]) == 0
    assert capsys.readouterr().out == "read 11 bytes: PIPED TEXT\n"


def test_run_trap_prints_backtrace(basics: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli([str(basics), "trap"]) == run_command.TRAP_EXIT_STATUS == 134
    err = capsys.readouterr().err
    # Laid out as `wasmtime run` prints it.
    assert "error while executing at wasm backtrace:" in err and "    0: " in err
    assert "Caused by:\n    wasm trap: wasm `unreachable` instruction executed" in err


def test_trap_through_api_is_a_trap_not_an_exit(basics: Path) -> None:
    config = WasiConfig()
    config.argv = ["basics", "trap"]
    with pytest.raises(Trap) as info:
        run_api(basics, config)
    assert not isinstance(info.value, ExitTrap)


def test_out_of_bounds_pointers_fault(basics: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["--dir", f"{tmp_path}::/d", str(basics), "badptr"]) == 0
    out = capsys.readouterr().out
    ok, failed = checks(out)
    assert failed == []
    assert len(ok) == 10 and "should not appear" not in out
    assert list(tmp_path.iterdir()) == []  # the faulting path_open created nothing


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """tmp/sandbox (given to the guest) beside files the guest must not reach."""
    box = tmp_path / "sandbox"
    box.mkdir()
    (tmp_path / "outside.txt").write_text("outside")
    (tmp_path / "outdir").mkdir()
    (tmp_path / "outdir" / "secret.txt").write_text("secret")
    (box / "hostlink").symlink_to(tmp_path / "outdir")
    return box


def test_files_and_sandbox(files: Path, sandbox: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    status = cli(["--dir", f"{sandbox}::/sandbox", str(files), "/sandbox"])
    out = capsys.readouterr().out
    ok, failed = checks(out)
    assert failed == [] and status == 0
    assert len(ok) == 72
    for name in ("read after seek", "readdir 60 files", "rename", "rmdir", "hard link",
                 "times set", "../ escape", "absolute path", "absolute symlink in the path",
                 "relative symlink escape", "symlink loop", "symlink within the sandbox"):
        assert name in ok
    parent = sandbox.parent
    assert sorted(p.name for p in parent.iterdir()) == ["outdir", "outside.txt", "sandbox"]
    assert (parent / "outside.txt").read_text() == "outside"
    assert (parent / "outdir" / "secret.txt").read_text() == "secret"
    # What the guest did inside is visible on the host.
    assert (sandbox / "hard").read_text() == "target"
    assert os.readlink(sandbox / "link") == "target.txt"
    assert len(list((sandbox / "many").iterdir())) == 60


def test_run_examples_hello(capsys: pytest.CaptureFixture[str]) -> None:
    wasm = compile_c(ROOT / "examples" / "hello.c")
    assert cli([str(wasm), "Ada"]) == 0
    out = capsys.readouterr().out
    assert out == ("hello, Ada, from WebAssembly\nfib(90) = 2880067194370816120\n"
                   "primes below 100000: 9592\nAda has 3 letters\n")


def test_run_invoke(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wat = tmp_path / "m.wat"
    wat.write_text("""(module
      (func (export "add") (param i32 i64) (result i64)
        (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
      (func (export "pair") (param f64) (result f64 i32)
        (local.get 0) (i32.const 7)))""")
    assert cli(["--invoke", "add", str(wat), "-5", "0x10"]) == 0
    assert capsys.readouterr().out == "11\n"
    assert cli(["--invoke", "pair", str(wat), "2.5"]) == 0
    assert capsys.readouterr().out == "2.5\n7\n"
    assert cli(["--invoke", "add", str(wat), "1"]) == 1
    assert "expects 2 arguments" in capsys.readouterr().err
    assert cli(["--invoke", "add", str(wat), "x", "1"]) == 1
    assert "not a valid i32" in capsys.readouterr().err


def test_run_reports_load_and_link_errors(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert cli([str(tmp_path / "missing.wasm")]) == 1
    assert "cannot read" in capsys.readouterr().err
    wat = tmp_path / "needs.wat"
    wat.write_text('(module (import "env" "f" (func)) (func (export "_start")))')
    assert cli([str(wat)]) == 1
    assert "env::f" in capsys.readouterr().err
    lib = tmp_path / "lib.wat"
    lib.write_text('(module (func (export "f")))')
    assert cli([str(lib)]) == 1
    assert "no _start" in capsys.readouterr().err
    assert cli(["--dir", str(tmp_path / "nodir"), str(lib)]) == 1
    assert "not a directory" in capsys.readouterr().err
