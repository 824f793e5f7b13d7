"""``pyjitwasm run [options] MODULE [ARGS...]``: run a WASI command module, like
``wasmtime run``.

The module is instantiated with every wasi_snapshot_preview1 import, the host's stdin,
stdout and stderr, the ``--dir`` directories and the ``--env`` variables, and its
``_start`` export is called with ``argv = [MODULE, ARGS...]``. With ``--invoke NAME`` the
export ``NAME`` is called instead (after ``_initialize`` if the module has one), with
ARGS converted to its parameter types, and its results are printed one per line.

Bounding the guest, as in ``wasmtime run``: ``-W timeout=2s`` stops it after that long
(an epoch deadline a timer thread reaches: units ``ms``, ``s``, ``m``, ``h``, a bare
number is seconds), ``--fuel N`` after it has executed N instructions (fuel, see
``Store.set_fuel``); either ends as a trap. Ctrl-C stops it too. ``-W custom-page-sizes``
accepts modules whose memories have 1-byte pages (the custom page sizes proposal, off
by default as in wasmtime).

Exit status: the code the program passed to ``proc_exit`` (0 if ``_start`` returns). A
code outside 0..255 is reported as its low byte, or 1 when that byte is 0, so a failure
never reads as success. A trap prints the trap message and the wasm backtrace to stderr
and exits with 134 (128 + SIGABRT, as wasmtime does on Unix); a module that cannot be
loaded or linked exits with 1; Ctrl-C exits with 130 (128 + SIGINT).

MODULE may be a ``.cwasm`` made by ``pyjitwasm compile`` (loaded without compiling).
Compiled code is kept in the code cache (``$XDG_CACHE_HOME/pyjitwasm``, or the directory
``$PYJITWASM_CACHE`` names), so a second run of the same module compiles nothing;
``--no-cache`` or ``PYJITWASM_CACHE=0`` turns it off.

``-v`` prints to stderr, as it happens, each batch of functions compiled (lazily, or
loaded from the cache or a ``.cwasm``) and each background tier-up, with their times,
and at the end a summary line: functions compiled, compile seconds, tier-ups, cache
hits, time to the first wasm instruction (``-vv`` names every function of a batch).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from typing import Any

from pyjitwasm.cache_config import default_cache_off
from pyjitwasm.commands.compile import open_module
from pyjitwasm.commands.compile_report import CompileReport, compile_report
from pyjitwasm.commands.loading import CommandError
from pyjitwasm.config import STRATEGIES, Config
from pyjitwasm.engine import Engine
from pyjitwasm.externs import Func
from pyjitwasm.linker import Linker
from pyjitwasm.runtime.errors import LinkError, Trap
from pyjitwasm.store import Store
from pyjitwasm.valtypes import ValType
from pyjitwasm.wasi import ExitTrap, WasiConfig, define_wasi, set_wasi
from pyjitwasm.wasm.errors import WasmError

TRAP_EXIT_STATUS = 134
"""Exit status after a trap: 128 + SIGABRT, what wasmtime uses on Unix."""
INTERRUPTED_EXIT_STATUS = 130
"""Exit status after Ctrl-C: 128 + SIGINT, as a shell reports a process it interrupted."""

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run a WASI command module (like wasmtime run)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", action="append", default=[], metavar="HOST[::GUEST]",
                   help="give the guest a host directory (under GUEST, default: HOST)")
    p.add_argument("--env", action="append", default=[], metavar="NAME[=VALUE]",
                   help="set an environment variable (NAME alone passes the host's value)")
    p.add_argument("--invoke", metavar="NAME",
                   help="call export NAME with ARGS instead of running _start")
    p.add_argument("--engine", choices=STRATEGIES, default="auto",
                   help="execution strategy (default: auto)")
    p.add_argument("--no-cache", action="store_true",
                   help="do not use the code cache (also: PYJITWASM_CACHE=0)")
    p.add_argument("-W", dest="wasm_options", action="append", default=[],
                   metavar="OPTION=VALUE",
                   help="a wasm option; supported: timeout=DURATION (e.g. 2s, 500ms): "
                        "trap once the guest has run that long; custom-page-sizes[=y|n]: "
                        "accept memories of 1-byte pages (off by default)")
    p.add_argument("--fuel", type=int, metavar="N",
                   help="trap once the guest has executed N instructions")
    p.add_argument("-v", "--verbose", action="count", default=0,
                   help="print what is compiled and when, and a summary, to stderr "
                        "(-vv: every function of a batch)")
    p.add_argument("module", help="the .wasm, .wat or .cwasm (pyjitwasm compile) module")
    p.add_argument("args", nargs=argparse.REMAINDER, help="arguments for the program")
    p.set_defaults(func=run)


def exit_status(code: int) -> int:
    """The process exit status for a ``proc_exit`` code (see the module docstring)."""
    code &= 0xFFFFFFFF
    if code <= 255:
        return code
    return code & 0xFF or 1


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``2s``, ``500ms``, ``1.5m`` or ``3`` (seconds)."""
    number, unit = text.strip(), "s"
    for suffix in sorted(_DURATION_UNITS, key=len, reverse=True):
        if number.endswith(suffix):
            number, unit = number[: -len(suffix)], suffix
            break
    try:
        seconds = float(number) * _DURATION_UNITS[unit]
    except ValueError:
        raise CommandError(f"invalid duration {text!r} (expected e.g. 2s or 500ms)") from None
    if seconds < 0:
        raise CommandError(f"invalid duration {text!r}: negative")
    return seconds


