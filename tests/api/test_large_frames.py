"""Frames larger than the stack the runtime keeps below the stack limit (64 KiB): a
recursion of such frames traps with a stack overflow on every compile path, never
crashes the process.  The x86-64 tier 0 checks the limit before it moves the stack
pointer; LLVM's code probes each page of a large frame (``abi.WASM_FUNCTION_ATTRS``)
and the fault handler turns a touch of the stack's guard area into the trap.  Each case
runs in a child process (a crash must not take pytest with it), in a 1 MiB thread with
a budget larger than its stack, so the limit sits at its floor."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from pyjitwasm.runtime.native import lazy_stubs_supported

pytestmark = pytest.mark.skipif(not lazy_stubs_supported(),
                                reason="lazy compilation needs the native stubs")

SCRIPT = r"""
import sys
from pyjitwasm import Config, Engine, Instance, Module, Store, Trap
locals_ = " ".join(["i64"] * int(sys.argv[1]))
wat = f'''(module
  (func $f (export "f") (param i32) (result i32) (local {locals_})
    (local.set 1 (i64.extend_i32_u (local.get 0)))
    (i32.add (call $f (i32.add (local.get 0) (i32.const 1)))
             (i32.wrap_i64 (local.get 1)))))'''
import threading
# A budget larger than the thread's stack: the limit falls to its floor, 64 KiB above
# the stack's end, so a frame of 160 KB or more crosses the end of the stack.
store = Store(Engine(Config(lazy_compilation=True, max_wasm_stack=64 << 20)))
f = Instance(store, Module(store.engine, wat), []).exports(store)["f"]
outcomes = []
def run():
    for _ in range(3):
        try:
            f(store, 0)
        except Trap as trap:
            outcomes.append(trap.trap_code.name)
threading.stack_size(1 << 20)
thread = threading.Thread(target=run)
thread.start()
thread.join()
assert outcomes == ["STACK_OVERFLOW"] * 3, outcomes
print("trapped")
"""

PATHS = {
    "x64 tier 0": {"PYJITWASM_TIER0_X64": "1", "PYJITWASM_TIER0_X64_NESTED_LOOPS": "1"},
    "LLVM tier 0": {"PYJITWASM_TIER0_X64": "0"},
    "LLVM tier 0 through the IR": {"PYJITWASM_TIER0_X64": "0", "PYJITWASM_TIER0_DIRECT": "0"},
    "tier 1": {"PYJITWASM_TIERS": "0"},
}


@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("frame_locals", [20_000, 50_000])
def test_recursion_of_large_frames_traps_cleanly(path: str, frame_locals: int) -> None:
    env = {**os.environ, "PYJITWASM_TIER_UP_THRESHOLD": "2000000000", **PATHS[path]}
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(frame_locals)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (out.returncode, out.stderr[-2000:])
    assert out.stdout.strip() == "trapped"
