"""A module's recorded batches as one pack: what a warm start reads instead of one
cache entry per batch.

A warm start loads the batches earlier runs recorded (``cached_compile.py``), in the
order they were first compiled: CPython for WASI has about 1,300 of them, and reading
each from its own cache entry (opening the file, checking it, decoding its JSON head,
reading its ELF symbol table) cost as much as linking them.  A pack holds them all in
that order: one JSON head for every batch (its indices, tier, symbols, shims, and the
``elfsyms.read_object_symbols`` of its object, so loading parses no ELF), then the
objects back to back.

The pack names the plan log it was made from (``plans``: the SHA-256 of the log's
bytes).  A plan log that changed since (a later run recorded more batches, or a tier-up)
makes the pack stale: the warm start then reads the per-batch entries, as without a
pack, and the run writes a new pack at its end.  Integrity (a torn or damaged file) is
the container's job (``code_cache.CodeCache.load_pack``); this layer refuses bytes that
do not parse with :class:`PackFormatError`, a pack of another ``PACK_FORMAT`` included.

A chunk is stored *linked* where the JIT's own loader can place its merged object
(``objload.plan_link``, done when the pack is written): the image of its mapping with
every relocation that does not depend on where it lands already applied, the others as
packed records (``objload.RELOCATION_RECORD``), the names of the symbols they import,
and a table of every function's place (wasm index, offset, size, batch, published: five
int64 columns sorted by offset).  Loading one (``linked_chunk.py``) is one mapping, one
native call that copies and relocates, and no ELF, symbol or per-batch decoding.  A
chunk the loader cannot place stays a merged ELF object with its parts' symbols (linked
natively or through ORC at load), and a batch that does not merge an object of its own.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyjitwasm.jit.compiler import ObjectCode
from pyjitwasm.jit.elfsyms import (
    CodeSection,
    DefinedSymbol,
    FunctionSymbol,
    ObjectSymbols,
    read_object_symbols,
)
from pyjitwasm.jit.objload import RELOCATION_RECORD, UnsupportedObject, plan_link
from pyjitwasm.jit.objmerge import MergeError, merge_objects
from pyjitwasm.runtime.jit.compile_module import BatchObject
from pyjitwasm.translate.module_info import function_name

_HEAD_SIZE = struct.Struct("<I")

PACK_FORMAT = 3
"""The pack layout's version (in its head): 2 added linked chunks, 3 their entry shims
of no batch (``ENTRY_SHIM_ROW``) and the module's small data plan (``data``)."""

ENTRY_SHIM_ROW = -1
"""The batch number of a linked chunk's shim row for an entry shim placed after its
code for a warm start's first calls from Python (``encode_pack``'s ``entry_shims``)."""

_SINGLE, _MERGED, _LINKED = 0, 1, 2  # how a chunk holds its code
_TABLE_COLUMNS = 5  # a linked chunk's function table: index, offset, size, batch, published

PACK_CHUNK = 64
"""Recorded batches per merged object of a pack, the unit a warm start links: linking
costs ~21 us per batch merged in 64s (CPython for WASI's), ~22 in 32s, ~23 in 256s,
against ~63 unmerged, and a link call ~0.3 ms."""


class PackFormatError(ValueError):
    """Bytes that are not an encoded pack."""


@dataclass(frozen=True)
class PackedBatch:
    """One batch of a pack: the batch, and its object's symbols (read when the pack was
    made).  In a merged chunk, ``batch.code.obj`` is empty: the chunk's object holds
    the code."""

    batch: BatchObject
    symbols: ObjectSymbols


@dataclass(frozen=True)
class LinkedImage:
    """A linked chunk's code (see the module docstring): ``image``, ``records`` and
    ``imports`` as in ``objload.LinkPlan`` (laid out for pages of ``page`` bytes, code
    in the first ``code_end`` bytes), each batch's entry shims (batch, type index,
    offset), and the function table's columns (``table``: int64 views, sorted by
    offset): wasm index, offset, size, batch (its number in the chunk), published (1:
    one of the batch's ``indices``, whose slot it fills)."""

    image: memoryview
    records: memoryview
    imports: list[str]
    page: int
    code_size: int
    code_end: int
    total: int
    shims: list[tuple[int, int, int]]
    table: tuple[memoryview, memoryview, memoryview, memoryview, memoryview]


@dataclass(frozen=True)
class PackedChunk:
    """Consecutive recorded batches of a pack (``positions`` in the recorded order) and
    their code: linked (``linked``; then ``batches`` is empty and ``entries`` holds the
    batches' JSON entries for what a backtrace may need later), or one object merged
    from theirs (``merged``), or the one batch's own."""

    positions: list[int]
    batches: list[PackedBatch]
    obj: bytes
    merged: bool
    linked: LinkedImage | None = None
    entries: list[list[Any]] = field(default_factory=list)


