"""The vmctx layout in ``ir/vmctx.py`` (the one definition the translator, the JIT and the
runtime share), and the per-module counts and VMFuncRef numbering the translator uses."""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pyjitwasm.translate import vmctx
from pyjitwasm.translate.vmctx import VMContextLayout, func_ref_indices, layout_for_module
from pyjitwasm.wasm.decoder import decode_module

_TOOL = Path(sys.executable).parent / "wasm-tools"
WASM_TOOLS = str(_TOOL) if _TOOL.exists() else shutil.which("wasm-tools")

COUNTS = dict(
    num_types=3, num_imported_funcs=2, num_imported_memories=1, num_imported_tables=1,
    num_imported_globals=2, num_memories=2, num_tables=2, num_globals=3, num_func_refs=4,
)
PER_KIND = [
    ("signature_id", "num_types", 4),
    ("imported_func", "num_imported_funcs", vmctx.FUNC_IMPORT_SIZE),
    ("imported_memory", "num_imported_memories", vmctx.WORD),
    ("imported_table", "num_imported_tables", vmctx.WORD),
    ("imported_global", "num_imported_globals", vmctx.WORD),
    ("memory", "num_memories", vmctx.MEMORY_DEF_SIZE),
    ("table", "num_tables", vmctx.TABLE_DEF_SIZE),
    ("global_", "num_globals", vmctx.GLOBAL_SIZE),
    ("func_ref", "num_func_refs", vmctx.FUNC_REF_SIZE),
]


@pytest.mark.parametrize("counts", [COUNTS, {k: 1 for k in COUNTS}, {"num_types": 1}])
def test_fields_are_disjoint_aligned_and_ordered(counts: dict[str, int]) -> None:
    layout = VMContextLayout(**counts)
    spans = [(0, vmctx.HEADER_SIZE)]
    region_starts = []
    for method, count_name, size in PER_KIND:
        offsets = [getattr(layout, method)(i) for i in range(getattr(layout, count_name))]
        spans += [(o, o + size) for o in offsets]
        region_starts += offsets[:1]
        align = 16 if method == "global_" else min(size, 8)
        assert all(o % align == 0 for o in offsets), method
    assert region_starts == sorted(region_starts)  # regions in the documented order
    spans.sort()
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert end <= start
    assert spans[-1][1] <= layout.size and layout.size % 16 == 0


def test_header_and_encodings() -> None:
    assert (vmctx.RUNTIME_LIMITS_OFFSET, vmctx.EPOCH_POLL_OFFSET, vmctx.LIBCALLS_OFFSET,
            vmctx.STORE_OFFSET, vmctx.HEADER_SIZE) == (0, 8, 16, 24, 32)
    # The fields always there after the header: code slots, tier counters.
    assert VMContextLayout().code_slots == vmctx.HEADER_SIZE
    assert VMContextLayout().size == vmctx.HEADER_SIZE + 16
    assert vmctx.TABLE_ELEMENT_UNINITIALIZED == 0 and vmctx.FUNCREF_NULL == 1
    assert vmctx.FUNC_REF_SIZE % 8 == 0 and vmctx.FUNCREF_INIT_BIT < 8
    with pytest.raises(IndexError):
        VMContextLayout(**COUNTS).memory(2)


MODULE = """
(module
  (import "env" "f" (func $imp))
  (import "env" "g" (global i32))
  (import "env" "m" (memory 1))
  (import "env" "t" (table 1 funcref))
  (type (func (param i32)))
  (memory 1)
  (table 1 funcref)
  (global $g (mut funcref) (ref.func $b))
  (func $a)
  (func $b)
  (func $c)
  (func $d)
  (export "d" (func $d))
  (elem (i32.const 0) func $imp $b)
  (elem declare funcref (ref.func $c)))
"""


@pytest.mark.skipif(WASM_TOOLS is None, reason="wasm-tools is not installed")
def test_layout_for_module_counts_and_func_refs(tmp_path: Path) -> None:
    src, out = tmp_path / "m.wat", tmp_path / "m.wasm"
    src.write_text(MODULE)
    subprocess.run([WASM_TOOLS, "parse", str(src), "-o", str(out)], check=True)
    module = decode_module(out.read_bytes())
    layout = layout_for_module(module)
    assert layout == VMContextLayout.for_module(module)
    assert (layout.num_types, layout.num_imported_funcs, layout.num_imported_globals,
            layout.num_imported_memories, layout.num_imported_tables) == (2, 1, 1, 1, 1)
    assert (layout.num_memories, layout.num_tables, layout.num_globals) == (1, 1, 1)
    # $a is only ever called, so it gets no record; the import can escape like the rest.
    assert func_ref_indices(module) == {0: 0, 2: 1, 3: 2, 4: 3}
    assert layout.num_func_refs == 4
