"""The code cache's per-module record of what instantiation needs from the data section.

A module's :class:`~pyjitwasm.runtime.images.DataPlan` (its memory images and the
segments an instance keeps) depends only on the module's bytes and on the code that
plans it, so the code cache keeps it beside the module's code, keyed by the module's
SHA-256 and the compiler fingerprint (whose build id covers this code and
``images.py``).  A warm start then reads one entry instead of decoding every data segment
(``Module()`` defers the data section of a module the cache knows valid,
``WasmModule.datas_source``) and laying them out (CPython for WASI: 24,000 segments into
a 10 MB image, about 0.1 s of the 0.4 s its ``Module()`` and instantiation took).

The record is an ordinary cache entry (``code_cache.py``: SHA-256 checked, written
atomically).  One that fails its check, does not parse, or does not fit the module is
deleted and the plan is made again from the segments, then stored afresh: a damaged
record costs the time it would have saved, never a wrong memory.

The record is an ordinary cache entry (``code_cache.py``: SHA-256 checked, written
atomically), read back mapped rather than read: each memory image sits at a host-page-
aligned offset of the entry's file, and an instance maps it copy-on-write from there
(``MemoryImage(file=...)``), so a warm start neither copies the image into Python nor
fills a memfd with it (CPython for WASI: a 10 MB image).

Layout (little-endian): ``RECORD_MAGIC``; segment count, passive count, image count
(u32 each); per passive segment its index and length (u32, u32) then its bytes; per
image its memory index (u32), its address in that memory, length and offset in the body
(u64 each); then the images at their offsets (zero padding before each).
"""

from __future__ import annotations

import os
import struct
import threading

from pyjitwasm.runtime.images import COW_THRESHOLD, HOST_PAGE, DataPlan, MemoryImage, plan_data
from pyjitwasm.runtime.jit.cached_compile import ModuleCacheView
from pyjitwasm.runtime.jit.code_cache import RECORD_BODY_OFFSET, LoadedRecord
from pyjitwasm.wasm.module import WasmModule

RECORD_KIND = "data-plan"
RECORD_MAGIC = b"PJWDATA2"  # 2: images have an address
_COUNTS = struct.Struct("<III")
_PASSIVE = struct.Struct("<II")
_IMAGE = struct.Struct("<IQQQ")


class RecordFormatError(ValueError):
    """A record's bytes do not parse, or do not fit the module."""


def _aligned(body_offset: int) -> int:
    """The first body offset from ``body_offset`` on that is page-aligned in the file."""
    in_file = RECORD_BODY_OFFSET + body_offset
    return (in_file + HOST_PAGE - 1) // HOST_PAGE * HOST_PAGE - RECORD_BODY_OFFSET


def encode_data_plan(plan: DataPlan) -> bytes:
    """The record's body for ``plan``."""
    passive = [(index, data) for index, data in enumerate(plan.datas_after) if data]
    parts = [RECORD_MAGIC, _COUNTS.pack(len(plan.datas_after), len(passive), len(plan.images))]
    for index, data in passive:
        parts.append(_PASSIVE.pack(index, len(data)))
        parts.append(bytes(data))
    pos = sum(map(len, parts)) + _IMAGE.size * len(plan.images)
    placed: list[tuple[int, bytes | memoryview]] = []
    for image in plan.images:
        start = _aligned(pos)
        parts.append(_IMAGE.pack(image.memory, image.address, len(image.data), start))
        placed.append((start, image.data))
        pos = start + len(image.data)
    pos = sum(map(len, parts))
    for start, image_data in placed:
        parts.append(bytes(start - pos))
        parts.append(bytes(image_data))
        pos = start + len(image_data)
    return b"".join(parts)