_SUPPORTED_W = "timeout=DURATION, custom-page-sizes[=y|n]"
_BOOLEANS = {"": True, "y": True, "yes": True, "true": True,
             "n": False, "no": False, "false": False}


def _wasm_options(options: list[str]) -> tuple[float | None, bool]:
    """The ``-W`` options: the timeout in seconds (the last one given) or None, and
    whether the custom page sizes proposal is on (``custom-page-sizes``, wasmtime's
    spelling; a bare name means ``=y``)."""
    timeout, custom_page_sizes = None, False
    for option in options:
        name, sep, value = option.partition("=")
        if name == "timeout" and sep:
            timeout = parse_duration(value)
        elif name == "custom-page-sizes" and value.lower() in _BOOLEANS:
            custom_page_sizes = _BOOLEANS[value.lower()]
        else:
            raise CommandError(f"-W {option}: unsupported option (supported: {_SUPPORTED_W})")
    return timeout, custom_page_sizes


def _start_timer(engine: Engine, seconds: float) -> None:
    """Reach the store's epoch deadline (1) after ``seconds``, from a daemon thread."""
    timer = threading.Timer(seconds, engine.increment_epoch)
    timer.daemon = True
    timer.start()


def _wasi_config(args: argparse.Namespace) -> WasiConfig:
    config = WasiConfig()
    config.argv = [args.module, *args.args]
    env = []
    for item in args.env:
        name, sep, value = item.partition("=")
        if not name:
            raise CommandError(f"--env {item!r}: expected NAME=VALUE")
        if not sep:
            if name not in os.environ:
                continue
            value = os.environ[name]
        env.append((name, value))
    config.env = env
    config.inherit_stdin()
    config.inherit_stdout()
    config.inherit_stderr()
    for item in args.dir:
        host, sep, guest = item.partition("::")
        try:
            config.preopen_dir(host, guest if sep else host)
        except ValueError as e:
            raise CommandError(f"--dir {item}: {e}") from None
    return config


def _parse_arg(text: str, valtype: ValType) -> Any:
    try:
        if valtype in (ValType.i32(), ValType.i64()):
            value = int(text, 0)
            bits = 32 if valtype == ValType.i32() else 64
            if not -(1 << (bits - 1)) <= value < (1 << bits):
                raise ValueError(f"out of range for i{bits}")
            return value
        if valtype in (ValType.f32(), ValType.f64()):
            return float(text)
    except ValueError as e:
        raise CommandError(f"argument {text!r}: not a valid {valtype}: {e}") from None
    raise CommandError(f"cannot pass a {valtype} from the command line")


