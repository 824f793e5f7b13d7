"""The mappings behind linear memories (runtime/jit/vm.py), through the native helper's
mmap/mprotect/madvise wrappers: a reservation starts inaccessible and commits from its
start, failures come back as the documented errors with the system's errno, and pages
discarded or zeroed read zero again."""

from __future__ import annotations

import ctypes
import errno

import pytest

from pyjitwasm.runtime.jit import vm


def _protection(address: int) -> str:
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, perms = line.split()[:2]
            start, end = (int(part, 16) for part in span.split("-"))
            if start <= address < end:
                return perms
    return "unmapped"


def test_a_reservation_commits_from_its_start_and_unmaps_on_release() -> None:
    reservation = vm.Reservation(16 * vm.PAGE, guarded=False)
    base = reservation.base
    assert _protection(base).startswith("---")
    reservation.commit(2 * vm.PAGE + 1)
    assert reservation.committed == 3 * vm.PAGE
    assert _protection(base).startswith("rw-")
    assert _protection(base + 3 * vm.PAGE).startswith("---")
    ctypes.memset(base, 7, 3 * vm.PAGE)
    vm.discard_pages(base, vm.PAGE)
    assert ctypes.string_at(base, 8) == bytes(8)
    assert ctypes.string_at(base + vm.PAGE, 8) == b"\x07" * 8
    vm.zero_pages(base + vm.PAGE, vm.PAGE)
    assert ctypes.string_at(base + vm.PAGE, 8) == bytes(8)
    vm.protect(base, vm.PAGE, writable=False)
    assert _protection(base).startswith("---")
    reservation.release()
    assert not reservation.mapped  # (another thread may map the range again at once)


def test_failures_raise_with_the_systems_errno() -> None:
    with pytest.raises(OSError) as info:  # page 0 is never mapped (mmap_min_addr)
        vm.protect(0, vm.PAGE, writable=True)
    assert info.value.errno == errno.ENOMEM and "mprotect" in str(info.value)
    with pytest.raises(OSError) as info:  # not at a page boundary
        vm.discard_pages(vm.PAGE + 1, vm.PAGE)
    assert info.value.errno == errno.EINVAL and "madvise" in str(info.value)
    with pytest.raises(MemoryError, match="address space"):
        vm.Reservation(1 << 62, guarded=False)  # more than the address space
