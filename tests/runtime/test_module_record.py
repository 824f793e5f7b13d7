"""The code cache's per-module data-plan record (runtime/jit/module_record.py) and the
deferred data section it lets a warm start skip: a warm ``Module()`` + instantiation
reads the record instead of decoding segments, with the same memory, kept passive
segments and traps; a missing, corrupt or unparsable record, or one under another key,
falls back to planning from the segments (and is stored again)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import pyjitwasm
from pyjitwasm.jit_engine import JitBackend
from pyjitwasm.runtime.images import HOST_PAGE, DataPlan, MemoryImage, plan_data
from pyjitwasm.runtime.jit.code_cache import CodeCache, open_code_cache
from pyjitwasm.runtime.jit.module_record import (
    RECORD_KIND,
    RecordFormatError,
    decode_data_plan,
    encode_data_plan,
)
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wat import wat2wasm

# Active segments at constant offsets (memory images), a passive one read by
# memory.init, and a data.drop.
WAT = """(module
  (memory (export "mem") 2)
  (data (i32.const 16) "hello")
  (data (i32.const 70000) "far")
  (data $p "passive!")
  (func (export "init") (param i32)
    (memory.init $p (local.get 0) (i32.const 0) (i32.const 8)))
  (func (export "drop") (data.drop $p)))
"""
WASM = wat2wasm(WAT)

# An active segment out of bounds (no images: instantiation writes the first segment,
# then traps on the second).
OOB_WASM = wat2wasm("""(module
  (memory (export "mem") 1)
  (data (i32.const 0) "kept")
  (data (i32.const 65534) "too long"))""")

# Offsets read from an imported global (not plannable into an image).
GLOBAL_OFFSET_WASM = wat2wasm("""(module
  (import "env" "base" (global i32))
  (memory (export "mem") 1)
  (data (global.get 0) "moved"))""")


@pytest.fixture(autouse=True)
def _records_for_small_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    """This file's modules have data sections of a few bytes, which a warm start plans
    without a record (``RECORD_MIN_DATA_BYTES``): here they get records, but in
    :func:`test_small_data_section_is_planned_without_a_record`."""
    from pyjitwasm.runtime.jit import module_record

    monkeypatch.setattr(module_record, "RECORD_MIN_DATA_BYTES", 0)


def _engine(cache: Path) -> pyjitwasm.Engine:
    config = pyjitwasm.Config()
    config.cache = str(cache)
    return pyjitwasm.Engine(config)


def _instantiate(engine: pyjitwasm.Engine, wasm: bytes = WASM,
                 imports: list[object] | None = None
                 ) -> tuple[pyjitwasm.Module, pyjitwasm.Store, pyjitwasm.Instance]:
    module = pyjitwasm.Module(engine, wasm)
    store = pyjitwasm.Store(engine)
    return module, store, pyjitwasm.Instance(store, module, imports or [])


def _memory(store: pyjitwasm.Store, instance: pyjitwasm.Instance, start: int,
            size: int) -> bytes:
    memory = instance.exports(store)["mem"]
    assert isinstance(memory, pyjitwasm.Memory)
    return bytes(memory.read(store, start, start + size))


def _check_instance(store: pyjitwasm.Store, instance: pyjitwasm.Instance) -> None:
    assert _memory(store, instance, 16, 5) == b"hello"
    assert _memory(store, instance, 70000, 3) == b"far"
    assert _memory(store, instance, 0, 16) == bytes(16)
    exports = instance.exports(store)
    exports["init"](store, 100)
    assert _memory(store, instance, 100, 8) == b"passive!"
    exports["drop"](store)
    with pytest.raises(pyjitwasm.Trap):
        exports["init"](store, 200)


def _code_cache(engine: pyjitwasm.Engine) -> CodeCache:
    backend = engine.backend
    assert isinstance(backend, JitBackend) and backend.code_cache is not None
    return backend.code_cache


def _record_key(engine: pyjitwasm.Engine, wasm: bytes = WASM) -> str:
    return _code_cache(engine).record_key(hashlib.sha256(wasm).hexdigest(), RECORD_KIND)


def _record_path(engine: pyjitwasm.Engine, wasm: bytes = WASM) -> Path:
    return _code_cache(engine)._path(_record_key(engine, wasm))


def test_deferred_data_section_decodes_on_first_read() -> None:
    eager = decode_module(WASM)
    deferred = decode_module(WASM, keep_bodies=False, decode_bodies=False)
    assert not deferred.datas_decoded
    assert deferred.datas == eager.datas
    assert deferred.datas_decoded
    # Assigning replaces whatever was deferred.
    other = decode_module(WASM, keep_bodies=False, decode_bodies=False)
    other.datas = []
    assert other.datas == [] and other.datas_decoded


def test_record_round_trip() -> None:
    module = decode_module(WASM)
    plan = plan_data(module)
    assert [image.memory for image in plan.images] == [0]
    back = decode_data_plan(memoryview(encode_data_plan(plan)), module)
    assert back.datas_after == plan.datas_after == [b"", b"", b"passive!"]
    assert [bytes(image.data) for image in back.images] == \
        [bytes(image.data) for image in plan.images]
    assert [image.address for image in back.images] == [0]


def test_an_image_starts_at_the_host_page_of_its_lowest_byte() -> None:
    """Data above a C program's stack: the zero pages below it are not in the image
    (nor in its record), and both engines' memories read the same."""
    wat = """(module (memory (export "mem") 2)
                     (data (i32.const 70000) "far") (data (i32.const 74000) "farther"))"""
    wasm = wat2wasm(wat)
    plan = plan_data(decode_module(wasm))
    (image,) = plan.images
    assert image.address == 70000 // HOST_PAGE * HOST_PAGE
    assert image.address + len(image.data) >= 74007 and len(image.data) % HOST_PAGE == 0
    back = decode_data_plan(memoryview(encode_data_plan(plan)), decode_module(wasm))
    assert [(i.address, bytes(i.data)) for i in back.images] == \
        [(image.address, bytes(image.data))]
    for strategy in ("jit", "interp"):
        engine = pyjitwasm.Engine(pyjitwasm.Config(strategy=strategy))
        _, store, instance = _instantiate(engine, wasm)
        assert _memory(store, instance, 70000, 3) == b"far"
        assert _memory(store, instance, 74000, 7) == b"farther"
        assert _memory(store, instance, 0, 70000) == bytes(70000)
        assert _memory(store, instance, 74007, 2 * 65536 - 74007) == bytes(2 * 65536 - 74007)


