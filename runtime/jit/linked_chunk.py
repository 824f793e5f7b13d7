"""A linked chunk of a warm start's pack, placed in this process: one mapping holding the
code of up to ``PACK_CHUNK`` recorded batches, one code-map entry for all of them.

Loading a chunk batch by batch made a ``LoadedCode``, a ``CompiledModule`` (with its
function dictionary and a locator), a code-map registration and weak references for
each of its 64 batches: most of a warm start's loading time once the object's bytes
were in place.  A :class:`LinkedChunk` makes none of them: it places the chunk's image
(``objload.map_image``: one native call copies and relocates it), answers the code map's
questions (``func_index_at`` by bisection in the chunk's function table) for every batch
at once, and gives the module its slot values straight from that table
(:meth:`LinkedChunk.published`).  A batch's own ``CompiledModule`` is made only when
something asks for it (:meth:`LinkedChunk.batch`: a backtrace's wasm offsets, compile
events, ``ModuleCode.batches``); all of them share the chunk's ``LoadedCode``, so
releasing one releases the chunk.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from pyjitwasm.jit import compiler
from pyjitwasm.jit.compiler import FunctionCode, ObjectCode
from pyjitwasm.jit.loaded import CodeRange, LoadedCode
from pyjitwasm.jit.objload import (
    PAGE_SIZE,
    MappedImage,
    UnsupportedObject,
    map_image,
    resolve_imports,
)
from pyjitwasm.runtime.jit.batch_pack import ENTRY_SHIM_ROW, LinkedImage, entry_function_names
from pyjitwasm.runtime.jit.compile_module import (
    BatchObject,
    CompiledModule,
    CompileOptions,
    CompileTimings,
    batch_locator,
)
from pyjitwasm.translate.vmctx import VMContextLayout
from pyjitwasm.wasm.module import WasmModule


class LinkedChunk:
    """The recorded batches of one linked pack chunk, loaded (see the module docstring).

    ``recorded``: each batch's (wasm indices, tier), in chunk order; ``entries``: their
    pack entries (names, kinds: what a batch's ``CompiledModule`` needs later)."""

    osr_entry = False  # packs hold no on-stack-replacement entries (``codemap``)

    def __init__(self, module: WasmModule, layout: VMContextLayout, options: CompileOptions,
                 linked: LinkedImage, recorded: Sequence[tuple[list[int], int]],
                 entries: Sequence[list[Any]], imports: Mapping[str, int]) -> None:
        """Place ``linked`` (:class:`UnsupportedObject`: it cannot be, nothing mapped;
        also when native loading is off, ``PYJITWASM_NATIVE_LOADER=0``: the batches'
        own entries are then linked through ORC)."""
        if not compiler.NATIVE_LOADING:
            raise UnsupportedObject("native loading is off")
        if linked.page != PAGE_SIZE or not 0 <= linked.code_end <= linked.code_size:
            raise UnsupportedObject("a chunk laid out for another page size")
        indices, offsets, sizes, batch_numbers, published = linked.table
        first = module.num_imported_funcs
        # A damaged table must not write a slot it does not own, nor point one outside
        # the chunk's code (the pack's CRC makes this unlikely; checking costs little).
        if len(recorded) != len(entries) or len(offsets) and (
                min(batch_numbers) < 0 or max(batch_numbers) >= len(recorded)
                or min(indices) < first or max(indices) >= first + len(module.codes)
                or min(offsets) < 0 or min(sizes) < 0
                or max(o + s for o, s in zip(offsets, sizes, strict=True)) > linked.code_end):
            raise UnsupportedObject("a chunk's table does not match its batches or code")
        if any(not 0 <= offset < linked.code_size or
               not (number == ENTRY_SHIM_ROW or 0 <= number < len(recorded))
               for number, _, offset in linked.shims):
            raise UnsupportedObject("a chunk's shim lies outside its code")
        base = map_image(linked.image, linked.code_size, linked.total, linked.records,
                         resolve_imports(linked.imports, imports))
        self.base = base
        self.module = module
        self.code = LoadedCode(MappedImage(base, linked.total, 1), {},
                               [CodeRange(base, base + linked.code_end)], len(linked.image))
        # The table's columns copied (a few KiB) so that the pack's bytes can go.
        self._indices = memoryview(bytes(indices)).cast("q")
        self._offsets = memoryview(bytes(offsets)).cast("q")
        self._sizes = memoryview(bytes(sizes)).cast("q")
        self._batch_numbers = memoryview(bytes(batch_numbers)).cast("q")
        self._published = memoryview(bytes(published)).cast("q")
        self._shims = linked.shims
        self.recorded = list(recorded)
        self._entries = list(entries)
        self._layout = layout
        self._options = options
        self.seconds = 0.0  # the loading time, shared by the batches' timings
        self._batches: list[CompiledModule | None] = [None] * len(recorded)
        self._batches_lock = threading.Lock()

    # What the code map asks (``codemap.MappedCode``) ------------------------------------

    @property
    def code_ranges(self) -> list[CodeRange]:
        """The chunk's code: one range from its first function to its last."""
        return self.code.code_ranges

    def _row_at(self, pc: int) -> int | None:
        offset = pc - self.base
        row = bisect.bisect_right(self._offsets, offset) - 1
        if row >= 0 and offset < self._offsets[row] + max(self._sizes[row], 1):
            return row
        return None

    def func_index_at(self, pc: int) -> int | None:
        """The wasm function whose code holds ``pc``, or None."""
        row = self._row_at(pc)
        return None if row is None else self._indices[row]

    def wasm_offset_at(self, func_index: int, pc: int) -> int | None:
        """As ``CompiledModule.wasm_offset_at``, through the batch holding ``pc``."""
        row = self._row_at(pc)
        if row is None:
            return None
        return self.batch(self._batch_numbers[row]).wasm_offset_at(func_index, pc)

    def on_release(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` just before the chunk's code is freed."""
        self.code.on_release(callback)

    def release(self) -> None:
        """Free the chunk's code now (idempotent)."""
        self.code.release()

    # What the module publishes ------------------------------------------------------

    def publish(self, first: int, tiers: list[int], codes: list[int], slots: Any) -> None:
        """Point the slots of the functions the chunk fills at their code, in batch
        order, as ``ModuleCode._publish_all`` does: slot ``k`` (wasm index minus
        ``first``) and ``codes[k]`` when ``tiers[k]`` is below the batch's tier."""
        base, batch_tiers = self.base, [tier for _, tier in self.recorded]
        for index, offset, number, published in zip(self._indices, self._offsets,
                                                    self._batch_numbers, self._published,
                                                    strict=True):
            if published:
                k = index - first
                tier = batch_tiers[number]
                if tiers[k] < tier:
                    code = base + offset
                    codes[k] = code
                    tiers[k] = tier
                    slots[k] = code

    def shims(self, placed: bool = True) -> Iterator[tuple[int, int]]:
        """(type index, address) of each entry shim of the chunk's batches, and with
        ``placed`` of those the pack placed after its code for first calls from Python
        (``batch_pack.ENTRY_SHIM_ROW``)."""
        for number, type_index, offset in self._shims:
            if placed or number != ENTRY_SHIM_ROW:
                yield type_index, self.base + offset

    # Each batch, when asked for -------------------------------------------------------

    def batch(self, number: int) -> CompiledModule:
        """Batch ``number`` (in chunk order) as a ``CompiledModule`` sharing the
        chunk's code (made on the first request)."""
        made = self._batches[number]
        if made is not None:
            return made
        with self._batches_lock:
            made = self._batches[number]
            if made is None:
                made = self._batches[number] = self._make_batch(number)
        return made

    def batches(self) -> list[CompiledModule]:
        """Every batch of the chunk, in chunk order (see :meth:`batch`)."""
        return [self.batch(number) for number in range(len(self._batches))]

    def _make_batch(self, number: int) -> CompiledModule:
        (indices, tier, separate, with_shims, function_names, shim_names, shim_types,
         *_) = self._entries[number]
        names = entry_function_names(function_names)
        functions: dict[int, FunctionCode] = {}
        base = self.base
        for row, batch_number in enumerate(self._batch_numbers):
            if batch_number == number:
                index = self._indices[row]
                functions[index] = FunctionCode(index, names.get(index, ""),
                                                base + self._offsets[row], self._sizes[row])
        batch = BatchObject(tuple(int(i) for i in indices), bool(separate), bool(with_shims),
                            ObjectCode(b"", names, tuple(map(str, shim_names))),
                            {int(t): str(n) for t, n in shim_types}, int(tier))
        shims = {type_index: base + offset for n, type_index, offset in self._shims
                 if n == number}
        return CompiledModule(
            module=self.module, tier=batch.tier, layout=self._layout, code=self.code,
            functions=functions, shims=shims,
            timings=CompileTimings(link=self.seconds / max(len(self._batches), 1)),
            from_cache=True,
            locate=batch_locator(self.module, batch, self._options, functions))


__all__ = ["LinkedChunk"]
