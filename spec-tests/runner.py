"""Runs WebAssembly spec testsuite scripts through pyjitwasm's public embedding API.

Usage: ``python spec-tests/runner.py [--engine interp|jit] [--verbose] [FILE.wast ...]``
(no files: every in-scope file). Prints a per-file table and ``N passed, N failed``.

Each command gets an outcome: pass, fail, not run (execution not in scope or not
available) or skipped (text-format commands, which pyjitwasm does not parse). A command
that needs a module which failed to load is a failure "blocked by" that module's line.
"""

from __future__ import annotations

import argparse
import fnmatch
import inspect
import math
import struct
import sys
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pyjitwasm

from wast import HERE, convert, missing_testsuite_message, testsuite_dir

PASS, FAIL, NOT_RUN, SKIP = "pass", "fail", "not run", "skipped"
VALIDATE = "validate"

# Commands judged by decoding and validation alone.
VALIDATE_COMMANDS = {"assert_malformed", "assert_invalid", "module_definition"}


@dataclass
class Outcome:
    """What happened to one command of a script."""

    line: int
    command: str
    status: str
    phase: str  # "validate" or the engine name
    detail: str = ""
    blocked_by: int | None = None  # line of the module whose failure caused this one


@dataclass
class FileResult:
    name: str
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


# --------------------------------------------------------------------------- manifest


@dataclass
class Manifest:
    out_of_scope: dict[str, str]
    not_executed: dict[str, str]
    expected: dict[str, dict[str, dict[int, str]]]  # phase -> file -> line -> reason
    # engine family ("interp", "jit") -> glob -> reason, beyond ``not_executed``
    not_executed_on: dict[str, dict[str, str]] = field(default_factory=dict)
    # proposals/ folder -> the Config settings its scripts run with (its "config" table)
    proposals: dict[str, dict[str, object]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = HERE / "manifest.toml") -> Manifest:
        with open(path, "rb") as f:
            data = tomllib.load(f)
        expected = {
            phase: {name: {int(line): why for line, why in lines.items()}
                    for name, lines in files.items()}
            for phase, files in data.get("expected", {}).items()
        }
        proposals = {folder: dict(entry.get("config", {}))
                     for folder, entry in data.get("proposals", {}).items()}
        return cls(data["out_of_scope"], data["not_executed"], expected,
                   data.get("not_executed_on", {}), proposals)

    def in_scope(self, name: str) -> bool:
        return name not in self.out_of_scope

    def executed(self, name: str, engine: str) -> bool:
        """Whether ``engine`` (a name the runner takes) runs the file's execution commands."""
        patterns = [*self.not_executed, *self.not_executed_on.get(engine_family(engine), {})]
        return not any(fnmatch.fnmatch(name, pattern) for pattern in patterns)

    def expected_failures(self, phase: str, name: str) -> dict[int, str]:
        return self.expected.get(phase, {}).get(name, {})

    def settings(self, name: str) -> dict[str, object]:
        """The Config settings a script runs with beyond its engine's: those of its
        proposal folder (``proposals/<folder>/x.wast``), none for a core script."""
        parts = name.split("/")
        if len(parts) == 3 and parts[0] == PROPOSALS:
            return self.proposals.get(parts[1], {})
        return {}


PROPOSALS = "proposals"


def script_name(path: Path) -> str:
    """A script's name in the manifest: its path in the testsuite (``binary.wast``,
    ``proposals/custom-page-sizes/binary.wast``), or its file name outside it."""
    suite = testsuite_dir()
    if suite is not None:
        try:
            return path.resolve().relative_to(suite.resolve()).as_posix()
        except ValueError:
            pass
    return path.name


def scope_files(manifest: Manifest) -> list[Path]:
    """The core scripts in scope, then every script of the proposal folders the manifest
    enables (``[proposals."<folder>"]``)."""
    suite = testsuite_dir()
    if suite is None:
        return []
    core = sorted(p for p in suite.glob("*.wast") if manifest.in_scope(p.name))
    proposals = sorted(p for folder in manifest.proposals
                       for p in (suite / PROPOSALS / folder).glob("*.wast")
                       if manifest.in_scope(script_name(p)))
    return core + proposals