@pytest.mark.parametrize("damage", ["magic", "truncated", "trailing", "too_big_image",
                                    "image_past_memory", "unaligned_image",
                                    "bad_passive_index", "segment_count",
                                    "deferred_segment_count", "imported_memory"])
def test_unparsable_records_are_refused(damage: str) -> None:
    module = decode_module(WASM)
    good = encode_data_plan(plan_data(module))
    if damage == "magic":
        bad = b"X" + good[1:]
    elif damage == "truncated":
        bad = good[:-3]
    elif damage == "trailing":
        bad = good + b"\0"
    elif damage == "too_big_image":
        bad = encode_data_plan(DataPlan((MemoryImage(0, bytes(3 * 65536)),), [b""] * 3))
    elif damage in ("image_past_memory", "unaligned_image"):
        at = 2 * 65536 if damage == "image_past_memory" else HOST_PAGE
        bad = encode_data_plan(DataPlan((MemoryImage(0, bytes(HOST_PAGE), address=at),),
                                        [b""] * 3))
        if damage == "unaligned_image":
            field = at.to_bytes(8, "little") + HOST_PAGE.to_bytes(8, "little")
            assert bad.count(field) == 1
            bad = bad.replace(field, (at + 8).to_bytes(8, "little") + field[8:])
    elif damage == "bad_passive_index":
        bad = encode_data_plan(DataPlan((), [b"", b"", b"x"]))
        entry = b"\x02\x00\x00\x00\x01\x00\x00\x00x"  # index 2, length 1, b"x"
        assert entry in bad
        bad = bad.replace(entry, b"\x09" + entry[1:])
    elif damage == "imported_memory":
        module = decode_module(wat2wasm("""(module (import "m" "m" (memory 2))
                                             (data (i32.const 0) "x"))"""))
        bad = encode_data_plan(DataPlan((MemoryImage(0, bytes(4096)),), [b""]))
    else:
        bad = encode_data_plan(DataPlan((), [b""] * 5))
        if damage == "deferred_segment_count":  # checked against the data count section
            module = decode_module(WASM, keep_bodies=False, decode_bodies=False)
            assert not module.datas_decoded and module.data_count == 3
    with pytest.raises(RecordFormatError):
        decode_data_plan(memoryview(bad), module)


