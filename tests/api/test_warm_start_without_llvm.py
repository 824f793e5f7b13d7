"""A warm start that finds all its code in the cache never loads LLVM (llvmlite): its
objects are linked by the JIT's own loader (jit/objload.py), its shims come from the
cache, and the host target of the cache key from a memo (runtime/jit/fingerprint.py).
Each run is a fresh process, as a user's would be."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pyjitwasm.runtime.jit import fingerprint
from pyjitwasm.runtime.native import lazy_stubs_supported

pytestmark = pytest.mark.skipif(not lazy_stubs_supported(),
                                reason="lazy compilation needs the native stubs")

PROGRAM = r"""
import json, sys
import pyjitwasm as w
config = w.Config()
config.cache = sys.argv[1]
engine = w.Engine(config)
store = w.Store(engine)
module = w.Module(engine, '''(module
  (import "host" "double" (func $double (param i32) (result i32)))
  (memory 1)
  (func $leaf (param i32) (result i32) (call $double (i32.mul (local.get 0) (i32.const 3))))
  (func (export "f") (param i32) (result i32) (i32.add (call $leaf (local.get 0)) (i32.const 1)))
  (func (export "load") (param i32) (result i32) (i32.load (local.get 0))))''')
double = w.Func(store, w.FuncType([w.ValType.i32()], [w.ValType.i32()]), lambda x: 2 * x)
instance = w.Instance(store, module, [double])
f = instance.exports(store)["f"]
trapped = None
if sys.argv[2] == "trap":
    try:
        instance.exports(store)["load"](store, 70000)
    except w.Trap as trap:
        trapped = str(trap)
print(json.dumps({"f": f(store, 5), "trap": trapped,
                  # llvmlite.binding loads LLVM; the bare package (its version) does not
                  "llvm": sorted(m for m in sys.modules if m.startswith("llvmlite.binding"))}))
"""


def _run(cache: Path, env: dict[str, str] | None = None, trap: bool = False) -> dict:
    out = subprocess.run([sys.executable, "-c", PROGRAM, str(cache), "trap" if trap else ""],
                         capture_output=True,
                         text=True, timeout=120, env={**os.environ, **(env or {})})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_warm_start_loads_no_llvm(tmp_path: Path) -> None:
    cold = _run(tmp_path, trap=True)
    assert cold["f"] == 31 and cold["llvm"]  # compiled: LLVM was loaded
    assert "out of bounds" in cold["trap"]
    warm = _run(tmp_path)
    assert warm["f"] == 31 and warm["llvm"] == []
    # A trap's backtrace finds its wasm offsets by compiling its batch again with debug
    # locations: that one loads LLVM, and still reports the same trap.
    trapped = _run(tmp_path, trap=True)
    assert trapped["trap"] == cold["trap"]
    # The same warm run with ORC linking (PYJITWASM_NATIVE_LOADER=0) needs LLVM.
    orc = _run(tmp_path, {"PYJITWASM_NATIVE_LOADER": "0"})
    assert orc["f"] == 31 and orc["llvm"]


def test_host_target_memo_is_llvms_answer(tmp_path: Path) -> None:
    script = ("import json, sys; from pathlib import Path\n"
              "from pyjitwasm.runtime.jit import fingerprint\n"
              "t = fingerprint.host_target(Path(sys.argv[1]))\n"
              "print(json.dumps([t, 'llvmlite.binding' in sys.modules]))\n")

    def host_target() -> tuple[dict, bool]:
        out = subprocess.run([sys.executable, "-c", script, str(tmp_path)],
                             capture_output=True, text=True, timeout=60, check=True)
        target, loaded = json.loads(out.stdout)
        return target, loaded

    asked, loaded = host_target()
    assert loaded and asked == fingerprint.host_target()
    memos = list(tmp_path.glob("host-*.json"))
    assert len(memos) == 1
    read, loaded = host_target()
    assert read == asked and not loaded
    # A damaged memo is not believed: LLVM is asked again, and the memo rewritten.
    memos[0].write_text('{"cpu": 7}')
    again, loaded = host_target()
    assert again == asked and loaded
    assert json.loads(memos[0].read_text()) == asked
