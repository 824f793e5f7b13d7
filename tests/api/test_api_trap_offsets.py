"""Wasm instruction offsets in JIT backtraces: every frame of a trap (the trapping
instruction for the innermost, the call for the callers) carries ``module_offset`` and
``func_offset``, exactly as the interpreter reports them, however the trap happens: an
explicit trap instruction, a trap check (division, conversion, indirect call, a bounds
check on a dynamic heap), a guard-page fault on a static heap, a trap after a libcall,
a trap a host function raises, on lazily and eagerly compiled code."""

from __future__ import annotations

from typing import Any

import pytest

from pyjitwasm import Config, Engine, Func, FuncType, Instance, Module, Store, Trap

MODULE = """
(module $m
  (import "host" "fail" (func $fail))
  (type $v (func))
  (memory 1)
  (table $t 4 funcref)
  (table $u 2 funcref)
  (elem (table $t) (i32.const 1) func $ok)
  (func $ok)
  (func $unreachable (export "unreachable") (call $mid))
  (func $mid (nop) (call $leaf))
  (func $leaf (i32.const 1) (drop) (unreachable))
  (func $div (export "div") (param i32 i32) (result i32)
    (i32.add (i32.const 1) (call $div_inner (local.get 0) (local.get 1))))
  (func $div_inner (param i32 i32) (result i32)
    (i32.div_s (local.get 0) (local.get 1)))
  (func (export "convert") (param f64) (result i32)
    (i32.trunc_f64_s (local.get 0)))
  (func (export "load") (param i32) (result i32)
    (i32.add (i32.const 2) (call $load_inner (local.get 0))))
  (func $load_inner (param i32) (result i32)
    (i32.store (i32.const 0) (i32.const 7))
    (i32.load offset=4 (local.get 0)))
  (func (export "indirect") (param i32)
    (call_indirect $t (type $v) (local.get 0)))
  (func (export "table_copy") (param i32)
    (table.copy $t $u (local.get 0) (i32.const 0) (i32.const 2)))
  (func (export "host") (nop) (call $host_inner))
  (func $host_inner (call $fail))
)
"""

CASES: list[tuple[str, tuple[Any, ...]]] = [
    ("unreachable", ()),
    ("div", (1, 0)),
    ("div", (-2147483648, -1)),
    ("convert", (1e300,)),
    ("load", (65535,)),
    ("load", (0xFFFFFFF0,)),
    ("indirect", (0,)),
    ("indirect", (9,)),
    ("table_copy", (3,)),
    ("host", ()),
]


def frames(config: Config, name: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    engine = Engine(config)
    store = Store(engine)

    def fail() -> None:
        raise Trap("host says no")

    module = Module(engine, MODULE)
    instance = Instance(store, module, [Func(store, FuncType([], []), fail)])
    with pytest.raises(Trap) as info:
        instance.exports(store)[name](store, *args)
    return [(f.func_index, f.func_name, f.module_name, f.func_offset, f.module_offset)
            for f in info.value.frames]


JIT_CONFIGS = {
    "lazy": dict(lazy_compilation=True),
    "eager": dict(lazy_compilation=False),
    "dynamic-heap": dict(memory_style="dynamic"),
}


@pytest.mark.parametrize("jit", JIT_CONFIGS)
@pytest.mark.parametrize(("name", "args"), CASES, ids=[f"{n}{a}" for n, a in CASES])
def test_jit_frames_carry_the_interpreters_offsets(jit: str, name: str,
                                                    args: tuple[Any, ...]) -> None:
    expected = frames(Config(strategy="interp"), name, args)
    assert expected and all(f[4] is not None for f in expected)
    assert frames(Config(strategy="jit", **JIT_CONFIGS[jit]), name, args) == expected


def test_str_of_a_jit_trap_shows_the_offsets() -> None:
    store = Store(Engine(Config(strategy="jit")))
    instance = Instance(store, Module(store.engine, MODULE),
                        [Func(store, FuncType([], []), lambda: None)])
    with pytest.raises(Trap) as info:
        instance.exports(store)["unreachable"](store)
    lines = str(info.value).splitlines()
    assert lines[0] == "error while executing at wasm backtrace:"
    for line, name in zip(lines[1:4], ["leaf", "mid", "unreachable"], strict=True):
        assert line.split(" - ")[1] == f"m!{name}"
        assert line.split(" - ")[0].split(":")[1].strip().startswith("0x")


def test_stack_overflow_frames_have_offsets() -> None:
    store = Store(Engine(Config(strategy="jit")))
    module = Module(store.engine, """
    (module (func $r (export "r") (param i32) (result i32)
      (i32.add (i32.const 1) (call $r (local.get 0)))))
    """)
    with pytest.raises(Trap) as info:
        Instance(store, module, []).exports(store)["r"](store, 0)
    trace = info.value.frames
    assert len(trace) > 100
    # Every caller frame is at the recursive call, the innermost at the function's entry.
    call_offset = trace[1].module_offset
    assert call_offset is not None
    assert all(f.module_offset == call_offset for f in trace[1:])
    assert trace[0].module_offset is not None


def test_a_deserialized_module_gets_offsets_too() -> None:
    """Code loaded from a serialized module was compiled elsewhere: its offsets come
    from compiling it again here, checked against the loaded bytes."""
    engine = Engine(Config(strategy="jit", lazy_compilation=False))
    expected = frames(Config(strategy="interp"), "div", (1, 0))
    data = Module(engine, MODULE).serialize()
    store = Store(engine)
    module = Module.deserialize(engine, data)
    instance = Instance(store, module, [Func(store, FuncType([], []), lambda: None)])
    with pytest.raises(Trap) as info:
        instance.exports(store)["div"](store, 1, 0)
    got = [(f.func_index, f.func_name, f.module_name, f.func_offset, f.module_offset)
           for f in info.value.frames]
    assert got == expected
