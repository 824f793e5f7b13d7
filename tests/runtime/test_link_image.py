"""Placing a linked image (jit/objload.py's link plans): the native linker
(runtime/native/link_image.c) and the reference one in Python write the same bytes for
every kind of relocation record, refuse the same bad records, and place real objects
that run."""

from __future__ import annotations

import ctypes
import random

import pytest

from pyjitwasm.jit import objload
from pyjitwasm.jit.codeload import CodeLoader
from pyjitwasm.jit.objload import (
    RELOC_BASE,
    RELOC_PCREL,
    RELOC_SYMBOL,
    RELOCATION_RECORD,
    NativeLoader,
    plan_link,
)
from pyjitwasm.runtime.native import link_image, map_image

from support.mixed_object import IMPORTS, MIXED, MIXED_IR

LINKERS = {"native": link_image, "python": objload._python_link_image}  # noqa: SLF001
MAPPERS = {"native": map_image, "python": None}


def _place(linker: objload.ImageLinker, buffer: ctypes.Array[ctypes.c_char], image: bytes,
           records: bytes, symbols: list[int]) -> tuple[int, bytes]:
    ctypes.memset(buffer, 0xEE, len(buffer))
    result = linker(ctypes.addressof(buffer), len(buffer), image, records, symbols)
    return result, buffer.raw


def test_both_linkers_write_the_same_values_for_every_kind_of_record() -> None:
    rng = random.Random(7)
    image = bytes(rng.randrange(256) for _ in range(4096))
    symbols = [rng.randrange(1 << 64) for _ in range(5)]
    flag_sets = [RELOC_SYMBOL, RELOC_BASE, RELOC_SYMBOL | RELOC_PCREL, RELOC_PCREL,
                 RELOC_BASE | RELOC_SYMBOL, 0]
    records = b"".join(
        RELOCATION_RECORD.pack(rng.randrange(0, len(image) - 8), rng.randrange(-1 << 40, 1 << 40),
                               rng.randrange(len(symbols)), rng.choice(flag_sets))
        for _ in range(500))
    buffer = ctypes.create_string_buffer(len(image) + 100)
    native = _place(LINKERS["native"], buffer, image, records, symbols)
    python = _place(LINKERS["python"], buffer, image, records, symbols)
    assert native[0] == python[0] == 0
    assert native[1] == python[1]
    assert native[1][len(image):] == b"\xee" * 100  # nothing past the image is written
    # One record checked by hand: the symbol, plus the addend, minus the place.
    base = ctypes.addressof(buffer)
    record = RELOCATION_RECORD.pack(16, 5, 2, RELOC_SYMBOL | RELOC_PCREL)
    _, placed = _place(LINKERS["native"], buffer, image, record, symbols)
    assert int.from_bytes(placed[16:24], "little") == (symbols[2] + 5 - base - 16) % (1 << 64)


@pytest.mark.parametrize("linker", sorted(LINKERS))
@pytest.mark.parametrize("bad", ["past the image", "no such symbol", "unknown flag"])
def test_a_bad_record_refuses_the_image(linker: str, bad: str) -> None:
    image = bytes(64)
    good = RELOCATION_RECORD.pack(0, 1, 0, RELOC_BASE)
    record = {"past the image": RELOCATION_RECORD.pack(57, 0, 0, RELOC_BASE),
              "no such symbol": RELOCATION_RECORD.pack(8, 0, 1, RELOC_SYMBOL),
              "unknown flag": RELOCATION_RECORD.pack(8, 0, 0, 8)}[bad]
    buffer = ctypes.create_string_buffer(4096)
    assert _place(LINKERS[linker], buffer, image, good + record, [1234])[0] == 2


@pytest.mark.parametrize("linker", sorted(LINKERS))
def test_an_image_larger_than_its_mapping_is_refused(linker: str) -> None:
    buffer = ctypes.create_string_buffer(16)
    assert _place(LINKERS[linker], buffer, bytes(17), b"", [])[0] == -1


@pytest.mark.parametrize("linker", sorted(LINKERS))
def test_each_linker_places_code_that_runs(linker: str, monkeypatch: pytest.MonkeyPatch) -> None:
    obj = CodeLoader().compile_object(MIXED_IR)
    plan = plan_link([obj])
    # The external call and memset are imports; the jump table's entries, where
    # PC-relative, are written into the image already.
    assert {"ext_add", "memset"} <= set(plan.imports)
    assert plan.code_size % objload.PAGE_SIZE == 0 and plan.total >= len(plan.image)
    flags = {flags for *_, flags in RELOCATION_RECORD.iter_unpack(plan.records)}
    assert 0 not in flags and RELOC_SYMBOL in flags
    monkeypatch.setattr(objload, "_image_linker", LINKERS[linker])
    # Natively the whole placing is one C call (map_image); the reference path maps
    # and protects through ctypes around the Python linker.
    monkeypatch.setattr(objload, "_image_mapper", MAPPERS[linker])
    loaded = NativeLoader().load_objects([obj], IMPORTS)[0]
    try:
        buf = ctypes.create_string_buffer(16)
        mixed = MIXED(loaded.address("mixed"))
        assert [mixed(k, buf) for k in range(7)] == [100, 1001, 42, 7, 555, -6, -1]
        assert buf.raw[:6] == b"\x07" * 6
    finally:
        loaded.release()


def test_the_runtime_installs_the_native_linker() -> None:
    assert objload._image_linker is link_image  # noqa: SLF001
    assert objload._image_mapper is map_image  # noqa: SLF001


def test_the_native_mapper_places_protects_and_refuses_like_the_reference() -> None:
    rng = random.Random(11)
    image = bytes(rng.randrange(256) for _ in range(5000))
    symbols = [rng.randrange(1 << 64) for _ in range(3)]
    records = b"".join(RELOCATION_RECORD.pack(8 * i, i, i % 3, RELOC_SYMBOL | RELOC_BASE)
                       for i in range(40))
    total = 3 * objload.PAGE_SIZE
    base = map_image(image, objload.PAGE_SIZE, total, records, symbols)
    buffer = ctypes.create_string_buffer(total)
    _place(link_image, buffer, image, records, symbols)
    # The same values as the linker alone writes, with the mapping's own base.
    placed = ctypes.string_at(base, len(image))
    for i in range(40):
        value = (symbols[i % 3] + i + base) % (1 << 64)
        assert int.from_bytes(placed[8 * i:8 * i + 8], "little") == value
    assert placed[320:] == image[320:]
    assert ctypes.string_at(base + len(image), total - len(image)) == bytes(total - len(image))
    # Read-execute, then read-only (``/proc/self/maps``; a mapping may have merged
    # with a neighbour of the same protection).
    with open("/proc/self/maps") as maps:
        ranges = [(int(line.split("-")[0], 16), int(line.split()[0].split("-")[1], 16),
                   line.split()[1]) for line in maps]

    def protection(address: int) -> str:
        return next(perms for start, end, perms in ranges if start <= address < end)

    assert protection(base).startswith("r-x")
    assert protection(base + objload.PAGE_SIZE).startswith("r--")
    objload._munmap(base, total)  # noqa: SLF001
    bad = RELOCATION_RECORD.pack(len(image) - 4, 0, 0, RELOC_BASE)
    with pytest.raises(objload.UnsupportedObject, match="record 2"):
        map_image(image, objload.PAGE_SIZE, total, records[:24] + bad, symbols)
    with pytest.raises(objload.UnsupportedObject):
        map_image(bytes(total + 1), 0, total, b"", [])