def _invoke(store: Store, exports: Any, name: str, texts: list[str]) -> None:
    func = exports.get(name)
    if not isinstance(func, Func):
        raise CommandError(f"{name!r} is not an exported function")
    params = func.type(store).params
    if len(texts) != len(params):
        raise CommandError(f"{name!r} expects {len(params)} arguments, got {len(texts)}")
    values = [_parse_arg(t, p) for t, p in zip(texts, params, strict=True)]
    init = exports.get("_initialize")
    if isinstance(init, Func):
        init(store)
    result = func(store, *values)
    if result is None:
        return
    for value in result if isinstance(result, list) else (result,):
        print(value)


def _engine_config(args: argparse.Namespace) -> Config:
    config = Config(strategy=args.engine)
    # The code cache is on unless --no-cache or PYJITWASM_CACHE=0 says otherwise.
    if not args.no_cache and not default_cache_off():
        config.cache = True
    return config


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    with compile_report(args.verbose, sys.stderr, started) as report:
        status = _run(args, report)
        if report is not None:
            _flush()
            print(report.summary(), file=sys.stderr)
        return status


def _run(args: argparse.Namespace, report: CompileReport | None) -> int:
    timeout, custom_page_sizes = _wasm_options(args.wasm_options)
    if args.fuel is not None and args.fuel < 0:
        raise CommandError("--fuel: expected a non-negative number")
    config = _engine_config(args)
    config.epoch_interruption = timeout is not None
    config.consume_fuel = args.fuel is not None
    config.wasm_custom_page_sizes = custom_page_sizes
    try:
        t0 = time.perf_counter()
        engine = Engine(config)
        module = open_module(engine, args.module)
        if report is not None:
            report.phases["load"] = time.perf_counter() - t0
    except OSError as e:
        raise CommandError(f"{args.module}: cannot read: {e.strerror}") from e
    except WasmError as e:
        raise CommandError(f"{args.module}: {e}") from e
    store = Store(engine)
    if args.fuel is not None:
        store.set_fuel(args.fuel)
    if timeout is not None:
        store.set_epoch_deadline(1)
        _start_timer(engine, timeout)
    try:
        set_wasi(store, _wasi_config(args))
    except OSError as e:
        raise CommandError(f"cannot set up WASI: {e}") from e
    linker = Linker(engine)
    define_wasi(linker)
    try:
        t0 = time.perf_counter()
        instance = linker.instantiate(store, module)
        exports = instance.exports(store)
        if report is not None:
            report.phases["instantiate"] = time.perf_counter() - t0
            report.mark_entry()
        if args.invoke is not None:
            _invoke(store, exports, args.invoke, args.args)
        else:
            start = exports.get("_start")
            if not isinstance(start, Func):
                raise CommandError(f"{args.module}: no _start function to run "
                                   "(use --invoke NAME to call another export)")
            start(store)
    except ExitTrap as e:
        _flush()
        return exit_status(e.code)
    except KeyboardInterrupt:
        _flush()
        return INTERRUPTED_EXIT_STATUS
    except Trap as trap:
        _flush()
        print(f"error: {trap}", file=sys.stderr)
        return TRAP_EXIT_STATUS
    except LinkError as e:
        raise CommandError(f"{args.module}: {e}") from e
    except WasmError as e:
        _flush()
        frames = getattr(e, "wasm_frames", None) or []
        trace = "".join(f"\n  {i}: {frame}" for i, frame in enumerate(frames))
        print(f"error: {e}" + (f"\nwasm backtrace:{trace}" if trace else ""), file=sys.stderr)
        return 1
    _flush()
    return 0


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