def _chunk_groups(batches: Sequence[BatchObject], size: int) -> list[list[BatchObject]]:
    """``batches`` in consecutive groups of at most ``size`` that define no global name
    twice (a tier-up's batch names a function its tier-0 batch named): those merge."""
    groups: list[list[BatchObject]] = []
    names: set[str] = set()
    for batch in batches:
        defined = batch.global_symbols()
        if not groups or len(groups[-1]) >= size or not names.isdisjoint(defined):
            groups.append([])
            names = set()
        groups[-1].append(batch)
        names.update(defined)
    return groups


def encode_pack(plans_digest: str, batches: Sequence[BatchObject],
                chunk: int | None = None, linked: bool = True,
                entry_shims: Sequence[tuple[int, bytes]] = (),
                data_plan: bytes | None = None) -> bytes:
    """``batches`` (in the recorded order) as a pack made from the plan log whose
    SHA-256 is ``plans_digest``: merged ``chunk`` (default ``PACK_CHUNK``) at a time
    where ``merge_objects`` can (and linked where the loader can place them, unless
    ``linked`` is False), else one object per batch.  ``entry_shims``: (type index,
    machine code without relocations) of entry shims the module's functions are
    entered through from Python, placed in each linked chunk's last code page where
    they fit, so that a warm start's first calls make none (see ``shims.py``).
    ``data_plan``: the module's data-plan record body (``module_record.py``) when it is
    small enough to travel here instead of in a record of its own (``Pack.data_plan``)."""
    chunk = chunk or PACK_CHUNK
    entries: list[list[Any]] = []
    chunks: list[list[Any]] = []
    blobs: list[bytes] = []
    offset = 0

    def add_chunk(obj: bytes, kind: int, meta: dict[str, Any] | None = None) -> int:
        nonlocal offset
        chunks.append([offset, len(obj), kind] + ([meta] if meta is not None else []))
        blobs.append(obj)
        offset += len(obj)
        return len(chunks) - 1

    for group in _chunk_groups(batches, chunk):
        read = [read_object_symbols(b.code.obj) for b in group]
        try:
            merged: bytes | None = merge_objects([b.code.obj for b in group])
        except MergeError:
            merged = None
        shared = -1
        if merged is not None:
            packed = _linked_chunk(merged, group, read, entry_shims) if linked else None
            if packed is not None:
                shared = add_chunk(*packed)
                for batch in group:
                    entries.append(_entry(batch, None, shared))
                continue
            shared = add_chunk(merged, _MERGED)
        for batch, symbols in zip(group, read, strict=True):
            entries.append(_entry(batch, symbols, shared if shared >= 0 else
                                  add_chunk(batch.code.obj, _SINGLE)))
    fields: dict[str, Any] = {"format": PACK_FORMAT, "plans": plans_digest,
                              "batches": entries, "chunks": chunks}
    if data_plan is not None:
        fields["data"] = [offset, len(data_plan)]
        blobs.append(data_plan)
    head = json.dumps(fields, separators=(",", ":")).encode()
    return b"".join([_HEAD_SIZE.pack(len(head)), head, *blobs])


def _entry(batch: BatchObject, read: ObjectSymbols | None, chunk: int) -> list[Any]:
    """A batch's JSON entry: its indices, tier, kind, function and shim names, its
    object's symbols (none for a linked chunk, which needs them not), its chunk."""
    # A function under its usual name (nearly all) is its bare index: the head is read
    # at every warm instantiation, and the names were 2/3 of CPython's.
    functions = [index if name == function_name(index) else [index, name]
                 for index, name in sorted(batch.code.functions.items())]
    return [list(batch.indices), batch.tier, int(batch.separate), int(batch.with_shims),
            functions, list(batch.code.shims),
            sorted(batch.shims.items()),
            [list(s) for s in read.sections] if read else [],
            [list(s) for s in read.globals] if read else [],
            [list(s) for s in read.functions] if read else [], chunk]


