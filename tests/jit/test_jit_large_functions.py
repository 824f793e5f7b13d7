"""Large functions skip NewGVN (CPython 3.12 for WASI: 14 s and 4.5 GB of NewGVN for
one 42k-instruction function; see ``jit.compiler.LARGE_FUNCTION_INSTS``)."""

from __future__ import annotations

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store
from pyjitwasm.jit import compiler
from pyjitwasm.jit.codeload import CodeLoader, parse_ir

# Two loads of one address in different blocks: of level 1's passes only NewGVN folds
# them into one (instcombine looks for an earlier load in the same block only).
TWO_LOADS = """
define i32 @twice(ptr %p, i1 %c) {
entry:
  %a = load i32, ptr %p
  br i1 %c, label %then, label %exit
then:
  %b = load i32, ptr %p
  %s = add i32 %a, %b
  br label %exit
exit:
  %r = phi i32 [ %a, %entry ], [ %s, %then ]
  ret i32 %r
}
"""


def _loads_after(large: bool) -> int:
    loader = CodeLoader(1)
    module = parse_ir(TWO_LOADS)
    loader.pipeline.run(module, has_optnone=False, large=large)
    return str(module).count("load i32")


def test_level_1_leaves_newgvn_out_for_large_modules_only() -> None:
    assert _loads_after(large=False) == 1
    assert _loads_after(large=True) == 2


def _wat(steps: int) -> str:
    step = ("(local.set 0 (i32.mul (i32.add (local.get 0) (i32.const {i})) "
            "(i32.const 3)))")
    body = " ".join(step.format(i=i) for i in range(steps))
    return f"""(module
      (func (export "big") (param i32) (result i32) {body} (local.get 0))
      (func (export "small") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))"""


def _expected(x: int, steps: int) -> int:
    for i in range(steps):
        x = ((x + i) * 3) & 0xFFFFFFFF
    return x - (1 << 32) if x >= 1 << 31 else x


@pytest.mark.parametrize("lazy", [True, False])
def test_a_function_over_the_limit_compiles_without_newgvn_and_runs(monkeypatch, lazy) -> None:
    monkeypatch.setattr(compiler, "LARGE_FUNCTION_INSTS", 100)
    seen: list[bool] = []
    original = CodeLoader.compile_object

    def spy(self, ir, large=False):
        seen.append(large)
        return original(self, ir, large=large)

    monkeypatch.setattr(CodeLoader, "compile_object", spy)
    engine = Engine(Config(strategy="jit", lazy_compilation=lazy))
    store = Store(engine)
    exports = Instance(store, Module(engine, _wat(60)), []).exports(store)
    assert exports["small"](store, 41) == 42
    assert exports["big"](store, 7) == _expected(7, 60)
    # Lazily each function is its own batch (the small one's, compiled first, keeps
    # NewGVN; entry shims are compiled apart); eagerly one module holds both.
    assert seen.count(True) == 1
    assert seen[0] is (not lazy)
