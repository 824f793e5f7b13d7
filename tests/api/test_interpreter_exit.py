"""A store still alive when the interpreter exits goes quietly: it is dropped while the
modules' globals are being cleared, when the release code's helpers may already be None
(``Store._release``)."""

from __future__ import annotations

import subprocess
import sys

# ``collections`` is imported at start-up, so its globals are cleared after pyjitwasm's:
# the store it keeps is dropped after the runtime's modules have lost their globals.
SCRIPT = """
import collections
import pyjitwasm
engine = pyjitwasm.Engine(pyjitwasm.Config(strategy=STRATEGY))
store = pyjitwasm.Store(engine)
module = pyjitwasm.Module(
    engine, '(module (memory 1) (func (export "f") (result i32) i32.const 7))')
instance = pyjitwasm.Instance(store, module, [])
print(instance.exports(store)["f"](store))
collections.kept_until_exit = (store, instance)
"""


def test_a_store_alive_at_interpreter_exit_leaves_no_error() -> None:
    for strategy in ("jit", "interp"):
        proc = subprocess.run(
            [sys.executable, "-P", "-c", SCRIPT.replace("STRATEGY", repr(strategy))],
            capture_output=True, text=True, check=False, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "7"
        assert proc.stderr == "", proc.stderr