def decode_data_plan(payload: memoryview, module: WasmModule,
                     record: LoadedRecord | None = None) -> DataPlan:
    """The plan a record's body holds (its images are views of ``payload``: no copy;
    mapped from ``record``'s file when it is mapped and they are page-aligned there).
    Raises RecordFormatError for bytes that do not parse or an image that does not fit
    one of ``module``'s memories."""
    if payload[:len(RECORD_MAGIC)] != RECORD_MAGIC:
        raise RecordFormatError("not a data-plan record")
    try:
        pos = len(RECORD_MAGIC)
        count, passive, image_count = _COUNTS.unpack_from(payload, pos)
        pos += _COUNTS.size
        datas_after = [b""] * count
        for _ in range(passive):
            index, size = _PASSIVE.unpack_from(payload, pos)
            pos += _PASSIVE.size
            if index >= count or pos + size > len(payload):
                raise RecordFormatError("passive segment out of range")
            datas_after[index] = bytes(payload[pos:pos + size])
            pos += size
        memory_types = module.memory_types()
        table = [_IMAGE.unpack_from(payload, pos + n * _IMAGE.size)
                 for n in range(image_count)]
        pos += _IMAGE.size * image_count
    except struct.error as exc:
        raise RecordFormatError(f"truncated record: {exc}") from None
    imported = len(memory_types) - len(module.memories)
    images = []
    for memory, address, size, start in table:
        if (not imported <= memory < len(memory_types) or address % HOST_PAGE
                or address + size > memory_types[memory].minimum_bytes
                or start < pos or start + size > len(payload)):
            raise RecordFormatError("image does not fit the module or the record")
        file = None
        if record is not None and record.mapped and size >= COW_THRESHOLD \
                and (RECORD_BODY_OFFSET + start) % HOST_PAGE == 0:
            file = (os.dup(record.fd), RECORD_BODY_OFFSET + start)
        images.append(MemoryImage(memory, payload[start:start + size], file, address))
        pos = start + size
    if pos != len(payload):
        raise RecordFormatError("trailing bytes")
    # (Segment indices matter to memory.init and data.drop, which need the data count
    # section: a deferred module is checked against that.)
    declared = len(module.datas) if module.datas_decoded else module.data_count
    if declared is not None and declared != count:
        raise RecordFormatError("segment count does not match the module")
    return DataPlan(tuple(images), datas_after)


def load_data_plan(module: WasmModule, cache: ModuleCacheView) -> DataPlan | None:
    """``module``'s data plan from its record in ``cache``, or None if there is no
    intact one (a damaged one is deleted)."""
    code_cache = cache.cache
    key = code_cache.record_key(cache.module_digest, RECORD_KIND)
    record = code_cache.load_record(key)
    if record is None:
        return None
    try:
        plan = decode_data_plan(record.payload, module, record)
    except RecordFormatError:
        code_cache.discard_record(key)
        return None
    finally:
        record.close()  # (each image mapped from the file has its own descriptor)
    code_cache.stats.hits += 1
    return plan


def module_data_plan(module: WasmModule, cache: ModuleCacheView | None,
                     packed: bytes | None = None) -> DataPlan:
    """``module``'s data plan: from its record in ``cache`` when there is an intact one,
    else planned from its segments (and recorded, when there is a cache).  A module
    with little data (``_small_data``) whose plan is small too has no record: its plan
    travels in its packs instead (``packed``, the body a warm start's pack held; noted
    for the module's next pack)."""
    if cache is None:
        return plan_data(module)
    no_segments = module.datas_decoded and not module.datas
    section_bytes = _data_section_bytes(module)
    small = no_segments or section_bytes < RECORD_MIN_DATA_BYTES
    if small and packed is not None:
        try:
            unpacked = decode_data_plan(memoryview(packed), module)
        except RecordFormatError:
            pass  # (the pack's CRC held: planning again costs what it saved)
        else:
            cache.note_data_plan(packed)
            return unpacked
    plan = None if no_segments or section_bytes == 0 else \
        load_data_plan(module, cache)  # (a few bytes of data may still span megabytes)
    if plan is not None:
        return plan
    plan = plan_data(module)
    image_bytes = sum(len(image.data) for image in plan.images)
    if small and image_bytes <= PACKED_PLAN_MAX_BYTES:
        cache.note_data_plan(encode_data_plan(plan))
        return plan
    key = cache.cache.record_key(cache.module_digest, RECORD_KIND)
    if image_bytes < BACKGROUND_STORE_BYTES:
        cache.cache.store_record(key, encode_data_plan(plan))
    else:
        # Not in the way of the first instantiation (CPython for WASI: copying,
        # hashing and writing 10 MB, ~50 ms of a cold start).  Not a daemon: a
        # process ending meanwhile waits for the write.
        threading.Thread(target=_store, args=(cache, key, plan),
                         name="pyjitwasm-record-store").start()
    return plan