# --------------------------------------------------------------------------- values


class ExternRef:
    """The host object the scripts' ``ref.extern N`` stands for."""

    __slots__ = ("n",)

    def __init__(self, n: int) -> None:
        self.n = n

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ExternRef) and other.n == self.n

    def __hash__(self) -> int:
        return hash(("externref", self.n))

    def __repr__(self) -> str:
        return f"ref.extern {self.n}"


_LANES = {"i8": (8, 16), "i16": (16, 8), "i32": (32, 4), "i64": (64, 2), "f32": (32, 4),
          "f64": (64, 2)}


def _v128_from_lanes(lane_type: str, lanes: list[str]) -> int:
    bits, _ = _LANES[lane_type]
    mask = (1 << bits) - 1
    value = 0
    for i, lane in enumerate(lanes):
        value |= (int(lane) & mask) << (i * bits)
    return value


def script_arg(arg: dict) -> object:
    """A command argument as a pyjitwasm Val."""
    Val = pyjitwasm.Val
    t, v = arg["type"], arg.get("value")
    if t == "i32":
        return Val.i32(int(v) & 0xFFFFFFFF)
    if t == "i64":
        return Val.i64(int(v) & 0xFFFFFFFFFFFFFFFF)
    if t == "f32":
        return Val.f32_bits(int(v))
    if t == "f64":
        return Val.f64_bits(int(v))
    if t == "v128":
        return Val.v128(_v128_from_lanes(arg["lane_type"], v))
    if t == "externref":
        return Val.externref(None if v == "null" else ExternRef(int(v)))
    if t == "funcref":
        if v != "null":
            raise NotSupported(f"funcref argument {v}")
        return Val.funcref(None)
    raise NotSupported(f"argument type {t}")


class NotSupported(Exception):
    """A script construct outside what pyjitwasm implements."""


def _f32_matches(expected: str, bits: int) -> bool:
    if expected == "nan:canonical":
        return bits & 0x7FFFFFFF == 0x7FC00000
    if expected == "nan:arithmetic":
        return bits & 0x7FC00000 == 0x7FC00000
    return bits == int(expected) & 0xFFFFFFFF


def _f64_matches(expected: str, bits: int) -> bool:
    if expected == "nan:canonical":
        return bits & 0x7FFFFFFFFFFFFFFF == 0x7FF8000000000000
    if expected == "nan:arithmetic":
        return bits & 0x7FF8000000000000 == 0x7FF8000000000000
    return bits == int(expected) & 0xFFFFFFFFFFFFFFFF


def _float_bits(val: object, width: int) -> int:
    bits = getattr(val, "bits", None)
    if bits is not None:
        return bits
    value = getattr(val, "value", val)
    if width == 32:
        return struct.unpack("<I", struct.pack("<f", value))[0]
    return struct.unpack("<Q", struct.pack("<d", value))[0]


def _int_value(val: object, mask: int) -> int:
    return int(getattr(val, "value", val)) & mask


def result_matches(expected: dict, val: object) -> bool:
    """Whether a returned Val matches a script's expected result."""
    t = expected["type"]
    if t == "either":
        return any(result_matches(e, val) for e in expected["values"])
    v = expected.get("value")
    if t == "i32":
        return _int_value(val, 0xFFFFFFFF) == int(v) & 0xFFFFFFFF
    if t == "i64":
        return _int_value(val, 0xFFFFFFFFFFFFFFFF) == int(v) & 0xFFFFFFFFFFFFFFFF
    if t == "f32":
        return _f32_matches(v, _float_bits(val, 32))
    if t == "f64":
        return _f64_matches(v, _float_bits(val, 64))
    if t == "v128":
        got = _int_value(val, (1 << 128) - 1)
        lane_type = expected["lane_type"]
        bits, count = _LANES[lane_type]
        mask = (1 << bits) - 1
        for i, lane in enumerate(v):
            lane_bits = (got >> (i * bits)) & mask
            if lane_type == "f32":
                ok = _f32_matches(lane, lane_bits)
            elif lane_type == "f64":
                ok = _f64_matches(lane, lane_bits)
            else:
                ok = lane_bits == int(lane) & mask
            if not ok:
                return False
        return len(v) == count
    ref = getattr(val, "value", val)
    if t == "refnull":
        return ref is None
    if t in ("funcref", "externref"):
        if v is None:  # (ref.func) / (ref.extern): any non-null reference
            return ref is not None
        if v == "null":
            return ref is None
        return ref == ExternRef(int(v))
    raise NotSupported(f"result type {t}")


