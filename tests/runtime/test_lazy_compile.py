"""Lazy per-function compilation (``runtime/jit/module_code.py``): code slots start at
stubs, the first call compiles a batch and continues, everything else reaches functions
through their slots.

Most tests use ``lazy_batch_instructions=0`` (every function its own batch) so that
every call between functions crosses a code slot, and many of them the lazy-compile
stub.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pyjitwasm import Config, Engine, Func, Instance, Module, Store, Trap, TrapCode
from pyjitwasm.ir.printer import print_function
from pyjitwasm.libcalls import symbol_addresses
from pyjitwasm.runtime.errors import Trap as RuntimeTrap
from pyjitwasm.runtime.instance import FuncInstance
from pyjitwasm.runtime.jit import module_code
from pyjitwasm.runtime.jit.call import invoke
from pyjitwasm.runtime.jit.compile_module import CompileOptions
from pyjitwasm.runtime.jit.instance import instantiate
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.runtime.jit.store import JitStoreContext
from pyjitwasm.runtime.jit.tiering import background_compiler
from pyjitwasm.runtime.jit.vmctx import JitModuleInstance
from pyjitwasm.runtime.native import ffi, is_lazy_stub, lazy_stubs_supported
from pyjitwasm.translate.translator import translate_function
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.validator import validate_module
from pyjitwasm.wat import wat2wasm

pytestmark = pytest.mark.skipif(not lazy_stubs_supported(),
                                reason="lazy-compile stubs exist on x86-64 only")

CALLS = """
(module $calls
  (type $unary (func (param i32) (result i32)))
  (table $t 4 funcref)
  (elem (table $t) (i32.const 0) func $double $boom $fib)
  (func $fib (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))
                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))
  (func $even (export "even") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
      (else (call $odd (i32.sub (local.get 0) (i32.const 1))))))
  (func $odd (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (call $even (i32.sub (local.get 0) (i32.const 1))))))
  (func $tail_even (export "tail_even") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 1))
      (else (return_call $tail_odd (i32.sub (local.get 0) (i32.const 1))))))
  (func $tail_odd (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0)) (then (i32.const 0))
      (else (return_call $tail_even (i32.sub (local.get 0) (i32.const 1))))))
  (func $ping (param i32) (result i32) (call $pong (local.get 0)))
  (func $pong (param i32) (result i32) (call $ping (local.get 0)))
  (func (export "forever") (param i32) (result i32) (call $ping (local.get 0)))
  (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $boom (param i32) (result i32) (i32.div_u (i32.const 1) (local.get 0)))
  (func $middle (param i32) (result i32) (i32.add (call $boom (local.get 0)) (i32.const 1)))
  (func $outer (export "outer") (param i32) (result i32) (call $middle (local.get 0)))
  (func (export "indirect") (param i32 i32) (result i32)
    (call_indirect $t (type $unary) (local.get 1) (local.get 0)))
  (func (export "get") (param i32) (result funcref) (table.get $t (local.get 0)))
  (func (export "twice_later") (param i32 i32) (result i32)
    (if (result i32) (local.get 1)
      (then (call $double (local.get 0)))
      (else (local.get 0))))
  (func (export "many") (param i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 v128 i32)
                        (result f64 v128)
    (call $sum (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)
               (local.get 5) (local.get 6) (local.get 7) (local.get 8) (local.get 9)
               (local.get 10) (local.get 11) (local.get 12) (local.get 13)))
  (func $sum (param i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 v128 i32)
             (result f64 v128)
    (f64.add
      (f64.add
        (f64.add (f64.convert_i32_s (local.get 0)) (f64.convert_i64_s (local.get 1)))
        (f64.add (f64.promote_f32 (local.get 2)) (local.get 3)))
      (f64.add
        (f64.add
          (f64.add (f64.convert_i32_s (local.get 4)) (f64.convert_i64_s (local.get 5)))
          (f64.add (f64.promote_f32 (local.get 6)) (local.get 7)))
        (f64.add
          (f64.add
            (f64.add (f64.convert_i32_s (local.get 8)) (f64.convert_i64_s (local.get 9)))
            (f64.add (f64.promote_f32 (local.get 10)) (local.get 11)))
          (f64.convert_i32_s (local.get 13)))))
    (local.get 12)))
