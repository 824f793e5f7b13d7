"""A warm start (``Config.cache`` filled by an earlier run) decodes no function body in
``Module()`` (the cache notes that the bytes validated) and none on the first calls
(the cache notes which batch each lazy first call compiled); a module the cache does
not know is decoded and checked as before."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyjitwasm import Config, DecodeError, Engine, Instance, Module, Store
from pyjitwasm.runtime.jit import module_code
from pyjitwasm.runtime.jit.compile_module import TIER0, TIER1
from pyjitwasm.runtime.jit.module_code import ModuleCode
from pyjitwasm.wasm import decoder
from pyjitwasm.wasm.module import SectionHeader
from pyjitwasm.wasm.types import I64
from pyjitwasm.wat import wat2wasm

from support.compile_counting import count_compiles

CODE_SECTION_ID = 10

WAT = """(module
  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $double $triple)
  (global $g (mut i32) (i32.const 7))
  (func $double (param i32) (result i32) (i32.mul (local.get 0) (i32.const 2)))
  (func $triple (param i32) (result i32) (i32.mul (local.get 0) (i32.const 3)))
  (func $leaf (param i32) (result i32) (local i64) (i32.add (local.get 0) (global.get $g)))
  (func $mid (param i32) (result i32) (call $leaf (call $double (local.get 0))))
  (func (export "f") (param i32) (result i32) (call $mid (local.get 0)))
  (func (export "indirect") (param i32 i32) (result i32)
    (call_indirect (param i32) (result i32) (local.get 1) (local.get 0)))
  (func (export "unused") (result i32) (i32.const 9)))