def describe(vals: Iterable[object]) -> str:
    parts = []
    for val in vals:
        value = getattr(val, "value", val)
        bits = getattr(val, "bits", None)
        if isinstance(value, float) and (bits is not None or math.isnan(value)):
            parts.append(f"{value!r} (bits 0x{bits:x})" if bits is not None else repr(value))
        else:
            parts.append(repr(value))
    return "[" + ", ".join(parts) + "]"


# --------------------------------------------------------------------------- spectest


def define_spectest(linker: object, store: object) -> None:
    """The host module the scripts import as "spectest"."""
    api = pyjitwasm
    vt = api.ValType

    def printer(*params: object) -> object:
        return api.Func(store, api.FuncType(list(params), []), lambda *args: None)

    funcs = {
        "print": printer(),
        "print_i32": printer(vt.i32()),
        "print_i64": printer(vt.i64()),
        "print_f32": printer(vt.f32()),
        "print_f64": printer(vt.f64()),
        "print_i32_f32": printer(vt.i32(), vt.f32()),
        "print_f64_f64": printer(vt.f64(), vt.f64()),
    }
    for name, func in funcs.items():
        linker.define(store, "spectest", name, func)
    globals_ = {
        "global_i32": (vt.i32(), api.Val.i32(666)),
        "global_i64": (vt.i64(), api.Val.i64(666)),
        "global_f32": (vt.f32(), api.Val.f32_bits(0x4426A666)),  # 666.6
        "global_f64": (vt.f64(), api.Val.f64_bits(0x4084D4CCCCCCCCCD)),  # 666.6
    }
    for name, (ty, value) in globals_.items():
        linker.define(store, "spectest", name, api.Global(store, api.GlobalType(ty, False), value))
    linker.define(store, "spectest", "table",
                  api.Table(store, api.TableType(vt.funcref(), 10, 20), None))
    linker.define(store, "spectest", "table64",
                  api.Table(store, api.TableType(vt.funcref(), 10, 20, is_64=True), None))
    linker.define(store, "spectest", "memory", api.Memory(store, api.MemoryType(1, 2)))


# --------------------------------------------------------------------------- scripts


ENGINE_VARIANTS = {
    # name -> Config arguments; the JIT with 32-bit memories bounds-checked explicitly.
    "jit-dynamic": {"strategy": "jit", "memory_style": "dynamic"},
    # The JIT with every tier-0 function translated through the IR (the default writes
    # most of them straight to LLVM text: baseline/).
    "jit-ir-tier0": {"strategy": "jit", "direct_tier0": False, "tier0_x64": False},
    # The JIT with every tier-0 batch compiled by LLVM from the direct emitter's text
    # (the default compiles those the single-pass x86-64 compiler covers without LLVM:
    # x64/).
    "jit-llvm-tier0": {"strategy": "jit", "tier0_x64": False},
    # The JIT with relaxed SIMD in Wasmtime's deterministic mode (the default is the
    # host's native results, as in Wasmtime); run on the relaxed-SIMD scripts.
    "jit-relaxed-deterministic": {"strategy": "jit", "relaxed_simd_deterministic": True},
}


def engine_family(name: str) -> str:
    """The strategy an engine name runs (``jit-dynamic`` is the ``jit``)."""
    return str(ENGINE_VARIANTS.get(name, {}).get("strategy", name))