"""


def _decoded(wat: str) -> Any:
    module = decode_module(wat2wasm(wat))
    validate_module(module)
    return module


def _code(wat: str = CALLS, budget: int = 0, lazy: bool = True) -> ModuleCode:
    options = CompileOptions(lazy=lazy, lazy_batch_instructions=budget)
    return ModuleCode(_decoded(wat), options, symbol_addresses())


def _instance(code: ModuleCode) -> JitModuleInstance:
    return instantiate(code, [], JitStoreContext(), invoke)


def _export(inst: JitModuleInstance, name: str) -> FuncInstance:
    func = inst.exports[name]
    assert isinstance(func, FuncInstance)
    return func


def _call(inst: JitModuleInstance, name: str, *args: Any) -> list[Any]:
    return invoke(_export(inst, name), list(args))


def _func_index(code: ModuleCode, name: str) -> int:
    names = code.module.names.functions
    return next(index for index, n in names.items() if n == name)


def _slot_word(code: ModuleCode, name: str) -> int:
    return int(ffi.cast("uint64_t *", code.slot_address(_func_index(code, name)))[0])


@pytest.fixture()
def compile_log(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """Records the function indices of every batch compiled lazily (tier-up compiles,
    on the background thread, are not lazy compiles: earlier tests may leave some)."""
    log: list[list[int]] = []
    real = module_code.compile_batch
    background_compiler().wait_idle(60)

    def logged(module: Any, indices: Any, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name != "pyjitwasm-tier-up":
            log.append(list(indices))
        return real(module, indices, *args, **kwargs)

    monkeypatch.setattr(module_code, "compile_batch", logged)
    return log


# Instantiation compiles nothing; calls compile what runs ------------------------------


def test_instantiation_compiles_nothing(compile_log: list[list[int]]) -> None:
    code = _code()
    _instance(code)
    _instance(code)
    assert compile_log == [] and code.batches == [] and code.compiled_functions == 0
    for k in range(len(code.module.codes)):
        assert is_lazy_stub(int(ffi.cast("uint64_t *", code.slots_address)[k]))


def test_exports_called_before_and_after_other_exports(compile_log: list[list[int]]) -> None:
    code = _code()
    inst = _instance(code)
    assert _call(inst, "twice_later", 21, 0) == [21]
    # Only the export ran: $double was not compiled and its slot still holds the stub.
    assert len(compile_log) == 1 and is_lazy_stub(_slot_word(code, "double"))
    assert _call(inst, "twice_later", 21, 1) == [42]
    assert compile_log[-1] == [_func_index(code, "double")]
    assert not is_lazy_stub(_slot_word(code, "double"))
    assert _call(inst, "fib", 15) == [610]
    assert _call(inst, "twice_later", 5, 1) == [10]
    assert len(compile_log) == 3  # twice_later, double, fib: each once


def test_a_batch_takes_direct_callees_within_the_budget(compile_log: list[list[int]]) -> None:
    code = _code(budget=1000)
    inst = _instance(code)
    assert _call(inst, "outer", 1) == [2]
    # One batch: outer, then breadth first $middle and $boom.
    assert len(compile_log) == 1
    assert [code.module.names.functions[i] for i in compile_log[0][1:]] == ["middle", "boom"]
    # Calls within a batch are direct; calls out of it still go through slots.
    assert _call(inst, "twice_later", 3, 1) == [6]


def test_instances_of_a_module_share_its_compiled_code(
        compile_log: list[list[int]]) -> None:
    code = _code()
    first, second = _instance(code), _instance(code)
    assert _call(first, "even", 10) == [1]
    compiled = len(compile_log)
    assert _call(second, "even", 11) == [0]
    assert len(compile_log) == compiled
    assert first.words()[first.layout.code_slots // 8] == code.slots_address
    assert second.words()[second.layout.code_slots // 8] == code.slots_address


def test_the_public_api_is_lazy_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYJITWASM_LAZY", raising=False)  # the eager run of the suite
    engine = Engine()
    store = Store(engine)
    module = Module(engine, CALLS)
    exports = Instance(store, module, []).exports(store)
    code = module._prepared.compiled()
    assert isinstance(code, ModuleCode) and code.lazy
    assert code.compiled_functions == 0
    fib = exports["fib"]
    assert isinstance(fib, Func)
    assert fib(store, 20) == 6765
    assert 0 < code.compiled_functions < len(code.module.codes)


@pytest.mark.parametrize("lazy", [True, False])
def test_config_lazy_compilation_overrides_the_default(
        monkeypatch: pytest.MonkeyPatch, lazy: bool) -> None:
    monkeypatch.setenv("PYJITWASM_LAZY", "0" if lazy else "1")  # the setting wins
    engine = Engine(Config(lazy_compilation=lazy))
    store = Store(engine)
    module = Module(engine, CALLS)
    exports = Instance(store, module, []).exports(store)
    code = module._prepared.compiled()
    assert code.lazy == lazy
    assert (code.compiled_functions == 0) == lazy
    fib = exports["fib"]
    assert isinstance(fib, Func)
    assert fib(store, 20) == 6765


def test_the_environment_switches_the_default_to_eager(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_LAZY", "0")
    assert not CompileOptions().lazy
    monkeypatch.setenv("PYJITWASM_LAZY", "1")
    assert CompileOptions().lazy


def test_threads_calling_one_function_keep_their_own_values() -> None:
    # Arguments are stored in a values array before the GIL is released for the call
    # and results read after it is taken again: each thread needs its own array.
    store = Store(Engine())
    mix = Instance(store, Module(store.engine, """
    (module (func (export "mix") (param i64 i64) (result i64)
      (i64.add (i64.mul (local.get 0) (i64.const 3)) (local.get 1))))
    """), []).exports(store)["mix"]
    wrong: list[tuple[int, int, int]] = []

    def work(k: int) -> None:
        for i in range(20_000):
            result = mix(store, i, k)
            if result != i * 3 + k:
                wrong.append((k, i, result))

    threads = [threading.Thread(target=work, args=(k << 40,)) for k in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


# Calls through slots: recursion, tail calls, indirect calls, many arguments ---------


def test_recursion_and_mutual_recursion_across_batches() -> None:
    inst = _instance(_code())
    assert _call(inst, "fib", 20) == [6765]
    assert _call(inst, "even", 1001) == [0]
    assert _call(inst, "even", 1000) == [1]


def test_tail_calls_through_slots_run_in_constant_stack() -> None:
    code = _code()
    inst = _instance(code)
    # Both functions in batches of their own: each return_call goes through a slot
    # (the first one of each through the stub and its trampoline).
    assert _call(inst, "tail_even", 1_000_001) == [0]
    assert code.batches and all(len(b.functions) == 1 for b in code.batches)


def test_stack_exhaustion_through_slots_traps() -> None:
    inst = _instance(_code())
    with pytest.raises(RuntimeTrap) as info:
        _call(inst, "forever", 1)
    assert info.value.trap_code == TrapCode.STACK_OVERFLOW
    assert _call(inst, "fib", 10) == [55]  # still usable


def test_call_indirect_and_table_get_of_uncompiled_functions() -> None:
    code = _code()
    inst = _instance(code)
    assert is_lazy_stub(_slot_word(code, "double"))
    assert _call(inst, "indirect", 0, 21) == [42]  # $double through its VMFuncRef
    assert _call(inst, "indirect", 2, 12) == [144]  # $fib
    (ref,) = _call(inst, "get", 1)  # $boom: still uncompiled
    assert isinstance(ref, FuncInstance) and is_lazy_stub(_slot_word(code, "boom"))
    assert invoke(ref, [1]) == [1]  # entered from Python: compiled first
    with pytest.raises(RuntimeTrap) as info:
        _call(inst, "indirect", 1, 0)
    assert info.value.trap_code == TrapCode.INTEGER_DIVISION_BY_ZERO


def test_every_argument_register_survives_the_stub() -> None:
    inst = _instance(_code())
    v128 = 0x0123456789ABCDEF_FEDCBA9876543210
    args = [1, 2, 3.5, 4.25, 5, 6, 7.5, 8.25, 9, 10, 11.5, 12.25, v128, 14]
    # Six integer and eight SSE argument registers, the rest on the stack: the stub's
    # trampoline must hand every one over unchanged.
    assert _call(inst, "many", *args) == [sum(a for a in args if a != v128), v128]


def test_imports_reach_an_exporters_uncompiled_function() -> None:
    exporter = _code()
    importer = _code("""
    (module
      (import "m" "fib" (func $fib (param i32) (result i32)))
      (func (export "via") (param i32) (result i32) (call $fib (local.get 0))))
    """)
    ctx = JitStoreContext()
    source = instantiate(exporter, [], ctx, invoke)
    user = instantiate(importer, [source.exports["fib"]], ctx, invoke)
    assert _call(user, "via", 12) == [144]
    assert not is_lazy_stub(_slot_word(exporter, "fib"))


def test_a_module_past_one_page_of_stubs() -> None:
    # Stubs come in pages of 4,096: the last function uses the second page.
    count = 4200
    funcs = "".join(f"(func (result i32) (i32.const {i}))" for i in range(count - 1))
    last = count - 1
    wat = f"(module {funcs} (func (export \"last\") (result i32) (call {last - 1})))"
    code = _code(wat)
    inst = _instance(code)
    assert _call(inst, "last") == [last - 1]
    assert code.compiled_functions == 2


# Backtraces, errors while compiling, threads -------------------------------------------


def test_traps_in_lazily_compiled_code_name_the_functions() -> None:
    store = Store(Engine())
    module = Module(store.engine, CALLS)
    outer = Instance(store, module, []).exports(store)["outer"]
    with pytest.raises(Trap) as info:
        outer(store, 0)
    assert info.value.trap_code == TrapCode.INTEGER_DIVISION_BY_ZERO
    names = [frame.func_name for frame in info.value.frames]
    assert names[:3] == ["boom", "middle", "outer"]


def test_traps_across_separate_batches_name_every_frame() -> None:
    inst = _instance(_code())
    with pytest.raises(RuntimeTrap) as info:
        _call(inst, "outer", 0)
    assert [frame.func_name for frame in info.value.frames] == ["boom", "middle", "outer"]


def test_an_error_while_compiling_surfaces_and_a_later_call_works(
        monkeypatch: pytest.MonkeyPatch) -> None:
    code = _code()
    inst = _instance(code)
    boom_index = _func_index(code, "boom")
    real = module_code.compile_batch
    failure = MemoryError("injected: out of memory while compiling")

    def failing(module: Any, indices: Any, *args: Any, **kwargs: Any) -> Any:
        if boom_index in indices:
            raise failure
        return real(module, indices, *args, **kwargs)

    monkeypatch.setattr(module_code, "compile_batch", failing)
    # outer and middle compile; the stub of $boom fails inside wasm code.
    with pytest.raises(MemoryError) as info:
        _call(inst, "outer", 4)
    assert info.value is failure
    assert [frame.func_name for frame in info.value.wasm_frames] == ["middle", "outer"]
    assert is_lazy_stub(_slot_word(code, "boom"))
    # Entering the failing function from Python fails the same way, before any wasm.
    with pytest.raises(MemoryError):
        _call(inst, "indirect", 1, 4)
    monkeypatch.setattr(module_code, "compile_batch", real)
    assert _call(inst, "outer", 4) == [1]
    assert _call(inst, "indirect", 1, 1) == [1]


def test_an_error_entering_an_uncompiled_export_leaves_it_callable(
        monkeypatch: pytest.MonkeyPatch) -> None:
    code = _code()
    inst = _instance(code)
    real = module_code.compile_batch

    def failing(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("injected: LLVM error")

    monkeypatch.setattr(module_code, "compile_batch", failing)
    with pytest.raises(RuntimeError, match="injected"):
        _call(inst, "fib", 5)
    monkeypatch.setattr(module_code, "compile_batch", real)
    assert _call(inst, "fib", 5) == [5]


def test_two_threads_calling_an_uncompiled_function_compile_it_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    code = _code()
    first, second = _instance(code), _instance(code)
    # Compile the export itself first so both threads meet $double's stub in wasm.
    assert _call(first, "twice_later", 1, 0) == [1]
    assert _call(second, "twice_later", 1, 0) == [1]
    double_index = _func_index(code, "double")
    real = module_code.compile_batch
    batches: list[list[int]] = []

    def slow(module: Any, indices: Any, *args: Any, **kwargs: Any) -> Any:
        batches.append(list(indices))
        time.sleep(0.2)  # let the other thread arrive while this one compiles
        return real(module, indices, *args, **kwargs)

    monkeypatch.setattr(module_code, "compile_batch", slow)
    barrier = threading.Barrier(2)
    results: dict[int, Any] = {}

    def run(n: int, inst: JitModuleInstance) -> None:
        barrier.wait()
        try:
            results[n] = _call(inst, "twice_later", 10 + n, 1)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n, inst))
               for n, inst in enumerate((first, second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {0: [20], 1: [22]}
    assert batches == [[double_index]]


def test_compiles_move_to_a_fresh_stack_when_little_is_left(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module_code, "STACK_ROOM_FOR_COMPILE", 1 << 62)
    threads: list[str] = []
    real = module_code.compile_batch

    def recorded(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(module_code, "compile_batch", recorded)
    inst = _instance(_code())
    assert _call(inst, "even", 7) == [0]
    # The compile $odd's stub asks for runs on the helper thread; so does the export's
    # (entered from Python), unless this thread has never run wasm before (its stack
    # bounds are not known then).
    assert len(threads) == 2 and threads[1] == "pyjitwasm-lazy-compile"


def test_eager_mode_compiles_everything_up_front(compile_log: list[list[int]]) -> None:
    code = _code(lazy=False)
    assert not code.lazy and len(compile_log) == 1
    assert code.compiled_functions == len(code.module.codes)
    inst = _instance(code)
    assert _call(inst, "even", 1001) == [0]
    assert _call(inst, "indirect", 0, 4) == [8]
    assert len(compile_log) == 1


# Translation: calls out of the unit go through code slots ------------------------------


def test_calls_out_of_the_unit_load_the_code_slot() -> None:
    module = _decoded(CALLS)
    code = ModuleCode(module, CompileOptions(lazy=True), symbol_addresses())
    middle = _func_index(code, "middle")
    boom = _func_index(code, "boom")
    together = print_function(translate_function(module, middle,
                                                 direct_callees={middle, boom}))
    apart = print_function(translate_function(module, middle, direct_callees={middle}))
    assert f"%wasm_func_{boom}" in together and "call_indirect" not in together
    slot = 8 * (boom - module.num_imported_funcs)
    assert f"%wasm_func_{boom}" not in apart and "call_indirect" in apart
    assert f"+{slot}\n" in apart or (slot == 0 and "load.i64 notrap aligned v" in apart)


def test_results_returned_through_memory_survive_the_stub() -> None:
    # More results than registers: the callee gets a hidden pointer for them as its
    # first argument, so the stub finds the callee's vmctx in the second register.
    inst = _instance(_code("""
    (module
      (type $many (func (param i64) (result i64 i64 i64 i64 i64 i64 f64 f64 f64 f64 f64 f64)))
      (func $many (type $many)
        (local.get 0) (i64.const 2) (i64.const 3) (i64.const 4) (i64.const 5) (i64.const 6)
        (f64.const 1) (f64.const 2) (f64.const 3) (f64.const 4) (f64.const 5) (f64.const 6))
      (func $tail (type $many) (return_call $many (local.get 0)))
      (func (export "sum") (param i64) (result i64 f64) (local f64)
        (call $tail (local.get 0))
        f64.add f64.add f64.add f64.add f64.add local.set 1
        i64.add i64.add i64.add i64.add i64.add local.get 1))
    """))
    assert _call(inst, "sum", 10) == [30, 21.0]


def test_a_compile_asked_from_inside_a_compile_with_little_stack_fails_cleanly() -> None:
    # Wasm called during a compile (as by a finalizer a collection runs then) reaches an
    # uncompiled function with little stack left: its compile cannot move to a fresh
    # thread (which would wait for the locks this thread holds while this one waits for
    # it), so the call raises instead of hanging.  In a child process: a hang is stopped
    # by the timeout and fails the test.
    child = subprocess.run([sys.executable, "-P", "-c", textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        from test_lazy_compile import _call, _code, _instance
        from pyjitwasm.runtime.jit import module_code
        module_code.STACK_ROOM_FOR_COMPILE = 1 << 62  # every compile wants a fresh stack
        inst = _instance(_code())
        real = module_code.compile_batch
        seen = []

        def nested(*args, **kwargs):
            if not seen:
                seen.append(True)
                try:
                    _call(inst, "outer", 1)
                except RuntimeError as exc:
                    seen.append(str(exc))
            return real(*args, **kwargs)

        module_code.compile_batch = nested
        print(_call(inst, "even", 4), seen[1:])
        """), str(Path(__file__).parent)], capture_output=True, text=True, timeout=120,
        check=False)
    assert child.returncode == 0, child.stderr
    assert "[1]" in child.stdout and "from inside another compile" in child.stdout
