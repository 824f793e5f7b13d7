"""A worker process of ``precompile``: compiles chunks of one module to objects.

Started as ``python -P -m pyjitwasm.runtime.jit.precompile_worker`` (a plain subprocess, not
``multiprocessing``: its ``spawn`` start method re-imports the caller's main script in
every worker, which runs a user's script a second time when it has no ``__main__``
guard).  The protocol on stdin/stdout, every message a frame (u64 length + bytes):

* parent -> worker: first ``pickle((wasm, options, features))``, then one
  ``pickle((indices, with_shims))`` per chunk, then an empty frame to stop;
* worker -> parent: per chunk a status byte (0: the encoded batch follows, 1: an error
  message follows) and a frame.

The worker's own stdout is moved to stderr, so nothing but frames reaches the pipe.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import traceback
from typing import IO

_LENGTH = struct.Struct("<Q")


def write_frame(stream: IO[bytes], payload: bytes) -> None:
    """One frame: the length, then ``payload``."""
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes:
    """The next frame's payload; EOFError when the stream ends first."""
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        raise EOFError("worker pipe closed")
    (size,) = _LENGTH.unpack(head)
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("worker pipe closed")
    return payload


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer chunk requests until the stop frame."""
    # Imported here: the parent only needs the framing functions above.
    from pyjitwasm.runtime.jit.batch_codec import encode_batch
    from pyjitwasm.runtime.jit.compile_module import emit_batch
    from pyjitwasm.translate.translator import ModuleInfo
    from pyjitwasm.wasm.decoder import decode_module

    wasm, options, features = pickle.loads(read_frame(requests))
    # Validated by the parent; the worker only decodes.
    module = decode_module(wasm, features=features)
    info = ModuleInfo(module, options.heap_config())
    while True:
        request = read_frame(requests)
        if not request:
            return
        indices, with_shims = pickle.loads(request)
        try:
            batch, _ = emit_batch(module, indices, options, info, True, with_shims)
            reply, status = encode_batch(batch), b"\0"
        except Exception:  # reported to the parent, which raises it
            reply, status = traceback.format_exc().encode(), b"\1"
        replies.write(status)
        write_frame(replies, reply)


def main() -> None:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