def _linked_chunk(merged: bytes, group: Sequence[BatchObject],
                  read: Sequence[ObjectSymbols], entry_shims: Sequence[tuple[int, bytes]] = ()
                  ) -> tuple[bytes, int, dict[str, Any]] | None:
    """``merged`` (of ``group``'s objects, whose symbols are ``read``) as a linked
    chunk: (blob, kind, meta), or None when the loader cannot place it or a batch's
    function or shim is not found in it (the chunk then stays an ELF object).
    ``entry_shims`` as ``encode_pack``'s."""
    try:
        plan = plan_link([merged])
    except UnsupportedObject:
        return None
    defined = plan.defined[0]
    rows: list[tuple[int, int, int, int, int]] = []
    shims: list[list[int]] = []
    for number, (batch, symbols) in enumerate(zip(group, read, strict=True)):
        # Where each function landed: its section's place (through the section's
        # anchor, a global symbol) plus its offset, as ``load_object_codes`` finds it.
        section_starts = {section.name: defined[section.anchor] - section.anchor_offset
                          for section in symbols.sections
                          if section.anchor is not None and section.anchor in defined}
        by_name = {name: index for index, name in batch.code.functions.items()}
        wanted = set(batch.indices)
        found = set()
        for name, section_name, offset, size in symbols.functions:
            index = by_name.get(name)
            start = section_starts.get(section_name)
            if index is not None and start is not None:
                rows.append((index, start + offset, size, number, int(index in wanted)))
                found.add(index)
        if not wanted <= found or any(name not in defined for name in batch.shims.values()):
            return None
        shims.extend([number, type_index, defined[name]]
                     for type_index, name in sorted(batch.shims.items()))
    rows.sort(key=lambda row: row[1])
    if any(a[3] > b[3] for a, b in zip(rows, rows[1:], strict=False)):
        return None  # batches out of order in the image: the table could not be both
    columns = b"".join(struct.pack(f"<{len(rows)}q", *column)
                       for column in zip(*rows, strict=True))
    code_end = max((end for _, end in plan.code_ranges[0]), default=0)
    image, placed = _place_entry_shims(plan.image, code_end, plan.code_size, entry_shims)
    shims.extend(placed)
    image += bytes(-len(image) % 8)
    meta = {"page": plan.page, "code": plan.code_size, "code_end": code_end,
            "total": plan.total, "image": len(plan.image),
            "records": len(plan.records) // RELOCATION_RECORD.size,
            "functions": len(rows), "imports": plan.imports, "shims": shims}
    return image + plan.records + columns, _LINKED, meta


def _place_entry_shims(image: bytes, code_end: int, code_size: int,
                       entry_shims: Sequence[tuple[int, bytes]]) -> tuple[bytes, list[list[int]]]:
    """``image`` with ``entry_shims`` (type index, code) written after its code, each
    16-byte aligned, as many as fit before ``code_size`` (the end of the read-execute
    pages, zero padding until then); their shim rows.  Entry shims have no relocations:
    their bytes run anywhere.  They stay out of the chunk's code range (the code map),
    as the shims a process makes itself do."""
    placed: list[list[int]] = []
    if not entry_shims:
        return image, placed
    out = bytearray(image)
    at = code_end
    for type_index, code in entry_shims:
        start = (at + 15) & ~15
        if start + len(code) > code_size:
            break
        if len(out) < start + len(code):
            out.extend(bytes(start + len(code) - len(out)))
        out[start:start + len(code)] = code
        placed.append([ENTRY_SHIM_ROW, type_index, start])
        at = start + len(code)
    return bytes(out), placed


@dataclass(eq=False)
class Pack:
    """A decoded pack: the recorded batches (wasm indices, tier) in order, which chunk
    holds each (:meth:`chunk_of`), and each chunk on demand (:meth:`chunk`)."""

    plans_digest: str
    recorded: list[tuple[list[int], int]]
    _entries: list[list[Any]]  # JSON, checked when a chunk is taken
    _chunk_of: list[int]
    _chunks: list[list[Any]]
    _objects: memoryview
    _positions: dict[int, list[int]] = field(default_factory=dict)
    data_plan: bytes | None = None  # the module's data-plan record body, if small

    def chunk_of(self, position: int) -> int:
        """The chunk holding the batch recorded at ``position``."""
        return self._chunk_of[position]

    def positions_of(self, index: int) -> list[int]:
        """The recorded positions chunk ``index`` holds (in order)."""
        if not self._positions:
            for position, chunk in enumerate(self._chunk_of):
                self._positions.setdefault(chunk, []).append(position)
        return self._positions.get(index, [])

    def chunk(self, index: int) -> PackedChunk:
        """Chunk ``index`` (PackFormatError if it or one of its batches is bad)."""
        try:
            offset, size, kind = (int(x) for x in self._chunks[index][:3])
            if offset < 0 or size <= 0 or offset + size > len(self._objects):
                raise PackFormatError("an object lies outside the pack")
            positions = self.positions_of(index)
            if not positions or kind == _SINGLE and len(positions) != 1:
                raise PackFormatError("a chunk of no batch, or an unmerged one of several")
            if kind == _LINKED:
                linked = _linked_image(self._objects[offset:offset + size],
                                       self._chunks[index][3])
                return PackedChunk(positions, [], b"", True, linked,
                                   [self._entries[p] for p in positions])
            if kind not in (_SINGLE, _MERGED):
                raise PackFormatError(f"a chunk of unknown kind {kind}")
            obj = bytes(self._objects[offset:offset + size])
            if not obj.startswith(b"\x7fELF"):
                raise PackFormatError("a packed object is not an ELF object")
            merged = kind == _MERGED
            batches = [_batch(self._entries[p], b"" if merged else obj) for p in positions]
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
            if isinstance(exc, PackFormatError):
                raise
            raise PackFormatError(f"malformed pack chunk: {exc}") from exc
        return PackedChunk(positions, batches, obj, merged)