RECORD_MIN_DATA_BYTES = 4096
"""A module whose data section has fewer bytes, and whose memory images hold at most
``PACKED_PLAN_MAX_BYTES``, gets no record: its plan travels in its packs (a warm start
reads those anyway), and is made from the segments where no pack holds it (decoding and
planning nbody's 289-byte section, one 4 KiB image, took 50 us; opening, checking and
parsing a record 75-100; an empty plan 15 against 100)."""

PACKED_PLAN_MAX_BYTES = 64 << 10
"""Image bytes a data plan may hold to travel in packs (which are read, not mapped,
into the process): a few segments far apart make one image spanning them, which a
record maps copy-on-write from its file instead."""


BACKGROUND_STORE_BYTES = 1 << 20
"""Records with at least this many bytes of images are written on a thread."""


def _store(cache: ModuleCacheView, key: str, plan: DataPlan) -> None:
    cache.cache.store_record(key, encode_data_plan(plan))


THREAD_DATA_BYTES = 256 << 10
"""A warm start reads the data plan on a thread (:class:`PendingDataPlan`) when the
module's data section has at least this many bytes; a smaller record is read when the
module is first instantiated: starting and joining the thread cost more than reading it
(nbody, 5 KB: the thread took 0.27 ms to start and 0.22 ms more to join, the record
0.07 ms to read in line)."""

_DATA_SECTION = 11


def _data_section_bytes(module: WasmModule) -> int:
    for header in module.sections:  # (a module has one data section at most)
        if header.id == _DATA_SECTION:
            return header.size
    return 0


class PendingDataPlan:
    """A module's data plan read from its record on a thread, started when the module is
    prepared: mapping and checking the record (CPython for WASI: 10 MB, ~6 ms) releases
    the GIL, so it overlaps what the caller does before instantiating (linking, making
    a store, the module's code slots).  Only for a module decoded as known valid (its
    data section deferred: a warm start), which is likely to have a record."""

    __slots__ = ("_module", "_cache", "_plan", "_thread")

    def __init__(self, module: WasmModule, cache: ModuleCacheView) -> None:
        self._module = module
        self._cache = cache
        self._plan: DataPlan | None = None
        self._thread = threading.Thread(target=self._load, name="pyjitwasm-data-plan",
                                        daemon=True)
        self._thread.start()

    @classmethod
    def start_if_warm(cls, module: WasmModule,
                      cache: ModuleCacheView | None) -> PendingDataPlan | None:
        """A pending plan for a warm start, else None."""
        if cache is None or module.datas_decoded or \
                _data_section_bytes(module) < THREAD_DATA_BYTES:
            return None
        return cls(module, cache)

    def _load(self) -> None:
        try:
            self._plan = load_data_plan(self._module, self._cache)
        except Exception:  # noqa: BLE001 - result() plans again, and reports any error then
            self._plan = None

    def result(self) -> DataPlan:
        """The plan (read on the thread, or else made now, as :func:`module_data_plan`)."""
        self._thread.join()
        plan = self._plan
        return plan if plan is not None else module_data_plan(self._module, self._cache)


__all__ = ["RECORD_KIND", "PendingDataPlan", "RecordFormatError", "decode_data_plan",
           "encode_data_plan", "load_data_plan", "module_data_plan"]
