"""Lifetimes of native objects across threads and collections (``racehunt``): what must
hold so that the host never crashes when the code of a module, or the LLVM objects that
made it, go away while other threads compile, publish or collect.

A test that could crash runs its program in a child process (:func:`_run_child`), so a
segfault fails that test, not the pytest process.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from typing import Any

import pytest

from pyjitwasm.jit import codeload
from pyjitwasm.jit.codeload import CodeLoader, parse_ir
from pyjitwasm.runtime.native import lazy_stubs_supported

_IR = 'define i32 @f(i32 %x) {\n  %y = add i32 %x, 1\n  ret i32 %y\n}\n'


def _run_child(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-P", "-X", "faulthandler", "-c",
                           textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=timeout, check=False)


def _assert_survived(child: subprocess.CompletedProcess[str]) -> None:
    assert child.returncode == 0 and "survived" in child.stdout, (
        f"child ended with {child.returncode}\n{child.stdout}\n{child.stderr[-3000:]}")


def test_a_parsed_module_and_its_context_collected_as_one_cycle_do_not_crash() -> None:
    # A cycle holding both: the collector finalizes them in no particular order, and
    # the context must still outlive the module (llvmlite's own ownership crashed here).
    _assert_survived(_run_child(f"""
        import gc
        from pyjitwasm.jit.codeload import parse_ir
        for _ in range(200):
            module = parse_ir({_IR!r})
            cycle = [module._context, module]
            cycle.append(cycle)
            del module, cycle
            gc.collect()
        print("survived")
    """))


def test_the_context_is_freed_once_with_its_module() -> None:
    module = parse_ir(_IR)
    context = module._context  # noqa: SLF001 - the test looks inside
    assert not context.closed
    module.close()
    assert module.closed
    context.close()  # the module disposed the context: closing its ContextRef frees nothing
    assert context.closed


def test_a_compile_that_raises_frees_the_module_it_parsed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Any] = []

    def failing(tm: Any, module: Any, level: int, regalloc: bool) -> bytes:
        seen.append(module)
        raise RuntimeError("simulated code generation failure")

    monkeypatch.setattr(codeload, "emit_machine_code", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        CodeLoader(1).compile_object(_IR)
    # Freed at once: a kept exception's frames no longer hold the LLVM module.
    assert len(seen) == 1 and seen[0].closed


@pytest.mark.skipif(not lazy_stubs_supported(), reason="tiers need lazy compilation (x86-64)")
def test_a_module_whose_tier_up_failed_is_collected_without_crashing() -> None:
    # The failed tier-up's exception stays in ModuleCode.tier_up_errors: a cycle through
    # the compile's frames (the module's code, the exception, its traceback, the frames
    # holding the LLVM module).  Collecting it segfaulted before the module owned its
    # context; here the main thread collects, in a program any thread may.
    _assert_survived(_run_child("""
        import gc, os
        os.environ["PYJITWASM_TIER_UP_THRESHOLD"] = "2"
        os.environ.pop("PYJITWASM_TIERS", None)
        from pyjitwasm import Config, Engine, Instance, Module, Store
        from pyjitwasm.jit import codeload

        def failing(tm, module, level, regalloc):
            raise RuntimeError("simulated code generation failure")

        codeload.emit_machine_code = failing
        WAT = '''(module (func (export "f") (param i32) (result i32)
                   (i32.add (local.get 0) (i32.const 1))))'''
        for _ in range(5):
            engine = Engine(Config(strategy="jit", lazy_compilation=True))
            store = Store(engine)
            module = Module(engine, WAT)
            f = Instance(store, module, []).exports(store)["f"]
            for i in range(20):
                assert f(store, i) == i + 1
            code = module._prepared.compiled()
            assert code.wait_for_tier_ups(30)
            assert code.tier_up_errors, "the tier-up was to fail"
            del code, f, module, store, engine
            gc.collect()
        print("survived")
    """))
