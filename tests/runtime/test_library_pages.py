"""LLVM's library pages dropped from the resident set (``runtime/native``
``release_file_pages``, ``runtime/jit/llvm_library.release_llvm_library_pages``, and the
background compiler's idle release in ``runtime/jit/tiering.py``)."""

from __future__ import annotations

import ctypes
import mmap
import os
import threading
from pathlib import Path

import pytest

from pyjitwasm.runtime.jit import tiering
from pyjitwasm.runtime.jit.llvm_library import llvm_library_path, release_llvm_library_pages
from pyjitwasm.runtime.native import release_file_pages

PAGE = mmap.PAGESIZE
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def _resident_kib(path: Path) -> int:
    """Rss of this process's mappings of the file at ``path`` (from /proc/self/smaps)."""
    inside, total, found = False, 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            if line[0] in "0123456789abcdef":
                inside = line.rstrip("\n").endswith(" " + str(path))
                found = found or inside
            elif inside and line.startswith("Rss:"):
                total += int(line.split()[1])
    assert found, f"{path} is not mapped"
    return total


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "pages.bin"
    path.write_bytes(bytes(range(256)) * (16 * PAGE // 256))
    return Path(os.path.realpath(path))


def test_read_only_pages_of_the_file_leave_the_resident_set_and_read_the_same_after(
        data_file: Path) -> None:
    with open(data_file, "rb") as f:
        view = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
    try:
        expected = bytes(view)  # touches every page
        assert _resident_kib(data_file) == 16 * PAGE // 1024
        assert release_file_pages(str(data_file)) == 16 * PAGE // 1024
        assert _resident_kib(data_file) == 0
        assert bytes(view) == expected
    finally:
        view.close()


def test_a_mapping_written_to_keeps_its_pages_even_once_read_only(data_file: Path) -> None:
    # Like a library's relocated data: private, written, then made read-only.
    with open(data_file, "rb") as f:
        view = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE,
                         prot=mmap.PROT_READ | mmap.PROT_WRITE)
    try:
        view[PAGE:PAGE + 5] = b"moved"
        address = ctypes.addressof(ctypes.c_char.from_buffer(view))
        assert _libc.mprotect(address, len(view), mmap.PROT_READ) == 0
        resident = _resident_kib(data_file)
        assert resident > 0
        assert release_file_pages(str(data_file)) == 0
        assert _resident_kib(data_file) == resident
        assert view[PAGE:PAGE + 5] == b"moved"
    finally:
        view.close()


def test_only_the_named_files_pages_go(data_file: Path, tmp_path: Path) -> None:
    other = tmp_path / "other.bin"
    other.write_bytes(data_file.read_bytes())
    with open(data_file, "rb") as f, open(other, "rb") as g:
        mine = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        theirs = mmap.mmap(g.fileno(), 0, prot=mmap.PROT_READ)
    try:
        bytes(mine), bytes(theirs)
        release_file_pages(str(data_file))
        assert _resident_kib(data_file) == 0
        assert _resident_kib(other) == 16 * PAGE // 1024
    finally:
        mine.close()
        theirs.close()


def test_llvm_keeps_compiling_after_its_pages_were_released() -> None:
    import llvmlite.binding as llvm

    from pyjitwasm.jit.codeload import CodeLoader, ensure_llvm_initialized

    ensure_llvm_initialized()
    path = llvm_library_path()
    assert path is not None, "llvmlite's library was not found next to its binding package"
    release_llvm_library_pages()
    obj = CodeLoader(2).compile_object("define i32 @f(i32 %x) {\n  %y = mul i32 %x, 3\n"
                                       "  ret i32 %y\n}\n")
    assert obj[:4] == b"\x7fELF"
    assert llvm.get_process_triple()


def test_the_background_compiler_releases_the_pages_once_idle_not_between_queued_jobs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    releases: list[str] = []
    monkeypatch.setattr(tiering, "release_llvm_library_pages",
                        lambda: releases.append("release") or 0)
    monkeypatch.setattr(tiering, "IDLE_BEFORE_RELEASE_S", 0.2)
    compiler = tiering.BackgroundCompiler()
    gate = threading.Event()
    done = threading.Event()
    try:
        assert compiler.submit(lambda: (gate.wait(60), releases.append("job 1")) and None)
        assert compiler.submit(lambda: releases.append("job 2"))
        assert compiler.submit(lambda: (releases.append("job 3"), done.set()) and None)
        gate.set()
        assert done.wait(60)
        # Once after loading the library, once after the queue stayed empty.
        for _ in range(600):
            if releases.count("release") == 2:
                break
            threading.Event().wait(0.05)
        assert releases == ["release", "job 1", "job 2", "job 3", "release"]
    finally:
        compiler.stop()
