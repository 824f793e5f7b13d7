"""Lifetimes of native objects across threads and collections (``racehunt``): what must
hold so that the host never crashes when the code of a module, or the LLVM objects that
made it, go away while other threads compile, publish or collect.

A test that could crash or hang runs its program in a child process (:func:`_run_child`,
with a timeout), so a segfault or a thread waiting for itself fails that test, not the
pytest process.  Several of them stand for a collection that starts at an allocation
made under a lock and runs a finalizer there: they take the lock and do what the
finalizer would.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
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


# The code map (``runtime/jit/codemap.py``) ---------------------------------------------

_FAKE_CODE = '''
from dataclasses import dataclass

@dataclass(frozen=True)
class Range:
    start: int
    end: int

class FakeCode:
    """What the code map needs of compiled code (``codemap.MappedCode``), at made-up
    addresses that never run."""
    module = None
    osr_entry = False

    def __init__(self, start):
        self.start = start
        self.code_ranges = [Range(start, start + 0x100)]
        self.callbacks = []

    def on_release(self, callback):
        self.callbacks.append(callback)

    def release(self):
        for callback in reversed(self.callbacks):
            callback()
        self.callbacks.clear()

    def func_index_at(self, pc):
        return 7

    def wasm_offset_at(self, func_index, pc):
        return None
'''
_FAKE_BASE = 0x7E0000000000  # far from anything this process maps


def _fake_code_class() -> Any:
    namespace: dict[str, Any] = {}
    exec(_FAKE_CODE, namespace)  # noqa: S102 - the same class the child programs use
    return namespace["FakeCode"]


def test_lookups_stay_right_while_another_thread_registers_and_releases_code() -> None:
    # A trap's backtrace looks PCs up while a tier-up registers its batch (and a
    # collection releases other code): the search and the read of the entry it found
    # were two steps, and an insert or removal between them gave a wrong entry or an
    # IndexError (hundreds in a few seconds at this switch interval before the fix).
    from pyjitwasm.runtime.jit import codemap

    fake_code = _fake_code_class()
    kept = [fake_code(_FAKE_BASE + i * 0x1000) for i in range(0, 64, 2)]
    codemap.register_all(kept)
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            passing = fake_code(_FAKE_BASE + (2 * (n % 32) + 1) * 0x1000)  # between kept
            codemap.register(passing)
            passing.release()
            n += 1

    wrong: list[Any] = []
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    thread = threading.Thread(target=churn)
    thread.start()
    try:
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline and len(wrong) < 5:
            for code in kept:
                try:
                    found = codemap.lookup(code.start + 8)
                except Exception as exc:  # noqa: BLE001 - counted as a wrong answer
                    wrong.append(exc)
                    continue
                if found is None or found[0] is not code:
                    wrong.append(found)
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
        for code in kept:
            code.release()
    assert wrong == []


def test_a_finalizer_that_unregisters_code_may_run_while_the_code_map_is_locked() -> None:
    # A collection can start at any allocation, also one made while a thread holds the
    # code map's lock to register a batch; a finalizer it runs there unregisters the
    # collected code on the same thread.  With a plain lock that waited for itself
    # forever (the child is stopped by the timeout).
    child = _run_child(_FAKE_CODE + f"""
import gc
from pyjitwasm.runtime.jit import codemap
from pyjitwasm.runtime.native import lib

