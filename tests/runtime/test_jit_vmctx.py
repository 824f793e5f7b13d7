"""The vmctx layout: fields are disjoint, aligned, and the header is fixed."""

from __future__ import annotations

import itertools

import pytest

from pyjitwasm.translate import vmctx
from pyjitwasm.translate.vmctx import VMContextLayout

COUNTS = dict(
    num_types=3, num_imported_funcs=2, num_imported_memories=1, num_imported_tables=1,
    num_imported_globals=2, num_memories=1, num_tables=2, num_globals=3, num_func_refs=4,
)


def _fields(layout: VMContextLayout) -> list[tuple[int, int]]:
    spans = [(0, vmctx.HEADER_SIZE)]
    per_kind = [
        (layout.signature_id, layout.num_types, 4),
        (layout.imported_func, layout.num_imported_funcs, vmctx.FUNC_IMPORT_SIZE),
        (layout.imported_memory, layout.num_imported_memories, 8),
        (layout.imported_table, layout.num_imported_tables, 8),
        (layout.imported_global, layout.num_imported_globals, 8),
        (layout.memory, layout.num_memories, vmctx.MEMORY_DEF_SIZE),
        (layout.table, layout.num_tables, vmctx.TABLE_DEF_SIZE),
        (layout.global_, layout.num_globals, vmctx.GLOBAL_SIZE),
        (layout.func_ref, layout.num_func_refs, vmctx.FUNC_REF_SIZE),
    ]
    for offset_of, count, size in per_kind:
        spans += [(offset_of(i), offset_of(i) + size) for i in range(count)]
    spans.append((layout.code_slots, layout.code_slots + 8))
    return spans


def test_fields_are_disjoint_and_inside():
    layout = VMContextLayout(**COUNTS)
    spans = sorted(_fields(layout))
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start
    assert spans[-1][1] <= layout.size
    assert layout.size % 16 == 0


def test_alignment():
    layout = VMContextLayout(**COUNTS)
    assert all(layout.global_(i) % 16 == 0 for i in range(3))
    assert all(layout.memory(i) % 8 == 0 for i in range(1))
    assert all(layout.func_ref(i) % 8 == 0 for i in range(4))
    assert layout.imported_func(0) % 8 == 0  # after 3 u32 signature ids: padded
    assert layout.code_slots % 8 == 0


def test_fixed_header_and_empty_layout():
    assert vmctx.RUNTIME_LIMITS_OFFSET == 0
    empty = VMContextLayout()
    # The header (its epoch word included), then the pointers every module has: code
    # slots and tier counters.
    assert empty.epoch_poll_ptr == vmctx.EPOCH_POLL_OFFSET < vmctx.HEADER_SIZE
    assert empty.code_slots == vmctx.HEADER_SIZE
    assert empty.tier_counters == vmctx.HEADER_SIZE + 8
    assert empty.size == vmctx.HEADER_SIZE + 16
    with pytest.raises(IndexError):
        empty.memory(0)
    layout = VMContextLayout(**COUNTS)
    with pytest.raises(IndexError):
        layout.table(2)


def test_funcref_element_encoding():
    assert vmctx.TABLE_ELEMENT_UNINITIALIZED == 0
    assert vmctx.FUNCREF_NULL & vmctx.FUNCREF_INIT_BIT
    # A VMFuncRef is 8-aligned, so the init bit never collides with an address bit.
    assert vmctx.FUNC_REF_SIZE % 8 == 0 and vmctx.FUNCREF_INIT_BIT < 8
