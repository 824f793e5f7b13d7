"""The native stack limit across instances and threads. Each scenario runs in a child
process, so a crash cannot take the test run down.

Every vmctx points (word 0) at its store's limits record, whose first word is the
store's stack budget; the outermost ``pyjitwasm_invoke`` of a thread turns it into that
thread's stack limit, a thread-local word compiled prologues read at a fixed offset from
the thread pointer. So a call into a function imported from another instance is checked
against the same limit as its caller, and threads running in one store at the same time
each keep their own limit (before, the limit was one word per store: when two threads
overlapped, the first to leave reset it while the other still ran, and unbounded
recursion there overflowed the native stack with SIGSEGV). Host -> wasm nesting is
counted per thread too.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCENARIO = textwrap.dedent('''
    import threading
    from pyjitwasm import Config, Engine, Func, FuncType, Instance, Module, Store, Trap
    from pyjitwasm import ValType

    store = Store(Engine(Config(strategy="jit")))
    I32 = ValType.i32()
    a_inside, b_inside, a_done = threading.Event(), threading.Event(), threading.Event()

    def host(who):
        if who == 0:
            a_inside.set(); b_inside.wait(10)   # A waits until B is inside too
        else:
            b_inside.set(); a_done.wait(10)     # B recurses only after A has left
        return 0

    h = Func(store, FuncType([I32], [I32]), host)
    ex = Instance(store, Module(store.engine, """
    (module (import "" "h" (func $h (param i32) (result i32)))
      (func $rec (param i32) (result i32) (i32.add (i32.const 1) (call $rec (local.get 0))))
      (func (export "enter") (param $who i32) (result i32)
        (drop (call $h (local.get $who)))
        (if (result i32) (local.get $who)
          (then (call $rec (i32.const 0))) (else (i32.const 0)))))
    """), [h]).exports(store)
    out = {}

    def run(who):
        try:
            out[who] = ex["enter"](store, who)
        except Trap as e:
            out[who] = "trap: " + e.trap_code.name
        if who == 0:
            a_done.set()

    ta = threading.Thread(target=run, args=(0,)); ta.start(); a_inside.wait(10)
    tb = threading.Thread(target=run, args=(1,)); tb.start()
    ta.join(); tb.join()
    print(out[0], out[1])
''')


def test_recursion_on_a_second_thread_traps_after_the_first_leaves() -> None:
    proc = subprocess.run([sys.executable, "-c", SCENARIO], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"exit status {proc.returncode}: {proc.stderr[-500:]}"
    first, second = proc.stdout.split(maxsplit=1)
    assert first == "0"
    assert "STACK_OVERFLOW" in second


CROSS_INSTANCE = textwrap.dedent('''
    from pyjitwasm import Engine, Instance, Module, Store, Trap

    store = Store(Engine())
    callee = Instance(store, Module(store.engine, """
    (module (func $rec (export "rec") (param i32) (result i32)
      (i32.add (i32.const 1) (call $rec (local.get 0)))))
    """), [])
    caller = Instance(store, Module(store.engine, """
    (module (import "b" "rec" (func $r (param i32) (result i32)))
      (func (export "go") (result i32) (call $r (i32.const 0))))
    """), [callee.exports(store)["rec"]])
    try:
        print(caller.exports(store)["go"](store))
    except Trap as e:
        print("trap: " + e.trap_code.name)
''')


def test_recursion_in_an_imported_function_of_another_instance_traps() -> None:
    proc = subprocess.run([sys.executable, "-c", CROSS_INSTANCE], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"exit status {proc.returncode}: {proc.stderr[-500:]}"
    assert "STACK_OVERFLOW" in proc.stdout


BOTH_RECURSE = textwrap.dedent('''
    import threading
    from pyjitwasm import Config, Engine, Func, FuncType, Instance, Module, Store, Trap
    from pyjitwasm import ValType

    store = Store(Engine(Config(strategy="jit")))
    I32 = ValType.i32()
    both_inside = threading.Barrier(2, timeout=10)

    def host(who):
        both_inside.wait()  # neither recurses before both are inside the store
        return 0

    h = Func(store, FuncType([I32], [I32]), host)
    ex = Instance(store, Module(store.engine, """
    (module (import "" "h" (func $h (param i32) (result i32)))
      (func $rec (param i32) (result i32) (i32.add (i32.const 1) (call $rec (local.get 0))))
      (func (export "enter") (param $who i32) (result i32)
        (drop (call $h (local.get $who)))
        (call $rec (i32.const 0))))
    """), [h]).exports(store)
    out = {}

    def run(who):
        for _ in range(20):
            try:
                out[who] = ex["enter"](store, who)
            except Trap as e:
                out[who] = "trap: " + e.trap_code.name
            if out[who] != "trap: STACK_OVERFLOW":
                return

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(out[0], "|", out[1])
''')


def test_two_threads_recursing_in_one_store_at_once_both_trap() -> None:
    """Both threads are inside the store when each recurses without bound: each must
    trap against its own limit (a shared limit is wrong for one of the two stacks)."""
    proc = subprocess.run([sys.executable, "-c", BOTH_RECURSE], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, f"exit status {proc.returncode}: {proc.stderr[-500:]}"
    assert proc.stdout.split() == ["trap:", "STACK_OVERFLOW", "|", "trap:", "STACK_OVERFLOW"]


NESTING = textwrap.dedent('''
    import threading
    from pyjitwasm import Config, Engine, Func, FuncType, Instance, Module, Store, Trap
    from pyjitwasm import ValType

    store = Store(Engine(Config(strategy="jit", max_host_nesting=5)))
    I32 = ValType.i32()
    ex = {}

    def host(n):
        if n == 0:
            return 0
        return ex["down"](store, n - 1) + 1

    h = Func(store, FuncType([I32], [I32]), host)
    ex = Instance(store, Module(store.engine, """
    (module (import "" "h" (func $h (param i32) (result i32)))
      (func (export "down") (param i32) (result i32) (call $h (local.get 0))))
    """), [h]).exports(store)
    out = []

    def run(n):
        try:
            out.append(str(ex["down"](store, n)))
        except Trap as e:
            out.append("trap: " + e.trap_code.name)

    # Four threads each nest four deep at once: within the limit for every thread, over
    # it for a count shared by the store.
    threads = [threading.Thread(target=run, args=(3,)) for _ in range(4)]
    for t in threads: t.start()
    for t in threads: t.join()
    run(9)  # one thread nesting ten deep is over the limit
    print(",".join(out))
''')


def test_host_nesting_is_counted_per_thread() -> None:
    proc = subprocess.run([sys.executable, "-c", NESTING], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"exit status {proc.returncode}: {proc.stderr[-500:]}"
    assert proc.stdout.strip() == "3,3,3,3,trap: STACK_OVERFLOW"
