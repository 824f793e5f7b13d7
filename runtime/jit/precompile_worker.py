"""A compile worker process: compiles batches of one module to objects, for
``precompile`` (a whole module, eagerly) and ``compile_worker`` (lazy and tier-up
batches in the background while the program runs).

Started as ``python -P -m pyjitwasm.runtime.jit.precompile_worker`` (a plain subprocess, not
``multiprocessing``: its ``spawn`` start method re-imports the caller's main script in
every worker, which runs a user's script a second time when it has no ``__main__``
guard).  The protocol on stdin/stdout, every message a frame (u64 length + bytes):

* parent -> worker: first ``pickle((wasm, options, features))``, then one
  ``pickle((indices, with_shims, tier))`` per batch, or
  ``pickle(([func_index], False, tier, loop_offset))`` for the on-stack-replacement
  entry of that function at that loop (``osr.emit_osr_object``; its object comes back
  as a one-function batch), then an empty frame to stop;
* worker -> parent: ``READY`` once the module is decoded, then per batch a status byte
  and a frame: 0, the encoded batch, then a second frame,
  ``pickle((front_end_seconds, llvm_seconds))``; 1, an error message.

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
READY = b"R"
"""What a worker sends once it has decoded the module and takes batches."""


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
    from pyjitwasm.jit.compiler import CompileTimings
    from pyjitwasm.runtime.jit.batch_codec import encode_batch
    from pyjitwasm.runtime.jit.compile_module import BatchObject, emit_batch
    from pyjitwasm.runtime.jit.osr import emit_osr_object
    from pyjitwasm.wasm.decoder import decode_module

    setup = read_frame(requests)
    wasm, options, features = pickle.loads(setup)
    del setup
    # Validated by the parent: the worker decodes a body only when it compiles it.
    module = decode_module(wasm, features=features, decode_bodies=False)
    info = options.module_info(module)
    replies.write(READY)
    replies.flush()
    while True:
        try:
            request = read_frame(requests)
        except EOFError:  # the parent went away (or closed the pipe to stop us)
            return
        if not request:
            return
        indices, with_shims, tier, *osr_loop = pickle.loads(request)
        timings = b""
        try:
            if osr_loop:
                t = CompileTimings()
                (func_index,) = indices
                code = emit_osr_object(module, func_index, osr_loop[0], options, info, t)
                batch = BatchObject((func_index,), True, False, code, {}, tier)
            else:
                batch, emitted = emit_batch(module, indices, options, info, True,
                                            with_shims, tier)
                t = emitted.timings
            for index in indices:
                module.codes[index - module.num_imported_funcs].release()
            reply, status = encode_batch(batch), b"\0"
            timings = pickle.dumps((t.translate + t.legalize + t.verify + t.lower, t.llvm))
        except Exception:  # reported to the parent, which raises it
            reply, status = traceback.format_exc().encode(), b"\1"
        replies.write(status)
        write_frame(replies, reply)
        if status == b"\0":
            write_frame(replies, timings)


def main() -> None:
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    try:
        serve(sys.stdin.buffer, replies)
    except (EOFError, BrokenPipeError):
        pass  # the parent went away: nobody wants the rest


if __name__ == "__main__":
    main()