def engine_config(name: str, extra: dict[str, object] | None = None) -> object:
    """The Config an engine name stands for (a strategy, or one of ENGINE_VARIANTS) plus
    ``extra`` settings (a proposal's); settings Config's constructor does not take are
    set as attributes, as wasmtime-py's Config is configured."""
    settings = dict(ENGINE_VARIANTS.get(name, {"strategy": name}))
    settings.update(extra or {})
    constructor = inspect.signature(pyjitwasm.Config).parameters
    config = pyjitwasm.Config(**{key: settings.pop(key) for key in list(settings)
                                 if key in constructor})
    for key, value in settings.items():
        setattr(config, key, value)
    return config


class ScriptRunner:
    """Runs one script's commands in order against one engine."""

    def __init__(self, commands: list[dict], wasm_dir: Path, engine_name: str,
                 execute: bool, settings: dict[str, object] | None = None) -> None:
        self.commands = commands
        self.wasm_dir = wasm_dir
        self.engine_name = engine_name
        self.execute = execute and hasattr(pyjitwasm, "Linker")
        self.engine = pyjitwasm.Engine(engine_config(engine_name, settings))
        self.outcomes: list[Outcome] = []
        if self.execute:
            self.store = pyjitwasm.Store(self.engine)
            self.linker = pyjitwasm.Linker(self.engine)
            self.linker.allow_shadowing = True
            define_spectest(self.linker, self.store)
        self.instances: dict[str | None, object] = {}
        self.definitions: dict[str | None, object] = {}
        # Module name (None = current) -> line of the module command that failed to load.
        self.broken: dict[str | None, int] = {}
        # Registered name -> line of the failed module that should have been registered.
        self.broken_registrations: dict[str, int] = {}
        # Module definition name -> line of the module definition that failed to compile.
        self.broken_definitions: dict[str | None, int] = {}
        # Command type -> its handler; a type missing here is recorded as a failure.
        self.handlers: dict[str, Callable[[dict], None]] = {
            "module": self._cmd_module,
            "module_definition": self._cmd_module_definition,
            "module_instance": self._cmd_module_instance,
            "register": self._cmd_register,
            "action": self._cmd_action,
            "assert_return": self._cmd_assert_return,
            "assert_trap": self._cmd_assert_trap,
            "assert_exhaustion": self._cmd_assert_exhaustion,
            "assert_malformed": self._cmd_assert_malformed,
            "assert_invalid": self._cmd_assert_invalid,
            "assert_unlinkable": self._cmd_assert_unlinkable,
            "assert_uninstantiable": self._cmd_assert_uninstantiable,
            "assert_exception": self._cmd_assert_exception,
        }

    # -- helpers

    def _record(self, cmd: dict, status: str, phase: str, detail: str = "",
                blocked_by: int | None = None) -> None:
        self.outcomes.append(Outcome(cmd["line"], cmd["type"], status, phase, detail, blocked_by))

    def _binary(self, cmd: dict) -> bytes | None:
        if cmd.get("module_type") == "binary":
            return (self.wasm_dir / cmd["filename"]).read_bytes()
        if "binary_filename" in cmd:  # a text module wasm-tools could assemble
            return (self.wasm_dir / cmd["binary_filename"]).read_bytes()
        return None

    def _compile(self, data: bytes) -> object:
        return pyjitwasm.Module(self.engine, data)

    # -- commands

    def run(self) -> list[Outcome]:
        for cmd in self.commands:
            handler = self.handlers.get(cmd["type"])
            if handler is None:
                self._record(cmd, FAIL, self.engine_name, f"unknown command {cmd['type']}")
                continue
            try:
                handler(cmd)
            except NotSupported as e:
                self._record(cmd, FAIL, self._phase(cmd), f"not supported: {e}")
        return self.outcomes

    def _phase(self, cmd: dict) -> str:
        return VALIDATE if cmd["type"] in VALIDATE_COMMANDS else self.engine_name

    def _cmd_assert_malformed(self, cmd: dict) -> None:
        self._expect_rejection(cmd, pyjitwasm.DecodeError, "malformed")

    def _cmd_assert_invalid(self, cmd: dict) -> None:
        self._expect_rejection(cmd, pyjitwasm.ValidationError, "invalid")

    def _expect_rejection(self, cmd: dict, error: type, what: str) -> None:
        data = self._binary(cmd)
        if data is None:
            self._record(cmd, SKIP, VALIDATE, "text format")
            return
        try:
            self._compile(data)
        except error:
            self._record(cmd, PASS, VALIDATE)
            return
        except pyjitwasm.WasmError as e:
            self._record(cmd, FAIL, VALIDATE,
                         f"expected {what} ({cmd['text']}), got {type(e).__name__}: {e}")
            return
        self._record(cmd, FAIL, VALIDATE, f"expected {what} ({cmd['text']}), module accepted")

    def _load(self, cmd: dict) -> object | None:
        """Compile a module command's binary; record a failure and return None if it fails."""
        data = self._binary(cmd)
        if data is None:
            self._record(cmd, SKIP, VALIDATE, "text format")
            return None
        try:
            return self._compile(data)
        except pyjitwasm.WasmError as e:
            self._record(cmd, FAIL, VALIDATE, f"{type(e).__name__}: {e}")
            return None

    def _cmd_module(self, cmd: dict) -> None:
        name = cmd.get("name")
        module = self._load(cmd)
        if module is None:
            self.broken[None] = self.broken[name] = cmd["line"]
            return
        if not self.execute:
            self._record(cmd, PASS, VALIDATE, "compiled; not instantiated")
            return
        try:
            instance = self.linker.instantiate(self.store, module)
        except (pyjitwasm.WasmError, pyjitwasm.Trap, NotImplementedError) as e:
            # NotImplementedError: the JIT compiles at instantiation and meets an
            # instruction it cannot translate yet.
            self.broken[None] = self.broken[name] = cmd["line"]
            self._record(cmd, FAIL, self.engine_name, f"instantiation: {type(e).__name__}: {e}",
                         self._blocking_registration(module))
            return
        self._set_current(name, instance)
        self._record(cmd, PASS, self.engine_name)

    def _blocking_registration(self, module: object) -> int | None:
        """The failed module's line, if this module imports from a name it should have had."""
        for imp in module.imports:
            if imp.module in self.broken_registrations:
                return self.broken_registrations[imp.module]
        return None

    def _set_current(self, name: str | None, instance: object) -> None:
        self.instances[None] = instance
        self.broken.pop(None, None)
        if name is not None:
            self.instances[name] = instance
            self.broken.pop(name, None)

    def _cmd_module_definition(self, cmd: dict) -> None:
        module = self._load(cmd)
        if module is None:
            self.broken_definitions[cmd.get("name")] = cmd["line"]
            return
        self.definitions[cmd.get("name")] = module
        self._record(cmd, PASS, VALIDATE, "compiled")

    def _cmd_module_instance(self, cmd: dict) -> None:
        if not self._can_execute(cmd):
            return
        module = self.definitions.get(cmd.get("module"))
        if module is None:
            line = self.broken_definitions.get(cmd.get("module"))
            self.broken[cmd.get("instance")] = line if line is not None else cmd["line"]
            self._record(cmd, FAIL, self.engine_name, "module definition missing", line)
            return
        try:
            instance = self.linker.instantiate(self.store, module)
        except (pyjitwasm.WasmError, pyjitwasm.Trap) as e:
            self.broken[cmd.get("instance")] = cmd["line"]
            self._record(cmd, FAIL, self.engine_name, f"instantiation: {e}",
                         self._blocking_registration(module))
            return
        self._set_current(cmd.get("instance"), instance)
        self._record(cmd, PASS, self.engine_name)

    def _can_execute(self, cmd: dict) -> bool:
        if not self.execute:
            self._record(cmd, NOT_RUN, self.engine_name)
        return self.execute

    def _instance(self, cmd: dict, name: str | None) -> object | None:
        if name in self.broken:
            self._record(cmd, FAIL, self.engine_name, "its module failed to load",
                         self.broken[name])
            return None
        instance = self.instances.get(name)
        if instance is None:
            self._record(cmd, FAIL, self.engine_name, f"no module {name!r}")
        return instance

    def _cmd_register(self, cmd: dict) -> None:
        if not self._can_execute(cmd):
            return
        instance = self._instance(cmd, cmd.get("name"))
        if instance is None:
            if cmd.get("name") in self.broken:
                self.broken_registrations[cmd["as"]] = self.broken[cmd.get("name")]
            return
        self.broken_registrations.pop(cmd["as"], None)
        self.linker.define_instance(self.store, cmd["as"], instance)
        self._record(cmd, PASS, self.engine_name)

    def _perform(self, cmd: dict, action: dict) -> list[object] | None:
        """Run an action; raises what the engine raises. None if the module is missing."""
        instance = self._instance(cmd, action.get("module"))
        if instance is None:
            return None
        export = instance.exports(self.store)[action["field"]]
        if action["type"] == "invoke":
            args = [script_arg(a) for a in action["args"]]
            return export.call_vals(self.store, args)
        if action["type"] == "get":
            return [export.get_val(self.store)]
        raise NotSupported(f"action {action['type']}")

    def _cmd_action(self, cmd: dict) -> None:
        if not self._can_execute(cmd):
            return
        try:
            if self._perform(cmd, cmd["action"]) is None:
                return
        except pyjitwasm.Trap as e:
            self._record(cmd, FAIL, self.engine_name, f"trapped: {e}")
            return
        self._record(cmd, PASS, self.engine_name)

    def _cmd_assert_return(self, cmd: dict) -> None:
        if not self._can_execute(cmd):
            return
        try:
            results = self._perform(cmd, cmd["action"])
        except pyjitwasm.Trap as e:
            self._record(cmd, FAIL, self.engine_name, f"trapped: {e}")
            return
        if results is None:
            return
        expected = cmd["expected"]
        ok = len(results) == len(expected) and all(
            result_matches(e, r) for e, r in zip(expected, results, strict=True))
        self._record(cmd, PASS if ok else FAIL, self.engine_name,
                     "" if ok else f"expected {expected}, got {describe(results)}")

    def _expect_trap(self, cmd: dict, run: Callable[[], object], text: str) -> None:
        try:
            if run() is None:
                return
        except pyjitwasm.Trap as e:
            if trap_matches(text, e):
                self._record(cmd, PASS, self.engine_name)
            else:
                self._record(cmd, FAIL, self.engine_name, f"expected trap {text!r}, got {e}")
            return
        self._record(cmd, FAIL, self.engine_name, f"expected trap {text!r}, returned normally")

    def _cmd_assert_trap(self, cmd: dict) -> None:
        if self._can_execute(cmd):
            self._expect_trap(cmd, lambda: self._perform(cmd, cmd["action"]), cmd["text"])

    def _cmd_assert_exhaustion(self, cmd: dict) -> None:
        self._cmd_assert_trap(cmd)

    def _cmd_assert_unlinkable(self, cmd: dict) -> None:
        self._expect_instantiation_failure(cmd, unlinkable=True)

    def _cmd_assert_uninstantiable(self, cmd: dict) -> None:
        self._expect_instantiation_failure(cmd, unlinkable=False)

    def _expect_instantiation_failure(self, cmd: dict, unlinkable: bool) -> None:
        module = self._load(cmd)
        if module is None or not self._can_execute(cmd):
            return
        try:
            self.linker.instantiate(self.store, module)
        except pyjitwasm.Trap as e:
            ok = not unlinkable and trap_matches(cmd["text"], e)
            self._record(cmd, PASS if ok else FAIL, self.engine_name, "" if ok else str(e))
            return
        except pyjitwasm.WasmError as e:
            ok = unlinkable and isinstance(e, pyjitwasm.LinkError)
            self._record(cmd, PASS if ok else FAIL, self.engine_name,
                         "" if ok else f"{type(e).__name__}: {e}")
            return
        self._record(cmd, FAIL, self.engine_name, f"expected failure ({cmd['text']}), instantiated")

    def _cmd_assert_exception(self, cmd: dict) -> None:
        raise NotSupported("exception handling")


