"""Large functions skip NewGVN (CPython 3.12 for WASI: 14 s and 4.5 GB of NewGVN for
one 42k-instruction function; see ``compile_module.LARGE_FUNCTION_INSTRUCTIONS``)."""

from __future__ import annotations

import pytest

from pyjitwasm import Config, Engine, Instance, Module, Store
from pyjitwasm.jit.codeload import PassPipeline, host_target_machine, parse_ir
from pyjitwasm.jit.pipelines import LLVMPipeline
from pyjitwasm.runtime.jit import compile_module
from pyjitwasm.runtime.jit.compile_module import CompileOptions, codegen_options_for
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wat import wat2wasm

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


def _loads_after(passes: str) -> int:
    module = parse_ir(TWO_LOADS)
    PassPipeline(host_target_machine(), passes).run(module, has_optnone=False)
    return str(module).count("load i32")


def test_the_large_pass_set_is_level_1_without_newgvn() -> None:
    assert _loads_after("standard") == 1
    assert _loads_after("large") == 2


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


def test_batches_with_a_function_over_the_limit_leave_newgvn_out(monkeypatch) -> None:
    monkeypatch.setattr(compile_module, "LARGE_FUNCTION_INSTRUCTIONS", 100)
    module = decode_module(wat2wasm(_wat(60)))
    options = CompileOptions(opt_level=1)
    assert codegen_options_for(module, [0], options).llvm_pipeline.passes == "large"
    assert codegen_options_for(module, [1], options).llvm_pipeline == LLVMPipeline("standard", 2)
    # Tier 0 has no NewGVN to leave out (and these functions have no loop).
    tier0 = codegen_options_for(module, [0], options, compile_module.TIER0)
    assert tier0.llvm_pipeline == options.tier0_loop_free_pipeline


@pytest.mark.parametrize("lazy", [True, False])
def test_a_function_over_the_limit_compiles_and_runs(monkeypatch, lazy) -> None:
    monkeypatch.setattr(compile_module, "LARGE_FUNCTION_INSTRUCTIONS", 100)
    seen: list[str] = []
    original = compile_module.codegen_options_for

    def spy(*args, **kwargs):
        options = original(*args, **kwargs)
        seen.append(options.llvm_pipeline.passes)
        return options

    monkeypatch.setattr(compile_module, "codegen_options_for", spy)
    engine = Engine(Config(strategy="jit", lazy_compilation=lazy, tiered_compilation=False))
    store = Store(engine)
    exports = Instance(store, Module(engine, _wat(60)), []).exports(store)
    assert exports["small"](store, 41) == 42
    assert exports["big"](store, 7) == _expected(7, 60)
    assert "large" in seen