def _linked_image(blob: memoryview, meta: dict[str, Any]) -> LinkedImage:
    """A linked chunk's parts, as views of ``blob`` (PackFormatError: sizes that do not
    add up)."""
    image_size, records, functions = int(meta["image"]), int(meta["records"]), \
        int(meta["functions"])
    image_end = image_size + -image_size % 8
    records_end = image_end + records * RELOCATION_RECORD.size
    if min(image_size, records, functions) < 0 or \
            records_end + functions * 8 * _TABLE_COLUMNS != len(blob):
        raise PackFormatError("a linked chunk's parts do not add up to its size")
    table = blob[records_end:].cast("q")

    def column(i: int) -> memoryview:
        return table[i * functions:(i + 1) * functions]
    return LinkedImage(
        blob[:image_size], blob[image_end:records_end], [str(n) for n in meta["imports"]],
        int(meta["page"]), int(meta["code"]), int(meta["code_end"]), int(meta["total"]),
        [(int(b), int(t), int(o)) for b, t, o in meta["shims"]],
        (column(0), column(1), column(2), column(3), column(4)))


def entry_function_names(functions: list[Any]) -> dict[int, str]:
    """A batch entry's function names by wasm index (see ``_entry``)."""
    names = {}
    for item in functions:
        if isinstance(item, int):
            names[item] = function_name(item)
        else:
            index, name = item
            names[int(index)] = str(name)
    return names


def _batch(entry: list[Any], obj: bytes) -> PackedBatch:
    (indices, tier, separate, with_shims, functions, shim_names, shims, sections,
     globals_, function_syms, _) = entry
    code = ObjectCode(obj, entry_function_names(functions), tuple(map(str, shim_names)))
    batch = BatchObject(tuple(map(int, indices)), bool(separate), bool(with_shims),
                        code, {int(t): str(n) for t, n in shims}, int(tier))
    symbols = ObjectSymbols([CodeSection._make(s) for s in sections],
                            [DefinedSymbol._make(s) for s in globals_],
                            [FunctionSymbol._make(s) for s in function_syms])
    return PackedBatch(batch, symbols)


def decode_pack(data: bytes | memoryview) -> Pack:
    """The pack :func:`encode_pack` made ``data`` from (its chunks decoded on demand);
    PackFormatError when its head does not parse."""
    try:
        (size,) = _HEAD_SIZE.unpack_from(data, 0)
        head = json.loads(bytes(data[_HEAD_SIZE.size:_HEAD_SIZE.size + size]))
        if head.get("format") != PACK_FORMAT:
            raise PackFormatError(f"a pack of format {head.get('format', 1)}, "
                                  f"not {PACK_FORMAT}")
        entries = head["batches"]
        chunks = head["chunks"]
        recorded = [([int(i) for i in entry[0]], int(entry[1])) for entry in entries]
        chunk_of = [int(entry[-1]) for entry in entries]
        if any(not 0 <= c < len(chunks) for c in chunk_of):
            raise PackFormatError("a batch in no chunk")
        plans_digest = str(head["plans"])
        data_at = head.get("data")
        if data_at is not None:
            data_offset, data_size = int(data_at[0]), int(data_at[1])
    except (struct.error, ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        if isinstance(exc, PackFormatError):
            raise
        raise PackFormatError(f"malformed pack: {exc}") from exc
    view = data if isinstance(data, memoryview) else memoryview(data)
    objects = view[_HEAD_SIZE.size + size:]
    data_plan = None
    if data_at is not None:
        if not 0 <= data_offset <= data_offset + data_size <= len(objects):
            raise PackFormatError("the data plan lies outside the pack")
        # Copied (a few KiB): it lives with the module, the pack's bytes need not.
        data_plan = bytes(objects[data_offset:data_offset + data_size])
    return Pack(plans_digest, recorded, entries, chunk_of, chunks, objects,
                data_plan=data_plan)


__all__ = ["ENTRY_SHIM_ROW", "PACK_CHUNK", "PACK_FORMAT", "LinkedImage", "Pack", "PackFormatError",
           "PackedBatch", "PackedChunk", "decode_pack", "encode_pack", "entry_function_names"]