def trap_matches(expected_text: str, trap: Exception) -> bool:
    """Whether a Trap is the one a script expects (judged by its code's spec wording)."""
    code = getattr(trap, "trap_code", None)
    if code is None:
        return False
    return expected_text.startswith(code.message)


# --------------------------------------------------------------------------- files


def run_file(path: Path, manifest: Manifest, engine_name: str) -> FileResult:
    """Run one script; execution commands only if the file is in the execution scope."""
    commands, wasm_dir = convert(path)
    name = script_name(path)
    execute = manifest.executed(name, engine_name)
    runner = ScriptRunner(commands, wasm_dir, engine_name, execute=execute,
                          settings=manifest.settings(name))
    return FileResult(name, runner.run())


@dataclass
class Verdict:
    """A file's outcomes judged against the manifest."""

    unexpected: list[Outcome]  # failures not listed
    expected: list[Outcome]  # failures listed (or blocked by a listed failure)
    fixed: list[tuple[str, int, str]]  # (phase, line, reason) listed but passing


def judge(result: FileResult, manifest: Manifest) -> Verdict:
    unexpected, expected = [], []
    listed = {phase: manifest.expected_failures(phase, result.name)
              for phase in manifest.expected}
    failed_lines: set[tuple[str, int]] = set()
    for o in result.outcomes:
        if o.status != FAIL:
            continue
        failed_lines.add((o.phase, o.line))
        if o.line in listed.get(o.phase, {}):
            expected.append(o)
        elif o.blocked_by is not None and any(o.blocked_by in lines for lines in listed.values()):
            expected.append(o)
        else:
            unexpected.append(o)
    ran_phases = {o.phase for o in result.outcomes if o.status in (PASS, FAIL)}
    fixed = [(phase, line, why) for phase, lines in listed.items() if phase in ran_phases
             for line, why in lines.items() if (phase, line) not in failed_lines]
    return Verdict(unexpected, expected, fixed)


