"""Bytes for a compiled batch (``compile_module.BatchObject``) and back: the unit the
code cache stores and a serialized module is made of.

Layout: a u32 length and that much UTF-8 JSON (the wasm function indices, how the batch
was compiled, each function's symbol, the entry shims), then the ELF object.  Integrity
is checked by the container (a cache entry's or an artifact's checksum); this layer
only refuses bytes that do not parse.
"""

from __future__ import annotations

import json
import struct

from pyjitwasm.jit.compiler import ObjectCode
from pyjitwasm.runtime.jit.compile_module import BatchObject


class BatchFormatError(ValueError):
    """Bytes that are not an encoded batch."""


def encode_batch(batch: BatchObject) -> bytes:
    """``batch`` as bytes (see the module docstring)."""
    meta = {
        "indices": list(batch.indices),
        "separate": batch.separate,
        "with_shims": batch.with_shims,
        "functions": sorted(batch.code.functions.items()),
        "shim_names": list(batch.code.shims),
        "shims": sorted(batch.shims.items()),
    }
    head = json.dumps(meta, separators=(",", ":")).encode()
    return struct.pack("<I", len(head)) + head + batch.code.obj


def decode_batch(data: bytes | memoryview) -> BatchObject:
    """The batch :func:`encode_batch` made ``data`` from; BatchFormatError otherwise."""
    try:
        (size,) = struct.unpack_from("<I", data, 0)
        meta = json.loads(bytes(data[4:4 + size]))
        obj = bytes(data[4 + size:])
        if not obj.startswith(b"\x7fELF"):
            raise BatchFormatError("the batch's object is not an ELF object")
        code = ObjectCode(obj, {int(i): str(name) for i, name in meta["functions"]},
                          tuple(str(name) for name in meta["shim_names"]))
        return BatchObject(tuple(int(i) for i in meta["indices"]), bool(meta["separate"]),
                           bool(meta["with_shims"]), code,
                           {int(ti): str(name) for ti, name in meta["shims"]})
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        if isinstance(exc, BatchFormatError):
            raise
        raise BatchFormatError(f"malformed batch: {exc}") from exc


__all__ = ["BatchFormatError", "decode_batch", "encode_batch"]
