"""A program that runs one hot loop and exits at once, for tests of what happens at
exit while its tier-up is queued or compiling (run as a script, in a fresh process):

    python tests/support/hot_loop_run.py N [CACHE_DIR]

It prints the loop's result (the sum 1..N as an i32), whether its code came from a
code-cache pack (``from-pack``, else ``compiled-or-entries``), whether LLVM was
loaded (``llvm`` / ``no-llvm``) and the tier of the function's code after the call
(``tier0`` / ``tier1``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pyjitwasm as api

SCRIPT = Path(__file__).resolve()
"""This file, to run it."""

HOT_LOOP = """(module (func (export "f") (param i32) (result i32) (local i32)
  (loop $l (local.set 1 (i32.add (local.get 1) (local.get 0)))
    (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br_if $l (local.get 0)))
  (local.get 1)))"""


def main() -> None:
    config = api.Config()
    if len(sys.argv) > 2:
        config.cache = sys.argv[2]
    engine = api.Engine(config)
    store = api.Store(engine)
    module = api.Module(engine, HOT_LOOP)
    instance = api.Instance(store, module, [])
    result = instance.exports(store)["f"](store, int(sys.argv[1]))
    code = module._prepared.compiled()  # noqa: SLF001 - where the code came from
    from_pack = any(type(item).__name__ == "LinkedChunk" for item in code._batches)  # noqa: SLF001
    print(result, "from-pack" if from_pack else "compiled-or-entries",
          "llvm" if "llvmlite.binding" in sys.modules else "no-llvm",
          f"tier{code.tier_of(0)}")


if __name__ == "__main__":
    main()