def format_table(rows: list[tuple[FileResult, Verdict]]) -> str:
    width = max([34, *(len(result.name) + 2 for result, _ in rows)])
    header = f"{'file':<{width}}{'passed':>8}{'failed':>8}{'xfail':>7}{'not run':>9}{'skipped':>9}"
    lines = [header, "-" * len(header)]
    totals = [0, 0, 0, 0, 0]
    for result, verdict in rows:
        counts = [result.count(PASS), len(verdict.unexpected), len(verdict.expected),
                  result.count(NOT_RUN), result.count(SKIP)]
        totals = [a + b for a, b in zip(totals, counts, strict=True)]
        lines.append(f"{result.name:<{width}}" + "".join(
            f"{c:>{w}}" for c, w in zip(counts, (8, 8, 7, 9, 9), strict=True)))
    lines.append("-" * len(header))
    lines.append(f"{'total':<{width}}" + "".join(
        f"{c:>{w}}" for c, w in zip(totals, (8, 8, 7, 9, 9), strict=True)))
    lines.append(f"spec: {totals[0]} passed, {totals[1]} failed, {totals[2]} expected failures, "
                 f"{totals[3]} not run, {totals[4]} skipped")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="scripts (names or paths); default: all in scope")
    parser.add_argument("--engine", default="interp",
                        help="interp, jit or jit-dynamic (default interp)")
    parser.add_argument("--verbose", "-v", action="store_true", help="list every failure")
    args = parser.parse_args(argv)
    manifest = Manifest.load()
    suite = testsuite_dir()
    if suite is None:
        print(missing_testsuite_message())
        return 0
    paths = [suite / f if (suite / f).is_file() else Path(f)
             for f in args.files] or scope_files(manifest)
    rows = []
    for path in paths:
        result = run_file(path, manifest, args.engine)
        verdict = judge(result, manifest)
        rows.append((result, verdict))
        if args.verbose:
            for o in verdict.unexpected:
                cause = f" (blocked by line {o.blocked_by})" if o.blocked_by else ""
                print(f"FAIL {result.name}:{o.line} [{o.phase}] {o.command}: {o.detail}{cause}")
            for phase, line, why in verdict.fixed:
                print(f"FIXED {result.name}:{line} [{phase}] listed as failing ({why}) but passed")
    print(format_table(rows))
    bad = any(v.unexpected or v.fixed for _, v in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