living = FakeCode({_FAKE_BASE:#x})
dying = FakeCode({_FAKE_BASE + 0x1000:#x})
codemap.register_all([living, dying])
dying.cycle = dying  # only a collection frees it
start = dying.start
del dying
with codemap._lock:  # as inside register_all, when an allocation starts a collection
    gc.collect()
assert codemap.lookup(start + 8) is None and not lib.pyjitwasm_is_code_address(start)
assert codemap.lookup(living.start + 8)[0] is living
print("survived")
""", timeout=30)
    _assert_survived(child)


def test_an_address_outside_every_code_range_is_never_code_while_ranges_change() -> None:
    # The fault handler reads the native range set without a lock while other threads
    # register and release code.  An entry's start and end were read one at a time, and
    # a reader could pair the empty start 0 with a new end: every address below it
    # looked like compiled code (a fault or Ctrl-C outside wasm handled as wasm's).  The
    # window is a few instructions: this checks the invariant under churn (in a child:
    # the ranges are made up).
    _assert_survived(_run_child(f"""
        import threading, time
        from pyjitwasm.runtime.native import lib
        racing = ({_FAKE_BASE:#x}, {_FAKE_BASE + 0x1000:#x})
        assert lib.pyjitwasm_register_code(*racing) == 0
        for i in range(1, 50):
            assert lib.pyjitwasm_register_code({_FAKE_BASE} + i * 0x10000,
                                               {_FAKE_BASE} + i * 0x10000 + 0x100) == 0
        stop = threading.Event()
        def churn():
            while not stop.is_set():
                lib.pyjitwasm_unregister_code(*racing)
                lib.pyjitwasm_register_code(*racing)
        thread = threading.Thread(target=churn)
        thread.start()
        wrong = 0
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            for _ in range(1000):
                wrong += lib.pyjitwasm_is_code_address(0x1000)  # below every range
        stop.set()
        thread.join()
        assert wrong == 0, wrong
        assert lib.pyjitwasm_is_code_address(racing[0] + 8)
        assert lib.pyjitwasm_unregister_code(*racing) == 0
        assert not lib.pyjitwasm_is_code_address(racing[0] + 8)
        print("survived")
    """))


# Rebuilding the native helper while a process runs it ----------------------------------


def test_a_rebuilt_native_helper_replaces_the_file_under_a_running_process(
        tmp_path: Path) -> None:
    # ``python runtime/native/build_ffi.py`` wrote the new build over the old file, so a
    # test run of the same checkout had its native code changed under it: a segfault in
    # whichever thread ran native code next.  Now the file is replaced (a new inode).
    from pyjitwasm.runtime.native import _native, build_ffi

    loaded = tmp_path / "loaded.so"
    shutil.copy(_native.__file__, loaded)
    child = subprocess.Popen(
        [sys.executable, "-P", "-c", textwrap.dedent(f"""
            import ctypes, time
            lib = ctypes.CDLL({str(loaded)!r})
            probe = lib.pyjitwasm_is_code_address
            probe.argtypes = [ctypes.c_uint64]
            print("ready", flush=True)
            deadline = time.monotonic() + 1.5
            while time.monotonic() < deadline:
                probe(4096)
                lib.pyjitwasm_stack_room()
            print("survived", flush=True)
        """)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    inode = loaded.stat().st_ino
    rebuilt = tmp_path / "rebuilt.so"
    rebuilt.write_bytes(bytes(loaded.stat().st_size))  # other bytes at every offset
    build_ffi.install_built(rebuilt, loaded)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 0 and "survived" in out, (child.returncode, err[-2000:])
    assert loaded.stat().st_ino != inode and loaded.read_bytes() == rebuilt.read_bytes()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_store_finalizer_may_unregister_host_functions_while_the_registry_is_locked(
        ) -> None:
    # A dropped store's finalizer unregisters its host functions; a collection started
    # by an allocation while a thread registers a host function (holding the registry's
    # lock) runs it on that thread.  With a plain lock that waited for itself forever.
    _assert_survived(_run_child("""
        from pyjitwasm.runtime import native
        kept = lambda buffer: None
        index = native.register_buffered_host_function(kept, 1, 1)
        with native._registry_lock:  # as inside a registration, when a collection starts
            native.unregister_host_function(index)
        assert native.register_buffered_host_function(kept, 1, 1) == index  # reused
        print("survived")
    """, timeout=30))


def test_a_compile_may_run_while_this_thread_holds_the_compile_locks() -> None:
    # A collection can start at any allocation made under the pass pipeline's, the code
    # generation's or the loader's lock, and run a finalizer that calls wasm: its first
    # call compiles on this thread (ModuleCode's lock is reentrant for that).  With plain
    # locks that compile waited for itself forever (the child is stopped by the timeout).
    _assert_survived(_run_child(f"""
        import ctypes
        from pyjitwasm.jit import codeload
        loader = codeload.CodeLoader(1)
        with loader.pipeline._lock, codeload._codegen_lock, loader._lock:
            code = loader.load({_IR!r})
        f = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int32)(code.address("f"))
        assert f(41) == 42
        print("survived")
    """, timeout=30))


def test_a_link_that_fails_after_linking_frees_its_library(
        monkeypatch: pytest.MonkeyPatch) -> None:
    freed: list[Any] = []
    real_free = codeload._SharedLibrary.free  # noqa: SLF001 - the test looks inside

    def free(self: Any) -> None:
        freed.append(self.tracker)
        real_free(self)

    def failing(*args: Any) -> Any:
        raise MemoryError("simulated")

    monkeypatch.setattr(codeload._SharedLibrary, "free", free)  # noqa: SLF001
    monkeypatch.setattr(codeload, "section_ranges", failing)
    loader = CodeLoader(1)
    obj = loader.compile_object(_IR)
    with pytest.raises(MemoryError, match="simulated"):
        loader.load_object(obj)
    # Closed now, not left to the collector (with its LLJIT, in any order).
    assert len(freed) == 1 and freed[0].closed


@pytest.mark.skipif(not lazy_stubs_supported(), reason="lazy compilation is x86-64 only")
def test_a_first_call_may_compile_while_this_thread_is_publishing_code() -> None:
    # Publishing registers code with the code map, whose allocations may start a
    # collection; a finalizer it runs may call this module's wasm, whose first call
    # compiles and publishes on the same thread (as ModuleCode's compile lock allows).
    # With a plain publish lock that waited for itself forever.
    _assert_survived(_run_child("""
        from pyjitwasm import Config, Engine, Instance, Module, Store
        store = Store(Engine(Config(strategy="jit", lazy_compilation=True)))
        module = Module(store.engine, '''(module
            (func (export "f") (result i32) (i32.const 1))
            (func (export "g") (result i32) (i32.const 2)))''')
        exports = Instance(store, module, []).exports(store)
        assert exports["f"](store) == 1
        code = module._prepared.compiled()
        with code._publish_lock:  # as inside a publish, when a finalizer calls wasm
            assert exports["g"](store) == 2  # its first call: compiled and published
        print("survived")
    """, timeout=30))


def test_a_compile_thread_may_start_while_this_thread_starts_one() -> None:
    # Making a thread allocates; a collection it starts may run a finalizer that calls
    # wasm, which may start a compile thread of its own (a lazy compile short of stack)
    # on this thread.  With a plain stack-size lock that waited for itself forever.
    _assert_survived(_run_child("""
        import threading
        from pyjitwasm.runtime.jit import tiering
        ran = []
        with tiering._stack_size_lock:  # as inside start_thread, when a finalizer runs
            inner = tiering.start_thread(lambda: ran.append(threading.stack_size()), "t")
            inner.join()
        assert len(ran) == 1 and threading.stack_size() == 0
        print("survived")
    """, timeout=30))
