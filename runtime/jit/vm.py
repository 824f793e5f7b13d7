"""Virtual memory for linear memories: reservations, committing, moving without copying.

A :class:`Reservation` owns one anonymous private mapping.  It starts inaccessible
(``PROT_NONE``) and is made readable/writable from its start as the memory grows, so
the pages past the accessible length fault (the guard region of a static heap).  It is
unmapped when the last reference to it goes away: memories hold their current
reservation, host views hold the reservation they were taken from.
"""

from __future__ import annotations

import ctypes
import gc
import mmap
import weakref

from pyjitwasm.runtime.native import (
    ffi,
    lib,
    os_error,
    register_heap_range,
    unregister_heap_range,
)

PAGE = mmap.PAGESIZE
PROT_NONE = 0
PROT_RW = mmap.PROT_READ | mmap.PROT_WRITE
_MAP_PRIVATE = mmap.MAP_PRIVATE
_MAP_ANONYMOUS = mmap.MAP_ANONYMOUS
_MAP_NORESERVE = 0x4000
_MAP_FIXED_NOREPLACE = 0x100000
_MREMAP_MAYMOVE = 1
_MREMAP_FIXED = 2
_MREMAP_DONTUNMAP = 4
_MAP_FAILED = ctypes.c_void_p(-1).value

# mmap, munmap, mprotect and madvise through the native helper (cffi: cheaper calls than
# ctypes', and no ctypes set-up on a process's first instantiation); mremap, rare (a
# dynamic heap's move) and variadic, through ctypes.
_vm_map = lib.pyjitwasm_vm_map
_vm_unmap = lib.pyjitwasm_vm_unmap
_vm_protect = lib.pyjitwasm_vm_protect
_vm_advise = lib.pyjitwasm_vm_advise
_VM_MAP_FAILED = (1 << 64) - 1

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mremap.restype = ctypes.c_void_p
_libc.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int,
                         ctypes.c_void_p]


def round_to_pages(nbytes: int) -> int:
    """``nbytes`` rounded up to whole host pages."""
    return (nbytes + PAGE - 1) // PAGE * PAGE


def _map(size: int, prot: int, address: int | None = None, flags: int = 0) -> int:
    base = _vm_map(address or 0, size, prot,
                   _MAP_PRIVATE | _MAP_ANONYMOUS | _MAP_NORESERVE | flags, -1, 0)
    if base == _VM_MAP_FAILED and address is None:
        # A dropped store is part of reference cycles (instances <-> store state), so its
        # reservations (6 GiB each for static heaps) wait for the cyclic collector; a
        # program churning through stores can run out of address space before it runs.
        gc.collect()
        base = _vm_map(0, size, prot,
                       _MAP_PRIVATE | _MAP_ANONYMOUS | _MAP_NORESERVE | flags, -1, 0)
    if base == _VM_MAP_FAILED:
        raise MemoryError(f"could not reserve {size} bytes of address space")
    return int(base)


def _unmap_and_unregister(base: int, size: int, registered: bool,
                          mapped: list[bool]) -> None:
    mapped[0] = False
    if registered:
        unregister_heap_range(base, base + size)
    _vm_unmap(base, size)


# Copy-on-write images and slot reuse (runtime/images.py, runtime/jit/pool.py) -----------

_MAP_FIXED = 0x10
_MADV_DONTNEED = 4


def map_image(address: int, length: int, fd: int, offset: int = 0) -> None:
    """Map ``length`` bytes of file ``fd`` from ``offset`` (a multiple of the host page
    size) copy-on-write at ``address`` (readable and writable; replaces whatever was
    mapped there)."""
    if _vm_map(address, length, PROT_RW, _MAP_PRIVATE | _MAP_FIXED, fd, offset) \
            == _VM_MAP_FAILED:
        raise os_error("mmap of a memory image", ffi.errno)


