"""Element segments in the binary's compact form (a vector of function indices) decode
to ``FuncIndexItems``: the indices and offsets, each item's ``ref.func`` expression made
when read, equal to the list of those expressions; readers that want the indices take
them without making the expressions, and the validator still names a bad item."""

from __future__ import annotations

import pytest

from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.decoder import decode_module
from pyjitwasm.wasm.errors import ValidationError
from pyjitwasm.wasm.module import ConstExpr, FuncIndexItems, Instr
from pyjitwasm.wasm.validator import validate_module

from support.decoder_wat import HEADER, section, uleb, vec

# Functions 0..2 of type () -> (); one table; an active segment of indices [2, 0, 200, 1]
# at offset 0 (200 takes two bytes).
_TYPES = section(1, vec([b"\x60\x00\x00"]))
_FUNCS = section(3, vec([b"\x00", b"\x00", b"\x00"]))
_TABLE = section(4, vec([b"\x70\x00" + uleb(8)]))
_CODE = section(10, vec([uleb(2) + b"\x00\x0b"] * 3))


def _module(indices: list[int]) -> bytes:
    segment = b"\x00\x41\x00\x0b" + vec([uleb(i) for i in indices])  # flags 0, i32.const 0
    return HEADER + _TYPES + _FUNCS + _TABLE + section(9, vec([segment])) + _CODE


def test_compact_items_decode_to_indices_and_read_as_ref_func_expressions() -> None:
    module = decode_module(_module([2, 0, 1, 1]))
    items = module.elems[0].items
    assert isinstance(items, FuncIndexItems)
    assert items.indices == (2, 0, 1, 1)
    assert len(items) == 4
    expected = [ConstExpr([Instr(op.REF_FUNC, index, offset)], offset)
                for index, offset in zip((2, 0, 1, 1), items.offsets, strict=True)]
    assert list(items) == expected
    assert items == expected and expected == list(items)
    assert items[1] == expected[1] and items[-1] == expected[-1]
    assert items[1:3] == expected[1:3]
    assert items != expected[:3]
    # Each item's offset is where its index is in the binary, one byte each here.
    assert list(items.offsets) == list(range(items.offsets[0], items.offsets[0] + 4))
    validate_module(module)


def test_a_multi_byte_index_keeps_the_next_items_offset() -> None:
    module = decode_module(_module([1, 200, 2]))
    items = module.elems[0].items
    assert isinstance(items, FuncIndexItems)
    assert items.indices == (1, 200, 2)
    first = items.offsets[0]
    assert items.offsets == (first, first + 1, first + 3)


def test_the_validator_names_an_unknown_function_at_its_item() -> None:
    module = decode_module(_module([1, 200, 2]))
    items = module.elems[0].items
    with pytest.raises(ValidationError, match="unknown function 200") as info:
        validate_module(module)
    assert info.value.offset == items.offsets[1]
