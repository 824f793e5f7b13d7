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
do not parse with :class:`PackFormatError`.
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
from pyjitwasm.jit.objmerge import MergeError, merge_objects
from pyjitwasm.runtime.jit.compile_module import BatchObject

_HEAD_SIZE = struct.Struct("<I")

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
class PackedChunk:
    """Consecutive recorded batches of a pack (``positions`` in the recorded order) and
    their code: one object merged from theirs (``merged``), or the one batch's own."""

    positions: list[int]
    batches: list[PackedBatch]
    obj: bytes
    merged: bool


def encode_pack(plans_digest: str, batches: Sequence[BatchObject],
                chunk: int | None = None) -> bytes:
    """``batches`` (in the recorded order) as a pack made from the plan log whose
    SHA-256 is ``plans_digest``: merged ``chunk`` (default ``PACK_CHUNK``) at a time
    where ``merge_objects`` can, else one object per batch."""
    chunk = chunk or PACK_CHUNK
    entries: list[list[Any]] = []
    chunks: list[list[int]] = []
    blobs: list[bytes] = []
    offset = 0

    def add_chunk(obj: bytes, merged: bool) -> int:
        nonlocal offset
        chunks.append([offset, len(obj), int(merged)])
        blobs.append(obj)
        offset += len(obj)
        return len(chunks) - 1

    for start in range(0, len(batches), chunk):
        group = batches[start:start + chunk]
        try:
            merged: bytes | None = merge_objects([b.code.obj for b in group])
        except MergeError:
            merged = None
        shared = add_chunk(merged, True) if merged is not None else -1
        for batch in group:
            read = read_object_symbols(batch.code.obj)
            entries.append([
                list(batch.indices), batch.tier, int(batch.separate), int(batch.with_shims),
                sorted(batch.code.functions.items()), list(batch.code.shims),
                sorted(batch.shims.items()),
                [list(s) for s in read.sections], [list(s) for s in read.globals],
                [list(s) for s in read.functions],
                shared if shared >= 0 else add_chunk(batch.code.obj, False),
            ])
    head = json.dumps({"plans": plans_digest, "batches": entries, "chunks": chunks},
                      separators=(",", ":")).encode()
    return b"".join([_HEAD_SIZE.pack(len(head)), head, *blobs])


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
            offset, size, merged = (int(x) for x in self._chunks[index])
            if offset < 0 or size <= 0 or offset + size > len(self._objects):
                raise PackFormatError("an object lies outside the pack")
            obj = bytes(self._objects[offset:offset + size])
            if not obj.startswith(b"\x7fELF"):
                raise PackFormatError("a packed object is not an ELF object")
            positions = self.positions_of(index)
            batches = [_batch(self._entries[p], b"" if merged else obj) for p in positions]
        except (ValueError, TypeError, IndexError) as exc:
            if isinstance(exc, PackFormatError):
                raise
            raise PackFormatError(f"malformed pack chunk: {exc}") from exc
        if not positions or not merged and len(positions) != 1:
            raise PackFormatError("a chunk of no batch, or an unmerged one of several")
        return PackedChunk(positions, batches, obj, bool(merged))


def _batch(entry: list[Any], obj: bytes) -> PackedBatch:
    (indices, tier, separate, with_shims, functions, shim_names, shims, sections,
     globals_, function_syms, _) = entry
    code = ObjectCode(obj, {int(i): str(n) for i, n in functions},
                      tuple(map(str, shim_names)))
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
        entries = head["batches"]
        chunks = head["chunks"]
        recorded = [([int(i) for i in entry[0]], int(entry[1])) for entry in entries]
        chunk_of = [int(entry[-1]) for entry in entries]
        if any(not 0 <= c < len(chunks) for c in chunk_of):
            raise PackFormatError("a batch in no chunk")
        plans_digest = str(head["plans"])
    except (struct.error, ValueError, KeyError, TypeError, IndexError) as exc:
        if isinstance(exc, PackFormatError):
            raise
        raise PackFormatError(f"malformed pack: {exc}") from exc
    view = data if isinstance(data, memoryview) else memoryview(data)
    return Pack(plans_digest, recorded, entries, chunk_of, chunks,
                view[_HEAD_SIZE.size + size:])


__all__ = ["PACK_CHUNK", "Pack", "PackFormatError", "PackedBatch", "PackedChunk",
           "decode_pack", "encode_pack"]