def zero_pages(address: int, length: int) -> None:
    """Make ``length`` bytes at ``address`` fresh private zero pages, readable and
    writable, dropping any copy-on-write image mapped there (one ``mmap``, which frees
    the old pages like ``madvise(MADV_DONTNEED)`` does)."""
    if _vm_map(address, length, PROT_RW,
               _MAP_PRIVATE | _MAP_ANONYMOUS | _MAP_NORESERVE | _MAP_FIXED, -1, 0) \
            == _VM_MAP_FAILED:
        raise os_error("mmap", ffi.errno)


def discard_pages(address: int, length: int) -> None:
    """``madvise(MADV_DONTNEED)``: anonymous pages read as zero again (a copy-on-write
    image reverts to the image) and stop counting in RSS."""
    if _vm_advise(address, length, _MADV_DONTNEED):
        raise os_error("madvise", ffi.errno)


def protect(address: int, length: int, writable: bool) -> None:
    """Make ``length`` bytes at ``address`` readable and writable, or inaccessible."""
    if _vm_protect(address, length, PROT_RW if writable else PROT_NONE):
        raise os_error("mprotect", ffi.errno)


class Reservation:
    """``size`` bytes of address space, inaccessible until :meth:`commit`.

    ``guarded`` registers the whole range with the native fault handler, so an access to
    its inaccessible part from compiled code is a memory-out-of-bounds trap.
    """

    __slots__ = ("base", "size", "committed", "guarded", "_finalizer", "_mapped",
                 "__weakref__")

    def __init__(self, size: int, guarded: bool) -> None:
        self.size = round_to_pages(max(size, PAGE))
        self.base = _map(self.size, PROT_NONE)
        self.committed = 0
        self.guarded = guarded
        if guarded:
            register_heap_range(self.base, self.base + self.size)
        # Cleared by the unmapping (a list cell reads faster than ``finalize.alive``).
        self._mapped = [True]
        self._finalizer = weakref.finalize(self, _unmap_and_unregister, self.base, self.size,
                                           guarded, self._mapped)

    def commit(self, nbytes: int) -> None:
        """Make the first ``nbytes`` (page-rounded) readable and writable."""
        want = round_to_pages(nbytes)
        if want > self.size:
            raise MemoryError("commit beyond the reservation")
        if want > self.committed:
            if _vm_protect(self.base + self.committed, want - self.committed, PROT_RW):
                raise os_error("mprotect", ffi.errno)
            self.committed = want

    def move_into(self, target: Reservation) -> None:
        """Move the committed pages into ``target`` (at its start) without copying them.

        This reservation stays mapped (with fresh zero pages), so host views taken from it
        read zeros instead of faulting; it is unmapped with its last reference."""
        n = self.committed
        if n:
            moved = _libc.mremap(self.base, n, n,
                                 _MREMAP_MAYMOVE | _MREMAP_FIXED | _MREMAP_DONTUNMAP,
                                 target.base)
            if moved in (None, _MAP_FAILED):
                # Kernels before 5.7: move, then plug the hole the move left.
                moved = _libc.mremap(self.base, n, n, _MREMAP_MAYMOVE | _MREMAP_FIXED,
                                     target.base)
                if moved in (None, _MAP_FAILED):
                    raise os_error("mremap", ctypes.get_errno())
                _map(n, PROT_RW, self.base, _MAP_FIXED_NOREPLACE)
        target.committed = max(target.committed, n)

    @property
    def mapped(self) -> bool:
        """Not yet unmapped (the cyclic collector may run the unmapping finalizer of a
        reservation in a dropped cycle before the ``__del__`` that gives it back)."""
        return self._mapped[0]

    def release(self) -> None:
        """Unmap now (only when nothing can touch the memory any more)."""
        self._finalizer()

    def view(self, length: int) -> memoryview:
        """A writable view of the first ``length`` bytes that keeps this mapping alive."""
        array = (ctypes.c_ubyte * length).from_address(self.base)
        array._owner = self  # type: ignore[attr-defined]  # the view's array keeps us mapped
        return memoryview(array).cast("B")
