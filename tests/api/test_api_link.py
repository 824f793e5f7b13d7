"""Linking: Linker definitions, shadowing, import matching and link errors."""

from __future__ import annotations

import pytest

from pyjitwasm import (
    Config,
    DecodeError,
    Engine,
    Func,
    FuncType,
    Global,
    GlobalType,
    Instance,
    Linker,
    LinkError,
    Memory,
    MemoryType,
    Module,
    Store,
    Trap,
    TrapCode,
    ValidationError,
    ValType,
    WasmError,
)

I32 = ValType.i32()

PROVIDER = """
(module
  (memory (export "mem") 1 4)
  (global (export "counter") (mut i32) (i32.const 10))
  (func (export "bump") (result i32)
    (global.set 0 (i32.add (global.get 0) (i32.const 1)))
    (global.get 0)))
"""

CONSUMER = """
(module
  (import "provider" "mem" (memory 1))
  (import "provider" "bump" (func $bump (result i32)))
  (import "provider" "counter" (global $c (mut i32)))
  (func (export "run") (result i32)
    (i32.store (i32.const 0) (call $bump))
    (i32.add (i32.load (i32.const 0)) (global.get $c))))
"""


def test_define_module_and_instantiate_against_it() -> None:
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    provider = linker.define_module(store, "provider", Module(engine, PROVIDER))
    consumer = linker.instantiate(store, Module(engine, CONSUMER))
    assert consumer.exports(store)["run"](store) == 22
    # Both instances share the memory and the global.
    mem = provider.exports(store)["mem"]
    assert mem.read(store, 0, 4) == bytearray((11).to_bytes(4, "little"))
    assert linker.get(store, "provider", "counter").value(store) == 11


def test_unknown_import_names_the_import() -> None:
    engine = Engine()
    linker = Linker(engine)
    with pytest.raises(LinkError, match="provider::mem"):
        linker.instantiate(Store(engine), Module(engine, CONSUMER))


@pytest.mark.parametrize(
    "item, pattern",
    [
        (lambda s: Memory(s, MemoryType(0)), "memory"),  # too small
        (lambda s: Func(s, FuncType([I32], []), lambda x: None), "func"),  # wrong type
        (lambda s: Global(s, GlobalType(I32, False), 1), "global"),  # wrong mutability
    ],
)
def test_incompatible_imports_are_link_errors(item, pattern) -> None:
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    linker.define_module(store, "provider", Module(engine, PROVIDER))
    linker.allow_shadowing = True
    obj = item(store)
    name = {"memory": "mem", "func": "bump", "global": "counter"}[pattern]
    linker.define(store, "provider", name, obj)
    with pytest.raises(LinkError, match=f"provider::{name}"):
        linker.instantiate(store, Module(engine, CONSUMER))


def test_wrong_kind_in_instance_imports_is_a_link_error() -> None:
    store = Store()
    module = Module(store.engine, '(module (import "m" "f" (func)))')
    with pytest.raises(LinkError):
        Instance(store, module, [Memory(store, MemoryType(1))])
    with pytest.raises(LinkError):
        Instance(store, module, [])


def test_shadowing_is_an_error_unless_allowed() -> None:
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    ft = FuncType([], [I32])
    linker.define_func("m", "f", ft, lambda: 1)
    with pytest.raises(LinkError):
        linker.define_func("m", "f", ft, lambda: 2)
    linker.allow_shadowing = True
    linker.define_func("m", "f", ft, lambda: 3)
    module = Module(engine, '(module (import "m" "f" (func $f (result i32)))'
                    ' (func (export "g") (result i32) (call $f)))')
    assert linker.instantiate(store, module).exports(store)["g"](store) == 3


def test_linker_get_unknown_raises() -> None:
    engine = Engine()
    with pytest.raises(LinkError):
        Linker(engine).get(Store(engine), "nope", "nothing")


def test_module_imports_describe_types() -> None:
    module = Module(Engine(), CONSUMER)
    kinds = [(i.module, i.name, type(i.type).__name__) for i in module.imports]
    assert kinds == [
        ("provider", "mem", "MemoryType"),
        ("provider", "bump", "FuncType"),
        ("provider", "counter", "GlobalType"),
    ]
    assert module.imports[1].type == FuncType([], [I32])
    assert module.imports[0].type.minimum == 1
    assert module.imports[2].type.mutable


def test_decode_and_validation_errors() -> None:
    engine = Engine()
    with pytest.raises(DecodeError):
        Module(engine, b"\0asm\x02\0\0\0")
    with pytest.raises(ValidationError):
        Module(engine, "(module (func (result i32) (i64.const 1)))")
    with pytest.raises(DecodeError):
        Module.validate(engine, b"not wasm")
    Module.validate(engine, "(module)")
    with pytest.raises(WasmError):
        Module(engine, "(module (func (oops)))")


def test_instantiation_traps_and_keeps_earlier_segment_writes() -> None:
    engine = Engine()
    store = Store(engine)
    linker = Linker(engine)
    memory = Memory(store, MemoryType(1))
    linker.define(store, "env", "mem", memory)
    module = Module(
        engine,
        """
        (module
          (import "env" "mem" (memory 1))
          (data (i32.const 0) "ok")
          (data (i32.const 65535) "too long"))
        """,
    )
    with pytest.raises(Trap) as info:
        linker.instantiate(store, module)
    assert info.value.trap_code == TrapCode.MEMORY_OUT_OF_BOUNDS
    assert memory.read(store, 0, 2) == bytearray(b"ok")


def test_start_function_trap_fails_instantiation() -> None:
    store = Store()
    module = Module(store.engine, "(module (func $s unreachable) (start $s))")
    with pytest.raises(Trap) as info:
        Instance(store, module, [])
    assert info.value.trap_code == TrapCode.UNREACHABLE


def test_config_strategies() -> None:
    assert Engine(Config(strategy="interp")).strategy == "interp"
    assert Engine(Config()).strategy == "jit"  # "auto" picks the JIT
    with pytest.raises(ValueError):
        Config(strategy="turbo")
    assert Engine(Config(strategy="jit")).strategy == "jit"
