"""Decoding and validation of the custom page sizes proposal: the limits flag 0x08 and
its page-size exponent, the switch (``Features.custom_page_sizes``, off by default), the
allowed page sizes and the size bounds they imply."""

from __future__ import annotations

import pytest

from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.errors import DecodeError, UnsupportedFeatureError, ValidationError
from pyjitwasm.wasm.features import DEFAULT_FEATURES, Features
from pyjitwasm.wasm.types import FUNCREF, MemoryType
from pyjitwasm.wasm.validator import validate_module

from support.decoder_wat import HEADER, section, uleb

ON = Features(custom_page_sizes=True)


def memory_section(flags: int, *fields: int, log2: int | None = None) -> bytes:
    """A module whose memory section holds one memory type: limits ``flags``, the
    limits ``fields`` (minimum, maximum) and, when given, the page-size exponent."""
    body = bytes([flags]) + b"".join(uleb(f) for f in fields)
    if log2 is not None:
        body += uleb(log2)
    return HEADER + section(5, b"\x01" + body)


def test_default_features_leave_the_proposal_off() -> None:
    assert DEFAULT_FEATURES.custom_page_sizes is False


def test_a_page_size_without_the_feature_names_the_proposal_as_disabled() -> None:
    with pytest.raises(UnsupportedFeatureError) as info:
        decode_module(memory_section(0x08, 1, log2=0))
    assert info.value.proposal == "custom page sizes"
    assert "disabled" in str(info.value)


@pytest.mark.parametrize(
    ("flags", "fields", "log2", "expected"),
    [
        (0x08, (1,), 0, MemoryType(1, None, False, 0)),
        (0x09, (1, 2), 0, MemoryType(1, 2, False, 0)),
        (0x08, (3,), 16, MemoryType(3, None, False, 16)),
        (0x0C, (7,), 0, MemoryType(7, None, True, 0)),
        (0x0D, (0, (1 << 64) - 1), 0, MemoryType(0, (1 << 64) - 1, True, 0)),
    ],
)
def test_decodes_the_page_size_after_the_limits(flags, fields, log2, expected) -> None:
    module = decode_module(memory_section(flags, *fields, log2=log2), ON)
    assert module.memories == [expected]
    validate_module(module)


def test_an_explicit_64k_page_size_is_the_default_type() -> None:
    explicit = decode_module(memory_section(0x08, 1, log2=16), ON).memories[0]
    plain = decode_module(memory_section(0x00, 1)).memories[0]
    assert explicit == plain and explicit.page_size == 65536


def test_imported_memories_carry_the_page_size() -> None:
    imports = b"\x01" + uleb(1) + b"m" + uleb(3) + b"mem" + b"\x02\x08\x05\x00"
    module = decode_module(HEADER + section(2, imports), ON)
    assert module.imports[0].desc == MemoryType(5, None, False, 0)


def test_an_exponent_past_64_is_malformed() -> None:
    with pytest.raises(DecodeError, match="invalid custom page size") as info:
        decode_module(memory_section(0x08, 0, log2=65), ON)
    assert not isinstance(info.value, UnsupportedFeatureError)


@pytest.mark.parametrize("log2", [1, 2, 8, 12, 15, 17, 32, 64])
def test_page_sizes_other_than_1_and_64k_are_invalid(log2: int) -> None:
    module = decode_module(memory_section(0x08, 0, log2=log2), ON)
    with pytest.raises(ValidationError, match="invalid custom page size"):
        validate_module(module)


def test_truncated_page_size_is_malformed_limits() -> None:
    with pytest.raises(DecodeError, match="malformed limits flags"):
        decode_module(HEADER + section(5, b"\x01\x08\x00"), ON)


def test_tables_cannot_declare_a_page_size() -> None:
    table = b"\x01" + bytes([FUNCREF]) + b"\x08\x00\x00"
    with pytest.raises(DecodeError, match="malformed limits flags"):
        decode_module(HEADER + section(4, table), ON)


def test_a_shared_memory_with_a_page_size_still_needs_threads() -> None:
    with pytest.raises(UnsupportedFeatureError) as info:
        decode_module(memory_section(0x0B, 1, 1, log2=0), ON)
    assert info.value.proposal == "threads"


@pytest.mark.parametrize(
    ("flags", "fields", "log2", "valid"),
    [
        # i32, 1-byte pages: up to 2**32 - 1 pages (the address space minus one byte).
        (0x08, ((1 << 32) - 1,), 0, True),
        (0x08, (1 << 32,), 0, False),
        (0x09, (0, 1 << 32), 0, False),
        # i32, 64 KiB pages: 65536 pages, as without the proposal.
        (0x08, (65536,), 16, True),
        (0x08, (65537,), 16, False),
        # i64, 1-byte pages: every u64; 64 KiB pages: 2**48.
        (0x0C, ((1 << 64) - 1,), 0, True),
        (0x0C, (1 << 48,), 16, True),
        (0x0C, ((1 << 48) + 1,), 16, False),
    ],
)
def test_size_bounds_follow_index_type_and_page_size(flags, fields, log2, valid) -> None:
    module = decode_module(memory_section(flags, *fields, log2=log2), ON)
    if valid:
        validate_module(module)
    else:
        with pytest.raises(ValidationError, match="memory size must be at most"):
            validate_module(module)


def test_memory_type_page_arithmetic() -> None:
    small = MemoryType(10, None, False, 0)
    assert (small.page_size, small.page_limit, small.minimum_bytes) == (1, (1 << 32) - 1, 10)
    large = MemoryType(2, None, True, 16)
    assert (large.page_size, large.page_limit, large.minimum_bytes) == (65536, 1 << 48,
                                                                        2 * 65536)
    assert MemoryType(0, None, True, 0).page_limit == (1 << 64) - 1
