"""Memory images: a module's active data segments laid out once, per defined memory, so
each instantiation initializes a memory with one write (or one copy-on-write mapping,
``runtime/jit/memory.py``) instead of one bounds-checked copy per segment.

A module gets images only when no data segment can trap or depend on its instance: every
active segment writes a memory the module defines, at a constant offset, inside that
memory's minimum size. Then applying all images before any segment is dropped is the
same as applying the segments in order, and the overflow-checked per-segment path
(``instantiation.init_data``) stays for every other module.
"""

from __future__ import annotations

import mmap
import os
import threading
import weakref

from pyjitwasm.wasm import opcodes as op
from pyjitwasm.wasm.module import SegmentMode, WasmModule
from pyjitwasm.wasm.types import ExternKind

HOST_PAGE = mmap.PAGESIZE
COW_THRESHOLD = 64 * 1024
"""Images at least this large are mapped copy-on-write from a memfd where the memory
allows it; smaller ones are copied (a copy of a few KiB costs less than the mapping, its
page fault and its later reset). Measured in docs/pooling.md."""


class MemoryImage:
    """The initial bytes of memory ``memory`` (index in the module's whole memory index
    space): ``data`` from ``address`` (a multiple of the host page size: the page of the
    lowest segment byte; every byte below it is zero), its length rounded up to whole
    host pages (or to the memory's size when that is smaller: a memory of 1-byte
    pages).  ``data`` is bytes, or a read-only view of them.  (A C program's data
    usually starts above its 64 KiB stack: from address 0 its image was 17 times the
    size of its data.)

    ``file``: an open file (which the image then owns and closes) holding ``data`` at a
    host-page-aligned offset (an image from the code cache, mapped from its entry:
    ``runtime/jit/module_record.py``); large images are mapped copy-on-write from it
    instead of from a memfd the image would first have to fill."""

    __slots__ = ("memory", "data", "address", "cow_capable", "_fd", "fd_offset", "_lock",
                 "__weakref__")

    def __init__(self, memory: int, data: bytes | memoryview,
                 file: tuple[int, int] | None = None, address: int = 0) -> None:
        if address % HOST_PAGE:
            raise ValueError(f"memory image at {address}, not at a host page")
        self.memory = memory
        self.data = data
        self.address = address
        self._fd = -1
        self.fd_offset = 0  # where ``data`` starts in the file ``fd()`` returns
        if file is not None:
            self._fd, self.fd_offset = file
            weakref.finalize(self, os.close, self._fd)
        # Large enough that mapping it copy-on-write beats copying it.
        self.cow_capable = len(data) >= COW_THRESHOLD and (
            file is not None or hasattr(os, "memfd_create"))
        self._lock = threading.Lock()

    @property
    def end(self) -> int:
        """The address just past the image (what a copy of it reaches)."""
        return self.address + len(self.data)

    def fd(self) -> int:
        """A file holding ``data`` from offset ``fd_offset``: the one given, or a
        memfd (made on first use), closed with the image."""
        if self._fd < 0:
            with self._lock:
                if self._fd < 0:
                    fd = os.memfd_create("pyjitwasm-memory-image", os.MFD_CLOEXEC)
                    os.write(fd, self.data)
                    weakref.finalize(self, os.close, fd)
                    self._fd = fd
        return self._fd


class DataPlan:
    """What instantiating a module does with its data segments, worked out once per
    module: the memory images (empty when the module is not eligible: then the
    instantiation plan writes its active segments one by one, bounds-checked), and the
    segments an instance keeps (``datas_after``: the passive ones' bytes, ``b""`` for
    the dropped rest).

    The code cache keeps it (``runtime/jit/module_record.py``), so a warm start builds
    it without decoding a segment."""

    __slots__ = ("images", "datas_after")

    def __init__(self, images: tuple[MemoryImage, ...], datas_after: list[bytes]) -> None:
        self.images = images
        self.datas_after = datas_after


def plan_data(module: WasmModule) -> DataPlan:
    """The module's :class:`DataPlan`, from its data segments."""
    datas = module.datas
    active = SegmentMode.ACTIVE
    datas_after = [b"" if seg.mode is active else seg.data for seg in datas]
    return DataPlan(build_images(module), datas_after)


def build_images(module: WasmModule) -> tuple[MemoryImage, ...]:
    """The module's memory images (empty when it has none or is not eligible)."""
    imported = sum(1 for imp in module.imports if imp.kind == ExternKind.MEMORY)
    # Where each segment goes, checked first; then each memory's image is allocated once
    # (CPython for WASI has 24,000 segments: growing the image segment by segment cost
    # most of the time).
    placed: list[tuple[int, int, bytes]] = []
    sizes: dict[int, int] = {}  # each memory's end of data
    lowest: dict[int, int] = {}  # each memory's lowest address written
    minimums = [mtype.minimum_bytes for mtype in module.memories]
    active = SegmentMode.ACTIVE
    i32_const, i64_const = op.I32_CONST, op.I64_CONST
    for seg in module.datas:
        if seg.mode is not active:
            continue
        expr = seg.offset_expr
        # An offset that is one constant instruction (the decoder's common shape),
        # inline: this loop runs once per segment.
        if expr is None or len(expr.instrs) != 1:
            return ()
        ins = expr.instrs[0]
        if ins.op != i32_const and ins.op != i64_const:
            return ()
        start = ins.imm
        data = seg.data
        memory = seg.memory
        defined = memory - imported
        if defined < 0:
            return ()
        end = start + len(data)
        if end > minimums[defined]:
            return ()
        if not data:
            continue
        placed.append((memory, start, data))
        if end > sizes.get(memory, 0):
            sizes[memory] = end
        if start < lowest.get(memory, end):
            lowest[memory] = start
    # Each image from the host page of its lowest byte.
    bases = {memory: lowest[memory] // HOST_PAGE * HOST_PAGE for memory in sizes}
    contents = {memory: bytearray(size - bases[memory]) for memory, size in sizes.items()}
    if len(contents) == 1:
        ((memory, buf),) = contents.items()
        base = bases[memory]
        for _, start, data in placed:
            buf[start - base:start - base + len(data)] = data
    else:
        for memory, start, data in placed:
            base = bases[memory]
            contents[memory][start - base:start - base + len(data)] = data
    images = []
    for memory, buf in sorted(contents.items()):
        base = bases[memory]
        padded = (len(buf) + HOST_PAGE - 1) // HOST_PAGE * HOST_PAGE
        # Never past the memory's end: with 1-byte pages (custom page sizes) its size
        # need not be a whole number of host pages.
        padded = min(padded, minimums[memory - imported] - base)
        buf.extend(bytes(padded - len(buf)))
        images.append(MemoryImage(memory, bytes(buf), address=base))
    return tuple(images)