"""
WASM = wat2wasm(WAT)


def _engine(cache: Path | None, **settings: Any) -> Engine:
    settings.setdefault("lazy_compilation", True)  # also when the suite runs eagerly
    config = Config(**settings)
    if cache is not None:
        config.cache = str(cache)
    return Engine(config)


def _code_section(wasm: bytes) -> SectionHeader:
    module = decoder.decode_module(wasm)
    return next(s for s in module.sections if s.id == CODE_SECTION_ID)


def _count_body_decodes(monkeypatch: pytest.MonkeyPatch, wasm: bytes) -> list[int]:
    """Offsets of every instruction sequence decoded inside the code section (constant
    expressions elsewhere do not count)."""
    section = _code_section(wasm)
    decoded: list[int] = []
    real = decoder.decode_instrs

    def counting(data: bytes, pos: int, *args: Any) -> Any:
        if section.offset <= pos < section.offset + section.size:
            decoded.append(pos)
        return real(data, pos, *args)

    monkeypatch.setattr(decoder, "decode_instrs", counting)
    return decoded


def _use(engine: Engine) -> Module:
    module = Module(engine, WASM)
    store = Store(engine)
    exports = Instance(store, module, []).exports(store)
    assert exports["f"](store, 5) == 17
    assert exports["indirect"](store, 1, 4) == 12
    return module


@pytest.mark.parametrize("tiered", [True, False])
def test_warm_start_decodes_no_function_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             tiered: bool) -> None:
    decoded = _count_body_decodes(monkeypatch, WASM)
    _use(_engine(tmp_path, tiered_compilation=tiered))  # cold: fills the cache
    assert len(decoded) >= 7  # every body checked, the called ones compiled
    decoded.clear()

    engine = _engine(tmp_path, tiered_compilation=tiered)
    module = Module(engine, WASM)
    assert decoded == []
    assert not any(body.decoded for body in module._wasm.codes)
    _use(engine)  # Module(), Instance() and first calls: batches and plans from the cache
    assert decoded == []


def test_a_deferred_body_decodes_when_read(tmp_path: Path) -> None:
    _use(_engine(tmp_path))
    engine = _engine(tmp_path)
    module = Module(engine, WASM)
    body = module._wasm.codes[2]  # $leaf
    assert not body.decoded
    assert body.locals == (I64,)
    assert body.decoded
    eager = decoder.decode_module(WASM).codes[2]
    assert body.instrs == eager.instrs
    assert body.instr_count == eager.instr_count == len(eager.instrs)


def test_an_unknown_module_is_decoded_and_checked(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    _use(_engine(tmp_path))
    other = wat2wasm(WAT.replace("(i32.const 9)))", "(i32.const 8)))"))
    decoded = _count_body_decodes(monkeypatch, other)
    module = Module(_engine(tmp_path), other)
    # Every body decoded once: malformed code is found and the body validated at once.
    assert len(decoded) == len(module._wasm.codes)


def test_a_malformed_body_is_still_a_decode_error_with_a_cache(tmp_path: Path) -> None:
    _use(_engine(tmp_path))
    section = _code_section(WASM)
    # The last body, `i32.const 9; end`: its opcode 0x41 becomes a reserved one.
    data = bytearray(WASM)
    last = data.rindex(bytes([0x41, 9, 0x0B]), section.offset, section.offset + section.size)
    data[last] = 0xFF
    with pytest.raises(DecodeError):
        Module(_engine(tmp_path), bytes(data))


def test_a_warm_start_runs_code_tiered_up_before_at_tier_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "5")
    monkeypatch.delenv("PYJITWASM_TIERS", raising=False)
    f = next(e.index for e in decoder.decode_module(WASM).exports if e.name == "f")

    def start() -> tuple[Store, Any, ModuleCode]:
        engine = _engine(tmp_path, tiered_compilation=True)
        module = Module(engine, WASM)
        store = Store(engine)
        code = module._prepared.compiled()
        assert isinstance(code, ModuleCode)
        return store, Instance(store, module, []).exports(store)["f"], code

    store, run_f, code = start()
    for n in range(50):
        assert run_f(store, n) == 2 * n + 7
    assert code.wait_for_tier_ups(60) and code.tier_of(f) == TIER1

    compiles = count_compiles(monkeypatch)
    store, run_f, code = start()
    # Not compiled: loaded at tier 1 from the cache by its first call.
    assert code.tier_of(f) is None
    assert run_f(store, 5) == 17
    assert code.tier_of(f) == TIER1
    assert compiles == []


def test_a_deserialized_module_decodes_no_function_body(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(None)
    serialized = Module(engine, WASM).serialize(jobs=1)
    decoded = _count_body_decodes(monkeypatch, WASM)
    module = Module.deserialize(engine, serialized)
    store = Store(engine)
    exports = Instance(store, module, []).exports(store)
    assert exports["f"](store, 5) == 17
    assert decoded == []


def test_a_first_call_loads_the_batches_recorded_after_its_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def start() -> tuple[Store, dict[str, Any], ModuleCode]:
        engine = _engine(tmp_path)
        module = Module(engine, WASM)
        code = module._prepared.compiled()  # noqa: SLF001 - the test looks inside
        assert isinstance(code, ModuleCode)
        store = Store(engine)
        return store, Instance(store, module, []).exports(store), code

    store, exports, code = start()
    # Three batches recorded in this order: f's (with $mid, $leaf, $double),
    # "indirect"'s, and $triple's (reached through the table, not in "indirect"'s).
    assert exports["f"](store, 5) == 17
    assert exports["indirect"](store, 1, 4) == 12
    compiles = count_compiles(monkeypatch)
    store, exports, code = start()
    index = {e.name: e.index for e in code.module.exports}
    assert code.tier_of(index["f"]) is None and code.tier_of(index["indirect"]) is None
    assert exports["f"](store, 6) == 19
    # f's first call loaded every recorded batch, as one group.
    assert code.preloaded_batches == 3
    assert code.tier_of(index["indirect"]) is not None
    assert code.tier_of(index["unused"]) is None  # never recorded
    assert exports["indirect"](store, 0, 4) == 8
    assert compiles == []


def test_a_first_call_loads_only_later_recorded_batches(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tmp_path)
    store = Store(engine)
    exports = Instance(store, Module(engine, WASM), []).exports(store)
    assert exports["f"](store, 5) == 17
    assert exports["indirect"](store, 1, 4) == 12
    engine = _engine(tmp_path)
    module = Module(engine, WASM)
    code = module._prepared.compiled()  # noqa: SLF001
    assert isinstance(code, ModuleCode)
    store = Store(engine)
    exports = Instance(store, module, []).exports(store)
    index = {e.name: e.index for e in code.module.exports}
    # The second recorded batch first: it and the third load, the first one waits
    # for its own first call.
    assert exports["indirect"](store, 1, 4) == 12
    assert code.preloaded_batches == 2 and code.tier_of(index["f"]) is None
    compiles = count_compiles(monkeypatch)
    assert exports["f"](store, 6) == 19
    assert code.preloaded_batches == 3 and compiles == []


def test_preloading_can_be_turned_off(tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    engine = _engine(tmp_path)
    store = Store(engine)
    assert Instance(store, Module(engine, WASM), []).exports(store)["f"](store, 5) == 17
    monkeypatch.setenv("PYJITWASM_PRELOAD", "0")
    module = Module(_engine(tmp_path), WASM)
    code = module._prepared.compiled()  # noqa: SLF001
    assert isinstance(code, ModuleCode)
    assert code.preloaded_batches == 0
    f = next(e.index for e in code.module.exports if e.name == "f")
    assert code.tier_of(f) is None  # loaded by its first call instead


def test_a_warm_start_holds_its_tier_ups_for_the_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_COMPILE_WORKER", "1")
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "5")
    monkeypatch.delenv("PYJITWASM_TIERS", raising=False)
    monkeypatch.setattr(module_code, "WARM_START_WORKER_DELAY", 1.0)

    def start() -> tuple[Store, Any, ModuleCode]:
        engine = _engine(tmp_path, tiered_compilation=True)
        module = Module(engine, WASM)
        store = Store(engine)
        code = module._prepared.compiled()  # noqa: SLF001
        assert isinstance(code, ModuleCode)
        return store, Instance(store, module, []).exports(store)["f"], code

    store, run_f, code = start()
    assert run_f(store, 1) == 9  # recorded at tier 0, not hot yet
    store, run_f, code = start()
    f = next(e.index for e in code.module.exports if e.name == "f")
    for n in range(50):
        assert run_f(store, n) == 2 * n + 7
    # Hot, but held: no worker in a warm start's first second, and no compile on a
    # thread of this process either.
    assert code.tier_of(f) == TIER0 and not code.worker_running
    assert code.wait_for_tier_ups(60) and code.tier_of(f) == TIER1
    assert code.worker_running  # compiled by the worker once the delay had passed


def test_a_warm_start_that_runs_long_enough_starts_its_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYJITWASM_COMPILE_WORKER", "1")
    monkeypatch.setenv("PYJITWASM_TIER_UP_THRESHOLD", "5")
    monkeypatch.delenv("PYJITWASM_TIERS", raising=False)
    engine = _engine(tmp_path, tiered_compilation=True)
    store = Store(engine)
    assert Instance(store, Module(engine, WASM), []).exports(store)["f"](store, 1) == 9
    monkeypatch.setattr(module_code, "WARM_START_WORKER_DELAY", 0.0)
    engine = _engine(tmp_path, tiered_compilation=True)
    module = Module(engine, WASM)
    code = module._prepared.compiled()  # noqa: SLF001
    assert isinstance(code, ModuleCode)
    store = Store(engine)
    run_f = Instance(store, module, []).exports(store)["f"]
    for n in range(50):
        assert run_f(store, n) == 2 * n + 7
    assert code.wait_for_tier_ups(60)
    assert code.worker_running
