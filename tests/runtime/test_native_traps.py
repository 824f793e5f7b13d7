"""Traps, guard-page faults, stack exhaustion and host calls through the native runtime,
driven by the hand-written compiled module of runtime/native/handwritten.py."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from pyjitwasm.runtime import native
from pyjitwasm.runtime.errors import Trap
from pyjitwasm.runtime.native.handwritten import ACCESSIBLE_BYTES, HandWrittenInstance
from pyjitwasm.wasm.traps import TrapCode


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


class _Host:
    """The imported (i32) -> i32 function; tests swap ``impl``."""

    def __init__(self) -> None:
        self.impl = lambda x: x * 10

    def __call__(self, x: int) -> int:
        return self.impl(x)


@pytest.fixture(scope="module")
def host() -> _Host:
    return _Host()


@pytest.fixture(scope="module")
def inst(host: _Host):
    with HandWrittenInstance(host) as instance:
        yield instance


@pytest.fixture(autouse=True)
def _reset(host: _Host):
    host.impl = lambda x: x * 10
    yield
    assert native.invoke_depth() == 0


def _trap_code(inst: HandWrittenInstance, name: str, *args: int) -> TrapCode:
    with pytest.raises(Trap) as info:
        inst.call(name, *args)
    return info.value.trap_code


def test_values_cross_the_entry_shim(inst):
    assert inst.call("add", 2, 40) == (42,)
    assert inst.call("add", 2**31 - 1, 1) == (-(2**31),)
    assert inst.call("add", -5, 3) == (-2,)
    assert inst.call("multi", 5, 7, 1.25) == (2.5, 6, 21)
    assert inst.call("multi", -1, -(2**40), -0.5) == (-1.0, 0, -3 * 2**40)


@pytest.mark.parametrize(
    ("name", "args", "code"),
    [
        ("div_s", (1, 0), TrapCode.INTEGER_DIVISION_BY_ZERO),
        ("div_s", (-(2**31), -1), TrapCode.INTEGER_OVERFLOW),
        ("unreachable", (), TrapCode.UNREACHABLE),
    ],
)
def test_explicit_traps(inst, name, args, code):
    assert _trap_code(inst, name, *args) == code
    assert inst.call("div_s", 7, 2) == (3,)


def test_guard_page_fault_is_an_out_of_bounds_trap(inst):
    inst.write_memory(ACCESSIBLE_BYTES - 4, (0x1234).to_bytes(4, "little"))
    assert inst.call("load_mem", ACCESSIBLE_BYTES - 4) == (0x1234,)
    assert _trap_code(inst, "load_mem", ACCESSIBLE_BYTES - 3) == TrapCode.MEMORY_OUT_OF_BOUNDS
    assert _trap_code(inst, "load_mem", ACCESSIBLE_BYTES * 5) == TrapCode.MEMORY_OUT_OF_BOUNDS
    assert inst.call("load_mem", ACCESSIBLE_BYTES - 4) == (0x1234,)


def test_100k_guard_page_traps_keep_rss_flat(inst):
    def trap_many(n: int) -> None:
        for _ in range(n):
            try:
                inst.call("load_mem", ACCESSIBLE_BYTES + 64)
            except Trap:
                pass
            else:
                raise AssertionError("no trap")

    trap_many(10_000)
    before = _rss_kib()
    trap_many(100_000)
    assert _rss_kib() - before < 2048
    assert inst.call("add", 1, 1) == (2,)


def test_runaway_recursion_exhausts_the_stack(inst):
    assert _trap_code(inst, "runaway", 0) == TrapCode.STACK_OVERFLOW
    old = native.max_wasm_stack()
    native.set_max_wasm_stack(128 * 1024)
    try:
        assert _trap_code(inst, "runaway", 0) == TrapCode.STACK_OVERFLOW
    finally:
        native.set_max_wasm_stack(old)
    assert inst.call("add", 20, 22) == (42,)


def test_host_call_round_trip(inst, host):
    seen = []

    def impl(x):
        seen.append(x)
        return x * 3

    host.impl = impl
    assert inst.call("call_import", 14) == (43,)
    assert seen == [14]


def test_host_exception_is_reraised_as_the_same_object(inst, host):
    error = ValueError("from the host")

    def impl(x):
        raise error

    host.impl = impl
    with pytest.raises(ValueError) as info:
        inst.call("call_import", 1)
    assert info.value is error
    host.impl = lambda x: x
    assert inst.call("call_import", 1) == (2,)


def test_keyboard_interrupt_crosses_compiled_frames(inst, host):
    def impl(x):
        raise KeyboardInterrupt

    host.impl = impl
    with pytest.raises(KeyboardInterrupt):
        inst.call("call_import", 1)


def test_nested_invoke_from_a_host_function(inst, host):
    depths = []

    def impl(x):
        depths.append(native.invoke_depth())
        return inst.call("add", x, 100)[0]

    host.impl = impl
    assert inst.call("call_import", 5) == (106,)
    assert depths == [1]


def test_trap_in_inner_invoke_unwinds_only_the_inner_call(inst, host):
    caught = []

    def impl(x):
        try:
            inst.call("div_s", x, 0)
        except Trap as trap:
            caught.append((trap.trap_code, native.invoke_depth()))
        return x + 1

    host.impl = impl
    assert inst.call("call_import", 5) == (7,)
    assert caught == [(TrapCode.INTEGER_DIVISION_BY_ZERO, 1)]


def test_inner_guard_fault_and_stack_overflow_while_nested(inst, host):
    caught = []

    def impl(x):
        for name, arg in (("load_mem", ACCESSIBLE_BYTES * 2), ("runaway", 0)):
            try:
                inst.call(name, arg)
            except Trap as trap:
                caught.append(trap.trap_code)
        return x

    host.impl = impl
    assert inst.call("call_import", 9) == (10,)
    assert caught == [TrapCode.MEMORY_OUT_OF_BOUNDS, TrapCode.STACK_OVERFLOW]


def test_inner_trap_left_uncaught_propagates_through_outer_frames(inst, host):
    def impl(x):
        inst.call("unreachable")
        return 0

    host.impl = impl
    with pytest.raises(Trap) as info:
        inst.call("call_import", 1)
    assert info.value.trap_code == TrapCode.UNREACHABLE


def test_traps_on_another_thread(inst):
    results = []

    def worker():
        codes = []
        for name, args in (("load_mem", (ACCESSIBLE_BYTES * 3,)), ("div_s", (1, 0))):
            try:
                inst.call(name, *args)
            except Trap as trap:
                codes.append(trap.trap_code)
        results.append(codes)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert results == [[TrapCode.MEMORY_OUT_OF_BOUNDS, TrapCode.INTEGER_DIVISION_BY_ZERO]]


def _run_child(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-P", "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=120,
    )


def test_faults_outside_compiled_code_still_crash():
    child = _run_child("""
        import ctypes
        from pyjitwasm.runtime import native
        print("ready", flush=True)
        ctypes.cast(8, ctypes.POINTER(ctypes.c_int))[0]  # NULL page
        print("survived", flush=True)
    """)
    assert child.returncode == -signal.SIGSEGV, child.stderr
    assert "ready" in child.stdout and "survived" not in child.stdout


def test_compiled_code_fault_outside_any_heap_still_crashes():
    # load_mem with an address that lands on page 0: compiled code, but no wasm heap.
    child = _run_child("""
        from pyjitwasm.runtime.native.handwritten import HandWrittenInstance
        inst = HandWrittenInstance(lambda x: x)
        print("ready", flush=True)
        inst.call("load_mem", -inst.memory_base)
        print("survived", flush=True)
    """)
    assert child.returncode == -signal.SIGSEGV, child.stderr
    assert "ready" in child.stdout and "survived" not in child.stdout


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _malloc_in_use_kib() -> int:
    """Bytes malloc has handed out and not had back, all arenas and mmapped chunks
    (glibc's mallinfo2), in KiB."""
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = _MallInfo2
    info = mallinfo2()
    return (info.uordblks + info.hblkhd) // 1024


def test_threads_that_trapped_leave_no_backtrace_buffer_behind(inst):
    # Each thread that runs wasm gets a 512 KiB backtrace buffer; it goes when the
    # thread ends (it used to stay: 100 threads kept 50 MiB).
    def trap_once(codes: list[TrapCode]) -> None:
        codes.append(_trap_code(inst, "unreachable"))

    def run_threads(n: int) -> list[TrapCode]:
        codes: list[TrapCode] = []
        for _ in range(n):
            thread = threading.Thread(target=trap_once, args=(codes,))
            thread.start()
            thread.join()
        return codes

    run_threads(5)
    before = _malloc_in_use_kib()
    codes = run_threads(100)
    grown = _malloc_in_use_kib() - before
    assert codes == [TrapCode.UNREACHABLE] * 100
    assert grown < 100 * 512 // 4, f"malloc's memory in use grew {grown} KiB over 100 threads"
    assert _trap_code(inst, "unreachable") == TrapCode.UNREACHABLE  # this thread's own