def test_warm_start_reads_the_record_and_decodes_no_segment(tmp_path: Path) -> None:
    cold = _engine(tmp_path)
    _, store, instance = _instantiate(cold)
    _check_instance(store, instance)
    record = _record_path(cold)
    assert record.exists()  # stored by the first instantiation

    warm = _engine(tmp_path)
    module, store, instance = _instantiate(warm)
    # Known valid: the data section was deferred, and the record made it unnecessary.
    assert not module._wasm.datas_decoded
    assert _code_cache(warm).stats.hits >= 2  # the note and the record
    _check_instance(store, instance)
    # A second instance of the same module, from the same plan.
    store2 = pyjitwasm.Store(warm)
    _check_instance(store2, pyjitwasm.Instance(store2, module, []))
    assert not module._wasm.datas_decoded


@pytest.mark.parametrize("damage", ["flip", "truncate", "missing", "unparsable"])
def test_damaged_or_missing_record_falls_back_and_is_stored_again(
        tmp_path: Path, damage: str) -> None:
    cold = _engine(tmp_path)
    _instantiate(cold)
    record = _record_path(cold)
    data = record.read_bytes()
    if damage == "flip":
        record.write_bytes(data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:])
    elif damage == "truncate":
        record.write_bytes(data[:len(data) // 2])
    elif damage == "missing":
        record.unlink()
    else:  # intact entry, body that does not parse
        _code_cache(cold).store_record(_record_key(cold), b"not a record")

    warm = _engine(tmp_path)
    module, store, instance = _instantiate(warm)
    _check_instance(store, instance)
    assert module._wasm.datas_decoded  # planned from the segments
    stats = _code_cache(warm).stats
    if damage != "missing":
        assert stats.corrupt == 1
    assert stats.stores >= 1  # the record, again
    again = _engine(tmp_path)
    module, store, instance = _instantiate(again)
    _check_instance(store, instance)
    assert not module._wasm.datas_decoded


def test_record_key_changes_with_fingerprint_and_module(tmp_path: Path) -> None:
    a = open_code_cache(tmp_path, {"build": "1"})
    b = open_code_cache(tmp_path, {"build": "2"})
    assert a is not None and b is not None
    keys = {a.record_key("m1", RECORD_KIND), a.record_key("m2", RECORD_KIND),
            b.record_key("m1", RECORD_KIND), a.record_key("m1", "other-kind"),
            a.validated_key("m1")}
    assert len(keys) == 5


def test_record_under_another_module_is_not_used(tmp_path: Path) -> None:
    other = wat2wasm("""(module (memory (export "mem") 2) (data (i32.const 16) "HELLO"))""")
    engine = _engine(tmp_path)
    _, store, instance = _instantiate(engine, other)
    assert _memory(store, instance, 16, 5) == b"HELLO"
    _, store, instance = _instantiate(_engine(tmp_path))
    _check_instance(store, instance)
    _, store, instance = _instantiate(_engine(tmp_path), other)
    assert _memory(store, instance, 16, 5) == b"HELLO"


def test_out_of_bounds_segment_traps_cold_and_warm(tmp_path: Path) -> None:
    for _ in range(3):  # cold, then warm twice (with the record)
        engine = _engine(tmp_path)
        module = pyjitwasm.Module(engine, OOB_WASM)
        store = pyjitwasm.Store(engine)
        with pytest.raises(pyjitwasm.Trap, match="out of bounds"):
            pyjitwasm.Instance(store, module, [])


def test_segment_offset_from_a_global_warm(tmp_path: Path) -> None:
    for base in (8, 100, 1000):  # the first run cold, then warm
        engine = _engine(tmp_path)
        store = pyjitwasm.Store(engine)
        glob = pyjitwasm.Global(store, pyjitwasm.GlobalType(pyjitwasm.ValType.i32(), False),
                                base)
        module = pyjitwasm.Module(engine, GLOBAL_OFFSET_WASM)
        instance = pyjitwasm.Instance(store, module, [glob])
        assert _memory(store, instance, base, 5) == b"moved"


# An image large enough to be mapped copy-on-write (images.COW_THRESHOLD).
BIG = bytes(range(256)) * 320  # 80 KiB
_BIG_TEXT = "".join("\\" + format(b, "02x") for b in BIG)
BIG_WASM = wat2wasm(f"""(module
  (memory (export "mem") 4)
  (data (i32.const 4096) "{_BIG_TEXT}")
  (func (export "poke") (param i32 i32) (i32.store8 (local.get 0) (local.get 1))))""")


def test_large_image_is_mapped_from_the_record_and_stays_private(tmp_path: Path) -> None:
    _, store, instance = _instantiate(_engine(tmp_path), BIG_WASM)
    assert _memory(store, instance, 4096, len(BIG)) == BIG
    record = _record_path(_engine(tmp_path), BIG_WASM)
    stored = record.read_bytes()

    warm = _engine(tmp_path)
    module, store, instance = _instantiate(warm, BIG_WASM)
    assert not module._wasm.datas_decoded
    prepared = module._prepared
    assert prepared.images and prepared.images[0].fd_offset > 0  # the record's file
    assert _memory(store, instance, 4096, len(BIG)) == BIG
    poke = instance.exports(store)["poke"]
    poke(store, 4096, 0xEE)
    poke(store, 4096 + 70000, 0xEE)
    assert _memory(store, instance, 4096, 1) == b"\xee"
    # Copy-on-write: neither the file nor a second instance sees the writes.
    assert record.read_bytes() == stored
    store2 = pyjitwasm.Store(warm)
    instance2 = pyjitwasm.Instance(store2, module, [])
    assert _memory(store2, instance2, 4096, len(BIG)) == BIG
    # And the record still checks out for the next start.
    module, store, instance = _instantiate(_engine(tmp_path), BIG_WASM)
    assert not module._wasm.datas_decoded
    assert _memory(store, instance, 4096, len(BIG)) == BIG


def test_record_is_read_where_its_file_cannot_be_mapped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _instantiate(_engine(tmp_path), BIG_WASM)

    def no_mmap(*args: object, **kwargs: object) -> object:
        raise OSError("this file system cannot map")

    from pyjitwasm.runtime.jit import code_cache

    monkeypatch.setattr(code_cache.mmap, "mmap", no_mmap)
    warm = _engine(tmp_path)
    module, store, instance = _instantiate(warm, BIG_WASM)
    assert not module._wasm.datas_decoded
    prepared = module._prepared
    assert prepared.images and prepared.images[0].fd_offset == 0  # a memfd, not the file
    assert _memory(store, instance, 4096, len(BIG)) == BIG
    assert _code_cache(warm).stats.corrupt == 0


INVALID_WASM = wat2wasm("""(module
  (memory 1)
  (data (i32.const 0) "x")
  (func (export "f") (result i32) (i64.const 0)))""")


@pytest.mark.parametrize("speculate", [True, False])
def test_module_known_valid_while_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        speculate: bool) -> None:
    """``Module()`` decodes a large module as known valid while the cache is asked
    (``SPECULATIVE_DECODE_BYTES``; every module here, patched): the same module, the
    same errors, the cold path when the answer is no."""
    import pyjitwasm.module as api_module

    monkeypatch.setattr(api_module, "SPECULATIVE_DECODE_BYTES", 0 if speculate else 1 << 40)
    cold = pyjitwasm.Module(_engine(tmp_path), WASM)
    assert cold._wasm.datas_decoded  # validated: decoded in full
    _, store, instance = _instantiate(_engine(tmp_path))
    _check_instance(store, instance)
    warm = pyjitwasm.Module(_engine(tmp_path), WASM)
    assert not warm._wasm.datas_decoded
    assert not warm._wasm.codes[0].decoded
    # An invalid module is never known valid; it fails as without a cache.
    with pytest.raises(pyjitwasm.ValidationError) as uncached:
        pyjitwasm.Module(pyjitwasm.Engine(), INVALID_WASM)
    for _ in range(2):
        with pytest.raises(pyjitwasm.ValidationError) as cached:
            pyjitwasm.Module(_engine(tmp_path), INVALID_WASM)
        assert str(cached.value) == str(uncached.value)
    with pytest.raises(pyjitwasm.DecodeError) as malformed:
        pyjitwasm.Module(_engine(tmp_path), WASM[:-3])
    with pytest.raises(pyjitwasm.DecodeError) as malformed_uncached:
        pyjitwasm.Module(pyjitwasm.Engine(), WASM[:-3])
    assert str(malformed.value) == str(malformed_uncached.value)


def test_data_plan_read_beside_module_preparation_falls_back_on_failure(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm start reads the record on a thread (``PendingDataPlan``); should that
    fail, instantiation plans from the segments (and reports real errors itself)."""
    from pyjitwasm.runtime.jit import module_record

    _instantiate(_engine(tmp_path))
    # A data section this small is read in line (next test); as if it were large:
    monkeypatch.setattr(module_record, "THREAD_DATA_BYTES", 1)
    warm = _engine(tmp_path)
    module = pyjitwasm.Module(warm, WASM)
    assert isinstance(module._prepared._pending_data, module_record.PendingDataPlan)
    store = pyjitwasm.Store(warm)
    _check_instance(store, pyjitwasm.Instance(store, module, []))
    assert module._prepared._pending_data is None and not module._wasm.datas_decoded

    load = module_record.load_data_plan
    calls: list[int] = []

    def broken_once(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # the thread's
            raise OSError("no record this time")
        return load(*args)

    monkeypatch.setattr(module_record, "load_data_plan", broken_once)
    module = pyjitwasm.Module(_engine(tmp_path), WASM)
    store = pyjitwasm.Store(module.engine)
    _check_instance(store, pyjitwasm.Instance(store, module, []))
    assert len(calls) == 2  # and then read by instantiation itself
    assert not module._wasm.datas_decoded


def test_small_data_section_record_is_read_without_a_thread(tmp_path: Path) -> None:
    from pyjitwasm.runtime.jit import module_record

    assert len(WASM) < module_record.THREAD_DATA_BYTES
    _instantiate(_engine(tmp_path))
    warm = _engine(tmp_path)
    module = pyjitwasm.Module(warm, WASM)
    assert module._prepared._pending_data is None  # no thread started
    store = pyjitwasm.Store(warm)
    _check_instance(store, pyjitwasm.Instance(store, module, []))
    assert not module._wasm.datas_decoded  # the record, read by the instantiation
    assert _code_cache(warm).stats.hits >= 2  # the note and the record


def test_large_record_is_stored_on_a_thread(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import threading

    from pyjitwasm.runtime.jit import module_record

    monkeypatch.setattr(module_record, "BACKGROUND_STORE_BYTES", 1)
    _, store, instance = _instantiate(_engine(tmp_path), BIG_WASM)
    assert _memory(store, instance, 4096, len(BIG)) == BIG
    writers = [t for t in threading.enumerate() if t.name == "pyjitwasm-record-store"]
    for writer in writers:
        assert not writer.daemon  # a process ending meanwhile waits for it
        writer.join()
    assert _record_path(_engine(tmp_path), BIG_WASM).exists()
    module, store, instance = _instantiate(_engine(tmp_path), BIG_WASM)
    assert not module._wasm.datas_decoded
    assert _memory(store, instance, 4096, len(BIG)) == BIG


def test_module_without_data_segments_needs_no_record(tmp_path: Path) -> None:
    # A memory but no data section: the plan is empty, made without reading or
    # writing a record, cold and warm; the memory starts zeroed either way.
    wasm = wat2wasm("""(module (memory (export "mem") 1)
      (func (export "get") (param i32) (result i32) (i32.load8_u (local.get 0))))""")
    for _ in range(2):  # cold, then warm
        engine = _engine(tmp_path)
        module, store, instance = _instantiate(engine, wasm)
        assert module._wasm.datas_decoded and not module._wasm.datas
        assert instance.exports(store)["get"](store, 16) == 0
        assert not _record_path(engine, wasm).exists()
        assert _code_cache(engine).stats.corrupt == 0


def test_small_data_section_is_planned_without_a_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A data section under RECORD_MIN_DATA_BYTES with a small image: planned from its
    # segments cold and warm (no pack here), with the same memory and passive segments,
    # and no record.
    from pyjitwasm.runtime.jit import module_record

    monkeypatch.setattr(module_record, "RECORD_MIN_DATA_BYTES", 4096)
    # (Its image spans 70 KB: let such a plan travel in packs too.)
    monkeypatch.setattr(module_record, "PACKED_PLAN_MAX_BYTES", 1 << 20)
    assert len(WASM) < 4096
    for run in range(2):  # cold, then warm
        engine = _engine(tmp_path)
        module, store, instance = _instantiate(engine, WASM)
        _check_instance(store, instance)
        assert module._wasm.datas_decoded, run  # planned from the segments
        assert not _record_path(engine).exists(), run
        assert _code_cache(engine).stats.corrupt == 0
    # A section at the threshold gets its record as before.
    monkeypatch.setattr(module_record, "RECORD_MIN_DATA_BYTES", 16)
    engine = _engine(tmp_path)
    _instantiate(engine, WASM)
    assert _record_path(engine).exists()
